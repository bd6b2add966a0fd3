//! Analytics, computed in PostgreSQL: one statement per figure set, parameters bound. The
//! definitions are those of `ANALYTICS.md`; the comments below say how each statement follows
//! them. Every statement leaves soft-deleted customers (and their interactions and deals) out,
//! cuts dates in the workspace's timezone, and orders text keys by code point (`COLLATE "C"`),
//! the order the definitions use.
//!
//! A local time is read as PostgreSQL reads it: a midnight that occurs twice (clocks set back
//! over it) is the later instant, one the clocks skip is read with the offset in force before
//! the jump.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Bound, SumCents, WorkspaceId};

/// What every analytics statement needs: the workspace's timezone and the window resolved to
/// instants (`to` defaults to now, `from` to 90 days before `to`).
#[derive(Debug, Clone)]
pub struct Context {
    pub timezone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Whether the pipeline asked for (if any) is one of the workspace's.
    pub pipeline_found: bool,
}

pub async fn context(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    from: Option<Bound>,
    to: Option<Bound>,
    pipeline_id: Option<Uuid>,
) -> sqlx::Result<Context> {
    let (from_at, from_date) = Bound::split(from);
    let (to_at, to_date) = Bound::split(to);
    let row = sqlx::query(
        "WITH w AS (
             SELECT timezone,
                    coalesce($4::timestamptz, rapport_local_midnight($5::date, timezone), now()) AS to_at
               FROM workspaces WHERE id = $1
         )
         SELECT timezone,
                coalesce($2::timestamptz, rapport_local_midnight($3::date, timezone), to_at - interval '2160 hours') AS from_at,
                to_at,
                $6::uuid IS NULL OR EXISTS (SELECT 1 FROM pipelines WHERE workspace_id = $1 AND id = $6) AS pipeline_found
           FROM w",
    )
    .bind(ws.0)
    .bind(from_at)
    .bind(from_date)
    .bind(to_at)
    .bind(to_date)
    .bind(pipeline_id)
    .fetch_one(db)
    .await?;
    Ok(Context {
        timezone: row.try_get("timezone")?,
        from: row.try_get("from_at")?,
        to: row.try_get("to_at")?,
        pipeline_found: row.try_get("pipeline_found")?,
    })
}

/// Memory for the sorts and hashes of one analytics statement (the default 4 MB spills
/// hundreds of thousands of rows to disk).
const WORK_MEM: &str = "256MB";

/// A read-only transaction tuned for one analytics statement: enough memory, a plan made for
/// the actual parameters (a generic plan cannot know the window or the dimension), and no JIT
/// (its compile time costs more than it saves at these sizes).
async fn begin(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('transaction_read_only', 'on', true), set_config('work_mem', $1, true),
                set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)",
    )
    .bind(WORK_MEM)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

async fn figures<T: for<'de> Deserialize<'de> + Send + Unpin + 'static>(
    pool: &PgPool,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> sqlx::Result<T> {
    let mut tx = begin(pool).await?;
    let row = query.fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(row.try_get::<Json<T>, _>(0)?.0)
}

