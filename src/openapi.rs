//! The OpenAPI 3.1 document: paths are collected from the routes themselves
//! (utoipa-actix-web), the rest is declared here.

use std::collections::BTreeMap;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport API",
        description = "Rapport is an API-first CRM: customers and companies, every interaction on every channel, deals through pipelines, and analytics computed in SQL.\n\nAuthenticate with `POST /api/v1/auth/login`, then send `Authorization: Bearer <access_token>` (Swagger UI: **Authorize**). Errors are RFC 9457 `application/problem+json`.",
        license(name = "MIT", identifier = "MIT")
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Log in, refresh, log out, sign up"),
        (name = "workspace", description = "The caller's workspace"),
        (name = "users", description = "Users of the workspace"),
        (name = "api-tokens", description = "Long-lived tokens for scripts and integrations"),
        (name = "channels", description = "Where contact happens"),
        (name = "customers", description = "People and companies: the 360° record"),
        (name = "interactions", description = "Every contact, on any channel"),
        (name = "operations", description = "Health and metrics")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

macro_rules! problem_responses {
    ($($name:ident => $status:literal, $description:literal;)*) => {$(
        #[doc = $description]
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([($status.to_string(), RefOr::T(problem($description)))])
            }
        }
    )*};
}

problem_responses! {
    E400 => "400", "Malformed request: not JSON, a bad parameter, cursor or header";
    E401 => "401", "Missing, invalid, expired or revoked token";
    E403 => "403", "The token's role does not allow this";
    E404 => "404", "No such resource in this workspace";
    E409 => "409", "Conflict with the current state (a duplicate, a rule, a reused Idempotency-Key)";
    E412 => "412", "If-Match does not match the current version";
    E413 => "413", "The body is too large";
    E415 => "415", "The body is not application/json";
    E422 => "422", "Validation failed; `errors` names each field";
    E429 => "429", "Too many attempts; see Retry-After";
    E503 => "503", "Not ready";
}

/// The full document, built once.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::startup::build_openapi()
}
