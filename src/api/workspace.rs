use actix_web::{get, patch, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::roles::Owner;
use crate::db::workspaces::{self, Workspace};
use crate::domain::{self, Validator};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json};
use crate::http::versioned;
use crate::http::AppState;

/// The caller's workspace.
#[utoipa::path(
    tag = "workspace",
    responses((status = 200, description = "The workspace", body = Workspace), E401)
)]
#[get("/workspace")]
pub async fn get_workspace(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let ws = workspaces::get(&state.pool, auth.workspace_id).await?.ok_or_else(|| ApiError::not_found("workspace"))?;
    Ok(versioned(ws.version, &ws))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    #[schema(schema_with = crate::http::doc::schemas::optional_name)]
    pub name: Option<String>,
    /// ISO 4217.
    #[schema(schema_with = crate::http::doc::schemas::optional_currency)]
    pub currency: Option<String>,
    /// IANA time zone name, e.g. `America/Sao_Paulo`.
    #[schema(schema_with = crate::http::doc::schemas::timezone)]
    pub timezone: Option<String>,
}

/// Change the workspace (owner).
///
/// A JSON merge patch of `name`, `currency`, `timezone`. With `If-Match`, applies only to that
/// version (`412` otherwise). Amounts are integers in the workspace's currency, so the currency
/// cannot change while any amount other than zero is recorded (`409`): changing it would
/// relabel them (10.00 EUR would read 1000 JPY).
#[utoipa::path(
    tag = "workspace",
    request_body(content = WorkspacePatch, content_type = "application/merge-patch+json"),
    params(("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")),
    responses((status = 200, description = "Changed", body = Workspace), E400, E401, E403, E409, E412, E415, E422)
)]
#[patch("/workspace")]
pub async fn patch_workspace(
    state: web::Data<AppState>,
    auth: Auth<Owner>,
    req: HttpRequest,
    Json(body): Json<WorkspacePatch>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut v = Validator::default();
    let name = body.name.as_deref().and_then(|n| v.check(domain::text("name", n, 1, 200)));
    let currency = body.currency.as_deref().and_then(|c| v.check(domain::currency("currency", c)));
    if let Some(tz) = body.timezone.as_deref() {
        v.check(domain::timezone("timezone", tz));
    }
    v.finish()?;
    let mut tx = state.pool.begin().await?;
    let current =
        workspaces::lock(&mut *tx, auth.workspace_id).await?.ok_or_else(|| ApiError::not_found("workspace"))?;
    crate::http::extract::check_version(expected, current.version)?;
    if currency.as_ref().is_some_and(|c| *c != current.currency)
        && workspaces::lock_and_find_amounts(&mut tx, auth.workspace_id).await?
    {
        return Err(ApiError::Conflict(format!(
            "the workspace records amounts in {}; its currency cannot change while they exist",
            current.currency
        )));
    }
    let ws =
        workspaces::update(&mut *tx, auth.workspace_id, name.as_deref(), currency.as_deref(), body.timezone.as_deref())
            .await?
            .ok_or_else(|| ApiError::not_found("workspace"))?;
    tx.commit().await?;
    Ok(versioned(ws.version, &ws))
}
