//! Support: a workspace's business hours, its service-level policies, cases and their status
//! history.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::rows::Conditions;
use super::CUSTOMER_IS_LIVE;
use crate::db::events::{self, NewEvent, Origin};
use crate::domain::business_hours::BusinessHours;
use crate::domain::support::{CaseStatus, Priority};
use crate::domain::time::as_stored;
use crate::domain::{new_id, WorkspaceId};

mod policies;
pub use policies::*;

/// A support case.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Case {
    pub id: Uuid,
    /// The case's number in the workspace, from 1, in the order numbers were taken (a creation
    /// that failed after taking one leaves it unused).
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

impl Case {
    /// A new case as it will read back once stored: `r`'s references, subject, status,
    /// priority, tags and due times (each as stored: `domain::time::as_stored`), opened at
    /// `created_at` (as stored too), version 1, nothing happened yet; its `number` (0 here) is
    /// taken when it is inserted.
    pub fn opened(id: Uuid, r: &CaseRow, created_at: DateTime<Utc>) -> Case {
        let created_at = as_stored(created_at);
        Case {
            id,
            number: 0,
            customer_id: r.customer_id,
            subject: r.subject.clone(),
            status: r.status,
            priority: r.priority,
            channel_id: r.channel_id,
            assignee_id: r.assignee_id,
            tags: r.tags.clone(),
            sla_policy_id: r.sla_policy_id,
            follow_up_of: r.follow_up_of,
            first_response_due_at: r.first_response_due_at.map(as_stored),
            resolution_due_at: r.resolution_due_at.map(as_stored),
            first_responded_at: None,
            answered_at: None,
            solved_at: None,
            closed_at: None,
            reopened: 0,
            satisfaction: None,
            satisfaction_comment: None,
            first_response_breach_minutes: None,
            resolution_breach_minutes: None,
            first_response_business_seconds: None,
            resolution_business_seconds: None,
            created_at,
            updated_at: created_at,
            version: 1,
        }
    }
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

/// Inserts the case `c` (made by [`Case::opened`]: its number is taken here, the next of the
/// workspace's sequence) with its first status and its event `created` (whose `number` is the
/// one taken), in one statement. Returns the case as stored.
pub async fn insert_case(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    c: &Case,
    origin: &Origin<'_>,
    created: &NewEvent,
) -> Result<Case, sqlx::Error> {
    let statement = format!(
        "INSERT INTO cases (workspace_id, id, number, customer_id, subject, status, priority, channel_id, assignee_id,
                            tags, sla_policy_id, follow_up_of, first_response_due_at, resolution_due_at, created_at,
                            updated_at)
         VALUES ($1, $2, nextval(format('case_numbers.%I', $1::text)::regclass), $3, $4, $5, $6, $7, $8, $9, $10, $11,
                 $12, $13, $14, $14)
         RETURNING {CASE_COLUMNS}"
    );
    let opened = "opened AS (
         INSERT INTO case_status_changes (workspace_id, id, case_id, from_status, to_status, changed_at)
         SELECT $1, $15, changed.id, NULL, changed.status, changed.created_at FROM changed)";
    let sql = events::recorded(&statement, opened, CASE_COLUMNS, 15, &["number"]);
    let query = sqlx::query_as(&sql)
        .bind(ws)
        .bind(c.id)
        .bind(c.customer_id)
        .bind(&c.subject)
        .bind(c.status)
        .bind(c.priority)
        .bind(c.channel_id)
        .bind(c.assignee_id)
        .bind(&c.tags)
        .bind(c.sla_policy_id)
        .bind(c.follow_up_of)
        .bind(c.first_response_due_at)
        .bind(c.resolution_due_at)
        .bind(c.created_at)
        .bind(new_id());
    events::bind_recorded(query, origin, std::slice::from_ref(created)).fetch_one(db).await
}

