//! Segments: customers and their activity in a window, by a dimension (ANALYTICS.md, "Segments").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{figures_tuned, resolve, Context, Window};
use crate::domain::{SumCents, WorkspaceId};
use crate::error::{ApiError, FieldError};
use sqlx::PgPool;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SegmentsQuery {
    /// `country`, `kind`, `owner`, `tag` (a customer counts in each of its tags), `channel`, or
    /// `attr.<key>` (a custom field, as text).
    #[param(pattern = r"^(country|kind|owner|tag|channel|attr\.[^\u0000]{1,200})$", example = "country")]
    pub dimension: String,
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub to: Option<String>,
}

fn dimension(text: &str) -> Result<Dimension, FieldError> {
    Ok(match text {
        "country" => Dimension::Country,
        "kind" => Dimension::Kind,
        "owner" => Dimension::Owner,
        "tag" => Dimension::Tag,
        "channel" => Dimension::Channel,
        other => match other.strip_prefix("attr.") {
            Some(key) if !key.is_empty() && key.chars().count() <= 200 && !key.contains('\0') => {
                Dimension::Attribute(crate::domain::nfc(key).into_owned())
            }
            _ => {
                return Err(FieldError::new(
                    "dimension",
                    "must be country, kind, owner, tag, channel or attr.<key> (a key of 1 to 200 characters)",
                ))
            }
        },
    })
}

/// Customers and their activity in the window, grouped.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentsReport {
    #[schema(example = "country")]
    pub dimension: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: SegmentsFigures,
}

/// The segments' parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentsParams {
    pub dimension: Dimension,
    /// As given (echoed in the report).
    pub dimension_name: String,
    pub window: Window,
}

impl SegmentsParams {
    pub fn parse(q: SegmentsQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let dim = dimension(&q.dimension).map_err(|e| errors.push(e)).ok();
        let window = Window::parse(q.from.as_deref(), q.to.as_deref(), &mut errors);
        match dim {
            Some(dimension) if errors.is_empty() => {
                Ok(SegmentsParams { dimension, dimension_name: q.dimension, window })
            }
            _ => Err(errors),
        }
    }
}

impl SegmentsParams {
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<SegmentsReport, ApiError> {
        let p = self;
        let cx = resolve(pool, ws, &p.window, None).await?;
        let figures = segments(pool, ws, &cx, &p.dimension).await?;
        Ok(SegmentsReport { dimension: p.dimension_name.clone(), from: cx.from, to: cx.to, figures })
    }
}

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
    /// What a person calls the key: the channel's name for `channel`, the owner's name for
    /// `owner` (as they are now); `null` for the other dimensions and for a `null` key.
    pub label: Option<String>,
    #[serde(flatten)]
    pub figures: SegmentFigures,
}

#[derive(Deserialize)]
struct NestedSegmentGroup {
    key: Option<String>,
    #[serde(default)]
    label: Option<String>,
    figures: SegmentFigures,
}

