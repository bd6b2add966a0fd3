use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::roles::{Member, Role};
use crate::db::customers::{self, Customer, CustomerKind, CustomerSort, Filter, Position};
use crate::db::interactions::{self, ChannelCount, Interaction};
use crate::db::{self};
use crate::domain::{self, Bound, Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::{if_match, Json};
use crate::http::patch;
use crate::http::AppState;
use crate::http::{created, versioned, Page, MAX_LIMIT};

pub const ATTRIBUTES_MAX_BYTES: usize = 16 * 1024;
/// Fields a merge patch cannot remove with `null`.
const NOT_NULL: &[&str] = &["kind", "name", "tags", "attributes"];
pub const MAX_TAGS: usize = 50;

/// The writable fields of a customer, as sent on create and patched by PATCH.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default = "person")]
    pub kind: CustomerKind,
    /// 1 to 200 characters.
    #[schema(schema_with = crate::http::doc::schemas::name, example = "Ada Lovelace")]
    pub name: String,
    /// Unique in the workspace, case-insensitive.
    #[schema(schema_with = crate::http::doc::schemas::optional_email, example = "ada@example.com")]
    pub email: Option<String>,
    #[schema(schema_with = crate::http::doc::schemas::phone)]
    pub phone: Option<String>,
    #[schema(schema_with = crate::http::doc::schemas::optional_name)]
    pub company_name: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(schema_with = crate::http::doc::schemas::country, example = "GB")]
    pub country: Option<String>,
    #[schema(schema_with = crate::http::doc::schemas::optional_name)]
    pub city: Option<String>,
    /// At most 50 tags of 1 to 64 characters.
    #[serde(default)]
    #[schema(schema_with = crate::http::doc::schemas::tags)]
    pub tags: Vec<String>,
    /// Custom fields: a JSON object of at most 16 KiB.
    #[serde(default = "crate::http::patch::empty_object")]
    #[schema(schema_with = crate::http::doc::schemas::json_object)]
    pub attributes: Value,
    pub owner_id: Option<Uuid>,
    /// Only on create, to bring history over from another system; never in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

crate::http::doc::derived_schema!(
    /// A JSON merge patch of a customer: any writable field but `created_at`; `null` clears.
    CustomerPatch,
    CustomerInput,
    crate::http::doc::schemas::merge_patch(
        <CustomerInput as utoipa::PartialSchema>::schema(),
        &["created_at"],
        NOT_NULL,
        "A JSON merge patch (RFC 7396) of the customer's writable fields."
    )
);

fn person() -> CustomerKind {
    CustomerKind::Person
}

impl CustomerInput {
    fn from_customer(c: &Customer) -> Self {
        CustomerInput {
            kind: c.kind,
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            company_name: c.company_name.clone(),
            country: c.country.clone(),
            city: c.city.clone(),
            tags: c.tags.clone(),
            attributes: c.attributes.clone(),
            owner_id: c.owner_id,
            created_at: None,
        }
    }

