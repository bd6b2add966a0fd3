//! What a saved report runs: one analytics endpoint (its `kind`) with the endpoint's own
//! parameters, read by the endpoint's own code, so a report can hold nothing the endpoint
//! would refuse; and the table a run's result is as rows (for CSV).

use serde_json::Value;
use sqlx::PgPool;

use super::basket::{BasketParams, BasketQuery};
use super::cohorts::{CohortsParams, CohortsQuery};
use super::funnel::{FunnelParams, FunnelQuery};
use super::rfm::{RfmParams, RfmQuery};
use super::segments::{SegmentsParams, SegmentsQuery};
use super::series::{SeriesParams, SeriesQuery};
use super::support::{SupportParams, SupportQuery};
use super::Window;
use crate::domain::schedule::Range;
pub use crate::domain::schedule::ReportKind as Kind;
use crate::domain::WorkspaceId;
use crate::error::{ApiError, FieldError};

/// The parameters of one analytics endpoint, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Params {
    Funnel(FunnelParams),
    Segments(SegmentsParams),
    Rfm(RfmParams),
    Cohorts(CohortsParams),
    Interactions(SeriesParams),
    Basket(BasketParams),
    Support(SupportParams),
}

/// A report's parameters: the endpoint's, and the relative range (if any) that replaces its
/// window when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub params: Params,
    pub range: Option<Range>,
}

/// The name of the key of `params` that holds the relative range.
pub const RANGE: &str = "range";

impl Saved {
    /// Reads `params`: a JSON object of the endpoint's query parameters, each of the JSON type
    /// the endpoint's schema gives it (`null`: the default), and `range`. Every bad one is
    /// reported as `params.<name>`.
    pub fn parse(kind: Kind, params: &Value) -> Result<Saved, Vec<FieldError>> {
        let named = |name: &str, message: &str| FieldError::new(format!("params.{name}"), message);
        let Some(object) = params.as_object() else {
            return Err(vec![FieldError::new("params", "must be a JSON object")]);
        };
        let mut errors = Vec::new();
        let mut query = object.clone();
        let range = match query.remove(RANGE) {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) if r.parse::<Range>().is_ok() => r.parse::<Range>().ok(),
            Some(_) => {
                let names: Vec<&str> = Range::ALL.iter().map(|r| r.as_str()).collect();
                errors.push(named(RANGE, &format!("must be one of {}", names.join(", "))));
                None
            }
        };
        let read = Params::read(kind, Value::Object(query)).map_err(|e| {
            e.into_iter().map(|e| FieldError::new(format!("params.{}", e.field), e.message)).collect::<Vec<_>>()
        });
        let params = match read {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        if let (Some(p), Some(_)) = (&params, range) {
            let fixed = p.window();
            for (name, given) in p.window_names().iter().zip([fixed.from, fixed.to]) {
                if given.is_some() {
                    errors.push(named(name, "cannot be given with range"));
                }
            }
        }
        match params {
            Some(params) if errors.is_empty() => Ok(Saved { params, range }),
            _ => Err(errors),
        }
    }

