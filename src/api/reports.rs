//! `/reports`: saved analytics, run on demand or on a schedule, with their runs (as JSON, or
//! as CSV with `Accept: text/csv`).

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::analytics::report::table;
use crate::app::reports::{self as use_case, ReportFields};
use crate::app::{self};
use crate::auth::roles::{Admin, Member, Viewer};
use crate::db::reports::{Report, Run};
use crate::domain::schedule::ReportKind;
use crate::domain::Name;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::write::Write;
use crate::http::{created, created_resource, ok, patch, AppState, PageParams, Resource};

/// Fields a merge patch cannot remove with `null`.
const NOT_NULL: &[&str] = &["name", "params"];
/// Fields a merge patch cannot change.
const FROZEN: &[&str] = &["kind"];

impl Resource for Report {
    fn location(&self) -> String {
        format!("/api/v1/reports/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// The writable fields of a report, as a client sends them (the document gives their shape
/// per kind: [`NewReport`], [`ReportPatch`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    pub name: String,
    pub kind: ReportKind,
    #[serde(default = "patch::empty_object")]
    pub params: Value,
    #[serde(default)]
    pub schedule: Option<Value>,
}

/// What the document says of `params`.
const PARAMS: &str = "The query parameters of `/analytics/<kind>`, each of the JSON type that endpoint \
    documents (`null`: its default), read by that endpoint's own code: a report holds nothing the endpoint \
    would refuse (`422` naming `params.<name>`; a funnel's `pipeline_id` must be a pipeline of the \
    workspace). Besides a fixed `from`/`to` (RFM: `as_of`), `range` gives a window relative to the day of \
    the run, in the workspace's time zone: `last_7_days`, `last_30_days`, `last_90_days` (whole days before \
    today), `previous_week` (Monday to Monday), `previous_month`, `previous_quarter`, `month_to_date`, \
    `year_to_date` (up to the run). A report with a schedule and neither covers the period of its \
    schedule that just ended (yesterday, last week, last month), whether its schedule or a request runs \
    it; one without a schedule, the endpoint's default window.";

/// What the document says of `schedule`.
const SCHEDULE: &str = "When it runs by itself (`null`: on demand only), in the workspace's time zone. \
    A local time skipped by a daylight-saving change runs at the first instant after it; one repeated runs once.";

fn nullable_schedule() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("ScheduleInput"))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(SCHEDULE))
            .build(),
    )
}

derived_schema!(
    /// A report to save: its `kind` decides the shape of `params`.
    NewReport,
    schema {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
        let mut kinds = OneOfBuilder::new().description(Some("A report to save: its `kind` decides the shape of `params`."));
        for kind in ReportKind::ALL {
            let mut params = crate::analytics::report::params_schema(*kind);
            params.description = Some(PARAMS.into());
            let mut shape = ObjectBuilder::new()
                .title(Some(kind.as_str()))
                .property("name", Name::schema())
                .required("name")
                .property("kind", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([kind.as_str()])))
                .required("kind")
                .property("params", params.clone())
                .property("schedule", nullable_schedule())
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if !params.required.is_empty() {
                shape = shape.required("params");
            }
            kinds = kinds.item(shape);
        }
        Schema::OneOf(kinds.build()).into()
    }
);

derived_schema!(
    /// A JSON merge patch of a report.
    ReportPatch,
    schema {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "A JSON merge patch (RFC 7396) of the report's `name`, `params` (merged key by key: `null` \
                 removes one) and `schedule` (replaced whole: its fields depend on `every`). The `kind` of a \
                 report does not change: save another report.",
            ))
            .property("name", Name::schema())
            .property("params", ObjectBuilder::new().schema_type(Type::Object).description(Some(PARAMS)))
            .property("schedule", nullable_schedule())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
);

impl ReportInput {
    /// The fields, valid (`422` naming every bad one).
    fn parse(self) -> ApiResult<ReportFields> {
        ReportFields::parse(&self.name, self.kind, &self.params, self.schedule.as_ref())
    }

