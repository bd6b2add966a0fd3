//! The test harness: one PostgreSQL server for the whole run (the machine's when
//! `TEST_DATABASE_URL`/`DATABASE_URL` is set, else a throwaway one started from the system's
//! binaries), a template database migrated once, and per test a fresh database cloned from it
//! and the real application on a random port.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::OnceLock;

use rapport::config::Settings;
use rapport::embedded::EmbeddedPostgres;
use rapport::startup::{self, Application};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const OWNER_EMAIL: &str = "owner@rapport.test";
pub const OWNER_PASSWORD: &str = "owner-password-1";

struct TestServer {
    options: PgConnectOptions,
    template: String,
    _embedded: Option<EmbeddedPostgres>,
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        // Set up on a thread of its own with its own runtime: each test has its own runtime,
        // and nothing made here may depend on one of them.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(start_server())
        })
        .join()
        .expect("test database server")
    })
}

async fn start_server() -> TestServer {
    let url = std::env::var("TEST_DATABASE_URL").or_else(|_| std::env::var("DATABASE_URL")).ok();
    let (options, embedded) = match url {
        Some(url) => (PgConnectOptions::from_str(&url).expect("a valid database URL"), None),
        None => {
            let root = std::env::temp_dir().join(format!("rapport-test-{}", std::process::id()));
            remove_stale_test_servers();
            let pg = EmbeddedPostgres::start(&root).expect("a throwaway PostgreSQL (are its binaries installed?)");
            (PgConnectOptions::from_str(&pg.url("postgres")).expect("embedded URL"), Some(pg))
        }
    };
    let options = options.log_statements(log::LevelFilter::Debug);
    // One template per set of migrations; concurrent test processes agree through a lock.
    let checksum: Vec<u8> = rapport::db::MIGRATOR.iter().flat_map(|m| m.checksum.iter().copied()).collect();
    let template = format!("rapport_tpl_{:016x}", fnv(&checksum));
    let mut admin = sqlx::PgConnection::connect_with(&options.clone().database("postgres")).await.expect("connect");
    sqlx::query("SELECT pg_advisory_lock(727274)").execute(&mut admin).await.expect("lock");
    let ready: Option<String> =
        sqlx::query_scalar("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1")
            .bind(&template)
            .fetch_optional(&mut admin)
            .await
            .expect("template lookup")
            .flatten();
    if ready.as_deref() != Some("ready") {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop");
        sqlx::query(&format!("CREATE DATABASE {template}")).execute(&mut admin).await.expect("create template");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().database(&template))
            .await
            .expect("template");
        rapport::db::MIGRATOR.run(&pool).await.expect("migrate template");
        pool.close().await;
        sqlx::query(&format!("COMMENT ON DATABASE {template} IS 'ready'")).execute(&mut admin).await.expect("mark");
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)").execute(&mut admin).await.expect("unlock");
    TestServer { options, template, _embedded: embedded }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// Throwaway servers of test runs that are gone (their process no longer exists).
fn remove_stale_test_servers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("rapport-test-").and_then(|p| p.parse::<u32>().ok()) {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub client: reqwest::Client,
    pub db_name: String,
    pub vars: HashMap<String, String>,
    /// The time every instance of the app reads (the system's until a test sets it).
    pub clock: rapport::config::Clock,
}

