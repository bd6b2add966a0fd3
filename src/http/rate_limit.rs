//! Rate limiting per principal, with the `actix-extensible-rate-limit` middleware: each API
//! token, each user (all their sessions together) and, for requests without a valid token,
//! each client address may make `RAPPORT_RATE_LIMIT` requests to `/api/` in a fixed window of
//! `RAPPORT_RATE_LIMIT_WINDOW_SECS`; the next get `429` problem+json with `Retry-After`.
//!
//! Every response it counts carries the two fields of draft-ietf-httpapi-ratelimit-headers-10
//! (Structured Field lists, RFC 8941), with the policy named `principal`:
//! - `RateLimit-Policy: "principal";q=<requests>;w=<window seconds>`, the same on every response;
//! - `RateLimit: "principal";r=<requests left>;t=<seconds until the window ends>`.
//!
//! Each instance counts in memory and adds its counts to the shared ones in PostgreSQL every
//! [`SYNC_EVERY`] (`db::request_counts`), reading back every instance's totals ([`Counts`]):
//! the limit holds across the instances on a database (within what they receive in two
//! [`SYNC_EVERY`]: each learns of the others' requests at its next sync after theirs), and a request costs no database work (one statement per principal per
//! [`SYNC_EVERY`] per instance; measured with `bench/rate_limit.sh`). A request the server
//! failed (`500`) is given back; a `503` (overload, an outage) is not, or a client retrying
//! into an overload would never be limited. While the database cannot be reached, each
//! instance goes on counting alone.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_extensible_rate_limit::backend::{Backend, Decision, SimpleInput, SimpleOutput};
use actix_extensible_rate_limit::{HeaderCompatibleOutput, RateLimiter};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{web, HttpResponse, ResponseError};
use sqlx::PgPool;

use crate::auth::jwt::TokenKind;
use crate::config::RateLimit;
use crate::error::ApiError;
use crate::http::AppState;

/// The `/api/` operations that need no token (`security: [{}]` in the OpenAPI document; a test
/// holds the two together).
pub const ANONYMOUS: [(&str, &str); 4] = [
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/workspaces"),
];

/// The policy's name in both fields.
const POLICY: &str = "principal";
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// What a request counts against: its principal's key under the limit, or nothing (a request
/// outside `/api/`: health probes, the OpenAPI document, Swagger UI).
pub type Subject = Option<SimpleInput>;

/// How often an instance adds its requests to the shared counts and reads back everyone's.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

/// The counts: this instance's, decided on at once in memory, and added every [`SYNC_EVERY`]
/// to the shared ones in PostgreSQL (`db::request_counts`), whose totals (every instance's
/// requests) come back. A request costs no database work; instances learn of each other's
/// requests within two [`SYNC_EVERY`], so together they may let through what they receive in
/// that time beyond the limit. Refused requests are not counted. When the database cannot be reached, the counts stay here and are
/// added once it is back.
#[derive(Clone)]
pub struct Counts(Arc<Mutex<HashMap<String, Count>>>);

/// One principal's count in its current window.
#[derive(Default)]
struct Count {
    /// Every instance's requests in the window, as of the last sync.
    shared: u64,
    /// This instance's requests (less those given back) not yet added to `shared`.
    pending: i64,
    /// Those of them a sync is adding now (still counted until it answers).
    syncing: i64,
    /// When the window ends, as of the last sync (`None`: a window the database has not
    /// started yet).
    ends: Option<Instant>,
    window: Duration,
}

impl Count {
    fn total(&self) -> u64 {
        self.shared.saturating_add_signed(self.pending + self.syncing)
    }
}

impl Counts {
    /// The counts, synced over a pool of `connections` on the database of `pool` (its
    /// options; lazily connected) by a task that stops when the last clone is dropped.
    pub fn new(pool: &PgPool, connections: u32) -> Self {
        let options = (*pool.connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(1))
            .connect_lazy_with(options);
        let counts = Counts(Arc::default());
        let weak = Arc::downgrade(&counts.0);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SYNC_EVERY).await;
                let Some(map) = weak.upgrade() else { break };
                if let Err(e) = sync(&pool, &map).await {
                    log::warn!("rate limit: the shared counts could not be synced: {e}");
                }
            }
        });
        counts
    }
}

/// Adds each key's pending requests to the shared counts and reads back the totals; drops the
/// keys whose window is over with nothing pending. On failure, the requests stay pending.
async fn sync(pool: &PgPool, map: &Mutex<HashMap<String, Count>>) -> Result<(), sqlx::Error> {
    let now = Instant::now();
    let (batch, window): (Vec<(String, i64)>, Duration) = {
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, c| c.pending != 0 || c.ends.is_none_or(|ends| ends > now));
        let window = map.values().map(|c| c.window).max().unwrap_or_default();
        // A request given back after it was added stays counted (it was one more, not one less).
        let batch = map
            .iter_mut()
            .map(|(key, c)| {
                c.syncing = std::mem::take(&mut c.pending).max(0);
                (key.clone(), c.syncing)
            })
            .collect();
        (batch, window)
    };
    if batch.is_empty() {
        return Ok(());
    }
    match crate::db::request_counts::add(pool, &batch, window).await {
        Ok(totals) => {
            let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
            for (key, requests, left) in totals {
                if let Some(c) = map.get_mut(&key) {
                    c.shared = requests.unsigned_abs();
                    c.syncing = 0;
                    c.ends = Some(now + left);
                }
            }
            Ok(())
        }
        Err(e) => {
            let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
            for (key, _) in batch {
                let c = map.entry(key).or_insert_with(|| Count { window, ..Count::default() });
                c.pending += std::mem::take(&mut c.syncing);
            }
            Err(e)
        }
    }
}

