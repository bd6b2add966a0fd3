//! `/analytics/*`: read-only figures computed in PostgreSQL (see `db::analytics` and
//! `ANALYTICS.md`). Every endpoint takes a window `[from, to)`: a date (midnight in the
//! workspace's timezone) or an RFC 3339 timestamp with an offset; default the 90 days before
//! `to`, and `to` defaults to now.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::analytics::{
    self, BasketFigures, CohortsFigures, Context, Dimension, FunnelFigures, Period, RfmCustomer, RfmFigures,
    SegmentsFigures, SeriesFigures, SeriesGroup,
};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::extract::Query;
use crate::http::AppState;

/// At most this many buckets (series) or periods (cohorts) in a window.
pub const MAX_BUCKETS: i64 = 5_000;
pub const MAX_PERIODS: i64 = 1_000;

/// The window of a request, resolved in the workspace's timezone; `from >= to` is a `400`.
async fn window(
    state: &AppState,
    auth: &Auth,
    from: Option<&str>,
    to: Option<&str>,
    pipeline_id: Option<Uuid>,
) -> Result<Context, ApiError> {
    let from = from.map(|f| crate::http::extract::bound("from", f)).transpose()?;
    let to = to.map(|t| crate::http::extract::bound("to", t)).transpose()?;
    let cx = analytics::context(&state.pool, auth.workspace_id, from, to, pipeline_id).await?;
    if cx.from >= cx.to {
        return Err(ApiError::malformed_field("from", "must be before to"));
    }
    Ok(cx)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// The pipeline (`404` if it is not one of the workspace's).
    pub pipeline_id: Uuid,
    /// Start of the window (inclusive): a date (midnight in the workspace's timezone) or an
    /// RFC 3339 timestamp with an offset. Default: 90 days before `to`.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive), same forms. Default: now.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub to: Option<String>,
    /// Only deals of this owner.
    pub owner_id: Option<Uuid>,
    /// Only deals of customers acquired on this channel (the channel of their earliest
    /// interaction).
    pub channel_id: Option<Uuid>,
}

/// The funnel of a pipeline's deals created in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelReport {
    pub pipeline_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: FunnelFigures,
}

