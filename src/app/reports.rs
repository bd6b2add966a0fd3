//! Saved reports: an analytics query under a name, run on demand or when its schedule comes
//! round. A run never holds a transaction open while its statement runs: the analytics run on
//! their own read-only connection, and only the storing of the run is a write.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{check_version, event, found, lock, record, record_change, Actor, Result, Tx};
use crate::analytics::report::{Params, Saved};
use crate::analytics::Window;
use crate::db::reports::{self, Report, Run, RunWindow};
use crate::db::rows;
use crate::domain::events::EventType;
use crate::domain::schedule::{self, ReportKind, RunStatus, RunTrigger, Schedule, ScheduleInput};
use crate::domain::{new_id, Bound, Name, Role, Validator, WorkspaceId};
use crate::error::{ApiError, FieldError};

/// A report's writable fields, valid: `params` read by the analytics endpoint's own code.
#[derive(Debug, Clone)]
pub struct ReportFields {
    pub name: Name,
    pub kind: ReportKind,
    /// As given (without `null`s), and as read.
    pub params: Value,
    pub saved: Saved,
    pub schedule: Option<Schedule>,
}

impl ReportFields {
    /// Reads a report's fields as a client states them: `params` by the analytics endpoint's
    /// own code, `schedule` (`null`: none) by `Schedule::parse`; `422` naming every bad one.
    pub fn parse(name: &str, kind: ReportKind, params: &Value, schedule: Option<&Value>) -> Result<ReportFields> {
        let mut v = Validator::default();
        let name = v.check(Name::parse("name", name));
        let saved = v.check_all(Saved::parse(kind, params));
        let schedule = match schedule {
            None | Some(Value::Null) => Some(None),
            Some(raw) => match crate::domain::query::from_json::<ScheduleInput>("schedule", raw.clone()) {
                Ok(input) => v.check_all(Schedule::parse("schedule", &input)).map(Some),
                Err(e) if e.field == "schedule" => v.check(Err(e)),
                Err(e) => v.check(Err(FieldError::new(format!("schedule.{}", e.field), e.message))),
            },
        };
        v.finish()?;
        match (name, saved, schedule) {
            (Some(name), Some(saved), Some(schedule)) => {
                Ok(ReportFields { name, kind, params: Saved::normalized(params), saved, schedule })
            }
            _ => Err(ApiError::internal("validated report fields missing")),
        }
    }
}

pub async fn list(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Report>> {
    Ok(rows::oldest_first(db, actor.workspace_id, after, limit).await?)
}

pub async fn get(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<Report> {
    found(rows::find(db, actor.workspace_id, id).await?, "report")
}

/// The workspace's time zone rules.
async fn zone(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<Tz> {
    let workspace = found(crate::db::workspaces::get(db, ws).await?, "workspace")?;
    schedule::zone(&workspace.timezone).map_err(|e| ApiError::internal(e.message))
}

/// Checks what needs the database (the pipeline a funnel names) and gives the fields to store,
/// with the schedule's next slot after `now`.
async fn stored(tx: &mut Tx<'_>, ws: WorkspaceId, f: ReportFields, now: DateTime<Utc>) -> Result<reports::Fields> {
    if let Some(pipeline) = f.saved.params.pipeline_id() {
        let known: Option<crate::db::pipelines::PipelineRow> = rows::find(&mut **tx, ws, pipeline).await?;
        if known.is_none() {
            return Err(ApiError::validation("params.pipeline_id", "is not a pipeline of this workspace"));
        }
    }
    let next_run_at = match f.schedule {
        Some(s) => Some(s.next_after(zone(&mut **tx, ws).await?, now)),
        None => None,
    };
    Ok(reports::Fields { name: f.name.into_inner(), kind: f.kind, params: f.params, schedule: f.schedule, next_run_at })
}

/// Saves a report (admin); its schedule's first slot is the first after `now`.
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, fields: ReportFields, now: DateTime<Utc>) -> Result<Report> {
    actor.require(Role::Admin)?;
    let fields = stored(tx, actor.workspace_id, fields, now).await?;
    let report = reports::insert(&mut **tx, actor.workspace_id, &fields).await?;
    record(tx, actor, &[event(EventType::ReportCreated, report.id, None, &report)]).await?;
    Ok(report)
}

/// Changes a report (admin): `change` gives its new fields from the current ones. A schedule
/// that changes moves the next slot to the first after `now`; one that stays keeps it.
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    now: DateTime<Utc>,
    change: impl FnOnce(&Report) -> Result<ReportFields>,
) -> Result<Report> {
    let current: Report = lock(tx, actor, Role::Admin, id, "report").await?;
    let fields = change(&current)?;
    check_version(expected, current.version)?;
    let same_schedule = fields.schedule == current.schedule.as_ref().map(|s| s.0);
    let mut stored = stored(tx, actor.workspace_id, fields, now).await?;
    if same_schedule {
        stored.next_run_at = current.next_run_at;
    }
    let report = reports::update(&mut **tx, actor.workspace_id, current.id, &stored).await?;
    record_change(tx, actor, current.version, report.version, || {
        event(EventType::ReportUpdated, report.id, None, &report)
    })
    .await?;
    Ok(report)
}

/// Removes a report and its runs (admin).
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let current: Report = lock(tx, actor, Role::Admin, id, "report").await?;
    check_version(expected, current.version)?;
    rows::delete::<Report>(&mut **tx, actor.workspace_id, current.id).await?;
    record(tx, actor, &[event(EventType::ReportDeleted, current.id, None, &current)]).await?;
    Ok(())
}

