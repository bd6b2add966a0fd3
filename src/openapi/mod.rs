//! The OpenAPI 3.1 document: paths are collected from the routes themselves
//! (utoipa-actix-web), the rest is declared here; `polish` states what holds for every
//! operation, `examples` gives the examples (rows of the demo workspace).

mod examples;
mod polish;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport API",
        description = "Rapport is an API-first CRM: customers and companies, every interaction on every channel, deals through pipelines, and analytics computed in SQL.\n\nAuthenticate with `POST /api/v1/auth/login`, then send `Authorization: Bearer <access_token>` (Swagger UI: **Authorize**). Errors are RFC 9457 `application/problem+json`.\n\nEvery `GET` also answers `HEAD` (its headers alone).",
        license(name = "MIT", identifier = "MIT")
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        crate::db::customers::CustomerSort,
        crate::api::interactions::InteractionSort,
        crate::analytics::cohorts::CohortPeriod,
        crate::domain::schedule::ScheduleInput
    )),
    modifiers(&Security),
    // Every operation needs a bearer token unless it says otherwise (`security(())`).
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Log in, refresh, log out, sign up"),
        (name = "workspace", description = "The caller's workspace"),
        (name = "users", description = "Users of the workspace"),
        (name = "api-tokens", description = "Long-lived tokens for scripts and integrations"),
        (name = "channels", description = "Where contact happens"),
        (name = "customers", description = "People and companies: the 360° record"),
        (name = "interactions", description = "Every contact, on any channel"),
        (name = "pipelines", description = "Pipelines and their stages: the funnel"),
        (name = "deals", description = "Customers moving through a pipeline, with an immutable stage history"),
        (name = "analytics", description = "Funnel, segments, RFM, cohorts, interaction series and baskets, computed in PostgreSQL"),
        (name = "reports", description = "Saved analytics, run on demand or on a schedule in the workspace's local time; runs as JSON or CSV"),
        (name = "support", description = "After-sales support: cases with service-level timers in the workspace's business hours"),
        (name = "events", description = "The event log: audit log and change feed"),
        (name = "operations", description = "Health and metrics")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in crate::http::doc::schemas::json_components() {
            components.schemas.insert(name, schema);
        }
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The document of everything the server serves: the paths collected from the routes
/// themselves (utoipa-actix-web), with what [`ApiDoc`] declares. Built once, at start.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::api::routes)
        .split_for_parts();
    let mut doc = serde_json::to_value(&api).expect("the OpenAPI document serializes");
    polish::polish(&mut doc);
    serde_json::from_value(doc).expect("the polished document is an OpenAPI document")
}

#[cfg(test)]
mod tests {
    /// Nothing the polish writes is lost on the way back to utoipa's types (which would drop
    /// what they do not model).
    #[test]
    fn the_polished_document_survives_its_types() {
        let api = super::document();
        let served = serde_json::to_value(&api).unwrap();
        let mut doc = serde_json::to_value(&api).unwrap();
        super::polish::polish(&mut doc);
        assert_eq!(served, doc);
    }
}