    /// Validates every field, reporting all that are wrong at once.
    pub fn validate(&self, v: &mut Validator, prefix: &str) -> Option<customers::Fields> {
        let f = |name: &str| format!("{prefix}{name}");
        let name = v.check(domain::text(&f("name"), &self.name, 1, 200));
        let email = self.email.as_deref().map(|e| v.check(domain::email(&f("email"), e)));
        let phone = self.phone.as_deref().map(|p| v.check(domain::phone(&f("phone"), p)));
        let company = self.company_name.as_deref().map(|c| v.check(domain::text(&f("company_name"), c, 1, 200)));
        let country = self.country.as_deref().map(|c| v.check(domain::country(&f("country"), c)));
        let city = self.city.as_deref().map(|c| v.check(domain::text(&f("city"), c, 1, 200)));
        if self.tags.len() > MAX_TAGS {
            v.push(FieldError::new(f("tags"), format!("at most {MAX_TAGS} tags")));
        }
        let mut tags: Vec<String> = Vec::with_capacity(self.tags.len());
        for (i, t) in self.tags.iter().enumerate() {
            if let Some(t) = v.check(domain::text(&format!("{prefix}tags[{i}]"), t, 1, 64)) {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        v.check(crate::domain::text::json_object(&f("attributes"), &self.attributes, ATTRIBUTES_MAX_BYTES));
        if let Some(t) = self.created_at {
            v.check(domain::past_time(&f("created_at"), t));
        }
        let flat = |o: Option<Option<String>>| o.flatten();
        let (email, phone, company, country, city) =
            (flat(email), flat(phone), flat(company), flat(country), flat(city));
        let failed = |given: &Option<String>, got: &Option<String>| given.is_some() && got.is_none();
        if failed(&self.email, &email)
            || failed(&self.phone, &phone)
            || failed(&self.company_name, &company)
            || failed(&self.country, &country)
            || failed(&self.city, &city)
        {
            return None;
        }
        Some(customers::Fields {
            kind: self.kind,
            name: name?,
            email,
            phone,
            company_name: company,
            country,
            city,
            tags,
            attributes: {
                let mut a = self.attributes.clone();
                domain::nfc_json(&mut a);
                a
            },
            owner_id: self.owner_id,
        })
    }

    fn fields(&self) -> Result<customers::Fields, ApiError> {
        let mut v = Validator::default();
        let fields = self.validate(&mut v, "");
        v.finish()?;
        fields.ok_or_else(|| ApiError::internal("validated fields missing"))
    }
}

/// Maps the database's refusals of a customer write to the field at fault.
pub fn write_error(e: sqlx::Error) -> ApiError {
    match db::violated_constraint(&e) {
        Some(customers::EMAIL_KEY) => ApiError::Conflict("a customer with this email already exists".into()),
        Some(customers::OWNER_FK) => ApiError::validation("owner_id", "is not a user of this workspace"),
        _ => e.into(),
    }
}

// ---- list -------------------------------------------------------------------------------

/// The filters of `GET /customers` and `GET /customers/export`, as documented (the query
/// itself is parsed by `ListQuery::parse`: `tag` repeats and `attr.<key>` are open-ended).
#[allow(dead_code)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilterParams {
    /// Search text over name, email, company_name and phone.
    #[param(schema_with = crate::http::doc::schemas::search_text)]
    q: Option<String>,
    /// Exact email, case-insensitive.
    #[param(schema_with = crate::http::doc::schemas::search_email)]
    email: Option<String>,
    /// A tag; repeat for several (all must match).
    #[param(schema_with = crate::http::doc::schemas::tag_filter, style = Form, explode = true)]
    tag: Option<Vec<String>>,
    /// ISO 3166-1 alpha-2.
    #[param(pattern = "^[A-Z]{2}$")]
    country: Option<String>,
    owner_id: Option<Uuid>,
    /// Created at or after this instant.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    created_after: Option<String>,
    /// Created before this instant.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    created_before: Option<String>,
}

/// Order and page of `GET /customers`.
#[allow(dead_code)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerPageParams {
    /// Default `-created_at`; `relevance` ranks by `q` (without `q`, the default order).
    sort: Option<CustomerSort>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The parsed query of `GET /customers` and `GET /customers/export`.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// Without `created_after`/`created_before`, which [`ListQuery::filter`] resolves.
    filter: Filter,
    created_after: Option<Bound>,
    created_before: Option<Bound>,
    pub sort: Option<CustomerSort>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Parses the query string: repeatable `tag`, `attr.<key>`, and the rest at most once;
    /// anything else is `400`.
    pub fn parse(qs: &str, paginated: bool) -> Result<Self, ApiError> {
        let mut q = ListQuery::default();
        let mut seen: Vec<String> = Vec::new();
        for (key, value) in form_urlencoded::parse(qs.as_bytes()) {
            let (key, value) = (key.into_owned(), value.into_owned());
            let repeatable = key == "tag" || key.starts_with("attr.");
            if !repeatable {
                if seen.contains(&key) {
                    return Err(ApiError::malformed_field(&key, "may be given only once"));
                }
                seen.push(key.clone());
            }
            let text = |max: usize| -> Result<String, ApiError> {
                domain::text(&key, &value, 1, max).map_err(|e| ApiError::malformed_field(e.field, e.message))
            };
            match key.as_str() {
                "q" => q.filter.q = Some(text(200)?),
                "email" => q.filter.email = Some(text(254)?),
                "tag" => q.filter.tags.push(text(64)?),
                "country" => {
                    // A filter: any two capitals (a code no customer has matches none).
                    if value.len() != 2 || !value.chars().all(|c| c.is_ascii_uppercase()) {
                        return Err(ApiError::malformed_field("country", "must be two capital letters, such as FR"));
                    }
                    q.filter.country = Some(value.clone());
                }
                "owner_id" => {
                    q.filter.owner_id = Some(
                        Uuid::try_parse(&value).map_err(|_| ApiError::malformed_field("owner_id", "must be a UUID"))?,
                    )
                }
                "created_after" => q.created_after = Some(crate::api::analytics::parse_bound(&key, &value)?),
                "created_before" => q.created_before = Some(crate::api::analytics::parse_bound(&key, &value)?),
                "sort" => {
                    q.sort = Some(value.parse().map_err(|_| {
                        ApiError::malformed_field(
                            "sort",
                            "must be one of created_at, -created_at, name, -name, updated_at, -updated_at, relevance",
                        )
                    })?)
                }
                "limit" if paginated => {
                    let n = value.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n));
                    q.limit =
                        Some(n.ok_or_else(|| ApiError::malformed_field("limit", format!("must be 1 to {MAX_LIMIT}")))?);
                }
                "cursor" if paginated => q.cursor = Some(value),
                k if k.starts_with("attr.") && k.len() > 5 => {
                    let name = domain::text(&key, &k[5..], 1, 200)
                        .map_err(|e| ApiError::malformed_field(e.field, format!("(its key) {}", e.message)))?;
                    let v = domain::text(&key, &value, 0, 1000)
                        .map_err(|e| ApiError::malformed_field(e.field, e.message))?;
                    q.filter.attributes.push((name, v));
                }
                other => return Err(ApiError::malformed_field(other, "is not a filter of this list")),
            }
        }
        // Without a search text there is nothing to rank: the default order applies.
        if q.sort == Some(CustomerSort::Relevance) && q.filter.q.is_none() {
            q.sort = None;
        }
        Ok(q)
    }

    /// The filter, with its dates resolved in the workspace's time zone.
    pub async fn filter(&self, db: impl sqlx::PgExecutor<'_>, ws: WorkspaceId) -> Result<Filter, ApiError> {
        let (after, before) =
            crate::db::workspaces::resolve_bounds(db, ws, self.created_after, self.created_before).await?;
        Ok(Filter { created_after: after, created_before: before, ..self.filter.clone() })
    }

    /// The cursor namespace: the order, and for relevance the query it ranks by.
    fn sort_key(&self) -> String {
        match (self.sort, &self.filter.q) {
            (Some(CustomerSort::Relevance), Some(q)) => format!("customers:relevance:{}", q.to_lowercase()),
            (Some(s), _) => format!("customers:{}", s.as_str()),
            (None, _) => "customers:-created_at".into(),
        }
    }
}

