//! Analytics, computed in PostgreSQL: one module per endpoint, each with its parameters parsed
//! once into typed `Params` (what the endpoint and a saved report both run), its figures, and
//! its one statement, parameters bound. The
//! definitions are those of `ANALYTICS.md`; the comments below say how each statement follows
//! them. Every statement leaves soft-deleted customers (and their interactions and deals) out,
//! cuts dates in the workspace's timezone, and orders text keys by code point (`COLLATE "C"`),
//! the order the definitions use.
//!
//! A local time is read as PostgreSQL reads it: a midnight that occurs twice (clocks set back
//! over it) is the later instant, one the clocks skip is read with the offset in force before
//! the jump.

pub mod basket;
pub mod cohorts;
pub mod funnel;
pub mod report;
pub mod rfm;
pub mod rollups;
pub mod segments;
pub mod series;
pub mod support;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Bound, WorkspaceId};
use crate::error::{ApiError, FieldError};

/// At most this many buckets (series) or periods (cohorts) in a window.
pub const MAX_BUCKETS: i64 = 5_000;
pub const MAX_PERIODS: i64 = 1_000;

/// A window `[from, to)` as the client gave it: each bound a date (midnight in the
/// workspace's time zone) or an RFC 3339 timestamp with an offset; default the 90 days before
/// `to`, and `to` defaults to now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

impl Window {
    /// Reads `from` and `to`; a bad one is reported in `errors`, and so is a `from` not before
    /// `to` when both are dates or both instants (a date and an instant compare in the workspace's
    /// time zone only, when the window is resolved: [`resolve`] refuses them then, and a saved
    /// report with such a window fails its runs with that problem).
    pub fn parse(from: Option<&str>, to: Option<&str>, errors: &mut Vec<FieldError>) -> Window {
        let mut bound = |field: &str, text: Option<&str>| {
            text.and_then(|t| Bound::parse(field, t).map_err(|e| errors.push(e)).ok())
        };
        let window = Window { from: bound("from", from), to: bound("to", to) };
        let ordered = match (window.from, window.to) {
            (Some(Bound::Date(a)), Some(Bound::Date(b))) => a < b,
            (Some(Bound::At(a)), Some(Bound::At(b))) => a < b,
            _ => true,
        };
        if !ordered {
            errors.push(FieldError::new("from", "must be before to"));
        }
        window
    }
}

/// The window resolved in the workspace's time zone (`from >= to` is a `400` naming `from`).
pub async fn resolve(
    pool: &PgPool,
    ws: WorkspaceId,
    window: &Window,
    pipeline: Option<Uuid>,
) -> Result<Context, ApiError> {
    let cx = context(pool, ws, window.from, window.to, pipeline).await?;
    if cx.from >= cx.to {
        return Err(ApiError::malformed_field("from", "must be before to"));
    }
    Ok(cx)
}

/// Parameters that cannot be read: `400`, naming each.
pub fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::malformed_fields(errors)
}

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

tokio::task_local! {
    /// The statement timeout of the analytics run in progress on this task (see [`limited`]).
    static STATEMENT_TIMEOUT: std::time::Duration;
}

/// Runs `run` with each analytics statement it makes bounded by `timeout` (PostgreSQL's
/// `statement_timeout`): past it the statement is cancelled and the run fails with `503`.
pub async fn limited<F: std::future::Future>(timeout: std::time::Duration, run: F) -> F::Output {
    STATEMENT_TIMEOUT.scope(timeout, run).await
}

/// Memory for the sorts and hashes of one analytics statement (the default 4 MB spills
/// hundreds of thousands of rows to disk).
const WORK_MEM: &str = "256MB";

/// A read-only transaction tuned for one analytics statement: enough memory, a plan made for
/// the actual parameters (a generic plan cannot know the window or the dimension), no JIT (its
/// compile time costs more than it saves at these sizes), and the time limit of [`limited`]
/// (none outside it).
pub(crate) async fn begin(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    begin_tuned(pool, &[]).await
}

/// As [`begin`], with planner `settings` (name, value) of the statement's own too, all set in
/// the one round trip.
async fn begin_tuned(
    pool: &PgPool,
    settings: &[(&str, &str)],
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    let own: String =
        (0..settings.len()).map(|i| format!(", set_config(${}, ${}, true)", 3 + 2 * i, 4 + 2 * i)).collect();
    let sql = format!(
        "SELECT set_config('transaction_read_only', 'on', true), set_config('work_mem', $1, true),
                set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true),
                set_config('statement_timeout', $2, true){own}"
    );
    let mut query = sqlx::query(&sql)
        .bind(WORK_MEM)
        .bind(STATEMENT_TIMEOUT.try_with(|t| t.as_millis().to_string()).unwrap_or_else(|_| "0".into()));
    for (name, value) in settings {
        query = query.bind(*name).bind(*value);
    }
    query.execute(&mut *tx).await?;
    Ok(tx)
}

pub(crate) async fn figures<T: for<'de> Deserialize<'de> + Send + Unpin + 'static>(
    pool: &PgPool,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> sqlx::Result<T> {
    figures_tuned(pool, &[], query).await
}

/// As [`figures`], with planner `settings` (name, value) of the statement's own, for its
/// transaction.
pub(crate) async fn figures_tuned<T: for<'de> Deserialize<'de> + Send + Unpin + 'static>(
    pool: &PgPool,
    settings: &[(&str, &str)],
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> sqlx::Result<T> {
    let mut tx = begin_tuned(pool, settings).await?;
    let row = query.fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(row.try_get::<Json<T>, _>(0)?.0)
}

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
