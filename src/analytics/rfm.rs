//! RFM: recency, frequency and monetary scores of the customers with a purchase (ANALYTICS.md, "RFM").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{begin, figures, Window};
use crate::domain::{SumCents, WorkspaceId};
use crate::error::{ApiError, FieldError};
use sqlx::types::Json;
use sqlx::PgPool;
use sqlx::Row;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RfmQuery {
    /// Only purchases before this instant count: a date (midnight in the workspace's timezone)
    /// or an RFC 3339 timestamp with an offset. Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub as_of: Option<String>,
    /// One customer's figures instead of the segments (`404` if it has no purchase before
    /// `as_of`).
    pub customer_id: Option<Uuid>,
}

/// RFM segments of the customers with a purchase before `as_of`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RfmReport {
    pub as_of: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: RfmFigures,
}

/// The segments, or one customer's scores with `customer_id`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RfmAnswer {
    Segments(RfmReport),
    Customer(RfmCustomer),
}

/// RFM's parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfmParams {
    /// Default: now.
    pub as_of: Option<crate::domain::Bound>,
    pub customer_id: Option<Uuid>,
}

impl RfmParams {
    pub fn parse(q: RfmQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let as_of = Window::parse(None, q.as_of.as_deref(), &mut errors).to;
        if let Some(e) = errors.first_mut() {
            e.field = "as_of".into();
            return Err(errors);
        }
        Ok(RfmParams { as_of, customer_id: q.customer_id })
    }
}

impl RfmParams {
    /// The segments, or one customer's scores (`404` if it has no purchase before `as_of`).
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<RfmAnswer, ApiError> {
        let p = self;
        let as_of = super::context(pool, ws, None, p.as_of, None).await?.to;
        Ok(match p.customer_id {
            Some(id) => RfmAnswer::Customer(
                customer(pool, ws, as_of, id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound("no customer with a purchase before as_of has this id".into()))?,
            ),
            None => RfmAnswer::Segments(RfmReport { as_of, figures: summary(pool, ws, as_of).await? }),
        })
    }
}

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

/// `$1` workspace, `$2` as_of: the customers with a purchase before as_of ("bought"), each with
/// its last purchase, count and value. They come from the `customer_activity` rollup
/// (`FROM_ROLLUP` below), except for the customers with a purchase at or after `as_of` (the
/// rollup counts those too), recomputed from their interactions (`late_bought`): as of now that
/// is nobody or a few; long ago, nearly everyone. Soft-deleted customers are left out of both.
const RFM_BOUGHT: &str = r#"
WITH late AS MATERIALIZED (
    SELECT DISTINCT i.customer_id
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.kind = 'purchase' AND i.occurred_at >= $2
),
gone AS MATERIALIZED (
    SELECT x.id FROM customers x WHERE x.workspace_id = $1 AND x.deleted_at IS NOT NULL
),
late_bought AS MATERIALIZED (
    SELECT i.customer_id, max(i.occurred_at) AS last_at, count(*) AS frequency,
           coalesce(sum(i.value_cents), 0) AS monetary
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.kind = 'purchase' AND i.occurred_at < $2
       AND i.customer_id IN (SELECT customer_id FROM late)
       AND i.customer_id NOT IN (SELECT id FROM gone)
     GROUP BY i.customer_id
),
n AS (
    SELECT (SELECT count(*) FROM customer_activity a WHERE FROM_ROLLUP) + (SELECT count(*) FROM late_bought) AS n
),
"#;

/// The rollup's rows that count, as a condition on `customer_activity a`: filters (hashed
/// subplans), so that a scan in an index's order stays in that order.
const FROM_ROLLUP: &str = "a.workspace_id = $1 AND a.purchases > 0 \
     AND a.customer_id NOT IN (SELECT customer_id FROM late) AND a.customer_id NOT IN (SELECT id FROM gone)";

