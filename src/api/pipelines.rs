use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::roles::Admin;
use crate::db::deals;
use crate::db::pipelines::{self, Pipeline, Stage, StageKind};
use crate::domain::{self, Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json, Query};
use crate::http::patch;
use crate::http::AppState;
use crate::http::{created, versioned, Page, PageParams};

const SORT: &str = "pipelines:created_at";
const MAX_STAGES: usize = 50;

/// A stage as sent on create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    #[schema(schema_with = crate::http::doc::schemas::name, example = "Qualified")]
    pub name: String,
    pub kind: StageKind,
    /// 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub probability: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    #[schema(schema_with = crate::http::doc::schemas::name, example = "Enterprise sales")]
    pub name: String,
    /// The stages in order; at least one open, one won and one lost. Default: the customer
    /// journey (Need identified → Qualified → Proposal → Negotiation → Won / Lost).
    #[schema(min_items = 3, max_items = 50)]
    pub stages: Option<Vec<StageInput>>,
}

fn validate_stage(v: &mut Validator, prefix: &str, s: &StageInput) -> Option<(String, StageKind, i32)> {
    let name = v.check(domain::text(&format!("{prefix}name"), &s.name, 1, 200));
    let probability = s.probability.unwrap_or(match s.kind {
        StageKind::Won => 100,
        StageKind::Lost => 0,
        StageKind::Open => 50,
    });
    if !(0..=100).contains(&probability) {
        v.push(FieldError::new(format!("{prefix}probability"), "must be 0 to 100"));
        return None;
    }
    Some((name?, s.kind, probability))
}

/// A pipeline keeps at least one open, one won and one lost stage.
fn has_every_kind(kinds: impl Iterator<Item = StageKind> + Clone) -> bool {
    [StageKind::Open, StageKind::Won, StageKind::Lost].iter().all(|k| kinds.clone().any(|s| s == *k))
}

const THREE_KINDS: &str = "a pipeline keeps at least one open, one won and one lost stage";

async fn load(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<Pipeline, ApiError> {
    let row = pipelines::get_row(&state.pool, ws, id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    let stages = pipelines::live_stages(&state.pool, ws, id).await?;
    Ok(pipelines::with_stages(row, stages))
}

/// Pipelines of the workspace, oldest first, with their stages.
#[utoipa::path(
    tag = "pipelines",
    params(PageParams),
    responses((status = 200, description = "A page of pipelines", body = Page<Pipeline>), E400, E401)
)]
#[get("/pipelines")]
pub async fn list_pipelines(
    state: web::Data<AppState>,
    auth: Auth,
    Query(page): Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> =
        state.cursor_key.position(auth.workspace_id, SORT, page.cursor.as_deref())?;
    let rows = pipelines::list(&state.pool, auth.workspace_id, after, limit + 1).await?;
    Ok(HttpResponse::Ok().json(state.cursor_key.page(auth.workspace_id, SORT, rows, limit, |p| (p.created_at, p.id))))
}

/// Add a pipeline (admin).
#[utoipa::path(
    tag = "pipelines",
    request_body = PipelineInput,
    responses(
        (status = 201, description = "Created", body = Pipeline, headers(("Location" = String), ("ETag" = String))),
        E400, E401, E403, E409, E413, E415, E422
    )
)]
#[post("/pipelines")]
pub async fn create_pipeline(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    Json(body): Json<PipelineInput>,
) -> ApiResult<HttpResponse> {
    let mut v = Validator::default();
    let name = v.check(domain::text("name", &body.name, 1, 200));
    let stages: Vec<(String, StageKind, i32)> = match &body.stages {
        None => pipelines::DEFAULT_STAGES.iter().map(|(n, k, p)| (n.to_string(), *k, *p)).collect(),
        Some(list) => {
            if list.len() > MAX_STAGES {
                v.push(FieldError::new("stages", format!("at most {MAX_STAGES} stages")));
            }
            list.iter().enumerate().filter_map(|(i, s)| validate_stage(&mut v, &format!("stages[{i}]."), s)).collect()
        }
    };
    v.finish()?;
    if !has_every_kind(stages.iter().map(|s| s.1)) {
        return Err(ApiError::Conflict(THREE_KINDS.into()));
    }
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    let mut tx = state.pool.begin().await?;
    let pipeline = pipelines::insert(&mut tx, auth.workspace_id, &name, &stages).await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/pipelines/{}", pipeline.id), Some(pipeline.version), &pipeline))
}

/// One pipeline with its stages.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id")),
    responses((status = 200, description = "The pipeline", body = Pipeline, headers(("ETag" = String))), E400, E401, E404)
)]
#[get("/pipelines/{id}")]
pub async fn get_pipeline(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let pipeline = load(&state, auth.workspace_id, *id).await?;
    Ok(versioned(pipeline.version, &pipeline))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[schema(schema_with = crate::http::doc::schemas::name)]
    pub name: String,
}

