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
///
/// Ranks come from `rfm_counts` (migration `0017_rfm_counts.sql`): how many of the rollup's
/// customers with a purchase fall in each bucket of each order, pending changes included
/// (`counted`). The rollup rows that do not count (`excluded`: late or soft-deleted) are taken
/// out of those counts, and the recomputed rows put in, one by one: as of now both are few.
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
excluded AS MATERIALIZED (
    SELECT a.customer_id, a.last_purchase_at AS last_at, a.purchases AS frequency, a.purchase_value AS monetary
      FROM (SELECT customer_id FROM late UNION SELECT id FROM gone) x
      JOIN customer_activity a ON a.workspace_id = $1 AND a.customer_id = x.customer_id
     WHERE a.purchases > 0
),
counted AS NOT MATERIALIZED (
    SELECT dimension, bucket, customers FROM rfm_counts WHERE workspace_id = $1
    UNION ALL
    SELECT dimension, bucket, customers FROM rfm_count_changes WHERE workspace_id = $1
),
n AS (
    SELECT ((SELECT coalesce(sum(customers), 0) FROM counted WHERE dimension = 'F')
            - (SELECT count(*) FROM excluded) + (SELECT count(*) FROM late_bought))::bigint AS n
),
"#;

/// The rollup's rows that count, as a condition on `customer_activity a` (a hashed subplan).
const FROM_ROLLUP: &str =
    "a.workspace_id = $1 AND a.purchases > 0 AND a.customer_id NOT IN (SELECT customer_id FROM excluded)";

/// `ntile(5)` over `n` rows ordered by a key gives tile `t` to the rows of 0-based rank
/// `start(t)` = (t − 1) × (n / 5) + min(t − 1, n % 5) up to `start(t + 1)` (the first n % 5
/// tiles hold one row more; PostgreSQL's `ntile`, ANALYTICS.md "RFM"). So a row's tile is the
/// highest of tiles 2..5 whose first row's key is at or below its own, else 1: four keys per
/// order (`r_bounds`, `f_bounds`).
///
/// Each start is found from the counts: the bucket where the running sum of the counts
/// (`adjusted`: less the excluded rows, plus the recomputed ones) passes it, and its offset
/// there (`located`; for frequency, then the id day within the frequency, `f_located`). The row
/// at that offset of that bucket is read from the rollup's index, merged with the recomputed
/// rows of the bucket ([`BOUND`]): a few hundred rows per start.
const RFM_BOUNDS: &str = r#"
starts AS (
    SELECT t, (t - 1) * (n.n / 5) + least(t - 1, n.n % 5) AS k FROM n, generate_series(2, 5) AS t
),
corrections AS MATERIALIZED (
    SELECT c.sign, rapport_rfm_day(c.last_at) AS r, c.frequency AS f_coarse,
           rapport_rfm_frequency_bucket(c.frequency, c.customer_id) AS f
      FROM (SELECT -1 AS sign, customer_id, frequency, last_at FROM excluded
            UNION ALL
            SELECT 1, customer_id, frequency, last_at FROM late_bought) c
),
adjusted AS MATERIALIZED (
    SELECT dimension, bucket, sum(customers) AS customers
      FROM (SELECT dimension, bucket, customers FROM counted WHERE dimension IN ('r', 'F', 'f')
            UNION ALL
            SELECT 'r', r, sum(sign) FROM corrections GROUP BY r
            UNION ALL
            SELECT 'F', f_coarse, sum(sign) FROM corrections GROUP BY f_coarse
            UNION ALL
            SELECT 'f', f, sum(sign) FROM corrections GROUP BY f) c
     GROUP BY 1, 2
    HAVING sum(customers) <> 0
),
located AS MATERIALIZED (
    SELECT s.t, c.dimension, c.bucket, s.k - c.before AS o
      FROM starts s
      JOIN (SELECT dimension, bucket, customers,
                   sum(customers) OVER (PARTITION BY dimension ORDER BY bucket) - customers AS before
              FROM adjusted WHERE dimension IN ('r', 'F')) c
        ON s.k >= c.before AND s.k < c.before + c.customers
),
f_located AS MATERIALIZED (
    SELECT l.t, c.bucket, l.o - c.before AS o
      FROM located l
      JOIN (SELECT bucket, customers,
                   sum(customers) OVER (PARTITION BY rapport_rfm_bucket_frequency(bucket) ORDER BY bucket) - customers AS before
              FROM adjusted WHERE dimension = 'f') c
        ON rapport_rfm_bucket_frequency(c.bucket) = l.bucket AND l.o >= c.before AND l.o < c.before + c.customers
     WHERE l.dimension = 'F'
),
R_BOUNDS,
F_BOUNDS,
scored AS (
    -- OFFSET 0: each row's tiles are computed once, not once per use below. A row's tile is the
    -- highest whose first key is at or below its own (the first keys increase with the tile; a
    -- tile without rows has none, and neither has any tile above it).
    SELECT b.monetary,
           CASE WHEN (b.last_at, b.customer_id) >= (rb.k5, rb.id5) THEN 5
                WHEN (b.last_at, b.customer_id) >= (rb.k4, rb.id4) THEN 4
                WHEN (b.last_at, b.customer_id) >= (rb.k3, rb.id3) THEN 3
                WHEN (b.last_at, b.customer_id) >= (rb.k2, rb.id2) THEN 2
                ELSE 1 END AS r,
           CASE WHEN (b.frequency, b.customer_id) >= (fb.k5, fb.id5) THEN 5
                WHEN (b.frequency, b.customer_id) >= (fb.k4, fb.id4) THEN 4
                WHEN (b.frequency, b.customer_id) >= (fb.k3, fb.id3) THEN 3
                WHEN (b.frequency, b.customer_id) >= (fb.k2, fb.id2) THEN 2
                ELSE 1 END AS f
      FROM (SELECT a.last_purchase_at AS last_at, a.purchases AS frequency, a.purchase_value AS monetary, a.customer_id
              FROM customer_activity a WHERE FROM_ROLLUP
            UNION ALL
            SELECT last_at, frequency, monetary, customer_id FROM late_bought) b,
           r_bounds rb, f_bounds fb
    OFFSET 0
),
-- The buyers per pair of recency and frequency tiles (25 at most), each pair then named.
segmented AS (
    SELECT SEGMENT AS segment, c.customers, c.revenue
      FROM (SELECT r, f, count(*) AS customers, sum(monetary) AS revenue FROM scored GROUP BY r, f) c
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
          LEFT JOIN (SELECT segment, sum(customers) AS customers, sum(revenue) AS revenue
                       FROM segmented GROUP BY segment) g ON g.segment = s.segment))
