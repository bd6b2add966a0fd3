//! Support: the workspace's business hours, service-level policies, and cases with their
//! status rules and service-level clocks (`domain::support`, `domain::business_hours`). Due
//! times are computed here and stored with the case; they are computed again when its
//! priority, its policy, the policy's targets or the business hours change.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::{check_version, event, found, lock, record, record_change, Actor, Result, Tx};
use crate::db::events::NewEvent;
use crate::db::rows;
use crate::db::support::{self, Case, CaseContext, CaseFilter, CaseRow, SlaPolicy};
use crate::domain::business_hours::{BusinessHours, Calendar, Pause};
use crate::domain::events::EventType;
use crate::domain::support::{transition, CaseStatus, Clock, Priority, Transition};
use crate::domain::time::as_stored;
use crate::domain::{new_id, Role, Tags};
use crate::error::{ApiError, FieldError};

mod policies;
pub use policies::*;

/// What a case's clocks need: the workspace's time zone and business hours.
struct Clocks {
    tz: Tz,
    hours: BusinessHours,
}

impl Clocks {
    async fn load(db: &mut sqlx::PgConnection, actor: &Actor) -> Result<Clocks> {
        let ws = found(crate::db::workspaces::get(&mut *db, actor.workspace_id).await?, "workspace")?;
        Clocks::new(&ws.timezone, business_hours(&mut *db, actor).await?.hours())
    }

    /// The clocks of a workspace in `timezone` with `hours` (the office's when it set none).
    fn new(timezone: &str, hours: BusinessHours) -> Result<Clocks> {
        let tz = crate::domain::schedule::zone(timezone).map_err(|e| ApiError::internal(e.message))?;
        Ok(Clocks { tz, hours })
    }

    fn of(cx: &CaseContext) -> Result<Clocks> {
        Clocks::new(&cx.timezone, cx.hours.clone().unwrap_or_else(BusinessHours::office))
    }

    fn calendar(&self, policy: Option<&SlaPolicy>) -> Calendar {
        match policy {
            Some(p) if p.business_hours => self.business(),
            _ => Calendar::always(self.tz),
        }
    }

    /// `f` of the case's clock: its policy's calendar (`policy`: the case's) with the pauses of
    /// its status history.
    fn on<R>(
        &self,
        policy: Option<&SlaPolicy>,
        statuses: &[(CaseStatus, DateTime<Utc>)],
        f: impl FnOnce(&Clock) -> R,
    ) -> R {
        let calendar = self.calendar(policy);
        let paused = pauses(statuses);
        f(&Clock { calendar: &calendar, pauses: &paused })
    }

    /// The workspace's business hours as a clock: what the analytics' business times count.
    fn business(&self) -> Calendar {
        self.hours.calendar(self.tz)
    }

    /// Business seconds from `from` to `to`.
    fn business_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.business().between(from, to, &[])
    }
}

/// The spans a case spent paused, from its status history (the last one open while it is
/// paused now).
fn pauses(statuses: &[(CaseStatus, DateTime<Utc>)]) -> Vec<Pause> {
    let mut out: Vec<Pause> = Vec::new();
    for (i, (status, since)) in statuses.iter().enumerate() {
        if status.pauses() {
            out.push((*since, statuses.get(i + 1).map(|next| next.1)));
        }
    }
    out
}

/// The case's due times on its policy's clock (`policy`: the row's), from its status history
/// (written into `row`).
fn set_dues(
    clocks: &Clocks,
    policy: Option<&SlaPolicy>,
    row: &mut CaseRow,
    created_at: DateTime<Utc>,
    statuses: &[(CaseStatus, DateTime<Utc>)],
) {
    let dues =
        clocks.on(policy, statuses, |clock| clock.dues(created_at, policy.and_then(|p| p.targets.of(row.priority))));
    row.first_response_due_at = dues.first_response;
    row.resolution_due_at = dues.resolution;
}

