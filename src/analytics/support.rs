//! Support: cases opened, solved and reopened in a window, the backlog at its end, response
//! and resolution times in business and calendar minutes, service-level attainment and
//! satisfaction (`docs/analytics.md`, "Support").
//!
//! The business times are facts stored with each case when they happen (seconds of the
//! workspace's business hours then: `app::support`); everything else follows from the cases'
//! instants, due times and status history, here, in one statement.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use std::sync::LazyLock;

use super::{figures_tuned, resolve, Window};
use crate::domain::WorkspaceId;
use crate::error::{ApiError, FieldError};
use sqlx::PgPool;

crate::text_enum! {
    /// What support figures are grouped by: the case's `priority`, `channel` (where it came in),
    /// `assignee` (`null`: unassigned) or `tag` (a case counts in each of its tags; none: `null`).
    pub enum SupportGroup {
        Priority => "priority",
        Channel => "channel",
        Assignee => "assignee",
        Tag => "tag",
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SupportQuery {
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::domain::time::time_bound)]
    pub to: Option<String>,
    /// `priority`, `channel`, `assignee` or `tag`; without it, the totals only.
    pub group_by: Option<SupportGroup>,
}

/// The support analytics' parameters, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportParams {
    pub window: Window,
    pub group_by: Option<SupportGroup>,
}

impl SupportParams {
    pub fn parse(q: SupportQuery) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let window = Window::parse(q.from.as_deref(), q.to.as_deref(), &mut errors);
        match errors.is_empty() {
            true => Ok(SupportParams { window, group_by: q.group_by }),
            false => Err(errors),
        }
    }

    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<SupportReport, ApiError> {
        let cx = resolve(pool, ws, &self.window, None).await?;
        let query = sqlx::query(statement(self.group_by))
            .bind(ws.0)
            .bind(cx.from)
            .bind(cx.to)
            .bind(self.group_by.map(SupportGroup::as_str));
        let f: Figures = figures_tuned(pool, &[("parallel_tuple_cost", PARALLEL_TUPLE_COST)], query).await?;
        Ok(SupportReport { from: cx.from, to: cx.to, group_by: self.group_by, groups: f.groups, totals: f.totals })
    }
}

/// Support figures in the window, with the totals and, by `group_by`, per group.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: Option<SupportGroup>,
    /// By `created` desc, then key (`null` last); empty without `group_by`.
    pub groups: Vec<SupportGroupFigures>,
    /// Over every case (a case with several tags counts once).
    pub totals: SupportFigures,
}

#[derive(Deserialize)]
struct Figures {
    groups: Vec<SupportGroupFigures>,
    totals: SupportFigures,
}

/// One group's figures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SupportGroupFigures {
    /// The priority, the channel's id, the assignee's id or the tag; `null`: unassigned, or no
    /// tag.
    #[schema(example = "high")]
    pub key: Option<String>,
    /// The channel's or the assignee's name as they are now; `null` for the other groupings
    /// and for a `null` key.
    pub label: Option<String>,
    #[serde(flatten)]
    pub figures: SupportFigures,
}

