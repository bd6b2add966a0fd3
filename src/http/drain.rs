//! Graceful shutdown across the whole instance.
//!
//! On SIGTERM or SIGINT the instance stops accepting (new connections are refused) and answers
//! the requests in flight, every worker's; while some are, a request that comes on a connection
//! already open is served too, with `Connection: close`. Once none is left (or after
//! `RAPPORT_SHUTDOWN_TIMEOUT_SECS`, or at a second signal), a request that still comes is `503`,
//! the background jobs stop, then the workers, together: not one by one as each runs out of
//! connections, since a worker's runtime ends with it, and a pooled database connection it opened
//! dies with that runtime, under a request another worker is still answering. `/health/ready`
//! says `503` from the signal on.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_http::ConnectionType;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use tokio::sync::Notify;

use crate::error::ApiError;
use crate::http::held::Held;
use crate::http::AppState;

const SERVING: u8 = 0;
const DRAINING: u8 = 1;
const STOPPING: u8 = 2;

/// The instance's requests in flight and where its shutdown stands.
#[derive(Default)]
pub struct Drain {
    phase: AtomicU8,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Drain {
    /// Whether the instance is shutting down (from the signal on).
    pub fn is_shutting_down(&self) -> bool {
        self.phase.load(Ordering::SeqCst) != SERVING
    }

    /// From now on, each answer closes its connection.
    pub fn begin(&self) {
        self.phase.store(DRAINING, Ordering::SeqCst);
    }

    /// Waits until no request is in flight, at most `timeout`; `true` when none is. Then a
    /// request that still comes is refused (`503`, it touches nothing), and the wait goes on
    /// for the few that came in between (they had seen the drain still serving).
    pub async fn until_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let idle = self.wait(deadline).await;
        self.phase.store(STOPPING, Ordering::SeqCst);
        idle && self.wait(deadline).await
    }

    async fn wait(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            // `notify_one` keeps its wake-up for a waiter that comes after it: none is missed.
            if tokio::time::timeout_at(deadline, self.idle.notified()).await.is_err() {
                return self.in_flight.load(Ordering::SeqCst) == 0;
            }
        }
    }
}

/// One request in flight, until its response body is sent or dropped.
struct InFlight(Arc<Drain>);

impl InFlight {
    fn enter(drain: Arc<Drain>) -> InFlight {
        drain.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(drain)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_one();
        }
    }
}

/// The middleware: counts every request in flight; while draining, closes each connection
/// after its answer; once the workers are stopping, refuses new requests with `503` and
/// `Retry-After` (nothing is done: the client retries on another instance or after the restart).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(drain) = req.app_data::<web::Data<AppState>>().map(|s| s.drain.clone()) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let guard = InFlight::enter(drain.clone());
    let mut res = match drain.phase.load(Ordering::SeqCst) {
        STOPPING => {
            let stopping = ApiError::Unavailable("the server is shutting down; retry shortly".into());
            req.into_response(stopping.error_response())
        }
        // (An error the inner services return, rather than answer, is answered by actix itself,
        // without `Connection: close`: the request may not be cloned before routing.)
        _ => next.call(req).await?.map_into_boxed_body(),
    };
    if drain.is_shutting_down() {
        res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    }
    Ok(res.map_body(|_, body| BoxBody::new(Held::new(body, guard))))
}

/// Resolves at the first SIGTERM or SIGINT.
pub async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            log::warn!("cannot listen for SIGTERM ({e}); only SIGINT stops the server gracefully");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
