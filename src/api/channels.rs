use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::roles::Admin;
use crate::db::channels::{self, Channel, ChannelKind};
use crate::domain::{self, Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json, Query};
use crate::http::patch;
use crate::http::AppState;
use crate::http::{created, versioned, Page, PageParams};

const SORT: &str = "channels:created_at";
const CONFIG_MAX_BYTES: usize = 16 * 1024;
/// Fields a merge patch cannot remove with `null`.
const NOT_NULL: &[&str] = &["kind", "name", "active", "config"];

/// The workspace's channels, oldest first.
#[utoipa::path(
    tag = "channels",
    params(PageParams),
    responses((status = 200, description = "A page of channels", body = Page<Channel>), E400, E401)
)]
#[get("/channels")]
pub async fn list_channels(
    state: web::Data<AppState>,
    auth: Auth,
    Query(page): Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> =
        state.cursor_key.position(auth.workspace_id, SORT, page.cursor.as_deref())?;
    let rows = channels::list(&state.pool, auth.workspace_id, after, limit + 1).await?;
    Ok(HttpResponse::Ok().json(state.cursor_key.page(auth.workspace_id, SORT, rows, limit, |c| (c.created_at, c.id))))
}

/// The writable fields of a channel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub kind: ChannelKind,
    #[schema(schema_with = crate::http::doc::schemas::name, example = "Support inbox")]
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// A JSON object, at most 16 KiB.
    #[serde(default = "empty_object")]
    #[schema(schema_with = crate::http::doc::schemas::json_object)]
    pub config: Value,
}

crate::http::doc::derived_schema!(
    /// A JSON merge patch of a channel.
    ChannelPatch,
    ChannelInput,
    crate::http::doc::schemas::merge_patch(
        <ChannelInput as utoipa::PartialSchema>::schema(),
        &[],
        NOT_NULL,
        "A JSON merge patch (RFC 7396) of the channel's writable fields."
    )
);

fn yes() -> bool {
    true
}

pub fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl ChannelInput {
    fn validate(mut self) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        if let Some(name) = v.check(domain::text("name", &self.name, 1, 200)) {
            self.name = name;
        }
        v.check(patch::json_object("config", &self.config, CONFIG_MAX_BYTES));
        v.finish()?;
        Ok(self)
    }

    fn fields(&self) -> channels::Fields<'_> {
        channels::Fields { kind: self.kind, name: &self.name, active: self.active, config: &self.config }
    }
}

/// Add a channel (admin).
#[utoipa::path(
    tag = "channels",
    request_body = ChannelInput,
    responses(
        (status = 201, description = "Created", body = Channel, headers(("Location" = String), ("ETag" = String))),
        E400, E401, E403, E409, E413, E415, E422
    )
)]
#[post("/channels")]
pub async fn create_channel(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    Json(body): Json<ChannelInput>,
) -> ApiResult<HttpResponse> {
    let input = body.validate()?;
    let channel = channels::insert(&state.pool, auth.workspace_id, input.fields()).await?;
    Ok(created(format!("/api/v1/channels/{}", channel.id), Some(channel.version), &channel))
}

async fn find(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<Channel, ApiError> {
    channels::get(&state.pool, ws, id).await?.ok_or_else(|| ApiError::not_found("channel"))
}

/// One channel.
#[utoipa::path(
    tag = "channels",
    params(("id" = Uuid, Path, description = "Channel id")),
    responses((status = 200, description = "The channel", body = Channel, headers(("ETag" = String))), E400, E401, E404)
)]
#[get("/channels/{id}")]
pub async fn get_channel(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let channel = find(&state, auth.workspace_id, *id).await?;
    Ok(versioned(channel.version, &channel))
}

/// Change a channel (admin): a JSON merge patch of `kind`, `name`, `active`, `config`.
#[utoipa::path(
    tag = "channels",
    params(
        ("id" = Uuid, Path, description = "Channel id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = ChannelPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Channel), E400, E401, E403, E404, E412, E413, E415, E422)
)]
#[patch("/channels/{id}")]
pub async fn patch_channel(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut tx = state.pool.begin().await?;
    let current =
        channels::lock(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("channel"))?;
    let writable = ChannelInput {
        kind: current.kind,
        name: current.name.clone(),
        active: current.active,
        config: current.config.clone(),
    };
    let input: ChannelInput = patch::apply(&writable, &body, &[], NOT_NULL)?;
    let input = input.validate()?;
    crate::http::extract::check_version(expected, current.version)?;
    let channel = channels::update(&mut *tx, auth.workspace_id, current.id, input.fields()).await?;
    tx.commit().await?;
    Ok(versioned(channel.version, &channel))
}

/// Remove a channel (admin). A channel with interactions cannot be removed (`409`):
/// deactivate it instead.
#[utoipa::path(
    tag = "channels",
    params(
        ("id" = Uuid, Path, description = "Channel id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to remove")
    ),
    responses((status = 204, description = "Removed"), E400, E401, E403, E404, E409, E412)
)]
#[delete("/channels/{id}")]
pub async fn delete_channel(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut tx = state.pool.begin().await?;
    let current =
        channels::lock(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("channel"))?;
    crate::http::extract::check_version(expected, current.version)?;
    channels::delete(&mut *tx, auth.workspace_id, current.id).await.map_err(|e| {
        if crate::db::violated_constraint(&e).is_some() {
            ApiError::Conflict("the channel has interactions; deactivate it instead (PATCH active=false)".into())
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
