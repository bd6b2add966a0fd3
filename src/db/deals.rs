use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::pipelines::StageKind;
use crate::db::rows::Conditions;
use crate::db::CUSTOMER_IS_LIVE;
use crate::domain::{new_id, WorkspaceId};

pub use crate::domain::DealStatus;

/// A customer moving through a pipeline.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Deal {
    pub id: Uuid,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub customer_id: Uuid,
    #[schema(example = "50 seats, annual plan")]
    pub title: String,
    pub amount_cents: i64,
    /// Follows the kind of the stage.
    pub status: DealStatus,
    pub owner_id: Option<Uuid>,
    pub expected_close_date: Option<NaiveDate>,
    /// Set on entering a won or lost stage, cleared on leaving it.
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// One stage change of a deal (creation included, `from_stage_id: null`).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct StageEvent {
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub changed_at: DateTime<Utc>,
    pub user_id: Option<Uuid>,
}

pub const COLUMNS: &str = "id, pipeline_id, stage_id, customer_id, title, amount_cents, status, owner_id, \
     expected_close_date, closed_at, created_at, updated_at, version";
pub const OWNER_FK: &str = "deals_workspace_id_owner_id_fkey";

/// A deal's fields as stored; `status` and `closed_at` as the rules of `domain::rules` make
/// them.
pub struct Fields {
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub customer_id: Uuid,
    pub title: String,
    pub amount_cents: i64,
    pub owner_id: Option<Uuid>,
    pub expected_close_date: Option<NaiveDate>,
    pub status: DealStatus,
    pub closed_at: Option<DateTime<Utc>>,
}

impl crate::db::rows::Table for Deal {
    const TABLE: &'static str = "deals";
    const COLUMNS: &'static str = COLUMNS;
    const VISIBLE: &'static str = CUSTOMER_IS_LIVE;
}

/// Creates the deal in its stage and records the creation in its history, at `created_at`.
pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    ws: WorkspaceId,
    f: &Fields,
    created_at: DateTime<Utc>,
    user: Option<Uuid>,
) -> Result<Deal, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH deal AS (
            INSERT INTO deals (workspace_id, id, pipeline_id, stage_id, customer_id, title, amount_cents, status,
                               owner_id, expected_close_date, closed_at, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())
            RETURNING {COLUMNS}),
              history AS (
            INSERT INTO deal_stage_events (workspace_id, id, deal_id, from_stage_id, to_stage_id, changed_at, user_id,
                                           deal_created_at)
            SELECT $1, $13, id, NULL, stage_id, created_at, $14, created_at FROM deal)
         SELECT * FROM deal"
    ))
    .bind(ws)
    .bind(new_id())
    .bind(f.pipeline_id)
    .bind(f.stage_id)
    .bind(f.customer_id)
    .bind(&f.title)
    .bind(f.amount_cents)
    .bind(f.status)
    .bind(f.owner_id)
    .bind(f.expected_close_date)
    .bind(f.closed_at)
    .bind(created_at)
    .bind(new_id())
    .bind(user)
    .fetch_one(&mut **tx)
    .await
}

/// Applies the fields; when the stage changes, records the move in the history at `changed_at`.
pub async fn update(
    tx: &mut Transaction<'_, Postgres>,
    ws: WorkspaceId,
    current: &Deal,
    f: &Fields,
    changed_at: DateTime<Utc>,
    user: Option<Uuid>,
) -> Result<Deal, sqlx::Error> {
    // One statement: the change, and the history event when it is a move.
    sqlx::query_as(&format!(
        "WITH changed AS (
            UPDATE deals SET stage_id = $3, customer_id = $4, title = $5, amount_cents = $6, owner_id = $7,
                   expected_close_date = $8, status = $9, closed_at = $10
             WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}),
              history AS (
            INSERT INTO deal_stage_events (workspace_id, id, deal_id, from_stage_id, to_stage_id, changed_at, user_id,
                                           deal_created_at)
            SELECT $1, $11, id, $12, stage_id, $13, $14, created_at FROM changed WHERE stage_id <> $12)
         SELECT * FROM changed"
    ))
    .bind(ws)
    .bind(current.id)
    .bind(f.stage_id)
    .bind(f.customer_id)
    .bind(&f.title)
    .bind(f.amount_cents)
    .bind(f.owner_id)
    .bind(f.expected_close_date)
    .bind(f.status)
    .bind(f.closed_at)
    .bind(new_id())
    .bind(current.stage_id)
    .bind(changed_at)
    .bind(user)
    .fetch_one(&mut **tx)
    .await
}

/// The kind of `stage` if it is a live stage of `pipeline`, with when `deal` last changed
/// stage (its creation counts): what a move needs to know, in one round trip.
pub async fn move_target(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    pipeline: Uuid,
    stage: Uuid,
    deal: Uuid,
) -> Result<Option<(StageKind, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.kind,
                (SELECT max(changed_at) FROM deal_stage_events e WHERE e.workspace_id = $1 AND e.deal_id = $4)
           FROM stages s
          WHERE s.workspace_id = $1 AND s.pipeline_id = $2 AND s.id = $3 AND s.archived_at IS NULL",
    )
    .bind(ws)
    .bind(pipeline)
    .bind(stage)
    .bind(deal)
    .fetch_optional(db)
    .await
}