/// Customers, filtered, sorted and paginated.
///
/// Filters: `q` (search over name, email, company_name and phone: case-insensitive substring
/// and word-prefix match, and from 4 characters on also typo-tolerant; `sort=relevance` ranks
/// the best matches first), `email`, `tag` (repeatable; all must match), `country`,
/// `owner_id`, `created_after`, `created_before` (an RFC 3339 timestamp, or a date: midnight in
/// the workspace's time zone), and
/// `attr.<key>=<value>` (string equality on a custom field; repeatable). Default order:
/// `-created_at`.
#[utoipa::path(
    tag = "customers",
    params(CustomerFilterParams, CustomerPageParams),
    responses((status = 200, description = "A page of customers", body = Page<Customer>), E400, E401)
)]
#[get("/customers")]
pub async fn list_customers(state: web::Data<AppState>, auth: Auth, req: HttpRequest) -> ApiResult<HttpResponse> {
    let query = ListQuery::parse(req.query_string(), true)?;
    let limit = query.limit.unwrap_or(crate::http::DEFAULT_LIMIT);
    let sort_key = query.sort_key();
    let after: Option<Position> = state.cursor_key.position(auth.workspace_id, &sort_key, query.cursor.as_deref())?;
    let filter = query.filter(&state.pool, auth.workspace_id).await?;
    let rows = customers::list(&state.pool, auth.workspace_id, &filter, query.sort, after, limit + 1).await?;
    let page = state.cursor_key.page(auth.workspace_id, &sort_key, rows, limit, |(_, p)| p.clone());
    let page = Page { data: page.data.into_iter().map(|(c, _)| c).collect(), next_cursor: page.next_cursor };
    Ok(HttpResponse::Ok().json(page))
}

