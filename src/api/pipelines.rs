//! `/pipelines`: pipelines and their stages, the funnel (admin writes).

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::pipelines::{NewPipeline, StageFields, MAX_STAGES};
use crate::app::{self};
use crate::auth::roles::Admin;
use crate::db::pipelines::{Pipeline, Stage, StageKind};
use crate::domain::rules::default_probability;
use crate::domain::{Name, Probability, Validator};
use crate::error::{ApiResult, FieldError};
use crate::http::doc::*;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::write::Write;
use crate::http::{created_resource, ok, patch, Resource};

impl Resource for Pipeline {
    fn location(&self) -> String {
        format!("/api/v1/pipelines/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// A stage as sent on create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    #[schema(schema_with = Name::schema, example = "Qualified")]
    pub name: String,
    pub kind: StageKind,
    /// 0 to 100; default 100 for won, 0 for lost, 50 for open.
    #[schema(schema_with = Probability::optional_schema)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub probability: Option<i32>,
}

impl StageInput {
    fn parse(&self, v: &mut Validator, prefix: &str) -> Option<StageFields> {
        let name = v.check(Name::parse(&format!("{prefix}name"), &self.name));
        let probability = self.probability.unwrap_or_else(|| default_probability(self.kind));
        let probability = v.check(Probability::parse(&format!("{prefix}probability"), probability));
        Some(StageFields { name: name?, kind: self.kind, probability: probability? })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    #[schema(schema_with = Name::schema, example = "Enterprise sales")]
    pub name: String,
    /// The stages in order; at least one open, one won and one lost. Default: the customer
    /// journey (Need identified → Qualified → Proposal → Negotiation → Won / Lost).
    #[schema(min_items = 3, max_items = 50)]
    pub stages: Option<Vec<StageInput>>,
}

impl PipelineInput {
    fn parse(self) -> ApiResult<NewPipeline> {
        let mut v = Validator::default();
        let name = v.check(Name::parse("name", &self.name));
        let stages: Option<Vec<StageFields>> = self.stages.as_ref().map(|list| {
            if list.len() > MAX_STAGES {
                v.push(FieldError::new("stages", format!("at most {MAX_STAGES} stages")));
            }
            list.iter().enumerate().filter_map(|(i, s)| s.parse(&mut v, &format!("stages[{i}]."))).collect()
        });
        v.finish()?;
        let name = name.ok_or_else(|| crate::error::ApiError::internal("validated name missing"))?;
        Ok(NewPipeline { name, stages })
    }
}

crate::list_handler! {
    /// List pipelines
    ///
    /// The workspace's pipelines, oldest first, each with its stages in order. Any role (viewer).
    ///
    /// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
    /// next page, until `next_cursor` is `null`.
    list_pipelines, role = crate::auth::roles::Viewer, tag = "pipelines", path = "/pipelines",
    sort = "pipelines:created_at", body = Pipeline, described = "A page of pipelines",
    list = app::pipelines::list, errors = [E400, E401]
}

crate::create_handler! {
    /// Create a pipeline
    ///
    /// Admin. `201` with the pipeline, its `Location` and `ETag`. `stages`, in order (at most 50:
    /// `422`), must hold at least one `open`, one `won` and one `lost` stage (`409` otherwise);
    /// without them, the customer journey: Need identified → Qualified → Proposal → Negotiation →
    /// Won / Lost. A stage's `probability` defaults to 100 (won), 0 (lost) or 50 (open).
    ///
    /// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
    /// response (the same key with another body is `409`).
    create_pipeline, role = Admin, tag = "pipelines", path = "/pipelines", request = PipelineInput, body = Pipeline,
    events = ["pipeline.created"], create = app::pipelines::create, errors = [E400, E401, E403, E409, E413, E415, E422]
}

crate::get_handler! {
    /// Get a pipeline
    ///
    /// The pipeline with its stages in order, and its `ETag`. Any role (viewer).
    get_pipeline, tag = "pipelines", path = "/pipelines/{id}", id = "Pipeline id", body = Pipeline,
    described = "The pipeline", get = app::pipelines::get
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[schema(schema_with = Name::schema)]
    pub name: String,
}

derived_schema!(
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

/// Rename a pipeline
///
/// Admin. A JSON merge patch (RFC 7396) of `name`, which cannot be `null`; stages change through
/// their own operations. Send `If-Match` with the `ETag` to apply the change only to that
/// version (`412` otherwise).
#[utoipa::path(
    tag = "pipelines",
    params(
        ("id" = Uuid, Path, description = "Pipeline id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = PipelinePatchSchema, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Pipeline), E400, E401, E403, E404, E412, E415, E422),
    extensions(("x-events" = json!(["pipeline.updated"])))
)]
#[patch("/pipelines/{id}")]
pub async fn patch_pipeline(
    mut w: Write<Admin>,
    id: web::Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let pipeline = app::pipelines::rename(&mut w.tx, &w.actor, *id, expected, |current| {
        let input: PipelinePatch = patch::apply(&PipelinePatch { name: current.name.clone() }, &body, &[], &["name"])?;
        Name::parse("name", &input.name).map_err(|e| crate::error::ApiError::Validation(vec![e]))
    })
    .await?;
    w.commit(ok(&pipeline)).await
}

crate::delete_handler! {
    /// Delete a pipeline
    ///
    /// Admin. `204`. A pipeline with deals cannot be removed (`409`): move or delete them first.
    /// Send `If-Match` with the `ETag` to remove only that version (`412` otherwise).
    delete_pipeline, role = Admin, tag = "pipelines", path = "/pipelines/{id}", id = "Pipeline id",
    events = ["pipeline.deleted"], delete = app::pipelines::delete, errors = [E400, E401, E403, E404, E409, E412]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    #[schema(schema_with = Name::schema)]
    pub name: String,
    pub kind: StageKind,
    #[schema(schema_with = Probability::optional_schema)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub probability: Option<i32>,
    /// Where it goes (0-based); the stages from there move one step down. Default, or past
    /// the end: last.
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub position: Option<i32>,
}

/// Add a stage to a pipeline
///
/// Admin. The stage goes at `position` (0-based; default, or past the end: last), and the
/// stages from there move one step down; a pipeline has at most 50 stages (`422`). `probability`
/// defaults to 100 (won), 0 (lost) or 50 (open). `201` with the whole pipeline (`Location` is
/// the pipeline's).
///
/// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
/// response (the same key with another body is `409`).
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id"), crate::http::idempotency::IdempotencyKey),
    request_body = NewStage,
    responses(
        (status = 201, description = "Added; the pipeline", body = Pipeline, headers(("Location" = String))),
        E400, E401, E403, E404, E415, E422
    ),
    extensions(("x-events" = json!(["pipeline.updated"])))
)]
#[post("/pipelines/{id}/stages")]
pub async fn add_stage(
    mut w: Write<Admin>,
    id: web::Path<Uuid>,
    Json(body): Json<NewStage>,
) -> ApiResult<HttpResponse> {
    let mut v = Validator::default();
    let stage = StageInput { name: body.name, kind: body.kind, probability: body.probability }.parse(&mut v, "");
    if body.position.is_some_and(|p| p < 0) {
        v.push(FieldError::new("position", "must be 0 or more"));
    }
    v.finish()?;
    let stage = stage.ok_or_else(|| crate::error::ApiError::internal("validated stage missing"))?;
    let pipeline = app::pipelines::add_stage(&mut w.tx, &w.actor, *id, stage, body.position).await?;
    w.commit(created_resource(&pipeline)).await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StagePatch {
    #[schema(schema_with = Name::schema)]
    pub name: String,
    pub kind: StageKind,
    #[schema(schema_with = Probability::schema)]
    #[serde(deserialize_with = "crate::http::patch::integer")]
    pub probability: i32,
}

derived_schema!(
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

impl StagePatch {
    fn patched(current: &Stage, body: &Value) -> ApiResult<StageFields> {
        let writable = StagePatch { name: current.name.clone(), kind: current.kind, probability: current.probability };
        let input: StagePatch = patch::apply(&writable, body, &[], &["name", "kind", "probability"])?;
        let mut v = Validator::default();
        let stage =
            StageInput { name: input.name, kind: input.kind, probability: Some(input.probability) }.parse(&mut v, "");
        v.finish()?;
        stage.ok_or_else(|| crate::error::ApiError::internal("validated stage missing"))
    }
}

/// Update a stage
///
/// Admin. A JSON merge patch (RFC 7396) of the stage's `name`, `kind` and `probability` (none
/// can be `null`). Its deals follow a change of kind (status, closed_at); a change that would
/// leave the pipeline without an open, a won or a lost stage is `409`. `200` with the whole
/// pipeline.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id"), ("stage_id" = Uuid, Path, description = "Stage id")),
    request_body(content = StagePatchSchema, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed; the pipeline", body = Pipeline), E400, E401, E403, E404, E409, E415, E422),
    extensions(("x-events" = json!(["pipeline.updated"])))
)]
#[patch("/pipelines/{id}/stages/{stage_id}")]
pub async fn patch_stage(
    mut w: Write<Admin>,
    path: web::Path<(Uuid, Uuid)>,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let (id, stage_id) = path.into_inner();
    let pipeline =
        app::pipelines::update_stage(&mut w.tx, &w.actor, id, stage_id, |s| StagePatch::patched(s, &body)).await?;
    w.commit(ok(&pipeline)).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteStageParams {
    /// Another stage of the pipeline to move the stage's deals to first (recorded as stage
    /// changes).
    pub move_to: Option<Uuid>,
}

/// Delete a stage
///
/// Admin. `204`; the stages after it move up one position. One that holds deals needs
/// `?move_to=` another stage of the pipeline, where its deals move, recorded as stage changes
/// (`409` without it, `422` if it is not another stage of the pipeline). One that history
/// points at is archived (it leaves the pipeline, history keeps it). Removing the last open,
/// won or lost stage is `409`.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id"), ("stage_id" = Uuid, Path, description = "Stage id"), DeleteStageParams),
    responses((status = 204, description = "Removed"), E400, E401, E403, E404, E409, E422),
    extensions(("x-events" = json!(["pipeline.updated"])))
)]
#[delete("/pipelines/{id}/stages/{stage_id}")]
pub async fn delete_stage(
    mut w: Write<Admin>,
    path: web::Path<(Uuid, Uuid)>,
    Query(params): Query<DeleteStageParams>,
) -> ApiResult<HttpResponse> {
    let (id, stage_id) = path.into_inner();
    app::pipelines::remove_stage(&mut w.tx, &w.actor, id, stage_id, params.move_to).await?;
    w.commit(HttpResponse::NoContent().finish()).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageOrder {
    /// Every live stage of the pipeline, once, in the new order.
    pub stage_ids: Vec<Uuid>,
}

/// Reorder the stages of a pipeline
///
/// Admin. `stage_ids` must be a permutation of all the pipeline's stages: each one exactly once,
/// in the new order (`422` otherwise). `200` with the whole pipeline.
#[utoipa::path(
    tag = "pipelines",
    params(("id" = Uuid, Path, description = "Pipeline id")),
    request_body = StageOrder,
    responses((status = 200, description = "Reordered; the pipeline", body = Pipeline), E400, E401, E403, E404, E415, E422),
    extensions(("x-events" = json!(["pipeline.updated"])))
)]
#[put("/pipelines/{id}/stages/order")]
pub async fn reorder_stages(
    mut w: Write<Admin>,
    id: web::Path<Uuid>,
    Json(body): Json<StageOrder>,
) -> ApiResult<HttpResponse> {
    let pipeline = app::pipelines::reorder(&mut w.tx, &w.actor, *id, body.stage_ids).await?;
    w.commit(ok(&pipeline)).await
}
