//! The document's examples. Every id in them is a row of the demo workspace
//! ([`crate::demo::ids`]), so that Swagger UI's "Try it out" defaults succeed against
//! `rapport serve --demo`; the responses are real answers of the demo (`responses.json`,
//! written by `tools/harvest_examples.py`), their arrays cut short.
//!
//! Parameters that have no value good for every call go without one: `cursor` and `after`
//! (opaque, signed per workspace), `If-Match` (the current `ETag`), `Idempotency-Key` (one per
//! logical request), and the upper bounds of windows (`to`, `created_before`,
//! `occurred_before`: their default is now).

use serde_json::{json, Value};

use crate::demo::{self, ids};

const RESPONSES: &str = include_str!("responses.json");

/// The example of parameter `name` of `method path`, if it has one.
fn parameter(method: &str, path: &str, name: &str) -> Option<Value> {
    let resource = path.trim_start_matches("/api/v1/").split('/').next().unwrap_or_default();
    let listing_interactions = path == "/api/v1/interactions";
    Some(match name {
        "id" => json!(match resource {
            "customers" => ids::CUSTOMER,
            "interactions" => ids::INTERACTION,
            "deals" => ids::DEAL,
            "pipelines" => ids::PIPELINE,
            "channels" => ids::EMAIL_CHANNEL,
            "users" => ids::USER,
            "api-tokens" => ids::API_TOKEN,
            "reports" => ids::REPORT,
            "cases" => ids::CASE,
            "sla-policies" => ids::SLA_POLICY,
            _ => return None,
        }),
        "stage_id" if method == "get" => json!(ids::NEGOTIATION_STAGE),
        "stage_id" => json!(ids::STAGES[2]),
        "move_to" => json!(ids::STAGES[1]),
        "run_id" => json!(ids::RUN),
        "pipeline_id" => json!(ids::PIPELINE),
        "customer_id" if resource == "analytics" => return None,
        "customer_id" => json!(ids::CUSTOMER),
        "channel_id" if listing_interactions => json!(ids::EMAIL_CHANNEL),
        "channel_id" => return None,
        "owner_id" if resource == "analytics" => return None,
        "owner_id" | "user_id" => json!(ids::USER),
        "resource_id" => json!(ids::DEAL),
        "actor_id" => json!(ids::OWNER),
        "type" => json!(["deal.*"]),
        "q" => json!("Fischer"),
        "email" => json!("lena.fischer@helios-solar.example"),
        "tag" => json!(["vip"]),
        "attr" => json!({"source": "trade fair"}),
        "country" => json!("DE"),
        "kind" => json!("message"),
        "direction" => json!("inbound"),
        "status" if resource == "cases" => json!("new"),
        "status" => json!("open"),
        "priority" => json!("high"),
        "assignee_id" => json!(ids::USER),
        "sort" if resource == "customers" => json!("name"),
        "sort" => json!("-occurred_at"),
        "erase" => json!(false),
        "from" | "created_after" | "occurred_after" => json!("2025-01-01"),
        "as_of" => return None,
        "dimension" => json!("country"),
        "period" => json!("month"),
        "bucket" => json!("week"),
        "group_by" => json!("channel"),
        "min_support" => json!(0.02),
        "limit" => json!(20),
        _ => return None,
    })
}

