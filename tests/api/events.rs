//! The event log: every state-changing operation of the OpenAPI document, called once, records
//! exactly the events it declares (`x-events`), with its actor and request id; a call that
//! fails records none; a poller never misses an event, whatever order transactions commit in;
//! erasure leaves nothing personal in the log.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// The events written after `cursor`, and the cursor to poll from next.
async fn events_after(app: &TestApp, token: &str, cursor: Option<&str>) -> (Vec<Value>, String) {
    let path = match cursor {
        Some(c) => format!("/api/v1/events?limit=200&after={c}"),
        None => "/api/v1/events?limit=200".into(),
    };
    let res = app.get(&path, token).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    (page["data"].as_array().unwrap().clone(), page["next_cursor"].as_str().unwrap().to_owned())
}

/// At least `want` events from `cursor` on (more if they come in the same pages), following
/// `next_cursor`. The feed shows an event once every transaction older than its own has ended
/// (in the whole PostgreSQL cluster: other tests run beside this one), so this polls.
async fn drain(app: &TestApp, token: &str, cursor: &str, want: usize) -> (Vec<Value>, String) {
    let mut all = Vec::new();
    let mut cursor = cursor.to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (page, next) = events_after(app, token, Some(&cursor)).await;
        cursor = next;
        let empty = page.is_empty();
        all.extend(page);
        if empty && all.len() >= want {
            return (all, cursor);
        }
        assert!(std::time::Instant::now() < deadline, "only {} of {want} events came", all.len());
        if empty {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The types of the events a request recorded, as committed (exact, whatever the feed shows).
async fn recorded(app: &TestApp, request_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM events WHERE request_id = $1 ORDER BY txid, seq")
        .bind(request_id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// A cursor past every event committed so far (once the feed shows them all).
async fn caught_up(app: &TestApp, token: &str) -> String {
    let ws: uuid::Uuid = sqlx::query_scalar("SELECT workspace_id FROM users WHERE email = $1")
        .bind(OWNER_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE workspace_id = $1")
        .bind(ws)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    drain(app, token, "", total as usize).await.1
}

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&app.pool).await.unwrap()
}

struct Call {
    method: Method,
    /// The documented path, as the spec names it.
    template: &'static str,
    path: String,
    body: Option<Value>,
    content_type: &'static str,
}

fn call(method: Method, template: &'static str, path: String, body: Option<Value>) -> Call {
    Call { method, template, path, body, content_type: "application/json" }
}

async fn send(app: &TestApp, token: Option<&str>, c: &Call, request_id: &str) -> reqwest::Response {
    let mut req = app.client.request(c.method.clone(), app.url(&c.path)).header("x-request-id", request_id);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = &c.body {
        req = match b {
            Value::String(text) => req.header("content-type", c.content_type).body(text.clone()),
            other => req.header("content-type", c.content_type).body(other.to_string()),
        };
    }
    req.send().await.unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_state_changing_operation_records_exactly_its_documented_events() {
    let app = spawn_app().await;
    let pair = app.tokens(OWNER_EMAIL, OWNER_PASSWORD).await;
    let owner = pair["access_token"].as_str().unwrap().to_owned();
    let me: Value = app.get("/api/v1/me", &owner).await.json().await.unwrap();
    let owner_id = me["user"]["id"].as_str().unwrap().to_owned();
    let spec: Value = app.request(Method::GET, "/api-docs/openapi.json", None, None).await.json().await.unwrap();

    // What the calls work on.
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Fixture"})).await.json().await.unwrap();
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let channel = id(&channels["data"][0]);
    let pipelines: Value = app.get("/api/v1/pipelines", &owner).await.json().await.unwrap();
    let sales = id(&pipelines["data"][0]);
    let first_stage = id(&pipelines["data"][0]["stages"][0]);
    let (_, member) = app.user_token(&owner, "member").await;
    let member_id = id(&member);
    let cid = id(&customer);
    let interaction = json!({"customer_id": cid, "channel_id": channel, "direction": "inbound", "kind": "call"});
    let (case_customer, case_channel) = (cid.clone(), channel.clone());

    // The calls, in an order where each finds what it needs; ids made by earlier calls are
    // filled in from their answers.
    let mut made: BTreeMap<&str, String> = BTreeMap::new();
    type MakeCall = Box<dyn Fn(&BTreeMap<&str, String>) -> Call>;
    let plan: Vec<(&str, MakeCall)> = vec![
        (
            "channel",
            Box::new(|_| {
                call(
                    Method::POST,
                    "/api/v1/channels",
                    "/api/v1/channels".into(),
                    Some(json!({"kind": "other", "name": "Fax two"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/channels/{id}",
                    format!("/api/v1/channels/{}", m["channel"]),
                    Some(json!({"name": "Fax 2"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(Method::DELETE, "/api/v1/channels/{id}", format!("/api/v1/channels/{}", m["channel"]), None)
            }),
        ),
        (
            "customer",
            Box::new(|_| {
                call(
                    Method::POST,
                    "/api/v1/customers",
                    "/api/v1/customers".into(),
                    Some(json!({"name": "Ann Example"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/customers/{id}",
                    format!("/api/v1/customers/{}", m["customer"]),
                    Some(json!({"city": "Lyon"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(Method::DELETE, "/api/v1/customers/{id}", format!("/api/v1/customers/{}", m["customer"]), None)
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::POST,
                    "/api/v1/customers/{id}/restore",
                    format!("/api/v1/customers/{}/restore", m["customer"]),
                    Some(json!({})),
                )
            }),
        ),
        (
            "",
            Box::new(|_| Call {
                method: Method::POST,
                template: "/api/v1/customers/import",
                path: "/api/v1/customers/import".into(),
                body: Some(Value::String("name,email\nImported One,imported@example.org\n".into())),
                content_type: "text/csv",
            }),
        ),
        (
            "interaction",
            Box::new({
                let i = interaction.clone();
                move |_| call(Method::POST, "/api/v1/interactions", "/api/v1/interactions".into(), Some(i.clone()))
            }),
        ),
        (
            "",
            Box::new({
                let i = interaction.clone();
                move |_| {
                    call(
                        Method::POST,
                        "/api/v1/interactions/batch",
                        "/api/v1/interactions/batch".into(),
                        Some(json!({"items": [i.clone()]})),
                    )
                }
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/interactions/{id}",
                    format!("/api/v1/interactions/{}", m["interaction"]),
                    Some(json!({"subject": "Follow-up"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::DELETE,
                    "/api/v1/interactions/{id}",
                    format!("/api/v1/interactions/{}", m["interaction"]),
                    None,
                )
            }),
        ),
        (
            "pipeline",
            Box::new(|_| {
                call(Method::POST, "/api/v1/pipelines", "/api/v1/pipelines".into(), Some(json!({"name": "Renewals"})))
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/pipelines/{id}",
                    format!("/api/v1/pipelines/{}", m["pipeline"]),
                    Some(json!({"name": "Renewals 2027"})),
                )
            }),
        ),
        (
            "stage",
            Box::new(|m| {
                call(
                    Method::POST,
                    "/api/v1/pipelines/{id}/stages",
                    format!("/api/v1/pipelines/{}/stages", m["pipeline"]),
                    Some(json!({"name": "Demo", "kind": "open"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/pipelines/{id}/stages/{stage_id}",
                    format!("/api/v1/pipelines/{}/stages/{}", m["pipeline"], m["stage"]),
                    Some(json!({"probability": 40})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PUT,
                    "/api/v1/pipelines/{id}/stages/order",
                    format!("/api/v1/pipelines/{}/stages/order", m["pipeline"]),
                    Some(json!({"stage_ids": serde_json::from_str::<Value>(&m["order"]).unwrap()})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::DELETE,
                    "/api/v1/pipelines/{id}/stages/{stage_id}",
                    format!("/api/v1/pipelines/{}/stages/{}", m["pipeline"], m["stage"]),
                    None,
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(Method::DELETE, "/api/v1/pipelines/{id}", format!("/api/v1/pipelines/{}", m["pipeline"]), None)
            }),
        ),
        (
            "deal",
            Box::new({
                let (sales, cid) = (sales.clone(), cid.clone());
                move |_| {
                    call(
                        Method::POST,
                        "/api/v1/deals",
                        "/api/v1/deals".into(),
                        Some(json!({"pipeline_id": sales, "customer_id": cid, "title": "Fixture deal"})),
                    )
                }
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/deals/{id}",
                    format!("/api/v1/deals/{}", m["deal"]),
                    Some(json!({"amount_cents": 1200})),
                )
            }),
        ),
        ("", Box::new(|m| call(Method::DELETE, "/api/v1/deals/{id}", format!("/api/v1/deals/{}", m["deal"]), None))),
        (
            "user",
            Box::new(|_| {
                call(
                    Method::POST,
                    "/api/v1/users",
                    "/api/v1/users".into(),
                    Some(
                        json!({"email": "events@rapport.test", "name": "Ev", "password": "password-123", "role": "viewer"}),
                    ),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/users/{id}",
                    format!("/api/v1/users/{}", m["user"]),
                    Some(json!({"name": "Eve"})),
                )
            }),
        ),
        ("", Box::new(|m| call(Method::DELETE, "/api/v1/users/{id}", format!("/api/v1/users/{}", m["user"]), None))),
        (
            "token",
            Box::new(|_| {
                call(
                    Method::POST,
                    "/api/v1/api-tokens",
                    "/api/v1/api-tokens".into(),
                    Some(json!({"name": "sync", "role": "viewer"})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(Method::DELETE, "/api/v1/api-tokens/{id}", format!("/api/v1/api-tokens/{}", m["token"]), None)
            }),
        ),
        (
            "",
            Box::new(|_| {
                call(
                    Method::PATCH,
                    "/api/v1/workspace",
                    "/api/v1/workspace".into(),
                    Some(json!({"name": "Renamed workspace"})),
                )
            }),
        ),
        (
            "report",
            Box::new(|_| {
                call(
                    Method::POST,
                    "/api/v1/reports",
                    "/api/v1/reports".into(),
                    Some(json!({"name": "Segments", "kind": "segments", "params": {"dimension": "country"}})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::PATCH,
                    "/api/v1/reports/{id}",
                    format!("/api/v1/reports/{}", m["report"]),
                    Some(json!({"schedule": {"every": "day"}})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(
                    Method::POST,
                    "/api/v1/reports/{id}/runs",
                    format!("/api/v1/reports/{}/runs", m["report"]),
                    Some(json!({})),
                )
            }),
        ),
        (
            "",
            Box::new(|m| {
                call(Method::DELETE, "/api/v1/reports/{id}", format!("/api/v1/reports/{}", m["report"]), None)
            }),
        ),
        (
            "",
            Box::new(|_| {
                let hours = json!({"intervals": [{"weekday": 1, "start": "09:00", "end": "17:00"}], "holidays": ["2026-12-25"]});
                call(
                    Method::PUT,
                    "/api/v1/workspace/business-hours",
                    "/api/v1/workspace/business-hours".into(),
                    Some(hours),
                )
            }),
        ),
        (
            "policy",
            Box::new(|_| {
                let policy =
                    json!({"name": "P", "targets": {"high": {"first_response_minutes": 30, "resolution_minutes": 60}}});
                call(Method::POST, "/api/v1/sla-policies", "/api/v1/sla-policies".into(), Some(policy))
            }),
        ),
        (
            "",
            Box::new(|m| {
                let path = format!("/api/v1/sla-policies/{}", m["policy"]);
                call(Method::PATCH, "/api/v1/sla-policies/{id}", path, Some(json!({"name": "Q"})))
            }),
        ),
        (
            "",
            Box::new(|m| {
                let path = format!("/api/v1/sla-policies/{}", m["policy"]);
                call(Method::DELETE, "/api/v1/sla-policies/{id}", path, None)
            }),
        ),
        (
            "case",
            Box::new(move |_| {
                let body = json!({"customer_id": case_customer, "channel_id": case_channel, "subject": "Help"});
                call(Method::POST, "/api/v1/cases", "/api/v1/cases".into(), Some(body))
            }),
        ),
        (
            "",
            Box::new(|m| {
                let path = format!("/api/v1/cases/{}", m["case"]);
                call(Method::PATCH, "/api/v1/cases/{id}", path, Some(json!({"status": "open"})))
            }),
        ),
        (
            "",
            Box::new(|m| {
                let path = format!("/api/v1/cases/{}", m["case"]);
                call(Method::DELETE, "/api/v1/cases/{id}", path, None)
            }),
        ),
    ];
    let _ = (&first_stage, &member_id);

    // Every state-changing operation of the document is called (the sessions' and sign-up's
    // below); a new one without a call here fails this test.
    let mut documented: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["post", "patch", "put", "delete"].contains(&method.as_str()) {
                let events: Vec<String> = serde_json::from_value(op["x-events"].clone())
                    .unwrap_or_else(|_| panic!("{method} {path} declares no x-events"));
                documented.insert((method.to_uppercase(), path.clone()), events);
            }
        }
    }
    let mut called: HashSet<(String, String)> = HashSet::new();

    let mut cursor = caught_up(&app, &owner).await;
    for (n, (name, make)) in plan.iter().enumerate() {
        let c = make(&made);
        let key = (c.method.to_string(), c.template.to_owned());
        let expected = documented.get(&key).unwrap_or_else(|| panic!("{key:?} is not in the document")).clone();
        called.insert(key.clone());
        let request_id = format!("events-test-{n}");
        let res = send(&app, Some(&owner), &c, &request_id).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{key:?}: {status} {text}");
        if !name.is_empty() {
            let body: Value = serde_json::from_str(&text).unwrap();
            let made_id = match *name {
                "stage" => id(body["stages"].as_array().unwrap().iter().find(|s| s["name"] == "Demo").unwrap()),
                _ => id(&body),
            };
            made.insert(name, made_id);
            if *name == "stage" {
                let mut order: Vec<String> = body["stages"].as_array().unwrap().iter().map(id).collect();
                order.reverse();
                made.insert("order", serde_json::to_string(&order).unwrap());
            }
        }
        assert_eq!(recorded(&app, &request_id).await, expected, "{key:?}");
        let (events, next) = drain(&app, &owner, &cursor, expected.len()).await;
        cursor = next;
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, expected, "{key:?}: the feed shows what was recorded");
        for e in &events {
            assert_eq!(e["request_id"], request_id.as_str(), "{key:?}: {e}");
            assert_eq!(e["actor"], json!({"type": "user", "id": owner_id}), "{key:?}: {e}");
            assert_eq!(e["resource"], e["type"].as_str().unwrap().split('.').next().unwrap());
            assert!(e["data"]["id"].is_string(), "{e}");
        }
        // The data of the event about the resource the call answers is that resource, as the
        // API shows it.
        if let Ok(mut body) = serde_json::from_str::<Value>(&text) {
            // …but for an API token's secret, shown once and kept nowhere.
            if let Some(fields) = body.as_object_mut().filter(|_| c.template == "/api/v1/api-tokens") {
                fields.remove("token");
            }
            for e in events.iter().filter(|e| e["resource_id"] == body["id"] && body["id"].is_string()) {
                assert_eq!(e["data"], body, "{key:?}: the event's data is the resource answered");
            }
        }
    }

    // Sessions record nothing; sign-up starts the new workspace's own log.
    let before = event_count(&app).await;
    for (path, body) in [
        ("/api/v1/auth/refresh", json!({"refresh_token": pair["refresh_token"]})),
        ("/api/v1/auth/login", json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD})),
    ] {
        let c = call(Method::POST, "", path.into(), Some(body));
        assert_eq!(send(&app, None, &c, "session").await.status(), 200);
        called.insert(("POST".into(), path.into()));
    }
    let fresh = app.tokens(OWNER_EMAIL, OWNER_PASSWORD).await;
    let logout =
        call(Method::POST, "", "/api/v1/auth/logout".into(), Some(json!({"refresh_token": fresh["refresh_token"]})));
    assert_eq!(send(&app, None, &logout, "session").await.status(), 204);
    called.insert(("POST".into(), "/api/v1/auth/logout".into()));
    assert_eq!(event_count(&app).await, before, "sessions record nothing");
    let signup = call(
        Method::POST,
        "",
        "/api/v1/workspaces".into(),
        Some(
            json!({"workspace_name": "Elsewhere", "email": "else@rapport.test", "password": "password-123", "name": "Else"}),
        ),
    );
    let res = send(&app, None, &signup, "signup").await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    called.insert(("POST".into(), "/api/v1/workspaces".into()));
    let theirs = created["tokens"]["access_token"].as_str().unwrap();
    let expected = &documented[&("POST".to_owned(), "/api/v1/workspaces".to_owned())];
    assert_eq!(&recorded(&app, "signup").await, expected);
    let (events, _) = drain(&app, theirs, "", expected.len()).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(&types, expected);
    assert_eq!(events[1]["actor"]["id"], created["user"]["id"]);
    let mine: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE request_id = 'signup' AND workspace_id <> $1::uuid")
            .bind(created["workspace"]["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(mine, 0, "another workspace's events are not ours");

    let missing: Vec<_> = documented.keys().filter(|k| !called.contains(*k)).collect();
    assert!(missing.is_empty(), "state-changing operations not called: {missing:?}");
}

#[tokio::test]
async fn failed_writes_record_nothing() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (viewer, _) = app.user_token(&owner, "viewer").await;
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Kept"})).await.json().await.unwrap();
    let before = event_count(&app).await;
    let path = format!("/api/v1/customers/{}", id(&customer));
    for (res, status) in [
        (app.post("/api/v1/customers", &owner, json!({"name": ""})).await, 422),
        (app.post("/api/v1/customers", &viewer, json!({"name": "Nope"})).await, 403),
        (app.patch(&path, &owner, json!({"country": "XX"})).await, 422),
        (app.post("/api/v1/interactions", &owner, json!({"customer_id": id(&customer), "channel_id": uuid::Uuid::now_v7(), "direction": "inbound", "kind": "call"})).await, 422),
        (app.patch(&path, &owner, json!({"name": "Kept"})).await, 200),
    ] {
        assert_eq!(res.status().as_u16(), status);
    }
    let stale = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .header("if-match", "\"7\"")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(event_count(&app).await, before, "refused or empty changes recorded events");

    // Two requests racing with one Idempotency-Key: one write commits, the other leaves
    // nothing (its transaction, events included, rolls back).
    let body = json!({"name": "Once", "email": "once@example.org"});
    let send = || {
        app.client
            .post(app.url("/api/v1/customers"))
            .bearer_auth(&owner)
            .header("idempotency-key", "race-1")
            .json(&body)
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    assert!(statuses.contains(&201), "{statuses:?}");
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE type = 'customer.created'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(created, 2, "Kept and Once, once: {statuses:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM customers WHERE email = 'once@example.org'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// Writers commit concurrently while a transaction that wrote an event earlier stays open; a
/// poller that always passes the last cursor sees every event exactly once.
#[tokio::test]
async fn a_poller_never_misses_an_event_committed_late() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let start = caught_up(&app, &owner).await;
    let ws: uuid::Uuid = sqlx::query_scalar("SELECT id FROM workspaces").fetch_one(&app.pool).await.unwrap();

    // A slow transaction: it writes its event first (a smaller sequence than everything after)
    // and commits last.
    let mut slow = app.pool.begin().await.unwrap();
    let late_id = uuid::Uuid::now_v7();
    let who = rapport::db::events::EventActor { type_: rapport::db::events::ActorType::System, id: None };
    rapport::db::events::append(
        &mut slow,
        rapport::domain::WorkspaceId(ws),
        &rapport::db::events::Origin { actor: who, request_id: Some("slow") },
        &[rapport::db::events::NewEvent {
            kind: rapport::domain::events::EventType::CustomerUpdated,
            resource_id: late_id,
            customer_id: Some(late_id),
            data: json!({"id": late_id}),
        }],
    )
    .await
    .unwrap();

    let poller = {
        let (client, url, token, start) =
            (app.client.clone(), app.url("/api/v1/events?limit=7"), owner.clone(), start.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen: Vec<String> = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while tokio::time::Instant::now() < deadline {
                let page: Value = client
                    .get(format!("{url}&after={cursor}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                cursor = page["next_cursor"].as_str().unwrap().to_owned();
                let ids: Vec<String> = page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["resource_id"].as_str().unwrap().to_owned())
                    .collect();
                seen.extend(ids);
                if seen.len() >= 61 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    let mut writers = Vec::new();
    for w in 0..6 {
        let (client, url, token) = (app.client.clone(), app.url("/api/v1/customers"), owner.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("W{w}-{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                let c: Value = res.json().await.unwrap();
                ids.push(c["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut written: Vec<String> = Vec::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    // Everything else committed while the slow transaction held back the feed: commit it now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.commit().await.unwrap();
    written.push(late_id.to_string());
    let seen = poller.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was returned twice");
    let expected: HashSet<&String> = written.iter().collect();
    assert_eq!(unique, expected, "the poller missed events");
}

#[tokio::test]
async fn erasure_leaves_nothing_personal_in_the_log() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let personal =
        ["Zelda Unique-Name", "zelda.unique@example.org", "+44 20 7946 0001", "Secret subject", "private body"];
    let customer: Value = app
        .post(
            "/api/v1/customers",
            &owner,
            json!({"name": personal[0], "email": personal[1], "phone": personal[2], "attributes": {"note": personal[4]}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let cid = id(&customer);
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let pipelines: Value = app.get("/api/v1/pipelines", &owner).await.json().await.unwrap();
    let i = app
        .post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": cid, "channel_id": channels["data"][0]["id"], "direction": "inbound", "kind": "message",
                   "subject": personal[3], "body": personal[4]}),
        )
        .await;
    assert_eq!(i.status(), 201);
    let deal = app
        .post(
            "/api/v1/deals",
            &owner,
            json!({"pipeline_id": pipelines["data"][0]["id"], "customer_id": cid, "title": personal[0]}),
        )
        .await;
    assert_eq!(deal.status(), 201);
    assert_eq!(app.patch(&format!("/api/v1/customers/{cid}"), &owner, json!({"city": "Hyrule"})).await.status(), 200);
    assert_eq!(app.delete(&format!("/api/v1/customers/{cid}"), &owner).await.status(), 204);
    let log = sqlx::query_scalar::<_, String>("SELECT string_agg(data::text, ' ') FROM events");
    let before: String = log.fetch_one(&app.pool).await.unwrap();
    assert!(before.contains(personal[0]) && before.contains(personal[3]), "the log held them before");

    let erased = app.delete(&format!("/api/v1/customers/{cid}?erase=true"), &owner).await;
    assert_eq!(erased.status(), 204);
    let after: String =
        sqlx::query_scalar("SELECT string_agg(data::text, ' ') FROM events").fetch_one(&app.pool).await.unwrap();
    for p in personal.iter().chain(["Hyrule"].iter()) {
        assert!(!after.contains(p), "{p:?} is still in the log");
    }
    let total = event_count(&app).await as usize;
    let (events, _) = drain(&app, &owner, "", total).await;
    let tail: Vec<&str> = events.iter().rev().take(3).map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(tail, ["customer.erased", "interaction.deleted", "deal.deleted"]);
    for e in &events {
        if e["data"]["id"] == cid.as_str()
            || e["type"].as_str().unwrap().starts_with("interaction")
            || e["type"].as_str().unwrap().starts_with("deal")
        {
            assert_eq!(e["data"].as_object().unwrap().len(), 1, "only the id is left: {e}");
        }
    }
}