    /// `params` as they are stored and shown: the endpoint's parameters as given, and `range`.
    pub fn normalized(params: &Value) -> Value {
        match params {
            Value::Object(o) => {
                Value::Object(o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            other => other.clone(),
        }
    }
}

/// The schema of a report's `params` for `kind`: the endpoint's query parameters (from the
/// same declaration as the endpoint's), each optional one nullable, and `range`.
pub fn params_schema(kind: Kind) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::RefOr;
    use utoipa::openapi::Required;
    use utoipa::IntoParams;
    let parameters = match kind {
        Kind::Funnel => FunnelQuery::into_params(|| Some(ParameterIn::Query)),
        Kind::Segments => SegmentsQuery::into_params(|| Some(ParameterIn::Query)),
        Kind::Rfm => RfmQuery::into_params(|| Some(ParameterIn::Query)),
        Kind::Cohorts => CohortsQuery::into_params(|| Some(ParameterIn::Query)),
        Kind::Interactions => SeriesQuery::into_params(|| Some(ParameterIn::Query)),
        Kind::Basket => BasketQuery::into_params(|| Some(ParameterIn::Query)),
        Kind::Support => SupportQuery::into_params(|| Some(ParameterIn::Query)),
    };
    let mut object = ObjectBuilder::new()
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
    for p in parameters {
        let Some(schema) = p.schema else { continue };
        let required = matches!(p.required, Required::True);
        let mut schema: RefOr<Schema> = if required {
            schema
        } else {
            OneOfBuilder::new().item(schema).item(ObjectBuilder::new().schema_type(Type::Null)).into()
        };
        match &mut schema {
            RefOr::T(Schema::Object(o)) => o.description = p.description,
            RefOr::T(Schema::OneOf(o)) => o.description = p.description,
            _ => {}
        }
        object = object.property(p.name.clone(), schema);
        if required {
            object = object.required(p.name);
        }
    }
    let ranges: Vec<&str> = Range::ALL.iter().map(|r| r.as_str()).collect();
    let range = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(ranges)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "A window relative to the day of the run, in the workspace's time zone (instead of a fixed one).",
        ));
    object.property(RANGE, range).build()
}

impl Params {
    /// Reads the endpoint's parameters from a JSON object, into the endpoint's own query type
    /// and through its own `parse`.
    fn read(kind: Kind, query: Value) -> Result<Params, Vec<FieldError>> {
        use crate::domain::query::from_json;
        let one = |e: FieldError| vec![e];
        Ok(match kind {
            Kind::Funnel => {
                Params::Funnel(FunnelParams::parse(from_json::<FunnelQuery>("params", query).map_err(one)?)?)
            }
            Kind::Segments => {
                Params::Segments(SegmentsParams::parse(from_json::<SegmentsQuery>("params", query).map_err(one)?)?)
            }
            Kind::Rfm => Params::Rfm(RfmParams::parse(from_json::<RfmQuery>("params", query).map_err(one)?)?),
            Kind::Cohorts => {
                Params::Cohorts(CohortsParams::parse(from_json::<CohortsQuery>("params", query).map_err(one)?)?)
            }
            Kind::Interactions => {
                Params::Interactions(SeriesParams::parse(from_json::<SeriesQuery>("params", query).map_err(one)?)?)
            }
            Kind::Basket => {
                Params::Basket(BasketParams::parse(from_json::<BasketQuery>("params", query).map_err(one)?)?)
            }
            Kind::Support => {
                Params::Support(SupportParams::parse(from_json::<SupportQuery>("params", query).map_err(one)?)?)
            }
        })
    }

    /// The names of the window's bounds in the endpoint's parameters.
    fn window_names(&self) -> [&'static str; 2] {
        match self {
            Params::Rfm(_) => ["", "as_of"],
            _ => ["from", "to"],
        }
    }

    /// The window as given (RFM: `to` is `as_of`).
    pub fn window(&self) -> Window {
        match self {
            Params::Funnel(p) => p.window,
            Params::Segments(p) => p.window,
            Params::Rfm(p) => Window { from: None, to: p.as_of },
            Params::Cohorts(p) => p.window,
            Params::Interactions(p) => p.window,
            Params::Basket(p) => p.window,
            Params::Support(p) => p.window,
        }
    }

    /// The same parameters over another window (RFM: `as_of` is its `to`).
    pub fn with_window(mut self, window: Window) -> Params {
        match &mut self {
            Params::Funnel(p) => p.window = window,
            Params::Segments(p) => p.window = window,
            Params::Rfm(p) => p.as_of = window.to,
            Params::Cohorts(p) => p.window = window,
            Params::Interactions(p) => p.window = window,
            Params::Basket(p) => p.window = window,
            Params::Support(p) => p.window = window,
        }
        self
    }

    /// The pipeline the parameters name, if any (it must be one of the workspace's).
    pub fn pipeline_id(&self) -> Option<uuid::Uuid> {
        match self {
            Params::Funnel(p) => Some(p.pipeline_id),
            _ => None,
        }
    }