impl Backend<Subject> for Counts {
    type Output = Option<SimpleOutput>;
    type RollbackToken = Option<String>;
    type Error = ApiError;

    async fn request(&self, subject: Subject) -> Result<(Decision, Self::Output, Self::RollbackToken), ApiError> {
        let Some(input) = subject else {
            return Ok((Decision::Allowed, None, None));
        };
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let c = map.entry(input.key.clone()).or_insert_with(|| Count { window: input.interval, ..Count::default() });
        if c.ends.is_some_and(|ends| ends <= now) {
            // The window is over: the next sync starts another (and says when it ends). What
            // this instance had not added yet belonged to the old one.
            c.shared = 0;
            c.pending = 0;
            c.ends = None;
        }
        c.pending += 1;
        let count = c.total();
        if count > input.max_requests {
            // A refused request is not one more of the window's.
            c.pending -= 1;
        }
        let output = SimpleOutput {
            limit: input.max_requests,
            remaining: input.max_requests.saturating_sub(count),
            reset: c.ends.unwrap_or(now + input.interval).into(),
        };
        Ok((Decision::from_allowed(count <= input.max_requests), Some(output), Some(input.key)))
    }

    async fn rollback(&self, key: Self::RollbackToken) -> Result<(), ApiError> {
        if let Some(key) = key {
            if let Some(c) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&key) {
                c.pending -= 1;
            }
        }
        Ok(())
    }
}

/// The principal a request counts for: `token:<id>` for an API token, `user:<id>` for a
/// user's access token (whether or not the user may still act: the handler says), else
/// `ip:<SHA-256 of the client address>` (a token whose signature, expiry or revocation fails
/// counts as none: the handler answers it `401`). The operations that need no token (log in,
/// refresh, log out, sign up: [`ANONYMOUS`]) always count for the address, token or not, so that a
/// token does not buy another budget for them.
fn subject(req: &ServiceRequest) -> Subject {
    let path = crate::http::routed_path(req);
    if !crate::http::is_api(path) {
        return None;
    }
    let state = req.app_data::<web::Data<AppState>>()?;
    let limit = state.settings.rate_limit;
    let anonymous = ANONYMOUS.iter().any(|(method, p)| req.method().as_str() == *method && path == *p);
    let by_address = || crate::auth::throttle::key("ip", &crate::http::auth::client_address(req.request()));
    let key = match crate::http::auth::authenticate(state, req.request()) {
        _ if anonymous => by_address(),
        Ok(claims) if claims.kind == TokenKind::Api => format!("token:{}", claims.jti),
        Ok(claims) => format!("user:{}", claims.sub),
        Err(_) => by_address(),
    };
    Some(SimpleInput { interval: limit.window, max_requests: limit.requests.into(), key })
}

/// Writes `RateLimit-Policy` and `RateLimit` for `output` under a window of `window`
/// (`given_back`: this request was not counted after all).
fn fields(headers: &mut HeaderMap, output: &SimpleOutput, window: Duration, given_back: bool) {
    let remaining = if given_back { (output.remaining() + 1).min(output.limit()) } else { output.remaining() };
    let policy = format!("\"{POLICY}\";q={};w={}", output.limit(), window.as_secs());
    let state = format!("\"{POLICY}\";r={remaining};t={}", output.seconds_until_reset());
    for (name, value) in [(RATELIMIT_POLICY, policy), (RATELIMIT, state)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// How the middleware learns what a request counts against.
type Input = fn(&ServiceRequest) -> Ready<Result<Subject, actix_web::Error>>;

/// The middleware for `limit` (built once per worker; `counts` is shared by all of them).
pub fn middleware(limit: RateLimit, counts: Counts) -> RateLimiter<Counts, Option<SimpleOutput>, Input> {
    let window = limit.window;
    let input: Input = |req| ready(Ok(subject(req)));
    RateLimiter::builder(counts, input)
        .fail_open(true)
        .rollback_condition(Some(|status: actix_web::http::StatusCode| {
            status == actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
        }))
        .request_allowed_transformation(Some(
            move |headers: &mut HeaderMap, output: Option<&Option<SimpleOutput>>, given_back| {
                if let Some(Some(output)) = output {
                    fields(headers, output, window, given_back);
                }
            },
        ))
        .request_denied_response(move |output: &Option<SimpleOutput>| {
            let Some(output) = output else {
                return ApiError::RateLimited { retry_after: window.as_secs() }.error_response();
            };
            let mut response: HttpResponse =
                ApiError::RateLimited { retry_after: output.seconds_until_reset().max(1) }.error_response();
            fields(response.headers_mut(), output, window, false);
            response
        })
        .build()
}
