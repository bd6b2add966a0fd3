use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::password;
use crate::auth::roles::{Admin, Role};
use crate::db::{self, tokens, users, users::User};
use crate::domain::{self, Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json, Query};
use crate::http::AppState;
use crate::http::{created, versioned, Page, PageParams};

const SORT: &str = "users:created_at";

/// Users of the workspace, oldest first.
#[utoipa::path(
    tag = "users",
    params(PageParams),
    responses((status = 200, description = "A page of users", body = Page<User>), E400, E401)
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: Auth,
    Query(page): Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> =
        state.cursor_key.position(auth.workspace_id, SORT, page.cursor.as_deref())?;
    let rows = users::list(&state.pool, auth.workspace_id, after, limit + 1).await?;
    let page = state.cursor_key.page(auth.workspace_id, SORT, rows, limit, |u| (u.created_at, u.id));
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(schema_with = crate::http::doc::schemas::email)]
    pub email: String,
    #[schema(schema_with = crate::http::doc::schemas::name)]
    pub name: String,
    /// 8 to 256 characters; stored as an Argon2id hash, never returned.
    #[schema(schema_with = crate::http::doc::schemas::password)]
    pub password: String,
    pub role: Role,
}

/// Only an owner may create, change or remove an owner, or grant the owner role.
fn may_manage(actor: Role, target: Role) -> Result<(), ApiError> {
    if target == Role::Owner && actor != Role::Owner {
        return Err(ApiError::Forbidden("only an owner can manage owners".into()));
    }
    Ok(())
}

fn email_conflict(e: sqlx::Error) -> ApiError {
    if db::violated_constraint(&e) == Some(users::EMAIL_KEY) {
        ApiError::Conflict("a user with this email already exists in the workspace".into())
    } else {
        e.into()
    }
}

/// Add a user (admin).
#[utoipa::path(
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User,
         headers(("Location" = String, description = "The new user's URL"))),
        E400, E401, E403, E409, E415, E422
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    Json(body): Json<NewUser>,
) -> ApiResult<HttpResponse> {
    may_manage(auth.role, body.role)?;
    let mut v = Validator::default();
    let email = v.check(domain::email("email", &body.email));
    let name = v.check(domain::text("name", &body.name, 1, 200));
    v.check(password::validate("password", &body.password));
    v.finish()?;
    let (Some(email), Some(name)) = (email, name) else {
        return Err(ApiError::internal("validated values missing"));
    };
    let hash = password::hash(body.password).await?;
    let user =
        users::insert(&state.pool, auth.workspace_id, &email, &name, &hash, body.role).await.map_err(email_conflict)?;
    Ok(created(format!("/api/v1/users/{}", user.id), Some(user.version), &user))
}

async fn find(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<User, ApiError> {
    users::get(&state.pool, ws, id).await?.ok_or_else(|| ApiError::not_found("user"))
}

/// One user.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user", body = User), E400, E401, E404)
)]
#[get("/users/{id}")]
pub async fn get_user(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let user = find(&state, auth.workspace_id, *id).await?;
    Ok(versioned(user.version, &user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(schema_with = crate::http::doc::schemas::optional_email)]
    pub email: Option<String>,
    #[schema(schema_with = crate::http::doc::schemas::optional_name)]
    pub name: Option<String>,
    pub role: Option<Role>,
    /// A disabled user cannot log in; their sessions end.
    pub disabled: Option<bool>,
    #[schema(schema_with = crate::http::doc::schemas::optional_password)]
    pub password: Option<String>,
}

/// Change a user (admin).
///
/// A JSON merge patch. The last active owner cannot be demoted or disabled (`409`).
/// Disabling a user or changing its password ends every session it has and revokes the API
/// tokens issued to it: every token issued before stops working within seconds on every
/// instance (re-enabling the user does not bring them back). A new role applies at once to its
/// sessions and caps its API tokens.
#[utoipa::path(
    tag = "users",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = User), E400, E401, E403, E404, E409, E412, E415, E422)
)]
#[patch("/users/{id}")]
pub async fn patch_user(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    Json(body): Json<UserPatch>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut v = Validator::default();
    let email = body.email.as_deref().and_then(|e| v.check(domain::email("email", e)));
    let name = body.name.as_deref().and_then(|n| v.check(domain::text("name", n, 1, 200)));
    if let Some(p) = &body.password {
        v.check(password::validate("password", p));
    }
    v.finish()?;
    let hash = match body.password.clone() {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    let current = users::get(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    may_manage(auth.role, current.role)?;
    if let Some(r) = body.role {
        may_manage(auth.role, r)?;
    }
    crate::http::extract::check_version(expected, current.version)?;
    let loses_owner = current.role == Role::Owner
        && !current.disabled
        && (body.role.is_some_and(|r| r != Role::Owner) || body.disabled == Some(true));
    if loses_owner && users::other_active_owners(&mut *tx, auth.workspace_id, current.id).await? == 0 {
        return Err(ApiError::Conflict("the workspace must keep at least one active owner".into()));
    }
    let changes = users::Changes {
        email: email.as_deref(),
        name: name.as_deref(),
        role: body.role,
        disabled: body.disabled,
        password_hash: hash.as_deref(),
    };
    let user = users::update(&mut *tx, auth.workspace_id, current.id, changes)
        .await
        .map_err(email_conflict)?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let mut revoked = Vec::new();
    if body.disabled == Some(true) || hash.is_some() {
        tokens::revoke_user_sessions(&mut *tx, auth.workspace_id, user.id).await?;
        revoked = tokens::revoke_user_api_tokens(&mut *tx, auth.workspace_id, user.id).await?;
    }
    tx.commit().await?;
    revoked.into_iter().for_each(|t| state.revoked.insert(t));
    // Every instance hears of the change through the database; this one applies it before
    // answering, so the next request already sees it.
    state.users.forget(user.id);
    Ok(versioned(user.version, &user))
}

/// Remove a user (admin).
///
/// Every token issued to them stops working within seconds on every instance: their sessions
/// and the API tokens they created. You cannot remove yourself, nor the last active owner
/// (`409`).
#[utoipa::path(
    tag = "users",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to remove")
    ),
    responses((status = 204, description = "Removed"), E400, E401, E403, E404, E409, E412)
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut tx = state.pool.begin().await?;
    let current = users::get(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    may_manage(auth.role, current.role)?;
    crate::http::extract::check_version(expected, current.version)?;
    if current.id == auth.user_id {
        return Err(ApiError::Conflict("you cannot remove yourself".into()));
    }
    if current.role == Role::Owner && users::other_active_owners(&mut *tx, auth.workspace_id, current.id).await? == 0 {
        return Err(ApiError::Conflict("the workspace must keep at least one active owner".into()));
    }
    let revoked = tokens::revoke_user_api_tokens(&mut *tx, auth.workspace_id, current.id).await?;
    users::delete(&mut *tx, auth.workspace_id, current.id).await?;
    tx.commit().await?;
    revoked.into_iter().for_each(|t| state.revoked.insert(t));
    state.users.forget(current.id);
    Ok(HttpResponse::NoContent().finish())
}