/// The support figures of a set of cases (`docs/analytics.md`, "Support"). Times are minutes
/// (fractional: seconds / 60); a median or p90 is `percentile_cont` (linear interpolation), `null`
/// over no case; a share is an exact quotient, `null` over no case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SupportFigures {
    /// Cases opened in the window.
    pub created: i64,
    /// Cases whose (latest) solution is in the window.
    pub solved: i64,
    /// Reopenings (`solved` → `open`) in the window.
    pub reopened: i64,
    /// Cases opened before `to` and unsolved at `to`.
    pub backlog: i64,
    /// Cases whose first response is in the window.
    pub first_responses: i64,
    /// Of those: business minutes from opening to the first response, median and p90.
    pub first_response_median_business_minutes: Option<f64>,
    pub first_response_p90_business_minutes: Option<f64>,
    /// Of those: calendar minutes from opening to the first response, median and p90.
    pub first_response_median_minutes: Option<f64>,
    pub first_response_p90_minutes: Option<f64>,
    /// Of the solved cases: business minutes from opening to the solution, median and p90.
    pub resolution_median_business_minutes: Option<f64>,
    pub resolution_p90_business_minutes: Option<f64>,
    /// Of the solved cases: calendar minutes from opening to the solution, median and p90.
    pub resolution_median_minutes: Option<f64>,
    pub resolution_p90_minutes: Option<f64>,
    /// Cases with a first-response target answered in the window (`answered_at`: the earlier
    /// of the first response and the first solution).
    pub first_response_targets: i64,
    /// Of those, answered by their due time.
    pub first_response_met: i64,
    /// `first_response_met / first_response_targets`.
    pub first_response_attainment: Option<f64>,
    /// Solved cases with a resolution target.
    pub resolution_targets: i64,
    /// Of those, solved by their due time.
    pub resolution_met: i64,
    /// `resolution_met / resolution_targets`.
    pub resolution_attainment: Option<f64>,
    /// Solved cases the customer rated `good`.
    pub satisfaction_good: i64,
    /// Solved cases the customer rated `bad`.
    pub satisfaction_bad: i64,
    /// `satisfaction_good / (satisfaction_good + satisfaction_bad)`.
    pub satisfaction_score: Option<f64>,
}

/// The statement for a grouping (`None`: the totals only): [`ROWS`] and the ending that
/// aggregates them, with the aggregates of [`FIGURES`] and their JSON ([`FIGURES_JSON`]) in it.
fn statement(group_by: Option<SupportGroup>) -> &'static str {
    fn build(ending: &str) -> String {
        format!("{ROWS}{ending}")
            .replace("{figures}", FIGURES)
            .replace("{json g}", &FIGURES_JSON.replace("{t}", "g"))
            .replace("{json t}", &FIGURES_JSON.replace("{t}", "t"))
    }
    static TOTALS: LazyLock<String> = LazyLock::new(|| build(TOTALS_ONLY));
    static BY_KEY: LazyLock<String> = LazyLock::new(|| build(GROUPED_BY_KEY));
    static BY_TAG: LazyLock<String> = LazyLock::new(|| build(GROUPED_BY_TAG));
    match group_by {
        None => &TOTALS,
        Some(SupportGroup::Priority | SupportGroup::Channel | SupportGroup::Assignee) => &BY_KEY,
        Some(SupportGroup::Tag) => &BY_TAG,
    }
}

/// The planner's price of passing a row from a parallel worker (default 0.1). It takes the
/// window's conditions (opened, solved or answered in it, or unsolved) as independent and so
/// expects about twice the rows they keep: at the default price it then scans the cases alone,
/// which takes twice as long as three processes do.
const PARALLEL_TUPLE_COST: &str = "0.001";