/// The breach facts of `case` at `now` on its policy's clock (`policy`: the case's), from its
/// status history (written into it).
fn set_breaches(
    clocks: &Clocks,
    policy: Option<&SlaPolicy>,
    case: &mut Case,
    statuses: &[(CaseStatus, DateTime<Utc>)],
    now: DateTime<Utc>,
) {
    (case.first_response_breach_minutes, case.resolution_breach_minutes) = clocks.on(policy, statuses, |clock| {
        (
            clock.breach(case.first_response_due_at, case.answered_at, now, false),
            clock.breach(case.resolution_due_at, case.solved_at, now, true),
        )
    });
}

/// The case's policy, if it has one.
async fn policy_of(db: &mut sqlx::PgConnection, actor: &Actor, case: &Case) -> Result<Option<SlaPolicy>> {
    Ok(match case.sla_policy_id {
        Some(id) => rows::find::<SlaPolicy>(&mut *db, actor.workspace_id, id).await?,
        None => None,
    })
}

/// The breach facts of a case at `now` (written into it), its policy and history read.
async fn with_breaches(
    db: &mut sqlx::PgConnection,
    actor: &Actor,
    clocks: &Clocks,
    mut case: Case,
    now: DateTime<Utc>,
) -> Result<Case> {
    let policy = policy_of(&mut *db, actor, &case).await?;
    let statuses = support::statuses(&mut *db, actor.workspace_id, case.id).await?;
    set_breaches(clocks, policy.as_ref(), &mut case, &statuses, now);
    Ok(case)
}

/// Recomputes the due times of the unsolved cases (of one policy, when given), each moved one
/// saved with its `case.updated` event: after a change to the calendar (the business hours,
/// the workspace's time zone) or to a policy.
pub(crate) async fn recompute(tx: &mut Tx<'_>, actor: &Actor, policy: Option<Uuid>) -> Result<()> {
    let clocks = Clocks::load(tx, actor).await?;
    for id in support::lock_unsolved(&mut **tx, actor.workspace_id, policy).await? {
        let Some(case) = rows::find::<Case>(&mut **tx, actor.workspace_id, id).await? else { continue };
        let statuses = support::statuses(&mut **tx, actor.workspace_id, id).await?;
        let policy = policy_of(tx, actor, &case).await?;
        let mut row = CaseRow::from(&case);
        set_dues(&clocks, policy.as_ref(), &mut row, case.created_at, &statuses);
        if (row.first_response_due_at, row.resolution_due_at) != (case.first_response_due_at, case.resolution_due_at) {
            let changed = support::update_case(&mut **tx, actor.workspace_id, id, &row).await?;
            record(tx, actor, &[case_event(EventType::CaseUpdated, &changed)]).await?;
        }
    }
    Ok(())
}

