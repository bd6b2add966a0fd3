//! Support: a workspace's business hours, its service-level policies, cases and their status
//! history.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::rows::Conditions;
use super::CUSTOMER_IS_LIVE;
use crate::domain::business_hours::BusinessHours;
use crate::domain::support::{CaseStatus, Priority, Targets};
use crate::domain::{new_id, WorkspaceId};

/// The business hours a workspace set, if it set any.
pub async fn business_hours(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<Option<BusinessHours>, sqlx::Error> {
    let hours: Option<sqlx::types::Json<BusinessHours>> =
        sqlx::query_scalar("SELECT hours FROM business_hours WHERE workspace_id = $1")
            .bind(ws)
            .fetch_optional(db)
            .await?;
    Ok(hours.map(|h| h.0))
}

/// Sets the workspace's business hours.
pub async fn set_business_hours(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    hours: &BusinessHours,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO business_hours (workspace_id, hours) VALUES ($1, $2)
         ON CONFLICT (workspace_id) DO UPDATE SET hours = $2, updated_at = now(), version = business_hours.version + 1",
    )
    .bind(ws)
    .bind(sqlx::types::Json(hours))
    .execute(db)
    .await?;
    Ok(())
}

/// A service-level policy: targets by priority, counted in business minutes or not.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SlaPolicy {
    pub id: Uuid,
    #[schema(example = "Standard support")]
    pub name: String,
    #[sqlx(json)]
    pub targets: Targets,
    /// Whether the targets count business minutes (the workspace's business hours) or every
    /// minute.
    pub business_hours: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const POLICY_COLUMNS: &str = "id, name, targets, business_hours, created_at, updated_at, version";

impl super::rows::Table for SlaPolicy {
    const TABLE: &'static str = "sla_policies";
    const COLUMNS: &'static str = POLICY_COLUMNS;
}

/// Inserts a policy (`id` `None`: a new one), or replaces its fields.
pub async fn save_policy(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Option<Uuid>,
    name: &str,
    targets: &Targets,
    business_hours: bool,
) -> Result<SlaPolicy, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO sla_policies (workspace_id, id, name, targets, business_hours) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, id) DO UPDATE SET name = $3, targets = $4, business_hours = $5
         RETURNING {POLICY_COLUMNS}"
    ))
    .bind(ws)
    .bind(id.unwrap_or_else(new_id))
    .bind(name)
    .bind(sqlx::types::Json(targets))
    .bind(business_hours)
    .fetch_one(db)
    .await
}

/// Whether any case follows the policy.
pub async fn policy_in_use(db: impl PgExecutor<'_>, ws: WorkspaceId, policy: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases WHERE workspace_id = $1 AND sla_policy_id = $2)")
        .bind(ws)
        .bind(policy)
        .fetch_one(db)
        .await
}

/// A support case.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Case {
    pub id: Uuid,
    /// The case's number in the workspace, from 1.
    #[schema(example = 1042)]
    pub number: i64,
    pub customer_id: Uuid,
    #[schema(example = "Cannot export to CSV")]
    pub subject: String,
    pub status: CaseStatus,
    pub priority: Priority,
    /// The channel it came in on.
    pub channel_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub sla_policy_id: Option<Uuid>,
    /// The closed case this one follows up.
    pub follow_up_of: Option<Uuid>,
    /// When the first response is due (`null`: no target).
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// When the solution is due (`null`: no target, or its clock is paused now before the
    /// target was reached).
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Its first response: its earliest reply (an outbound interaction logged by a user), never
    /// before it was opened.
    pub first_responded_at: Option<DateTime<Utc>>,
    /// The earlier of its first response and its first solution (a reopening does not undo it):
    /// when its first-response target was settled.
    pub answered_at: Option<DateTime<Utc>>,
    /// Its (latest) solution; `null` while unsolved (a reopened case has none).
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How many times it was reopened (`solved` → `open`).
    pub reopened: i32,
    /// `good` or `bad`, as the customer rated the solution.
    pub satisfaction: Option<String>,
    pub satisfaction_comment: Option<String>,
    /// Business (or, without business hours, calendar) minutes past the first-response due
    /// time: when it was made, or now while none is; `null`: not breached.
    #[sqlx(skip)]
    pub first_response_breach_minutes: Option<i64>,
    /// Minutes past the resolution due time, on the resolution clock (pauses left out).
    #[sqlx(skip)]
    pub resolution_breach_minutes: Option<i64>,
    /// Seconds of the workspace's business hours from creation to the first response, as
    /// they stood then (`null` until the first response).
    pub first_response_business_seconds: Option<i64>,
    /// Seconds of the workspace's business hours from creation to the (latest) solution,
    /// pauses included, as they stood then (`null` while unsolved).
    pub resolution_business_seconds: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const CASE_COLUMNS: &str = "id, number, customer_id, subject, status, priority, channel_id, assignee_id, tags,
    sla_policy_id, follow_up_of, first_response_due_at, resolution_due_at, first_responded_at, answered_at, solved_at,
    closed_at, reopened, satisfaction, satisfaction_comment, first_response_business_seconds, resolution_business_seconds,
    created_at, updated_at, version";