// ---- one customer -----------------------------------------------------------------------

/// Add a customer.
#[utoipa::path(
    tag = "customers",
    request_body = CustomerInput,
    responses(
        (status = 201, description = "Created", body = Customer, headers(("Location" = String), ("ETag" = String))),
        E400, E401, E403, E409, E413, E415, E422
    )
)]
#[post("/customers")]
pub async fn create_customer(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    Json(body): Json<CustomerInput>,
) -> ApiResult<HttpResponse> {
    let fields = body.fields()?;
    let customer =
        customers::insert(&state.pool, auth.workspace_id, &fields, body.created_at).await.map_err(write_error)?;
    Ok(created(format!("/api/v1/customers/{}", customer.id), Some(customer.version), &customer))
}

pub async fn find(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<Customer, ApiError> {
    customers::get(&state.pool, ws, id).await?.ok_or_else(|| ApiError::not_found("customer"))
}

/// One customer.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses((status = 200, description = "The customer", body = Customer, headers(("ETag" = String))), E400, E401, E404)
)]
#[get("/customers/{id}")]
pub async fn get_customer(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let customer = find(&state, auth.workspace_id, *id).await?;
    Ok(versioned(customer.version, &customer))
}

/// Change a customer: a JSON merge patch (RFC 7396) of the writable fields.
///
/// `null` clears an optional field; `attributes` merge key by key (`null` removes a key).
#[utoipa::path(
    tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
    ),
    request_body(content = CustomerPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Changed", body = Customer), E400, E401, E403, E404, E409, E412, E413, E415, E422)
)]
#[patch("/customers/{id}")]
pub async fn patch_customer(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    Json(body): Json<Value>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let mut tx = state.pool.begin().await?;
    let current =
        customers::lock(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("customer"))?;
    let input: CustomerInput = patch::apply(&CustomerInput::from_customer(&current), &body, &["created_at"], NOT_NULL)?;
    let fields = input.fields()?;
    crate::http::extract::check_version(expected, current.version)?;
    let customer = customers::update(&mut *tx, auth.workspace_id, current.id, &fields).await.map_err(write_error)?;
    tx.commit().await?;
    Ok(versioned(customer.version, &customer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Erase for good, with all its interactions and deals (admin; right to erasure).
    #[serde(default)]
    pub erase: bool,
}

/// Delete a customer: a soft delete, restorable for 30 days; with `?erase=true` (admin) the
/// customer, its interactions and its deals are erased for good.
#[utoipa::path(
    tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        DeleteParams,
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to delete")
    ),
    responses((status = 204, description = "Deleted"), E400, E401, E403, E404, E412)
)]
#[delete("/customers/{id}")]
pub async fn delete_customer(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    crate::http::extract::Query(params): crate::http::extract::Query<DeleteParams>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    if params.erase {
        if auth.role < Role::Admin {
            return Err(ApiError::Forbidden("erasing a customer needs the admin role or higher".into()));
        }
        // Erasure also reaches customers already soft-deleted.
        if expected.is_some() {
            let current = find(&state, auth.workspace_id, *id).await?;
            if expected != Some(current.version) {
                return Err(ApiError::PreconditionFailed { current: current.version });
            }
        }
        if !customers::erase(&state.pool, auth.workspace_id, *id).await? {
            return Err(ApiError::not_found("customer"));
        }
        return Ok(HttpResponse::NoContent().finish());
    }
    let mut tx = state.pool.begin().await?;
    let current =
        customers::lock(&mut *tx, auth.workspace_id, *id).await?.ok_or_else(|| ApiError::not_found("customer"))?;
    crate::http::extract::check_version(expected, current.version)?;
    customers::soft_delete(&mut *tx, auth.workspace_id, current.id).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Restore a customer deleted less than 30 days ago.
///
/// `409` if another live customer took its email meanwhile; `404` if there is no such deleted
/// customer (or it was deleted too long ago). Restoring a live customer returns it unchanged.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses((status = 200, description = "Restored", body = Customer), E400, E401, E403, E404, E409)
)]
#[post("/customers/{id}/restore")]
pub async fn restore_customer(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    if let Some(live) = customers::get(&state.pool, auth.workspace_id, *id).await? {
        return Ok(versioned(live.version, &live));
    }
    let customer = customers::restore(&state.pool, auth.workspace_id, *id)
        .await
        .map_err(write_error)?
        .ok_or_else(|| ApiError::not_found("deleted customer"))?;
    Ok(versioned(customer.version, &customer))
}