/// When a case's first-response target was settled: the earlier of its first response and its
/// first solution (`statuses`, in order: a case solved before any response had its answer then);
/// a reopening does not undo it.
fn answered_at(
    first_response: Option<DateTime<Utc>>,
    statuses: &[(CaseStatus, DateTime<Utc>)],
) -> Option<DateTime<Utc>> {
    let first_solution = statuses.iter().find(|(s, _)| *s == CaseStatus::Solved).map(|s| s.1);
    match (first_response, first_solution) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Locks the cases `ids` for an interaction write (before it, in id order: see
/// [`responses_changed`]); returns those that are closed, which take no interaction.
pub async fn lock_for_interactions(db: &mut sqlx::PgConnection, actor: &Actor, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(ids);
    }
    let locked = support::lock_cases(&mut *db, actor.workspace_id, &ids).await?;
    Ok(locked.into_iter().filter(|(_, s)| *s == CaseStatus::Closed).map(|(id, _)| id).collect())
}

/// Takes in interaction writes on `cases` (locked first by [`lock_for_interactions`]: the
/// interaction's foreign key shares the case's row, and two writers that each held it shared
/// and then asked for it alone would deadlock): each unclosed case's first response is its earliest
/// outbound interaction by a user (never before the case was opened), with its business
/// seconds on the hours in force now; a case whose first response moved is saved with its
/// `case.updated` event. A closed case is final: its facts stay as they were.
pub async fn responses_changed(tx: &mut Tx<'_>, actor: &Actor, cases: &[Uuid]) -> Result<()> {
    let mut ids = cases.to_vec();
    ids.sort();
    ids.dedup();
    let mut clocks = None;
    for id in ids {
        let Some(current) = rows::lock::<Case>(&mut **tx, actor.workspace_id, id).await? else { continue };
        if current.status == CaseStatus::Closed {
            continue;
        }
        let responded =
            support::first_response(&mut **tx, actor.workspace_id, id).await?.map(|at| at.max(current.created_at));
        if responded == current.first_responded_at {
            continue;
        }
        let clocks = match &clocks {
            Some(c) => c,
            None => clocks.insert(Clocks::load(tx, actor).await?),
        };
        let statuses = support::statuses(&mut **tx, actor.workspace_id, id).await?;
        let mut row = CaseRow::from(&current);
        row.first_responded_at = responded;
        row.first_response_business_seconds = responded.map(|at| clocks.business_seconds(current.created_at, at));
        row.answered_at = answered_at(responded, &statuses);
        let case = support::update_case(&mut **tx, actor.workspace_id, id, &row).await?;
        record(tx, actor, &[case_event(EventType::CaseUpdated, &case)]).await?;
    }
    Ok(())
}

fn case_event(kind: EventType, c: &Case) -> NewEvent {
    event(kind, c.id, Some(c.customer_id), c)
}

fn case_event_updated(c: &Case) -> NewEvent {
    case_event(EventType::CaseUpdated, c)
}

/// A case's writable fields, valid.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFields {
    pub customer_id: Uuid,
    pub subject: String,
    pub status: CaseStatus,
    pub priority: Priority,
    pub channel_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub tags: Tags,
    pub sla_policy_id: Option<Uuid>,
    pub follow_up_of: Option<Uuid>,
    pub satisfaction: Option<String>,
    pub satisfaction_comment: Option<String>,
}

