//! Building and running the application: database, migrations, first workspace, HTTP server.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition, Logger};
use actix_web::{web, App, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use sqlx::PgPool;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::jwt::JwtKeys;
use crate::auth::revocation::{RevokedTokens, UserStates};
use crate::auth::throttle::LoginThrottle;
use crate::config::Settings;
use crate::http::cursor::CursorKey;
use crate::http::drain::Drain;
use crate::http::extract::{path_config, BodyLimit};
use crate::http::fallback::{not_found_or_method_not_allowed, RouteTable};
use crate::http::metrics::Metrics;
use crate::http::AppState;
use crate::http::{idempotency, metrics, request_id};

/// The JWT secret of embedded mode: generated once, kept in the data directory.
pub fn embedded_jwt_secret(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join("jwt_secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= crate::config::MIN_JWT_SECRET_BYTES {
            return Ok(s.trim().to_owned());
        }
    }
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&path)?;
    f.write_all(secret.as_bytes())?;
    Ok(secret)
}

/// The first owner, created on the first start with an empty database.
pub struct FirstOwner {
    pub email: String,
    /// Set when the password was generated (shown once).
    pub generated_password: Option<String>,
}

pub async fn bootstrap(
    pool: &PgPool,
    settings: &Settings,
    embedded: bool,
) -> Result<Option<FirstOwner>, crate::error::ApiError> {
    if crate::db::workspaces::count(pool).await? > 0 {
        return Ok(None);
    }
    let (email, password, generated) = match (&settings.admin_email, &settings.admin_password) {
        (Some(e), Some(p)) => (e.clone(), p.clone(), false),
        _ if embedded => {
            let mut bytes = [0u8; 15];
            rand::thread_rng().fill_bytes(&mut bytes);
            ("admin@rapport.local".to_owned(), URL_SAFE_NO_PAD.encode(bytes), true)
        }
        _ => return Ok(None),
    };
    crate::auth::password::validate("RAPPORT_ADMIN_PASSWORD", &password)
        .map_err(|e| crate::error::ApiError::Validation(vec![e]))?;
    let hash = crate::auth::password::hash(password.clone()).await?;
    let new = crate::app::workspace::NewWorkspace {
        name: crate::domain::Name::parse("RAPPORT_WORKSPACE_NAME", &settings.workspace_name)
            .map_err(|e| crate::error::ApiError::Validation(vec![e]))?,
        currency: crate::domain::Currency::parse("currency", "EUR")
            .map_err(|e| crate::error::ApiError::Validation(vec![e]))?,
        owner_email: crate::domain::Email::parse("RAPPORT_ADMIN_EMAIL", &email)
            .map_err(|e| crate::error::ApiError::Validation(vec![e]))?,
        owner_name: crate::domain::Name::parse("name", "Owner")
            .map_err(|e| crate::error::ApiError::Validation(vec![e]))?,
        password_hash: hash,
    };
    let mut tx = pool.begin().await?;
    crate::app::workspace::create(&mut tx, new, crate::app::workspace::MadeBy::System).await?;
    tx.commit().await?;
    Ok(Some(FirstOwner { email, generated_password: generated.then_some(password) }))
}

pub struct Application {
    port: u16,
    server: Server,
    jobs: crate::jobs::Jobs,
    /// The listening socket (a second handle on it): closed first on shutdown.
    listener: TcpListener,
    drain: Arc<Drain>,
    shutdown_timeout: std::time::Duration,
}

