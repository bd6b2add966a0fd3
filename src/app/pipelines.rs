//! Pipelines and their stages: the funnel (admin writes). Every change of a pipeline's stages
//! goes through the pipeline's lock, one at a time, and the pipeline keeps at least one open,
//! one won and one lost stage.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{check_version, event, found, lock, record, record_change, Actor, Result, Tx};
use crate::db::deals::Deal;
use crate::db::events::NewEvent;
use crate::db::pipelines::{self, Pipeline, PipelineRow, Stage, StageLock};
use crate::db::{deals, rows};
use crate::domain::events::EventType;
use crate::domain::rules::{self, StageKind, THREE_KINDS};
use crate::domain::{Name, Probability, Role};
use crate::error::ApiError;

/// At most this many stages in a pipeline.
pub const MAX_STAGES: usize = 50;

/// A stage's writable fields, valid.
#[derive(Debug, Clone)]
pub struct StageFields {
    pub name: Name,
    pub kind: StageKind,
    pub probability: Probability,
}

impl StageFields {
    fn row(&self) -> (String, StageKind, i32) {
        (self.name.as_str().to_owned(), self.kind, self.probability.get())
    }
}

/// The pipeline with its live stages.
pub async fn load(db: &mut sqlx::PgConnection, actor: &Actor, id: Uuid) -> Result<Pipeline> {
    let row: PipelineRow = found(rows::find(&mut *db, actor.workspace_id, id).await?, "pipeline")?;
    let stages = pipelines::live_stages(&mut *db, actor.workspace_id, id).await?;
    Ok(pipelines::with_stages(row, stages))
}

pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Pipeline>> {
    Ok(pipelines::list(pool, actor.workspace_id, after, limit).await?)
}

pub async fn get(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Pipeline> {
    let mut conn = pool.acquire().await?;
    load(&mut conn, actor, id).await
}

fn updated(p: &Pipeline) -> NewEvent {
    event(EventType::PipelineUpdated, p.id, None, p)
}

/// A new pipeline, valid: its stages in order (default: the customer journey).
#[derive(Debug, Clone)]
pub struct NewPipeline {
    pub name: Name,
    pub stages: Option<Vec<StageFields>>,
}

/// Adds a pipeline (admin); it keeps at least one open, one won and one lost stage (`409`).
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, new: NewPipeline) -> Result<Pipeline> {
    actor.require(Role::Admin)?;
    let name = new.name;
    let stages: Vec<(String, StageKind, i32)> = match new.stages {
        None => pipelines::DEFAULT_STAGES.iter().map(|(n, k, p)| (n.to_string(), *k, *p)).collect(),
        Some(list) => list.iter().map(StageFields::row).collect(),
    };
    if !rules::has_every_kind(stages.iter().map(|s| s.1)) {
        return Err(ApiError::Conflict(THREE_KINDS.into()));
    }
    let pipeline = pipelines::insert(tx, actor.workspace_id, name.as_str(), &stages).await?;
    record(tx, actor, &[event(EventType::PipelineCreated, pipeline.id, None, &pipeline)]).await?;
    Ok(pipeline)
}

/// A change of a pipeline's stages in progress: the pipeline locked, its live stages.
struct StageChange {
    current: PipelineRow,
    stages: Vec<Stage>,
}

/// Locks the pipeline (every change of its stages goes through this lock, one at a time).
async fn begin_stage_change(tx: &mut Tx<'_>, actor: &Actor, id: Uuid) -> Result<StageChange> {
    let current: PipelineRow = lock(tx, actor, Role::Admin, id, "pipeline").await?;
    let stages = pipelines::live_stages(&mut **tx, actor.workspace_id, current.id).await?;
    Ok(StageChange { current, stages })
}

/// The pipeline after a change of its stages: its version bumped when they `changed`, and the
/// change's events (deals that moved or followed) with a `pipeline.updated` one when anything
/// did.
async fn finish_stage_change(
    tx: &mut Tx<'_>,
    actor: &Actor,
    change: StageChange,
    changed: bool,
    mut events: Vec<NewEvent>,
) -> Result<Pipeline> {
    let row = pipelines::touch(&mut **tx, actor.workspace_id, change.current.id, None, changed).await?;
    let pipeline = load(tx, actor, row.id).await?;
    if pipeline.version != change.current.version {
        events.push(updated(&pipeline));
    }
    record(tx, actor, &events).await?;
    Ok(pipeline)
}

/// Renames a pipeline.
pub async fn rename(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    change: impl FnOnce(&PipelineRow) -> Result<Name>,
) -> Result<Pipeline> {
    let current: PipelineRow = lock(tx, actor, Role::Admin, id, "pipeline").await?;
    let name = change(&current)?;
    check_version(expected, current.version)?;
    let row = pipelines::touch(&mut **tx, actor.workspace_id, current.id, Some(name.as_str()), false).await?;
    let pipeline = load(tx, actor, row.id).await?;
    record_change(tx, actor, current.version, pipeline.version, || updated(&pipeline)).await?;
    Ok(pipeline)
}

/// Removes a pipeline; one with deals cannot go (`409`).
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let ws = actor.workspace_id;
    let current: PipelineRow = lock(tx, actor, Role::Admin, id, "pipeline").await?;
    check_version(expected, current.version)?;
    if pipelines::has_deals(&mut **tx, ws, current.id).await? {
        return Err(ApiError::Conflict("the pipeline has deals; move or delete them first".into()));
    }
    let pipeline = load(tx, actor, current.id).await?;
    rows::delete::<PipelineRow>(&mut **tx, ws, current.id).await?;
    record(tx, actor, &[event(EventType::PipelineDeleted, current.id, None, &pipeline)]).await
}