    /// Runs the endpoint: its answer, as the endpoint gives it.
    pub async fn run(&self, pool: &PgPool, ws: WorkspaceId) -> Result<Value, ApiError> {
        let answer = match self {
            Params::Funnel(p) => serde_json::to_value(p.run(pool, ws).await?),
            Params::Segments(p) => serde_json::to_value(p.run(pool, ws).await?),
            Params::Rfm(p) => serde_json::to_value(p.run(pool, ws).await?),
            Params::Cohorts(p) => serde_json::to_value(p.run(pool, ws).await?),
            Params::Interactions(p) => serde_json::to_value(p.run(pool, ws).await?),
            Params::Basket(p) => serde_json::to_value(p.run(pool, ws).await?),
            Params::Support(p) => serde_json::to_value(p.run(pool, ws).await?),
        };
        answer.map_err(|e| ApiError::internal(format!("an analytics answer could not be written: {e}")))
    }
}

/// A run's result as a table: a header and rows of JSON scalars.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

/// Where the rows of a kind's answer are: the array at `rows`, each item giving `columns`;
/// with `nested`, one row per item of that array inside each item, giving its own columns too;
/// with `totals`, a last row from the object there (its key `null`, its label `Total`).
struct Shape {
    rows: &'static str,
    columns: &'static [&'static str],
    nested: Option<(&'static str, &'static [&'static str])>,
    totals: Option<&'static str>,
}

/// The columns of a support report: a group's key, label and figures.
const SUPPORT_COLUMNS: &[&str] = &[
    "key",
    "label",
    "created",
    "solved",
    "reopened",
    "backlog",
    "first_responses",
    "first_response_median_business_minutes",
    "first_response_p90_business_minutes",
    "first_response_median_minutes",
    "first_response_p90_minutes",
    "resolution_median_business_minutes",
    "resolution_p90_business_minutes",
    "resolution_median_minutes",
    "resolution_p90_minutes",
    "first_response_targets",
    "first_response_met",
    "first_response_attainment",
    "resolution_targets",
    "resolution_met",
    "resolution_attainment",
    "satisfaction_good",
    "satisfaction_bad",
    "satisfaction_score",
];

fn shape(kind: Kind, result: &Value) -> Shape {
    match kind {
        Kind::Funnel => Shape {
            rows: "stages",
            columns: &[
                "stage_id",
                "name",
                "position",
                "reached",
                "reached_amount_cents",
                "current",
                "conversion_from_previous",
                "conversion_from_first",
                "median_hours_in_stage",
            ],
            nested: None,
            totals: None,
        },
        Kind::Segments => Shape {
            rows: "groups",
            columns: &["key", "label", "customers", "active_customers", "interactions", "purchases", "revenue_cents"],
            nested: None,
            totals: None,
        },
        // One customer's scores (`customer_id` given): a table of one row.
        Kind::Rfm if result.get("customer_id").is_some() => Shape {
            rows: "",
            columns: &["customer_id", "recency_days", "frequency", "monetary_cents", "r", "f", "m", "segment"],
            nested: None,
            totals: None,
        },
        Kind::Rfm => {
            Shape { rows: "segments", columns: &["segment", "customers", "revenue_cents"], nested: None, totals: None }
        }
        Kind::Cohorts => Shape {
            rows: "cohorts",
            columns: &["cohort", "size"],
            nested: Some(("retention", &["offset", "active", "rate"])),
            totals: None,
        },
        Kind::Interactions => Shape {
            rows: "series",
            columns: &["group", "label"],
            nested: Some(("points", &["bucket", "count", "value_cents"])),
            totals: None,
        },
        Kind::Basket => Shape {
            rows: "pairs",
            columns: &["a", "b", "count", "support", "confidence_a_b", "confidence_b_a", "lift"],
            nested: None,
            totals: None,
        },
        Kind::Support => Shape { rows: "groups", columns: SUPPORT_COLUMNS, nested: None, totals: Some("totals") },
    }
}

/// The table of a run's result: one row per funnel stage, segment group, RFM segment (or the
/// one customer), cohort × offset, series group × bucket, basket pair, or support group (and
/// the support totals).
pub fn table(kind: Kind, result: &Value) -> Table {
    let shape = shape(kind, result);
    let items: Vec<&Value> = if shape.rows.is_empty() {
        vec![result]
    } else {
        result.get(shape.rows).and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
    };
    let pick = |item: &Value, columns: &[&str]| -> Vec<Value> {
        columns.iter().map(|c| item.get(*c).cloned().unwrap_or(Value::Null)).collect()
    };
    let mut header = shape.columns.to_vec();
    let mut rows = Vec::new();
    match shape.nested {
        None => rows.extend(items.iter().map(|item| pick(item, shape.columns))),
        Some((inner, columns)) => {
            header.extend_from_slice(columns);
            for item in items {
                let outer = pick(item, shape.columns);
                for sub in item.get(inner).and_then(Value::as_array).into_iter().flatten() {
                    rows.push(outer.iter().cloned().chain(pick(sub, columns)).collect());
                }
            }
        }
    }
    if let Some(totals) = shape.totals.and_then(|t| result.get(t)) {
        let mut total = totals.clone();
        total["key"] = Value::Null;
        total["label"] = Value::from("Total");
        rows.push(pick(&total, shape.columns));
    }
    Table { header, rows }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn params_are_read_by_the_endpoints_own_code() {
        let pipeline = uuid::Uuid::now_v7();
        let saved = Saved::parse(Kind::Funnel, &json!({"pipeline_id": pipeline, "from": "2026-01-01"})).unwrap();
        assert_eq!(saved.params.pipeline_id(), Some(pipeline));
        assert_eq!(saved.range, None);
        let saved =
            Saved::parse(Kind::Basket, &json!({"min_support": 0.05, "limit": 10, "range": "previous_month"})).unwrap();
        assert_eq!(saved.range, Some(Range::PreviousMonth));
        // `10.0` is an integer to JSON Schema, so to a report too.
        assert!(Saved::parse(Kind::Basket, &json!({"limit": 10.0})).is_ok());
        let fields = |kind, params| -> Vec<String> {
            Saved::parse(kind, &params).unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(Kind::Funnel, json!({})), ["params.pipeline_id"]);
        assert_eq!(fields(Kind::Basket, json!({"limit": "10"})), ["params.limit"], "a number is a JSON number");
        assert_eq!(fields(Kind::Segments, json!({"dimension": "planet"})), ["params.dimension"]);
        assert_eq!(fields(Kind::Cohorts, json!({"period": "year"})), ["params.period"]);
        assert_eq!(fields(Kind::Interactions, json!({"colour": "red"})), ["params.colour"]);
        assert_eq!(fields(Kind::Basket, json!({"limit": 0})), ["params.limit"]);
        assert_eq!(fields(Kind::Rfm, json!({"as_of": "yesterday"})), ["params.as_of"]);
        assert_eq!(fields(Kind::Rfm, json!({"as_of": "2026-01-01", "range": "last_7_days"})), ["params.as_of"]);
        assert_eq!(fields(Kind::Cohorts, json!({"range": "last_year"})), ["params.range"]);
        assert_eq!(fields(Kind::Cohorts, json!({"from": ["2026-01-01"]})), ["params.from"]);
        assert_eq!(fields(Kind::Cohorts, json!([])), ["params"]);
    }

    #[test]
    fn nested_results_give_a_row_per_inner_item() {
        let result = json!({"cohorts": [
            {"cohort": "2026-09-01", "size": 2, "retention": [{"offset": 0, "active": 2, "rate": 1.0}, {"offset": 1, "active": 1, "rate": 0.5}]},
            {"cohort": "2026-10-01", "size": 1, "retention": [{"offset": 0, "active": 1, "rate": 1.0}]}]});
        let t = table(Kind::Cohorts, &result);
        assert_eq!(t.header, ["cohort", "size", "offset", "active", "rate"]);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.rows[1], [json!("2026-09-01"), json!(2), json!(1), json!(1), json!(0.5)]);
        let one = table(Kind::Rfm, &json!({"customer_id": "x", "r": 5}));
        assert_eq!(one.rows.len(), 1);
    }
}