    /// The report's fields with a merge patch applied.
    fn patched(current: &Report, body: &Value) -> ApiResult<ReportFields> {
        let writable = ReportInput {
            name: current.name.clone(),
            kind: current.kind,
            params: current.params.clone(),
            schedule: current.schedule.as_ref().map(|s| serde_json::to_value(s.0).unwrap_or_default()),
        };
        let mut merged: ReportInput = patch::apply(&writable, body, FROZEN, NOT_NULL)?;
        // A schedule's fields depend on how often it comes round: a new one replaces the old.
        if let Some(schedule) = body.get("schedule") {
            merged.schedule = Some(schedule.clone());
        }
        merged.parse()
    }
}

crate::list_handler! {
    /// List reports
    ///
    /// The workspace's saved reports, oldest first. Any role (viewer).
    ///
    /// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
    /// next page, until `next_cursor` is `null`.
    list_reports, role = Viewer, tag = "reports", path = "/reports", sort = "reports:created_at", body = Report,
    described = "A page of reports", list = app::reports::list, errors = [E400, E401]
}

/// Create a report
///
/// Admin. Saves analytics to run on demand or on a `schedule` (in the workspace's local time):
/// `201` with the report, its `Location` and `ETag`. `kind` decides the shape of `params`: the
/// query parameters of `/analytics/<kind>`, checked by that endpoint's own code (`422` naming
/// `params.<name>`), with an optional relative `range`. `next_run_at` is its schedule's first
/// slot.
///
/// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
/// response (the same key with another body is `409`).
#[utoipa::path(
    tag = "reports",
    params(crate::http::idempotency::IdempotencyKey),
    request_body = NewReport,
    responses(
        (status = 201, description = "Saved", body = Report, headers(("Location" = String), ("ETag" = String))),
        E400, E401, E403, E413, E415, E422
    ),
    extensions(("x-events" = json!(["report.created"])))
)]
#[post("/reports")]
pub async fn create_report(mut w: Write<Admin>, Json(body): Json<ReportInput>) -> ApiResult<HttpResponse> {
    let now = w.state.settings.clock.now();
    let report = use_case::create(&mut w.tx, &w.actor, body.parse()?, now).await?;
    w.commit(created_resource(&report)).await
}

crate::get_handler! {
    /// Get a report
    ///
    /// The saved report, with its `ETag`. Any role (viewer).
    get_report, tag = "reports", path = "/reports/{id}", id = "Report id", body = Report,
    described = "The report", get = app::reports::get
}

/// Update a report
///
/// Admin. A JSON merge patch (RFC 7396) of `name`, `params` (merged key by key: `null` removes
/// one) and `schedule` (replaced whole; `null`: on demand only). `kind` cannot change (`422`):
/// save another report. A new schedule moves `next_run_at` to its first slot.
///
/// Send `If-Match` with the `ETag` to apply the change only to that version (`412` otherwise).
#[utoipa::path(
    tag = "reports",
    params(
        ("id" = Uuid, Path, description = "Report id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version the change is based on")
    ),
    request_body(content = ReportPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The report", body = Report, headers(("ETag" = String))),
        E400, E401, E403, E404, E412, E413, E415, E422
    ),
    extensions(("x-events" = json!(["report.updated"])))
)]
#[patch("/reports/{id}")]
pub async fn patch_report(
    mut w: Write<Admin>,
    id: web::Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let now = w.state.settings.clock.now();
    let report =
        use_case::update(&mut w.tx, &w.actor, *id, expected, now, |current| ReportInput::patched(current, &body))
            .await?;
    w.commit(ok(&report)).await
}

crate::delete_handler! {
    /// Delete a report
    ///
    /// Admin. `204`: the report is removed with its runs. Send `If-Match` with the `ETag` to
    /// remove only that version (`412` otherwise).
    delete_report, role = Admin, tag = "reports", path = "/reports/{id}", id = "Report id",
    events = ["report.deleted"], delete = app::reports::delete, errors = [E400, E401, E403, E404, E412]
}

