//! Saved reports and their runs (migration 0008).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::rows::Conditions;
use crate::domain::schedule::{ReportKind, RunStatus, RunTrigger, Schedule};
use crate::domain::{new_id, WorkspaceId};

/// An analytics query saved under a name, run on demand or on a schedule.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Report {
    pub id: Uuid,
    #[schema(example = "Weekly funnel")]
    pub name: String,
    pub kind: ReportKind,
    /// The query parameters of the `kind`'s analytics endpoint (`/analytics/<kind>`), and
    /// optionally `range`.
    #[schema(value_type = Object, example = json!({"pipeline_id": "0193a0c4-6f1e-7c3a-9d10-2b7a4e1f0c11", "range": "previous_week"}))]
    pub params: Value,
    /// When it runs by itself (`null`: only on demand), in the workspace's local time.
    #[schema(value_type = Option<Schedule>)]
    pub schedule: Option<Json<Schedule>>,
    /// When its last run started.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When its schedule next comes round (`null` without a schedule).
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const COLUMNS: &str = "id, name, kind, params, schedule, last_run_at, next_run_at, created_at, updated_at, version";

impl crate::db::rows::Table for Report {
    const TABLE: &'static str = "reports";
    const COLUMNS: &'static str = COLUMNS;
}

/// A report's writable fields, valid, with the next slot of its schedule.
pub struct Fields {
    pub name: String,
    pub kind: ReportKind,
    pub params: Value,
    pub schedule: Option<Schedule>,
    pub next_run_at: Option<DateTime<Utc>>,
}

pub async fn insert(db: impl PgExecutor<'_>, ws: WorkspaceId, f: &Fields) -> Result<Report, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO reports (workspace_id, id, name, kind, params, schedule, next_run_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(new_id())
    .bind(&f.name)
    .bind(f.kind)
    .bind(&f.params)
    .bind(f.schedule.map(Json))
    .bind(f.next_run_at)
    .fetch_one(db)
    .await
}

pub async fn update(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid, f: &Fields) -> Result<Report, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE reports SET name = $3, kind = $4, params = $5, schedule = $6, next_run_at = $7
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
    .bind(&f.name)
    .bind(f.kind)
    .bind(&f.params)
    .bind(f.schedule.map(Json))
    .bind(f.next_run_at)
    .fetch_one(db)
    .await
}

/// The workspace's scheduled reports, locked (to move their next slot).
pub async fn lock_scheduled(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<Vec<Report>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reports WHERE workspace_id = $1 AND schedule IS NOT NULL ORDER BY id FOR UPDATE"
    ))
    .bind(ws)
    .fetch_all(db)
    .await
}

/// Records that a run of the report started at `started_at`.
pub async fn ran(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
    started_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reports SET last_run_at = greatest(last_run_at, $3) WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .bind(started_at)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends the claim on the slot `slot` of a report: its schedule next comes round at `next`, and
/// a run stored for the slot started at `started_at`. Nothing changes if the report's next
/// slot is no longer `slot` (its schedule changed meanwhile, or another instance took over).
pub async fn advance(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
    slot: DateTime<Utc>,
    next: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reports SET next_run_at = $4, claimed_until = NULL,
                last_run_at = greatest(last_run_at, $5)
          WHERE workspace_id = $1 AND id = $2 AND next_run_at = $3",
    )
    .bind(ws)
    .bind(id)
    .bind(slot)
    .bind(next)
    .bind(started_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a report's next slot (its schedule or the workspace's time zone changed).
pub async fn set_next_run(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    ids: &[Uuid],
    next: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reports r SET next_run_at = u.next
           FROM unnest($2::uuid[], $3::timestamptz[]) AS u (id, next)
          WHERE r.workspace_id = $1 AND r.id = u.id",
    )
    .bind(ws)
    .bind(ids)
    .bind(next)
    .execute(db)
    .await?;
    Ok(())
}

/// A report whose schedule has come round, claimed by this instance until its lease ends.
#[derive(Debug, FromRow)]
pub struct Due {
    pub workspace_id: Uuid,
    #[sqlx(flatten)]
    pub report: Report,
    pub timezone: String,
}