// ---------------------------------------------------------------------------------------------
// Funnel

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
/// it to the deal's next event (events ordered by `changed_at`, then id).
const FUNNEL: &str = r#"
WITH path AS (
    SELECT id, name, position
      FROM stages
     WHERE workspace_id = $1 AND pipeline_id = $2 AND position IS NOT NULL AND kind IN ('open', 'won')
),
cohort AS (
    SELECT d.id, d.stage_id, d.status, d.amount_cents
      FROM deals d
     WHERE d.workspace_id = $1 AND d.pipeline_id = $2 AND d.created_at >= $3 AND d.created_at < $4
       AND NOT EXISTS (SELECT 1 FROM customers x
                        WHERE x.workspace_id = $1 AND x.id = d.customer_id AND x.deleted_at IS NOT NULL)
       AND ($5::uuid IS NULL OR d.owner_id = $5)
       AND ($6::uuid IS NULL OR $6 = (SELECT a.first_channel_id FROM customer_activity a
                                       WHERE a.workspace_id = $1 AND a.customer_id = d.customer_id))
),
events AS (
    SELECT k.id AS deal_id, e.to_stage_id,
           (extract(epoch FROM e.left_at) - extract(epoch FROM e.changed_at))::float8 / 3600 AS hours
      FROM cohort k
     CROSS JOIN LATERAL (
         SELECT e.to_stage_id, e.changed_at,
                lead(e.changed_at) OVER (ORDER BY e.changed_at, e.id) AS left_at
           FROM deal_stage_events e
          WHERE e.workspace_id = $1 AND e.deal_id = k.id
     ) e
),
reached_positions AS (
    SELECT e.deal_id, max(p.position) AS reach
      FROM events e
      JOIN path p ON p.id = e.to_stage_id
     GROUP BY e.deal_id
),
-- Cohort deals by the furthest path position they reached (null: none) and status.
by_reach AS (
    SELECT r.reach, k.status, count(*) AS n, sum(k.amount_cents) AS amount
      FROM cohort k
      LEFT JOIN reached_positions r ON r.deal_id = k.id
     GROUP BY r.reach, k.status
),
stays AS (
    SELECT e.to_stage_id AS stage_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY e.hours) AS median
      FROM events e
     WHERE e.hours IS NOT NULL
     GROUP BY e.to_stage_id
),
passed AS (
    SELECT p.id, p.name, p.position,
           coalesce(sum(b.n), 0)::bigint AS reached, coalesce(sum(b.amount), 0) AS amount
      FROM path p
      LEFT JOIN by_reach b ON b.reach >= p.position
     GROUP BY p.id, p.name, p.position
),
currents AS (
    SELECT stage_id, count(*) AS n FROM cohort GROUP BY stage_id
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

pub async fn funnel(
    pool: &PgPool,
    ws: WorkspaceId,
    cx: &Context,
    filter: &FunnelFilter,
) -> sqlx::Result<FunnelFigures> {
    let q = sqlx::query(FUNNEL)
        .bind(ws.0)
        .bind(filter.pipeline_id)
        .bind(cx.from)
        .bind(cx.to)
        .bind(filter.owner_id)
        .bind(filter.channel_id);
    figures(pool, q).await
}

// ---------------------------------------------------------------------------------------------
// Segments

/// What customers are grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    Country,
    Kind,
    Owner,
    Tag,
    Channel,
    /// A custom field (`attr.<key>`), as text.
    Attribute(String),
}

