//! The answer for a request no route takes: `405` with `Allow` when the path exists with other
//! methods, else `404`. The route table comes from the OpenAPI document, so it cannot drift
//! from what is served.

use actix_web::{web, HttpRequest};

use crate::error::ApiError;

/// Path templates (split in segments; `{…}` matches any one segment) and their methods.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.trim_matches('/').split('/').map(str::to_owned).collect();
                let methods: Vec<String> = [
                    ("GET", item.get.is_some()),
                    // Every GET answers HEAD too (`head::as_get`).
                    ("HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, has)| *has)
                .map(|(m, _)| m.to_owned())
                .collect();
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods of a route written exactly as `path` (no parameter), if there is one.
    pub fn fixed(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes
            .iter()
            .find(|(segments, _)| segments.iter().map(String::as_str).eq(parts.iter().copied()))
            .map(|(_, m)| m.clone())
    }

    /// The methods allowed on `path`: those of the matching route templates with the fewest
    /// parameters (`/pipelines/{id}/stages/order` before `/pipelines/{id}/stages/{stage_id}`).
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let params = |segments: &[String]| segments.iter().filter(|s| s.starts_with('{')).count();
        let matching: Vec<&(Vec<String>, Vec<String>)> = self
            .routes
            .iter()
            .filter(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(s, p)| (s.starts_with('{') && !p.is_empty()) || s == p)
            })
            .collect();
        let fewest = matching.iter().map(|(segments, _)| params(segments)).min()?;
        let mut allowed: Vec<String> = Vec::new();
        for (segments, methods) in matching {
            if params(segments) == fewest {
                for m in methods {
                    if !allowed.contains(m) {
                        allowed.push(m.clone());
                    }
                }
            }
        }
        (!allowed.is_empty()).then_some(allowed)
    }
}

pub async fn not_found_or_method_not_allowed(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    match table.fixed(req.path()).or_else(|| table.allowed(req.path())) {
        Some(allow) if !allow.iter().any(|m| m == req.method().as_str()) => Err(ApiError::MethodNotAllowed { allow }),
        _ => Err(ApiError::NotFound(format!("no resource at {}", req.path()))),
    }
}
