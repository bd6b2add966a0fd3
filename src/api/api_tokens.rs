use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app;
use crate::auth::jwt::TokenKind;
use crate::auth::roles::{Admin, Role};
use crate::db::tokens::ApiToken;
use crate::domain::{Name, Validator};
use crate::error::{ApiError, ApiResult};
use crate::http::created;
use crate::http::doc::*;
use crate::http::extract::Json;
use crate::http::write::Write;

/// A token without `expires_at` is signed to last this long (100 years).
const NO_EXPIRY_SECS: i64 = 100 * 365 * 24 * 3600;

crate::list_handler! {
    /// List API tokens
    ///
    /// The workspace's API tokens, oldest first; revoked ones included. The bearer token itself is
    /// shown only once, at creation. Admin.
    ///
    /// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
    /// next page, until `next_cursor` is `null`.
    list_api_tokens, role = Admin, tag = "api-tokens", path = "/api-tokens", sort = "api_tokens:created_at",
    body = ApiToken, described = "A page of tokens", list = app::api_tokens::list, errors = [E400, E401, E403]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    #[schema(schema_with = Name::schema, example = "nightly import")]
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

/// Create an API token
///
/// Admin. `201` with the token's record and, in `token`, the bearer token itself: it is in the
/// response once, store it. `role` is at most the caller's own role and `expires_at`, if given,
/// in the future (`422` otherwise); without `expires_at` it works until revoked.
///
/// The token is issued to the caller's user: it acts with its own role capped by that user's
/// current role, and is revoked when the user is disabled, changes password or is removed.
///
/// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
/// response, the same token included (the same key with another body is `409`).
#[utoipa::path(
    operation_id = "create_api_token",
    tag = "api-tokens",
    params(crate::http::idempotency::IdempotencyKey),
    request_body = NewApiToken,
    responses(
        (status = 201, description = "Created", body = CreatedApiToken),
        E400, E401, E403, E415, E422
    ),
    extensions(("x-events" = json!(["api_token.created"])))
)]
#[post("/api-tokens")]
pub async fn create_token(mut w: Write<Admin>, Json(body): Json<NewApiToken>) -> ApiResult<HttpResponse> {
    let mut v = Validator::default();
    let name = v.check(Name::parse("name", &body.name));
    let mut rules = Vec::new();
    app::api_tokens::NewApiToken::check(&w.actor, body.role, body.expires_at, &mut rules);
    rules.into_iter().for_each(|e| v.push(e));
    v.finish()?;
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    let new = app::api_tokens::NewApiToken { name, role: body.role, expires_at: body.expires_at };
    let api_token = app::api_tokens::create(&mut w.tx, &w.actor, new).await?;
    let exp = body.expires_at.map_or(Utc::now().timestamp() + NO_EXPIRY_SECS, |e| e.timestamp());
    let user = w.actor.user_id().unwrap_or_default();
    let token = w.state.keys.sign(user, w.actor.workspace_id.0, body.role, api_token.id, TokenKind::Api, exp, 0);
    let location = format!("/api/v1/api-tokens/{}", api_token.id);
    w.commit(created(location, None, &CreatedApiToken { api_token, token })).await
}

/// Revoke an API token
///
/// Admin. `204`; every instance refuses the token within seconds. The token stays in the list,
/// with its `revoked_at`; revoking it again is `204` too.
#[utoipa::path(
    operation_id = "delete_api_token",
    tag = "api-tokens",
    params(("id" = Uuid, Path, description = "API token id")),
    responses((status = 204, description = "Revoked"), E400, E401, E403, E404),
    extensions(("x-events" = json!(["api_token.revoked"])))
)]
#[delete("/api-tokens/{id}")]
pub async fn delete_token(mut w: Write<Admin>, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let token = app::api_tokens::revoke(&mut w.tx, &w.actor, *id).await?;
    let state = w.state.clone();
    let res = w.commit(HttpResponse::NoContent().finish()).await?;
    state.revoked.insert(token.id);
    Ok(res)
}
