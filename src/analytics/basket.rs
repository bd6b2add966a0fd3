//! Basket analysis: pairs of items bought together (ANALYTICS.md, "Basket").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{figures, resolve, Context, Window};
use crate::domain::WorkspaceId;
use crate::error::{ApiError, FieldError};
use sqlx::PgPool;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BasketQuery {
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub to: Option<String>,
    /// Smallest support of a pair reported, 0 to 1, compared exactly as the decimal given.
    /// Default: 0.01.
    #[param(value_type = Option<f64>, minimum = 0.0, maximum = 1.0)]
    #[serde(default, deserialize_with = "crate::domain::numbers::decimal_text")]
    pub min_support: Option<String>,
    /// Most pairs reported, 1 to 200. Default: 20.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Pairs of items bought together.
#[derive(Debug, Serialize, ToSchema)]
pub struct BasketReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: BasketFigures,
}

/// The basket's parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketParams {
    pub window: Window,
    pub min_support: crate::domain::Proportion,
    pub limit: i64,
}

impl BasketParams {
    pub fn parse(q: BasketQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let window = Window::parse(q.from.as_deref(), q.to.as_deref(), &mut errors);
        let min_support = crate::domain::Proportion::parse("min_support", q.min_support.as_deref().unwrap_or("0.01"))
            .map_err(|e| errors.push(e))
            .ok();
        let limit = q.limit.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            errors.push(FieldError::new("limit", "must be 1 to 200"));
        }
        match min_support {
            Some(min_support) if errors.is_empty() => Ok(BasketParams { window, min_support, limit }),
            _ => Err(errors),
        }
    }
}

impl BasketParams {
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<BasketReport, ApiError> {
        let p = self;
        let cx = resolve(pool, ws, &p.window, None).await?;
        let figures = basket(pool, ws, &cx, &p.min_support, p.limit).await?;
        Ok(BasketReport { from: cx.from, to: cx.to, figures })
    }
}

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

async fn basket(
    pool: &PgPool,
    ws: WorkspaceId,
    cx: &Context,
    min_support: &crate::domain::Proportion,
    limit: i64,
) -> sqlx::Result<BasketFigures> {
    let q = sqlx::query(BASKET).bind(ws.0).bind(cx.from).bind(cx.to).bind(min_support.as_decimal()).bind(limit);
    figures(pool, q).await
}