/// Moves the next slot of every scheduled report of the workspace to the first after `now`
/// in its time zone `timezone` (which just changed).
pub async fn reschedule(tx: &mut Tx<'_>, ws: WorkspaceId, timezone: &str, now: DateTime<Utc>) -> Result<()> {
    let tz = schedule::zone(timezone).map_err(|e| ApiError::internal(e.message))?;
    let scheduled = reports::lock_scheduled(&mut **tx, ws).await?;
    let (ids, next): (Vec<Uuid>, Vec<DateTime<Utc>>) =
        scheduled.iter().filter_map(|r| Some((r.id, r.schedule.as_ref()?.0.next_after(tz, now)))).unzip();
    reports::set_next_run(&mut **tx, ws, &ids, &next).await?;
    Ok(())
}

pub async fn runs(
    db: &PgPool,
    actor: &Actor,
    report: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Run>> {
    let ws = actor.workspace_id;
    let _: Report = found(rows::find(db, ws, report).await?, "report")?;
    Ok(reports::runs(db, ws, report, after, limit).await?)
}

pub async fn run(db: impl PgExecutor<'_>, actor: &Actor, report: Uuid, id: Uuid) -> Result<Run> {
    found(reports::find_run(db, actor.workspace_id, report, id).await?, "run")
}

/// The window a run covers, `at` being its slot (scheduled) or now: a `range` resolved on the
/// local day of `at`; else, for a report with a schedule whose parameters give no window, the
/// period of the schedule that ended before `at` (a run asked for covers what the schedule
/// would); else the window given, a missing end being `at`.
fn window(saved: &Saved, tz: Tz, at: DateTime<Utc>, schedule: Option<Schedule>) -> Window {
    let dates = |(from, to): schedule::LocalPeriod| Window {
        from: Some(Bound::Date(from)),
        to: Some(to.map_or(Bound::At(at), Bound::Date)),
    };
    let given = saved.params.window();
    match (saved.range, schedule) {
        (Some(range), _) => dates(range.period(schedule::local_day(tz, at))),
        (None, Some(schedule)) if given == Window::default() => dates(schedule.period_ended(tz, at)),
        (None, _) => Window { from: given.from, to: Some(given.to.unwrap_or(Bound::At(at))) },
    }
}

/// Runs a report's query over its window (bounded by `timeout`): the run to store.
async fn execute(
    pool: &PgPool,
    ws: WorkspaceId,
    report: &Report,
    trigger: RunTrigger,
    slot: Option<DateTime<Utc>>,
    started_at: DateTime<Utc>,
    timeout: std::time::Duration,
) -> Result<Run> {
    let tz = zone(pool, ws).await?;
    let took = std::time::Instant::now();
    let answer = match Saved::parse(report.kind, &report.params) {
        // Saved before a rule it breaks was checked on save: each run fails with the problem
        // (`422`, naming the parameters), the schedule going on, until the report is changed.
        Err(errors) => Err(ApiError::Validation(errors)),
        Ok(saved) => {
            let schedule = report.schedule.as_ref().map(|s| s.0);
            let window = window(&saved, tz, slot.unwrap_or(started_at), schedule);
            let params: Params = saved.params.with_window(window);
            crate::analytics::limited(timeout, params.run(pool, ws)).await
        }
    };
    let finished_at = started_at + TimeDelta::from_std(took.elapsed()).unwrap_or_default();
    let (status, result, error, window) = match answer {
        Ok(result) => {
            let at = |name: &str| result.get(name).and_then(|v| serde_json::from_value(v.clone()).ok());
            let window = RunWindow { from: at("from"), to: at("to").or_else(|| at("as_of")) };
            (RunStatus::Succeeded, Some(result), None, window)
        }
        Err(e) => {
            let problem = serde_json::to_value(e.problem()).unwrap_or_default();
            (RunStatus::Failed, None, Some(problem), RunWindow { from: None, to: None })
        }
    };
    Ok(Run {
        id: new_id(),
        report_id: report.id,
        trigger,
        scheduled_for: slot,
        status,
        started_at,
        finished_at,
        window,
        result,
        error,
    })
}

fn run_event(run: &Run) -> crate::db::events::NewEvent {
    let kind = match run.status {
        RunStatus::Succeeded => EventType::ReportRunSucceeded,
        RunStatus::Failed => EventType::ReportRunFailed,
    };
    // The result can be large: the event names the run; `GET /reports/{id}/runs/{run_id}` has it.
    let summary = serde_json::json!({
        "id": run.id, "report_id": run.report_id, "trigger": run.trigger, "scheduled_for": run.scheduled_for,
        "status": run.status, "started_at": run.started_at, "finished_at": run.finished_at, "window": run.window,
    });
    crate::db::events::NewEvent { kind, resource_id: run.report_id, customer_id: None, data: summary }
}

/// Runs a report now (member) and stores the run, failed or not; the query runs before the
/// write `tx` writes anything (so no lock is held while it runs).
pub async fn run_now(
    pool: &PgPool,
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
    timeout: std::time::Duration,
) -> Result<Run> {
    actor.require(Role::Member)?;
    let ws = actor.workspace_id;
    let report: Report = found(rows::find(pool, ws, id).await?, "report")?;
    let run = execute(pool, ws, &report, RunTrigger::Manual, None, now, timeout).await?;
    let run = found(reports::insert_run(&mut **tx, ws, &run).await?, "run")?;
    reports::ran(&mut **tx, ws, report.id, run.started_at).await?;
    record(tx, actor, &[run_event(&run)]).await?;
    Ok(run)
}

/// How long a claim on a due report lasts: past it, another instance may run the slot (the
/// first run stored wins; the other is dropped).
pub fn claim_lease(timeout: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(timeout * 2).unwrap_or(TimeDelta::hours(1)) + TimeDelta::seconds(30)
}

/// Runs one report whose schedule has come round at `now`, if any: claims it (a short write,
/// so that other instances skip it), runs the latest slot due (a slot missed while every
/// instance was down runs once, late), then stores the run with the report's next slot, unless
/// another instance stored the slot first. `Ok(None)`: nothing was due.
pub async fn run_due(pool: &PgPool, now: DateTime<Utc>, timeout: std::time::Duration) -> Result<Option<Run>> {
    let Some(due) = reports::claim_due(pool, now, now + claim_lease(timeout)).await? else {
        return Ok(None);
    };
    let ws = WorkspaceId(due.workspace_id);
    let report = due.report;
    let claimed_slot = report.next_run_at.unwrap_or(now);
    let Some(schedule) = report.schedule.as_ref().map(|s| s.0) else {
        return Ok(None);
    };
    let tz = schedule::zone(&due.timezone).map_err(|e| ApiError::internal(e.message))?;
    let slot = schedule.latest_due(tz, claimed_slot - TimeDelta::microseconds(1), now).unwrap_or(claimed_slot);
    let run = execute(pool, ws, &report, RunTrigger::Schedule, Some(slot), now, timeout).await?;
    let next = schedule.next_after(tz, now);
    let mut tx = pool.begin().await?;
    let stored = reports::insert_run(&mut *tx, ws, &run).await?;
    reports::advance(&mut *tx, ws, report.id, claimed_slot, next, stored.as_ref().map(|r| r.started_at)).await?;
    if let Some(run) = &stored {
        record(&mut tx, &Actor::system(ws), &[run_event(run)]).await?;
    }
    tx.commit().await?;
    Ok(stored)
}
