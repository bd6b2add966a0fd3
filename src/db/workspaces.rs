use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::Role;
use crate::domain::{new_id, Bound, WorkspaceId};

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

/// Applies the given changes (`None` keeps a value). `Ok(None)`: no such workspace.
pub async fn update(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    name: Option<&str>,
    currency: Option<&str>,
    timezone: Option<&str>,
) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE workspaces SET name = coalesce($2, name), currency = coalesce($3, currency),
                timezone = coalesce($4, timezone)
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(name)
    .bind(currency)
    .bind(timezone)
    .fetch_optional(db)
    .await
}

/// A query's instants (`[after, before)` of a filter): dates resolved to midnight in the
/// workspace's time zone (`rapport_local_midnight`), timestamps as given. Reads the database
/// only when a date is given.
pub async fn resolve_bounds(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    after: Option<Bound>,
    before: Option<Bound>,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), sqlx::Error> {
    let (after_at, after_date) = Bound::split(after);
    let (before_at, before_date) = Bound::split(before);
    if after_date.is_none() && before_date.is_none() {
        return Ok((after_at, before_at));
    }
    sqlx::query_as(
        "SELECT coalesce($2::timestamptz, rapport_local_midnight($3::date, timezone)),
                coalesce($4::timestamptz, rapport_local_midnight($5::date, timezone))
           FROM workspaces WHERE id = $1",
    )
    .bind(ws)
    .bind(after_at)
    .bind(after_date)
    .bind(before_at)
    .bind(before_date)
    .fetch_one(db)
    .await
}

/// Whether any amount other than zero is recorded in the workspace (a deal's amount, a
/// purchase's value), first waiting for every write of one in flight to end and keeping new
/// ones out until the transaction ends (the "money" lock of migration 0006): what a currency
/// change must know.
pub async fn lock_and_find_amounts(tx: &mut Transaction<'_, Postgres>, ws: WorkspaceId) -> Result<bool, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(rapport_money_key($1))").bind(ws).execute(&mut **tx).await?;
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deals WHERE workspace_id = $1 AND amount_cents <> 0)
             OR EXISTS (SELECT 1 FROM interactions
                         WHERE workspace_id = $1 AND kind = 'purchase' AND value_cents <> 0)",
    )
    .bind(ws)
    .fetch_one(&mut **tx)
    .await
}

/// The workspace, locked until the end of the transaction.
pub async fn lock(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1 FOR UPDATE"))
        .bind(ws)
        .fetch_optional(db)
        .await
}
