use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{new_id, WorkspaceId};

pub use crate::domain::StageKind;

/// A step of a pipeline.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Stage {
    pub id: Uuid,
    #[schema(example = "Qualified")]
    pub name: String,
    /// 0-based, contiguous within the pipeline.
    pub position: i32,
    pub kind: StageKind,
    /// 0 to 100.
    pub probability: i32,
}

/// A funnel of stages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pipeline {
    pub id: Uuid,
    #[schema(example = "Sales")]
    pub name: String,
    /// The live stages, by position.
    pub stages: Vec<Stage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct PipelineRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const COLUMNS: &str = "id, name, created_at, updated_at, version";

impl crate::db::rows::Table for PipelineRow {
    const TABLE: &'static str = "pipelines";
    const COLUMNS: &'static str = COLUMNS;
}
const STAGE_COLUMNS: &str = "id, name, position, kind, probability";

/// The stages of a new pipeline: the customer journey.
pub const DEFAULT_STAGES: [(&str, StageKind, i32); 6] = [
    ("Need identified", StageKind::Open, 10),
    ("Qualified", StageKind::Open, 25),
    ("Proposal", StageKind::Open, 50),
    ("Negotiation", StageKind::Open, 75),
    ("Won", StageKind::Won, 100),
    ("Lost", StageKind::Lost, 0),
];

pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    ws: WorkspaceId,
    name: &str,
    stages: &[(String, StageKind, i32)],
) -> Result<Pipeline, sqlx::Error> {
    let row: PipelineRow = sqlx::query_as(&format!(
        "INSERT INTO pipelines (workspace_id, id, name) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(new_id())
    .bind(name)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO stages (workspace_id, id, pipeline_id, name, position, kind, probability)
         SELECT $1, s.id, $2, s.name, s.position - 1, s.kind, s.probability
           FROM unnest($3::uuid[], $4::text[], $5::text[], $6::int[]) WITH ORDINALITY
                AS s (id, name, kind, probability, position)",
    )
    .bind(ws)
    .bind(row.id)
    .bind(stages.iter().map(|_| new_id()).collect::<Vec<_>>())
    .bind(stages.iter().map(|s| s.0.clone()).collect::<Vec<_>>())
    .bind(stages.iter().map(|s| s.1).collect::<Vec<_>>())
    .bind(stages.iter().map(|s| s.2).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    let stages = live_stages(&mut **tx, ws, row.id).await?;
    Ok(with_stages(row, stages))
}

pub async fn create_default(tx: &mut Transaction<'_, Postgres>, ws: WorkspaceId) -> Result<Pipeline, sqlx::Error> {
    let stages: Vec<(String, StageKind, i32)> =
        DEFAULT_STAGES.iter().map(|(n, k, p)| (n.to_string(), *k, *p)).collect();
    insert(tx, ws, "Sales", &stages).await
}

pub fn with_stages(row: PipelineRow, stages: Vec<Stage>) -> Pipeline {
    Pipeline {
        id: row.id,
        name: row.name,
        stages,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    }
}

pub async fn live_stages(db: impl PgExecutor<'_>, ws: WorkspaceId, pipeline: Uuid) -> Result<Vec<Stage>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {STAGE_COLUMNS} FROM stages
          WHERE workspace_id = $1 AND pipeline_id = $2 AND archived_at IS NULL ORDER BY position"
    ))
    .bind(ws)
    .bind(pipeline)
    .fetch_all(db)
    .await
}

pub async fn list(
    db: &sqlx::PgPool,
    ws: WorkspaceId,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Pipeline>, sqlx::Error> {
    let rows: Vec<PipelineRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM pipelines
          WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
          ORDER BY created_at, id LIMIT $4"
    ))
    .bind(ws)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let stages: Vec<(Uuid, Stage)> = sqlx::query_as::<_, StageOf>(&format!(
        "SELECT pipeline_id, {STAGE_COLUMNS} FROM stages
          WHERE workspace_id = $1 AND pipeline_id = ANY($2) AND archived_at IS NULL ORDER BY position"
    ))
    .bind(ws)
    .bind(&ids)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|s| (s.pipeline_id, s.stage))
    .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine = stages.iter().filter(|(p, _)| *p == row.id).map(|(_, s)| s.clone()).collect();
            with_stages(row, mine)
        })
        .collect())
}

#[derive(FromRow)]
struct StageOf {
    pipeline_id: Uuid,
    #[sqlx(flatten)]
    stage: Stage,
}

/// Renames the pipeline if asked, and bumps its version when its stages changed (a rename
/// bumps it by itself; a change that changes nothing does not).
pub async fn touch(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
    name: Option<&str>,
    stages_changed: bool,
) -> Result<PipelineRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE pipelines SET name = coalesce($3, name), version = CASE WHEN $4 THEN version + 1 ELSE version END
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
    .bind(name)
    .bind(stages_changed)
    .fetch_one(db)
    .await
}

