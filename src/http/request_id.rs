//! `X-Request-Id`: echoed when the client sent a sensible one, else a new UUID; available to
//! every problem document of the request; and any error that escaped as `Err` is turned into
//! a problem document here, so nothing answers in plain text.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::error::{ApiError, REQUEST_ID};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn request_id(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(X_REQUEST_ID.clone(), value.clone());
    // (The request must not be cloned here: routing needs it unshared.)
    let result = REQUEST_ID.scope(id.clone(), next.call(req)).await;
    match result {
        Ok(res) => {
            let mut res = res.map_into_boxed_body();
            res.headers_mut().insert(X_REQUEST_ID.clone(), value);
            Ok(res)
        }
        Err(err) => {
            let status = err.as_response_error().status_code();
            let detail = err.to_string();
            let mut response =
                REQUEST_ID.sync_scope(id, || ApiError::from_status(status, detail.clone()).error_response());
            response.headers_mut().insert(X_REQUEST_ID.clone(), value);
            Err(actix_web::error::InternalError::from_response(detail, response).into())
        }
    }
}