/// The rows the figures add up; `$1` workspace, `$2`/`$3` the window, `$4` the grouping
/// (`null`: none): each row has the `key` of a single-key grouping, or the tags (`keys`) when
/// grouped by tag.
///
/// The cases of the window are those opened, solved, answered or reopened in it, or in the
/// backlog at `to`. The figures add up rows of three kinds, each read from its own index:
/// - the cases opened, solved or answered in the window, or unsolved now, in one scan, with
///   their own figures; each counts in the backlog when it was opened before `to` and is
///   unsolved now;
/// - the window's reopenings (a small partial index), one row each;
/// - the cases changed since `to`, whose status at `to` is what their first change since left
///   (`from_status`): each corrects the backlog from its status now to its status then.
const ROWS: &str = r#"
WITH live AS NOT MATERIALIZED (
    SELECT c.*,
           CASE $4::text WHEN 'priority' THEN c.priority WHEN 'channel' THEN c.channel_id::text
                         WHEN 'assignee' THEN c.assignee_id::text END AS key,
           CASE $4::text WHEN 'tag' THEN c.tags END AS keys
      FROM cases c
     WHERE c.workspace_id = $1
       AND NOT EXISTS (SELECT 1 FROM customers x
                        WHERE x.workspace_id = $1 AND x.id = c.customer_id AND x.deleted_at IS NOT NULL)
),
status_at_to AS (
    SELECT DISTINCT ON (case_id) case_id, from_status AS status
      FROM case_status_changes
     WHERE workspace_id = $1 AND changed_at >= $3
     ORDER BY case_id, changed_at, id
),
rows AS NOT MATERIALIZED (
    SELECT c.key, c.keys,
           c.created_at >= $2 AND c.created_at < $3 AS opened,
           coalesce(c.solved_at >= $2 AND c.solved_at < $3, false) AS solved,
           coalesce(c.first_responded_at >= $2 AND c.first_responded_at < $3, false) AS responded,
           coalesce(c.answered_at >= $2 AND c.answered_at < $3, false) AS answered,
           0 AS reopenings,
           (c.created_at < $3 AND c.status NOT IN ('solved', 'closed'))::int AS backlog,
           c.first_response_business_seconds / 60.0::float8 AS fr_business,
           extract(epoch FROM c.first_responded_at - c.created_at)::float8 / 60 AS fr_calendar,
           c.resolution_business_seconds / 60.0::float8 AS res_business,
           extract(epoch FROM c.solved_at - c.created_at)::float8 / 60 AS res_calendar,
           c.first_response_due_at IS NOT NULL AS fr_target,
           coalesce(c.answered_at <= c.first_response_due_at, false) AS fr_met,
           c.resolution_due_at IS NOT NULL AS res_target,
           coalesce(c.solved_at <= c.resolution_due_at, false) AS res_met,
           c.satisfaction
      FROM live c
     WHERE (c.created_at >= $2 AND c.created_at < $3)
        OR (c.solved_at >= $2 AND c.solved_at < $3)
        OR (c.answered_at >= $2 AND c.answered_at < $3)
        OR (c.status NOT IN ('solved', 'closed') AND c.created_at < $3)
    UNION ALL
    SELECT c.key, c.keys, false, false, false, false, 1, 0,
           NULL, NULL, NULL, NULL, false, false, false, false, NULL
      FROM case_status_changes e
      JOIN live c ON c.id = e.case_id
     WHERE e.workspace_id = $1 AND e.changed_at >= $2 AND e.changed_at < $3
       AND e.from_status = 'solved' AND e.to_status = 'open'
    UNION ALL
    SELECT c.key, c.keys, false, false, false, false, 0,
           (s.status NOT IN ('solved', 'closed'))::int - (c.status NOT IN ('solved', 'closed'))::int,
           NULL, NULL, NULL, NULL, false, false, false, false, NULL
      FROM status_at_to s
      JOIN live c ON c.id = s.case_id
     WHERE c.created_at < $3
)"#;

/// The totals alone.
const TOTALS_ONLY: &str = r#"
SELECT json_build_object('groups', '[]'::json, 'totals', (SELECT {json t} FROM (SELECT {figures} FROM rows) t))
"#;

/// Groups of one key per case (priority, channel, assignee) and the totals, in one pass: a group
/// is listed when it holds a case of the window.
const GROUPED_BY_KEY: &str = r#",
grouped AS (
    SELECT key, GROUPING(key) = 1 AS total, count(*) FILTER (WHERE opened OR solved OR answered) AS touched, {figures}
      FROM rows GROUP BY GROUPING SETS ((key), ())
)
SELECT json_build_object(
    'groups', coalesce((
        SELECT json_agg({json g}::jsonb || jsonb_build_object(
                   'key', g.key,
                   'label', CASE $4::text
                       WHEN 'channel' THEN (SELECT ch.name FROM channels ch WHERE ch.workspace_id = $1 AND ch.id::text = g.key)
                       WHEN 'assignee' THEN (SELECT u.name FROM users u WHERE u.workspace_id = $1 AND u.id::text = g.key)
                   END)
                 ORDER BY g.created DESC, g.key COLLATE "C" ASC NULLS LAST)
          FROM grouped g
         WHERE NOT g.total
           AND (g.touched > 0 OR g.reopened > 0 OR g.backlog > 0)), '[]'),
    'totals', (SELECT {json t} FROM grouped t WHERE t.total))
