//! Interaction series: interactions per bucket of a window, zero-filled (ANALYTICS.md, "Interaction series").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{bucket_bound, Period, MAX_BUCKETS};
use super::{figures, resolve, Context, Window};
use crate::domain::{SumCents, WorkspaceId};
use crate::error::{ApiError, FieldError};
use sqlx::PgPool;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// `day`, `week` (starting Monday) or `month`, in the workspace's timezone. Default: `day`.
    pub bucket: Option<Period>,
    /// One series per channel (id), kind or direction; default: one series.
    pub group_by: Option<SeriesGroup>,
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub to: Option<String>,
}

/// Interactions per bucket (and group).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesReport {
    pub bucket: Period,
    pub group_by: Option<SeriesGroup>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: SeriesFigures,
}

/// The series' parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesParams {
    pub bucket: Period,
    pub group_by: Option<SeriesGroup>,
    pub window: Window,
}

impl SeriesParams {
    pub fn parse(q: SeriesQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let window = Window::parse(q.from.as_deref(), q.to.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SeriesParams { bucket: q.bucket.unwrap_or(Period::Day), group_by: q.group_by, window })
    }
}

impl SeriesParams {
    /// The series (at most 5,000 buckets in the window: `400` beyond).
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<SeriesReport, ApiError> {
        let p = self;
        let cx = resolve(pool, ws, &p.window, None).await?;
        if bucket_bound(&cx, p.bucket) > MAX_BUCKETS {
            return Err(ApiError::malformed_field("from", format!("the window holds more than {MAX_BUCKETS} buckets")));
        }
        let figures = series(pool, ws, &cx, p.bucket, p.group_by).await?;
        Ok(SeriesReport { bucket: p.bucket, group_by: p.group_by, from: cx.from, to: cx.to, figures })
    }
}

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
    /// The channel's name (as it is now) when grouped by `channel`; else `null`.
    #[serde(default)]
    pub label: Option<String>,
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
///
/// Every interaction of the window is counted in its bucket (those before the first listed
/// bucket in a bucket not listed: they only make their group listed). Each UTC hour of the
/// window is read from the `interaction_hours` rollup (with its pending changes) when the
/// window holds it whole and one bucket holds it whole, taking out the interactions of
/// soft-deleted customers (the rollup counts them); the rest (the window's partial first and
/// last hours, and hours a local boundary cuts, in zones whose offset is not whole hours) is
/// read from the interactions.
const SERIES: &str = r#"
WITH buckets AS (
    SELECT b
      FROM generate_series(date_trunc($5, $2 AT TIME ZONE $4), $3 AT TIME ZONE $4, ('1 ' || $5)::interval) AS s (b)
     WHERE b AT TIME ZONE $4 >= $2 AND b AT TIME ZONE $4 < $3
),
hours AS MATERIALIZED (
    SELECT h, lo, hi, date_trunc($5, h AT TIME ZONE $4) AS bucket,
           lo = h AND hi = h + interval '1 hour'
           AND date_trunc($5, h AT TIME ZONE $4) = date_trunc($5, (hi - interval '1 microsecond') AT TIME ZONE $4) AS whole
      FROM generate_series(date_trunc('hour', $2, 'UTC'), $3 - interval '1 microsecond', interval '1 hour') AS g (h),
           LATERAL (SELECT greatest(h, $2) AS lo, least(h + interval '1 hour', $3) AS hi) r
),
hits AS (
    SELECT CASE $6 WHEN 'channel' THEN r.channel_id::text WHEN 'kind' THEN r.kind WHEN 'direction' THEN r.direction END AS grp,
           h.bucket, r.interactions AS n, r.value_cents AS value
      FROM (SELECT hour, channel_id, kind, direction, interactions, value_cents
              FROM interaction_hours
             WHERE workspace_id = $1 AND hour >= $2 - interval '1 hour' AND hour < $3
            UNION ALL
            SELECT hour, channel_id, kind, direction, interactions, value_cents
              FROM interaction_hour_changes
             WHERE workspace_id = $1 AND hour >= $2 - interval '1 hour' AND hour < $3) r
      JOIN hours h ON h.h = r.hour AND h.whole
    UNION ALL
    SELECT CASE $6 WHEN 'channel' THEN i.channel_id::text WHEN 'kind' THEN i.kind WHEN 'direction' THEN i.direction END,
           h.bucket, -1, -coalesce(i.value_cents, 0)
      FROM customers x
      JOIN interactions i ON i.workspace_id = $1 AND i.customer_id = x.id
      JOIN hours h ON h.h = date_trunc('hour', i.occurred_at, 'UTC') AND h.whole
     WHERE x.workspace_id = $1 AND x.deleted_at IS NOT NULL
       AND i.occurred_at >= $2 AND i.occurred_at < $3
    UNION ALL
    SELECT CASE $6 WHEN 'channel' THEN i.channel_id::text WHEN 'kind' THEN i.kind WHEN 'direction' THEN i.direction END,
           date_trunc($5, i.occurred_at AT TIME ZONE $4), 1, i.value_cents
      FROM hours h
      JOIN interactions i ON i.workspace_id = $1 AND i.occurred_at >= h.lo AND i.occurred_at < h.hi
     WHERE NOT h.whole
       AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.workspace_id = $1 AND x.id = i.customer_id AND x.deleted_at IS NOT NULL)
),
counts AS (
    SELECT grp, bucket, sum(n) AS n, coalesce(sum(value), 0) AS value FROM hits GROUP BY grp, bucket HAVING sum(n) <> 0
),
groups AS (
    SELECT DISTINCT grp FROM counts
    UNION
    SELECT NULL WHERE $6::text IS NULL
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
    SELECT json_agg(json_build_object(
               'group', grp,
               'label', CASE $6 WHEN 'channel' THEN (SELECT ch.name FROM channels ch WHERE ch.workspace_id = $1 AND ch.id::text = grp) END,
               'points', points) ORDER BY grp COLLATE "C")
      FROM series), '[]'))
"#;

async fn series(
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
