//! A bulkhead for heavy work: the requests that read or write a whole workspace's worth of rows
//! (analytics, a saved report's run, export, import, a batch of interactions, and the changes
//! that recompute every open case's due times: business hours, the time zone, an SLA policy)
//! take one of
//! `RAPPORT_HEAVY_CONCURRENCY` permits of this instance for as long as they run (a streamed
//! body included), so that however many of them arrive, cheap requests (a GET by id, a single
//! write) still find CPU and connections. A heavy request that waits 30 s for a permit gets
//! `503` with `Retry-After`. A response its client stops reading (an export) gives its permit
//! back after `RAPPORT_HEAVY_IDLE_SECS` without a byte taken: a stalled reader keeps its
//! connection, not the instance's capacity.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::http::AppState;

/// How long a heavy request waits for a permit before `503`.
const WAIT: Duration = Duration::from_secs(30);

/// The permits of this instance, and how long a response may go unread and keep one.
pub struct HeavyWork {
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl HeavyWork {
    pub fn new(permits: usize, idle: Duration) -> Self {
        HeavyWork { permits: Arc::new(Semaphore::new(permits.max(1))), idle }
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
    let semaphore = req.app_data::<web::Data<AppState>>().map(|s| (s.heavy.permits.clone(), s.heavy.idle));
    let (true, Some((semaphore, idle))) = (heavy, semaphore) else {
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
    // The permit is kept until the body is sent, or unread for `idle`.
    Ok(res.map_body(|_, body| BoxBody::new(Leased::new(body.boxed(), permit, idle))))
}

/// A permit, when its response last handed out a chunk (or its end), and whether the body is
/// making its next chunk (its own work pending: the client is not the one waited for).
struct Lease {
    permit: Option<OwnedSemaphorePermit>,
    read_at: Instant,
    making: bool,
}

/// A response body holding its request's permit: given back when the body is sent or dropped,
/// or by a watchdog once the client has asked for no chunk for `idle` since the last one (the
/// body is polled only when the connection can take more, so an unread response stops being
/// polled). A body still making its next chunk keeps its permit however long that takes.
struct Leased {
    body: BoxBody,
    lease: Arc<Mutex<Lease>>,
    watchdog: JoinHandle<()>,
}

impl Leased {
    fn new(body: BoxBody, permit: OwnedSemaphorePermit, idle: Duration) -> Self {
        let lease = Arc::new(Mutex::new(Lease { permit: Some(permit), read_at: Instant::now(), making: false }));
        let watched = Arc::downgrade(&lease);
        let watchdog = tokio::spawn(async move {
            let mut due = Instant::now() + idle;
            loop {
                tokio::time::sleep_until(due).await;
                let Some(lease) = watched.upgrade() else { return };
                let mut lease = lease.lock().unwrap_or_else(|e| e.into_inner());
                if !lease.making && lease.read_at + idle <= Instant::now() {
                    if lease.permit.take().is_some() {
                        log::warn!("a heavy response went unread for {} s: its permit goes back", idle.as_secs());
                    }
                    return;
                }
                due = if lease.making { Instant::now() + idle } else { lease.read_at + idle };
            }
        });
        Leased { body, lease, watchdog }
    }
}

impl MessageBody for Leased {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let next = Pin::new(&mut self.body).poll_next(cx);
        let mut lease = self.lease.lock().unwrap_or_else(|e| e.into_inner());
        lease.making = next.is_pending();
        if next.is_ready() {
            lease.read_at = Instant::now();
        }
        next
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        self.watchdog.abort();
    }
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