impl super::rows::Table for Case {
    const TABLE: &'static str = "cases";
    const COLUMNS: &'static str = CASE_COLUMNS;
    const VISIBLE: &'static str = CUSTOMER_IS_LIVE;
}

/// A case's stored fields.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub customer_id: Uuid,
    pub subject: String,
    pub status: CaseStatus,
    pub priority: Priority,
    pub channel_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub sla_policy_id: Option<Uuid>,
    pub follow_up_of: Option<Uuid>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopened: i32,
    pub satisfaction: Option<String>,
    pub satisfaction_comment: Option<String>,
    pub first_response_business_seconds: Option<i64>,
    pub resolution_business_seconds: Option<i64>,
}

impl From<&Case> for CaseRow {
    fn from(c: &Case) -> Self {
        CaseRow {
            customer_id: c.customer_id,
            subject: c.subject.clone(),
            status: c.status,
            priority: c.priority,
            channel_id: c.channel_id,
            assignee_id: c.assignee_id,
            tags: c.tags.clone(),
            sla_policy_id: c.sla_policy_id,
            follow_up_of: c.follow_up_of,
            first_response_due_at: c.first_response_due_at,
            resolution_due_at: c.resolution_due_at,
            first_responded_at: c.first_responded_at,
            answered_at: c.answered_at,
            solved_at: c.solved_at,
            closed_at: c.closed_at,
            reopened: c.reopened,
            satisfaction: c.satisfaction.clone(),
            satisfaction_comment: c.satisfaction_comment.clone(),
            first_response_business_seconds: c.first_response_business_seconds,
            resolution_business_seconds: c.resolution_business_seconds,
        }
    }
}

/// Writes a case: a new one (`id` `None`, numbered next in the workspace, created at
/// `created_at`) or the fields of an existing one.
pub async fn save_case(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Option<Uuid>,
    created_at: DateTime<Utc>,
    r: &CaseRow,
) -> Result<Case, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH number AS (
             INSERT INTO case_numbers (workspace_id, last) SELECT $1, 1 WHERE $2::uuid IS NULL
             ON CONFLICT (workspace_id) DO UPDATE SET last = case_numbers.last + 1
             RETURNING last)
         INSERT INTO cases (workspace_id, id, number, customer_id, subject, status, priority, channel_id, assignee_id,
                            tags, sla_policy_id, follow_up_of, first_response_due_at, resolution_due_at,
                            first_responded_at, solved_at, closed_at, reopened, satisfaction, satisfaction_comment,
                            created_at, updated_at, first_response_business_seconds, resolution_business_seconds,
                            answered_at)
         SELECT $1, coalesce($2, $3), coalesce((SELECT last FROM number), 0), $4, $5, $6, $7, $8, $9, $10, $11, $12,
                $13, $14, $15, $16, $17, $18, $19, $20, $21, $21, $22, $23, $24
         ON CONFLICT (workspace_id, id) DO UPDATE SET
             customer_id = $4, subject = $5, status = $6, priority = $7, channel_id = $8, assignee_id = $9, tags = $10,
             sla_policy_id = $11, follow_up_of = $12, first_response_due_at = $13, resolution_due_at = $14,
             first_responded_at = $15, solved_at = $16, closed_at = $17, reopened = $18, satisfaction = $19,
             satisfaction_comment = $20, first_response_business_seconds = $22, resolution_business_seconds = $23,
             answered_at = $24
         RETURNING {CASE_COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
    .bind(new_id())
    .bind(r.customer_id)
    .bind(&r.subject)
    .bind(r.status)
    .bind(r.priority)
    .bind(r.channel_id)
    .bind(r.assignee_id)
    .bind(&r.tags)
    .bind(r.sla_policy_id)
    .bind(r.follow_up_of)
    .bind(r.first_response_due_at)
    .bind(r.resolution_due_at)
    .bind(r.first_responded_at)
    .bind(r.solved_at)
    .bind(r.closed_at)
    .bind(r.reopened)
    .bind(&r.satisfaction)
    .bind(&r.satisfaction_comment)
    .bind(created_at)
    .bind(r.first_response_business_seconds)
    .bind(r.resolution_business_seconds)
    .bind(r.answered_at)
    .fetch_one(db)
    .await
}

/// Records a status the case took at `at` (`from` `None`: its first).
pub async fn record_status(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    case: Uuid,
    from: Option<CaseStatus>,
    to: CaseStatus,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_status_changes (workspace_id, id, case_id, from_status, to_status, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ws)
    .bind(new_id())
    .bind(case)
    .bind(from)
    .bind(to)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// The statuses a case took, in order: `(status, since)`.
pub async fn statuses(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    case: Uuid,
) -> Result<Vec<(CaseStatus, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT to_status, changed_at FROM case_status_changes WHERE workspace_id = $1 AND case_id = $2
          ORDER BY changed_at, id",
    )
    .bind(ws)
    .bind(case)
    .fetch_all(db)
    .await
}

