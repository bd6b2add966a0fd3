use std::collections::HashMap;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::roles::Member;
use crate::db::interactions::{self, Direction, Interaction, InteractionKind};
use crate::domain::{self, new_id, Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json, Query};
use crate::http::patch;
use crate::http::AppState;
use crate::http::{created, versioned, Page};

pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Fields a merge patch cannot remove with `null`.
const NOT_NULL: &[&str] = &["customer_id", "channel_id", "direction", "kind", "occurred_at", "items", "metadata"];
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
pub const MAX_ITEMS: usize = 1000;
pub const MAX_BATCH: usize = 1000;

/// The writable fields of an interaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    pub customer_id: Uuid,
    pub channel_id: Uuid,
    pub direction: Direction,
    pub kind: InteractionKind,
    /// At most 500 characters.
    #[schema(schema_with = crate::http::doc::schemas::subject)]
    pub subject: Option<String>,
    /// At most 64 KiB.
    #[schema(schema_with = crate::http::doc::schemas::body)]
    pub body: Option<String>,
    /// When it happened (default: now); not in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// 0 to 604,800 (a week).
    #[schema(minimum = 0, maximum = 604800)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub duration_seconds: Option<i32>,
    /// Purchases only: the amount in minor units, 0 or more.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub value_cents: Option<i64>,
    /// Purchases only: the SKUs bought (1 to 64 characters each, at most 1,000).
    #[serde(default)]
    #[schema(schema_with = crate::http::doc::schemas::items)]
    pub items: Vec<String>,
    pub user_id: Option<Uuid>,
    /// The id in the source system; posting it again on the same channel returns the existing
    /// interaction (`200`). At most 255 characters.
    #[schema(schema_with = crate::http::doc::schemas::external_id)]
    pub external_id: Option<String>,
    /// A JSON object, at most 16 KiB.
    #[serde(default = "crate::http::patch::empty_object")]
    #[schema(schema_with = crate::http::doc::schemas::json_object)]
    pub metadata: Value,
}

crate::http::doc::derived_schema!(
    /// A new interaction: a purchase (with `value_cents` and `items`) or any other kind
    /// (without them).
    NewInteraction,
    InteractionInput,
    new_interaction_schema()
);

crate::http::doc::derived_schema!(
    /// A JSON merge patch of an interaction: `value_cents` and `items` only together with
    /// `kind: "purchase"`; a patch to another kind drops them.
    InteractionPatch,
    InteractionInput,
    interaction_patch_schema()
);

fn interaction_patch_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{OneOfBuilder, Schema};
    use utoipa::openapi::RefOr;
    let RefOr::T(Schema::OneOf(new)) = new_interaction_schema() else {
        return new_interaction_schema();
    };
    let mut branches = new.items.into_iter().map(|branch| {
        crate::http::doc::schemas::merge_patch(
            branch,
            &["external_id"],
            NOT_NULL,
            "A JSON merge patch (RFC 7396) of the interaction's writable fields but external_id.",
        )
    });
    let (Some(RefOr::T(Schema::Object(mut purchase))), Some(other)) = (branches.next(), branches.next()) else {
        return new_interaction_schema();
    };
    purchase.required = vec!["kind".into()];
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(purchase).item(other).build()))
}

fn new_interaction_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::RefOr;
    let RefOr::T(Schema::Object(base)) = <InteractionInput as utoipa::PartialSchema>::schema() else {
        return <InteractionInput as utoipa::PartialSchema>::schema();
    };
    let kinds = |values: Vec<&str>| ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).build();
    let mut purchase = base.clone();
    purchase.properties.insert("kind".into(), kinds(vec!["purchase"]).into());
    purchase.title = Some("Purchase".into());
    let mut other = base;
    other.properties.remove("value_cents");
    other.properties.remove("items");
    other.properties.insert("kind".into(), kinds(vec!["message", "call", "meeting", "note", "support"]).into());
    other.title = Some("Other contact".into());
    for o in [&mut purchase, &mut other] {
        o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(purchase).item(other).build()))
}

impl InteractionInput {
    fn from_interaction(i: &Interaction) -> Self {
        InteractionInput {
            customer_id: i.customer_id,
            channel_id: i.channel_id,
            direction: i.direction,
            kind: i.kind,
            subject: i.subject.clone(),
            body: i.body.clone(),
            occurred_at: Some(i.occurred_at),
            duration_seconds: i.duration_seconds,
            value_cents: i.value_cents,
            items: i.items.clone(),
            user_id: i.user_id,
            external_id: i.external_id.clone(),
            metadata: i.metadata.clone(),
        }
    }

