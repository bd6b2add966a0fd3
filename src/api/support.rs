//! `/workspace/business-hours`, `/sla-policies`, `/cases`: after-sales support with service-level
//! timers counted in business hours.

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::support::{self as use_case, CaseFields, PolicyFields};
use crate::app::{self};
use crate::auth::roles::{Admin, Member, Viewer};
use crate::db::support::{Case, CaseFilter, SlaPolicy, WorkspaceBusinessHours};
use crate::domain::business_hours::BusinessHours;
use crate::domain::support::{CaseStatus, Priority, Targets};
use crate::domain::{Tags, Validator};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::write::{Write, WriteStatement};
use crate::http::{created_resource, ok, patch, versioned, AppState, Resource};

impl Resource for SlaPolicy {
    fn location(&self) -> String {
        format!("/api/v1/sla-policies/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

impl Resource for Case {
    fn location(&self) -> String {
        format!("/api/v1/cases/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// Get the business hours
///
/// The workspace's business hours: weekly intervals in its time zone and holidays (Monday to
/// Friday 09:00–17:00, version 0, until set), with their `ETag`. Any role (viewer).
#[utoipa::path(
    operation_id = "get_business_hours",
    tag = "support",
    responses(
        (status = 200, description = "The business hours", body = WorkspaceBusinessHours, headers(("ETag" = String))),
        E401
    )
)]
#[get("/workspace/business-hours")]
pub async fn get_business_hours(state: web::Data<AppState>, auth: Auth<Viewer>) -> ApiResult<HttpResponse> {
    let hours = use_case::business_hours(&state.pool, &auth.actor()).await?;
    Ok(versioned(hours.version, &hours))
}

/// Set the business hours
///
/// Admin. Replaces them whole; the due times of every unsolved case on a business-hours policy
/// follow (their `case.updated` events too). Intervals are `[start, end)` in local time, a day
/// may have several; holidays are local dates without business hours. With `If-Match`, applies
/// only to that version (`412` otherwise; `"0"`: only if none were set yet).
#[utoipa::path(
    operation_id = "set_business_hours",
    tag = "support",
    request_body = BusinessHours,
    params(("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")),
    responses(
        (status = 200, description = "The business hours", body = WorkspaceBusinessHours, headers(("ETag" = String))),
        E400, E401, E403, E412, E413, E415, E422
    ),
    extensions(("x-events" = json!(["business_hours.updated"])))
)]
#[put("/workspace/business-hours")]
pub async fn set_business_hours(
    mut w: Write<Admin>,
    IfMatch(expected): IfMatch,
    Json(body): Json<BusinessHours>,
) -> ApiResult<HttpResponse> {
    let hours = use_case::set_business_hours(&mut w.tx, &w.actor, body, expected).await?;
    w.commit(versioned(hours.version, &hours)).await
}

/// The writable fields of an SLA policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    #[schema(schema_with = crate::domain::Name::schema)]
    pub name: String,
    /// Targets by priority, in minutes; a priority without one has no due times.
    pub targets: Targets,
    /// Count business minutes (`true`, the default) or every minute.
    #[serde(default = "yes")]
    pub business_hours: bool,
}

fn yes() -> bool {
    true
}

derived_schema!(
    /// A JSON merge patch of an SLA policy.
    PolicyPatch,
    PolicyInput,
    crate::http::doc::schemas::merge_patch(
        <PolicyInput as utoipa::PartialSchema>::schema(),
        &[],
        &["name", "targets", "business_hours"],
        "A JSON merge patch (RFC 7396) of the policy's fields."
    )
);

impl PolicyInput {
    fn parse(self) -> ApiResult<PolicyFields> {
        PolicyFields::parse(&self.name, self.targets, self.business_hours)
    }

