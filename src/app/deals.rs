//! Deals: a customer moving through a pipeline. A deal's status follows its stage's kind, its
//! `closed_at` is set on entering a won or lost stage, and every stage change is recorded in
//! its history (`domain::rules`).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::pipelines::deal_event;
use super::{check_version, found, lock, record, Actor, Result, Tx};
use crate::db::deals::{self, Deal, Fields, Filter, StageEvent};
use crate::db::pipelines::{self, StageLock};
use crate::db::{customers, rows};
use crate::domain::events::EventType;
use crate::domain::rules::{self, stage_change_time};
use crate::domain::{AmountCents, Bound, Name, Role};
use crate::error::{ApiError, FieldError};

/// A new deal, valid.
#[derive(Debug, Clone)]
pub struct NewDeal {
    pub pipeline_id: Uuid,
    /// Default: the pipeline's first stage.
    pub stage_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub title: Name,
    pub amount_cents: AmountCents,
    pub owner_id: Option<Uuid>,
    pub expected_close_date: Option<NaiveDate>,
    /// When it was created (bringing history over); default now.
    pub created_at: DateTime<Utc>,
}

/// A deal's writable fields after a change, valid; a new `stage_id` moves it (at `changed_at`,
/// default now).
#[derive(Debug, Clone)]
pub struct DealChanges {
    pub stage_id: Uuid,
    pub changed_at: Option<DateTime<Utc>>,
    pub customer_id: Uuid,
    pub title: Name,
    pub amount_cents: AmountCents,
    pub owner_id: Option<Uuid>,
    pub expected_close_date: Option<NaiveDate>,
}

async fn live_customer(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<()> {
    rows::find::<customers::Customer>(db, actor.workspace_id, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::validation("customer_id", "is not a customer of this workspace"))
}

/// Opens a deal (member) in a stage of its pipeline, for a live customer.
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, new: NewDeal) -> Result<Deal> {
    actor.require(Role::Member)?;
    let ws = actor.workspace_id;
    // The stage is read under its lock, so that a removal or a change of kind that committed
    // meanwhile shows (the first stage's lock can only be taken once it is known).
    if let Some(id) = new.stage_id {
        pipelines::hold_stage(&mut **tx, ws, new.pipeline_id, id, StageLock::Shared).await?;
    }
    let stages = pipelines::live_stages(&mut **tx, ws, new.pipeline_id).await?;
    let mut stage = match (new.stage_id, stages.first()) {
        (_, None) => return Err(ApiError::validation("pipeline_id", "is not a pipeline of this workspace")),
        (None, Some(first)) => first.clone(),
        (Some(id), Some(_)) => stages
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(|| ApiError::validation("stage_id", "is not a stage of this pipeline"))?,
    };
    if new.stage_id.is_none() {
        pipelines::hold_stage(&mut **tx, ws, new.pipeline_id, stage.id, StageLock::Shared).await?;
        stage = pipelines::live_stages(&mut **tx, ws, new.pipeline_id)
            .await?
            .into_iter()
            .find(|s| s.id == stage.id)
            .ok_or_else(|| ApiError::Conflict("the pipeline's first stage was just removed: try again".into()))?;
    }
    live_customer(&mut **tx, actor, new.customer_id).await?;
    let fields = Fields {
        pipeline_id: new.pipeline_id,
        stage_id: stage.id,
        customer_id: new.customer_id,
        title: new.title.into_inner(),
        amount_cents: new.amount_cents.get(),
        owner_id: new.owner_id,
        expected_close_date: new.expected_close_date,
        status: rules::deal_status(stage.kind),
        closed_at: rules::closed_at_on_entering(stage.kind, new.created_at),
    };
    let deal = deals::insert(tx, ws, &fields, new.created_at, actor.session_user()).await?;
    record(tx, actor, &[deal_event(EventType::DealCreated, &deal)]).await?;
    Ok(deal)
}

pub async fn get(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<Deal> {
    found(rows::find(db, actor.workspace_id, id).await?, "deal")
}

/// Changes a deal (member): `change` gives its new fields from the current ones. A new stage
/// (of its pipeline) moves it, recorded in its history at `changed_at` (not in the future, not
/// before its previous change); moves of one deal are serialised by the deal's lock.
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    change: impl FnOnce(&Deal) -> Result<DealChanges>,
) -> Result<Deal> {
    let ws = actor.workspace_id;
    let current: Deal = lock(tx, actor, Role::Member, id, "deal").await?;
    let c = change(&current)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let now = Utc::now();
    let (mut status, mut closed_at, mut changed_at) = (current.status, current.closed_at, now);
    if c.stage_id != current.stage_id {
        pipelines::hold_stage(&mut **tx, ws, current.pipeline_id, c.stage_id, StageLock::Shared).await?;
        match deals::move_target(&mut **tx, ws, current.pipeline_id, c.stage_id, current.id).await? {
            None => errors.push(FieldError::new("stage_id", "is not a stage of the deal's pipeline")),
            Some((kind, previous)) => match stage_change_time("changed_at", c.changed_at.unwrap_or(now), previous) {
                Ok(at) => {
                    (status, closed_at, changed_at) =
                        (rules::deal_status(kind), rules::closed_at_on_entering(kind, at), at);
                }
                Err(e) => errors.push(e),
            },
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if c.customer_id != current.customer_id {
        live_customer(&mut **tx, actor, c.customer_id).await?;
    }
    check_version(expected, current.version)?;
    let fields = Fields {
        pipeline_id: current.pipeline_id,
        stage_id: c.stage_id,
        customer_id: c.customer_id,
        title: c.title.into_inner(),
        amount_cents: c.amount_cents.get(),
        owner_id: c.owner_id,
        expected_close_date: c.expected_close_date,
        status,
        closed_at,
    };
    let deal = deals::update(tx, ws, &current, &fields, changed_at, actor.session_user()).await?;
    if deal.version != current.version {
        let kind = if deal.stage_id != current.stage_id { EventType::DealStageChanged } else { EventType::DealUpdated };
        record(tx, actor, &[deal_event(kind, &deal)]).await?;
    }
    Ok(deal)
}

/// Deletes a deal with its history (member).
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let current: Deal = lock(tx, actor, Role::Member, id, "deal").await?;
    check_version(expected, current.version)?;
    rows::delete::<Deal>(&mut **tx, actor.workspace_id, current.id).await?;
    record(tx, actor, &[deal_event(EventType::DealDeleted, &current)]).await
}

/// Every stage change of a deal, creation first, in order.
pub async fn history(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Vec<StageEvent>> {
    let deal = get(pool, actor, id).await?;
    Ok(deals::history(pool, actor.workspace_id, deal.id).await?)
}

/// A page of deals, newest first (`filter` with its creation window unresolved).
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    mut filter: Filter,
    created: (Option<Bound>, Option<Bound>),
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Deal>> {
    let (a, b) = crate::db::workspaces::resolve_bounds(pool, actor.workspace_id, created.0, created.1).await?;
    filter.created_after = a;
    filter.created_before = b;
    Ok(deals::list(pool, actor.workspace_id, &filter, after, limit).await?)
}
