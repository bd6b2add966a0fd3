//! HTTP plumbing shared by every resource: extractors, middleware, fallbacks, response helpers.

pub mod auth;
pub mod csv_cells;
pub mod cursor;
pub mod doc;
pub mod drain;
pub mod extract;
pub mod fallback;
pub mod handlers;
pub mod head;
pub mod heavy;
pub mod held;
pub mod idempotency;
pub mod metrics;
pub mod patch;
pub mod rate_limit;
pub mod request_id;
pub mod state;
pub mod write;

/// The path a request is routed by: percent-decoded as the router decodes it (`/%61pi/v1` is
/// `/api/v1`), so that a middleware that picks requests by path picks the same ones the routes
/// serve.
pub fn routed_path(req: &actix_web::dev::ServiceRequest) -> &str {
    req.match_info().as_str()
}

/// Whether a request is under the API (`/api/`), as the rate limit and the OpenAPI document
/// count it.
pub fn is_api(path: &str) -> bool {
    path.starts_with(API_PREFIX)
}

/// The prefix of the API's paths (the rest: health, metrics, the document, Swagger UI).
pub const API_PREFIX: &str = "/api/";

pub use state::AppState;

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;

/// `201 Created` with `Location` and, for versioned resources, `ETag`.
pub fn created<T: Serialize>(location: String, version: Option<i64>, body: &T) -> HttpResponse {
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, location));
    if let Some(v) = version {
        res.insert_header((header::ETAG, format!("\"{v}\"")));
    }
    res.json(body)
}

/// `200 OK` with the resource and its `ETag`.
pub fn versioned<T: Serialize>(version: i64, body: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, format!("\"{version}\""))).json(body)
}

/// A resource the API answers with: where it lives and the version its `ETag` carries.
pub trait Resource: Serialize {
    fn location(&self) -> String;
    fn version(&self) -> i64;
}

/// `200 OK` with a resource and its `ETag`.
pub fn ok<T: Resource>(resource: &T) -> HttpResponse {
    versioned(resource.version(), resource)
}

/// `201 Created` with a resource, its `Location` and its `ETag`.
pub fn created_resource<T: Resource>(resource: &T) -> HttpResponse {
    created(resource.location(), Some(resource.version()), resource)
}

/// A page of a list: `{"data": [...], "next_cursor": string|null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `?limit=` and `?cursor=`, shared by every list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1..200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

impl PageParams {
    pub fn limit(&self) -> Result<i64, crate::error::ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(crate::error::ApiError::malformed_field("limit", format!("must be 1 to {MAX_LIMIT}"))),
        }
    }
}

/// The media type to answer with: the first of the request's `Accept` entries (in its order,
/// parameters and weights ignored) that names one of `offered`, exactly or as `type/*` or
/// `*/*` (the first offered); without `Accept`, the first offered. `406` when none fits.
pub fn negotiate(
    req: &actix_web::HttpRequest,
    offered: &[&'static str],
) -> Result<&'static str, crate::error::ApiError> {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*").to_ascii_lowercase();
    for entry in accept.split(',') {
        let range = entry.split(';').next().unwrap_or("").trim();
        let fits = |m: &str| match range.strip_suffix("/*") {
            Some("*") => true,
            Some(kind) => m.split('/').next() == Some(kind),
            None => m == range,
        };
        if let Some(m) = offered.iter().find(|m| fits(m)) {
            return Ok(m);
        }
    }
    Err(crate::error::ApiError::NotAcceptable(format!("this resource is available as {}", offered.join(" or "))))
}
