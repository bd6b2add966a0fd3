use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::jwt::TokenKind;
use crate::auth::roles::Member;
use crate::db::deals::{self, Deal, DealStatus, StageEvent};
use crate::db::{self, customers, pipelines};
use crate::domain::{self, Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json, Query};
use crate::http::patch;
use crate::http::AppState;
use crate::http::{created, versioned, Page};

const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    pub pipeline_id: Uuid,
    /// A stage of the pipeline; default: its first.
    pub stage_id: Option<Uuid>,
    /// A live customer of the workspace.
    pub customer_id: Uuid,
    #[schema(schema_with = crate::http::doc::schemas::name, example = "50 seats, annual plan")]
    pub title: String,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub amount_cents: Option<i64>,
    pub owner_id: Option<Uuid>,
    #[schema(schema_with = crate::http::doc::schemas::calendar_date)]
    pub expected_close_date: Option<NaiveDate>,
    /// To bring history over: never in the future. Default: now.
    pub created_at: Option<DateTime<Utc>>,
}

/// The writable fields of a deal, patched by PATCH.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealPatch {
    /// Moving the deal: another stage of its pipeline.
    pub stage_id: Uuid,
    /// When a move happened (back-filling): not in the future, not before the deal's previous
    /// change. Default: now. Used only when `stage_id` changes.
    #[serde(default)]
    pub changed_at: Option<DateTime<Utc>>,
    pub customer_id: Uuid,
    #[schema(schema_with = crate::http::doc::schemas::name)]
    pub title: String,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    #[serde(deserialize_with = "crate::http::patch::integer")]
    pub amount_cents: i64,
    pub owner_id: Option<Uuid>,
    #[schema(schema_with = crate::http::doc::schemas::calendar_date)]
    pub expected_close_date: Option<NaiveDate>,
}

const NOT_NULL: &[&str] = &["stage_id", "customer_id", "title", "amount_cents"];

crate::http::doc::derived_schema!(
    /// A JSON merge patch of a deal.
    DealPatchSchema,
    DealPatch,
    crate::http::doc::schemas::merge_patch(
        <DealPatch as utoipa::PartialSchema>::schema(),
        &[],
        NOT_NULL,
        "A JSON merge patch (RFC 7396) of the deal's writable fields; a new stage_id moves it."
    )
);

fn acting_user<R: crate::auth::roles::MinRole>(auth: &Auth<R>) -> Option<Uuid> {
    (auth.kind == TokenKind::Access).then_some(auth.user_id)
}

fn write_error(e: sqlx::Error) -> ApiError {
    if db::violated_constraint(&e) == Some(deals::OWNER_FK) {
        ApiError::validation("owner_id", "is not a user of this workspace")
    } else {
        e.into()
    }
}

async fn live_customer(db: impl sqlx::PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<(), ApiError> {
    customers::get(db, ws, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::validation("customer_id", "is not a customer of this workspace"))
}

/// Open a deal.
#[utoipa::path(
    tag = "deals",
    request_body = NewDeal,
    responses(
        (status = 201, description = "Created", body = Deal, headers(("Location" = String), ("ETag" = String))),
        E400, E401, E403, E413, E415, E422
    )
)]
#[post("/deals")]
pub async fn create_deal(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    Json(body): Json<NewDeal>,
) -> ApiResult<HttpResponse> {
    let ws = auth.workspace_id;
    let mut v = Validator::default();
    let title = v.check(domain::text("title", &body.title, 1, 200));
    let amount = body.amount_cents.unwrap_or(0);
    if !(0..=MAX_AMOUNT).contains(&amount) {
        v.push(FieldError::new("amount_cents", "must be 0 to 10^15"));
    }
    let created_at = match body.created_at {
        Some(t) => v.check(domain::past_time("created_at", t)),
        None => Some(Utc::now()),
    };
    if let Some(d) = body.expected_close_date {
        v.check(domain::calendar_date("expected_close_date", d));
    }
    v.finish()?;
    let (Some(title), Some(created_at)) = (title, created_at) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = state.pool.begin().await?;
    let stages = pipelines::live_stages(&mut *tx, ws, body.pipeline_id).await?;
    if stages.is_empty() {
        return Err(ApiError::validation("pipeline_id", "is not a pipeline of this workspace"));
    }
    let stage = match body.stage_id {
        None => stages[0].clone(),
        Some(id) => stages
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(|| ApiError::validation("stage_id", "is not a stage of this pipeline"))?,
    };
    live_customer(&mut *tx, ws, body.customer_id).await?;
    let fields = deals::Fields {
        pipeline_id: body.pipeline_id,
        stage_id: stage.id,
        customer_id: body.customer_id,
        title,
        amount_cents: amount,
        owner_id: body.owner_id,
        expected_close_date: body.expected_close_date,
    };
    let deal =
        deals::insert(&mut tx, ws, &fields, stage.kind, created_at, acting_user(&auth)).await.map_err(write_error)?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/deals/{}", deal.id), Some(deal.version), &deal))
}

