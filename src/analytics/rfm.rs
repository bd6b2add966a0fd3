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

async fn summary(pool: &PgPool, ws: WorkspaceId, as_of: DateTime<Utc>) -> sqlx::Result<RfmFigures> {
    let sql = format!("{RFM_BOUGHT}{RFM_SCORED}{RFM_SUMMARY}");
    figures(pool, sqlx::query(&sql).bind(ws.0).bind(as_of)).await
}

/// One customer's scores as of `as_of` (also the 360° summary's).
pub async fn customer(
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
