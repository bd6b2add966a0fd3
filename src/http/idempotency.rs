//! `Idempotency-Key` for every POST: the first request with a key runs and its response is
//! stored (24 h); a retry with the same key and the same request gets the stored response and
//! changes nothing; the same key with another request is `409`.
//!
//! A successful write stores its response in its own transaction ([`crate::http::write::Write`]),
//! so the response is kept if and only if the write commits: a crash can never leave a key half
//! taken, and two requests racing with one key cannot both commit. An error response (4xx) is
//! stored after the fact. Keys are scoped to the workspace of the caller's token. JSON bodies
//! and bodyless POSTs (a restore, a report run) are covered; streamed uploads (imports) are not;
//! requests without a valid token pass through untouched (they are refused by the route anyway).

use std::cell::Cell;
use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse, ResponseError};
use sha2::{Digest, Sha256};

use crate::db::idempotency::{self, Stored};
use crate::domain::WorkspaceId;
use crate::error::ApiError;
use crate::http::auth::authenticate;
use crate::http::extract::read_body;
use crate::http::AppState;

/// The `Idempotency-Key` request header, as the OpenAPI document declares it on the POSTs that
/// honour it (every one that writes, but the import and the auth endpoints).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// 1 to 255 printable ASCII characters naming one logical request (a UUID is a good key).
    /// A retry with the same key and the same body within 24 h gets the first response again
    /// (with `Idempotent-Replayed: true`) and changes nothing; the same key with another body
    /// is `409`.
    #[serde(rename = "Idempotency-Key")]
    #[param(min_length = 1, max_length = 255, pattern = "^[ -~]+$")]
    pub key: Option<String>,
}

pub static IDEMPOTENCY_KEY: header::HeaderName = header::HeaderName::from_static("idempotency-key");
const REPLAYED: &str = "idempotent-replayed";
/// Response headers kept with the stored response.
const KEPT_HEADERS: [&str; 3] = ["content-type", "location", "etag"];

/// A request's key, for the write that answers it (request extensions).
#[derive(Clone)]
pub struct IdempotencyClaim {
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub request_hash: Vec<u8>,
    /// Set once the response is stored.
    pub stored: Rc<Cell<bool>>,
}

impl IdempotencyClaim {
    /// The response as it will be replayed.
    pub fn stored(&self, status: StatusCode, headers: &header::HeaderMap, body: &[u8]) -> Stored {
        let kept: serde_json::Map<String, serde_json::Value> =
            KEPT_HEADERS.iter().filter_map(|h| Some((h.to_string(), headers.get(*h)?.to_str().ok()?.into()))).collect();
        Stored {
            request_hash: self.request_hash.clone(),
            status_code: i32::from(status.as_u16()),
            response_headers: Some(serde_json::Value::Object(kept)),
            response_body: Some(body.to_vec()),
        }
    }
}

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::POST || !req.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let fail = |req: ServiceRequest, e: ApiError| Ok(req.into_response(e.error_response()));
    let key = match req.headers().get(&IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()) {
        Some(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => k.to_owned(),
        _ => {
            return fail(
                req,
                ApiError::malformed_field("Idempotency-Key", "must be 1 to 255 printable ASCII characters"),
            )
        }
    };
    // Streamed uploads (CSV, NDJSON imports) are not buffered: the import is idempotent by
    // id and email on its own.
    let streamed = req.headers().contains_key(header::CONTENT_TYPE)
        && crate::http::extract::check_json_content_type(req.request()).is_err();
    if streamed {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let Ok(claims) = authenticate(&state, req.request()) else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let (http_req, payload) = req.parts_mut();
    let body = match read_body(http_req, payload).await {
        Ok(b) => b,
        Err(e) => return fail(req, e),
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b"\n");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(&body);
    let claim = IdempotencyClaim {
        workspace_id: WorkspaceId(claims.ws),
        key,
        request_hash: hasher.finalize().to_vec(),
        stored: Rc::new(Cell::new(false)),
    };

    match idempotency::find(&state.pool, claim.workspace_id, &claim.key).await {
        Ok(Some(stored)) if stored.request_hash != claim.request_hash => {
            return fail(
                req,
                ApiError::Conflict("this Idempotency-Key was already used with a different request".into()),
            )
        }
        Ok(Some(stored)) => return Ok(req.into_response(replay(stored))),
        Ok(None) => {}
        Err(e) => return fail(req, e.into()),
    }

    req.set_payload(crate::http::extract::payload_of(body));
    req.extensions_mut().insert(claim.clone());
    let res = next.call(req).await?;
    let status = res.status();
    if claim.stored.get() || status.is_server_error() || !status.is_client_error() && !status.is_success() {
        // Stored with its write, or nothing acknowledged (the client may retry with the key).
        return Ok(res.map_into_boxed_body());
    }
    // An answer that wrote nothing (an error, or a write not made through `Write`): kept after
    // the fact, so that a retry gets the same answer.
    let (http_req, res) = res.into_parts();
    let headers = res.headers().clone();
    let bytes = match actix_web::body::to_bytes(res.into_body()).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError::internal("response body could not be read");
            return Ok(ServiceResponse::new(http_req, e.error_response()));
        }
    };
    let stored = claim.stored(status, &headers, &bytes);
    if let Err(e) = idempotency::store(&state.pool, claim.workspace_id, &claim.key, &stored).await {
        log::error!("storing the response for an idempotency key: {e}");
    }
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in headers.iter() {
        rebuilt.append_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(http_req, rebuilt.body(bytes)))
}

fn replay(stored: Stored) -> HttpResponse {
    let status = u16::try_from(stored.status_code).ok().and_then(|s| StatusCode::from_u16(s).ok());
    let mut res = HttpResponse::build(status.unwrap_or(StatusCode::OK));
    if let Some(serde_json::Value::Object(h)) = stored.response_headers {
        for (name, value) in h {
            if let Some(v) = value.as_str() {
                res.insert_header((name, v.to_owned()));
            }
        }
    }
    res.insert_header((REPLAYED, "true"));
    res.body(stored.response_body.unwrap_or_default())
}
