//! Request extractors that turn every kind of bad input into a problem document that names
//! the field: JSON bodies, query strings, path parameters, `If-Match`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// The largest request body accepted, in bytes (from `RAPPORT_MAX_BODY_BYTES`).
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A JSON request body: `415` for another content type, `413` over the limit, `400` when it is
/// not JSON, `422` naming the field when it is JSON of the wrong shape.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_json_content_type(req);
        let body = read_body(req, payload);
        Box::pin(async move {
            checked?;
            let bytes = body.await?;
            parse_json(&bytes).map(Json)
        })
    }
}

pub fn check_json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType("Content-Type must be application/json".into()));
    };
    let mime = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!("Content-Type must be application/json, not {mime:?}")))
    }
}

/// Reads the whole body, refusing more than the configured limit (`413`) as early as the
/// `Content-Length` tells, else as soon as the stream passes it.
pub fn read_body(req: &HttpRequest, payload: &mut Payload) -> LocalBoxFuture<'static, Result<bytes::Bytes, ApiError>> {
    let limit = req.app_data::<BodyLimit>().map_or(1 << 20, |l| l.0);
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut body = bytes::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| match e {
                actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge { limit },
                other => ApiError::malformed(unread_body(&other)),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    })
}

/// Why a request body could not be read, in HTTP's words rather than the server's parser's.
pub fn unread_body(e: &actix_web::error::PayloadError) -> &'static str {
    use actix_web::error::PayloadError;
    match e {
        PayloadError::Incomplete(_) => {
            "the body ended before the length its headers announce (Content-Length or the chunked encoding)"
        }
        PayloadError::EncodingCorrupted => "the body could not be decoded with its Content-Encoding",
        PayloadError::Overflow => "the body is larger than this server accepts",
        PayloadError::Io(_) => "the body could not be read: the connection failed while it was being sent",
        _ => "the body could not be read",
    }
}

/// Parses JSON: syntax errors are `400 malformed_request`, shape errors `422` with the path (an
/// array where an object goes among them: [`crate::domain::strict`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Objects only where objects go (serde would read a struct from an array of its fields).
    let value: T = serde_path_to_error::deserialize(crate::domain::strict::Strict(&mut de)).map_err(|err| {
        let path = err.path().to_string();
        let at = err.path().iter().cloned().collect::<Vec<_>>();
        let inner = err.into_inner();
        let message = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => {
                let sent = serde_json::from_slice::<serde_json::Value>(bytes).ok();
                let value = sent.as_ref().and_then(|v| value_at(v, &at));
                ApiError::Validation(vec![field_error(path, crate::domain::query::plain_message(message, value))])
            }
            // serde_json reports some shape errors (a number where an enum goes) as syntax
            // errors: the body is JSON all the same, so it is the field that is wrong.
            _ if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
                ApiError::Validation(vec![field_error(path, format!("has the wrong type or value ({message})"))])
            }
            _ => malformed_json(message),
        }
    })?;
    de.end().map_err(|e| malformed_json(strip_position(&e.to_string())))?;
    Ok(value)
}

