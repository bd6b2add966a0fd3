use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::roles::Role;
use crate::domain::{new_id, WorkspaceId};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    /// ISO 4217 code of the workspace's single currency.
    #[schema(example = "EUR")]
    pub currency: String,
    /// IANA time zone used for dates and buckets in analytics.
    #[schema(example = "Europe/Paris")]
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const COLUMNS: &str = "id, name, currency, timezone, created_at, updated_at, version";

pub struct NewOwner<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
}

/// Creates a workspace, its owner and everything a new workspace starts with.
pub async fn create(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    currency: &str,
    owner: NewOwner<'_>,
) -> Result<(Workspace, crate::db::users::User), sqlx::Error> {
    let ws: Workspace =
        sqlx::query_as(&format!("INSERT INTO workspaces (id, name, currency) VALUES ($1, $2, $3) RETURNING {COLUMNS}"))
            .bind(new_id())
            .bind(name)
            .bind(currency)
            .fetch_one(&mut **tx)
            .await?;
    let user = crate::db::users::insert(
        &mut **tx,
        WorkspaceId(ws.id),
        owner.email,
        owner.name,
        owner.password_hash,
        Role::Owner,
    )
    .await?;
    crate::db::channels::create_defaults(&mut **tx, WorkspaceId(ws.id)).await?;
    crate::db::pipelines::create_default(tx, WorkspaceId(ws.id)).await?;
    Ok((ws, user))
}

pub async fn get(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1")).bind(ws).fetch_optional(db).await
}

pub async fn count(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM workspaces").fetch_one(db).await
}

/// Applies the given changes when `expected_version` (if any) matches. `Ok(None)`: no row
/// matched (the caller tells a version mismatch from a missing row).
pub async fn update(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    name: Option<&str>,
    currency: Option<&str>,
    timezone: Option<&str>,
    expected_version: Option<i64>,
) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE workspaces SET name = coalesce($2, name), currency = coalesce($3, currency),
                timezone = coalesce($4, timezone), version = version + 1
          WHERE id = $1 AND ($5::bigint IS NULL OR version = $5)
          RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(name)
    .bind(currency)
    .bind(timezone)
    .bind(expected_version)
    .fetch_optional(db)
    .await
}