/// Writes the fields of the case `id`.
pub async fn update_case(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid, r: &CaseRow) -> Result<Case, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE cases SET
             customer_id = $3, subject = $4, status = $5, priority = $6, channel_id = $7, assignee_id = $8, tags = $9,
             sla_policy_id = $10, follow_up_of = $11, first_response_due_at = $12, resolution_due_at = $13,
             first_responded_at = $14, solved_at = $15, closed_at = $16, reopened = $17, satisfaction = $18,
             satisfaction_comment = $19, first_response_business_seconds = $20, resolution_business_seconds = $21,
             answered_at = $22
          WHERE workspace_id = $1 AND id = $2
         RETURNING {CASE_COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
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
    .bind(r.first_response_business_seconds)
    .bind(r.resolution_business_seconds)
    .bind(r.answered_at)
    .fetch_one(db)
    .await
}

/// What writing a case reads first, in one statement: whether each of its references holds
/// (as the API sees them), its policy, and the workspace's time zone and business hours.
#[derive(Debug)]
pub struct CaseContext {
    pub customer: bool,
    pub channel: bool,
    /// No assignee, or a user of the workspace.
    pub assignee: bool,
    /// The status and customer of the case it follows up (`None`: none named, or not one the
    /// API sees).
    pub follow_up: Option<(CaseStatus, Uuid)>,
    pub policy: Option<SlaPolicy>,
    /// The workspace's IANA time zone.
    pub timezone: String,
    /// The business hours it set, if any.
    pub hours: Option<BusinessHours>,
}

/// The context of a case with these references, in workspace `ws` (`None`: no such workspace).
pub async fn case_context(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    refs: &CaseRow,
) -> Result<Option<CaseContext>, sqlx::Error> {
    use super::rows::exists;
    use crate::db::{customers::Customer, users::User};
    let policy_columns: Vec<String> = POLICY_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect();
    let row = sqlx::query(&format!(
        "SELECT {customer} AS has_customer,
                EXISTS (SELECT 1 FROM channels ch WHERE ch.workspace_id = $1 AND ch.id = $3 AND ch.active) AS has_channel,
                ($4::uuid IS NULL OR {assignee}) AS has_assignee,
                (SELECT t.status FROM cases t WHERE t.workspace_id = $1 AND t.id = $6 AND {case_visible})
                    AS follow_up_status,
                (SELECT t.customer_id FROM cases t WHERE t.workspace_id = $1 AND t.id = $6) AS follow_up_customer,
                w.timezone AS workspace_timezone,
                (SELECT h.hours FROM business_hours h WHERE h.workspace_id = $1) AS business_hours_set,
                {policy}
           FROM workspaces w
           LEFT JOIN sla_policies p ON p.workspace_id = w.id AND p.id = $5
          WHERE w.id = $1",
        customer = exists::<Customer>("$1", "$2"),
        assignee = exists::<User>("$1", "$4"),
        case_visible = <Case as super::rows::Table>::VISIBLE,
        policy = policy_columns.join(", "),
    ))
    .bind(ws)
    .bind(refs.customer_id)
    .bind(refs.channel_id)
    .bind(refs.assignee_id)
    .bind(refs.sla_policy_id)
    .bind(refs.follow_up_of)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    use sqlx::Row;
    let hours: Option<sqlx::types::Json<BusinessHours>> = row.try_get("business_hours_set")?;
    let policy_id: Option<Uuid> = row.try_get("id")?;
    Ok(Some(CaseContext {
        customer: row.try_get("has_customer")?,
        channel: row.try_get("has_channel")?,
        assignee: row.try_get("has_assignee")?,
        follow_up: row.try_get::<Option<CaseStatus>, _>("follow_up_status")?.zip(row.try_get("follow_up_customer")?),
        policy: match policy_id {
            Some(_) => Some(SlaPolicy::from_row(&row)?),
            None => None,
        },
        timezone: row.try_get("workspace_timezone")?,
        hours: hours.map(|h| h.0),
    }))
}

/// Takes the policy off the workspace's closed cases that followed it; returns them as they are
/// now.
pub async fn detach_policy_from_closed(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    policy: Uuid,
) -> Result<Vec<Case>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE cases SET sla_policy_id = NULL WHERE workspace_id = $1 AND sla_policy_id = $2 AND status = 'closed'
         RETURNING {CASE_COLUMNS}"
    ))
    .bind(ws)
    .bind(policy)
    .fetch_all(db)
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
    /// Unsolved, with the resolution due before this instant.
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
    if f.due_before.is_some() {
        // A solved case's solution is no longer due.
        qb.push(" AND status NOT IN ('solved', 'closed')");
    }
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