/// Rename a pipeline (admin): a JSON merge patch of `name`.
#[utoipa::path(
    tag = "pipelines",
    params(
        ("id" = Uuid, Path, description = "Pipeline id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = PipelinePatchSchema, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Pipeline), E400, E401, E403, E404, E412, E415, E422)
)]
#[patch("/pipelines/{id}")]
pub async fn patch_pipeline(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = pipelines::lock(&mut *tx, ws, *id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    let input: PipelinePatch = patch::apply(&PipelinePatch { name: current.name.clone() }, &body, &[], &["name"])?;
    let name = domain::text("name", &input.name, 1, 200).map_err(|e| ApiError::Validation(vec![e]))?;
    crate::http::extract::check_version(expected, current.version)?;
    let row = pipelines::touch(&mut *tx, ws, current.id, Some(&name), false).await?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    tx.commit().await?;
    let pipeline = pipelines::with_stages(row, stages);
    Ok(versioned(pipeline.version, &pipeline))
}

crate::http::doc::derived_schema!(
    /// A JSON merge patch of a pipeline.
    PipelinePatchSchema,
    PipelinePatch,
    crate::http::doc::schemas::merge_patch(
        <PipelinePatch as utoipa::PartialSchema>::schema(),
        &[],
        &["name"],
        "A JSON merge patch (RFC 7396) of the pipeline's name."
    )
);

/// Remove a pipeline (admin); one with deals cannot be removed (`409`).
#[utoipa::path(
    tag = "pipelines",
    params(
        ("id" = Uuid, Path, description = "Pipeline id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to remove")
    ),
    responses((status = 204, description = "Removed"), E400, E401, E403, E404, E409, E412)
)]
#[delete("/pipelines/{id}")]
pub async fn delete_pipeline(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = pipelines::lock(&mut *tx, ws, *id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    crate::http::extract::check_version(expected, current.version)?;
    if pipelines::has_deals(&mut *tx, ws, current.id).await? {
        return Err(ApiError::Conflict("the pipeline has deals; move or delete them first".into()));
    }
    pipelines::delete(&mut *tx, ws, current.id).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    #[schema(schema_with = crate::http::doc::schemas::name)]
    pub name: String,
    pub kind: StageKind,
    #[schema(minimum = 0, maximum = 100)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub probability: Option<i32>,
    /// Where it goes (0-based); the stages from there move one step down. Default, or past
    /// the end: last.
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub position: Option<i32>,
}

/// Add a stage to a pipeline (admin).
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id")),
    request_body = NewStage,
    responses(
        (status = 201, description = "Added; the pipeline", body = Pipeline, headers(("Location" = String))),
        E400, E401, E403, E404, E415, E422
    )
)]
#[post("/pipelines/{id}/stages")]
pub async fn add_stage(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    Json(body): Json<NewStage>,
) -> ApiResult<HttpResponse> {
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = pipelines::lock(&mut *tx, ws, *id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    let mut v = Validator::default();
    let stage =
        validate_stage(&mut v, "", &StageInput { name: body.name, kind: body.kind, probability: body.probability });
    // Past the end appends.
    let position = body.position.unwrap_or(i32::MAX).min(stages.len() as i32);
    if position < 0 {
        v.push(FieldError::new("position", "must be 0 or more"));
    }
    if stages.len() >= MAX_STAGES {
        v.push(FieldError::new("name", format!("a pipeline has at most {MAX_STAGES} stages")));
    }
    v.finish()?;
    let (name, kind, probability) = stage.ok_or_else(|| ApiError::internal("validated stage missing"))?;
    pipelines::insert_stage(&mut tx, ws, current.id, &name, kind, probability, position).await?;
    let row = pipelines::touch(&mut *tx, ws, current.id, None, true).await?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    tx.commit().await?;
    let pipeline = pipelines::with_stages(row, stages);
    Ok(created(format!("/api/v1/pipelines/{}", pipeline.id), Some(pipeline.version), &pipeline))
}

fn find_stage(stages: &[Stage], id: Uuid) -> Result<Stage, ApiError> {
    stages.iter().find(|s| s.id == id).cloned().ok_or_else(|| ApiError::not_found("stage"))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StagePatch {
    #[schema(schema_with = crate::http::doc::schemas::name)]
    pub name: String,
    pub kind: StageKind,
    #[schema(minimum = 0, maximum = 100)]
    #[serde(deserialize_with = "crate::http::patch::integer")]
    pub probability: i32,
}

crate::http::doc::derived_schema!(
    /// A JSON merge patch of a stage.
    StagePatchSchema,
    StagePatch,
    crate::http::doc::schemas::merge_patch(
        <StagePatch as utoipa::PartialSchema>::schema(),
        &[],
        &["name", "kind", "probability"],
        "A JSON merge patch (RFC 7396) of the stage's name, kind and probability."
    )
);

/// Change a stage (admin). Its deals follow a change of kind (status, closed_at); a change
/// that would leave the pipeline without an open, a won or a lost stage is `409`.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id"), ("stage_id" = Uuid, Path, description = "Stage id")),
    request_body(content = StagePatchSchema, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed; the pipeline", body = Pipeline), E400, E401, E403, E404, E409, E415, E422)
)]
#[patch("/pipelines/{id}/stages/{stage_id}")]
pub async fn patch_stage(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    path: web::Path<(Uuid, Uuid)>,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let (id, stage_id) = path.into_inner();
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = pipelines::lock(&mut *tx, ws, id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    let stage = find_stage(&stages, stage_id)?;
    let writable = StagePatch { name: stage.name.clone(), kind: stage.kind, probability: stage.probability };
    let input: StagePatch = patch::apply(&writable, &body, &[], &["name", "kind", "probability"])?;
    let mut v = Validator::default();
    let name = v.check(domain::text("name", &input.name, 1, 200));
    if !(0..=100).contains(&input.probability) {
        v.push(FieldError::new("probability", "must be 0 to 100"));
    }
    v.finish()?;
    if !has_every_kind(stages.iter().map(|s| if s.id == stage.id { input.kind } else { s.kind })) {
        return Err(ApiError::Conflict(THREE_KINDS.into()));
    }
    let name = name.ok_or_else(|| ApiError::internal("validated name missing"))?;
    let changed = name != stage.name || input.kind != stage.kind || input.probability != stage.probability;
    pipelines::update_stage(&mut *tx, ws, stage.id, &name, input.kind, input.probability).await?;
    if input.kind != stage.kind {
        deals::follow_stage_kind(&mut *tx, ws, stage.id, input.kind).await?;
    }
    let row = pipelines::touch(&mut *tx, ws, current.id, None, changed).await?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    tx.commit().await?;
    let pipeline = pipelines::with_stages(row, stages);
    Ok(versioned(pipeline.version, &pipeline))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteStageParams {
    /// Another stage of the pipeline to move the stage's deals to first (recorded as stage
    /// changes).
    pub move_to: Option<Uuid>,
}

/// Remove a stage (admin). One that holds deals needs `?move_to=`; one that history points
/// at is archived (it leaves the pipeline, history keeps it); removing the last open, won or
/// lost stage is `409`.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id"), ("stage_id" = Uuid, Path, description = "Stage id"), DeleteStageParams),
    responses((status = 204, description = "Removed"), E400, E401, E403, E404, E409, E422)
)]
#[delete("/pipelines/{id}/stages/{stage_id}")]
pub async fn delete_stage(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    path: web::Path<(Uuid, Uuid)>,
    Query(params): Query<DeleteStageParams>,
) -> ApiResult<HttpResponse> {
    let (id, stage_id) = path.into_inner();
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = pipelines::lock(&mut *tx, ws, id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    let stage = find_stage(&stages, stage_id)?;
    if !has_every_kind(stages.iter().filter(|s| s.id != stage.id).map(|s| s.kind)) {
        return Err(ApiError::Conflict(THREE_KINDS.into()));
    }
    let holds_deals: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deals WHERE workspace_id = $1 AND stage_id = $2)")
            .bind(ws)
            .bind(stage.id)
            .fetch_one(&mut *tx)
            .await?;
    if let Some(target) = params.move_to {
        let Some(to) = stages.iter().find(|s| s.id == target && s.id != stage.id) else {
            return Err(ApiError::validation("move_to", "must be another stage of this pipeline"));
        };
        let user = (auth.kind == crate::auth::jwt::TokenKind::Access).then_some(auth.user_id);
        deals::move_all(&mut tx, ws, stage.id, to.id, to.kind, user).await?;
    } else if holds_deals {
        return Err(ApiError::Conflict("the stage holds deals: give ?move_to=<stage_id> to move them first".into()));
    }
    let archive = pipelines::stage_is_referenced(&mut *tx, ws, stage.id).await?;
    pipelines::remove_stage(&mut tx, ws, current.id, &stage, archive).await?;
    pipelines::touch(&mut *tx, ws, current.id, None, true).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageOrder {
    /// Every live stage of the pipeline, once, in the new order.
    pub stage_ids: Vec<Uuid>,
}

/// Reorder the stages (admin): `stage_ids` must be a permutation of all of them (`422`).
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id")),
    request_body = StageOrder,
    responses((status = 200, description = "Reordered; the pipeline", body = Pipeline), E400, E401, E403, E404, E415, E422)
)]
#[put("/pipelines/{id}/stages/order")]
pub async fn reorder_stages(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    Json(body): Json<StageOrder>,
) -> ApiResult<HttpResponse> {
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = pipelines::lock(&mut *tx, ws, *id).await?.ok_or_else(|| ApiError::not_found("pipeline"))?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    let mut given = body.stage_ids.clone();
    given.sort();
    let mut live: Vec<Uuid> = stages.iter().map(|s| s.id).collect();
    live.sort();
    if given != live {
        return Err(ApiError::validation("stage_ids", "must list every stage of the pipeline exactly once"));
    }
    let changed = stages.iter().map(|s| s.id).ne(body.stage_ids.iter().copied());
    pipelines::reorder(&mut *tx, ws, current.id, &body.stage_ids).await?;
    let row = pipelines::touch(&mut *tx, ws, current.id, None, changed).await?;
    let stages = pipelines::live_stages(&mut *tx, ws, current.id).await?;
    tx.commit().await?;
    let pipeline = pipelines::with_stages(row, stages);
    Ok(versioned(pipeline.version, &pipeline))
}
