//! `/workspace`: the caller's workspace.

use actix_web::{get, patch, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::workspace::WorkspaceChanges;
use crate::app::{self};
use crate::auth::roles::Owner;
use crate::db::workspaces::Workspace;
use crate::domain::{Currency, Name, Timezone, Validator};
use crate::error::ApiResult;
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{IfMatch, Json};
use crate::http::write::Write;
use crate::http::{ok, AppState, Resource};

impl Resource for Workspace {
    fn location(&self) -> String {
        "/api/v1/workspace".into()
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// Get the workspace
///
/// The caller's workspace (`name`, `currency`, `timezone`), with its `ETag`. Any role (viewer).
#[utoipa::path(tag = "workspace", responses((status = 200, description = "The workspace", body = Workspace), E401))]
#[get("/workspace")]
pub async fn get_workspace(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    Ok(ok(&app::workspace::get(&state.pool, &auth.actor()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    #[schema(schema_with = Name::optional_schema)]
    pub name: Option<String>,
    /// ISO 4217.
    #[schema(schema_with = Currency::optional_schema)]
    pub currency: Option<String>,
    /// IANA time zone name, e.g. `America/Sao_Paulo`.
    #[schema(schema_with = Timezone::optional_schema)]
    pub timezone: Option<String>,
}

impl WorkspacePatch {
    fn parse(self) -> ApiResult<WorkspaceChanges> {
        let mut v = Validator::default();
        let changes = WorkspaceChanges {
            name: self.name.as_deref().and_then(|n| v.check(Name::parse("name", n))),
            currency: self.currency.as_deref().and_then(|c| v.check(Currency::parse("currency", c))),
            timezone: self.timezone.as_deref().and_then(|t| v.check(Timezone::parse("timezone", t))),
        };
        v.finish()?;
        Ok(changes)
    }
}

/// Update the workspace
///
/// Owner. A JSON merge patch of `name`, `currency`, `timezone`: absent or `null` fields are
/// unchanged. With `If-Match`, applies only to that version (`412` otherwise). Amounts are
/// integers in the workspace's currency, so the currency cannot change while any amount other
/// than zero is recorded (`409`): changing it would relabel them (10.00 EUR would read 1000
/// JPY). A new time zone moves every scheduled report's next run to its first slot after now in
/// that zone, and the due times of every unsolved case on a business-hours policy (their
/// `case.updated` events too).
#[utoipa::path(
    tag = "workspace",
    request_body(content = WorkspacePatch, content_type = "application/merge-patch+json"),
    params(("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")),
    responses((status = 200, description = "Changed", body = Workspace), E400, E401, E403, E409, E412, E415, E422),
    extensions(("x-events" = json!(["workspace.updated"])))
)]
#[patch("/workspace")]
pub async fn patch_workspace(
    mut w: Write<Owner>,
    IfMatch(expected): IfMatch,
    Json(body): Json<WorkspacePatch>,
) -> ApiResult<HttpResponse> {
    let now = w.state.settings.clock.now();
    let ws = app::workspace::update(&mut w.tx, &w.actor, expected, body.parse()?, now).await?;
    w.commit(ok(&ws)).await
}