/// The example body of `method path`.
fn request(method: &str, path: &str) -> Option<Value> {
    let phone = ids::CHANNELS[1];
    Some(match (method, path) {
        ("post", "/api/v1/auth/login") => json!({"email": demo::EMAIL, "password": demo::PASSWORD}),
        ("post", "/api/v1/auth/refresh" | "/api/v1/auth/logout") => {
            json!({"refresh_token": "the refresh_token of POST /auth/login"})
        }
        ("post", "/api/v1/workspaces") => json!({
            "workspace_name": "Verde Agro", "currency": "BRL", "name": "Ana Souza",
            "email": "ana.souza@verde-agro.example", "password": "a long passphrase"
        }),
        ("patch", "/api/v1/workspace") => json!({"name": "Northwind Software", "timezone": "Europe/Berlin"}),
        ("post", "/api/v1/users") => json!({
            "email": "mei.chen@northwind.example", "name": "Mei Chen", "password": "a long passphrase", "role": "member"
        }),
        ("patch", "/api/v1/users/{id}") => json!({"name": "Priya Nair-Shah"}),
        ("post", "/api/v1/api-tokens") => json!({"name": "Nightly import", "role": "member", "expires_at": null}),
        ("post", "/api/v1/channels") => json!({
            "kind": "chat", "name": "WhatsApp Business", "active": true, "config": {"number": "+49 30 901820"}
        }),
        ("patch", "/api/v1/channels/{id}") => json!({"name": "Email (sales inbox)"}),
        ("post", "/api/v1/customers") => json!({
            "kind": "person", "name": "Ana Souza", "phone": "+55 11 98765 4321", "company_name": "Verde Agro S.A.", "country": "BR", "city": "São Paulo",
            "tags": ["trial", "webinar"], "attributes": {"source": "webinar", "seats": 12, "newsletter": true},
            "owner_id": ids::USER
        }),
        ("patch", "/api/v1/customers/{id}") => json!({"city": "Potsdam", "attributes": {"seats": 45}}),
        ("post", "/api/v1/interactions") => json!({
            "customer_id": ids::CUSTOMER, "channel_id": phone, "direction": "outbound", "kind": "call",
            "subject": "Pricing call: onboarding workshop", "occurred_at": "2026-11-02T14:30:00+01:00",
            "duration_seconds": 1260, "user_id": ids::USER
        }),
        ("post", "/api/v1/interactions/batch") => json!({"items": [
            {"customer_id": ids::CUSTOMER, "channel_id": ids::EMAIL_CHANNEL, "direction": "outbound", "kind": "message",
             "subject": "Revised proposal: 40 Pro seats and the workshop", "occurred_at": "2026-11-03T09:12:00Z",
             "external_id": "msg-4711", "metadata": {"thread": "T-10042"}},
            {"customer_id": ids::CUSTOMER, "channel_id": ids::CHANNELS[8], "direction": "inbound", "kind": "purchase",
             "subject": "Order at the trade fair", "occurred_at": "2026-11-04T16:00:00Z",
             "value_cents": 120000, "items": ["Onboarding workshop"]}
        ]}),
        ("patch", "/api/v1/interactions/{id}") => json!({"subject": "Re: Proposal for 40 Pro seats (answered)"}),
        ("post", "/api/v1/pipelines") => json!({"name": "Partnerships", "stages": [
            {"name": "Intro", "kind": "open", "probability": 10},
            {"name": "Pilot", "kind": "open", "probability": 50},
            {"name": "Signed", "kind": "won", "probability": 100},
            {"name": "Declined", "kind": "lost", "probability": 0}
        ]}),
        ("patch", "/api/v1/pipelines/{id}") => json!({"name": "Sales (EMEA)"}),
        ("post", "/api/v1/pipelines/{id}/stages") => {
            json!({"name": "Contract review", "kind": "open", "probability": 85, "position": 4})
        }
        ("put", "/api/v1/pipelines/{id}/stages/order") => json!({"stage_ids": ids::STAGES}),
        ("patch", "/api/v1/pipelines/{id}/stages/{stage_id}") => json!({"probability": 55}),
        ("post", "/api/v1/deals") => json!({
            "pipeline_id": ids::PIPELINE, "customer_id": ids::COMPANY, "title": "Helios Solar — onboarding workshop",
            "amount_cents": 120000, "owner_id": ids::USER, "expected_close_date": "2027-01-15"
        }),
        ("patch", "/api/v1/deals/{id}") => json!({"stage_id": ids::STAGES[4]}),
        ("post", "/api/v1/reports") => json!({
            "name": "Revenue by channel, last month", "kind": "segments",
            "params": {"dimension": "channel", "range": "previous_month"},
            "schedule": {"every": "month", "day": 1, "at": "07:00"}
        }),
        ("patch", "/api/v1/reports/{id}") => json!({"name": "Sales funnel, weekly"}),
        ("put", "/api/v1/workspace/business-hours") => json!({
            "intervals": [
                {"weekday": 1, "start": "09:00", "end": "12:30"}, {"weekday": 1, "start": "13:30", "end": "18:00"},
                {"weekday": 2, "start": "09:00", "end": "18:00"}, {"weekday": 3, "start": "09:00", "end": "18:00"},
                {"weekday": 4, "start": "09:00", "end": "18:00"}, {"weekday": 5, "start": "09:00", "end": "16:00"}
            ],
            "holidays": ["2026-12-24", "2026-12-25", "2027-01-01"]
        }),
        ("post", "/api/v1/sla-policies") => json!({
            "name": "Premium support", "business_hours": false,
            "targets": {"urgent": {"first_response_minutes": 15, "resolution_minutes": 120},
                        "high": {"first_response_minutes": 30, "resolution_minutes": 480}}
        }),
        ("patch", "/api/v1/sla-policies/{id}") => json!({"name": "Standard support (EU)"}),
        ("post", "/api/v1/cases") => json!({
            "customer_id": ids::CUSTOMER, "subject": "SSO login fails for new users", "priority": "urgent",
            "channel_id": ids::CHANNELS[2], "assignee_id": ids::USER, "tags": ["sso"], "sla_policy_id": ids::SLA_POLICY
        }),
        ("patch", "/api/v1/cases/{id}") => json!({"status": "open", "priority": "urgent"}),
        _ => return None,
    })
}

