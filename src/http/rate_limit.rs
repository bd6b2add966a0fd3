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
//! The counts live in PostgreSQL (`db::request_counts`), so the limit holds across every
//! instance on the database, as the login throttle does; it costs one short statement per
//! request, on a small pool of its own that waits at most 250 ms for a connection. A request
//! the server failed (`500`) is given back; a `503` (overload, an outage) is not, or a client
//! retrying into an overload would never be limited. When the database cannot be reached,
//! requests pass (fail open) at once: the request then meets the outage itself and gets its
//! `503`; the limit must not answer for the database, nor add its own wait to the request's.

use std::future::{ready, Ready};
use std::time::Duration;

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

/// The policy's name in both fields.
const POLICY: &str = "principal";
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// What a request counts against: its principal's key under the limit, or nothing (a request
/// outside `/api/`: health probes, the OpenAPI document, Swagger UI).
pub type Subject = Option<SimpleInput>;

/// The counts, in the database, over a pool of their own.
#[derive(Clone)]
pub struct Counts(PgPool);

impl Counts {
    /// A pool of `connections` on the database of `pool` (its options) that waits at most
    /// 250 ms for a connection: lazily connected, so a database down at start is no error.
    pub fn new(pool: &PgPool, connections: u32) -> Self {
        let options = (*pool.connect_options()).clone();
        Counts(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_millis(250))
                .connect_lazy_with(options),
        )
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
        let (count, seconds) = crate::db::request_counts::hit(&self.0, &input.key, input.interval).await?;
        let count = count.unsigned_abs();
        let output = SimpleOutput {
            limit: input.max_requests,
            remaining: input.max_requests.saturating_sub(count),
            reset: actix_web::rt::time::Instant::now() + Duration::from_secs(seconds.unsigned_abs()),
        };
        Ok((Decision::from_allowed(count <= input.max_requests), Some(output), Some(input.key)))
    }

    async fn rollback(&self, key: Self::RollbackToken) -> Result<(), ApiError> {
        let Some(key) = key else { return Ok(()) };
        Ok(crate::db::request_counts::undo(&self.0, &key).await?)
    }
}

/// The principal a request counts for: `token:<id>` for an API token, `user:<id>` for a
/// user's access token (whether or not the user may still act: the handler says), else
/// `ip:<SHA-256 of the client address>` (a token whose signature, expiry or revocation fails
/// counts as none: the handler answers it `401`).
fn subject(req: &ServiceRequest) -> Subject {
    if !crate::http::is_api(crate::http::routed_path(req)) {
        return None;
    }
    let state = req.app_data::<web::Data<AppState>>()?;
    let limit = state.settings.rate_limit;
    let key = match crate::http::auth::authenticate(state, req.request()) {
        Ok(claims) if claims.kind == TokenKind::Api => format!("token:{}", claims.jti),
        Ok(claims) => format!("user:{}", claims.sub),
        Err(_) => crate::auth::throttle::key("ip", &crate::http::auth::client_address(req.request())),
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