    fn patched(current: &SlaPolicy, body: &Value) -> ApiResult<PolicyFields> {
        let writable = PolicyInput {
            name: current.name.clone(),
            targets: current.targets.clone(),
            business_hours: current.business_hours,
        };
        let mut input = patch::apply::<_, PolicyInput>(&writable, body, &[], &["name", "targets", "business_hours"])?;
        // `targets` is replaced whole, not merged: each target it gives is complete.
        if let Some(targets) = body.get("targets").filter(|t| !t.is_null()) {
            input.targets = crate::domain::query::from_json("targets", targets.clone())
                .map_err(|e| ApiError::Validation(vec![e]))?;
        }
        input.parse()
    }
}

crate::list_handler! {
    /// List SLA policies
    ///
    /// The workspace's service-level policies, oldest first. Any role (viewer). Paginated:
    /// `limit` 1..200 (default 50); pass `next_cursor` as `cursor` until it is `null`.
    list_sla_policies, role = Viewer, tag = "support", path = "/sla-policies", sort = "sla_policies:created_at",
    body = SlaPolicy, described = "A page of SLA policies", list = app::support::list_policies, errors = [E400, E401]
}

crate::create_handler! {
    /// Create an SLA policy
    ///
    /// Admin. Targets by priority (`first_response_minutes`, `resolution_minutes`: 1 to
    /// 525,600), counted in business minutes unless `business_hours` is `false`.
    create_sla_policy, role = Admin, tag = "support", path = "/sla-policies", request = PolicyInput, body = SlaPolicy,
    events = ["sla_policy.created"], create = app::support::create_policy, errors = [E400, E401, E403, E413, E415, E422]
}

crate::get_handler! {
    /// Get an SLA policy
    ///
    /// The policy, with its `ETag`. Any role (viewer).
    get_sla_policy, tag = "support", path = "/sla-policies/{id}", id = "SLA policy id", body = SlaPolicy,
    described = "The SLA policy", get = app::support::get_policy
}

crate::patch_handler! {
    /// Update an SLA policy
    ///
    /// Admin. A JSON merge patch (RFC 7396); `targets` is replaced whole. The due times of its
    /// unsolved cases follow. Send `If-Match` with the `ETag` to change only that version.
    patch_sla_policy, role = Admin, tag = "support", path = "/sla-policies/{id}", id = "SLA policy id",
    patch = PolicyPatch, body = SlaPolicy, events = ["sla_policy.updated"], update = app::support::update_policy,
    patched = PolicyInput::patched, errors = [E400, E401, E403, E404, E412, E413, E415, E422]
}

crate::delete_handler! {
    /// Delete an SLA policy
    ///
    /// Admin. `204`. A policy that cases not closed follow cannot be removed (`409`): give them
    /// another. Closed cases that followed it keep their due times and lose the reference (a
    /// `case.updated` event each; their breach minutes are then calendar minutes).
    delete_sla_policy, role = Admin, tag = "support", path = "/sla-policies/{id}", id = "SLA policy id",
    events = ["sla_policy.deleted"], delete = app::support::delete_policy, errors = [E400, E401, E403, E404, E409, E412]
}

crate::delete_handler! {
    /// Delete a case
    ///
    /// Admin. `204`: a case opened by mistake is removed with its status history (its number
    /// is not reused). A case with interactions or follow-ups cannot be removed (`409`): close
    /// it instead.
    delete_case, role = Admin, tag = "support", path = "/cases/{id}", id = "Case id",
    events = ["case.deleted"], delete = app::support::delete_case, errors = [E400, E401, E403, E404, E409, E412]
}

/// A customer's rating of a solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Satisfaction {
    Good,
    Bad,
}

/// The writable fields of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseInput {
    pub customer_id: Uuid,
    /// 1 to 500 characters.
    #[schema(schema_with = subject_schema)]
    pub subject: String,
    /// A new case is `new`; see the status rules of `PATCH`.
    #[serde(default = "new")]
    pub status: CaseStatus,
    /// `normal` when not given.
    #[serde(default = "normal")]
    pub priority: Priority,
    /// The channel it came in on (an active one, for a new case or a new channel).
    pub channel_id: Uuid,
    #[serde(default)]
    pub assignee_id: Option<Uuid>,
    #[serde(default)]
    #[schema(schema_with = Tags::schema)]
    pub tags: Vec<String>,
    /// Its service-level policy: without one, a case has no due times.
    #[serde(default)]
    pub sla_policy_id: Option<Uuid>,
    /// A closed case of the same customer this one follows up.
    #[serde(default)]
    pub follow_up_of: Option<Uuid>,
    #[serde(default)]
    pub satisfaction: Option<Satisfaction>,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(schema_with = comment_schema)]
    pub satisfaction_comment: Option<String>,
}

fn subject_schema() -> utoipa::openapi::schema::Object {
    crate::domain::text_schema(1, 500, false)
}

fn comment_schema() -> utoipa::openapi::schema::Object {
    crate::domain::text_schema(0, 2000, true)
}