/// Swagger UI as a newcomer needs it: nothing fetched from elsewhere (no online validator),
/// the authorization kept across reloads, a filter box, links to each operation, request
/// durations shown.
fn swagger_ui_config() -> utoipa_swagger_ui::Config<'static> {
    utoipa_swagger_ui::Config::default()
        .validator_url("none")
        .persist_authorization(true)
        .filter(true)
        .deep_linking(true)
        .display_request_duration(true)
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and builds the server, serving `openapi`
    /// (`openapi::document()`) and Swagger UI; migrations must have run.
    pub async fn build(
        settings: Settings,
        pool: PgPool,
        jwt_secret: &[u8],
        openapi: utoipa::openapi::OpenApi,
    ) -> std::io::Result<Application> {
        let listener = TcpListener::bind((settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        let revoked = Arc::new(RevokedTokens::default());
        revoked.reload(&pool).await.map_err(std::io::Error::other)?;
        let users = Arc::new(UserStates::default());
        let jobs = crate::jobs::start(&pool, &settings, revoked.clone(), users.clone());

        let route_table = web::Data::new(RouteTable::from_openapi(&openapi));
        let workers = settings.workers;
        let shutdown_timeout = settings.shutdown_timeout;
        let drain = Arc::new(Drain::default());
        let state = web::Data::new(AppState {
            pool,
            keys: JwtKeys::new(jwt_secret, &settings.jwt_issuer, &settings.jwt_audience),
            cursor_key: CursorKey::derive(jwt_secret),
            throttle: LoginThrottle::new(
                settings.login_max_failures,
                settings.login_max_failures_per_ip,
                settings.login_window,
            ),
            revoked,
            users,
            metrics: Metrics::default(),
            heavy: crate::http::heavy::HeavyWork::new(settings.heavy_concurrency, settings.heavy_idle),
            drain: drain.clone(),
            settings,
        });
        let rate_limit = state.settings.rate_limit;
        let counts = crate::http::rate_limit::Counts::new(&state.pool, 4);
        let server = HttpServer::new(move || {
            let (app, _) = App::new().into_utoipa_app().configure(crate::api::routes).split_for_parts();
            app.app_data(state.clone())
                .app_data(route_table.clone())
                .app_data(BodyLimit(state.settings.max_body_bytes))
                .app_data(path_config())
                .service(
                    SwaggerUi::new("/swagger-ui/{_:.*}")
                        .url("/api-docs/openapi.json", openapi.clone())
                        .config(swagger_ui_config()),
                )
                .service(web::redirect("/swagger-ui", "/swagger-ui/"))
                .default_service(web::to(not_found_or_method_not_allowed))
                // Inner first: HEAD is routed as GET (the middlewares around see a HEAD); the
                // permit is taken once idempotency has read the body.
                .wrap(from_fn(crate::http::head::as_get))
                .wrap(from_fn(crate::http::heavy::gate))
                .wrap(from_fn(idempotency::idempotency))
                .wrap(from_fn(crate::http::extract::buffer_json_bodies))
                .wrap(Condition::new(
                    rate_limit.requests > 0,
                    crate::http::rate_limit::middleware(rate_limit, counts.clone()),
                ))
                .wrap(from_fn(metrics::record))
                .wrap(cors(&state.settings.cors_origins))
                .wrap(from_fn(crate::http::drain::track))
                .wrap(Logger::new(r#"%a "%r" %s %b %Dms rid=%{x-request-id}i"#))
                .wrap(from_fn(request_id::request_id))
        })
        .workers(workers)
        // Signals are `run_until_stopped`'s: it drains the whole instance before any worker stops.
        .disable_signals()
        .shutdown_timeout(shutdown_timeout.as_secs())
        .listen(listener.try_clone()?)?
        .run();
        Ok(Application { port, server, jobs, listener, drain, shutdown_timeout })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then drains ([`crate::http::drain`]): new connections are
    /// refused at once, the requests in flight are answered (for at most
    /// `RAPPORT_SHUTDOWN_TIMEOUT_SECS`, or until a second signal), then the background jobs and
    /// the workers stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        // The server's own task answers the handle's commands (pause, stop).
        let mut server = tokio::spawn(self.server);
        let served = tokio::select! {
            served = &mut server => served,
            () = crate::http::drain::signalled() => {
                log::info!("shutting down: answering the requests in flight");
                self.drain.begin();
                handle.pause().await;
                // A paused listener still completes handshakes into its backlog: shut it, so
                // that a new connection is refused and goes to another instance.
                if let Err(e) = socket2::SockRef::from(&self.listener).shutdown(std::net::Shutdown::Read) {
                    log::warn!("closing the listener: {e}");
                }
                let idle = tokio::select! {
                    idle = self.drain.until_idle(self.shutdown_timeout) => idle,
                    () = crate::http::drain::signalled() => false,
                };
                if !idle {
                    log::warn!("shutdown timeout or second signal: the requests still in flight are dropped");
                }
                // The jobs stop before the workers: they share the pool, whose connections a
                // stopped worker's runtime would take with it.
                self.jobs.stop().await;
                handle.stop(idle).await;
                return server.await.map_err(std::io::Error::other)?;
            }
        };
        self.jobs.stop().await;
        served.map_err(std::io::Error::other)?
    }
}

fn cors(origins: &[String]) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers(["authorization", "content-type", "if-match", "idempotency-key", "x-request-id"])
        .expose_headers(["etag", "location", "x-request-id", "retry-after", "ratelimit-policy", "ratelimit"])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        base.allow_any_origin()
    } else {
        origins.iter().fold(base, |c, o| c.allowed_origin(o))
    }
}
