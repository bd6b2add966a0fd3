//! `/analytics/*`: read-only figures computed in PostgreSQL (`analytics`, and the definitions
//! of `ANALYTICS.md`). Each handler reads its query into the endpoint's `Params` and runs it.

use actix_web::{get, web, HttpResponse};

use crate::analytics;
use crate::analytics::basket::{BasketQuery, BasketReport};
use crate::analytics::cohorts::{CohortsQuery, CohortsReport};
use crate::analytics::funnel::{FunnelQuery, FunnelReport};
use crate::analytics::rfm::{RfmAnswer, RfmQuery};
use crate::analytics::segments::{SegmentsQuery, SegmentsReport};
use crate::analytics::series::{SeriesQuery, SeriesReport};
use crate::error::ApiResult;
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::Query;
use crate::http::AppState;

/// A `GET` endpoint of an analytics module: its query read into the module's `Params`, run,
/// answered as JSON. The attributes (the doc and the OpenAPI path) come with each.
macro_rules! analytics_handler {
    ($(#[$meta:meta])* $name:ident, $path:literal, $query:ty => $params:ty) => {
        $(#[$meta])*
        #[get($path)]
        pub async fn $name(state: web::Data<AppState>, auth: Auth, Query(q): Query<$query>) -> ApiResult<HttpResponse> {
            let params = <$params>::parse(q).map_err(analytics::invalid)?;
            Ok(HttpResponse::Ok().json(params.run(&state.pool, auth.workspace_id).await?))
        }
    };
}

analytics_handler! {
    /// Get the funnel conversion of a pipeline
    ///
    /// The deals of the pipeline `pipeline_id` (required; `404` if it is not the workspace's)
    /// created in the window, optionally only those of `owner_id` or of customers acquired on
    /// `channel_id`: per stage of the path (`open` and `won` stages by position), how many reached
    /// it, are in it, converted, and the median hours spent in it; the win rate; where the lost
    /// ones stopped.
    ///
    /// Window `[from, to)`: each a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default the 90 days before `to`, which defaults to now.
    /// Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_funnel",
        tag = "analytics",
        params(FunnelQuery),
        responses(
            (status = 200, description = "The funnel", body = FunnelReport, example = json!({
                "pipeline_id": "0193a0c4-6f1e-7c3a-9d10-2b7a4e1f0c11", "from": "2026-09-01T00:00:00Z",
                "to": "2026-12-01T00:00:00Z", "entered": 120, "open": 70, "won": 30, "lost": 20, "win_rate": 0.6,
                "stages": [
                    {"stage_id": "0193a0c4-6f1e-7c3a-9d10-2b7a4e1f0c12", "name": "Need identified", "position": 0,
                     "reached": 110, "reached_amount_cents": 5_500_000, "current": 40,
                     "conversion_from_previous": null, "conversion_from_first": 1.0, "median_hours_in_stage": 30.5},
                    {"stage_id": "0193a0c4-6f1e-7c3a-9d10-2b7a4e1f0c13", "name": "Won", "position": 1,
                     "reached": 30, "reached_amount_cents": 1_500_000, "current": 30,
                     "conversion_from_previous": 0.2727272727272727, "conversion_from_first": 0.2727272727272727,
                     "median_hours_in_stage": null}],
                "lost_after": [{"stage_id": "0193a0c4-6f1e-7c3a-9d10-2b7a4e1f0c12", "count": 15}, {"stage_id": null, "count": 5}]
            })),
            E400, E401, E404
        )
    )]
    funnel, "/analytics/funnel", analytics::funnel::FunnelQuery => analytics::funnel::FunnelParams
}

analytics_handler! {
    /// Get customer segments by a dimension
    ///
    /// Customers, active customers, interactions, purchases and revenue in the window, per value
    /// of `dimension` (required): `country`, `kind`, `owner`, `tag` (a customer counts in each of
    /// its tags), `channel` or `attr.<key>` (a custom field, as text); with the totals.
    ///
    /// Window `[from, to)`: each a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default the 90 days before `to`, which defaults to now.
    /// Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_segments",
        tag = "analytics",
        params(SegmentsQuery),
        responses(
            (status = 200, description = "The segments", body = SegmentsReport, example = json!({
                "dimension": "country", "from": "2026-09-01T00:00:00Z", "to": "2026-12-01T00:00:00Z",
                "groups": [
                    {"key": "FR", "customers": 1200, "active_customers": 300, "interactions": 950, "purchases": 120, "revenue_cents": 4_800_000},
                    {"key": null, "customers": 40, "active_customers": 2, "interactions": 3, "purchases": 0, "revenue_cents": 0}],
                "totals": {"customers": 1240, "active_customers": 302, "interactions": 953, "purchases": 120, "revenue_cents": 4_800_000}
            })),
            E400, E401
        )
    )]
    segments, "/analytics/segments", analytics::segments::SegmentsQuery => analytics::segments::SegmentsParams
}

