//! Funnel: conversion of a pipeline's deals created in a window (ANALYTICS.md, "Funnel").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{figures_tuned, resolve, Context, Window};
use crate::domain::{SumCents, WorkspaceId};
use crate::error::{ApiError, FieldError};
use sqlx::PgPool;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// The pipeline (`404` if it is not one of the workspace's).
    pub pipeline_id: Uuid,
    /// Start of the window (inclusive): a date (midnight in the workspace's timezone) or an
    /// RFC 3339 timestamp with an offset. Default: 90 days before `to`.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive), same forms. Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub to: Option<String>,
    /// Only deals of this owner.
    pub owner_id: Option<Uuid>,
    /// Only deals of customers acquired on this channel (the channel of their earliest
    /// interaction).
    pub channel_id: Option<Uuid>,
}

/// The funnel of a pipeline's deals created in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelReport {
    pub pipeline_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: FunnelFigures,
}

/// The funnel's parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelParams {
    pub pipeline_id: Uuid,
    pub window: Window,
    pub owner_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
}

impl FunnelParams {
    pub fn parse(q: FunnelQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let window = Window::parse(q.from.as_deref(), q.to.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(FunnelParams { pipeline_id: q.pipeline_id, window, owner_id: q.owner_id, channel_id: q.channel_id })
    }
}

impl FunnelParams {
    /// The funnel (`404` when the pipeline is not one of the workspace's).
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<FunnelReport, ApiError> {
        let p = self;
        let cx = resolve(pool, ws, &p.window, Some(p.pipeline_id)).await?;
        if !cx.pipeline_found {
            return Err(ApiError::not_found("pipeline"));
        }
        let filter = FunnelFilter { pipeline_id: p.pipeline_id, owner_id: p.owner_id, channel_id: p.channel_id };
        let figures = funnel(pool, ws, &cx, &filter).await?;
        Ok(FunnelReport { pipeline_id: p.pipeline_id, from: cx.from, to: cx.to, figures })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FunnelFigures {
    /// Deals of the pipeline created in the window (and matching the filters): the cohort.
    pub entered: i64,
    /// Cohort deals by current status.
    pub open: i64,
    pub won: i64,
    pub lost: i64,
    /// won / (won + lost); `null` when both are 0.
    pub win_rate: Option<f64>,
    /// The path: the pipeline's current `open` and `won` stages, by position.
    pub stages: Vec<FunnelStage>,
    /// Currently lost cohort deals by the furthest path stage they reached (`null`: none), in
    /// path order, `null` last.
    pub lost_after: Vec<LostAfter>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FunnelStage {
    pub stage_id: Uuid,
    pub name: String,
    pub position: i32,
    /// Cohort deals that reached this stage or a later one (a skipped stage counts as passed).
    pub reached: i64,
    /// Sum of the current `amount_cents` of those deals.
    pub reached_amount_cents: SumCents,
    /// Cohort deals in this stage now.
    pub current: i64,
    /// reached / reached of the previous path stage; `null` for the first or a 0 denominator.
    pub conversion_from_previous: Option<f64>,
    /// reached / reached of the first path stage; `null` for a 0 denominator.
    pub conversion_from_first: Option<f64>,
    /// Median (`percentile_cont(0.5)`) of the completed stays of cohort deals in this stage,
    /// in hours; `null` if none.
    pub median_hours_in_stage: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LostAfter {
    pub stage_id: Option<Uuid>,
    pub count: i64,
}

/// `$1` workspace, `$2` pipeline, `[$3, $4)` window on `created_at`, `$5` owner, `$6` acquisition
/// channel. The acquisition channel is the channel of the customer's earliest interaction (ties:
/// smallest id), kept in the `customer_activity` rollup. A stay in a stage runs from an event into
/// it to the deal's next event (events ordered by `changed_at`, then id), whose time the event
/// keeps as `left_at` (migration `0016_stage_stays.sql`); a deal's reach comes from the stages
/// it has entered, kept on the deal (`0018_deal_entered_stages.sql`).
///
/// Without a filter, the statement reads two covering indexes and probes nothing per deal
/// (`0023_funnel_reads.sql`): the window's deals of the pipeline, and the completed stays in its
/// path stages of deals created in the window, with their length in hours (each event carries its
/// deal's creation time). A path stage is one of the pipeline's, so its stays are of the
/// pipeline's deals: a deal's stage is one of its pipeline's (a foreign key), and a deal never
/// changes pipeline. The deals of soft-deleted customers, few, are found from those customers and
/// left out by a hash. With a filter, the cohort's stays are read by deal.
const FUNNEL: &str = r#"
WITH path AS (
    SELECT id, name, position
      FROM stages
     WHERE workspace_id = $1 AND pipeline_id = $2 AND position IS NOT NULL AND kind IN ('open', 'won')
),
-- The deals of soft-deleted customers: out of every figure.
gone AS MATERIALIZED (
    SELECT d.id
      FROM customers x
      JOIN deals d ON d.workspace_id = $1 AND d.customer_id = x.id
     WHERE x.workspace_id = $1 AND x.deleted_at IS NOT NULL
),
cohort AS NOT MATERIALIZED (
    SELECT d.id, d.stage_id, d.status, d.amount_cents, d.entered_stage_ids
      FROM deals d
     WHERE d.workspace_id = $1 AND d.pipeline_id = $2 AND d.created_at >= $3 AND d.created_at < $4
       AND d.id NOT IN (SELECT id FROM gone)
       AND ($5::uuid IS NULL OR d.owner_id = $5)
       AND ($6::uuid IS NULL OR $6 = (SELECT a.first_channel_id FROM customer_activity a
                                       WHERE a.workspace_id = $1 AND a.customer_id = d.customer_id))
),
-- Cohort deals by the stages they entered, status and current stage. A deal's reach follows
-- from the stages it has entered, kept on the deal (`entered_stage_ids`, migration
-- `0018_deal_entered_stages.sql`): the deals are grouped by that set first (a pipeline's deals
-- take few paths), and each set's reach is found once.
groups AS MATERIALIZED (
    SELECT entered_stage_ids AS entered, status, stage_id, count(*) AS n, sum(amount_cents) AS amount
      FROM cohort
     GROUP BY 1, 2, 3
),
-- Cohort deals by the furthest path position they reached (null: none) and status.
by_reach AS (
    SELECT (SELECT max(p.position) FROM path p WHERE p.id = ANY (g.entered)) AS reach, g.status,
           sum(g.n) AS n, sum(g.amount) AS amount
      FROM groups g
     GROUP BY 1, 2
),
-- The completed stays of cohort deals in path stages, in hours. Without a filter, they are read
-- from the stays' index, by stage and the deal's creation time; with one, from the cohort's
-- events, by deal (OFFSET 0: a stage condition on the events themselves would have them read by
-- stage, every deal's).
stay_hours AS (
    SELECT e.to_stage_id AS stage_id, e.stay_hours AS hours
      FROM deal_stage_events e
     WHERE $5::uuid IS NULL AND $6::uuid IS NULL
       AND e.workspace_id = $1 AND e.to_stage_id IN (SELECT id FROM path) AND e.left_at IS NOT NULL
       AND e.deal_created_at >= $3 AND e.deal_created_at < $4
       AND e.deal_id NOT IN (SELECT id FROM gone)
    UNION ALL
    SELECT f.to_stage_id, f.stay_hours
      FROM (SELECT e.to_stage_id, e.stay_hours
              FROM cohort k
              JOIN deal_stage_events e ON e.workspace_id = $1 AND e.deal_id = k.id
             WHERE NOT ($5::uuid IS NULL AND $6::uuid IS NULL) AND e.left_at IS NOT NULL
            OFFSET 0) f
     WHERE f.to_stage_id IN (SELECT id FROM path)
),
-- The median of each stage's completed stays, as the definition states it. (Sorting the
-- stored hours is cheaper than locating the middle stays by counts: 3 years of stays at a
-- million deals sort in about the time two passes over them take.)
stays AS (
    SELECT stage_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median
      FROM stay_hours
     GROUP BY stage_id
),
passed AS (
    SELECT p.id, p.name, p.position,
           coalesce(sum(b.n), 0)::bigint AS reached, coalesce(sum(b.amount), 0) AS amount
      FROM path p
      LEFT JOIN by_reach b ON b.reach >= p.position
     GROUP BY p.id, p.name, p.position
),
currents AS (
    SELECT stage_id, sum(n) AS n FROM groups GROUP BY stage_id
),
stage_rows AS (
    SELECT s.id, s.name, s.position, s.reached, s.amount, coalesce(c.n, 0) AS current, st.median,
           lag(s.reached) OVER (ORDER BY s.position) AS previous,
           first_value(s.reached) OVER (ORDER BY s.position) AS first
      FROM passed s
      LEFT JOIN currents c ON c.stage_id = s.id
      LEFT JOIN stays st ON st.stage_id = s.id
),
totals AS (
    SELECT coalesce(sum(n), 0)::bigint AS entered,
           coalesce(sum(n) FILTER (WHERE status = 'open'), 0)::bigint AS open,
           coalesce(sum(n) FILTER (WHERE status = 'won'), 0)::bigint AS won,
           coalesce(sum(n) FILTER (WHERE status = 'lost'), 0)::bigint AS lost
      FROM by_reach
),
lost_rows AS (
    SELECT p.id AS stage_id, p.position, sum(b.n)::bigint AS n
      FROM by_reach b
      LEFT JOIN path p ON p.position = b.reach
     WHERE b.status = 'lost'
     GROUP BY p.id, p.position
)
SELECT json_build_object(
    'entered', t.entered, 'open', t.open, 'won', t.won, 'lost', t.lost,
    'win_rate', t.won::float8 / nullif(t.won + t.lost, 0),
    'stages', coalesce((
        SELECT json_agg(json_build_object(
                   'stage_id', s.id, 'name', s.name, 'position', s.position, 'reached', s.reached,
                   'reached_amount_cents', s.amount, 'current', s.current,
                   'conversion_from_previous', s.reached::float8 / nullif(s.previous, 0),
                   'conversion_from_first', s.reached::float8 / nullif(s.first, 0),
                   'median_hours_in_stage', s.median)
                 ORDER BY s.position)
          FROM stage_rows s), '[]'),
    'lost_after', coalesce((
        SELECT json_agg(json_build_object('stage_id', l.stage_id, 'count', l.n) ORDER BY l.position NULLS LAST)
          FROM lost_rows l), '[]'))
  FROM totals t
"#;

pub struct FunnelFilter {
    pub pipeline_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
}

async fn funnel(pool: &PgPool, ws: WorkspaceId, cx: &Context, filter: &FunnelFilter) -> sqlx::Result<FunnelFigures> {
    let q = sqlx::query(FUNNEL)
        .bind(ws.0)
        .bind(filter.pipeline_id)
        .bind(cx.from)
        .bind(cx.to)
        .bind(filter.owner_id)
        .bind(filter.channel_id);
    // With an owner or channel filter, the cohort's events are read by index, a deal at a time,
    // unless the cohort is most of the pipeline: costed as cached pages (they are, once warm),
    // the planner makes that choice; at the default cost it reads every event of the workspace
    // even for a small cohort. (Without a filter, the stays come from their own index.)
    figures_tuned(pool, &[("random_page_cost", "1.1")], q).await
}
