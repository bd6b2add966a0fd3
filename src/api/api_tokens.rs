use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::jwt::TokenKind;
use crate::auth::roles::{Admin, Role};
use crate::db::tokens::{self, ApiToken};
use crate::domain::{self, Validator};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{Json, Query};
use crate::http::AppState;
use crate::http::{created, Page, PageParams};

const SORT: &str = "api_tokens:created_at";
/// A token without `expires_at` is signed to last this long (100 years).
const NO_EXPIRY_SECS: i64 = 100 * 365 * 24 * 3600;

/// API tokens of the workspace (admin), oldest first; revoked ones included.
#[utoipa::path(
    tag = "api-tokens",
    params(PageParams),
    responses((status = 200, description = "A page of tokens", body = Page<ApiToken>), E400, E401, E403)
)]
#[get("/api-tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    Query(page): Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> =
        state.cursor_key.position(auth.workspace_id, SORT, page.cursor.as_deref())?;
    let rows = tokens::list_api(&state.pool, auth.workspace_id, after, limit + 1).await?;
    let page = state.cursor_key.page(auth.workspace_id, SORT, rows, limit, |t| (t.created_at, t.id));
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    #[schema(schema_with = crate::http::doc::schemas::name, example = "nightly import")]
    pub name: String,
    /// At most the creator's own role.
    pub role: Role,
    /// When it stops working (in the future); none: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub api_token: ApiToken,
    /// The bearer token. Shown this once: store it now.
    pub token: String,
}

/// Create an API token (admin). The token is in the response, once.
///
/// The token is issued to the caller's user: it acts with its own role capped by that user's
/// current role, and is revoked when the user is disabled, changes password or is removed.
#[utoipa::path(
    tag = "api-tokens",
    request_body = NewApiToken,
    responses(
        (status = 201, description = "Created", body = CreatedApiToken),
        E400, E401, E403, E415, E422
    )
)]
#[post("/api-tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    Json(body): Json<NewApiToken>,
) -> ApiResult<HttpResponse> {
    let mut v = Validator::default();
    let name = v.check(domain::text("name", &body.name, 1, 200));
    if body.role > auth.role {
        v.push(FieldError::new("role", "cannot exceed your own role"));
    }
    if body.expires_at.is_some_and(|e| e <= Utc::now()) {
        v.push(FieldError::new("expires_at", "must be in the future"));
    }
    v.finish()?;
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    // Issued to the caller's user (also when the caller is itself an API token): it lives and
    // dies with that user.
    let api_token =
        tokens::insert_api(&state.pool, auth.workspace_id, &name, body.role, Some(auth.user_id), body.expires_at)
            .await?;
    let exp = body.expires_at.map_or(Utc::now().timestamp() + NO_EXPIRY_SECS, |e| e.timestamp());
    let token = state.keys.sign(auth.user_id, auth.workspace_id.0, body.role, api_token.id, TokenKind::Api, exp, 0);
    Ok(created(format!("/api/v1/api-tokens/{}", api_token.id), None, &CreatedApiToken { api_token, token }))
}

/// Revoke an API token (admin). Every instance refuses it within seconds.
#[utoipa::path(
    tag = "api-tokens",
    params(("id" = Uuid, Path, description = "API token id")),
    responses((status = 204, description = "Revoked"), E400, E401, E403, E404)
)]
#[delete("/api-tokens/{id}")]
pub async fn delete_token(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    if !tokens::revoke_api(&state.pool, auth.workspace_id, *id).await? {
        return Err(ApiError::not_found("API token"));
    }
    state.revoked.insert(*id);
    Ok(HttpResponse::NoContent().finish())
}