/// `ntile(5)` over `n` rows ordered by a key gives tile `t` to the rows of 0-based rank
/// `start(t)` = (t − 1) × (n / 5) + min(t − 1, n % 5) up to `start(t + 1)` (the first n % 5
/// tiles hold one row more; PostgreSQL's `ntile`, ANALYTICS.md "RFM"). So a row's tile is 1 +
/// the number of tiles 2..5 whose first row's key is at or below its own: four keys per order
/// (`r_bounds`, `f_bounds`, see [`bounds`]).
const RFM_BOUNDS: &str = r#"
starts AS (
    SELECT t, (t - 1) * (n.n / 5) + least(t - 1, n.n % 5) AS k FROM n, generate_series(2, 5) AS t
),
R_BOUNDS,
F_BOUNDS,
scored AS (
    -- OFFSET 0: each row's tiles are computed once, not once per use below.
    SELECT b.monetary,
           1 + coalesce((b.last_at, b.customer_id) >= (rb.k2, rb.id2), false)::int
             + coalesce((b.last_at, b.customer_id) >= (rb.k3, rb.id3), false)::int
             + coalesce((b.last_at, b.customer_id) >= (rb.k4, rb.id4), false)::int
             + coalesce((b.last_at, b.customer_id) >= (rb.k5, rb.id5), false)::int AS r,
           1 + coalesce((b.frequency, b.customer_id) >= (fb.k2, fb.id2), false)::int
             + coalesce((b.frequency, b.customer_id) >= (fb.k3, fb.id3), false)::int
             + coalesce((b.frequency, b.customer_id) >= (fb.k4, fb.id4), false)::int
             + coalesce((b.frequency, b.customer_id) >= (fb.k5, fb.id5), false)::int AS f
      FROM (SELECT a.last_purchase_at AS last_at, a.purchases AS frequency, a.purchase_value AS monetary, a.customer_id
              FROM customer_activity a WHERE FROM_ROLLUP
            UNION ALL
            SELECT last_at, frequency, monetary, customer_id FROM late_bought) b,
           r_bounds rb, f_bounds fb
    OFFSET 0
),
segmented AS (
    SELECT monetary,
           CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
                WHEN r >= 3 AND f >= 3 THEN 'loyal'
                WHEN r >= 4 AND f <= 2 THEN 'new'
                WHEN r = 3 AND f <= 2 THEN 'promising'
                WHEN r <= 2 AND f >= 3 THEN 'at_risk'
                WHEN r = 2 AND f <= 2 THEN 'hibernating'
                ELSE 'lost'
           END AS segment
      FROM scored
)
"#;

const RFM_SUMMARY: &str = r#"
SELECT json_build_object(
    'customers', (SELECT n FROM n),
    'segments', (
        SELECT json_agg(json_build_object('segment', s.segment, 'customers', coalesce(g.customers, 0),
                                          'revenue_cents', coalesce(g.revenue, 0)) ORDER BY s.ord)
          FROM (VALUES (1, 'champions'), (2, 'loyal'), (3, 'new'), (4, 'promising'), (5, 'at_risk'),
                       (6, 'hibernating'), (7, 'lost')) AS s (ord, segment)
          LEFT JOIN (SELECT segment, count(*) AS customers, sum(monetary) AS revenue
                       FROM segmented GROUP BY segment) g ON g.segment = s.segment))
"#;