/// Adds a stage at `position` (default, or past the end: last); those from there move down.
pub async fn add_stage(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    stage: StageFields,
    position: Option<i32>,
) -> Result<Pipeline> {
    let change = begin_stage_change(tx, actor, id).await?;
    if change.stages.len() >= MAX_STAGES {
        return Err(ApiError::validation("name", format!("a pipeline has at most {MAX_STAGES} stages")));
    }
    let position = position.unwrap_or(i32::MAX).min(change.stages.len() as i32);
    let (name, kind, probability) = stage.row();
    pipelines::insert_stage(tx, actor.workspace_id, change.current.id, &name, kind, probability, position).await?;
    finish_stage_change(tx, actor, change, true, Vec::new()).await
}

/// Changes a stage: `change` gives its new fields from the current ones. Its deals follow a
/// change of kind (status, `closed_at`); leaving the pipeline without an open, a won or a lost
/// stage is `409`.
pub async fn update_stage(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    stage_id: Uuid,
    new: impl FnOnce(&Stage) -> Result<StageFields>,
) -> Result<Pipeline> {
    let ws = actor.workspace_id;
    let change = begin_stage_change(tx, actor, id).await?;
    let stage = find_stage(&change.stages, stage_id)?;
    let new = new(&stage)?;
    if !rules::has_every_kind(change.stages.iter().map(|s| if s.id == stage.id { new.kind } else { s.kind })) {
        return Err(ApiError::Conflict(THREE_KINDS.into()));
    }
    let (name, kind, probability) = new.row();
    let changed = name != stage.name || kind != stage.kind || probability != stage.probability;
    if kind != stage.kind {
        // No deal enters the stage with its old kind's status while its deals follow.
        pipelines::hold_stage(&mut **tx, ws, change.current.id, stage.id, StageLock::Exclusive).await?;
    }
    pipelines::update_stage(&mut **tx, ws, stage.id, &name, kind, probability).await?;
    let mut events = Vec::new();
    if kind != stage.kind {
        let closes_at = rules::closed_at_on_entering(kind, Utc::now());
        let followed = deals::follow_stage_kind(&mut **tx, ws, stage.id, rules::deal_status(kind), closes_at).await?;
        events.extend(followed.iter().map(|d| deal_event(EventType::DealUpdated, d)));
    }
    finish_stage_change(tx, actor, change, changed, events).await
}

/// Removes a stage: one that holds deals needs `move_to` (another stage of the pipeline; the
/// deals move there, recorded as stage changes); one that history points at is archived (it
/// leaves the pipeline, history keeps it); removing the last open, won or lost stage is `409`.
pub async fn remove_stage(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    stage_id: Uuid,
    move_to: Option<Uuid>,
) -> Result<Pipeline> {
    let ws = actor.workspace_id;
    let change = begin_stage_change(tx, actor, id).await?;
    let stage = find_stage(&change.stages, stage_id)?;
    if !rules::has_every_kind(change.stages.iter().filter(|s| s.id != stage.id).map(|s| s.kind)) {
        return Err(ApiError::Conflict(THREE_KINDS.into()));
    }
    // No deal enters the stage while it is emptied and removed.
    pipelines::hold_stage(&mut **tx, ws, change.current.id, stage.id, StageLock::Exclusive).await?;
    let mut events = Vec::new();
    if let Some(target) = move_to {
        let Some(to) = change.stages.iter().find(|s| s.id == target && s.id != stage.id) else {
            return Err(ApiError::validation("move_to", "must be another stage of this pipeline"));
        };
        let (status, closes) = (rules::deal_status(to.kind), rules::closes(to.kind));
        let moved = deals::move_all(tx, ws, stage.id, to.id, status, closes, actor.session_user()).await?;
        events.extend(moved.iter().map(|d| deal_event(EventType::DealStageChanged, d)));
    } else if pipelines::stage_has_deals(&mut **tx, ws, stage.id).await? {
        return Err(ApiError::Conflict("the stage holds deals: give ?move_to=<stage_id> to move them first".into()));
    }
    let archive = pipelines::stage_is_referenced(&mut **tx, ws, stage.id).await?;
    pipelines::remove_stage(tx, ws, change.current.id, &stage, archive).await?;
    finish_stage_change(tx, actor, change, true, events).await
}

/// Puts the stages in the order of `order`: a permutation of all of them (`422` otherwise).
pub async fn reorder(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, order: Vec<Uuid>) -> Result<Pipeline> {
    let change = begin_stage_change(tx, actor, id).await?;
    let mut given = order.clone();
    given.sort();
    let mut live: Vec<Uuid> = change.stages.iter().map(|s| s.id).collect();
    live.sort();
    if given != live {
        return Err(ApiError::validation("stage_ids", "must list every stage of the pipeline exactly once"));
    }
    let changed = change.stages.iter().map(|s| s.id).ne(order.iter().copied());
    pipelines::reorder(&mut **tx, actor.workspace_id, change.current.id, &order).await?;
    finish_stage_change(tx, actor, change, changed, Vec::new()).await
}

fn find_stage(stages: &[Stage], id: Uuid) -> Result<Stage> {
    stages.iter().find(|s| s.id == id).cloned().ok_or_else(|| ApiError::not_found("stage"))
}

/// A deal's event (its customer named for erasure).
pub fn deal_event(kind: EventType, d: &Deal) -> NewEvent {
    event(kind, d.id, Some(d.customer_id), d)
}

/// The stages of a pipeline, for a deal to enter (empty: no such pipeline).
pub async fn live_stages(db: impl PgExecutor<'_>, actor: &Actor, pipeline: Uuid) -> Result<Vec<Stage>> {
    Ok(pipelines::live_stages(db, actor.workspace_id, pipeline).await?)
}
