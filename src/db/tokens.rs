use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::rows;
use crate::domain::Role;
use crate::domain::{new_id, WorkspaceId};

/// A refresh token is `<workspace id>.<32 random bytes>`; only its SHA-256 is stored.
pub fn new_refresh_token(ws: WorkspaceId) -> (String, Vec<u8>) {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let token = format!("{}.{}", ws.0.simple(), URL_SAFE_NO_PAD.encode(secret));
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

/// The workspace a refresh token names, and the token's hash.
pub fn parse_refresh_token(token: &str) -> Option<(WorkspaceId, Vec<u8>)> {
    let (ws, secret) = token.split_once('.')?;
    let ws = Uuid::try_parse(ws).ok()?;
    if URL_SAFE_NO_PAD.decode(secret).ok()?.len() != 32 {
        return None;
    }
    Some((WorkspaceId(ws), Sha256::digest(token.as_bytes()).to_vec()))
}

pub async fn insert_refresh(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    user_id: Uuid,
    family_id: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (workspace_id, id, user_id, family_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ws)
    .bind(new_id())
    .bind(user_id)
    .bind(family_id)
    .bind(hash)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub struct RefreshRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub role: Role,
    pub disabled: bool,
    pub session_epoch: i32,
}

/// The token's row, locked for the rotation.
pub async fn lock_refresh(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    hash: &[u8],
) -> Result<Option<RefreshRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.user_id, r.family_id, r.expires_at, r.used_at, r.revoked_at, u.role, u.disabled, u.session_epoch
           FROM refresh_tokens r JOIN users u ON u.workspace_id = r.workspace_id AND u.id = r.user_id
          WHERE r.workspace_id = $1 AND r.token_hash = $2
          FOR UPDATE OF r",
    )
    .bind(ws)
    .bind(hash)
    .fetch_optional(db)
    .await
}

pub async fn mark_used(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<(), sqlx::Error> {
    rows::execute(db, "UPDATE refresh_tokens SET used_at = now() WHERE workspace_id = $1 AND id = $2", ws, id).await?;
    Ok(())
}

pub async fn revoke_family(db: impl PgExecutor<'_>, ws: WorkspaceId, family_id: Uuid) -> Result<(), sqlx::Error> {
    let sql = "UPDATE refresh_tokens SET revoked_at = now() WHERE workspace_id = $1 AND family_id = $2 AND revoked_at IS NULL";
    rows::execute(db, sql, ws, family_id).await?;
    Ok(())
}

/// Ends every session of a user (on disable, password change or deletion).
pub async fn revoke_user_sessions(db: impl PgExecutor<'_>, ws: WorkspaceId, user_id: Uuid) -> Result<(), sqlx::Error> {
    let sql =
        "UPDATE refresh_tokens SET revoked_at = now() WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL";
    rows::execute(db, sql, ws, user_id).await?;
    Ok(())
}

/// Revokes every API token issued to a user (on disable, password change or deletion); returns
/// them.
pub async fn revoke_user_api_tokens(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    user_id: Uuid,
) -> Result<Vec<ApiToken>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE api_tokens SET revoked_at = now()
          WHERE workspace_id = $1 AND created_by = $2 AND revoked_at IS NULL RETURNING {API_COLUMNS}"
    ))
    .bind(ws)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// An API token as listed; the secret is shown only once, at creation.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_by: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const API_COLUMNS: &str = "id, name, role, created_by, expires_at, revoked_at, created_at";

impl crate::db::rows::Table for ApiToken {
    const TABLE: &'static str = "api_tokens";
    const COLUMNS: &'static str = API_COLUMNS;
}

pub async fn insert_api(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    name: &str,
    role: Role,
    created_by: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<ApiToken, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO api_tokens (workspace_id, id, name, role, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {API_COLUMNS}"
    ))
    .bind(ws)
    .bind(new_id())
    .bind(name)
    .bind(role)
    .bind(created_by)
    .bind(expires_at)
    .fetch_one(db)
    .await
}

/// Revokes the token: the token, and whether this revoked it (`false`: it already was);
/// `None` when the workspace has no such token.
pub async fn revoke_api(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
) -> Result<Option<(ApiToken, bool)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Revoked {
        #[sqlx(flatten)]
        token: ApiToken,
        newly: bool,
    }
    let row: Option<Revoked> = sqlx::query_as(
        "UPDATE api_tokens t SET revoked_at = coalesce(old.revoked_at, now())
           FROM (SELECT id, revoked_at FROM api_tokens WHERE workspace_id = $1 AND id = $2 FOR UPDATE) old
          WHERE t.workspace_id = $1 AND t.id = old.id
         RETURNING t.id, t.name, t.role, t.created_by, t.expires_at, t.revoked_at, t.created_at,
                   old.revoked_at IS NULL AS newly",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.token, r.newly)))
}

/// The ids of revoked API tokens that have not expired yet.
pub async fn revoked_api_tokens(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM api_tokens
          WHERE revoked_at IS NOT NULL AND (expires_at IS NULL OR expires_at > now())",
    )
    .fetch_all(db)
    .await
}