impl Dimension {
    fn code(&self) -> &'static str {
        match self {
            Dimension::Country => "country",
            Dimension::Kind => "kind",
            Dimension::Owner => "owner",
            Dimension::Tag => "tag",
            Dimension::Channel => "channel",
            Dimension::Attribute(_) => "attr",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SegmentFigures {
    /// Customers of the group created before `to` (for `channel`: distinct customers with an
    /// interaction on it in the window).
    pub customers: i64,
    /// Those with at least one interaction in the window.
    pub active_customers: i64,
    /// Their interactions in the window.
    pub interactions: i64,
    /// Their purchases in the window.
    pub purchases: i64,
    /// Sum of `value_cents` of those purchases.
    pub revenue_cents: SumCents,
}

/// Written flat (`{key, customers, ...}`); read from the statement nested (`{key, figures}`),
/// since a flattened field is read through serde's buffer, which holds no 128-bit integer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(from = "NestedSegmentGroup")]
pub struct SegmentGroup {
    /// The group's key (a channel id for `channel`, an owner id for `owner`); `null`: customers
    /// without a value.
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: SegmentFigures,
}

#[derive(Deserialize)]
struct NestedSegmentGroup {
    key: Option<String>,
    figures: SegmentFigures,
}

impl From<NestedSegmentGroup> for SegmentGroup {
    fn from(g: NestedSegmentGroup) -> Self {
        SegmentGroup { key: g.key, figures: g.figures }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentsFigures {
    /// By `revenue_cents` desc, `customers` desc, key asc, `null` last.
    pub groups: Vec<SegmentGroup>,
    /// The same figures over every customer of the workspace (groups may overlap: tags).
    pub totals: SegmentFigures,
}

/// Per live customer created before `to`: its interactions in the window, summed once; the
/// totals come from that set, the groups from the same rows spread over their keys.
const SEGMENTS_BY_CUSTOMER: &str = r#"
WITH live AS (
    SELECT c.id,
           CASE $4
               WHEN 'country' THEN ARRAY[c.country]
               WHEN 'kind' THEN ARRAY[c.kind]
               WHEN 'owner' THEN ARRAY[c.owner_id::text]
               WHEN 'tag' THEN CASE WHEN cardinality(c.tags) = 0 THEN ARRAY[NULL::text] ELSE c.tags END
               ELSE ARRAY[c.attributes ->> $5]
           END AS keys
      FROM customers c
     WHERE c.workspace_id = $1 AND c.deleted_at IS NULL AND c.created_at < $3
),
activity AS (
    SELECT i.customer_id, count(*) AS interactions,
           count(*) FILTER (WHERE i.kind = 'purchase') AS purchases,
           coalesce(sum(i.value_cents) FILTER (WHERE i.kind = 'purchase'), 0) AS revenue
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3
     GROUP BY i.customer_id
),
per_customer AS (
    SELECT l.keys, a.interactions, a.purchases, a.revenue
      FROM live l
      LEFT JOIN activity a ON a.customer_id = l.id
),
groups AS (
    SELECT k.key, count(*) AS customers, count(p.interactions) AS active,
           coalesce(sum(p.interactions), 0)::bigint AS interactions,
           coalesce(sum(p.purchases), 0)::bigint AS purchases,
           coalesce(sum(p.revenue), 0) AS revenue
      FROM per_customer p
     CROSS JOIN LATERAL unnest(p.keys) WITH ORDINALITY AS k (key, n)
     -- A key counts once per customer (at its first place), should tags ever repeat.
     WHERE array_position(p.keys, k.key) = k.n
     GROUP BY k.key
)
SELECT json_build_object(
    'groups', coalesce((
        SELECT json_agg(json_build_object(
                   'key', g.key, 'figures', json_build_object('customers', g.customers, 'active_customers', g.active,
                   'interactions', g.interactions, 'purchases', g.purchases, 'revenue_cents', g.revenue))
                 ORDER BY g.revenue DESC, g.customers DESC, g.key COLLATE "C" ASC NULLS LAST)
          FROM groups g), '[]'),
    'totals', (
        SELECT json_build_object(
                   'customers', count(*), 'active_customers', count(p.interactions),
                   'interactions', coalesce(sum(p.interactions), 0)::bigint,
                   'purchases', coalesce(sum(p.purchases), 0)::bigint,
                   'revenue_cents', coalesce(sum(p.revenue), 0))
          FROM per_customer p))
"#;

/// Groups are channels, each counting only its own interactions in the window (of live
/// customers); the totals are those of the customer dimensions.
const SEGMENTS_BY_CHANNEL: &str = r#"
WITH per_channel_customer AS (
    SELECT i.channel_id, i.customer_id, count(*) AS interactions,
           count(*) FILTER (WHERE i.kind = 'purchase') AS purchases,
           coalesce(sum(i.value_cents) FILTER (WHERE i.kind = 'purchase'), 0) AS revenue
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = i.customer_id AND x.deleted_at IS NOT NULL)
     GROUP BY i.channel_id, i.customer_id
),
groups AS (
    SELECT channel_id::text AS key, count(*) AS customers, sum(interactions)::bigint AS interactions,
           sum(purchases)::bigint AS purchases, sum(revenue) AS revenue
      FROM per_channel_customer
     GROUP BY channel_id
),
-- The totals count customers created before `to`: leave out the (usually few) created later.
late AS (
    SELECT id FROM customers WHERE workspace_id = $1 AND deleted_at IS NULL AND created_at >= $3
),
per_customer AS (
    SELECT customer_id, sum(interactions) AS interactions, sum(purchases) AS purchases, sum(revenue) AS revenue
      FROM per_channel_customer
     WHERE customer_id NOT IN (SELECT id FROM late)
     GROUP BY customer_id
),
totals AS (
    SELECT (SELECT count(*) FROM customers
             WHERE workspace_id = $1 AND deleted_at IS NULL AND created_at < $3) AS customers,
           count(*) AS active, coalesce(sum(p.interactions), 0)::bigint AS interactions,
           coalesce(sum(p.purchases), 0)::bigint AS purchases, coalesce(sum(p.revenue), 0) AS revenue
      FROM per_customer p
)
SELECT json_build_object(
    'groups', coalesce((
        SELECT json_agg(json_build_object(
                   'key', g.key, 'figures', json_build_object('customers', g.customers,
                   'active_customers', g.customers, 'interactions', g.interactions, 'purchases', g.purchases,
                   'revenue_cents', g.revenue))
                 ORDER BY g.revenue DESC, g.customers DESC, g.key COLLATE "C" ASC)
          FROM groups g), '[]'),
    'totals', (
        SELECT json_build_object(
                   'customers', t.customers, 'active_customers', t.active, 'interactions', t.interactions,
                   'purchases', t.purchases, 'revenue_cents', t.revenue)
          FROM totals t))
"#;

pub async fn segments(
    pool: &PgPool,
    ws: WorkspaceId,
    cx: &Context,
    dimension: &Dimension,
) -> sqlx::Result<SegmentsFigures> {
    let sql = if *dimension == Dimension::Channel { SEGMENTS_BY_CHANNEL } else { SEGMENTS_BY_CUSTOMER };
    let key = match dimension {
        Dimension::Attribute(k) => Some(k.as_str()),
        _ => None,
    };
    let mut q = sqlx::query(sql).bind(ws.0).bind(cx.from).bind(cx.to);
    if *dimension != Dimension::Channel {
        q = q.bind(dimension.code()).bind(key);
    }
    figures(pool, q).await
}

// ---------------------------------------------------------------------------------------------
// RFM

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RfmFigures {
    /// Customers with at least one purchase before `as_of`.
    pub customers: i64,
    /// All seven segments, in the order champions, loyal, new, promising, at_risk,
    /// hibernating, lost.
    pub segments: Vec<RfmSegment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RfmSegment {
    #[schema(example = "champions")]
    pub segment: String,
    pub customers: i64,
    /// Sum of the `monetary_cents` of its customers.
    pub revenue_cents: SumCents,
}

/// One customer's RFM figures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RfmCustomer {
    pub customer_id: Uuid,
    /// Whole days (floor) from its last purchase to `as_of`.
    pub recency_days: i64,
    /// Number of purchases.
    pub frequency: i64,
    /// Sum of their `value_cents`.
    pub monetary_cents: SumCents,
    /// Scores 1..5 (`ntile(5)` over every customer with a purchase).
    pub r: i32,
    pub f: i32,
    pub m: i32,
    #[schema(example = "loyal")]
    pub segment: String,
}

/// `$1` workspace, `$2` as_of.
/// `$1` workspace, `$2` as_of: per customer with a purchase before as_of, its last purchase,
/// count and value. They come from the `customer_activity` rollup, except for the customers
/// with a purchase at or after `as_of` (the rollup counts those too), recomputed from their
/// interactions: as of now that is nobody or a few; long ago, nearly everyone.
const RFM_BOUGHT: &str = r#"
WITH late AS MATERIALIZED (
    SELECT DISTINCT i.customer_id
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.kind = 'purchase' AND i.occurred_at >= $2
),
bought AS MATERIALIZED (
    SELECT a.customer_id, a.last_purchase_at AS last_at, a.purchases AS frequency, a.purchase_value AS monetary
      FROM customer_activity a
     WHERE a.workspace_id = $1 AND a.purchases > 0
       AND a.customer_id NOT IN (SELECT customer_id FROM late)
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = a.customer_id AND x.deleted_at IS NOT NULL)
    UNION ALL
    SELECT i.customer_id, max(i.occurred_at), count(*), coalesce(sum(i.value_cents), 0)
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.kind = 'purchase' AND i.occurred_at < $2
       AND i.customer_id IN (SELECT customer_id FROM late)
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = i.customer_id AND x.deleted_at IS NOT NULL)
     GROUP BY i.customer_id
),
"#;

const RFM_SCORED: &str = r#"
scored AS (
    SELECT b.*,
           ntile(5) OVER (ORDER BY b.last_at, b.customer_id) AS r,
           ntile(5) OVER (ORDER BY b.frequency, b.customer_id) AS f,
           ntile(5) OVER (ORDER BY b.monetary, b.customer_id) AS m
      FROM bought b
),
segmented AS (
    SELECT s.*,
           CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
                WHEN r >= 3 AND f >= 3 THEN 'loyal'
                WHEN r >= 4 AND f <= 2 THEN 'new'
                WHEN r = 3 AND f <= 2 THEN 'promising'
                WHEN r <= 2 AND f >= 3 THEN 'at_risk'
                WHEN r = 2 AND f <= 2 THEN 'hibernating'
                ELSE 'lost'
           END AS segment
      FROM scored s
)
"#;

const RFM_SUMMARY: &str = r#"
SELECT json_build_object(
    'customers', (SELECT count(*) FROM segmented),
    'segments', (
        SELECT json_agg(json_build_object('segment', n.segment, 'customers', coalesce(g.customers, 0),
                                          'revenue_cents', coalesce(g.revenue, 0)) ORDER BY n.ord)
          FROM (VALUES (1, 'champions'), (2, 'loyal'), (3, 'new'), (4, 'promising'), (5, 'at_risk'),
                       (6, 'hibernating'), (7, 'lost')) AS n (ord, segment)
          LEFT JOIN (SELECT segment, count(*) AS customers, sum(monetary) AS revenue
                       FROM segmented GROUP BY segment) g ON g.segment = n.segment))
"#;

/// One customer: its 0-based rank in each order, counted, gives the tile `ntile(5)` would give
/// it (the first N % 5 tiles hold one row more), without sorting every customer.
const RFM_ONE: &str = r#"
me AS (
    SELECT * FROM bought WHERE customer_id = $3
),
ranks AS (
    SELECT me.*, n.n,
           (SELECT count(*) FROM bought b WHERE (b.last_at, b.customer_id) < (me.last_at, me.customer_id)) AS r_rank,
           (SELECT count(*) FROM bought b WHERE (b.frequency, b.customer_id) < (me.frequency, me.customer_id)) AS f_rank,
           (SELECT count(*) FROM bought b WHERE (b.monetary, b.customer_id) < (me.monetary, me.customer_id)) AS m_rank
      FROM me, (SELECT count(*) AS n FROM bought) n
),
tiles AS (
    SELECT ranks.*, t.r, t.f, t.m
      FROM ranks,
           LATERAL (SELECT n / 5 AS per, n % 5 AS extra) s,
           LATERAL (SELECT CASE WHEN r_rank < s.extra * (s.per + 1) THEN r_rank / (s.per + 1)
                                ELSE s.extra + (r_rank - s.extra * (s.per + 1)) / s.per END + 1 AS r,
                           CASE WHEN f_rank < s.extra * (s.per + 1) THEN f_rank / (s.per + 1)
                                ELSE s.extra + (f_rank - s.extra * (s.per + 1)) / s.per END + 1 AS f,
                           CASE WHEN m_rank < s.extra * (s.per + 1) THEN m_rank / (s.per + 1)
                                ELSE s.extra + (m_rank - s.extra * (s.per + 1)) / s.per END + 1 AS m) t
)
SELECT json_build_object(
    'customer_id', customer_id,
    'recency_days', floor((extract(epoch FROM $2::timestamptz) - extract(epoch FROM last_at)) / 86400)::bigint,
    'frequency', frequency, 'monetary_cents', monetary, 'r', r, 'f', f, 'm', m,
    'segment', CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
                    WHEN r >= 3 AND f >= 3 THEN 'loyal'
                    WHEN r >= 4 AND f <= 2 THEN 'new'
                    WHEN r = 3 AND f <= 2 THEN 'promising'
                    WHEN r <= 2 AND f >= 3 THEN 'at_risk'
                    WHEN r = 2 AND f <= 2 THEN 'hibernating'
                    ELSE 'lost' END)
  FROM tiles
"#;

pub async fn rfm(pool: &PgPool, ws: WorkspaceId, as_of: DateTime<Utc>) -> sqlx::Result<RfmFigures> {
    let sql = format!("{RFM_BOUGHT}{RFM_SCORED}{RFM_SUMMARY}");
    figures(pool, sqlx::query(&sql).bind(ws.0).bind(as_of)).await
}

pub async fn rfm_customer(
    pool: &PgPool,
    ws: WorkspaceId,
    as_of: DateTime<Utc>,
    customer_id: Uuid,
) -> sqlx::Result<Option<RfmCustomer>> {
    let sql = format!("{RFM_BOUGHT}{RFM_ONE}");
    let q = sqlx::query(&sql).bind(ws.0).bind(as_of).bind(customer_id);
    let mut tx = begin(pool).await?;
    let row = q.fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    row.map(|r| r.try_get::<Json<RfmCustomer>, _>(0).map(|j| j.0)).transpose()
}

// ---------------------------------------------------------------------------------------------
// Cohorts

/// A calendar period, cut in the workspace's timezone; weeks start on Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CohortsFigures {
    /// Oldest first; only cohorts with customers.
    pub cohorts: Vec<Cohort>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cohort {
    /// The first day of the period, `YYYY-MM-DD`.
    #[schema(example = "2026-01-01")]
    pub cohort: String,
    pub size: i64,
    pub retention: Vec<Retention>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Retention {
    pub offset: i64,
    /// Cohort customers with at least one interaction in period cohort + offset.
    pub active: i64,
    /// active / size.
    pub rate: f64,
}

/// `$1` workspace, `[$2, $3)` window, `$4` timezone, `$5` period. Periods are local timestamps
/// (`date_trunc` of the local time); a period starts at that local midnight in the timezone.
/// Each customer's first interaction comes from the `customer_activity` rollup.
const COHORTS: &str = r#"
WITH firsts AS (
    SELECT a.customer_id, date_trunc($5, a.first_at AT TIME ZONE $4) AS cohort
      FROM customer_activity a
     WHERE a.workspace_id = $1
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = a.customer_id AND x.deleted_at IS NOT NULL)
),
members AS (
    SELECT customer_id, cohort
      FROM firsts
     WHERE cohort AT TIME ZONE $4 >= $2 AND cohort AT TIME ZONE $4 < $3
),
sizes AS (
    SELECT cohort, count(*) AS size FROM members GROUP BY cohort
),
activity AS (
    SELECT cohort, period, count(*) AS active
      FROM (SELECT DISTINCT m.cohort, m.customer_id, date_trunc($5, i.occurred_at AT TIME ZONE $4) AS period
              FROM members m
              JOIN interactions i ON i.workspace_id = $1 AND i.customer_id = m.customer_id) AS visits
     GROUP BY cohort, period
),
grid AS (
    SELECT s.cohort, s.size, g.period, row_number() OVER (PARTITION BY s.cohort ORDER BY g.period) - 1 AS k
      FROM sizes s
     CROSS JOIN LATERAL generate_series(s.cohort, $3 AT TIME ZONE $4, ('1 ' || $5)::interval) AS g (period)
     WHERE g.period AT TIME ZONE $4 < $3
),
cohort_rows AS (
    SELECT g.cohort, g.size,
           json_agg(json_build_object('offset', g.k, 'active', coalesce(a.active, 0),
                                      'rate', coalesce(a.active, 0)::float8 / g.size) ORDER BY g.k) AS retention
      FROM grid g
      LEFT JOIN activity a ON a.cohort = g.cohort AND a.period = g.period
     GROUP BY g.cohort, g.size
)
SELECT json_build_object('cohorts', coalesce((
    SELECT json_agg(json_build_object('cohort', to_char(cohort, 'YYYY-MM-DD'), 'size', size, 'retention', retention)
                    ORDER BY cohort)
      FROM cohort_rows), '[]'))
"#;

pub async fn cohorts(pool: &PgPool, ws: WorkspaceId, cx: &Context, period: Period) -> sqlx::Result<CohortsFigures> {
    let q = sqlx::query(COHORTS).bind(ws.0).bind(cx.from).bind(cx.to).bind(&cx.timezone).bind(period.as_str());
    figures(pool, q).await
}

// ---------------------------------------------------------------------------------------------
// Interaction series

/// What an interaction series is split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeriesGroup {
    Channel,
    Kind,
    Direction,
}