/// Locks the workspace's cases among `ids` (in id order, so that writers never wait on each
/// other in a cycle): `(case, status)`.
pub async fn lock_cases(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, CaseStatus)>, sqlx::Error> {
    sqlx::query_as("SELECT id, status FROM cases WHERE workspace_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE")
        .bind(ws)
        .bind(ids)
        .fetch_all(db)
        .await
}

/// A live customer's unsolved cases, oldest first.
pub async fn open_cases(db: impl PgExecutor<'_>, ws: WorkspaceId, customer: Uuid) -> Result<Vec<Case>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE workspace_id = $1 AND customer_id = $2
            AND status NOT IN ('solved', 'closed') ORDER BY created_at, id"
    ))
    .bind(ws)
    .bind(customer)
    .fetch_all(db)
    .await
}

/// When a case's first response was: its earliest reply (`responds`: an outbound interaction
/// logged by a user; `None`: none yet).
pub async fn first_response(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    case: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(occurred_at) FROM interactions
          WHERE workspace_id = $1 AND case_id = $2 AND responds",
    )
    .bind(ws)
    .bind(case)
    .fetch_one(db)
    .await
}

/// Whether any interaction is on the case.
pub async fn has_interactions(db: impl PgExecutor<'_>, ws: WorkspaceId, case: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM interactions WHERE workspace_id = $1 AND case_id = $2)")
        .bind(ws)
        .bind(case)
        .fetch_one(db)
        .await
}

/// Whether a case is followed up by another.
pub async fn has_follow_ups(db: impl PgExecutor<'_>, ws: WorkspaceId, case: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases WHERE workspace_id = $1 AND follow_up_of = $2)")
        .bind(ws)
        .bind(case)
        .fetch_one(db)
        .await
}

/// Of the `(case, customer)` pairs, those that are a case of that customer, with the case's
/// status: `(case, customer, status)`.
pub async fn cases_of(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    pairs: &[(Uuid, Uuid)],
) -> Result<Vec<(Uuid, Uuid, CaseStatus)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.customer_id, c.status FROM cases c
           JOIN unnest($2::uuid[], $3::uuid[]) AS p (id, customer_id) ON p.id = c.id AND p.customer_id = c.customer_id
          WHERE c.workspace_id = $1",
    )
    .bind(ws)
    .bind(pairs.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(pairs.iter().map(|p| p.1).collect::<Vec<_>>())
    .fetch_all(db)
    .await
}

/// Up to `limit` cases (of live customers, in any workspace) solved before `cutoff`, oldest
/// solution first, locked (`SKIP LOCKED`): `(workspace, case)`.
pub async fn lock_solved_before(
    db: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(WorkspaceId, Uuid)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT workspace_id, id FROM cases t WHERE status = 'solved' AND solved_at < $1 AND {CUSTOMER_IS_LIVE}
          ORDER BY solved_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind(cutoff)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The ids of the workspace's unsolved cases (of one policy, when given), locked in order.
pub async fn lock_unsolved(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    policy: Option<Uuid>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM cases WHERE workspace_id = $1 AND status NOT IN ('solved', 'closed')
            AND ($2::uuid IS NULL OR sla_policy_id = $2) ORDER BY id FOR UPDATE",
    )
    .bind(ws)
    .bind(policy)
    .fetch_all(db)
    .await
}

/// What `GET /cases` filters on.
#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// Resolution due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Breached (`true`) or not (`false`) at `now`, on either target.
    pub breached: Option<bool>,
}

/// A target missed at `{now}`: done late, or not done and past due (the first response's by
/// `answered_at`).
const BREACHED: &str = "((answered_at IS NULL AND first_response_due_at < {now})
     OR answered_at > first_response_due_at
     OR (solved_at IS NULL AND resolution_due_at < {now})
     OR solved_at > resolution_due_at)";

/// A page of cases, newest first.
pub async fn list_cases(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    f: &CaseFilter,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Case>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new(format!("SELECT {CASE_COLUMNS} FROM cases t WHERE {CUSTOMER_IS_LIVE} AND workspace_id = "));
    qb.push_bind(ws)
        .and_if("status =", f.status)
        .and_if("priority =", f.priority)
        .and_if("assignee_id =", f.assignee_id)
        .and_if("customer_id =", f.customer_id)
        .and_if("resolution_due_at <", f.due_before);
    if let Some(breached) = f.breached {
        let (head, tail) = BREACHED.split_once("{now}").unwrap_or((BREACHED, ""));
        qb.push(if breached { " AND " } else { " AND NOT coalesce(" }).push(head).push_bind(now);
        let mut rest = tail;
        while let Some((part, more)) = rest.split_once("{now}") {
            qb.push(part).push_bind(now);
            rest = more;
        }
        qb.push(rest).push(if breached { "" } else { ", false)" });
    }
    qb.and_after("created_at", false, after).order_by("created_at", false, limit);
    qb.build_query_as().fetch_all(db).await
}