impl From<NestedSegmentGroup> for SegmentGroup {
    fn from(g: NestedSegmentGroup) -> Self {
        SegmentGroup { key: g.key, label: g.label, figures: g.figures }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentsFigures {
    /// By `revenue_cents` desc, `customers` desc, key asc, `null` last.
    pub groups: Vec<SegmentGroup>,
    /// The same figures over every customer of the workspace (groups may overlap: tags).
    pub totals: SegmentFigures,
}

/// Its interactions in the window per customer (`activity`), shared by the customer dimensions.
const ACTIVITY: &str = r#"
WITH activity AS (
    SELECT i.customer_id, count(*) AS interactions,
           count(*) FILTER (WHERE i.kind = 'purchase') AS purchases,
           coalesce(sum(i.value_cents) FILTER (WHERE i.kind = 'purchase'), 0) AS revenue
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3
     GROUP BY i.customer_id
),
"#;

/// A dimension of one key per customer (`country`, `kind`, `owner`, `attr.<key>`): each live
/// customer created before `to` counts in its key's group, with its activity; the groups
/// partition the customers, so the totals are their sums.
const SEGMENTS_BY_KEY: &str = r#"
groups AS MATERIALIZED (
    SELECT CASE $4
               WHEN 'country' THEN c.country
               WHEN 'kind' THEN c.kind
               WHEN 'owner' THEN c.owner_id::text
               ELSE c.attributes ->> $5
           END AS key,
           count(*) AS customers, count(a.customer_id) AS active,
           coalesce(sum(a.interactions), 0)::bigint AS interactions,
           coalesce(sum(a.purchases), 0)::bigint AS purchases,
           coalesce(sum(a.revenue), 0) AS revenue
      FROM customers c
      LEFT JOIN activity a ON a.customer_id = c.id
     WHERE c.workspace_id = $1 AND c.deleted_at IS NULL AND c.created_at < $3
     GROUP BY 1
)
SELECT json_build_object(
    'groups', GROUPS_JSON,
    'totals', (
        SELECT json_build_object(
                   'customers', coalesce(sum(g.customers), 0)::bigint, 'active_customers', coalesce(sum(g.active), 0)::bigint,
                   'interactions', coalesce(sum(g.interactions), 0)::bigint,
                   'purchases', coalesce(sum(g.purchases), 0)::bigint,
                   'revenue_cents', coalesce(sum(g.revenue), 0))
          FROM groups g))
"#;

/// `tag`: a customer counts in each of its tags (once per distinct tag; none: key `null`); the
/// totals come from the customers themselves (tags overlap).
const SEGMENTS_BY_TAG: &str = r#"
per_customer AS (
    SELECT CASE WHEN cardinality(c.tags) = 0 THEN ARRAY[NULL::text] ELSE c.tags END AS keys,
           a.interactions, a.purchases, a.revenue
      FROM customers c
      LEFT JOIN activity a ON a.customer_id = c.id
     WHERE c.workspace_id = $1 AND c.deleted_at IS NULL AND c.created_at < $3
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
    'groups', GROUPS_JSON,
    'totals', (
        SELECT json_build_object(
                   'customers', count(*), 'active_customers', count(p.interactions),
                   'interactions', coalesce(sum(p.interactions), 0)::bigint,
                   'purchases', coalesce(sum(p.purchases), 0)::bigint,
                   'revenue_cents', coalesce(sum(p.revenue), 0))
          FROM per_customer p))
"#;

/// The groups of a customer dimension, ordered, as JSON (`groups g`).
const GROUPS_JSON: &str = r#"coalesce((
        SELECT json_agg(json_build_object(
                   'key', g.key,
                   'label', CASE $4 WHEN 'owner' THEN (SELECT u.name FROM users u WHERE u.workspace_id = $1 AND u.id::text = g.key) END,
                   'figures', json_build_object('customers', g.customers, 'active_customers', g.active,
                   'interactions', g.interactions, 'purchases', g.purchases, 'revenue_cents', g.revenue))
                 ORDER BY g.revenue DESC, g.customers DESC, g.key COLLATE "C" ASC NULLS LAST)
          FROM groups g), '[]')"#;

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
                   'key', g.key,
                   'label', (SELECT ch.name FROM channels ch WHERE ch.workspace_id = $1 AND ch.id::text = g.key),
                   'figures', json_build_object('customers', g.customers,
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

/// The customer dimensions read from `segment_hours` (migration `0022_segment_hours.sql`): the
/// rollup's whole UTC hours of the window, plus what it cannot give, read from the rows
/// themselves:
/// - the partial hours at the window's edges, `[from, h1)` and `[h2, to)`;
/// - the live customers created at or after `to`, which the rollup counts and the definition
///   does not: taken away;
/// - the active customers whose latest interaction is not in `[h1, h2)` (the rollup counts a
///   customer active in the hour of its latest interaction): before `h1` (then it is in
///   `[from, h1)`), or at or after `h2` with an interaction in the window.
///
/// `$5` = `h1` (`from` rounded up to the hour), `$6` = `h2` (`to` rounded down); `h1 < h2`.
/// The groups are those of `$4` and the totals those of the dimension `all`.
const SEGMENTS_FROM_HOURS: &str = r#"
WITH rolled AS (
    SELECT h.dimension, h.key, h.customers, h.interactions, h.purchases, h.revenue, h.last_active AS active
      FROM segment_hours h
     WHERE h.workspace_id = $1 AND h.dimension IN ($4, 'all') AND h.hour = '-infinity'
    UNION ALL
    SELECT h.dimension, h.key, h.customers, h.interactions, h.purchases, h.revenue, h.last_active
      FROM segment_hours h
     WHERE h.workspace_id = $1 AND h.dimension IN ($4, 'all') AND h.hour >= $5 AND h.hour < $6
    UNION ALL
    -- The changes not folded yet.
    SELECT k.dimension, k.key, ch.customers, ch.interactions, ch.purchases, ch.revenue, ch.last_active
      FROM segment_hour_changes ch
     CROSS JOIN LATERAL rapport_segment_keys(ch.country, ch.kind, ch.owner_id, ch.tags) k
     WHERE ch.workspace_id = $1 AND k.dimension IN ($4, 'all')
       AND (ch.hour = '-infinity' OR (ch.hour >= $5 AND ch.hour < $6))
),
late AS (
    SELECT k.dimension, k.key, -1 AS customers, -coalesce(x.interactions, 0) AS interactions,
           -coalesce(x.purchases, 0) AS purchases, -coalesce(x.revenue, 0) AS revenue,
           -coalesce((x.last >= $5 AND x.last < $6)::int, 0) AS active
      FROM customers c
      LEFT JOIN LATERAL (
          SELECT count(*) FILTER (WHERE i.occurred_at >= $5 AND i.occurred_at < $6) AS interactions,
                 count(*) FILTER (WHERE i.occurred_at >= $5 AND i.occurred_at < $6 AND i.kind = 'purchase') AS purchases,
                 sum(i.value_cents) FILTER (WHERE i.occurred_at >= $5 AND i.occurred_at < $6) AS revenue,
                 max(i.occurred_at) AS last
            FROM interactions i
           WHERE i.workspace_id = $1 AND i.customer_id = c.id) x ON true
     CROSS JOIN LATERAL rapport_segment_keys(c.country, c.kind, c.owner_id, c.tags) k
     WHERE c.workspace_id = $1 AND c.deleted_at IS NULL AND c.created_at >= $3 AND k.dimension IN ($4, 'all')
),
edge AS (
    SELECT i.customer_id, count(*) AS interactions, count(*) FILTER (WHERE i.kind = 'purchase') AS purchases,
           coalesce(sum(i.value_cents), 0) AS revenue
      FROM interactions i
     WHERE i.workspace_id = $1
       AND ((i.occurred_at >= $2 AND i.occurred_at < $5) OR (i.occurred_at >= $6 AND i.occurred_at < $3))
     GROUP BY i.customer_id
),
edge_active AS (
    SELECT i.customer_id
      FROM interactions i
     WHERE i.workspace_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $5
       AND NOT EXISTS (SELECT 1 FROM interactions j
                        WHERE j.workspace_id = $1 AND j.customer_id = i.customer_id AND j.occurred_at >= $5)
    UNION
    SELECT l.customer_id
      FROM (SELECT DISTINCT customer_id FROM interactions WHERE workspace_id = $1 AND occurred_at >= $6) l
     WHERE EXISTS (SELECT 1 FROM interactions j
                    WHERE j.workspace_id = $1 AND j.customer_id = l.customer_id AND j.occurred_at >= $2 AND j.occurred_at < $3)
),
edges AS (
    SELECT k.dimension, k.key, 0 AS customers, coalesce(e.interactions, 0) AS interactions,
           coalesce(e.purchases, 0) AS purchases, coalesce(e.revenue, 0) AS revenue,
           (a.customer_id IS NOT NULL)::int AS active
      FROM edge e
      FULL JOIN edge_active a ON a.customer_id = e.customer_id
      JOIN customers c ON c.workspace_id = $1 AND c.id = coalesce(e.customer_id, a.customer_id)
     CROSS JOIN LATERAL rapport_segment_keys(c.country, c.kind, c.owner_id, c.tags) k
     WHERE c.deleted_at IS NULL AND c.created_at < $3 AND k.dimension IN ($4, 'all')
),
figures AS (
    SELECT f.dimension, f.key, sum(f.customers)::bigint AS customers, sum(f.active)::bigint AS active,
           sum(f.interactions)::bigint AS interactions, sum(f.purchases)::bigint AS purchases, sum(f.revenue) AS revenue
      FROM (SELECT * FROM rolled UNION ALL SELECT * FROM late UNION ALL SELECT * FROM edges) f
     GROUP BY 1, 2
),
groups AS (
    SELECT key, customers, active, interactions, purchases, revenue FROM figures WHERE dimension = $4 AND customers > 0
)
SELECT json_build_object(
    'groups', GROUPS_JSON,
    'totals', (
        SELECT json_build_object(
                   'customers', coalesce(t.customers, 0), 'active_customers', coalesce(t.active, 0),
                   'interactions', coalesce(t.interactions, 0), 'purchases', coalesce(t.purchases, 0),
                   'revenue_cents', coalesce(t.revenue, 0))
          FROM (SELECT 1) one
          LEFT JOIN figures t ON t.dimension = 'all'))
"#;

/// Rows the rollup's path reads one by one (interactions at or after `h2`, live customers
/// created at or after `to`) that it takes at least, whatever the window.
const ROLLUP_EXTRA_ROWS: i64 = 50_000;

/// How many of the rows the rollup's path reads one by one there are, counted up to `$4`:
/// interactions at or after `$2` (`h2`), live customers created at or after `$3` (`to`).
const EXTRA_ROWS: &str = r#"
SELECT (SELECT count(*) FROM (SELECT 1 FROM interactions WHERE workspace_id = $1 AND occurred_at >= $2 LIMIT $4) i)
     + (SELECT count(*) FROM (SELECT 1 FROM customers
                               WHERE workspace_id = $1 AND deleted_at IS NULL AND created_at >= $3 LIMIT $4) c)
"#;

/// The interactions of the hours `[$2, $3)`, from `interaction_hours` and its pending changes.
const WINDOW_INTERACTIONS: &str = r#"
SELECT coalesce(sum(n), 0)::bigint
  FROM (SELECT interactions AS n FROM interaction_hours WHERE workspace_id = $1 AND hour >= $2 AND hour < $3
        UNION ALL
        SELECT interactions FROM interaction_hour_changes WHERE workspace_id = $1 AND hour >= $2 AND hour < $3) h
"#;

/// Whether the rollup's path is the faster for the whole hours `[h1, h2)` of a window ending at
/// `to`: the rows it reads one by one are fewer than [`ROLLUP_EXTRA_ROWS`], or than half the
/// interactions of those hours, which the exact path reads. Not so for a window that ends long
/// ago, or before most customers were created.
async fn rollup_fits(
    pool: &PgPool,
    ws: WorkspaceId,
    (h1, h2): (DateTime<Utc>, DateTime<Utc>),
    to: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let extra = |most: i64| sqlx::query_scalar::<_, i64>(EXTRA_ROWS).bind(ws.0).bind(h2).bind(to).bind(most);
    if extra(ROLLUP_EXTRA_ROWS).fetch_one(pool).await? < ROLLUP_EXTRA_ROWS {
        return Ok(true);
    }
    let half: i64 =
        sqlx::query_scalar::<_, i64>(WINDOW_INTERACTIONS).bind(ws.0).bind(h1).bind(h2).fetch_one(pool).await? / 2;
    Ok(half > ROLLUP_EXTRA_ROWS && extra(half).fetch_one(pool).await? < half)
}

/// The whole hours of `[from, to)`: `from` rounded up and `to` rounded down to the UTC hour.
fn whole_hours(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::{DurationRound, TimeDelta};
    let hour = TimeDelta::hours(1);
    let down = |t: DateTime<Utc>| t.duration_trunc(hour).ok();
    let h1 = down(from).map(|h| if h == from { h } else { h + hour })?;
    let h2 = down(to)?;
    (h1 < h2).then_some((h1, h2))
}

async fn segments(
    pool: &PgPool,
    ws: WorkspaceId,
    cx: &Context,
    dimension: &Dimension,
) -> sqlx::Result<SegmentsFigures> {
    let key = match dimension {
        Dimension::Attribute(k) => Some(k.as_str()),
        _ => None,
    };
    let rolled = matches!(dimension, Dimension::Country | Dimension::Kind | Dimension::Owner | Dimension::Tag);
    if let (true, Some((h1, h2))) = (rolled, whole_hours(cx.from, cx.to)) {
        let fits = rollup_fits(pool, ws, (h1, h2), cx.to).await?;
        if fits {
            let sql = SEGMENTS_FROM_HOURS.replace("GROUPS_JSON", GROUPS_JSON);
            let q = sqlx::query(&sql).bind(ws.0).bind(cx.from).bind(cx.to).bind(dimension.code()).bind(h1).bind(h2);
            return figures_tuned(pool, &[], q).await;
        }
    }
    let sql = match dimension {
        Dimension::Channel => SEGMENTS_BY_CHANNEL.to_owned(),
        Dimension::Tag => format!("{ACTIVITY}{SEGMENTS_BY_TAG}").replace("GROUPS_JSON", GROUPS_JSON),
        _ => format!("{ACTIVITY}{SEGMENTS_BY_KEY}").replace("GROUPS_JSON", GROUPS_JSON),
    };
    let mut q = sqlx::query(&sql).bind(ws.0).bind(cx.from).bind(cx.to);
    if *dimension != Dimension::Channel {
        q = q.bind(dimension.code()).bind(key);
    }
    // Parallel workers would each build the whole per-customer activity (the hash join's inner
    // side is an aggregate, not a parallel hash): more work on the same cores.
    figures_tuned(pool, &[("max_parallel_workers_per_gather", "0")], q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hours_of_a_window() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            whole_hours(at("2026-01-01T10:20:00Z"), at("2026-01-01T13:05:00Z")),
            Some((at("2026-01-01T11:00:00Z"), at("2026-01-01T13:00:00Z")))
        );
        assert_eq!(
            whole_hours(at("2026-01-01T10:00:00Z"), at("2026-01-01T11:00:00Z")),
            Some((at("2026-01-01T10:00:00Z"), at("2026-01-01T11:00:00Z")))
        );
        // Less than one whole hour: none.
        assert_eq!(whole_hours(at("2026-01-01T10:00:01Z"), at("2026-01-01T11:59:59Z")), None);
        assert_eq!(whole_hours(at("2026-01-01T10:20:00Z"), at("2026-01-01T10:40:00Z")), None);
    }

    #[test]
    fn dimensions() {
        assert_eq!(dimension("tag").unwrap(), Dimension::Tag);
        assert_eq!(dimension("attr.plan").unwrap(), Dimension::Attribute("plan".into()));
        for bad in ["attr.", "attr", "city", "attr.a\0b", ""] {
            assert!(dimension(bad).is_err(), "{bad:?}");
        }
    }
}
