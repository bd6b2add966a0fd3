//! `HEAD` (RFC 9110 §9.3.2): every `GET` answers it, with the same status and headers and no
//! body.
//!
//! `If-None-Match` is not answered with `304`: an `ETag` here is the row's version, made for
//! `If-Match`, and some representations change without a new version (a case's breach minutes
//! grow with the clock, a report's `last_run_at` moves with its runs), so a `304` could confirm
//! a stale body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::Error;

/// Routes a `HEAD` as the `GET` of its path. The HTTP/1 encoder, which knows the request was a
/// `HEAD`, sends the headers with the body's `Content-Length` and leaves the body out.
pub async fn as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