/// Run a report now
///
/// Member. `201` with the run and its `Location`. It covers the report's `range`, else its fixed
/// window; a report with neither covers the period of its schedule that just ended, or without
/// a schedule the endpoint's default window. A run that fails (the pipeline was deleted since,
/// the statement ran past its time limit) is stored as `failed` with the problem in `error`, and
/// answered all the same (its event is `report.run.failed` instead of `report.run.succeeded`).
///
/// Honours `Idempotency-Key` (no body needed): a retry with the same key within 24 h returns
/// the stored response.
#[utoipa::path(
    tag = "reports",
    params(("id" = Uuid, Path, description = "Report id"), crate::http::idempotency::IdempotencyKey),
    responses(
        (status = 201, description = "The run", body = Run, headers(("Location" = String))),
        E400, E401, E403, E404
    ),
    extensions(("x-events" = json!(["report.run.succeeded"])))
)]
#[post("/reports/{id}/runs")]
pub async fn run_report(mut w: Write<Member>, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let (now, timeout) = (w.state.settings.clock.now(), w.state.settings.report_timeout);
    let pool = w.state.pool.clone();
    let run = use_case::run_now(&pool, &mut w.tx, &w.actor, *id, now, timeout).await?;
    let location = format!("/api/v1/reports/{}/runs/{}", run.report_id, run.id);
    w.commit(created(location, None, &run)).await
}

/// List a report's runs
///
/// The report's runs, newest first: each with its trigger, status, window, and result or
/// `error`. Runs older than 400 days (`RAPPORT_REPORT_RUNS_RETENTION_DAYS`) are forgotten, but
/// never a report's latest. Any role (viewer).
///
/// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
/// next page, until `next_cursor` is `null`.
#[utoipa::path(
    operation_id = "list_report_runs",
    tag = "reports",
    params(("id" = Uuid, Path, description = "Report id"), PageParams),
    responses((status = 200, description = "A page of runs", body = crate::http::Page<Run>), E400, E401, E404)
)]
#[get("/reports/{id}/runs")]
pub async fn list_runs(
    state: web::Data<AppState>,
    auth: Auth<Viewer>,
    id: web::Path<Uuid>,
    Query(page): Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let keyset =
        state.cursor_key.keyset(auth.workspace_id, "report_runs:-started_at", page.cursor.as_deref(), page.limit)?;
    let runs = use_case::runs(&state.pool, &auth.actor(), *id, keyset.after, keyset.fetch()).await?;
    Ok(HttpResponse::Ok().json(keyset.page(runs, |r| (r.started_at, r.id))))
}

/// Get a report run
///
/// One run: JSON, or with `Accept: text/csv` its result as CSV (UTF-8, RFC 4180, a header
/// row, then one row per funnel stage, segment group, RFM segment, cohort and offset, series
/// group and bucket, basket pair, or support group, then for support a last row of the totals,
/// its `key` empty and its `label` `Total`; numbers as JSON writes them; a text cell a spreadsheet
/// would run as a formula starts with `'`). A failed run has no CSV (`409`); neither JSON nor
/// CSV acceptable is `406`. Any role (viewer).
#[utoipa::path(
    operation_id = "get_report_run",
    tag = "reports",
    params(("id" = Uuid, Path, description = "Report id"), ("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", content((Run = "application/json"), (String = "text/csv"))),
        E400, E401, E404, E409,
        (status = 406, description = "Neither JSON nor CSV is acceptable", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/reports/{id}/runs/{run_id}")]
pub async fn get_run(
    state: web::Data<AppState>,
    auth: Auth<Viewer>,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let format = crate::http::negotiate(&req, &["application/json", "text/csv"])?;
    let (report_id, run_id) = path.into_inner();
    let actor = auth.actor();
    let run = use_case::run(&state.pool, &actor, report_id, run_id).await?;
    if format == "application/json" {
        return Ok(HttpResponse::Ok().json(run));
    }
    let Some(result) = &run.result else {
        return Err(ApiError::Conflict("the run failed: it has no result (see its error)".into()));
    };
    let report = use_case::get(&state.pool, &actor, report_id).await?;
    let csv = csv_of(&table(report.kind, result))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"report-{}-run-{}.csv\"", report.id, run.id),
        ))
        .body(csv))
}

/// A table as CSV: text cells protected from spreadsheets (`http::csv_cells`), numbers and
/// booleans as JSON writes them, `null` empty.
fn csv_of(t: &crate::analytics::report::Table) -> ApiResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fault = |e: csv::Error| ApiError::internal(format!("CSV: {e}"));
    w.write_record(&t.header).map_err(fault)?;
    for row in &t.rows {
        let cells = row.iter().map(|v| match v {
            Value::Null => String::new(),
            Value::String(s) => crate::http::csv_cells::escape(s).into_owned(),
            other => other.to_string(),
        });
        w.write_record(cells).map_err(fault)?;
    }
    w.into_inner().map_err(|e| ApiError::internal(format!("CSV: {e}")))
}