pub fn base_vars() -> HashMap<String, String> {
    [
        ("DATABASE_URL", "postgres://unused-by-the-harness/db"),
        ("RAPPORT_JWT_SECRET", JWT_SECRET),
        ("RAPPORT_PORT", "0"),
        ("RAPPORT_WORKERS", "2"),
        ("RAPPORT_DB_MAX_CONNECTIONS", "8"),
        ("RAPPORT_ALLOW_SIGNUP", "true"),
        ("RAPPORT_ADMIN_EMAIL", OWNER_EMAIL),
        ("RAPPORT_ADMIN_PASSWORD", OWNER_PASSWORD),
        ("RAPPORT_MAX_BODY_BYTES", "1048576"),
        ("RAPPORT_JOB_CLOSE_CASES", "off"),
        // On by default with DATABASE_URL; tests that make thousands of requests as one user
        // would meet it. `rate_limit.rs` tests it.
        ("RAPPORT_RATE_LIMIT", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The real application on a random port over a fresh database; `tune` changes settings.
pub async fn spawn_app_with(tune: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    // Silent unless RUST_LOG asks (RUST_LOG=error shows what a 500 hid).
    let _ = env_logger::builder().is_test(true).try_init();
    let server = server();
    let db_name = format!("rapport_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin =
        sqlx::PgConnection::connect_with(&server.options.clone().database("postgres")).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {db_name} TEMPLATE {}", server.template))
        .execute(&mut admin)
        .await
        .expect("clone template");
    let _ = admin.close().await;
    let pool = rapport::db::pool::pool_options(8)
        .connect_with(server.options.clone().database(&db_name))
        .await
        .expect("test database");
    let mut vars = base_vars();
    tune(&mut vars);
    let settings = Settings::from_vars(&vars).expect("test settings");
    let clock = settings.clock.clone();
    startup::bootstrap(&pool, &settings, false).await.expect("first owner");
    let app = Application::build(settings, pool.clone(), JWT_SECRET.as_bytes(), rapport::openapi::document())
        .await
        .expect("app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    // Idle connections are dropped before the server's keep-alive (5 s) closes them: a request
    // sent on a connection the server is closing at that moment fails (IncompleteMessage), as
    // it did under load between two analytics calls far apart.
    let client =
        reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(3)).build().expect("HTTP client");
    TestApp { address, pool, client, db_name, vars, clock }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let db = self.db_name.clone();
        let options = server().options.clone();
        // The test's runtime is going away: drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect_with(&options.database("postgres")).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut c).await.ok()
            })
        })
        .join();
    }
}

impl TestApp {
    /// A second instance of the application on the same database (as behind a load balancer).
    pub async fn second_instance(&self) -> String {
        self.instance_with(|_| {}).await
    }

    /// Another instance on the same database and clock, its settings changed by `tune`.
    pub async fn instance_with(&self, tune: impl FnOnce(&mut HashMap<String, String>)) -> String {
        let mut vars = self.vars.clone();
        tune(&mut vars);
        let mut settings = Settings::from_vars(&vars).expect("settings");
        settings.clock = self.clock.clone();
        let pool = rapport::db::pool::pool_options(4)
            .connect_with(server().options.clone().database(&self.db_name))
            .await
            .expect("pool");
        let app =
            Application::build(settings, pool, JWT_SECRET.as_bytes(), rapport::openapi::document()).await.expect("app");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.request(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email, "password": password})))
            .await
    }

    /// Logs in and returns the token pair.
    pub async fn tokens(&self, email: &str, password: &str) -> Value {
        let res = self.login(email, password).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {email}");
        res.json().await.expect("token pair")
    }

    /// An access token of the first workspace's owner.
    pub async fn owner_token(&self) -> String {
        self.tokens(OWNER_EMAIL, OWNER_PASSWORD).await["access_token"].as_str().expect("token").to_owned()
    }

    /// Creates a user with `role` in the owner's workspace and returns its access token.
    pub async fn user_token(&self, owner: &str, role: &str) -> (String, Value) {
        let email = format!("{role}-{}@rapport.test", uuid::Uuid::new_v4().simple());
        let res = self
            .post(
                "/api/v1/users",
                owner,
                json!({"email": email, "name": role, "password": "password-123", "role": role}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let user: Value = res.json().await.expect("user");
        (self.tokens(&email, "password-123").await["access_token"].as_str().expect("token").to_owned(), user)
    }

    /// Signs up a second workspace; returns its owner's access token.
    pub async fn other_workspace(&self) -> String {
        let email = format!("other-{}@rapport.test", uuid::Uuid::new_v4().simple());
        let res = self
            .request(
                Method::POST,
                "/api/v1/workspaces",
                None,
                Some(json!({"workspace_name": "Other", "email": email, "password": "password-123", "name": "Other"})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("sign-up");
        body["tokens"]["access_token"].as_str().expect("token").to_owned()
    }
}

/// The JSON body of `res`, after checking its status (`null` for an empty body).
pub async fn json_of(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem document with this status and code; returns it.
pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "content type");
    let request_id = res.headers().get("x-request-id").map(|v| v.to_str().unwrap_or("").to_owned());
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(), "{body}");
    assert_eq!(body["request_id"].as_str(), request_id.as_deref(), "request id in body and header");
    body
}

/// Sends `request` (raw HTTP/1.1, as written: a body may be shorter than its `Content-Length`)
/// on a connection of its own, ends the sending side, and returns the whole answer as text.
/// Panics when no answer is complete within 10 s.
pub async fn raw_exchange(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = app.address.rsplit(':').next().unwrap();
    let mut s = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_string(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 10 s to {request:?}");
    answer
}