/// Claims, until `lease_until`, one report due at `now` that no instance holds (the earliest
/// due first), if any: one statement, so concurrent claimers skip each other's rows and never
/// take the same one.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<Due>, sqlx::Error> {
    sqlx::query_as(
        "WITH due AS (
             SELECT workspace_id, id FROM reports
              WHERE next_run_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
              ORDER BY next_run_at
              LIMIT 1
                FOR UPDATE SKIP LOCKED
         )
         UPDATE reports r SET claimed_until = $2
           FROM due, workspaces w
          WHERE r.workspace_id = due.workspace_id AND r.id = due.id AND w.id = r.workspace_id
         RETURNING r.workspace_id, r.id, r.name, r.kind, r.params, r.schedule, r.last_run_at, r.next_run_at,
                   r.created_at, r.updated_at, r.version, w.timezone",
    )
    .bind(now)
    .bind(lease_until)
    .fetch_optional(db)
    .await
}

/// The period a run covered: `[from, to)` (RFM: `from` is `null` and `to` is `as_of`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct RunWindow {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One run of a report: its answer, or why there is none.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub report_id: Uuid,
    pub trigger: RunTrigger,
    /// The slot a scheduled run is for (`null` for a run asked for): `started_at` later than
    /// it tells how late the run was (for instance, every instance was down at the time).
    pub scheduled_for: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub window: RunWindow,
    /// The answer of the analytics endpoint, as the endpoint gives it (`null` when it failed).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Why it failed: a problem document (RFC 9457), as the endpoint would have answered.
    #[schema(value_type = Option<crate::error::Problem>)]
    pub error: Option<Value>,
}

#[derive(FromRow)]
struct RunRow {
    id: Uuid,
    report_id: Uuid,
    trigger: RunTrigger,
    scheduled_for: Option<DateTime<Utc>>,
    status: RunStatus,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    window_from: Option<DateTime<Utc>>,
    window_to: Option<DateTime<Utc>>,
    result: Option<Value>,
    error: Option<Value>,
}

impl From<RunRow> for Run {
    fn from(r: RunRow) -> Self {
        Run {
            id: r.id,
            report_id: r.report_id,
            trigger: r.trigger,
            scheduled_for: r.scheduled_for,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            window: RunWindow { from: r.window_from, to: r.window_to },
            result: r.result,
            error: r.error,
        }
    }
}

const RUN_COLUMNS: &str = "id, report_id, trigger, scheduled_for, status, started_at, finished_at, window_from, \
                           window_to, result, error";

/// Stores a run; `None` when the slot already has one (another instance ran it).
pub async fn insert_run(db: impl PgExecutor<'_>, ws: WorkspaceId, run: &Run) -> Result<Option<Run>, sqlx::Error> {
    let row: Option<RunRow> = sqlx::query_as(&format!(
        "INSERT INTO report_runs (workspace_id, id, report_id, trigger, scheduled_for, status, started_at, finished_at,
                                  window_from, window_to, result, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (workspace_id, report_id, scheduled_for) DO NOTHING
         RETURNING {RUN_COLUMNS}"
    ))
    .bind(ws)
    .bind(run.id)
    .bind(run.report_id)
    .bind(run.trigger)
    .bind(run.scheduled_for)
    .bind(run.status)
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(run.window.from)
    .bind(run.window.to)
    .bind(&run.result)
    .bind(&run.error)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Run::from))
}

pub async fn find_run(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    report: Uuid,
    id: Uuid,
) -> Result<Option<Run>, sqlx::Error> {
    let row: Option<RunRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM report_runs WHERE workspace_id = $1 AND report_id = $2 AND id = $3"
    ))
    .bind(ws)
    .bind(report)
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Run::from))
}

/// A report's runs, newest first (by `started_at`, then id).
pub async fn runs(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    report: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Run>, sqlx::Error> {
    let mut qb = sqlx::QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM report_runs WHERE workspace_id = "));
    qb.push_bind(ws).and_if("report_id =", Some(report)).and_after("started_at", false, after).order_by(
        "started_at",
        false,
        limit,
    );
    let rows: Vec<RunRow> = qb.build_query_as().fetch_all(db).await?;
    Ok(rows.into_iter().map(Run::from).collect())
}

/// Forgets runs started more than `days` ago, a batch at a time, but never a report's latest.
pub async fn prune_runs(db: impl PgExecutor<'_>, days: i32, batch: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM report_runs WHERE ctid = ANY(ARRAY(
             SELECT r.ctid FROM report_runs r
              WHERE r.started_at < now() - make_interval(days => $1)
                AND EXISTS (SELECT 1 FROM report_runs n
                             WHERE n.workspace_id = r.workspace_id AND n.report_id = r.report_id
                               AND (n.started_at, n.id) > (r.started_at, r.id))
              LIMIT $2))",
    )
    .bind(days)
    .bind(batch)
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