/// One customer (`$3`): its 0-based rank in each order is the number of rows below it, counted
/// in the order's index of `customer_activity` (and among the few recomputed rows), and gives
/// the tile `ntile(5)` would give it (see `RFM_BOUNDS`), without visiting every customer.
const RFM_ONE: &str = r#"
me AS (
    SELECT a.last_purchase_at AS last_at, a.purchases AS frequency, a.purchase_value AS monetary, a.customer_id
      FROM customer_activity a
     WHERE FROM_ROLLUP AND a.customer_id = $3
    UNION ALL
    SELECT last_at, frequency, monetary, customer_id FROM late_bought WHERE customer_id = $3
),
ranks AS MATERIALIZED (
    SELECT me.*, n.n,
           (SELECT count(*) FROM customer_activity a
             WHERE FROM_ROLLUP AND (a.last_purchase_at, a.customer_id) < (me.last_at, me.customer_id))
         + (SELECT count(*) FROM late_bought b WHERE (b.last_at, b.customer_id) < (me.last_at, me.customer_id)) AS r_rank,
           (SELECT count(*) FROM customer_activity a
             WHERE FROM_ROLLUP AND (a.purchases, a.customer_id) < (me.frequency, me.customer_id))
         + (SELECT count(*) FROM late_bought b WHERE (b.frequency, b.customer_id) < (me.frequency, me.customer_id)) AS f_rank,
           (SELECT count(*) FROM customer_activity a
             WHERE FROM_ROLLUP AND (a.purchase_value, a.customer_id) < (me.monetary, me.customer_id))
         + (SELECT count(*) FROM late_bought b WHERE (b.monetary, b.customer_id) < (me.monetary, me.customer_id)) AS m_rank
      FROM me, n
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

/// The CTE `NAME` holding the keys (`KEY` of `customer_activity a`, `LATE_KEY` of
/// `late_bought`) and ids of the first rows of tiles 2..5 (`k2`, `id2`, … `k5`, `id5`; `null`
/// for a tile without rows), found in one pass over the rows in the key's order. Without
/// recomputed rows (the usual case, as of now) that order is the rollup's index (no sort);
/// with some, the rows are merged and sorted. Both branches are planned; a one-time filter runs
/// only the one that applies.
const BOUNDS: &str = r#"NAME AS MATERIALIZED (
    SELECT (array_agg(o.key) FILTER (WHERE s.t = 2))[1] AS k2, (array_agg(o.customer_id) FILTER (WHERE s.t = 2))[1] AS id2,
           (array_agg(o.key) FILTER (WHERE s.t = 3))[1] AS k3, (array_agg(o.customer_id) FILTER (WHERE s.t = 3))[1] AS id3,
           (array_agg(o.key) FILTER (WHERE s.t = 4))[1] AS k4, (array_agg(o.customer_id) FILTER (WHERE s.t = 4))[1] AS id4,
           (array_agg(o.key) FILTER (WHERE s.t = 5))[1] AS k5, (array_agg(o.customer_id) FILTER (WHERE s.t = 5))[1] AS id5
      FROM starts s
      JOIN (SELECT a.KEY AS key, a.customer_id, row_number() OVER (ORDER BY a.KEY, a.customer_id) - 1 AS k
              FROM customer_activity a WHERE FROM_ROLLUP AND NOT EXISTS (SELECT 1 FROM late_bought)
            UNION ALL
            SELECT u.key, u.customer_id, row_number() OVER (ORDER BY u.key, u.customer_id) - 1
              FROM (SELECT a.KEY AS key, a.customer_id FROM customer_activity a WHERE FROM_ROLLUP
                    UNION ALL
                    SELECT LATE_KEY, customer_id FROM late_bought) u
             WHERE EXISTS (SELECT 1 FROM late_bought)) o ON o.k = s.k
)"#;

/// The r and f bounds: [`BOUNDS`] for each order.
fn bounds(name: &str, key: &str, late_key: &str) -> String {
    BOUNDS.replace("NAME", name).replace("LATE_KEY", late_key).replace("KEY", key)
}

/// The statement: `parts` joined, with [`FROM_ROLLUP`] and the tile bounds put in.
fn statement(parts: &[&str]) -> String {
    parts
        .concat()
        .replace("R_BOUNDS", &bounds("r_bounds", "last_purchase_at", "last_at"))
        .replace("F_BOUNDS", &bounds("f_bounds", "purchases", "frequency"))
        .replace("FROM_ROLLUP", FROM_ROLLUP)
}

async fn summary(pool: &PgPool, ws: WorkspaceId, as_of: DateTime<Utc>) -> sqlx::Result<RfmFigures> {
    let sql = statement(&[RFM_BOUGHT, RFM_BOUNDS, RFM_SUMMARY]);
    figures(pool, sqlx::query(&sql).bind(ws.0).bind(as_of)).await
}

/// One customer's scores as of `as_of` (also the 360° summary's).
pub async fn customer(
    pool: &PgPool,
    ws: WorkspaceId,
    as_of: DateTime<Utc>,
    customer_id: Uuid,
) -> sqlx::Result<Option<RfmCustomer>> {
    let sql = statement(&[RFM_BOUGHT, RFM_ONE]);
    let q = sqlx::query(&sql).bind(ws.0).bind(as_of).bind(customer_id);
    let mut tx = begin(pool).await?;
    let row = q.fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    row.map(|r| r.try_get::<Json<RfmCustomer>, _>(0).map(|j| j.0)).transpose()
}