pub async fn history(db: impl PgExecutor<'_>, ws: WorkspaceId, deal: Uuid) -> Result<Vec<StageEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_stage_id, to_stage_id, changed_at, user_id FROM deal_stage_events
          WHERE workspace_id = $1 AND deal_id = $2 ORDER BY changed_at, id",
    )
    .bind(ws)
    .bind(deal)
    .fetch_all(db)
    .await
}

/// Moves every deal of stage `from` to `to` (`status` as entering it makes it; `closed_at` the
/// move's time when `closes`, else none), recording each move; returns the deals moved. One
/// statement, the history written from the rows the update changed: a deal moved elsewhere
/// meanwhile (the update waits for it, then finds it in another stage) is neither moved nor
/// recorded. Each move is recorded at the statement's start, and after the deal's last change
/// (by a microsecond at least): a move that committed while this transaction waited for the
/// stage's lock stays before it in the history.
pub async fn move_all(
    tx: &mut Transaction<'_, Postgres>,
    ws: WorkspaceId,
    from: Uuid,
    to: Uuid,
    status: DealStatus,
    closes: bool,
    user: Option<Uuid>,
) -> Result<Vec<Deal>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH moved AS (
            UPDATE deals d SET stage_id = $3, status = $4, closed_at = CASE WHEN $5 THEN t.at END
              FROM (SELECT e.deal_id, greatest(statement_timestamp(), max(e.changed_at) + interval '1 microsecond') AS at
                      FROM deal_stage_events e
                     WHERE e.workspace_id = $1
                       AND e.deal_id IN (SELECT id FROM deals WHERE workspace_id = $1 AND stage_id = $2)
                     GROUP BY e.deal_id) t
             WHERE d.workspace_id = $1 AND d.stage_id = $2 AND d.id = t.deal_id
         RETURNING {COLUMNS}, t.at),
              history AS (
            INSERT INTO deal_stage_events (workspace_id, id, deal_id, from_stage_id, to_stage_id, changed_at, user_id,
                                           deal_created_at)
            SELECT $1, gen_random_uuid(), id, $2, $3, at, $6, created_at FROM moved)
         SELECT {COLUMNS} FROM moved"
    ))
    .bind(ws)
    .bind(from)
    .bind(to)
    .bind(status)
    .bind(closes)
    .bind(user)
    .fetch_all(&mut **tx)
    .await
}

/// The deals of a stage whose kind changed follow it: `status`, and `closed_at` set to
/// `closes_at` when they close (kept when they were already closed) or cleared when they
/// reopen (`closes_at` none). Returns the deals that changed.
pub async fn follow_stage_kind(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    stage: Uuid,
    status: DealStatus,
    closes_at: Option<DateTime<Utc>>,
) -> Result<Vec<Deal>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE deals SET status = $3,
                closed_at = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE coalesce(closed_at, $4) END
          WHERE workspace_id = $1 AND stage_id = $2 AND status <> $3 RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(stage)
    .bind(status)
    .bind(closes_at)
    .fetch_all(db)
    .await
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub status: Option<DealStatus>,
    pub customer_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// Deals of live customers, newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    f: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Deal>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM deals t WHERE {CUSTOMER_IS_LIVE} AND workspace_id = "));
    qb.push_bind(ws)
        .and_if("pipeline_id =", f.pipeline_id)
        .and_if("stage_id =", f.stage_id)
        .and_if("status =", f.status)
        .and_if("customer_id =", f.customer_id)
        .and_if("owner_id =", f.owner_id)
        .and_if("created_at >=", f.created_after)
        .and_if("created_at <", f.created_before)
        .and_after("created_at", false, after)
        .order_by("created_at", false, limit);
    qb.build_query_as().fetch_all(db).await
}

/// A customer's open deals with their stage, for the 360° view.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct OpenDeal {
    pub id: Uuid,
    pub title: String,
    pub amount_cents: i64,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub stage_name: String,
    pub stage_probability: i32,
    pub expected_close_date: Option<NaiveDate>,
}

pub async fn open_deals(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    customer: Uuid,
) -> Result<Vec<OpenDeal>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.title, d.amount_cents, d.pipeline_id, d.stage_id, s.name AS stage_name,
                s.probability AS stage_probability, d.expected_close_date
           FROM deals d JOIN stages s ON s.workspace_id = d.workspace_id AND s.id = d.stage_id
          WHERE d.workspace_id = $1 AND d.customer_id = $2 AND d.status = 'open'
          ORDER BY d.created_at, d.id",
    )
    .bind(ws)
    .bind(customer)
    .fetch_all(db)
    .await
}
