//! `/customers`: people and companies, their 360° view, and files of them.

mod files;
mod input;
mod parse;
mod query;
mod views;

pub use files::{export_customers, import_customers};
pub use input::{CustomerInput, CustomerPatch};
pub use query::{CustomerFilterParams, CustomerPageParams, ListQuery};
pub use views::{summary, timeline, CustomerSummary, InteractionSummary, TimelineEntry};

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::app;
use crate::auth::roles::Member;
use crate::db::customers::{Customer, Position};
use crate::error::ApiResult;
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{IfMatch, Query};
use crate::http::write::Write;
use crate::http::{ok, AppState, Page, Resource};

impl Resource for Customer {
    fn location(&self) -> String {
        format!("/api/v1/customers/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// List customers
///
/// Filters: `q` (search over name, email, company_name and phone: case-insensitive substring
/// and word-prefix match, and from 4 characters on also typo-tolerant; `sort=relevance` ranks
/// the best matches first), `email`, `tag` (repeatable; all must match), `country`,
/// `owner_id`, `created_after`, `created_before` (an RFC 3339 timestamp, or a date: midnight in
/// the workspace's time zone), and custom fields: `attr[<key>]=<text>` or `attr.<key>=<text>`
/// (the field equals the text, or holds the number or boolean written so: `attr[seats]=40`;
/// repeatable, all must match). Any other parameter is `400`. Soft-deleted customers are left
/// out.
///
/// Sorts: `created_at`, `-created_at` (the default), `name`, `-name`, `updated_at`,
/// `-updated_at`, `relevance` (with `q`; without it, the default order). Any role (viewer).
///
/// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor`, with the
/// same filters and sort, for the next page, until `next_cursor` is `null`.
#[utoipa::path(
    tag = "customers",
    params(CustomerFilterParams, CustomerPageParams),
    responses((status = 200, description = "A page of customers", body = Page<Customer>), E400, E401)
)]
#[get("/customers")]
pub async fn list_customers(state: web::Data<AppState>, auth: Auth, req: HttpRequest) -> ApiResult<HttpResponse> {
    let query = ListQuery::parse(req.query_string(), true)?;
    let keyset = state.cursor_key.keyset::<Position>(
        auth.workspace_id,
        query.sort_key(),
        query.cursor.as_deref(),
        query.limit,
    )?;
    let rows = app::customers::list(
        &state.pool,
        &auth.actor(),
        &query.filter,
        query.sort,
        keyset.after.clone(),
        keyset.fetch(),
    )
    .await?;
    let page = keyset.page(rows, |(_, p)| p.clone());
    Ok(HttpResponse::Ok()
        .json(Page { data: page.data.into_iter().map(|(c, _)| c).collect(), next_cursor: page.next_cursor }))
}

crate::create_handler! {
    /// Create a customer
    ///
    /// Member. `201` with the customer, its `Location` and `ETag`. `email` is unique in the
    /// workspace, case-insensitive (`409` on a clash). `created_at` may be given to bring history
    /// over from another system (never in the future: `422`); default now.
    ///
    /// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
    /// response (the same key with another body is `409`).
    create_customer, role = Member, tag = "customers", path = "/customers", request = CustomerInput, body = Customer,
    events = ["customer.created"], create = app::customers::create, errors = [E400, E401, E403, E409, E413, E415, E422]
}

crate::get_handler! {
    /// Get a customer
    ///
    /// A live customer (a soft-deleted one is `404`), with its `ETag`. Any role (viewer).
    get_customer, tag = "customers", path = "/customers/{id}", id = "Customer id", body = Customer,
    described = "The customer", get = app::customers::get
}

crate::patch_handler! {
    /// Update a customer
    ///
    /// Member. A JSON merge patch (RFC 7396) of the writable fields (not `created_at`): absent
    /// fields are unchanged, `null` clears an optional field; `attributes` merge key by key
    /// (`null` removes a key). An `email` another customer has is `409`.
    ///
    /// Send `If-Match` with the `ETag` to apply the change only to that version (`412` otherwise).
    patch_customer, role = Member, tag = "customers", path = "/customers/{id}", id = "Customer id", patch = CustomerPatch, body = Customer,
    events = ["customer.updated"], update = app::customers::update, patched = CustomerInput::patched, errors = [E400, E401, E403, E404, E409, E412, E413, E415, E422]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Erase for good, with all its interactions and deals (admin; right to erasure).
    #[serde(default)]
    pub erase: bool,
}

/// Delete a customer
///
/// Member. `204`. A soft delete: the customer leaves lists and lookups with its interactions
/// and deals, restorable for 30 days (`POST /customers/{id}/restore`), then erased for good.
///
/// With `?erase=true` (admin) the customer, live or soft-deleted, its interactions and its
/// deals are erased for good at once, and the event log keeps nothing personal of them
/// (earlier events keep only the ids). Send `If-Match` with the `ETag` to delete only that
/// version (`412` otherwise).
#[utoipa::path(
    tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        DeleteParams,
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to delete")
    ),
    responses((status = 204, description = "Deleted"), E400, E401, E403, E404, E412),
    extensions(("x-events" = json!(["customer.deleted"])))
)]
#[delete("/customers/{id}")]
pub async fn delete_customer(
    mut w: Write<Member>,
    id: web::Path<Uuid>,
    IfMatch(expected): IfMatch,
    Query(params): Query<DeleteParams>,
) -> ApiResult<HttpResponse> {
    if params.erase {
        app::customers::erase(&mut w.tx, &w.actor, *id, expected).await?;
    } else {
        app::customers::delete(&mut w.tx, &w.actor, *id, expected).await?;
    }
    w.commit(HttpResponse::NoContent().finish()).await
}

/// Restore a deleted customer
///
/// Member. Brings back a customer deleted less than 30 days ago: `200` with the customer.
/// `409` if another live customer took its email meanwhile; `404` if there is no such deleted
/// customer (or it was deleted too long ago). Restoring a live customer returns it unchanged.
///
/// Honours `Idempotency-Key` (no body needed): a retry with the same key within 24 h returns
/// the stored response.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id"), crate::http::idempotency::IdempotencyKey),
    responses((status = 200, description = "Restored", body = Customer), E400, E401, E403, E404, E409),
    extensions(("x-events" = json!(["customer.restored"])))
)]
#[post("/customers/{id}/restore")]
pub async fn restore_customer(mut w: Write<Member>, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let customer = app::customers::restore(&mut w.tx, &w.actor, *id).await?;
    w.commit(ok(&customer)).await
}
