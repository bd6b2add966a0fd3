//! What every `GET` also answers (RFC 9110): `HEAD` (§9.3.2), the same status and headers
//! without the body, and `If-None-Match` (§13.1.2), `304 Not Modified` when the representation's
//! `ETag` is one the client already has.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::Error;

/// Routes a `HEAD` as the `GET` of its path (the HTTP/1 encoder, which knows the request was
/// a `HEAD`, sends the headers with the body's `Content-Length` and leaves the body out), and
/// answers a `GET` or `HEAD` whose `If-None-Match` matches the `200` response's `ETag` with
/// `304` and the same headers, without the body. Other methods, and responses without an
/// `ETag`, pass as they are.
pub async fn get_and_head(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let if_none_match = match req.method() == Method::GET {
        true => req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned),
        false => None,
    };
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(tags) = if_none_match else {
        return Ok(res);
    };
    let current = res.headers().get(header::ETAG).and_then(|v| v.to_str().ok());
    if res.status() != StatusCode::OK || !current.is_some_and(|etag| matches_any(&tags, etag)) {
        return Ok(res);
    }
    Ok(res.map_body(|head, _| {
        head.status = StatusCode::NOT_MODIFIED;
        head.headers.remove(header::CONTENT_TYPE);
        BoxBody::new(())
    }))
}

/// Whether an `If-None-Match` value (`*`, or a list of entity tags) names `etag`, by the weak
/// comparison RFC 9110 §8.8.3.2 prescribes for it: `W/"3"` and `"3"` are the same tag.
fn matches_any(if_none_match: &str, etag: &str) -> bool {
    let opaque = |tag: &str| {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag).to_owned()
    };
    let etag = opaque(etag);
    if_none_match.trim() == "*" || if_none_match.split(',').any(|tag| opaque(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::matches_any;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_any() {
        assert!(matches_any("\"3\"", "\"3\""));
        assert!(matches_any("W/\"3\"", "\"3\""));
        assert!(matches_any("\"1\", W/\"3\" ,\"7\"", "\"3\""));
        assert!(matches_any(" * ", "\"3\""));
        assert!(!matches_any("\"4\"", "\"3\""));
        assert!(!matches_any("3", "\"3\""), "an unquoted value is no entity tag");
        assert!(!matches_any("", "\"3\""));
    }
}
