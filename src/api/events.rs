//! `GET /events`: the event log, as an audit log and a change feed that is safe to poll.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app;
use crate::auth::roles::Admin;
use crate::db::events::{Event, FeedPosition, Filter};
use crate::domain::events::EventType;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::AppState;
use crate::http::MAX_LIMIT;

/// The cursor namespace of the feed (a position is valid whatever the filters).
const SORT: &str = "events:feed";

/// The query of `GET /events`, as documented.
#[allow(dead_code)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQueryParams {
    /// An event type (`customer.created`) or all of a resource's (`customer.*`); repeat for
    /// several (any may match).
    #[param(schema_with = event_type_filter, style = Form, explode = true)]
    r#type: Option<Vec<String>>,
    /// Only events about this resource.
    resource_id: Option<Uuid>,
    /// Only events made by this user or API token.
    actor_id: Option<Uuid>,
    /// The `next_cursor` of the previous page: the events written after it.
    after: Option<String>,
    /// Page size, 1..200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

fn event_type_filter() -> utoipa::openapi::schema::Array {
    let mut values: Vec<String> = EventType::ALL.iter().map(|t| t.as_str().to_owned()).collect();
    values.extend(EventType::resources().into_iter().map(|r| format!("{r}.*")));
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .enum_values(Some(values)),
        )
        .build()
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first.
    pub data: Vec<Event>,
    /// Always set: pass it as `after` for the events written after these, now or later (poll
    /// with it).
    pub next_cursor: String,
}

struct EventQuery {
    filter: Filter,
    after: Option<String>,
    limit: i64,
}

fn parse(qs: &str) -> Result<EventQuery, ApiError> {
    let mut q = EventQuery { filter: Filter::default(), after: None, limit: crate::http::DEFAULT_LIMIT };
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(qs.as_bytes()) {
        if key != "type" {
            if seen.iter().any(|k| *k == key) {
                return Err(ApiError::malformed_field(key.as_ref(), "may be given only once"));
            }
            seen.push(key.to_string());
        }
        let uuid = |name: &str| {
            Uuid::try_parse(&value).map_err(|_| ApiError::malformed_field(name, crate::domain::query::NOT_AN_ID))
        };
        match key.as_ref() {
            "type" => match (value.parse::<EventType>(), value.strip_suffix(".*")) {
                (Ok(t), _) => q.filter.types.push(t),
                (_, Some(resource)) if EventType::resources().contains(&resource) => {
                    q.filter.resources.push(resource.to_owned())
                }
                _ => {
                    return Err(ApiError::malformed_field(
                        "type",
                        format!("{value:?} is neither an event type nor <resource>.* of a resource of the log"),
                    ))
                }
            },
            "resource_id" => q.filter.resource_id = Some(uuid("resource_id")?),
            "actor_id" => q.filter.actor_id = Some(uuid("actor_id")?),
            "after" => q.after = Some(value.into_owned()),
            "limit" => {
                q.limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ApiError::malformed_field("limit", format!("must be 1 to {MAX_LIMIT}")))?
            }
            other => return Err(ApiError::malformed_field(other, "is not a filter of the event log")),
        }
    }
    Ok(q)
}

/// List events (audit log and change feed)
///
/// The event log: every change made in the workspace, oldest first. Admin. Filters: `type`
/// (an event type, or `<resource>.*`; repeatable, any may match), `resource_id`, `actor_id`;
/// any other parameter is `400`. `limit` 1..200 (default 50).
///
/// Each event names its type (`customer.created`, `deal.stage_changed`, ...), the resource and
/// its id, the actor (user, API token or `system`), the request id, when, and the resource as
/// the API returned it after the change (`{"id"}` alone once deleted for good or erased).
/// Events are written in the transaction of their change: a change that failed has none.
///
/// Each state-changing operation lists the events it records under `x-events` (one per
/// resource it changes): besides them, a `PATCH /deals/{id}` that moves the deal records
/// `deal.stage_changed` instead of `deal.updated`; removing a stage with `move_to` records a
/// `deal.stage_changed` per deal moved, and changing a stage's kind a `deal.updated` per deal
/// that follows; disabling a user, changing its password or removing it records an
/// `api_token.revoked` per API token issued to it; `DELETE /customers/{id}?erase=true` records
/// `interaction.deleted`, `deal.deleted` and `case.deleted` for everything of the customer's,
/// then `customer.erased`; an interaction written on a support case records `case.updated` too
/// when it moves the case's first response, and the close-cases job a `case.updated` (as
/// `system`) per case it closes; an import records one event per customer created or changed; a change
/// that changes nothing records nothing. Logging in and out (sessions) are not recorded.
///
/// **Change feed**: pass `next_cursor` as `after` to get what was written since. Polling with
/// it never misses an event, even one whose transaction commits after a later one's: an event
/// appears only once every transaction older than its own has finished. Events are kept 90
/// days (`RAPPORT_EVENTS_RETENTION_DAYS`).
#[utoipa::path(
    tag = "events",
    params(EventQueryParams),
    responses((status = 200, description = "A page of the log", body = EventPage), E400, E401, E403)
)]
#[get("/events")]
pub async fn list_events(state: web::Data<AppState>, auth: Auth<Admin>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let q = parse(req.query_string())?;
    let after: Option<FeedPosition> = state.cursor_key.position(auth.workspace_id, SORT, q.after.as_deref())?;
    let (data, next) = app::events::feed(&state.pool, &auth.actor(), &q.filter, after, q.limit).await?;
    let next_cursor = state.cursor_key.encode(auth.workspace_id, SORT, &next);
    Ok(HttpResponse::Ok().json(EventPage { data, next_cursor }))
}
