//! A customer's timeline and its 360° view.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::customers::TimelineItem;
use crate::app::{self};
use crate::db::customers::Customer;
use crate::db::interactions::{ChannelCount, Interaction};
use crate::error::ApiResult;
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::Query;
use crate::http::{AppState, Page, PageParams};

crate::text_enum! {
    /// What a timeline entry is.
    pub enum TimelineEntryType {
        Interaction => "interaction",
        StageChange => "stage_change",
        CaseStatusChange => "case_status_change",
    }
}

/// One entry of a timeline (a customer's or a support case's).
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    #[serde(rename = "type")]
    pub type_: TimelineEntryType,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The interaction, when `type` is `interaction` (else `null`).
    pub interaction: Option<Interaction>,
    /// The stage change, when `type` is `stage_change` (else `null`).
    pub stage_change: Option<crate::db::timeline::StageChange>,
    /// The case's status change, when `type` is `case_status_change` (else `null`).
    pub case_status_change: Option<crate::db::timeline::CaseStatusChange>,
}

impl From<crate::db::timeline::Entry> for TimelineEntry {
    fn from(e: crate::db::timeline::Entry) -> Self {
        let mut entry = TimelineEntry {
            type_: TimelineEntryType::Interaction,
            at: e.at,
            interaction: None,
            stage_change: None,
            case_status_change: None,
        };
        match e.item {
            TimelineItem::Interaction(i) => entry.interaction = Some(i),
            TimelineItem::StageChange(c) => {
                (entry.type_, entry.stage_change) = (TimelineEntryType::StageChange, Some(c))
            }
            TimelineItem::CaseStatusChange(c) => {
                (entry.type_, entry.case_status_change) = (TimelineEntryType::CaseStatusChange, Some(c))
            }
        }
        entry
    }
}

/// List a customer's timeline
///
/// The customer's interactions, its deals' stage changes and its support cases' status changes
/// (a case's opening among them), merged, newest first. A customer
/// that is not live (soft-deleted) is `404`. Any role (viewer).
///
/// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
/// next page, until `next_cursor` is `null`.
#[utoipa::path(
    operation_id = "list_customer_timeline",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id"), PageParams),
    responses((status = 200, description = "A page of the timeline", body = Page<TimelineEntry>), E400, E401, E404)
)]
#[get("/customers/{id}/timeline")]
pub async fn timeline(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<Uuid>,
    Query(page): Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let keyset =
        state.cursor_key.keyset(auth.workspace_id, format!("timeline:{}", *id), page.cursor.as_deref(), page.limit)?;
    let rows = app::customers::timeline(&state.pool, &auth.actor(), *id, keyset.after, keyset.fetch()).await?;
    let page = keyset.page(rows, |e| (e.at, e.id));
    let data = page.data.into_iter().map(TimelineEntry::from).collect();
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
    /// Its unsolved support cases, oldest first, with their breach facts now.
    pub open_cases: Vec<crate::db::support::Case>,
    /// Its RFM scores as of now (as `GET /analytics/rfm?customer_id=`); `null` without a
    /// purchase.
    pub rfm: Option<crate::analytics::rfm::RfmCustomer>,
}

/// Get a customer's 360° summary
///
/// The customer, its interactions (how many, per channel, first and last contact), its
/// purchases and lifetime value (their total value, in minor units), its open deals with their
/// stage, its unsolved support cases, and its RFM scores as of now (`null` without a purchase). A customer that is not live
/// (soft-deleted) is `404`. Any role (viewer).
#[utoipa::path(
    operation_id = "get_customer_summary",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses((status = 200, description = "The summary", body = CustomerSummary), E400, E401, E404)
)]
#[get("/customers/{id}/summary")]
pub async fn summary(state: web::Data<AppState>, auth: Auth, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let s = app::customers::summary(&state.pool, &auth.actor(), *id, state.settings.clock.now()).await?;
    Ok(HttpResponse::Ok().json(CustomerSummary {
        customer: s.customer,
        interactions: InteractionSummary {
            total: s.totals.total,
            first_at: s.totals.first_at,
            last_at: s.totals.last_at,
            by_channel: s.by_channel,
        },
        purchases: s.totals.purchases,
        lifetime_value_cents: s.totals.lifetime_value_cents,
        open_deals: s.open_deals,
        open_cases: s.open_cases,
        rfm: s.rfm,
    }))
}
