//! `/deals`: customers moving through pipelines, with an immutable stage history.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::deals::{DealChanges, NewDeal as NewDealCommand};
use crate::app::{self};
use crate::auth::roles::Member;
use crate::db::deals::{Deal, DealStatus, Filter, StageEvent};
use crate::domain::{calendar_date, past_time, AmountCents, Name, Validator};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{optional_bound, Query};
use crate::http::{patch, AppState, Page, Resource};

impl Resource for Deal {
    fn location(&self) -> String {
        format!("/api/v1/deals/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    pub pipeline_id: Uuid,
    /// A stage of the pipeline; default: its first.
    pub stage_id: Option<Uuid>,
    /// A live customer of the workspace.
    pub customer_id: Uuid,
    #[schema(schema_with = Name::schema, example = "50 seats, annual plan")]
    pub title: String,
    #[schema(schema_with = AmountCents::optional_schema)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub amount_cents: Option<i64>,
    pub owner_id: Option<Uuid>,
    #[schema(schema_with = crate::http::doc::schemas::calendar_date)]
    pub expected_close_date: Option<NaiveDate>,
    /// To bring history over: never in the future. Default: now.
    pub created_at: Option<DateTime<Utc>>,
}

impl NewDeal {
    fn parse(self) -> ApiResult<NewDealCommand> {
        let mut v = Validator::default();
        let title = v.check(Name::parse("title", &self.title));
        let amount = v.check(AmountCents::parse("amount_cents", self.amount_cents.unwrap_or(0)));
        let created_at = match self.created_at {
            Some(t) => v.check(past_time("created_at", t)),
            None => Some(Utc::now()),
        };
        if let Some(d) = self.expected_close_date {
            v.check(calendar_date("expected_close_date", d));
        }
        v.finish()?;
        let (Some(title), Some(amount_cents), Some(created_at)) = (title, amount, created_at) else {
            return Err(ApiError::internal("validated deal fields missing"));
        };
        Ok(NewDealCommand {
            pipeline_id: self.pipeline_id,
            stage_id: self.stage_id,
            customer_id: self.customer_id,
            title,
            amount_cents,
            owner_id: self.owner_id,
            expected_close_date: self.expected_close_date,
            created_at,
        })
    }
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
    #[schema(schema_with = Name::schema)]
    pub title: String,
    #[schema(schema_with = AmountCents::schema)]
    #[serde(deserialize_with = "crate::http::patch::integer")]
    pub amount_cents: i64,
    pub owner_id: Option<Uuid>,
    #[schema(schema_with = crate::http::doc::schemas::calendar_date)]
    pub expected_close_date: Option<NaiveDate>,
}

const NOT_NULL: &[&str] = &["stage_id", "customer_id", "title", "amount_cents"];

derived_schema!(
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

impl DealPatch {
    /// The deal's fields with a merge patch applied.
    fn patched(current: &Deal, body: &Value) -> ApiResult<DealChanges> {
        let writable = DealPatch {
            stage_id: current.stage_id,
            changed_at: None,
            customer_id: current.customer_id,
            title: current.title.clone(),
            amount_cents: current.amount_cents,
            owner_id: current.owner_id,
            expected_close_date: current.expected_close_date,
        };
        let input: DealPatch = patch::apply(&writable, body, &[], NOT_NULL)?;
        let mut v = Validator::default();
        let title = v.check(Name::parse("title", &input.title));
        let amount = v.check(AmountCents::parse("amount_cents", input.amount_cents));
        if let Some(d) = input.expected_close_date {
            v.check(calendar_date("expected_close_date", d));
        }
        v.finish()?;
        let (Some(title), Some(amount_cents)) = (title, amount) else {
            return Err(ApiError::internal("validated deal fields missing"));
        };
        Ok(DealChanges {
            stage_id: input.stage_id,
            changed_at: input.changed_at,
            customer_id: input.customer_id,
            title,
            amount_cents,
            owner_id: input.owner_id,
            expected_close_date: input.expected_close_date,
        })
    }
}

crate::create_handler! {
    /// Create a deal
    ///
    /// Member. Opens a deal for a live customer in a stage of its pipeline (default: the first):
    /// `201` with the deal, its `Location` and `ETag`. `status` and `closed_at` follow the stage's
    /// kind; the creation is the first entry of its history. A pipeline, stage or customer that is
    /// not the workspace's is `422`. `created_at` may be given to bring history over from another
    /// system (never in the future: `422`); default now.
    ///
    /// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
    /// response (the same key with another body is `409`).
    create_deal, role = Member, tag = "deals", path = "/deals", request = NewDeal, body = Deal,
    events = ["deal.created"], create = app::deals::create, errors = [E400, E401, E403, E413, E415, E422]
}

crate::get_handler! {
    /// Get a deal
    ///
    /// The deal, with its `ETag`. Any role (viewer).
    get_deal, tag = "deals", path = "/deals/{id}", id = "Deal id", body = Deal, described = "The deal",
    get = app::deals::get
}

crate::patch_handler! {
    /// Update or move a deal
    ///
    /// Member. A JSON merge patch (RFC 7396) of the writable fields: absent fields are unchanged,
    /// `null` clears an optional one. A new `stage_id` (a stage of the deal's pipeline) moves it,
    /// recorded in its history at `changed_at` (default now; never in the future nor before the
    /// deal's previous change: `422`); `status` and `closed_at` follow the stage's kind. Moves of
    /// one deal are serialised.
    ///
    /// Send `If-Match` with the `ETag` to apply the change only to that version (`412` otherwise).
    patch_deal, role = Member, tag = "deals", path = "/deals/{id}", id = "Deal id", patch = DealPatchSchema, body = Deal,
    events = ["deal.updated"], update = app::deals::update, patched = DealPatch::patched, errors = [E400, E401, E403, E404, E412, E413, E415, E422]
}

crate::delete_handler! {
    /// Delete a deal
    ///
    /// Member. `204`: the deal is deleted for good, with its history. Send `If-Match` with the
    /// `ETag` to delete only that version (`412` otherwise).
    delete_deal, role = Member, tag = "deals", path = "/deals/{id}", id = "Deal id", events = ["deal.deleted"],
    delete = app::deals::delete, errors = [E400, E401, E403, E404, E412]
}

/// List a deal's stage history
///
/// Every stage change of the deal, in order, creation first (with `from_stage_id` `null`, at
/// the deal's `created_at`): the stage it left and the one it entered, when, and the user who
/// made the change (`user_id`, when there is one). The whole history at once, not paginated.
/// Any role (viewer).
#[utoipa::path(
    operation_id = "list_deal_history",
    tag = "deals",
    params(("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "The history", body = Vec<StageEvent>), E400, E401, E404)
)]
#[get("/deals/{id}/history")]
pub async fn history(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(app::deals::history(&state.pool, &auth.actor(), *id).await?))
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

/// List deals
///
/// Newest first, filtered by `pipeline_id`, `stage_id`, `status`, `customer_id`, `owner_id`,
/// `created_after` and `created_before` (an RFC 3339 timestamp, or a date: midnight in the
/// workspace's time zone). Any role (viewer).
///
/// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
/// next page, until `next_cursor` is `null`.
#[utoipa::path(
    tag = "deals",
    params(DealQuery),
    responses((status = 200, description = "A page of deals", body = Page<Deal>), E400, E401)
)]
#[get("/deals")]
pub async fn list_deals(state: web::Data<AppState>, auth: Auth, Query(q): Query<DealQuery>) -> ApiResult<HttpResponse> {
    let keyset = state.cursor_key.keyset(auth.workspace_id, "deals:-created_at", q.cursor.as_deref(), q.limit)?;
    let filter = Filter {
        pipeline_id: q.pipeline_id,
        stage_id: q.stage_id,
        status: q.status,
        customer_id: q.customer_id,
        owner_id: q.owner_id,
        created_after: None,
        created_before: None,
    };
    let created = (
        optional_bound("created_after", q.created_after.as_deref())?,
        optional_bound("created_before", q.created_before.as_deref())?,
    );
    let rows = app::deals::list(&state.pool, &auth.actor(), filter, created, keyset.after, keyset.fetch()).await?;
    Ok(HttpResponse::Ok().json(keyset.page(rows, |d| (d.created_at, d.id))))
}