/// The references of `f` that are new (all of them for a new case, those that differ from
/// `current` otherwise) hold, as `cx` found them (`422` naming each that does not): a case comes
/// in on an active channel, and follows up a closed case of the same customer. References kept
/// as they were stand (a channel deactivated since, say).
fn check_references(cx: &CaseContext, f: &CaseFields, current: Option<&Case>) -> Result<()> {
    let new = |changed: fn(&Case, &CaseFields) -> bool| current.is_none_or(|c| changed(c, f));
    let mut errors = Vec::new();
    if new(|c, f| c.customer_id != f.customer_id) && !cx.customer {
        errors.push(FieldError::new("customer_id", "is not a customer of this workspace"));
    }
    if new(|c, f| c.channel_id != f.channel_id) && !cx.channel {
        errors.push(FieldError::new("channel_id", "is not an active channel of this workspace"));
    }
    if new(|c, f| c.assignee_id != f.assignee_id) && !cx.assignee {
        errors.push(FieldError::new("assignee_id", "is not a user of this workspace"));
    }
    if new(|c, f| c.sla_policy_id != f.sla_policy_id) && f.sla_policy_id.is_some() && cx.policy.is_none() {
        errors.push(FieldError::new("sla_policy_id", "is not an SLA policy of this workspace"));
    }
    let follow_up_holds = cx.follow_up == Some((CaseStatus::Closed, f.customer_id));
    if new(|c, f| (c.follow_up_of, c.customer_id) != (f.follow_up_of, f.customer_id))
        && f.follow_up_of.is_some()
        && !follow_up_holds
    {
        errors.push(FieldError::new("follow_up_of", "is not a closed case of this customer"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The context of a case with the references of `row`.
async fn context(db: &mut sqlx::PgConnection, actor: &Actor, row: &CaseRow) -> Result<CaseContext> {
    found(support::case_context(&mut *db, actor.workspace_id, row).await?, "workspace")
}

/// The rating rule: the customer rates a solution, so a rating (or a new one) comes to a solved
/// or closed case only, and a comment comes with a rating (`422`).
fn check_rating(f: &CaseFields, current: Option<&Case>) -> Result<()> {
    let changed = current
        .is_none_or(|c| (&c.satisfaction, &c.satisfaction_comment) != (&f.satisfaction, &f.satisfaction_comment));
    if !changed {
        return Ok(());
    }
    if f.satisfaction.is_some() && f.status.is_unsolved() {
        return Err(ApiError::validation("satisfaction", "a case is rated once it is solved"));
    }
    if f.satisfaction_comment.is_some() && f.satisfaction.is_none() {
        return Err(ApiError::validation("satisfaction_comment", "comes with a satisfaction rating"));
    }
    Ok(())
}

fn row_of(f: &CaseFields) -> CaseRow {
    CaseRow {
        customer_id: f.customer_id,
        subject: f.subject.clone(),
        status: f.status,
        priority: f.priority,
        channel_id: f.channel_id,
        assignee_id: f.assignee_id,
        tags: f.tags.as_slice().to_vec(),
        sla_policy_id: f.sla_policy_id,
        follow_up_of: f.follow_up_of,
        first_response_due_at: None,
        resolution_due_at: None,
        first_responded_at: None,
        answered_at: None,
        solved_at: None,
        closed_at: None,
        reopened: 0,
        satisfaction: f.satisfaction.clone(),
        satisfaction_comment: f.satisfaction_comment.clone(),
        first_response_business_seconds: None,
        resolution_business_seconds: None,
    }
}

/// Opens a case (member): it starts `new`, numbered next in the workspace, its due times on
/// its policy's clock; with its first status and `case.created` event, in one statement after
/// one read (`db` may be a transaction or a connection in autocommit).
pub async fn create_case(
    db: &mut sqlx::PgConnection,
    actor: &Actor,
    f: CaseFields,
    now: DateTime<Utc>,
) -> Result<Case> {
    actor.require(Role::Member)?;
    let id = new_id();
    if f.status != CaseStatus::New {
        return Err(ApiError::validation("status", "a case starts new"));
    }
    check_rating(&f, None)?;
    let mut row = row_of(&f);
    let cx = context(db, actor, &row).await?;
    check_references(&cx, &f, None)?;
    let clocks = Clocks::of(&cx)?;
    let now = as_stored(now);
    let opened = [(CaseStatus::New, now)];
    set_dues(&clocks, cx.policy.as_ref(), &mut row, now, &opened);
    let mut case = Case::opened(id, &row, now);
    set_breaches(&clocks, cx.policy.as_ref(), &mut case, &opened, now);
    let created = case_event(EventType::CaseCreated, &case);
    let mut stored = support::insert_case(&mut *db, actor.workspace_id, &case, &actor.origin(), &created).await?;
    (stored.first_response_breach_minutes, stored.resolution_breach_minutes) =
        (case.first_response_breach_minutes, case.resolution_breach_minutes);
    Ok(stored)
}

/// One case, with its breach facts at `now`.
pub async fn get_case(pool: &sqlx::PgPool, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> Result<Case> {
    let mut conn = pool.acquire().await?;
    let case: Case = found(rows::find(&mut *conn, actor.workspace_id, id).await?, "case")?;
    let clocks = Clocks::load(&mut conn, actor).await?;
    with_breaches(&mut conn, actor, &clocks, case, now).await
}

/// A page of cases, newest first, each with its breach facts at `now`.
pub async fn list_cases(
    pool: &sqlx::PgPool,
    actor: &Actor,
    filter: &CaseFilter,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Case>> {
    let mut conn = pool.acquire().await?;
    let cases = support::list_cases(&mut *conn, actor.workspace_id, filter, now, after, limit).await?;
    let clocks = Clocks::load(&mut conn, actor).await?;
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        out.push(with_breaches(&mut conn, actor, &clocks, case, now).await?);
    }
    Ok(out)
}

/// Removes a case opened by mistake (admin) with its status history; one with interactions or
/// follow-ups cannot go (`409`: close it instead).
pub async fn delete_case(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let current: Case = lock(tx, actor, Role::Admin, id, "case").await?;
    check_version(expected, current.version)?;
    if support::has_interactions(&mut **tx, actor.workspace_id, id).await?
        || support::has_follow_ups(&mut **tx, actor.workspace_id, id).await?
    {
        return Err(ApiError::Conflict("the case has interactions or follow-ups: close it instead".into()));
    }
    rows::delete::<Case>(&mut **tx, actor.workspace_id, id).await?;
    record(tx, actor, &[case_event(EventType::CaseDeleted, &current)]).await
}

/// Closes up to `limit` cases solved before `cutoff` (of live customers; others wait for their
/// restore), as Rapport itself: each as a `PATCH` to `closed` would, with its `case.updated`
/// event. Returns how many (the `close-cases` job runs it until fewer than `limit` come).
pub async fn close_solved(tx: &mut Tx<'_>, cutoff: DateTime<Utc>, now: DateTime<Utc>, limit: i64) -> Result<usize> {
    let due = support::lock_solved_before(&mut **tx, cutoff, limit).await?;
    for (ws, id) in &due {
        let actor = Actor::system(*ws);
        let closed = update_case(tx, &actor, *id, None, now, |c| {
            let mut f = CaseFields::from(c);
            f.status = CaseStatus::Closed;
            Ok(f)
        })
        .await;
        match closed {
            // Its customer was soft-deleted meanwhile: the case waits for a restore.
            Ok(_) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(due.len())
}

impl From<&Case> for CaseFields {
    fn from(c: &Case) -> Self {
        CaseFields {
            customer_id: c.customer_id,
            subject: c.subject.clone(),
            status: c.status,
            priority: c.priority,
            channel_id: c.channel_id,
            assignee_id: c.assignee_id,
            tags: Tags::stored(c.tags.clone()),
            sla_policy_id: c.sla_policy_id,
            follow_up_of: c.follow_up_of,
            satisfaction: c.satisfaction.clone(),
            satisfaction_comment: c.satisfaction_comment.clone(),
        }
    }
}

/// A customer's unsolved cases, oldest first, each with its breach facts at `now`.
pub async fn open_cases(pool: &sqlx::PgPool, actor: &Actor, customer: Uuid, now: DateTime<Utc>) -> Result<Vec<Case>> {
    let mut conn = pool.acquire().await?;
    let cases = support::open_cases(&mut *conn, actor.workspace_id, customer).await?;
    if cases.is_empty() {
        return Ok(cases);
    }
    let clocks = Clocks::load(&mut conn, actor).await?;
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        out.push(with_breaches(&mut conn, actor, &clocks, case, now).await?);
    }
    Ok(out)
}

/// A page of a case's timeline (its interactions and status changes), newest first.
pub async fn case_timeline(
    pool: &sqlx::PgPool,
    actor: &Actor,
    id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<crate::db::timeline::Entry>> {
    let case: Case = found(rows::find(pool, actor.workspace_id, id).await?, "case")?;
    let of = crate::db::timeline::Of::Case(case.id);
    Ok(crate::db::timeline::page(pool, actor.workspace_id, of, after, limit).await?)
}

/// Changes a case (member): `change` gives its new fields from the current ones. A new status
/// follows the status rules (`409` otherwise: the case's state forbids it) and is recorded; solving sets `solved_at`,
/// reopening counts in `reopened` and clears it, closing sets `closed_at`; the due times follow
/// the priority, the policy and the pauses.
pub async fn update_case(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    now: DateTime<Utc>,
    change: impl FnOnce(&Case) -> Result<CaseFields>,
) -> Result<Case> {
    let current: Case = lock(tx, actor, Role::Member, id, "case").await?;
    let f = change(&current)?;
    check_version(expected, current.version)?;
    if f.follow_up_of == Some(id) {
        return Err(ApiError::validation("follow_up_of", "is this case itself"));
    }
    check_rating(&f, Some(&current))?;
    if current.status == CaseStatus::Closed {
        // Final: only the customer's rating may still come in.
        let mut rated = CaseRow::from(&current);
        (rated.satisfaction, rated.satisfaction_comment) = (f.satisfaction.clone(), f.satisfaction_comment.clone());
        let mut asked = f.clone();
        (asked.satisfaction, asked.satisfaction_comment) =
            (current.satisfaction.clone(), current.satisfaction_comment.clone());
        if asked != CaseFields::from(&current) {
            return Err(ApiError::Conflict(
                "a closed case is final (only its satisfaction may change): open a follow-up case".into(),
            ));
        }
        let case = support::update_case(&mut **tx, actor.workspace_id, id, &rated).await?;
        record_change(tx, actor, current.version, case.version, || case_event(EventType::CaseUpdated, &case)).await?;
        let clocks = Clocks::load(tx, actor).await?;
        return with_breaches(tx, actor, &clocks, case, now).await;
    }
    if f.customer_id != current.customer_id && support::has_interactions(&mut **tx, actor.workspace_id, id).await? {
        return Err(ApiError::Conflict("customer_id: the case has interactions with its customer".into()));
    }
    let mut row = row_of(&f);
    let cx = context(tx, actor, &row).await?;
    check_references(&cx, &f, Some(&current))?;
    let clocks = Clocks::of(&cx)?;
    (row.first_responded_at, row.first_response_business_seconds) =
        (current.first_responded_at, current.first_response_business_seconds);
    (row.solved_at, row.closed_at, row.reopened) = (current.solved_at, current.closed_at, current.reopened);
    row.resolution_business_seconds = current.resolution_business_seconds;
    let mut statuses = support::statuses(&mut **tx, actor.workspace_id, id).await?;
    // `now` was read before the case's lock: a change that waited for one made meanwhile comes
    // after it (by a microsecond at least), so that the history stays in order.
    let now = statuses.last().map_or(now, |last| now.max(last.1 + chrono::TimeDelta::microseconds(1)));
    if f.status != current.status {
        match transition(current.status, f.status) {
            Err(why) => return Err(ApiError::Conflict(format!("status: {why}"))),
            // A reopened case's rating was of a solution it no longer has.
            Ok(Transition::Reopen) => {
                (row.reopened, row.solved_at) = (current.reopened + 1, None);
                (row.satisfaction, row.satisfaction_comment) = (None, None);
            }
            Ok(Transition::Move) => {}
        }
        match f.status {
            CaseStatus::Solved => {
                row.solved_at = Some(now);
                row.resolution_business_seconds = Some(clocks.business_seconds(current.created_at, now));
            }
            CaseStatus::Closed => row.closed_at = Some(now),
            _ if row.solved_at.is_none() => row.resolution_business_seconds = None,
            _ => {}
        }
        support::record_status(&mut **tx, actor.workspace_id, id, Some(current.status), f.status, now).await?;
        statuses.push((f.status, now));
    }
    row.answered_at = answered_at(row.first_responded_at, &statuses);
    set_dues(&clocks, cx.policy.as_ref(), &mut row, current.created_at, &statuses);
    let mut case = support::update_case(&mut **tx, actor.workspace_id, id, &row).await?;
    record_change(tx, actor, current.version, case.version, || case_event(EventType::CaseUpdated, &case)).await?;
    set_breaches(&clocks, cx.policy.as_ref(), &mut case, &statuses, now);
    Ok(case)
}
