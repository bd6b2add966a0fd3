//! `Idempotency-Key` for every POST: the first request with a key runs and its response is
//! stored (24 h); a retry with the same key and the same request gets the stored response and
//! changes nothing; the same key with another request is `409`.
//!
//! Keys are scoped to the workspace of the caller's token. Only JSON bodies are covered. Requests without a valid token pass
//! through untouched (they are refused by the route anyway).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse, ResponseError};
use sha2::{Digest, Sha256};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::http::extract::read_body;
use crate::state::AppState;

pub static IDEMPOTENCY_KEY: header::HeaderName = header::HeaderName::from_static("idempotency-key");
const REPLAYED: &str = "idempotent-replayed";
/// Response headers kept with the stored response.
const KEPT_HEADERS: [&str; 3] = ["content-type", "location", "etag"];

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
    // email on its own.
    if crate::http::extract::check_json_content_type(req.request()).is_err() {
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
    let hash = hasher.finalize().to_vec();
    let ws = claims.ws;

    match claim(&state, ws, &key, &hash).await {
        Ok(Claim::Fresh) => {}
        Ok(Claim::Replay(res)) => return Ok(req.into_response(res)),
        Err(e) => return fail(req, e),
    }

    req.set_payload(bytes_to_payload(body));
    let res = next.call(req).await?;
    let (http_req, res) = res.into_parts();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = match actix_web::body::to_bytes(res.into_body()).await {
        Ok(b) => b,
        Err(_) => {
            forget(&state, ws, &key).await;
            let e = ApiError::internal("response body could not be read");
            return Ok(ServiceResponse::new(http_req, e.error_response()));
        }
    };
    if status.is_server_error() {
        // Nothing was acknowledged: the client may retry with the same key.
        forget(&state, ws, &key).await;
    } else {
        let kept: serde_json::Map<String, serde_json::Value> =
            KEPT_HEADERS.iter().filter_map(|h| Some((h.to_string(), headers.get(*h)?.to_str().ok()?.into()))).collect();
        let stored = sqlx::query(
            "UPDATE idempotency_keys SET status_code = $3, response_headers = $4, response_body = $5
              WHERE workspace_id = $1 AND key = $2",
        )
        .bind(ws)
        .bind(&key)
        .bind(i32::from(status.as_u16()))
        .bind(serde_json::Value::Object(kept))
        .bind(bytes.as_ref())
        .execute(&state.pool)
        .await;
        if let Err(e) = stored {
            log::error!("storing the response for an idempotency key: {e}");
        }
    }
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in headers.iter() {
        rebuilt.append_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(http_req, rebuilt.body(bytes)))
}

/// request hash, status, kept headers, body.
type StoredResponse = (Vec<u8>, Option<i32>, Option<serde_json::Value>, Option<Vec<u8>>);

enum Claim {
    Fresh,
    Replay(HttpResponse),
}

/// Takes the key for this request, or finds what an earlier request with it left.
async fn claim(state: &AppState, ws: uuid::Uuid, key: &str, hash: &[u8]) -> Result<Claim, ApiError> {
    // A key older than 24 h is free again.
    let fresh: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (workspace_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (workspace_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, created_at = now(),
                status_code = NULL, response_headers = NULL, response_body = NULL
          WHERE idempotency_keys.created_at < now() - interval '24 hours'
         RETURNING true",
    )
    .bind(ws)
    .bind(key)
    .bind(hash)
    .fetch_optional(&state.pool)
    .await?;
    if fresh.is_some() {
        return Ok(Claim::Fresh);
    }
    let row: Option<StoredResponse> = sqlx::query_as(
        "SELECT request_hash, status_code, response_headers, response_body
           FROM idempotency_keys WHERE workspace_id = $1 AND key = $2",
    )
    .bind(ws)
    .bind(key)
    .fetch_optional(&state.pool)
    .await?;
    let Some((stored_hash, status, headers, body)) = row else {
        // Expired and removed between the two statements: a very unlikely race; ask to retry.
        return Err(ApiError::Conflict("the Idempotency-Key is being reused; retry".into()));
    };
    if stored_hash != hash {
        return Err(ApiError::Conflict("this Idempotency-Key was already used with a different request".into()));
    }
    let Some(status) = status else {
        return Err(ApiError::Conflict("a request with this Idempotency-Key is still in progress".into()));
    };
    let mut res = HttpResponse::build(StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK));
    if let Some(serde_json::Value::Object(h)) = headers {
        for (name, value) in h {
            if let Some(v) = value.as_str() {
                res.insert_header((name, v.to_owned()));
            }
        }
    }
    res.insert_header((REPLAYED, "true"));
    Ok(Claim::Replay(res.body(body.unwrap_or_default())))
}

async fn forget(state: &AppState, ws: uuid::Uuid, key: &str) {
    let _ = sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
        .bind(ws)
        .bind(key)
        .execute(&state.pool)
        .await;
}

fn bytes_to_payload(buf: bytes::Bytes) -> Payload {
    let (_, mut pl) = actix_http::h1::Payload::create(true);
    pl.unread_data(buf);
    Payload::from(pl)
}