fn new() -> CaseStatus {
    CaseStatus::New
}
fn normal() -> Priority {
    Priority::Normal
}

/// Fields a merge patch cannot remove with `null`.
const CASE_NOT_NULL: &[&str] = &["customer_id", "subject", "status", "priority", "channel_id", "tags"];

derived_schema!(
    /// A new case: it starts `new` (a `status` is refused) and unrated (a rating comes once it
    /// is solved).
    NewCase,
    CaseInput,
    {
        let mut schema = <CaseInput as utoipa::PartialSchema>::schema();
        if let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(o)) = &mut schema {
            for field in ["status", "satisfaction", "satisfaction_comment"] {
                o.properties.remove(field);
            }
            o.description = Some("A new case; it starts `new` and unrated.".into());
        }
        schema
    }
);

derived_schema!(
    /// A JSON merge patch of a case.
    CasePatch,
    CaseInput,
    crate::http::doc::schemas::merge_patch(
        <CaseInput as utoipa::PartialSchema>::schema(),
        &[],
        CASE_NOT_NULL,
        "A JSON merge patch (RFC 7396) of the case's writable fields."
    )
);

impl CaseInput {
    fn fields(self) -> ApiResult<CaseFields> {
        let mut v = Validator::default();
        let subject = v.check(crate::domain::text("subject", &self.subject, 1, 500));
        let tags = Tags::parse("tags", &self.tags, v.errors());
        if let Some(c) = &self.satisfaction_comment {
            v.check(crate::domain::text("satisfaction_comment", c, 0, 2000));
        }
        match (subject, tags) {
            (Some(subject), Some(tags)) if v.is_empty() => Ok(CaseFields {
                customer_id: self.customer_id,
                subject,
                status: self.status,
                priority: self.priority,
                channel_id: self.channel_id,
                assignee_id: self.assignee_id,
                tags,
                sla_policy_id: self.sla_policy_id,
                follow_up_of: self.follow_up_of,
                satisfaction: self
                    .satisfaction
                    .map(|s| if s == Satisfaction::Good { "good" } else { "bad" }.to_owned()),
                satisfaction_comment: self.satisfaction_comment,
            }),
            _ => Err(ApiError::Validation(v.into_errors())),
        }
    }

    fn patched(current: &Case, body: &Value) -> ApiResult<CaseFields> {
        let writable = CaseInput {
            customer_id: current.customer_id,
            subject: current.subject.clone(),
            status: current.status,
            priority: current.priority,
            channel_id: current.channel_id,
            assignee_id: current.assignee_id,
            tags: current.tags.clone(),
            sla_policy_id: current.sla_policy_id,
            follow_up_of: current.follow_up_of,
            satisfaction: current.satisfaction.as_deref().map(|s| {
                if s == "good" {
                    Satisfaction::Good
                } else {
                    Satisfaction::Bad
                }
            }),
            satisfaction_comment: current.satisfaction_comment.clone(),
        };
        patch::apply::<_, CaseInput>(&writable, body, &[], CASE_NOT_NULL)?.fields()
    }
}

/// Open a case
///
/// Member. `201` with the case, numbered next in the workspace, its due times computed on its
/// policy's clock (business minutes in the workspace's business hours, or every minute). A
/// follow-up of a closed case names it in `follow_up_of`.
#[utoipa::path(
    operation_id = "create_case",
    tag = "support",
    params(crate::http::idempotency::IdempotencyKey),
    request_body = NewCase,
    responses(
        (status = 201, description = "Opened", body = Case, headers(("Location" = String), ("ETag" = String))),
        E400, E401, E403, E413, E415, E422
    ),
    extensions(("x-events" = json!(["case.created"])))
)]
#[post("/cases")]
pub async fn create_case(
    state: web::Data<AppState>,
    mut w: WriteStatement<Member>,
    Json(body): Json<CaseInput>,
) -> ApiResult<HttpResponse> {
    let case = use_case::create_case(&mut w.conn, &w.actor, body.fields()?, state.settings.clock.now()).await?;
    w.commit(created_resource(&case)).await
}

/// Get a case
///
/// The case with its breach facts now (`first_response_breach_minutes`,
/// `resolution_breach_minutes`) and its `ETag`. Any role (viewer).
#[utoipa::path(
    operation_id = "get_case",
    tag = "support",
    params(("id" = Uuid, Path, description = "Case id")),
    responses((status = 200, description = "The case", body = Case, headers(("ETag" = String))), E400, E401, E404)
)]
#[get("/cases/{id}")]
pub async fn get_case(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(ok(&use_case::get_case(&state.pool, &auth.actor(), *id, state.settings.clock.now()).await?))
}

