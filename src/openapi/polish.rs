//! What the document says beyond what the routes declare, applied to the whole document once
//! the paths are collected: rules that hold for every operation, stated here once instead of
//! on each of them.
//!
//! - `servers`, and the bearer scheme's description (how to get a token);
//! - page schemas (`Page_<Item>`) give their items by reference to `<Item>`;
//! - open JSON objects (custom fields, metadata, config, report params) say
//!   `additionalProperties: true`, so generated clients can read and write them;
//! - every field of a response-only schema is required (`null` is a value, never an absent
//!   field), except [`MAY_BE_ABSENT`];
//! - a query parameter whose value is an object (the custom-field filter `attr`) is sent as a
//!   `deepObject` (`attr[plan]=pro`), the one style that carries a map;
//! - an operation that takes `Idempotency-Key` documents the `409` a key reused with another
//!   request gets;
//! - a heavy operation (`http::heavy`) may answer `503` when the bulkhead is full;
//! - every `/api/` operation may answer `429` (the rate limit, `http::rate_limit`), with
//!   `Retry-After`, `RateLimit-Policy` and `RateLimit`; the API's description says that every
//!   `/api/` response carries the last two while the limit is on;
//! - every problem response has an example of its own status and `code`, made by the
//!   `ApiError` that answers it;
//! - examples for parameters, request bodies and responses ([`super::examples`]);
//! - schemas nothing refers to are dropped.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::examples;

/// Response fields that are left out rather than `null` (`skip_serializing_if`).
const MAY_BE_ABSENT: &[(&str, &str)] =
    &[("Problem", "errors"), ("Problem", "request_id"), ("Schedule", "weekday"), ("Schedule", "day")];

/// The document, polished (see the module's documentation).
pub fn polish(doc: &mut Value) {
    info(doc);
    page_items_by_reference(doc);
    open_objects(doc);
    required_response_fields(doc);
    idempotency_conflicts(doc);
    rate_limits(doc);
    problem_examples(doc);
    deep_object_parameters(doc);
    examples::apply(doc);
    drop_unused_schemas(doc);
}

const AUTH: &str = "A JWT. Get one from `POST /api/v1/auth/login` with your email and password \
(in the demo, `demo@rapport.local` / `demo-password`): its `access_token` lasts 15 minutes; \
exchange the `refresh_token` at `POST /api/v1/auth/refresh` for a new pair. Scripts use an API \
token (`POST /api/v1/api-tokens`, or `rapport token`). In Swagger UI, paste the token alone into \
**Authorize** (not `Bearer …`: the prefix is added for you).";

fn info(doc: &mut Value) {
    doc["servers"] = json!([{"url": "/", "description": "This Rapport server"}]);
    if let Some(bearer) = doc.pointer_mut("/components/securitySchemes/bearer") {
        bearer["description"] = json!(AUTH);
    }
}

fn schemas(doc: &mut Value) -> &mut Map<String, Value> {
    match doc.pointer_mut("/components/schemas") {
        Some(Value::Object(map)) => map,
        _ => unreachable!("the document has components"),
    }
}

fn page_items_by_reference(doc: &mut Value) {
    let schemas = schemas(doc);
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else { continue };
        if schemas.contains_key(item) {
            let reference = json!({"$ref": format!("#/components/schemas/{item}")});
            if let Some(items) = schemas[&name].pointer_mut("/properties/data/items") {
                *items = reference;
            }
        }
    }
}

fn is_object_type(node: &Map<String, Value>) -> bool {
    match node.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => false,
    }
}

fn open_objects(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let empty = map.get("properties").is_none_or(|p| p.as_object().is_some_and(Map::is_empty));
            if is_object_type(map) && empty && !map.contains_key("additionalProperties") && !map.contains_key("oneOf") {
                map.insert("additionalProperties".into(), Value::Bool(true));
            }
            map.values_mut().for_each(open_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(open_objects),
        _ => {}
    }
}

fn references(node: &Value, found: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    found.insert(name.to_owned());
                }
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// The schemas `roots` name, and those they name, to the end.
fn closure(doc: &Value, roots: BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = roots.clone();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        let mut found = BTreeSet::new();
        if let Some(schema) = doc.pointer(&format!("/components/schemas/{name}")) {
            references(schema, &mut found);
        }
        for f in found {
            if seen.insert(f.clone()) {
                todo.push(f);
            }
        }
    }
    seen
}

fn operations(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["paths"].as_object().into_iter().flat_map(|paths| paths.values()).flat_map(|item| {
        item.as_object().into_iter().flat_map(|ops| ops.iter().filter(|(m, _)| is_method(m)).map(|(_, o)| o))
    })
}

fn is_method(m: &str) -> bool {
    matches!(m, "get" | "put" | "post" | "patch" | "delete")
}

/// (schemas requests name, schemas responses name), each closed over references.
fn request_and_response_schemas(doc: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut requests, mut responses) = (BTreeSet::new(), BTreeSet::new());
    for op in operations(doc) {
        references(&op["requestBody"], &mut requests);
        references(&op["parameters"], &mut requests);
        references(&op["responses"], &mut responses);
    }
    (closure(doc, requests), closure(doc, responses))
}