/// Whether any deal is in the stage.
pub async fn stage_has_deals(db: impl PgExecutor<'_>, ws: WorkspaceId, stage: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deals WHERE workspace_id = $1 AND stage_id = $2)")
        .bind(ws)
        .bind(stage)
        .fetch_one(db)
        .await
}

pub async fn has_deals(db: impl PgExecutor<'_>, ws: WorkspaceId, pipeline: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deals WHERE workspace_id = $1 AND pipeline_id = $2)")
        .bind(ws)
        .bind(pipeline)
        .fetch_one(db)
        .await
}

/// Inserts a stage at `position`, moving the stages from there one step down.
pub async fn insert_stage(
    tx: &mut Transaction<'_, Postgres>,
    ws: WorkspaceId,
    pipeline: Uuid,
    name: &str,
    kind: StageKind,
    probability: i32,
    position: i32,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query(
        "UPDATE stages SET position = position + 1
          WHERE workspace_id = $1 AND pipeline_id = $2 AND archived_at IS NULL AND position >= $3",
    )
    .bind(ws)
    .bind(pipeline)
    .bind(position)
    .execute(&mut **tx)
    .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO stages (workspace_id, id, pipeline_id, name, position, kind, probability)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ws)
    .bind(id)
    .bind(pipeline)
    .bind(name)
    .bind(position)
    .bind(kind)
    .bind(probability)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn update_stage(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    stage: Uuid,
    name: &str,
    kind: StageKind,
    probability: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stages SET name = $3, kind = $4, probability = $5 WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(stage)
        .bind(name)
        .bind(kind)
        .bind(probability)
        .execute(db)
        .await?;
    Ok(())
}

/// Puts the live stages in the order of `ids` (a permutation of them).
pub async fn reorder(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    pipeline: Uuid,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE stages s SET position = o.ord - 1
           FROM unnest($3::uuid[]) WITH ORDINALITY AS o (id, ord)
          WHERE s.workspace_id = $1 AND s.pipeline_id = $2 AND s.id = o.id",
    )
    .bind(ws)
    .bind(pipeline)
    .bind(ids)
    .execute(db)
    .await?;
    Ok(())
}

/// How a transaction holds a stage's lock (migration 0027).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageLock {
    /// A write that puts a deal in the stage: many at once.
    Shared,
    /// A change of the stage that its deals follow (kind, removal): alone.
    Exclusive,
}

/// Holds `stage`'s lock until the transaction ends, if it is a stage (live or archived) of
/// `pipeline` in the workspace: a request that names another workspace's stage, or another
/// pipeline's, takes no lock (it is refused afterwards), so it cannot wait in a cycle with
/// changes elsewhere. Take it before reading the stage (shared) or its deals (exclusive): READ
/// COMMITTED gives each later statement a snapshot with every write that held the lock before.
pub async fn hold_stage(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    pipeline: Uuid,
    stage: Uuid,
    mode: StageLock,
) -> Result<(), sqlx::Error> {
    sqlx::query(match mode {
        StageLock::Shared => {
            "SELECT pg_advisory_xact_lock_shared(rapport_stage_key(id)) FROM stages
              WHERE workspace_id = $1 AND pipeline_id = $2 AND id = $3"
        }
        StageLock::Exclusive => {
            "SELECT pg_advisory_xact_lock(rapport_stage_key(id)) FROM stages
              WHERE workspace_id = $1 AND pipeline_id = $2 AND id = $3"
        }
    })
    .bind(ws)
    .bind(pipeline)
    .bind(stage)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether anything points at the stage: deals in it, or history.
pub async fn stage_is_referenced(db: impl PgExecutor<'_>, ws: WorkspaceId, stage: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deals WHERE workspace_id = $1 AND stage_id = $2)
             OR EXISTS (SELECT 1 FROM deal_stage_events WHERE workspace_id = $1 AND to_stage_id = $2)
             OR EXISTS (SELECT 1 FROM deal_stage_events WHERE workspace_id = $1 AND from_stage_id = $2)",
    )
    .bind(ws)
    .bind(stage)
    .fetch_one(db)
    .await
}

/// Takes a stage out of its pipeline (archived when referenced, else deleted) and closes the
/// gap in positions.
pub async fn remove_stage(
    tx: &mut Transaction<'_, Postgres>,
    ws: WorkspaceId,
    pipeline: Uuid,
    stage: &Stage,
    archive: bool,
) -> Result<(), sqlx::Error> {
    if archive {
        sqlx::query("UPDATE stages SET archived_at = now(), position = NULL WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(stage.id)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM stages WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(stage.id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE stages SET position = position - 1
          WHERE workspace_id = $1 AND pipeline_id = $2 AND archived_at IS NULL AND position > $3",
    )
    .bind(ws)
    .bind(pipeline)
    .bind(stage.position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