"#;

/// Groups by tag (a case counts in each of its tags; none: the `null` tag) and the totals (a
/// case with several tags counts once), in one pass: each row is taken once per tag and once
/// for the totals.
const GROUPED_BY_TAG: &str = r#",
grouped AS (
    SELECT k.total, k.key, count(*) FILTER (WHERE opened OR solved OR answered) AS touched, {figures}
      FROM rows f
     CROSS JOIN LATERAL (
           SELECT false, tag FROM unnest(CASE WHEN cardinality(f.keys) = 0 THEN ARRAY[NULL::text] ELSE f.keys END) AS tag
           UNION ALL
           SELECT true, NULL) AS k (total, key)
     GROUP BY k.total, k.key
)
SELECT json_build_object(
    'groups', coalesce((
        SELECT json_agg({json g}::jsonb || jsonb_build_object('key', g.key, 'label', NULL)
                 ORDER BY g.created DESC, g.key COLLATE "C" ASC NULLS LAST)
          FROM grouped g
         WHERE NOT g.total AND (g.touched > 0 OR g.reopened > 0 OR g.backlog > 0)), '[]'),
    -- No row at all: no totals row either, but the totals of nothing.
    'totals', coalesce((SELECT {json t} FROM grouped t WHERE t.total),
                       (SELECT {json t} FROM (SELECT {figures} FROM rows WHERE false) t)))
"#;

/// The aggregates of a set of `rows` (each percentile pair in one sort: `[median, p90]`).
const FIGURES: &str = r#"
    count(*) FILTER (WHERE opened) AS created,
    count(*) FILTER (WHERE solved) AS solved,
    coalesce(sum(reopenings), 0) AS reopened,
    coalesce(sum(backlog), 0) AS backlog,
    count(*) FILTER (WHERE responded) AS first_responses,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY fr_business) FILTER (WHERE responded) AS fr_business,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY fr_calendar) FILTER (WHERE responded) AS fr_calendar,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY res_business) FILTER (WHERE solved) AS res_business,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY res_calendar) FILTER (WHERE solved) AS res_calendar,
    count(*) FILTER (WHERE answered AND fr_target) AS fr_targets,
    count(*) FILTER (WHERE answered AND fr_met) AS fr_met,
    count(*) FILTER (WHERE solved AND res_target) AS res_targets,
    count(*) FILTER (WHERE solved AND res_met) AS res_met,
    count(*) FILTER (WHERE solved AND satisfaction = 'good') AS good,
    count(*) FILTER (WHERE solved AND satisfaction = 'bad') AS bad"#;

/// The figures of a row `{t}` of [`FIGURES`], as a JSON object (`SupportFigures`).
const FIGURES_JSON: &str = r#"json_build_object(
    'created', {t}.created, 'solved', {t}.solved, 'reopened', {t}.reopened, 'backlog', {t}.backlog,
    'first_responses', {t}.first_responses,
    'first_response_median_business_minutes', {t}.fr_business[1],
    'first_response_p90_business_minutes', {t}.fr_business[2],
    'first_response_median_minutes', {t}.fr_calendar[1],
    'first_response_p90_minutes', {t}.fr_calendar[2],
    'resolution_median_business_minutes', {t}.res_business[1],
    'resolution_p90_business_minutes', {t}.res_business[2],
    'resolution_median_minutes', {t}.res_calendar[1],
    'resolution_p90_minutes', {t}.res_calendar[2],
    'first_response_targets', {t}.fr_targets, 'first_response_met', {t}.fr_met,
    'first_response_attainment', {t}.fr_met::float8 / nullif({t}.fr_targets, 0),
    'resolution_targets', {t}.res_targets, 'resolution_met', {t}.res_met,
    'resolution_attainment', {t}.res_met::float8 / nullif({t}.res_targets, 0),
    'satisfaction_good', {t}.good, 'satisfaction_bad', {t}.bad,
    'satisfaction_score', {t}.good::float8 / nullif({t}.good + {t}.bad, 0))"#;