"#;

/// One customer (`$3`): its 0-based rank in each order is the number of rows below it: the
/// counts of the buckets below its own (for frequency: the frequencies below its own, then its
/// frequency's id days below its own), the rollup's rows of its own bucket below it (from the
/// order's index), less the excluded rows below it, plus the recomputed rows below it. The rank
/// gives the tile `ntile(5)` would give it (see `RFM_BOUNDS`), without visiting every customer.
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
           (SELECT coalesce(sum(customers), 0)::bigint FROM counted WHERE dimension = 'r' AND bucket < rapport_rfm_day(me.last_at))
         + (SELECT count(*) FROM customer_activity a
             WHERE a.workspace_id = $1 AND a.purchases > 0
               AND a.last_purchase_at >= to_timestamp(rapport_rfm_day(me.last_at) * 86400)
               AND (a.last_purchase_at, a.customer_id) < (me.last_at, me.customer_id))
         - (SELECT count(*) FROM excluded b WHERE (b.last_at, b.customer_id) < (me.last_at, me.customer_id))
         + (SELECT count(*) FROM late_bought b WHERE (b.last_at, b.customer_id) < (me.last_at, me.customer_id)) AS r_rank,
           (SELECT coalesce(sum(customers), 0)::bigint FROM counted WHERE dimension = 'F' AND bucket < me.frequency)
         + (SELECT coalesce(sum(customers), 0)::bigint FROM counted
             WHERE dimension = 'f' AND bucket >= rapport_rfm_frequency_bucket(me.frequency, '00000000-0000-0000-0000-000000000000')
               AND bucket < rapport_rfm_frequency_bucket(me.frequency, me.customer_id))
         + (SELECT count(*) FROM customer_activity a
             WHERE a.workspace_id = $1 AND a.purchases > 0 AND a.purchases = me.frequency
               AND a.customer_id >= rapport_rfm_id_day_start(rapport_rfm_id_day(me.customer_id))
               AND a.customer_id < me.customer_id)
         - (SELECT count(*) FROM excluded b WHERE (b.frequency, b.customer_id) < (me.frequency, me.customer_id))
         + (SELECT count(*) FROM late_bought b WHERE (b.frequency, b.customer_id) < (me.frequency, me.customer_id)) AS f_rank,
           (SELECT coalesce(sum(customers), 0)::bigint FROM counted
             WHERE dimension = 'm' AND bucket < rapport_rfm_value_bucket(me.monetary))
         + (SELECT count(*) FROM customer_activity a
             WHERE a.workspace_id = $1 AND a.purchases > 0
               AND a.purchase_value >= rapport_rfm_value_bucket(me.monetary)
               AND (a.purchase_value, a.customer_id) < (me.monetary, me.customer_id))
         - (SELECT count(*) FROM excluded b WHERE (b.monetary, b.customer_id) < (me.monetary, me.customer_id))
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
    'segment', SEGMENT)
  FROM tiles