async fn find(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<Deal, ApiError> {
    deals::get(&state.pool, ws, id).await?.ok_or_else(|| ApiError::not_found("deal"))
}

/// One deal.
#[utoipa::path(
    tag = "deals",
    params(("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "The deal", body = Deal, headers(("ETag" = String))), E400, E401, E404)
)]
#[get("/deals/{id}")]
pub async fn get_deal(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let deal = find(&state, auth.workspace_id, *id).await?;
    Ok(versioned(deal.version, &deal))
}

/// Change a deal: a JSON merge patch. A new `stage_id` moves it (recorded in its history at
/// `changed_at`, default now); `status` and `closed_at` follow the stage's kind. Moves of one
/// deal are serialised.
#[utoipa::path(
    tag = "deals",
    params(
        ("id" = Uuid, Path, description = "Deal id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = DealPatchSchema, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Deal), E400, E401, E403, E404, E412, E413, E415, E422)
)]
#[patch("/deals/{id}")]
pub async fn patch_deal(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = deals::lock(&mut *tx, ws, *id).await?.ok_or_else(|| ApiError::not_found("deal"))?;
    let writable = DealPatch {
        stage_id: current.stage_id,
        changed_at: None,
        customer_id: current.customer_id,
        title: current.title.clone(),
        amount_cents: current.amount_cents,
        owner_id: current.owner_id,
        expected_close_date: current.expected_close_date,
    };
    let input: DealPatch = patch::apply(&writable, &body, &[], NOT_NULL)?;
    let mut v = Validator::default();
    let title = v.check(domain::text("title", &input.title, 1, 200));
    if !(0..=MAX_AMOUNT).contains(&input.amount_cents) {
        v.push(FieldError::new("amount_cents", "must be 0 to 10^15"));
    }
    if let Some(d) = input.expected_close_date {
        v.check(domain::calendar_date("expected_close_date", d));
    }
    let mut move_to = None;
    if input.stage_id != current.stage_id {
        match deals::move_target(&mut *tx, ws, current.pipeline_id, input.stage_id, current.id).await? {
            None => v.push(FieldError::new("stage_id", "is not a stage of the deal's pipeline")),
            Some((kind, previous)) => {
                let at = input.changed_at.unwrap_or_else(Utc::now);
                if let Some(at) = v.check(domain::past_time("changed_at", at)) {
                    if previous.is_some_and(|p| at < p) {
                        v.push(FieldError::new("changed_at", "must not be before the deal's previous change"));
                    } else {
                        move_to = Some((input.stage_id, kind, at));
                    }
                }
            }
        }
    }
    v.finish()?;
    if input.customer_id != current.customer_id {
        live_customer(&mut *tx, ws, input.customer_id).await?;
    }
    crate::http::extract::check_version(expected, current.version)?;
    let fields = deals::Fields {
        pipeline_id: current.pipeline_id,
        stage_id: input.stage_id,
        customer_id: input.customer_id,
        title: title.ok_or_else(|| ApiError::internal("validated title missing"))?,
        amount_cents: input.amount_cents,
        owner_id: input.owner_id,
        expected_close_date: input.expected_close_date,
    };
    let deal = deals::update(&mut tx, ws, &current, &fields, move_to, acting_user(&auth)).await.map_err(write_error)?;
    tx.commit().await?;
    Ok(versioned(deal.version, &deal))
}

/// Delete a deal, with its history.
#[utoipa::path(
    tag = "deals",
    params(
        ("id" = Uuid, Path, description = "Deal id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to delete")
    ),
    responses((status = 204, description = "Deleted"), E400, E401, E403, E404, E412)
)]
#[delete("/deals/{id}")]
pub async fn delete_deal(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut tx = state.pool.begin().await?;
    let current = deals::lock(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("deal"))?;
    crate::http::extract::check_version(expected, current.version)?;
    deals::delete(&mut *tx, auth.workspace_id, current.id).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every stage change of a deal, creation first, in order.
#[utoipa::path(
    tag = "deals",
    params(("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "The history", body = Vec<StageEvent>), E400, E401, E404)
)]
#[get("/deals/{id}/history")]
pub async fn history(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let deal = find(&state, auth.workspace_id, *id).await?;
    Ok(HttpResponse::Ok().json(deals::history(&state.pool, auth.workspace_id, deal.id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DealQuery {
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub status: Option<DealStatus>,
    pub customer_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    /// At or after this instant (a date is midnight in the workspace's time zone).
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub created_after: Option<String>,
    /// Before this instant.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub created_before: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Deals, filtered, newest first.
#[utoipa::path(
    tag = "deals",
    params(DealQuery),
    responses((status = 200, description = "A page of deals", body = Page<Deal>), E400, E401)
)]
#[get("/deals")]
pub async fn list_deals(state: web::Data<AppState>, auth: Auth, Query(q): Query<DealQuery>) -> ApiResult<HttpResponse> {
    const SORT: &str = "deals:-created_at";
    let limit = crate::http::PageParams { limit: q.limit, cursor: None }.limit()?;
    let after = state.cursor_key.position(auth.workspace_id, SORT, q.cursor.as_deref())?;
    let (created_after, created_before) = crate::db::workspaces::resolve_bounds(
        &state.pool,
        auth.workspace_id,
        crate::http::extract::optional_bound("created_after", q.created_after.as_deref())?,
        crate::http::extract::optional_bound("created_before", q.created_before.as_deref())?,
    )
    .await?;
    let filter = deals::Filter {
        pipeline_id: q.pipeline_id,
        stage_id: q.stage_id,
        status: q.status,
        customer_id: q.customer_id,
        owner_id: q.owner_id,
        created_after,
        created_before,
    };
    let rows = deals::list(&state.pool, auth.workspace_id, &filter, after, limit + 1).await?;
    Ok(HttpResponse::Ok().json(state.cursor_key.page(auth.workspace_id, SORT, rows, limit, |d| (d.created_at, d.id))))
}