/// Funnel conversion of the deals of one pipeline created in the window: per stage of the
/// path (`open` and `won` stages by position), how many reached it, are in it, converted, and
/// the median hours spent in it; win rate; where the lost ones stopped.
#[utoipa::path(
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
#[get("/analytics/funnel")]
pub async fn funnel(state: web::Data<AppState>, auth: Auth, Query(q): Query<FunnelQuery>) -> ApiResult<HttpResponse> {
    let cx = window(&state, &auth, q.from.as_deref(), q.to.as_deref(), Some(q.pipeline_id)).await?;
    if !cx.pipeline_found {
        return Err(ApiError::not_found("pipeline"));
    }
    let filter = analytics::FunnelFilter { pipeline_id: q.pipeline_id, owner_id: q.owner_id, channel_id: q.channel_id };
    let figures = analytics::funnel(&state.pool, auth.workspace_id, &cx, &filter).await?;
    Ok(HttpResponse::Ok().json(FunnelReport { pipeline_id: q.pipeline_id, from: cx.from, to: cx.to, figures }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SegmentsQuery {
    /// `country`, `kind`, `owner`, `tag` (a customer counts in each of its tags), `channel`, or
    /// `attr.<key>` (a custom field, as text).
    #[param(pattern = r"^(country|kind|owner|tag|channel|attr\.[^\u0000]{1,200})$", example = "country")]
    pub dimension: String,
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub to: Option<String>,
}

fn dimension(text: &str) -> Result<Dimension, ApiError> {
    Ok(match text {
        "country" => Dimension::Country,
        "kind" => Dimension::Kind,
        "owner" => Dimension::Owner,
        "tag" => Dimension::Tag,
        "channel" => Dimension::Channel,
        other => match other.strip_prefix("attr.") {
            Some(key) if !key.is_empty() && key.chars().count() <= 200 && !key.contains('\0') => {
                Dimension::Attribute(crate::domain::nfc(key).into_owned())
            }
            _ => {
                return Err(ApiError::malformed_field(
                    "dimension",
                    "must be country, kind, owner, tag, channel or attr.<key> (a key of 1 to 200 characters)",
                ))
            }
        },
    })
}

/// Customers and their activity in the window, grouped.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentsReport {
    #[schema(example = "country")]
    pub dimension: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: SegmentsFigures,
}

/// Segmentation: customers, active customers, interactions, purchases and revenue in the
/// window, per value of a dimension.
#[utoipa::path(
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
#[get("/analytics/segments")]
pub async fn segments(
    state: web::Data<AppState>,
    auth: Auth,
    Query(q): Query<SegmentsQuery>,
) -> ApiResult<HttpResponse> {
    let dim = dimension(&q.dimension)?;
    let cx = window(&state, &auth, q.from.as_deref(), q.to.as_deref(), None).await?;
    let figures = analytics::segments(&state.pool, auth.workspace_id, &cx, &dim).await?;
    Ok(HttpResponse::Ok().json(SegmentsReport { dimension: q.dimension, from: cx.from, to: cx.to, figures }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RfmQuery {
    /// Only purchases before this instant count: a date (midnight in the workspace's timezone)
    /// or an RFC 3339 timestamp with an offset. Default: now.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub as_of: Option<String>,
    /// One customer's figures instead of the segments (`404` if it has no purchase before
    /// `as_of`).
    pub customer_id: Option<Uuid>,
}

/// RFM segments of the customers with a purchase before `as_of`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RfmReport {
    pub as_of: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: RfmFigures,
}

/// The segments, or one customer's scores with `customer_id`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RfmAnswer {
    Segments(RfmReport),
    Customer(RfmCustomer),
}

/// Recency, frequency, monetary: scores 1..5 (`ntile(5)`) over every customer with a purchase
/// before `as_of`, and the seven segments they fall in.
#[utoipa::path(
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
#[get("/analytics/rfm")]
pub async fn rfm(state: web::Data<AppState>, auth: Auth, Query(q): Query<RfmQuery>) -> ApiResult<HttpResponse> {
    let ws = auth.workspace_id;
    let as_of = q.as_of.as_deref().map(|t| crate::http::extract::bound("as_of", t)).transpose()?;
    let as_of = analytics::context(&state.pool, ws, None, as_of, None).await?.to;
    let answer = match q.customer_id {
        Some(id) => RfmAnswer::Customer(
            analytics::rfm_customer(&state.pool, ws, as_of, id)
                .await?
                .ok_or_else(|| ApiError::NotFound("no customer with a purchase before as_of has this id".into()))?,
        ),
        None => RfmAnswer::Segments(RfmReport { as_of, figures: analytics::rfm(&state.pool, ws, as_of).await? }),
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// A cohort period.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CohortPeriod {
    Week,
    Month,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CohortsQuery {
    /// `week` (starting Monday) or `month`, in the workspace's timezone. Default: `month`.
    pub period: Option<CohortPeriod>,
    /// Cohorts whose period starts at or after this: a date or an RFC 3339 timestamp.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub from: Option<String>,
    /// …and before this; retention periods too start before it. Default: now.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub to: Option<String>,
}

/// Retention of customers grouped by the period of their first interaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct CohortsReport {
    pub period: Period,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: CohortsFigures,
}

/// Cohort retention: customers by the week or month of their first interaction, and per later
/// period how many of them interacted again. At most 1,000 periods in the window.
#[utoipa::path(
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
#[get("/analytics/cohorts")]
pub async fn cohorts(state: web::Data<AppState>, auth: Auth, Query(q): Query<CohortsQuery>) -> ApiResult<HttpResponse> {
    let period = match q.period.unwrap_or(CohortPeriod::Month) {
        CohortPeriod::Week => Period::Week,
        CohortPeriod::Month => Period::Month,
    };
    let cx = window(&state, &auth, q.from.as_deref(), q.to.as_deref(), None).await?;
    if analytics::bucket_bound(&cx, period) > MAX_PERIODS {
        return Err(ApiError::malformed_field("from", format!("the window holds more than {MAX_PERIODS} periods")));
    }
    let figures = analytics::cohorts(&state.pool, auth.workspace_id, &cx, period).await?;
    Ok(HttpResponse::Ok().json(CohortsReport { period, from: cx.from, to: cx.to, figures }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// `day`, `week` (starting Monday) or `month`, in the workspace's timezone. Default: `day`.
    pub bucket: Option<Period>,
    /// One series per channel (id), kind or direction; default: one series.
    pub group_by: Option<SeriesGroup>,
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub to: Option<String>,
}

/// Interactions per bucket (and group).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesReport {
    pub bucket: Period,
    pub group_by: Option<SeriesGroup>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: SeriesFigures,
}

/// Interaction series: interactions and purchase value per day, week or month of the window,
/// zero-filled, optionally per channel, kind or direction. At most 5,000 buckets.
#[utoipa::path(
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
#[get("/analytics/interactions")]
pub async fn interactions(
    state: web::Data<AppState>,
    auth: Auth,
    Query(q): Query<SeriesQuery>,
) -> ApiResult<HttpResponse> {
    let bucket = q.bucket.unwrap_or(Period::Day);
    let cx = window(&state, &auth, q.from.as_deref(), q.to.as_deref(), None).await?;
    if analytics::bucket_bound(&cx, bucket) > MAX_BUCKETS {
        return Err(ApiError::malformed_field("from", format!("the window holds more than {MAX_BUCKETS} buckets")));
    }
    let figures = analytics::series(&state.pool, auth.workspace_id, &cx, bucket, q.group_by).await?;
    Ok(HttpResponse::Ok().json(SeriesReport { bucket, group_by: q.group_by, from: cx.from, to: cx.to, figures }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BasketQuery {
    /// Start of the window (inclusive): a date or an RFC 3339 timestamp with an offset.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub from: Option<String>,
    /// End of the window (exclusive). Default: now.
    #[param(schema_with = crate::http::doc::schemas::time_bound)]
    pub to: Option<String>,
    /// Smallest support of a pair reported, 0 to 1, compared exactly as the decimal given.
    /// Default: 0.01.
    #[param(value_type = Option<f64>, minimum = 0.0, maximum = 1.0)]
    pub min_support: Option<String>,
    /// Most pairs reported, 1 to 200. Default: 20.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Pairs of items bought together.
#[derive(Debug, Serialize, ToSchema)]
pub struct BasketReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: BasketFigures,
}

/// Basket analysis: pairs of items held together by purchases of the window, with support,
/// confidence both ways and lift.
#[utoipa::path(
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
#[get("/analytics/basket")]
pub async fn basket(state: web::Data<AppState>, auth: Auth, Query(q): Query<BasketQuery>) -> ApiResult<HttpResponse> {
    let min_support = crate::domain::Proportion::parse("min_support", q.min_support.as_deref().unwrap_or("0.01"))
        .map_err(|e| ApiError::malformed_field(e.field, e.message))?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::malformed_field("limit", "must be 1 to 200"));
    }
    let cx = window(&state, &auth, q.from.as_deref(), q.to.as_deref(), None).await?;
    let figures = analytics::basket(&state.pool, auth.workspace_id, &cx, &min_support, limit).await?;
    Ok(HttpResponse::Ok().json(BasketReport { from: cx.from, to: cx.to, figures }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions() {
        assert_eq!(dimension("tag").unwrap(), Dimension::Tag);
        assert_eq!(dimension("attr.plan").unwrap(), Dimension::Attribute("plan".into()));
        for bad in ["attr.", "attr", "city", "attr.a\0b", ""] {
            assert!(dimension(bad).is_err(), "{bad:?}");
        }
    }
}
