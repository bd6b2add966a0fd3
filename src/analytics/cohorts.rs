//! Cohorts: retention of customers by the period of their first interaction (ANALYTICS.md, "Cohorts").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{bucket_bound, Period, MAX_PERIODS};
use super::{figures, resolve, Context, Window};
use crate::domain::WorkspaceId;
use crate::error::{ApiError, FieldError};
use sqlx::PgPool;

/// A cohort period.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CohortPeriod {
    Week,
    Month,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CohortsQuery {
    /// `week` (starting Monday) or `month`, in the workspace's timezone. Default: `month`.
    pub period: Option<CohortPeriod>,
    /// Cohorts whose period starts at or after this: a date or an RFC 3339 timestamp.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub from: Option<String>,
    /// …and before this; retention periods too start before it. Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub to: Option<String>,
}

/// Retention of customers grouped by the period of their first interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct CohortsReport {
    pub period: Period,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: CohortsFigures,
}

/// The cohorts' parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortsParams {
    pub period: Period,
    pub window: Window,
}

impl CohortsParams {
    pub fn parse(q: CohortsQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let window = Window::parse(q.from.as_deref(), q.to.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let period = match q.period.unwrap_or(CohortPeriod::Month) {
            CohortPeriod::Week => Period::Week,
            CohortPeriod::Month => Period::Month,
        };
        Ok(CohortsParams { period, window })
    }
}

impl CohortsParams {
    /// The cohorts (at most 1,000 periods in the window: `400` beyond).
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<CohortsReport, ApiError> {
        let p = self;
        let cx = resolve(pool, ws, &p.window, None).await?;
        if bucket_bound(&cx, p.period) > MAX_PERIODS {
            return Err(ApiError::malformed_field("from", format!("the window holds more than {MAX_PERIODS} periods")));
        }
        let figures = cohorts(pool, ws, &cx, p.period).await?;
        Ok(CohortsReport { period: p.period, from: cx.from, to: cx.to, figures })
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
/// Each customer's first interaction and its active periods come from the `customer_activity`
/// rollup (migration `0021_customer_periods.sql`); a row whose periods are not in the timezone
/// `$4` (a change of zone being converted) is read from its interactions instead.
const COHORTS: &str = r#"
WITH members AS MATERIALIZED (
    SELECT a.customer_id, date_trunc($5, a.first_at AT TIME ZONE $4) AS cohort,
           CASE WHEN a.periods_tz = $4 THEN CASE $5 WHEN 'week' THEN a.active_weeks ELSE a.active_months END END AS periods
      FROM customer_activity a
     WHERE a.workspace_id = $1
       AND date_trunc($5, a.first_at AT TIME ZONE $4) AT TIME ZONE $4 >= $2
       AND date_trunc($5, a.first_at AT TIME ZONE $4) AT TIME ZONE $4 < $3
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = a.customer_id AND x.deleted_at IS NOT NULL)
),
sizes AS (
    SELECT cohort, count(*) AS size FROM members GROUP BY cohort
),
-- Per member, its distinct periods: from the rollup, or (rows in another zone) from its
-- interactions in index order; then counted per cohort and period.
activity AS (
    SELECT a.cohort, a.period, count(*) AS active
      FROM (SELECT m.cohort, p.period::timestamp AS period
              FROM members m
             CROSS JOIN LATERAL unnest(m.periods) AS p (period)
            UNION ALL
            SELECT m.cohort, v.period
              FROM members m
             CROSS JOIN LATERAL (SELECT DISTINCT date_trunc($5, i.occurred_at AT TIME ZONE $4) AS period
                                   FROM interactions i
                                  WHERE i.workspace_id = $1 AND i.customer_id = m.customer_id) v
             WHERE m.periods IS NULL) a
     GROUP BY a.cohort, a.period
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

async fn cohorts(pool: &PgPool, ws: WorkspaceId, cx: &Context, period: Period) -> sqlx::Result<CohortsFigures> {
    let q = sqlx::query(COHORTS).bind(ws.0).bind(cx.from).bind(cx.to).bind(&cx.timezone).bind(period.as_str());
    figures(pool, q).await
}