fn require_every_property(schema: &mut Value, name: &str) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                let required: Vec<Value> = props
                    .keys()
                    .filter(|p| !MAY_BE_ABSENT.contains(&(name, p.as_str())))
                    .map(|p| Value::String(p.clone()))
                    .collect();
                if !required.is_empty() {
                    map.insert("required".into(), Value::Array(required));
                }
            }
            for key in ["allOf", "oneOf", "anyOf"] {
                if let Some(Value::Array(parts)) = map.get_mut(key) {
                    parts.iter_mut().for_each(|p| require_every_property(p, name));
                }
            }
            if let Some(props) = map.get_mut("properties").and_then(Value::as_object_mut) {
                props.values_mut().for_each(|p| require_nested(p, name));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|p| require_every_property(p, name)),
        _ => {}
    }
}

/// Inline objects inside a response schema (array items, nested objects) follow the rule too.
fn require_nested(schema: &mut Value, name: &str) {
    if let Some(items) = schema.get_mut("items") {
        require_every_property(items, name);
    }
    if schema.get("properties").is_some() {
        require_every_property(schema, name);
    }
}

fn required_response_fields(doc: &mut Value) {
    let (requests, responses) = request_and_response_schemas(doc);
    let schemas = schemas(doc);
    for name in responses.difference(&requests) {
        if let Some(schema) = schemas.get_mut(name) {
            require_every_property(schema, name);
        }
    }
    // Inline response schemas (arrays of a component, objects declared in place).
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for (_, op) in item.iter_mut().filter(|(m, _)| is_method(m)) {
                if let Some(Value::Object(responses)) = op.get_mut("responses") {
                    for response in responses.values_mut() {
                        if let Some(Value::Object(content)) = response.get_mut("content") {
                            for media in content.values_mut() {
                                if let Some(schema) = media.get_mut("schema") {
                                    require_nested(schema, "");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn problem_examples(doc: &mut Value) {
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (_, op) in item.iter_mut().filter(|(m, _)| is_method(m)) {
            let Some(Value::Object(responses)) = op.get_mut("responses") else { continue };
            for (status, response) in responses.iter_mut() {
                let Ok(code) = status.parse::<u16>() else { continue };
                if let Some(media) = response.pointer_mut("/content/application~1problem+json") {
                    if let Some(example) = crate::http::doc::problem_example(code) {
                        media["example"] = example;
                    }
                }
            }
        }
    }
}

fn idempotency_conflicts(doc: &mut Value) {
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (_, op) in item.iter_mut().filter(|(m, _)| is_method(m)) {
            let keyed = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
            if let (true, Some(Value::Object(responses))) = (keyed, op.get_mut("responses")) {
                responses.entry("409").or_insert_with(|| {
                    json!({"description": "Conflict: among others, an Idempotency-Key reused with another request",
                           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
                });
            }
        }
    }
}

const RATE_LIMITS: &str = "\n\n## Rate limits\n\nWhen the rate limit is on (`RAPPORT_RATE_LIMIT`), each API \
token, each user (all their sessions together) and each client address without a token may make `q` requests \
to `/api/` in a window of `w` seconds; beyond, `429` with `Retry-After`. Every `/api/` response then carries \
the two fields of draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: \"principal\";q=3000;w=60` \
(the quota) and `RateLimit: \"principal\";r=2958;t=41` (`r` requests left for `t` more seconds). The limit \
holds across the server's instances (they share their counts every 200 ms).";

/// The rate limit's `429` on every `/api/` operation, with its fields (see `http::rate_limit`);
/// the API's description says that every response carries them.
fn rate_limits(doc: &mut Value) {
    if let Some(Value::String(description)) = doc.pointer_mut("/info/description") {
        if !description.ends_with(RATE_LIMITS) {
            description.push_str(RATE_LIMITS);
        }
    }
    let headers = json!({
        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 1}},
        "RateLimit-Policy": {"description": "The quota, e.g. `\"principal\";q=3000;w=60` (rate limit only).",
                             "schema": {"type": "string"}},
        "RateLimit": {"description": "What is left of it, e.g. `\"principal\";r=0;t=41` (rate limit only).",
                      "schema": {"type": "string"}},
    });
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut().filter(|(path, _)| crate::http::is_api(path)) {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut().filter(|(m, _)| is_method(m)) {
            let Some(Value::Object(responses)) = op.get_mut("responses") else { continue };
            let heavy = actix_web::http::Method::from_bytes(method.to_uppercase().as_bytes())
                .is_ok_and(|m| crate::http::heavy::is_heavy(&m, path));
            if heavy {
                responses.entry("503").or_insert_with(|| {
                    json!({"description": "Busy: heavy requests took every permit for 30 s, or the database is unreachable; see Retry-After",
                           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
                });
            }
            let limited = responses.entry("429").or_insert_with(|| {
                json!({"description": "Too many requests: the rate limit is spent until the window ends; see Retry-After",
                       "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
            });
            limited["headers"] = headers.clone();
        }
    }
}

fn deep_object_parameters(doc: &mut Value) {
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (_, op) in item.iter_mut().filter(|(m, _)| is_method(m)) {
            let Some(Value::Array(params)) = op.get_mut("parameters") else { continue };
            for p in
                params.iter_mut().filter(|p| p["in"] == "query" && p.pointer("/schema/type") == Some(&json!("object")))
            {
                p["style"] = json!("deepObject");
                p["explode"] = json!(true);
            }
        }
    }
}

fn drop_unused_schemas(doc: &mut Value) {
    let mut roots = BTreeSet::new();
    references(&doc["paths"], &mut roots);
    let used = closure(doc, roots);
    schemas(doc).retain(|name, _| used.contains(name));
}