/// Examples of bodies that are not JSON, by media type.
fn text_example(media: &str, path: &str) -> Option<Value> {
    Some(json!(match (media, path) {
        ("text/csv", "/api/v1/customers/import") => {
            "name,kind,email,country,city,tags,attr.source\r\nAna Souza,person,ana.souza@verde-agro.example,BR,São Paulo,trial;webinar,webinar\r\n"
        }
        ("application/x-ndjson", "/api/v1/customers/import") => {
            "{\"name\":\"Ana Souza\",\"email\":\"ana.souza@verde-agro.example\",\"country\":\"BR\"}\n{\"name\":\"Verde Agro S.A.\",\"kind\":\"company\",\"country\":\"BR\"}\n"
        }
        ("text/csv", "/api/v1/customers/export") => {
            "id,name,kind,email,phone,company_name,country,city,tags,owner_id,created_at,updated_at,version\r\n"
        }
        ("application/x-ndjson", "/api/v1/customers/export") => {
            "{\"id\":\"01938a52-6c00-7000-8000-000000000101\",\"name\":\"Lena Fischer\",\"kind\":\"person\"}\n"
        }
        ("text/csv", _) => "stage_id,name,position,reached,reached_amount_cents,current\r\n",
        ("text/plain", _) => "# TYPE rapport_http_requests_total counter\nrapport_http_requests_total{method=\"GET\",route=\"/api/v1/customers\",status=\"200\"} 42\n",
        _ => return None,
    }))
}

/// The example of a response whose schema is `name`: a real answer of the demo; a page of
/// items gives one of them.
fn response(name: &str, demo: &Value) -> Option<Value> {
    if let Some(item) = name.strip_prefix("Page_").or((name == "EventPage").then_some("Event")) {
        return Some(json!({"data": [demo.get(item)?], "next_cursor": null}));
    }
    match name {
        "RfmAnswer" => demo.get("RfmReport").cloned(),
        "CreatedApiToken" => {
            let mut token = demo.get("ApiToken")?.clone();
            token["token"] = json!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…");
            Some(token)
        }
        "SignUpResponse" => Some(json!({
            "workspace": demo.get("Workspace")?, "user": demo.get("Me")?.get("user")?, "tokens": demo.get("TokenPair")?
        })),
        "ImportReport" => Some(json!({"created": 2, "updated": 0, "rejected": 0, "errors": [], "ignored_columns": []})),
        "BatchResponse" => Some(json!({"ids": [ids::INTERACTION, "01938b0e-2f4a-7d31-9c7e-5b2a1d3e4f50"]})),
        _ => demo.get(name).cloned(),
    }
}

/// Sets the examples: of each parameter that has none, of each request body and of each
/// successful response.
pub fn apply(doc: &mut Value) {
    let demo: Value = serde_json::from_str(RESPONSES).unwrap_or_default();
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            if let Some(Value::Array(params)) = op.get_mut("parameters") {
                for p in params.iter_mut() {
                    let name = p["name"].as_str().unwrap_or_default().to_owned();
                    if p.get("example").is_none() {
                        if let Some(example) = parameter(method, path, &name) {
                            p["example"] = example;
                        }
                    }
                }
            }
            if let Some(Value::Object(content)) = op.pointer_mut("/requestBody/content") {
                for (media, body) in content.iter_mut() {
                    let example = if media.ends_with("json") && media != "application/x-ndjson" {
                        request(method, path)
                    } else {
                        text_example(media, path)
                    };
                    if let Some(example) = example {
                        body["example"] = example;
                    }
                }
            }
            let Some(Value::Object(responses)) = op.get_mut("responses") else { continue };
            for (_, r) in responses.iter_mut().filter(|(s, _)| s.starts_with('2')) {
                let Some(Value::Object(content)) = r.get_mut("content") else { continue };
                for (media, body) in content.iter_mut() {
                    let example = match body.pointer("/schema/$ref").and_then(Value::as_str) {
                        Some(r) => response(r.trim_start_matches("#/components/schemas/"), &demo),
                        None if body.pointer("/schema/items/$ref").is_some() => {
                            let r = body.pointer("/schema/items/$ref").and_then(Value::as_str).unwrap_or_default();
                            response(r.trim_start_matches("#/components/schemas/"), &demo).map(|item| json!([item]))
                        }
                        None => text_example(media, path),
                    };
                    if let Some(example) = example {
                        body["example"] = example;
                    }
                }
            }
        }
    }
}
