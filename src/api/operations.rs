//! Health and metrics: outside `/api/v1`, no auth.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::http::doc::E503;
use crate::http::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// Check liveness
///
/// `200` while the process is up; the database is not consulted. Not under `/api/v1`; no token
/// needed.
#[utoipa::path(
    operation_id = "check_liveness",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Up", body = Health))
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// Check readiness
///
/// `200` when the database is reachable and fully migrated; `503` otherwise, also when it does
/// not answer within 2 s (a database restarting, every connection busy), and from the moment
/// the server is told to shut down (it is draining). Not under `/api/v1`; no token needed.
#[utoipa::path(
    operation_id = "check_readiness",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Ready", body = Health), E503)
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if state.drain.is_shutting_down() {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), crate::db::is_migrated(&state.pool));
    match check.await {
        Ok(Ok(true)) => Ok(HttpResponse::Ok().json(Health { status: "ok".into() })),
        Ok(Ok(false)) => Err(ApiError::Unavailable("the database is not fully migrated".into())),
        Err(_) => Err(ApiError::Unavailable("the database did not answer within 2 s".into())),
        Ok(Err(e)) => {
            log::warn!("readiness check: {e}");
            Err(ApiError::Unavailable("the database is not reachable".into()))
        }
    }
}

/// Get Prometheus metrics
///
/// Prometheus text format: requests by route and status, latencies, pool usage. Not under
/// `/api/v1`; no token needed.
#[utoipa::path(
    operation_id = "get_metrics",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let body = state.metrics.render(state.pool.size(), state.pool.num_idle(), state.settings.db_max_connections);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}