analytics_handler! {
    /// Get RFM scores and segments
    ///
    /// Recency, frequency, monetary: scores 1..5 (`ntile(5)`) over every customer with a purchase
    /// before `as_of`, and the seven segments they fall in (customers and revenue of each). With
    /// `customer_id`, that customer's scores instead (`404` if it has no purchase before `as_of`).
    ///
    /// No window: `as_of` is a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default now. Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_rfm",
        tag = "analytics",
        params(RfmQuery),
        responses(
            (status = 200, description = "The segments, or one customer's scores", body = RfmAnswer, example = json!({
                "as_of": "2026-11-25T00:00:00Z", "customers": 10,
                "segments": [
                    {"segment": "champions", "customers": 2, "revenue_cents": 90_000},
                    {"segment": "loyal", "customers": 2, "revenue_cents": 40_000},
                    {"segment": "new", "customers": 1, "revenue_cents": 5_000},
                    {"segment": "promising", "customers": 1, "revenue_cents": 4_000},
                    {"segment": "at_risk", "customers": 2, "revenue_cents": 30_000},
                    {"segment": "hibernating", "customers": 1, "revenue_cents": 2_000},
                    {"segment": "lost", "customers": 1, "revenue_cents": 1_000}]
            })),
            E400, E401, E404
        )
    )]
    rfm, "/analytics/rfm", analytics::rfm::RfmQuery => analytics::rfm::RfmParams
}

analytics_handler! {
    /// Get cohort retention
    ///
    /// Customers by the `period` (`week`, starting Monday, or `month`, the default) of their first
    /// interaction, and per later period how many of them interacted again: the cohorts whose
    /// period starts in the window. At most 1,000 periods in the window (`400`).
    ///
    /// Window `[from, to)`: each a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default the 90 days before `to`, which defaults to now.
    /// Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_cohorts",
        tag = "analytics",
        params(CohortsQuery),
        responses(
            (status = 200, description = "The cohorts", body = CohortsReport, example = json!({
                "period": "month", "from": "2026-09-01T00:00:00Z", "to": "2026-11-01T00:00:00Z",
                "cohorts": [
                    {"cohort": "2026-09-01", "size": 200, "retention": [
                        {"offset": 0, "active": 200, "rate": 1.0}, {"offset": 1, "active": 50, "rate": 0.25}]},
                    {"cohort": "2026-10-01", "size": 180, "retention": [{"offset": 0, "active": 180, "rate": 1.0}]}]
            })),
            E400, E401
        )
    )]
    cohorts, "/analytics/cohorts", analytics::cohorts::CohortsQuery => analytics::cohorts::CohortsParams
}

analytics_handler! {
    /// Get an interaction time series
    ///
    /// Interactions and purchase value per `bucket` (`day`, the default, `week` starting Monday,
    /// or `month`) of the window, zero-filled: one series, or with `group_by` one per channel,
    /// kind or direction. At most 5,000 buckets in the window (`400`).
    ///
    /// Window `[from, to)`: each a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default the 90 days before `to`, which defaults to now.
    /// Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_interaction_series",
        tag = "analytics",
        params(SeriesQuery),
        responses(
            (status = 200, description = "The series", body = SeriesReport, example = json!({
                "bucket": "day", "group_by": "kind", "from": "2026-11-23T00:00:00Z", "to": "2026-11-25T00:00:00Z",
                "series": [
                    {"group": "call", "points": [{"bucket": "2026-11-23", "count": 12, "value_cents": 0},
                                                 {"bucket": "2026-11-24", "count": 0, "value_cents": 0}]},
                    {"group": "purchase", "points": [{"bucket": "2026-11-23", "count": 3, "value_cents": 45_000},
                                                     {"bucket": "2026-11-24", "count": 1, "value_cents": 9_900}]}]
            })),
            E400, E401
        )
    )]
    interactions, "/analytics/interactions", analytics::series::SeriesQuery => analytics::series::SeriesParams
}

analytics_handler! {
    /// Get basket analysis
    ///
    /// Pairs of items held together by purchases of the window, with support, confidence both
    /// ways and lift: the pairs with a support of at least `min_support` (0 to 1, default 0.01),
    /// at most `limit` of them (1 to 200, default 20), by support then lift.
    ///
    /// Window `[from, to)`: each a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default the 90 days before `to`, which defaults to now.
    /// Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_basket",
        tag = "analytics",
        params(BasketQuery),
        responses(
            (status = 200, description = "The pairs", body = BasketReport, example = json!({
                "from": "2026-09-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "baskets": 4,
                "pairs": [{"a": "SKU-001", "b": "SKU-042", "count": 2, "support": 0.5, "confidence_a_b": 0.6666666666666666,
                           "confidence_b_a": 1.0, "lift": 1.3333333333333333}]
            })),
            E400, E401
        )
    )]
    basket, "/analytics/basket", analytics::basket::BasketQuery => analytics::basket::BasketParams
}

analytics_handler! {
    /// Get support figures
    ///
    /// Cases opened, solved and reopened in the window and the backlog at its end; first-response
    /// and resolution times (median and p90, in business minutes of the workspace's hours and in
    /// calendar minutes); SLA attainment (the share of targets met); satisfaction (the share of
    /// `good` ratings): the totals and, with `group_by` (`priority`, `channel`, `assignee`, `tag`),
    /// per group. The exact definitions are in `docs/analytics.md` ("Support").
    ///
    /// Window `[from, to)`: each a date (midnight in the workspace's time zone) or an RFC 3339
    /// timestamp; default the 90 days before `to`, which defaults to now.
    /// Any role (viewer). A bad parameter is `400`.
    #[utoipa::path(
        operation_id = "get_support_analytics",
        tag = "analytics",
        params(analytics::support::SupportQuery),
        responses(
            (status = 200, description = "The support figures", body = analytics::support::SupportReport),
            E400, E401
        )
    )]
    support, "/analytics/support", analytics::support::SupportQuery => analytics::support::SupportParams
}
