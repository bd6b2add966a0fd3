use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::workspace::{MadeBy, NewWorkspace};
use crate::app::{self};
use crate::auth::jwt::TokenKind;
use crate::auth::password;
use crate::auth::roles::Role;
use crate::db::{tokens, users, workspaces};
use crate::domain::{self, WorkspaceId};
use crate::domain::{Currency, Email, Name};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::Json;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "owner@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// Only needed when the same email has accounts in several workspaces.
    pub workspace_id: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Lifetime of the access token, in seconds.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Single use: exchange it at `/auth/refresh` for a new pair.
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Issues an access token and a refresh token (a new family unless `family` is given). The
/// access token carries the user's session epoch: it stops working when the epoch moves.
pub async fn issue_session(
    db: impl sqlx::PgExecutor<'_>,
    state: &AppState,
    ws: WorkspaceId,
    user_id: Uuid,
    role: Role,
    session_epoch: i32,
    family: Option<Uuid>,
) -> Result<TokenPair, ApiError> {
    let ttl = state.settings.access_token_ttl.as_secs();
    let exp = Utc::now().timestamp() + ttl as i64;
    let access_token = state.keys.sign(user_id, ws.0, role, domain::new_id(), TokenKind::Access, exp, session_epoch);
    let (refresh_token, hash) = tokens::new_refresh_token(ws);
    let expires_at = Utc::now() + state.settings.refresh_token_ttl;
    tokens::insert_refresh(db, ws, user_id, family.unwrap_or_else(domain::new_id), &hash, expires_at).await?;
    Ok(TokenPair { access_token, token_type: "Bearer".into(), expires_in: ttl, refresh_token })
}