    pub fn validate(&self, v: &mut Validator, prefix: &str, now: DateTime<Utc>) -> Option<interactions::Fields> {
        let f = |name: &str| format!("{prefix}{name}");
        let before = v.len();
        let subject = self.subject.as_deref().and_then(|s| v.check(domain::text(&f("subject"), s, 0, 500)));
        if let Some(body) = &self.body {
            if body.len() > BODY_MAX_BYTES {
                v.push(FieldError::new(f("body"), format!("must be at most {BODY_MAX_BYTES} bytes")));
            } else if body.contains('\0') {
                v.push(FieldError::new(f("body"), "must not contain NUL characters"));
            }
        }
        let occurred_at = match self.occurred_at {
            Some(t) => v.check(domain::past_time(&f("occurred_at"), t)),
            None => Some(now),
        };
        if self.duration_seconds.is_some_and(|d| !(0..=604_800).contains(&d)) {
            v.push(FieldError::new(f("duration_seconds"), "must be 0 to 604800"));
        }
        let purchase = self.kind == InteractionKind::Purchase;
        if let Some(value) = self.value_cents {
            if !purchase {
                v.push(FieldError::new(f("value_cents"), "only a purchase has a value"));
            } else if !(0..=1_000_000_000_000_000).contains(&value) {
                v.push(FieldError::new(f("value_cents"), "must be 0 to 10^15"));
            }
        }
        if !self.items.is_empty() && !purchase {
            v.push(FieldError::new(f("items"), "only a purchase has items"));
        }
        if self.items.len() > MAX_ITEMS {
            v.push(FieldError::new(f("items"), format!("at most {MAX_ITEMS} items")));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (i, sku) in self.items.iter().enumerate() {
            if let Some(s) = v.check(domain::text(&format!("{prefix}items[{i}]"), sku, 1, 64)) {
                items.push(s);
            }
        }
        let external_id = self.external_id.as_deref().and_then(|e| v.check(domain::text(&f("external_id"), e, 1, 255)));
        v.check(crate::domain::text::json_object(&f("metadata"), &self.metadata, METADATA_MAX_BYTES));
        if v.len() > before {
            return None;
        }
        Some(interactions::Fields {
            customer_id: self.customer_id,
            channel_id: self.channel_id,
            direction: self.direction,
            kind: self.kind,
            subject,
            body: self.body.clone(),
            occurred_at: occurred_at?,
            duration_seconds: self.duration_seconds,
            value_cents: self.value_cents,
            items,
            user_id: self.user_id,
            external_id,
            metadata: self.metadata.clone(),
        })
    }

    fn fields(&self) -> Result<interactions::Fields, ApiError> {
        let mut v = Validator::default();
        let fields = self.validate(&mut v, "", Utc::now());
        v.finish()?;
        fields.ok_or_else(|| ApiError::internal("validated fields missing"))
    }
}

fn user_error(e: sqlx::Error) -> ApiError {
    if crate::db::violated_constraint(&e) == Some(interactions::USER_FK) {
        ApiError::validation("user_id", "is not a user of this workspace")
    } else {
        e.into()
    }
}

/// Why `f` was not inserted: a customer that is not live, a channel that is not active, or an
/// external id held by a hidden interaction.
async fn reference_errors(state: &AppState, ws: WorkspaceId, f: &interactions::Fields) -> Result<ApiError, ApiError> {
    let (customers, channels) =
        interactions::live_references(&state.pool, ws, &[f.customer_id], &[f.channel_id]).await?;
    let mut errors = Vec::new();
    if customers.is_empty() {
        errors.push(FieldError::new("customer_id", "is not a customer of this workspace"));
    }
    if channels.is_empty() {
        errors.push(FieldError::new("channel_id", "is not an active channel of this workspace"));
    }
    if errors.is_empty() {
        // The references hold, so the external id is taken: by an interaction hidden with its
        // soft-deleted customer.
        return Ok(ApiError::Conflict(
            "the channel already has an interaction with this external_id (its customer is deleted)".into(),
        ));
    }
    Ok(ApiError::Validation(errors))
}

/// Log an interaction.
///
/// With an `external_id` already logged on the channel, answers `200` with the existing
/// interaction and changes nothing (integrations can replay safely).
#[utoipa::path(
    tag = "interactions",
    request_body = NewInteraction,
    responses(
        (status = 201, description = "Created", body = Interaction, headers(("Location" = String), ("ETag" = String))),
        (status = 200, description = "Already logged (same external_id on the channel)", body = Interaction),
        E400, E401, E403, E409, E413, E415, E422
    )
)]
#[post("/interactions")]
pub async fn create_interaction(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    Json(body): Json<InteractionInput>,
) -> ApiResult<HttpResponse> {
    let fields = body.fields()?;
    let ws = auth.workspace_id;
    if let Some(i) = interactions::insert(&state.pool, ws, new_id(), &fields).await.map_err(user_error)? {
        return Ok(created(format!("/api/v1/interactions/{}", i.id), Some(i.version), &i));
    }
    if let Some(external_id) = &fields.external_id {
        if let Some(existing) = interactions::by_external_id(&state.pool, ws, fields.channel_id, external_id).await? {
            return Ok(versioned(existing.version, &existing));
        }
    }
    Err(reference_errors(&state, ws, &fields).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 interactions.
    #[schema(value_type = Vec<NewInteraction>, min_items = 1, max_items = 1000)]
    pub items: Vec<InteractionInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// The ids, in the order of `items` (an item whose external_id was already logged gets the
    /// existing interaction's id).
    pub ids: Vec<Uuid>,
}

/// Log up to 1,000 interactions at once: all or nothing.
///
/// `422` names each bad item by index (`items[3].value_cents`); then nothing is logged.
#[utoipa::path(
    tag = "interactions",
    request_body = BatchRequest,
    responses(
        (status = 201, description = "All logged", body = BatchResponse),
        E400, E401, E403, E409, E413, E415, E422
    )
)]
#[post("/interactions/batch")]
pub async fn create_batch(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    Json(body): Json<BatchRequest>,
) -> ApiResult<HttpResponse> {
    if body.items.is_empty() || body.items.len() > MAX_BATCH {
        return Err(ApiError::validation("items", format!("must hold 1 to {MAX_BATCH} interactions")));
    }
    let ws = auth.workspace_id;
    let now = Utc::now();
    let mut v = Validator::default();
    let rows: Vec<Option<interactions::Fields>> =
        body.items.iter().enumerate().map(|(i, item)| item.validate(&mut v, &format!("items[{i}]."), now)).collect();
    let mut customer_ids: Vec<Uuid> = body.items.iter().map(|i| i.customer_id).collect();
    let mut channel_ids: Vec<Uuid> = body.items.iter().map(|i| i.channel_id).collect();
    customer_ids.sort();
    customer_ids.dedup();
    channel_ids.sort();
    channel_ids.dedup();
    let (live_customers, live_channels) =
        interactions::live_references(&state.pool, ws, &customer_ids, &channel_ids).await?;
    for (i, item) in body.items.iter().enumerate() {
        if !live_customers.contains(&item.customer_id) {
            v.push(FieldError::new(format!("items[{i}].customer_id"), "is not a customer of this workspace"));
        }
        if !live_channels.contains(&item.channel_id) {
            v.push(FieldError::new(format!("items[{i}].channel_id"), "is not an active channel of this workspace"));
        }
    }
    v.finish()?;
    let rows: Vec<interactions::Fields> = rows.into_iter().flatten().collect();
    let mut ids: Vec<Uuid> = rows.iter().map(|_| new_id()).collect();
    let mut tx = state.pool.begin().await?;
    interactions::insert_many(&mut *tx, ws, &ids, &rows).await.map_err(|e| {
        if crate::db::violated_constraint(&e) == Some(interactions::USER_FK) {
            ApiError::validation("items[].user_id", "names a user that is not of this workspace")
        } else {
            e.into()
        }
    })?;
    let keys: Vec<(Uuid, String)> = rows.iter().filter_map(|r| Some((r.channel_id, r.external_id.clone()?))).collect();
    if !keys.is_empty() {
        let existing: HashMap<(Uuid, String), Uuid> = interactions::ids_by_external(&mut *tx, ws, &keys)
            .await?
            .into_iter()
            .map(|(channel, external, id)| ((channel, external), id))
            .collect();
        for (id, row) in ids.iter_mut().zip(&rows) {
            if let Some(external) = &row.external_id {
                if let Some(actual) = existing.get(&(row.channel_id, external.clone())) {
                    *id = *actual;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(HttpResponse::Created().json(BatchResponse { ids }))
}

async fn find(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<Interaction, ApiError> {
    interactions::get(&state.pool, ws, id).await?.ok_or_else(|| ApiError::not_found("interaction"))
}

/// One interaction.
#[utoipa::path(
    tag = "interactions",
    params(("id" = Uuid, Path, description = "Interaction id")),
    responses((status = 200, description = "The interaction", body = Interaction, headers(("ETag" = String))), E400, E401, E404)
)]
#[get("/interactions/{id}")]
pub async fn get_interaction(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let i = find(&state, auth.workspace_id, *id).await?;
    Ok(versioned(i.version, &i))
}

/// Change an interaction: a JSON merge patch of its writable fields (not `external_id`).
#[utoipa::path(
    tag = "interactions",
    params(
        ("id" = Uuid, Path, description = "Interaction id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = InteractionPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Interaction), E400, E401, E403, E404, E412, E413, E415, E422)
)]
#[patch("/interactions/{id}")]
pub async fn patch_interaction(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let ws = auth.workspace_id;
    let mut tx = state.pool.begin().await?;
    let current = interactions::lock(&mut *tx, ws, *id).await?.ok_or_else(|| ApiError::not_found("interaction"))?;
    // value_cents and items come with kind "purchase" in the same patch; a patch that makes
    // it another kind drops them. So a patch is valid or not on its own, whatever the row.
    let kind = body.get("kind").and_then(Value::as_str);
    let sets_purchase_fields = ["value_cents", "items"]
        .iter()
        .any(|f| body.get(*f).is_some_and(|v| !v.is_null() && v != &Value::Array(Vec::new())));
    if sets_purchase_fields && kind != Some("purchase") {
        return Err(ApiError::validation("kind", "value_cents and items are patched together with kind \"purchase\""));
    }
    let mut writable = InteractionInput::from_interaction(&current);
    if kind.is_some_and(|k| k != "purchase") {
        writable.value_cents = None;
        writable.items.clear();
    }
    let input: InteractionInput = patch::apply(&writable, &body, &["external_id"], NOT_NULL)?;
    let fields = input.fields()?;
    crate::http::extract::check_version(expected, current.version)?;
    if fields.customer_id != current.customer_id || fields.channel_id != current.channel_id {
        let (c, ch) = interactions::live_references(&mut *tx, ws, &[fields.customer_id], &[fields.channel_id]).await?;
        let mut v = Validator::default();
        if c.is_empty() {
            v.push(FieldError::new("customer_id", "is not a customer of this workspace"));
        }
        if ch.is_empty() && fields.channel_id != current.channel_id {
            v.push(FieldError::new("channel_id", "is not an active channel of this workspace"));
        }
        v.finish()?;
    }
    let updated = interactions::update(&mut *tx, ws, current.id, &fields).await.map_err(|e| {
        if crate::db::violated_constraint(&e) == Some("interactions_external_key") {
            ApiError::Conflict("the channel already has an interaction with this external_id".into())
        } else {
            user_error(e)
        }
    })?;
    tx.commit().await?;
    Ok(versioned(updated.version, &updated))
}

/// Delete an interaction.
#[utoipa::path(
    tag = "interactions",
    params(
        ("id" = Uuid, Path, description = "Interaction id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to delete")
    ),
    responses((status = 204, description = "Deleted"), E400, E401, E403, E404, E412)
)]
#[delete("/interactions/{id}")]
pub async fn delete_interaction(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut tx = state.pool.begin().await?;
    let current = interactions::lock(&mut *tx, auth.workspace_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("interaction"))?;
    crate::http::extract::check_version(expected, current.version)?;
    interactions::delete(&mut *tx, auth.workspace_id, current.id).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

crate::text_enum! {
    pub enum InteractionSort {
        OccurredAtDesc => "-occurred_at",
        OccurredAt => "occurred_at",
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InteractionQuery {
    pub customer_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub kind: Option<InteractionKind>,
    pub direction: Option<Direction>,
    pub user_id: Option<Uuid>,
    /// At or after this instant (a date is midnight in the workspace's time zone).
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub occurred_after: Option<String>,
    /// Before this instant.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub occurred_before: Option<String>,
    /// `-occurred_at` (default) or `occurred_at`.
    pub sort: Option<InteractionSort>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Interactions, filtered, newest first by default.
#[utoipa::path(
    tag = "interactions",
    params(InteractionQuery),
    responses((status = 200, description = "A page of interactions", body = Page<Interaction>), E400, E401)
)]
#[get("/interactions")]
pub async fn list_interactions(
    state: web::Data<AppState>,
    auth: Auth,
    Query(q): Query<InteractionQuery>,
) -> ApiResult<HttpResponse> {
    let limit = crate::http::PageParams { limit: q.limit, cursor: None }.limit()?;
    let sort = q.sort.unwrap_or(InteractionSort::OccurredAtDesc);
    let sort_key = format!("interactions:{}", sort.as_str());
    let after = state.cursor_key.position(auth.workspace_id, &sort_key, q.cursor.as_deref())?;
    let (occurred_after, occurred_before) = crate::db::workspaces::resolve_bounds(
        &state.pool,
        auth.workspace_id,
        crate::http::extract::optional_bound("occurred_after", q.occurred_after.as_deref())?,
        crate::http::extract::optional_bound("occurred_before", q.occurred_before.as_deref())?,
    )
    .await?;
    let filter = interactions::Filter {
        customer_id: q.customer_id,
        channel_id: q.channel_id,
        kind: q.kind,
        direction: q.direction,
        user_id: q.user_id,
        occurred_after,
        occurred_before,
    };
    let ascending = sort == InteractionSort::OccurredAt;
    let rows = interactions::list(&state.pool, auth.workspace_id, &filter, ascending, after, limit + 1).await?;
    Ok(HttpResponse::Ok()
        .json(state.cursor_key.page(auth.workspace_id, &sort_key, rows, limit, |i| (i.occurred_at, i.id))))
}
