//! `/users`: users of the workspace (admin).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::users::{NewUser as NewUserCommand, UserChanges};
use crate::app::{self};
use crate::auth::password;
use crate::auth::roles::{Admin, Role};
use crate::db::users::User;
use crate::domain::{Email, Name, Validator};
use crate::error::ApiResult;
use crate::http::doc::*;
use crate::http::extract::{IfMatch, Json};
use crate::http::write::Write;
use crate::http::{ok, Resource};

impl Resource for User {
    fn location(&self) -> String {
        format!("/api/v1/users/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

crate::list_handler! {
    /// List users
    ///
    /// The workspace's users, oldest first; passwords are never returned. Any role (viewer).
    ///
    /// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
    /// next page, until `next_cursor` is `null`.
    list_users, role = crate::auth::roles::Viewer, tag = "users", path = "/users", sort = "users:created_at",
    body = User, described = "A page of users", list = app::users::list, errors = [E400, E401]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(schema_with = Email::schema)]
    pub email: String,
    #[schema(schema_with = Name::schema)]
    pub name: String,
    /// 8 to 256 characters; stored as an Argon2id hash, never returned.
    #[schema(schema_with = crate::http::doc::schemas::password)]
    pub password: String,
    pub role: Role,
}

impl NewUser {
    fn parse(self) -> ApiResult<NewUserCommand> {
        let mut v = Validator::default();
        let email = v.check(Email::parse("email", &self.email));
        let name = v.check(Name::parse("name", &self.name));
        v.check(password::validate("password", &self.password));
        v.finish()?;
        match (email, name) {
            (Some(email), Some(name)) => Ok(NewUserCommand { email, name, password: self.password, role: self.role }),
            _ => Err(crate::error::ApiError::internal("validated user fields missing")),
        }
    }
}

crate::create_handler! {
    /// Create a user
    ///
    /// Admin; only an owner can create an owner (`403`). `201` with the user, its `Location` and
    /// `ETag`. `email` is unique in the workspace (`409` on a clash); the password (8 to 256
    /// characters) is stored as an Argon2id hash and never returned.
    ///
    /// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
    /// response (the same key with another body is `409`).
    create_user, role = Admin, tag = "users", path = "/users", request = NewUser, body = User,
    events = ["user.created"], create = app::users::create, errors = [E400, E401, E403, E409, E415, E422]
}

crate::get_handler! {
    /// Get a user
    ///
    /// The user, with its `ETag`. Any role (viewer).
    get_user, tag = "users", path = "/users/{id}", id = "User id", body = User, described = "The user",
    get = app::users::get
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(schema_with = Email::optional_schema)]
    pub email: Option<String>,
    #[schema(schema_with = Name::optional_schema)]
    pub name: Option<String>,
    pub role: Option<Role>,
    /// A disabled user cannot log in; their sessions end.
    pub disabled: Option<bool>,
    #[schema(schema_with = crate::http::doc::schemas::optional_password)]
    pub password: Option<String>,
}

impl UserPatch {
    fn parse(self) -> ApiResult<UserChanges> {
        let mut v = Validator::default();
        let changes = UserChanges {
            email: self.email.as_deref().and_then(|e| v.check(Email::parse("email", e))),
            name: self.name.as_deref().and_then(|n| v.check(Name::parse("name", n))),
            role: self.role,
            disabled: self.disabled,
            password: self.password.filter(|p| v.check(password::validate("password", p)).is_some()),
        };
        v.finish()?;
        Ok(changes)
    }
}

/// Update a user
///
/// Admin; only an owner can change an owner or grant the owner role (`403`). A JSON merge patch
/// of `email`, `name`, `role`, `disabled` and `password`: absent or `null` fields are unchanged.
/// An `email` another user of the workspace has is `409`.
///
/// The last active owner cannot be demoted or disabled (`409`). Disabling a user or changing
/// its password ends every session it has and revokes the API tokens issued to it: every token
/// issued before stops working within seconds on every instance (re-enabling the user does not
/// bring them back). A new role applies at once to its sessions and caps its API tokens.
///
/// Send `If-Match` with the `ETag` to apply the change only to that version (`412` otherwise).
#[utoipa::path(
    tag = "users",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = User), E400, E401, E403, E404, E409, E412, E415, E422),
    extensions(("x-events" = json!(["user.updated"])))
)]
#[patch("/users/{id}")]
pub async fn patch_user(
    mut w: Write<Admin>,
    id: web::Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(body): Json<UserPatch>,
) -> ApiResult<HttpResponse> {
    let changed = app::users::update(&mut w.tx, &w.actor, *id, expected, body.parse()?).await?;
    let state = w.state.clone();
    let res = w.commit(ok(&changed.user)).await?;
    // Every instance hears of it through the database; this one applies it before answering.
    state.forget_credentials(changed.user.id, &changed.revoked);
    Ok(res)
}

/// Delete a user
///
/// Admin; only an owner can remove an owner (`403`). `204`. Every token issued to them stops
/// working within seconds on every instance: their sessions and the API tokens they created.
/// You cannot remove yourself, nor the last active owner (`409`). Send `If-Match` with the
/// `ETag` to remove only that version (`412` otherwise).
#[utoipa::path(
    tag = "users",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to remove")
    ),
    responses((status = 204, description = "Removed"), E400, E401, E403, E404, E409, E412),
    extensions(("x-events" = json!(["user.deleted"])))
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    mut w: Write<Admin>,
    id: web::Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> ApiResult<HttpResponse> {
    let revoked = app::users::delete(&mut w.tx, &w.actor, *id, expected).await?;
    let state = w.state.clone();
    let res = w.commit(HttpResponse::NoContent().finish()).await?;
    state.forget_credentials(*id, &revoked);
    Ok(res)
}