/// Log in
///
/// With email and password: an access token (valid `expires_in` seconds) and a single-use
/// refresh token. No bearer token needed.
///
/// A wrong email and a wrong password get the same `401`, in the same time (so does a disabled
/// user). Repeated failures for one email or one client address get `429` with `Retry-After`.
/// When the email has accounts in several workspaces, `workspace_id` picks one; without it, the
/// oldest account the password matches logs in.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        E400, E401, E409, E415, E422, E429
    ),
    extensions(("x-events" = json!([])))
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let ip = crate::http::auth::client_address(&req);
    // Emails are stored in NFC: the canonically equal spelling finds them.
    let email = domain::nfc(body.email.trim()).into_owned();
    if let Err(retry_after) = state.throttle.check(&state.pool, &email, &ip).await? {
        return Err(ApiError::RateLimited { retry_after });
    }
    let candidates = users::credentials(&state.pool, &email, body.workspace_id.map(WorkspaceId)).await?;
    let hashes = candidates.iter().map(|c| c.password_hash.clone()).collect();
    let matched = password::verify_any(body.password.clone(), hashes).await?;
    let wrong = || ApiError::Unauthorized("wrong email or password".into());
    let Some(i) = matched else {
        state.throttle.record_failure(&state.pool, &email, &ip).await?;
        return Err(wrong());
    };
    let user = &candidates[i];
    if user.disabled {
        state.throttle.record_failure(&state.pool, &email, &ip).await?;
        return Err(wrong());
    }
    state.throttle.record_success(&state.pool, &email).await?;
    let pair = issue_session(
        &state.pool,
        &state,
        WorkspaceId(user.workspace_id),
        user.id,
        user.role,
        user.session_epoch,
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Refresh the token pair
///
/// Exchanges a refresh token for a new access token and refresh token. No bearer token needed.
///
/// The refresh token is spent (rotation). Presenting a spent token again revokes every refresh
/// token of its login (reuse detection): someone else may hold a copy. An invalid, expired or
/// revoked refresh token, or one of a disabled user, is `401`.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses((status = 200, description = "A new pair", body = TokenPair), E400, E401, E415, E422),
    extensions(("x-events" = json!([])))
)]
#[post("/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, Json(body): Json<RefreshRequest>) -> ApiResult<HttpResponse> {
    let invalid = || ApiError::Unauthorized("the refresh token is invalid, expired or revoked".into());
    let (ws, hash) = tokens::parse_refresh_token(&body.refresh_token).ok_or_else(invalid)?;
    let mut tx = state.pool.begin().await?;
    let row = tokens::lock_refresh(&mut *tx, ws, &hash).await?.ok_or_else(invalid)?;
    if row.used_at.is_some() || row.revoked_at.is_some() {
        tokens::revoke_family(&mut *tx, ws, row.family_id).await?;
        tx.commit().await?;
        log::warn!("refresh token reuse in workspace {ws}: family {} revoked", row.family_id);
        return Err(ApiError::Unauthorized(
            "the refresh token was already used; every session of this login is revoked".into(),
        ));
    }
    if row.expires_at <= Utc::now() || row.disabled {
        return Err(invalid());
    }
    tokens::mark_used(&mut *tx, ws, row.id).await?;
    let pair =
        issue_session(&mut *tx, &state, ws, row.user_id, row.role, row.session_epoch, Some(row.family_id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Log out
///
/// Revokes the refresh token, with every other refresh token of its login (its rotation
/// family). Always `204`, also for a token that is unknown or already revoked. An access token
/// already issued is not revoked: it works until it expires. No bearer token needed.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses((status = 204, description = "Revoked"), E400, E415, E422),
    extensions(("x-events" = json!([])))
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, Json(body): Json<RefreshRequest>) -> ApiResult<HttpResponse> {
    if let Some((ws, hash)) = tokens::parse_refresh_token(&body.refresh_token) {
        let mut tx = state.pool.begin().await?;
        if let Some(row) = tokens::lock_refresh(&mut *tx, ws, &hash).await? {
            tokens::revoke_family(&mut *tx, ws, row.family_id).await?;
        }
        tx.commit().await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user behind the token (for an API token: the user it was issued to).
    pub user: users::User,
    /// The role this token acts with now: the user's role for a login session; for an API
    /// token its own role, capped by its user's current role.
    pub role: Role,
    pub workspace: workspaces::Workspace,
    /// `access` (a login session) or `api` (an API token).
    pub token_kind: TokenKind,
}

/// Get the caller
///
/// The user behind the token (for an API token: the user it was issued to), the role the token
/// acts with now, the workspace, and the kind of token (`access` or `api`). Any role (viewer).
#[utoipa::path(
    operation_id = "get_me",
    tag = "auth",
    responses((status = 200, description = "The caller", body = Me), E401)
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let actor = auth.actor();
    let workspace = app::workspace::get(&state.pool, &actor).await?;
    let user = app::users::get(&state.pool, &actor, auth.user_id).await?;
    Ok(HttpResponse::Ok().json(Me { user, role: auth.role, workspace, token_kind: auth.kind }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    #[schema(schema_with = crate::http::doc::schemas::name, example = "Acme Ltd")]
    pub workspace_name: String,
    /// ISO 4217 (default `EUR`).
    #[schema(schema_with = crate::http::doc::schemas::optional_currency, example = "EUR")]
    pub currency: Option<String>,
    #[schema(schema_with = crate::http::doc::schemas::email)]
    pub email: String,
    #[schema(schema_with = crate::http::doc::schemas::password)]
    pub password: String,
    #[schema(schema_with = crate::http::doc::schemas::name)]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignUpResponse {
    pub workspace: workspaces::Workspace,
    pub user: users::User,
    pub tokens: TokenPair,
}

/// Sign up: create a workspace and its owner
///
/// Creates the workspace (`currency` default `EUR`), its owner, one active channel of each kind
/// but `other` and the default pipeline, and logs the owner in: `201` with the workspace, the
/// user and a token pair. No bearer token needed.
///
/// Only when the server allows it (`RAPPORT_ALLOW_SIGNUP`); else `403`.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "Created; the owner is logged in", body = SignUpResponse),
        E400, E403, E415, E422
    ),
    extensions(("x-events" = json!(["workspace.created", "user.created"])))
)]
#[post("/workspaces")]
pub async fn sign_up(state: web::Data<AppState>, Json(body): Json<SignUpRequest>) -> ApiResult<HttpResponse> {
    if !state.settings.allow_signup {
        return Err(ApiError::Forbidden("sign-up is disabled on this server".into()));
    }
    let mut v = domain::Validator::default();
    let name = v.check(Name::parse("workspace_name", &body.workspace_name));
    let currency = v.check(Currency::parse("currency", body.currency.as_deref().unwrap_or("EUR")));
    let owner_email = v.check(Email::parse("email", &body.email));
    let owner_name = v.check(Name::parse("name", &body.name));
    v.check(password::validate("password", &body.password));
    v.finish()?;
    let (Some(name), Some(currency), Some(owner_email), Some(owner_name)) = (name, currency, owner_email, owner_name)
    else {
        return Err(ApiError::internal("validated values missing"));
    };
    let password_hash = password::hash(body.password).await?;
    let new = NewWorkspace { name, currency, owner_email, owner_name, password_hash };
    let mut tx = state.pool.begin().await?;
    let (workspace, user) = app::workspace::create(&mut tx, new, MadeBy::Owner).await?;
    let tokens = issue_session(&mut *tx, &state, WorkspaceId(workspace.id), user.id, Role::Owner, 0, None).await?;
    tx.commit().await?;
    Ok(crate::http::created(
        "/api/v1/workspace".into(),
        Some(workspace.version),
        &SignUpResponse { workspace, user, tokens },
    ))
}