/// List a case's timeline
///
/// The case's interactions and its status changes (its opening first of all), merged, newest
/// first. Any role (viewer). A case of a soft-deleted customer is `404`.
///
/// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
/// next page, until `next_cursor` is `null`.
#[utoipa::path(
    operation_id = "list_case_timeline",
    tag = "support",
    params(("id" = Uuid, Path, description = "Case id"), crate::http::PageParams),
    responses(
        (status = 200, description = "A page of the timeline", body = crate::http::Page<crate::api::customers::TimelineEntry>),
        E400, E401, E404
    )
)]
#[get("/cases/{id}/timeline")]
pub async fn case_timeline(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<Uuid>,
    Query(page): Query<crate::http::PageParams>,
) -> ApiResult<HttpResponse> {
    let keyset = state.cursor_key.keyset(
        auth.workspace_id,
        format!("case-timeline:{}", *id),
        page.cursor.as_deref(),
        page.limit,
    )?;
    let rows = use_case::case_timeline(&state.pool, &auth.actor(), *id, keyset.after, keyset.fetch()).await?;
    let page = keyset.page(rows, |e| (e.at, e.id));
    let data: Vec<crate::api::customers::TimelineEntry> = page.data.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(crate::http::Page { data, next_cursor: page.next_cursor }))
}

/// Update a case
///
/// Member. A JSON merge patch (RFC 7396). A new `status` follows the rules: until solved a case
/// moves freely between `new`, `open`, `pending` and `on_hold`, or to `solved`; a solved case
/// reopens to `open` (counted in `reopened`) or is `closed`; `closed` is final (`409`
/// otherwise). Time in `pending` or `on_hold` pauses the resolution clock. The due times follow
/// a new priority or policy. A `satisfaction` comes once the case is solved, a
/// `satisfaction_comment` with it, and reopening drops them (`422` otherwise); a case with
/// interactions keeps its customer (`409` otherwise). Send `If-Match` with the `ETag` to change only that version.
#[utoipa::path(
    operation_id = "patch_case",
    tag = "support",
    params(
        ("id" = Uuid, Path, description = "Case id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = CasePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Case), E400, E401, E403, E404, E409, E412, E413, E415, E422),
    extensions(("x-events" = json!(["case.updated"])))
)]
#[patch("/cases/{id}")]
pub async fn patch_case(
    mut w: Write<Member>,
    id: web::Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let now = w.state.settings.clock.now();
    let case = use_case::update_case(&mut w.tx, &w.actor, *id, expected, now, |c| CaseInput::patched(c, &body)).await?;
    w.commit(ok(&case)).await
}

/// The filters and page of `GET /cases`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    pub status: Option<CaseStatus>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// Cases that missed a target (`true`) or none (`false`), as of now.
    pub breached: Option<bool>,
    /// Unsolved cases whose solution is due before this instant (RFC 3339).
    pub due_before: Option<chrono::DateTime<chrono::Utc>>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List cases
///
/// Newest first, filtered, each with its breach facts now. Any role (viewer). Paginated:
/// `limit` 1..200 (default 50); pass `next_cursor` as `cursor` until it is `null`. Cases of
/// soft-deleted customers are left out.
#[utoipa::path(
    operation_id = "list_cases",
    tag = "support",
    params(CaseQuery),
    responses((status = 200, description = "A page of cases", body = crate::http::Page<Case>), E400, E401)
)]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    auth: Auth<Viewer>,
    Query(q): Query<CaseQuery>,
) -> ApiResult<HttpResponse> {
    let keyset = state.cursor_key.keyset(auth.workspace_id, "cases:-created_at", q.cursor.as_deref(), q.limit)?;
    let filter = CaseFilter {
        status: q.status,
        priority: q.priority,
        assignee_id: q.assignee_id,
        customer_id: q.customer_id,
        due_before: q.due_before,
        breached: q.breached,
    };
    let now = state.settings.clock.now();
    let rows = use_case::list_cases(&state.pool, &auth.actor(), &filter, now, keyset.after, keyset.fetch()).await?;
    Ok(HttpResponse::Ok().json(keyset.page(rows, |c| (c.created_at, c.id))))
}
