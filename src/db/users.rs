use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::Role;
use crate::domain::{new_id, WorkspaceId};

/// A user of a workspace. The password hash is never part of it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const COLUMNS: &str = "id, email, name, role, disabled, created_at, updated_at, version";

impl crate::db::rows::Table for User {
    const TABLE: &'static str = "users";
    const COLUMNS: &'static str = COLUMNS;
}
pub const EMAIL_KEY: &str = "users_workspace_email_key";

pub async fn insert(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    email: &str,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<User, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO users (workspace_id, id, email, name, password_hash, role)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(new_id())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role)
    .fetch_one(db)
    .await
}

/// A login candidate: the user, its workspace and its password hash.
#[derive(Debug, FromRow)]
pub struct Credentials {
    pub workspace_id: Uuid,
    pub id: Uuid,
    pub role: Role,
    pub disabled: bool,
    pub session_epoch: i32,
    pub password_hash: String,
}

/// What authentication needs to know of the user a token names, now.
#[derive(Debug, Clone, FromRow)]
pub struct AuthState {
    pub role: Role,
    pub disabled: bool,
    /// Moves when the user is disabled or changes password: access tokens issued with an
    /// earlier epoch no longer work.
    pub session_epoch: i32,
}

pub async fn auth_state(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<AuthState>, sqlx::Error> {
    sqlx::query_as("SELECT role, disabled, session_epoch FROM users WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Accounts with this email, in any workspace (or in the given one).
pub async fn credentials(
    db: impl PgExecutor<'_>,
    email: &str,
    ws: Option<WorkspaceId>,
) -> Result<Vec<Credentials>, sqlx::Error> {
    // No stored email holds a NUL (PostgreSQL text cannot): nobody to find.
    if email.contains('\0') {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "SELECT workspace_id, id, role, disabled, session_epoch, password_hash FROM users
          WHERE lower(email) = lower($1) AND ($2::uuid IS NULL OR workspace_id = $2)
          ORDER BY created_at LIMIT 20",
    )
    .bind(email)
    .bind(ws)
    .fetch_all(db)
    .await
}

pub struct Changes<'a> {
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<&'a str>,
}

/// Applies the changes. Disabling the user or changing its password moves its session epoch,
/// which ends every session issued before.
pub async fn update(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
    c: Changes<'_>,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users SET email = coalesce($3, email), name = coalesce($4, name),
                role = coalesce($5, role), disabled = coalesce($6, disabled),
                password_hash = coalesce($7, password_hash),
                session_epoch = session_epoch
                    + CASE WHEN ($6 AND NOT disabled) OR $7::text IS NOT NULL THEN 1 ELSE 0 END
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
    .bind(c.email)
    .bind(c.name)
    .bind(c.role)
    .bind(c.disabled)
    .bind(c.password_hash)
    .fetch_optional(db)
    .await
}

/// Active owners other than `except`, locked, so two concurrent demotions cannot both pass.
pub async fn other_active_owners(db: impl PgExecutor<'_>, ws: WorkspaceId, except: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM users
          WHERE workspace_id = $1 AND id <> $2 AND role = 'owner' AND NOT disabled FOR UPDATE) o",
    )
    .bind(ws)
    .bind(except)
    .fetch_one(db)
    .await
}