/// The value at a serde path in a JSON document, if it is there.
fn value_at<'a>(mut v: &'a serde_json::Value, at: &[serde_path_to_error::Segment]) -> Option<&'a serde_json::Value> {
    use serde_path_to_error::Segment;
    for segment in at {
        v = match segment {
            Segment::Seq { index } => v.get(index)?,
            Segment::Map { key } => v.get(key)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A field error from a serde path and message (see `domain::query::field_error`); the body
/// itself is `body`.
pub fn field_error(path: String, message: String) -> FieldError {
    crate::domain::query::field_error("body", path, message)
}

fn malformed_json(message: String) -> ApiError {
    // serde_json's words for a body cut short or a broken escape, in the API's.
    let message = if message.starts_with("EOF while parsing") {
        "the body ends before its JSON value is complete".to_owned()
    } else if message.contains("hex escape") || message.contains("surrogate") {
        "a \\u escape in a string is not a whole Unicode character (UTF-16 surrogates come in pairs)".to_owned()
    } else {
        message
    };
    ApiError::Malformed {
        detail: format!("the body is not valid JSON: {message}"),
        errors: vec![FieldError::new("body", message)],
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string: an unknown parameter or a value of the wrong type is `400` naming it.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    crate::domain::query::parse(qs).map_err(|e| ApiError::malformed_field(e.field, e.message))
}

/// `If-Match: "<version>"`. `None` when absent, empty or `*`. A value that is not one of our
/// entity tags can match no version: `Some(-1)` (versions start at 0 or 1), so the change is
/// refused with `412` as RFC 9110 says; so is a weak tag (`W/"3"`: `If-Match` compares
/// strongly).
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = value.to_str().unwrap_or("").trim();
    if raw.is_empty() || raw == "*" {
        return Ok(None);
    }
    Ok(Some(raw.strip_prefix('"').and_then(|t| t.strip_suffix('"')).and_then(|t| t.parse::<i64>().ok()).unwrap_or(-1)))
}

/// A query parameter that names an instant (see `domain::Bound`); a bad one is a `400` naming
/// the parameter.
pub fn bound(field: &str, text: &str) -> Result<crate::domain::Bound, ApiError> {
    crate::domain::Bound::parse(field, text).map_err(|e| ApiError::malformed_field(e.field, e.message))
}

/// An optional instant parameter.
pub fn optional_bound(field: &str, text: Option<&str>) -> Result<Option<crate::domain::Bound>, ApiError> {
    text.map(|t| bound(field, t)).transpose()
}

/// `If-Match`, read: the version a change is based on (`None`: any).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i64>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(if_match(req).map(IfMatch))
    }
}

/// Path parameter errors (a malformed UUID, say) are `400`, naming the parameter; unless the
/// path is a fixed route of its own (`/customers/import`) asked with another method: `405`.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|err, req| {
        if let Some(table) = req.app_data::<actix_web::web::Data<crate::http::fallback::RouteTable>>() {
            if let Some(allow) = table.allowed(req.path()) {
                if !allow.iter().any(|m| m == req.method().as_str()) {
                    return ApiError::MethodNotAllowed { allow }.into();
                }
            }
        }
        // Every path parameter is an id: name the one that is not.
        let bad = req.match_info().iter().find(|(_, value)| uuid::Uuid::try_parse(value).is_err());
        match bad {
            Some((name, value)) => {
                ApiError::malformed_field(name, format!("{value:?} {}", crate::domain::query::NOT_AN_ID)).into()
            }
            None => ApiError::malformed(format!("a path parameter is not valid ({err})")).into(),
        }
    })
}

/// A payload that yields `body`, for a request whose body was read before its handler.
pub fn payload_of(body: bytes::Bytes) -> actix_web::dev::Payload {
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    actix_web::dev::Payload::from(payload)
}

/// How long a JSON body may take to arrive.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The middleware that reads a JSON body whole before the handler runs: its extractors (a
/// write's transaction among them) then never wait on the client, so a client that sends its
/// body slowly, or never ends it, holds no database connection, only its buffer (at most
/// `RAPPORT_MAX_BODY_BYTES`) for at most [`BODY_TIMEOUT`] (then `400`). Streamed uploads (CSV,
/// NDJSON imports) pass as they are.
pub async fn buffer_json_bodies(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::Method;
    use actix_web::ResponseError;
    let has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        && req.headers().contains_key(header::CONTENT_TYPE)
        && check_json_content_type(req.request()).is_ok();
    if !has_body {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let (http_req, payload) = req.parts_mut();
    let read = read_body(http_req, payload);
    let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return Ok(req.into_response(e.error_response())),
        Err(_) => {
            let late = ApiError::malformed(format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()));
            return Ok(req.into_response(late.error_response()));
        }
    };
    req.set_payload(payload_of(body));
    next.call(req).await.map(|r| r.map_into_boxed_body())
}
