//! `/interactions`: every contact, on any channel.

mod input;

pub use input::{InteractionInput, InteractionPatch, NewInteraction};

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::interactions::{BatchItem, Logged, MAX_BATCH};
use crate::app::{self};
use crate::auth::roles::Member;
use crate::db::interactions::{self, Direction, Interaction, InteractionKind};
use crate::domain::Validator;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{optional_bound, Json, Query};
use crate::http::write::{Write, WriteStatement};
use crate::http::{created_resource, ok, AppState, Page, Resource};

impl Resource for Interaction {
    fn location(&self) -> String {
        format!("/api/v1/interactions/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// Log an interaction
///
/// Member. `201` with the interaction, its `Location` and `ETag`. Its customer must be live and
/// its channel active (`422` naming which); `value_cents` and `items` only for `kind: purchase`
/// (`422` otherwise).
/// With an `external_id` already logged on the channel, answers `200` with the existing
/// interaction and changes nothing (integrations can replay safely); `409` if that interaction
/// is hidden with its soft-deleted customer.
///
/// On a support case (`case_id`: a case of the same customer, not closed, `422` otherwise), an
/// outbound interaction logged with a `user_id` is a reply: the earliest reply is the case's
/// first response (one without `user_id` is not a reply).
///
/// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
/// response (the same key with another body is `409`).
#[utoipa::path(
    tag = "interactions",
    params(crate::http::idempotency::IdempotencyKey),
    request_body = NewInteraction,
    responses(
        (status = 201, description = "Created", body = Interaction, headers(("Location" = String), ("ETag" = String))),
        (status = 200, description = "Already logged (same external_id on the channel)", body = Interaction),
        E400, E401, E403, E409, E413, E415, E422
    ),
    extensions(("x-events" = json!(["interaction.created"])))
)]
#[post("/interactions")]
pub async fn create_interaction(
    mut w: WriteStatement<Member>,
    Json(body): Json<InteractionInput>,
) -> ApiResult<HttpResponse> {
    let res = match app::interactions::create(&mut w.conn, &w.actor, body.fields()?).await? {
        Logged::Created(i) => created_resource(&i),
        Logged::Existing(i) => ok(&i),
    };
    w.commit(res).await
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

/// Log up to 1,000 interactions at once
///
/// Member. All or nothing: `201` with the ids in the order of `items` (an item whose
/// `external_id` was already logged on its channel gets the existing interaction's id). `422`
/// names each bad item by index (`items[3].value_cents`, a customer that is not live, a
/// channel that is not active); then nothing is logged.
///
/// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
/// response (the same key with another body is `409`).
#[utoipa::path(
    operation_id = "create_interaction_batch",
    tag = "interactions",
    params(crate::http::idempotency::IdempotencyKey),
    request_body = BatchRequest,
    responses(
        (status = 201, description = "All logged", body = BatchResponse),
        E400, E401, E403, E409, E413, E415, E422
    ),
    extensions(("x-events" = json!(["interaction.created"])))
)]
#[post("/interactions/batch")]
pub async fn create_batch(mut w: Write<Member>, Json(body): Json<BatchRequest>) -> ApiResult<HttpResponse> {
    if body.items.is_empty() || body.items.len() > MAX_BATCH {
        return Err(ApiError::validation("items", format!("must hold 1 to {MAX_BATCH} interactions")));
    }
    let now = Utc::now();
    let mut v = Validator::default();
    let items: Vec<BatchItem> = body
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| BatchItem {
            customer_id: item.customer_id,
            channel_id: item.channel_id,
            fields: item.validate(&mut v, &format!("items[{i}]."), now),
        })
        .collect();
    let ids = app::interactions::create_batch(&mut w.tx, &w.actor, items, v.into_errors()).await?;
    w.commit(HttpResponse::Created().json(BatchResponse { ids })).await
}

crate::get_handler! {
    /// Get an interaction
    ///
    /// The interaction, with its `ETag`. Any role (viewer).
    get_interaction, tag = "interactions", path = "/interactions/{id}", id = "Interaction id", body = Interaction,
    described = "The interaction", get = app::interactions::get
}

crate::patch_handler! {
    /// Update an interaction
    ///
    /// Member. A JSON merge patch (RFC 7396) of its writable fields (not `external_id`): absent
    /// fields are unchanged, `null` clears an optional one. `value_cents` and `items` are patched
    /// together with `kind: "purchase"`; a patch to another kind drops them. A new customer must
    /// be live, a new channel active, and a new `case_id` a case that is not closed (`422`). An
    /// interaction on a closed case stays on it: a change of its `case_id` is `409`. One on a
    /// case goes to another customer only with `case_id` null or a case of that customer (a
    /// new `customer_id` alone is `409`).
    ///
    /// Send `If-Match` with the `ETag` to apply the change only to that version (`412` otherwise).
    patch_interaction, role = Member, tag = "interactions", path = "/interactions/{id}", id = "Interaction id", patch = InteractionPatch, body = Interaction,
    events = ["interaction.updated"], update = app::interactions::update, patched = InteractionInput::patched, errors = [E400, E401, E403, E404, E409, E412, E413, E415, E422]
}

crate::delete_handler! {
    /// Delete an interaction
    ///
    /// Member. `204`: the interaction is deleted for good. Send `If-Match` with the `ETag` to
    /// delete only that version (`412` otherwise).
    delete_interaction, role = Member, tag = "interactions", path = "/interactions/{id}", id = "Interaction id",
    events = ["interaction.deleted"], delete = app::interactions::delete, errors = [E400, E401, E403, E404, E412]
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
    /// The support case they belong to.
    pub case_id: Option<Uuid>,
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

/// List interactions
///
/// Filtered by `customer_id`, `channel_id`, `kind`, `direction`, `user_id`, `case_id`, `occurred_after`
/// and `occurred_before` (an RFC 3339 timestamp, or a date: midnight in the workspace's time
/// zone); sorted by `-occurred_at` (newest first, the default) or `occurred_at`. Any role
/// (viewer).
///
/// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor`, with the
/// same filters and sort, for the next page, until `next_cursor` is `null`.
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
    let sort = q.sort.unwrap_or(InteractionSort::OccurredAtDesc);
    let keyset = state.cursor_key.keyset(
        auth.workspace_id,
        format!("interactions:{}", sort.as_str()),
        q.cursor.as_deref(),
        q.limit,
    )?;
    let filter = interactions::Filter {
        customer_id: q.customer_id,
        channel_id: q.channel_id,
        kind: q.kind,
        direction: q.direction,
        user_id: q.user_id,
        case_id: q.case_id,
        occurred_after: None,
        occurred_before: None,
    };
    let rows = app::interactions::list(
        &state.pool,
        &auth.actor(),
        filter,
        optional_bound("occurred_after", q.occurred_after.as_deref())?,
        optional_bound("occurred_before", q.occurred_before.as_deref())?,
        sort == InteractionSort::OccurredAt,
        keyset.after,
        keyset.fetch(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(keyset.page(rows, |i| (i.occurred_at, i.id))))
}