impl SeriesGroup {
    fn as_str(self) -> &'static str {
        match self {
            SeriesGroup::Channel => "channel",
            SeriesGroup::Kind => "kind",
            SeriesGroup::Direction => "direction",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeriesFigures {
    /// One series per group with an interaction in the window (by group), or one series with
    /// group `null` when not grouped.
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Series {
    /// A channel id, a kind or a direction; `null` when not grouped.
    pub group: Option<String>,
    /// Every bucket that starts in the window, oldest first, zero-filled.
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoint {
    /// The bucket's first day, `YYYY-MM-DD`.
    #[schema(example = "2026-11-23")]
    pub bucket: String,
    /// Interactions in the window and in this bucket.
    pub count: i64,
    /// Sum of `value_cents` of the purchases among them.
    pub value_cents: SumCents,
}

/// `$1` workspace, `[$2, $3)` window, `$4` timezone, `$5` bucket, `$6` group (or null).
const SERIES: &str = r#"
WITH hits AS (
    SELECT CASE $6 WHEN 'channel' THEN i.channel_id::text WHEN 'kind' THEN i.kind WHEN 'direction' THEN i.direction END AS grp,
           date_trunc($5, i.occurred_at AT TIME ZONE $4) AS bucket,
           i.value_cents
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = i.customer_id AND x.deleted_at IS NOT NULL)
),
counts AS (
    SELECT grp, bucket, count(*) AS n, coalesce(sum(value_cents), 0) AS value FROM hits GROUP BY grp, bucket
),
groups AS (
    SELECT DISTINCT grp FROM counts
    UNION
    SELECT NULL WHERE $6::text IS NULL
),
buckets AS (
    SELECT b
      FROM generate_series(date_trunc($5, $2 AT TIME ZONE $4), $3 AT TIME ZONE $4, ('1 ' || $5)::interval) AS s (b)
     WHERE b AT TIME ZONE $4 >= $2 AND b AT TIME ZONE $4 < $3
),
series AS (
    SELECT g.grp,
           coalesce(json_agg(json_build_object('bucket', to_char(b.b, 'YYYY-MM-DD'), 'count', coalesce(c.n, 0),
                                               'value_cents', coalesce(c.value, 0)) ORDER BY b.b)
                        FILTER (WHERE b.b IS NOT NULL), '[]') AS points
      FROM groups g
      LEFT JOIN buckets b ON true
      LEFT JOIN counts c ON coalesce(c.grp, '') = coalesce(g.grp, '') AND c.bucket = b.b
     GROUP BY g.grp
)
SELECT json_build_object('series', coalesce((
    SELECT json_agg(json_build_object('group', grp, 'points', points) ORDER BY grp COLLATE "C")
      FROM series), '[]'))
"#;

pub async fn series(
    pool: &PgPool,
    ws: WorkspaceId,
    cx: &Context,
    bucket: Period,
    group: Option<SeriesGroup>,
) -> sqlx::Result<SeriesFigures> {
    let q = sqlx::query(SERIES)
        .bind(ws.0)
        .bind(cx.from)
        .bind(cx.to)
        .bind(&cx.timezone)
        .bind(bucket.as_str())
        .bind(group.map(SeriesGroup::as_str));
    figures(pool, q).await
}

/// How many buckets of `period` start in the window (an upper bound, computed without the
/// timezone: a day is at least 23 hours, a week 167 hours, a month 28 days minus an hour).
pub fn bucket_bound(cx: &Context, period: Period) -> i64 {
    let hours = (cx.to - cx.from).num_hours().max(0);
    let per = match period {
        Period::Day => 23,
        Period::Week => 7 * 24 - 1,
        Period::Month => 28 * 24 - 1,
    };
    hours / per + 1
}

// ---------------------------------------------------------------------------------------------
// Basket

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BasketFigures {
    /// Purchases in the window with at least one item.
    pub baskets: i64,
    /// By support desc, lift desc, a, b.
    pub pairs: Vec<BasketPair>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BasketPair {
    /// The smaller item (code point order).
    pub a: String,
    pub b: String,
    /// Baskets holding both.
    pub count: i64,
    /// count / baskets.
    pub support: f64,
    /// count / baskets holding a.
    pub confidence_a_b: f64,
    /// count / baskets holding b.
    pub confidence_b_a: f64,
    /// count × baskets / (baskets holding a × baskets holding b).
    pub lift: f64,
}

/// `$1` workspace, `[$2, $3)` window, `$4` min_support (decimal text), `$5` limit.
const BASKET: &str = r#"
-- Identical baskets are counted once, with their number `w`: the pairs of a basket are then
-- enumerated once per distinct item list rather than once per purchase.
WITH baskets AS MATERIALIZED (
    SELECT i.items, count(*) AS w
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.kind = 'purchase' AND i.items <> '{}'
       AND i.occurred_at >= $2 AND i.occurred_at < $3
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = i.customer_id AND x.deleted_at IS NOT NULL)
     GROUP BY i.items
),
total AS (
    SELECT coalesce(sum(w), 0)::bigint AS n FROM baskets
),
-- An item counts once per basket: at its first place in the array.
singles AS (
    SELECT u.item COLLATE "C" AS item, sum(b.w)::bigint AS n
      FROM baskets b
     CROSS JOIN LATERAL unnest(b.items) WITH ORDINALITY AS u (item, k)
     WHERE array_position(b.items, u.item) = u.k
     GROUP BY 1
),
pairs AS (
    SELECT x.item COLLATE "C" AS a, y.item COLLATE "C" AS b, sum(bs.w)::bigint AS n
      FROM baskets bs
     CROSS JOIN LATERAL unnest(bs.items) WITH ORDINALITY AS x (item, k)
     CROSS JOIN LATERAL unnest(bs.items) WITH ORDINALITY AS y (item, l)
     WHERE x.item COLLATE "C" < y.item COLLATE "C"
       AND array_position(bs.items, x.item) = x.k AND array_position(bs.items, y.item) = y.l
     GROUP BY 1, 2
),
scored AS (
    SELECT p.a, p.b, p.n, p.n::float8 / t.n AS support,
           p.n::float8 / sa.n AS confidence_a_b, p.n::float8 / sb.n AS confidence_b_a,
           (p.n * t.n)::float8 / (sa.n * sb.n)::float8 AS lift
      FROM pairs p
     CROSS JOIN total t
      JOIN singles sa ON sa.item = p.a
      JOIN singles sb ON sb.item = p.b
     -- support >= min_support, decided exactly: n >= min_support × N in numeric.
     WHERE p.n >= $4::numeric * t.n
     ORDER BY p.n DESC, lift DESC, p.a, p.b
     LIMIT $5
)
SELECT json_build_object(
    'baskets', (SELECT n FROM total),
    'pairs', coalesce((
        SELECT json_agg(json_build_object('a', a, 'b', b, 'count', n, 'support', support,
                                          'confidence_a_b', confidence_a_b, 'confidence_b_a', confidence_b_a,
                                          'lift', lift) ORDER BY n DESC, lift DESC, a, b)
          FROM scored), '[]'))
"#;

pub async fn basket(
    pool: &PgPool,
    ws: WorkspaceId,
    cx: &Context,
    min_support: &crate::domain::Proportion,
    limit: i64,
) -> sqlx::Result<BasketFigures> {
    let q = sqlx::query(BASKET).bind(ws.0).bind(cx.from).bind(cx.to).bind(min_support.as_decimal()).bind(limit);
    figures(pool, q).await
}
