//! A workspace's business hours and its service-level policies.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::business_hours::{BusinessHours, Interval};
use crate::domain::support::Targets;
use crate::domain::{new_id, WorkspaceId};

/// A workspace's business hours as the API shows them: [`BusinessHours`] with their version
/// (0: never set, the office hours).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceBusinessHours {
    pub intervals: Vec<Interval>,
    /// Local dates without business hours.
    #[schema(schema_with = crate::domain::business_hours::holidays_schema)]
    pub holidays: Vec<chrono::NaiveDate>,
    /// 0 until the workspace sets some; each change adds 1.
    pub version: i64,
}

impl WorkspaceBusinessHours {
    pub fn new(hours: BusinessHours, version: i64) -> WorkspaceBusinessHours {
        WorkspaceBusinessHours { intervals: hours.intervals, holidays: hours.holidays, version }
    }

    /// The hours themselves.
    pub fn hours(self) -> BusinessHours {
        BusinessHours { intervals: self.intervals, holidays: self.holidays }
    }
}

/// The business hours a workspace set, if it set any.
pub async fn business_hours(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
) -> Result<Option<WorkspaceBusinessHours>, sqlx::Error> {
    let row: Option<(sqlx::types::Json<BusinessHours>, i64)> =
        sqlx::query_as("SELECT hours, version FROM business_hours WHERE workspace_id = $1")
            .bind(ws)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(hours, version)| WorkspaceBusinessHours::new(hours.0, version)))
}

/// The version of the business hours the workspace set (`None`: none yet), after locking the
/// workspace's row until the transaction ends: changes to the hours, and to the time zone they
/// are read in, come one at a time (the first hours of a workspace included).
pub async fn lock_business_hours(db: &mut sqlx::PgConnection, ws: WorkspaceId) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE").bind(ws).execute(&mut *db).await?;
    sqlx::query_scalar("SELECT version FROM business_hours WHERE workspace_id = $1").bind(ws).fetch_optional(db).await
}

/// Sets the workspace's business hours; returns their new version.
pub async fn set_business_hours(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    hours: &BusinessHours,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO business_hours (workspace_id, hours) VALUES ($1, $2)
         ON CONFLICT (workspace_id) DO UPDATE SET hours = $2, updated_at = now(), version = business_hours.version + 1
         RETURNING version",
    )
    .bind(ws)
    .bind(sqlx::types::Json(hours))
    .fetch_one(db)
    .await
}

/// A service-level policy: targets by priority, counted in business minutes or not.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SlaPolicy {
    pub id: Uuid,
    #[schema(example = "Standard support")]
    pub name: String,
    #[sqlx(json)]
    pub targets: Targets,
    /// Whether the targets count business minutes (the workspace's business hours) or every
    /// minute.
    pub business_hours: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub(super) const POLICY_COLUMNS: &str = "id, name, targets, business_hours, created_at, updated_at, version";

impl crate::db::rows::Table for SlaPolicy {
    const TABLE: &'static str = "sla_policies";
    const COLUMNS: &'static str = POLICY_COLUMNS;
}

/// Inserts a policy (`id` `None`: a new one), or replaces its fields.
pub async fn save_policy(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Option<Uuid>,
    name: &str,
    targets: &Targets,
    business_hours: bool,
) -> Result<SlaPolicy, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO sla_policies (workspace_id, id, name, targets, business_hours) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, id) DO UPDATE SET name = $3, targets = $4, business_hours = $5
         RETURNING {POLICY_COLUMNS}"
    ))
    .bind(ws)
    .bind(id.unwrap_or_else(new_id))
    .bind(name)
    .bind(sqlx::types::Json(targets))
    .bind(business_hours)
    .fetch_one(db)
    .await
}

/// Whether any case not closed follows the policy.
pub async fn policy_in_use(db: impl PgExecutor<'_>, ws: WorkspaceId, policy: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM cases WHERE workspace_id = $1 AND sla_policy_id = $2 AND status <> 'closed')",
    )
    .bind(ws)
    .bind(policy)
    .fetch_one(db)
    .await
}