"#;

/// A customer's segment from its recency and frequency tiles `r` and `f` (ANALYTICS.md, "RFM"),
/// as an SQL expression.
const SEGMENT: &str = "CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
                            WHEN r >= 3 AND f >= 3 THEN 'loyal'
                            WHEN r >= 4 AND f <= 2 THEN 'new'
                            WHEN r = 3 AND f <= 2 THEN 'promising'
                            WHEN r <= 2 AND f >= 3 THEN 'at_risk'
                            WHEN r = 2 AND f <= 2 THEN 'hibernating'
                            ELSE 'lost' END";

/// The CTE `NAME` holding the keys and ids of the first rows of tiles 2..5 (`k2`, `id2`, …
/// `k5`, `id5`; `null` for a tile without rows) in one order: for each start located in
/// `LOCATED` (its bucket and offset), the row at that offset among the rollup's rows from the
/// bucket's first key on (`KEY` of `customer_activity a`, from `FIRST`, in the order's index)
/// and the recomputed rows of the bucket (`LATE_KEY` of `late_bought`, `LATE_BUCKET`). The
/// rollup's rows past the bucket sort after all of the bucket's, and the bucket holds more than
/// the offset, so they are never picked: the scan needs no upper end.
const BOUND: &str = r#"NAME AS MATERIALIZED (
    SELECT (array_agg(x.key) FILTER (WHERE l.t = 2))[1] AS k2, (array_agg(x.customer_id) FILTER (WHERE l.t = 2))[1] AS id2,
           (array_agg(x.key) FILTER (WHERE l.t = 3))[1] AS k3, (array_agg(x.customer_id) FILTER (WHERE l.t = 3))[1] AS id3,
           (array_agg(x.key) FILTER (WHERE l.t = 4))[1] AS k4, (array_agg(x.customer_id) FILTER (WHERE l.t = 4))[1] AS id4,
           (array_agg(x.key) FILTER (WHERE l.t = 5))[1] AS k5, (array_agg(x.customer_id) FILTER (WHERE l.t = 5))[1] AS id5
      FROM LOCATED l
     CROSS JOIN LATERAL (
           SELECT u.key, u.customer_id
             FROM ((SELECT a.KEY AS key, a.customer_id FROM customer_activity a
                     WHERE FROM_ROLLUP AND FIRST
                     ORDER BY a.KEY, a.customer_id LIMIT l.o + 1)
                   UNION ALL
                   SELECT b.LATE_KEY, b.customer_id FROM late_bought b WHERE LATE_BUCKET) u
            ORDER BY u.key, u.customer_id OFFSET l.o LIMIT 1) x
)"#;

/// The placeholders of [`BOUND`] for the recency order, in the order they are put in.
const R_BOUND: &[(&str, &str)] = &[
    ("NAME", "r_bounds"),
    ("LOCATED", "(SELECT t, bucket, o FROM located WHERE dimension = 'r')"),
    ("FIRST", "a.last_purchase_at >= to_timestamp((l.bucket * 86400)::float8)"),
    ("LATE_BUCKET", "rapport_rfm_day(b.last_at) = l.bucket"),
    ("LATE_KEY", "last_at"),
    ("KEY", "last_purchase_at"),
];

/// The placeholders of [`BOUND`] for the frequency order.
const F_BOUND: &[(&str, &str)] = &[
    ("NAME", "f_bounds"),
    ("LOCATED", "f_located"),
    ("FIRST", "a.purchases = rapport_rfm_bucket_frequency(l.bucket) AND a.customer_id >= rapport_rfm_id_day_start(rapport_rfm_bucket_id_day(l.bucket))"),
    ("LATE_BUCKET", "rapport_rfm_frequency_bucket(b.frequency, b.customer_id) = l.bucket"),
    ("LATE_KEY", "frequency"),
    ("KEY", "purchases"),
];

/// The statement: `parts` joined, with the tile bounds ([`BOUND`] filled in for each order),
/// [`FROM_ROLLUP`] and [`SEGMENT`] put in. (`bench/explain.py` builds it the same way.)
fn statement(parts: &[&str]) -> String {
    let fill = |pairs: &[(&str, &str)]| pairs.iter().fold(BOUND.to_owned(), |sql, (from, to)| sql.replace(from, to));
    parts
        .concat()
        .replace("R_BOUNDS", &fill(R_BOUND))
        .replace("F_BOUNDS", &fill(F_BOUND))
        .replace("FROM_ROLLUP", FROM_ROLLUP)
        .replace("SEGMENT", SEGMENT)
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
