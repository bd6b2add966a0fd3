//! The query of `GET /customers` and of the export: filters (`tag` repeats, custom fields are
//! open-ended: `attr[<key>]` or `attr.<key>`), order and page.

use uuid::Uuid;

use crate::app::customers::CustomerFilter;
use crate::db::customers::CustomerSort;
use crate::domain;
use crate::error::ApiError;
use crate::http::extract::bound;
use crate::http::MAX_LIMIT;

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
    /// Custom fields, each equal to its text (`attr[plan]=pro&attr[source]=webinar`: all must
    /// match; a field holding a number or a boolean matches its JSON text, `40`, `true`).
    /// `attr.plan=pro` is the same filter. (Declared a `deepObject` by `openapi::polish`.)
    #[param(schema_with = crate::http::doc::schemas::attribute_filter)]
    attr: Option<std::collections::HashMap<String, String>>,
}

/// The custom field a query key filters on: `attr[<key>]` or `attr.<key>`.
fn attribute_key(key: &str) -> Option<&str> {
    key.strip_prefix("attr.")
        .or_else(|| key.strip_prefix("attr[").and_then(|k| k.strip_suffix(']')))
        .filter(|k| !k.is_empty())
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
    pub filter: CustomerFilter,
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
            let repeatable = key == "tag" || attribute_key(&key).is_some();
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
                "q" => q.filter.filter.q = Some(text(200)?),
                "email" => q.filter.filter.email = Some(text(254)?),
                "tag" => q.filter.filter.tags.push(text(64)?),
                "country" => {
                    // A filter: any two capitals (a code no customer has matches none).
                    if value.len() != 2 || !value.chars().all(|c| c.is_ascii_uppercase()) {
                        return Err(ApiError::malformed_field("country", "must be two capital letters, such as FR"));
                    }
                    q.filter.filter.country = Some(value.clone());
                }
                "owner_id" => {
                    q.filter.filter.owner_id = Some(
                        Uuid::try_parse(&value)
                            .map_err(|_| ApiError::malformed_field("owner_id", crate::domain::query::NOT_AN_ID))?,
                    )
                }
                "created_after" => q.filter.created_after = Some(bound(&key, &value)?),
                "created_before" => q.filter.created_before = Some(bound(&key, &value)?),
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
                k if attribute_key(k).is_some() => {
                    let name = domain::text(&key, attribute_key(k).unwrap_or_default(), 1, 200)
                        .map_err(|e| ApiError::malformed_field(e.field, format!("(its key) {}", e.message)))?;
                    let v = domain::text(&key, &value, 0, 1000)
                        .map_err(|e| ApiError::malformed_field(e.field, e.message))?;
                    q.filter.filter.attributes.push((name, v));
                }
                other => return Err(ApiError::malformed_field(other, "is not a filter of this list")),
            }
        }
        // Without a search text there is nothing to rank: the default order applies.
        if q.sort == Some(CustomerSort::Relevance) && q.filter.filter.q.is_none() {
            q.sort = None;
        }
        Ok(q)
    }

    /// The cursor namespace: the order, and for relevance the query it ranks by.
    pub fn sort_key(&self) -> String {
        match (self.sort, &self.filter.filter.q) {
            (Some(CustomerSort::Relevance), Some(q)) => format!("customers:relevance:{}", q.to_lowercase()),
            (Some(s), _) => format!("customers:{}", s.as_str()),
            (None, _) => "customers:-created_at".into(),
        }
    }
}