// ---- 360° view ----------------------------------------------------------------------------

/// One entry of a customer's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// `interaction` or `stage_change`.
    #[schema(example = "interaction")]
    #[serde(rename = "type")]
    pub type_: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction: Option<Interaction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_change: Option<crate::db::timeline::StageChange>,
}

/// The customer's timeline: its interactions and its deals' stage changes, newest first,
/// paginated.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id"), crate::http::PageParams),
    responses((status = 200, description = "A page of the timeline", body = Page<TimelineEntry>), E400, E401, E404)
)]
#[get("/customers/{id}/timeline")]
pub async fn timeline(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<Uuid>,
    crate::http::extract::Query(page): crate::http::extract::Query<crate::http::PageParams>,
) -> ApiResult<HttpResponse> {
    use crate::db::timeline::{self, Item};
    let limit = page.limit()?;
    let sort = format!("timeline:{}", *id);
    let after = state.cursor_key.position(auth.workspace_id, &sort, page.cursor.as_deref())?;
    let customer = find(&state, auth.workspace_id, *id).await?;
    let rows = timeline::page(&state.pool, auth.workspace_id, customer.id, after, limit + 1).await?;
    let page = state.cursor_key.page(auth.workspace_id, &sort, rows, limit, |e| (e.at, e.id));
    let data = page
        .data
        .into_iter()
        .map(|e| match e.item {
            Item::Interaction(i) => {
                TimelineEntry { type_: "interaction".into(), at: e.at, interaction: Some(i), stage_change: None }
            }
            Item::StageChange(c) => {
                TimelineEntry { type_: "stage_change".into(), at: e.at, interaction: None, stage_change: Some(c) }
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InteractionSummary {
    pub total: i64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub by_channel: Vec<ChannelCount>,
}

/// The 360° view of a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSummary {
    pub customer: Customer,
    pub interactions: InteractionSummary,
    /// Number of purchases.
    pub purchases: i64,
    /// Sum of the value of its purchases, in minor units.
    pub lifetime_value_cents: crate::domain::SumCents,
    /// Its open deals, with their stage.
    pub open_deals: Vec<crate::db::deals::OpenDeal>,
    /// Its RFM scores as of now (as `GET /analytics/rfm?customer_id=`); `null` without a
    /// purchase.
    pub rfm: Option<crate::db::analytics::RfmCustomer>,
}

/// The 360° view: the customer, its interactions per channel, first and last contact,
/// lifetime value, and open deals with their stage.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses((status = 200, description = "The summary", body = CustomerSummary), E400, E401, E404)
)]
#[get("/customers/{id}/summary")]
pub async fn summary(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let customer = find(&state, auth.workspace_id, *id).await?;
    let (totals, by_channel, open_deals) = tokio::try_join!(
        interactions::totals(&state.pool, auth.workspace_id, customer.id),
        interactions::counts_by_channel(&state.pool, auth.workspace_id, customer.id),
        crate::db::deals::open_deals(&state.pool, auth.workspace_id, customer.id)
    )?;
    let rfm = match totals.purchases {
        0 => None,
        _ => {
            crate::db::analytics::rfm_customer(&state.pool, auth.workspace_id, chrono::Utc::now(), customer.id).await?
        }
    };
    Ok(HttpResponse::Ok().json(CustomerSummary {
        customer,
        interactions: InteractionSummary {
            total: totals.total,
            first_at: totals.first_at,
            last_at: totals.last_at,
            by_channel,
        },
        purchases: totals.purchases,
        lifetime_value_cents: totals.lifetime_value_cents,
        open_deals,
        rfm,
    }))
}
