//! A bulkhead for heavy work: the requests that read or write a whole workspace's worth of rows
//! (analytics, a saved report's run, export, import, a batch of interactions, and the changes
//! that recompute every open case's due times: business hours, the time zone, an SLA policy)
//! take one of
//! `RAPPORT_HEAVY_CONCURRENCY` permits of this instance for as long as they run (a streamed
//! body included), so that however many of them arrive, cheap requests (a GET by id, a single
//! write) still find CPU and connections. A heavy request that waits 30 s for a permit gets
//! `503` with `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::http::held::Held;
use crate::http::AppState;

/// How long a heavy request waits for a permit before `503`.
const WAIT: Duration = Duration::from_secs(30);

/// The permits of this instance.
pub struct HeavyWork(Arc<Semaphore>);

impl HeavyWork {
    pub fn new(permits: usize) -> Self {
        HeavyWork(Arc::new(Semaphore::new(permits.max(1))))
    }
}

/// Whether a request is heavy work (see the module's documentation).
pub fn is_heavy(method: &Method, path: &str) -> bool {
    path.starts_with("/api/v1/analytics/")
        || path == "/api/v1/customers/export"
        || path == "/api/v1/customers/import"
        || path == "/api/v1/interactions/batch"
        || (method == Method::POST && path.starts_with("/api/v1/reports/") && path.ends_with("/runs"))
        || (method == Method::PUT && path == "/api/v1/workspace/business-hours")
        || (method == Method::PATCH && (path == "/api/v1/workspace" || path.starts_with("/api/v1/sla-policies/")))
}

/// The middleware: heavy requests run under a permit; others pass.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let heavy = is_heavy(req.method(), crate::http::routed_path(&req));
    let semaphore = req.app_data::<web::Data<AppState>>().map(|s| s.heavy.0.clone());
    let (true, Some(semaphore)) = (heavy, semaphore) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let permit = match tokio::time::timeout(WAIT, semaphore.acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            let busy = ApiError::Unavailable("the server is busy with heavy requests; retry shortly".into());
            return Ok(req.into_response(busy.error_response()));
        }
    };
    let res = next.call(req).await?;
    // The permit is kept until the body is sent.
    Ok(res.map_body(|_, body| BoxBody::new(Held::new(body, permit))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_requests_are_the_whole_workspace_ones() {
        for (method, path) in [
            (Method::GET, "/api/v1/analytics/funnel"),
            (Method::GET, "/api/v1/customers/export"),
            (Method::POST, "/api/v1/customers/import"),
            (Method::POST, "/api/v1/interactions/batch"),
            (Method::POST, "/api/v1/reports/0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11/runs"),
            (Method::PUT, "/api/v1/workspace/business-hours"),
            (Method::PATCH, "/api/v1/sla-policies/0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11"),
        ] {
            assert!(is_heavy(&method, path), "{method} {path}");
        }
        for (method, path) in [
            (Method::GET, "/api/v1/customers/0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11"),
            (Method::GET, "/api/v1/customers"),
            (Method::POST, "/api/v1/interactions"),
            (Method::GET, "/api/v1/reports/0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11/runs"),
            (Method::GET, "/health/ready"),
            (Method::GET, "/api/v1/workspace/business-hours"),
        ] {
            assert!(!is_heavy(&method, path), "{method} {path}");
        }
    }
}
