//! Support rules found by trying the API as a newcomer would: what moves due times, what a
//! reply stays, what a policy or a channel may leave behind, what a follow-up may name, what
//! `due_before` lists, and the order of a case's history under concurrent changes.

use serde_json::{json, Value};

use crate::helpers::*;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// A workspace in Paris with business hours Monday to Friday 09:00–18:00, a customer, its
/// email channel and a business-hours policy: 30 minutes to the first response, 600 to the
/// solution, for every priority.
async fn setup(app: &TestApp, owner: &str) -> (Value, Value, Value) {
    json_of(app.patch("/api/v1/workspace", owner, json!({"timezone": "Europe/Paris"})).await, 200).await;
    let hours = json!({"intervals": (1..=5).map(|d| json!({"weekday": d, "start": "09:00", "end": "18:00"})).collect::<Vec<_>>()});
    json_of(app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(owner), Some(hours)).await, 200)
        .await;
    let customer = json_of(app.post("/api/v1/customers", owner, json!({"name": "Client"})).await, 201).await;
    let channels = json_of(app.get("/api/v1/channels", owner).await, 200).await;
    let target = json!({"first_response_minutes": 30, "resolution_minutes": 600});
    let targets: serde_json::Map<String, Value> =
        ["low", "normal", "high", "urgent"].iter().map(|p| (p.to_string(), target.clone())).collect();
    let policy = json!({"name": "Standard", "business_hours": true, "targets": targets});
    let policy = json_of(app.post("/api/v1/sla-policies", owner, policy).await, 201).await;
    (customer, channels["data"][0].clone(), policy)
}

async fn open(app: &TestApp, owner: &str, customer: &Value, channel: &Value, policy: &Value) -> Value {
    let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Help",
                      "sla_policy_id": policy["id"]});
    json_of(app.post("/api/v1/cases", owner, body).await, 201).await
}

/// Business hours are local times: a new time zone moves the due times counted on them.
#[tokio::test]
async fn a_new_time_zone_moves_the_due_times() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner).await;
    // Friday 17:55 in Paris: due Monday 09:25 Paris.
    app.clock.set("2026-11-27T16:55:00Z".parse().unwrap());
    let case = open(&app, &owner, &customer, &channel, &policy).await;
    assert_eq!(case["first_response_due_at"], "2026-11-30T08:25:00Z");
    // The same instant is Friday 11:55 in New York: due 12:25 there.
    json_of(app.patch("/api/v1/workspace", &owner, json!({"timezone": "America/New_York"})).await, 200).await;
    let moved = json_of(app.get(&format!("/api/v1/cases/{}", id(&case)), &owner).await, 200).await;
    assert_eq!(moved["first_response_due_at"], "2026-11-27T17:25:00Z");
    assert_eq!(moved["version"], 2);
}

/// A policy that only closed cases followed may go: they keep their due times and lose the
/// reference; one that an unclosed case follows may not.
#[tokio::test]
async fn a_policy_only_closed_cases_followed_can_be_removed() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner).await;
    let case = open(&app, &owner, &customer, &channel, &policy).await;
    let path = format!("/api/v1/cases/{}", id(&case));
    let policy_path = format!("/api/v1/sla-policies/{}", id(&policy));
    assert_problem(app.delete(&policy_path, &owner).await, 409, "conflict").await;
    json_of(app.patch(&path, &owner, json!({"status": "solved"})).await, 200).await;
    assert_problem(app.delete(&policy_path, &owner).await, 409, "conflict").await;
    json_of(app.patch(&path, &owner, json!({"status": "closed"})).await, 200).await;
    assert_eq!(app.delete(&policy_path, &owner).await.status(), 204);
    let closed = json_of(app.get(&path, &owner).await, 200).await;
    assert!(closed["sla_policy_id"].is_null());
    assert_eq!(closed["first_response_due_at"], case["first_response_due_at"]);
    assert_eq!(closed["resolution_due_at"], case["resolution_due_at"]);
}

/// A case comes in on an active channel; a channel cases came in on cannot be removed; a
/// follow-up names a closed case of the same customer.
#[tokio::test]
async fn channels_and_follow_ups_of_cases() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, _, policy) = setup(&app, &owner).await;
    let channel = json!({"kind": "chat", "name": "Widget"});
    let channel = json_of(app.post("/api/v1/channels", &owner, channel).await, 201).await;
    let case = open(&app, &owner, &customer, &channel, &policy).await;
    let channel_path = format!("/api/v1/channels/{}", id(&channel));
    let problem = assert_problem(app.delete(&channel_path, &owner).await, 409, "conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("cases"), "{problem}");
    json_of(app.patch(&channel_path, &owner, json!({"active": false})).await, 200).await;
    let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Again"});
    let problem = assert_problem(app.post("/api/v1/cases", &owner, body).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "channel_id");
    // The case itself keeps its channel, and can still change.
    let path = format!("/api/v1/cases/{}", id(&case));
    json_of(app.patch(&path, &owner, json!({"priority": "high"})).await, 200).await;

    json_of(app.patch(&path, &owner, json!({"status": "solved"})).await, 200).await;
    json_of(app.patch(&path, &owner, json!({"status": "closed"})).await, 200).await;
    let other = json_of(app.post("/api/v1/customers", &owner, json!({"name": "Other"})).await, 201).await;
    let channels = json_of(app.get("/api/v1/channels", &owner).await, 200).await;
    let email = &channels["data"][0];
    let body = json!({"customer_id": other["id"], "channel_id": email["id"], "subject": "Not theirs",
                      "follow_up_of": case["id"]});
    let problem = assert_problem(app.post("/api/v1/cases", &owner, body).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "follow_up_of");
    let body = json!({"customer_id": customer["id"], "channel_id": email["id"], "subject": "Theirs",
                      "follow_up_of": case["id"]});
    json_of(app.post("/api/v1/cases", &owner, body).await, 201).await;
}

/// `due_before` lists the unsolved cases whose solution is due before the instant.
#[tokio::test]
async fn due_before_lists_unsolved_cases() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner).await;
    app.clock.set("2026-11-27T16:55:00Z".parse().unwrap());
    let solved = open(&app, &owner, &customer, &channel, &policy).await;
    let open_one = open(&app, &owner, &customer, &channel, &policy).await;
    json_of(app.patch(&format!("/api/v1/cases/{}", id(&solved)), &owner, json!({"status": "solved"})).await, 200).await;
    let listed = json_of(app.get("/api/v1/cases?due_before=2027-01-01T00:00:00Z", &owner).await, 200).await;
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [id(&open_one)]);
}

/// Concurrent status changes of one case are recorded in the order they were applied: each
/// change starts where the one before it left the case.
#[tokio::test]
async fn concurrent_status_changes_keep_the_history_in_order() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner).await;
    let case = open(&app, &owner, &customer, &channel, &policy).await;
    let path = format!("/api/v1/cases/{}", id(&case));
    let statuses = ["open", "pending", "on_hold", "open", "pending", "open", "on_hold", "pending"];
    let changes = statuses.iter().cycle().take(24).map(|s| app.patch(&path, &owner, json!({"status": s})));
    for res in futures_util::future::join_all(changes).await {
        assert_eq!(res.status(), 200);
    }
    let timeline = json_of(app.get(&format!("{path}/timeline?limit=200"), &owner).await, 200).await;
    // Newest first: each change's `from_status` is the `to_status` of the one before.
    let mut chain: Vec<&Value> = timeline["data"].as_array().unwrap().iter().collect();
    chain.reverse();
    assert!(chain[0]["case_status_change"]["from_status"].is_null());
    for pair in chain.windows(2) {
        assert_eq!(
            pair[1]["case_status_change"]["from_status"], pair[0]["case_status_change"]["to_status"],
            "{pair:?}"
        );
        let at = |v: &Value| v["at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert!(at(pair[1]) >= at(pair[0]), "{pair:?}");
    }
    let now = json_of(app.get(&path, &owner).await, 200).await;
    assert_eq!(now["status"], chain.last().unwrap()["case_status_change"]["to_status"]);
}

/// The business hours carry their version as an `ETag`; a change based on another version is
/// refused (`412`) and changes nothing.
#[tokio::test]
async fn business_hours_are_versioned() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = app.get("/api/v1/workspace/business-hours", &owner).await;
    assert_eq!(res.headers()["etag"], "\"0\"");
    assert_eq!(json_of(res, 200).await["version"], 0);
    let hours = json!({"intervals": [{"weekday": 1, "start": "08:00", "end": "16:00"}]});
    let put = |tag: &'static str, body: Value| {
        app.client
            .put(app.url("/api/v1/workspace/business-hours"))
            .bearer_auth(&owner)
            .header("if-match", tag)
            .json(&body)
            .send()
    };
    let res = put("\"0\"", hours.clone()).await.unwrap();
    assert_eq!(res.headers()["etag"], "\"1\"");
    assert_eq!(json_of(res, 200).await["version"], 1);
    let other = json!({"intervals": [{"weekday": 2, "start": "10:00", "end": "12:00"}]});
    assert_problem(put("\"0\"", other.clone()).await.unwrap(), 412, "precondition_failed").await;
    let now = json_of(app.get("/api/v1/workspace/business-hours", &owner).await, 200).await;
    assert_eq!(now["intervals"], hours["intervals"]);
    let res = put("\"1\"", other).await.unwrap();
    assert_eq!(res.headers()["etag"], "\"2\"");
}

/// A closed case takes no new interaction, but a replay of one it has (same channel and
/// `external_id`) is answered as ever: alone, `200` with it; in a batch, its id.
#[tokio::test]
async fn replays_on_a_closed_case_are_answered() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner).await;
    let case = open(&app, &owner, &customer, &channel, &policy).await;
    let mail = |external: &str| {
        json!({"customer_id": customer["id"], "channel_id": channel["id"], "direction": "inbound",
               "kind": "message", "subject": "Still broken", "case_id": case["id"], "external_id": external})
    };
    let logged = json_of(app.post("/api/v1/interactions", &owner, mail("<m1@example.com>")).await, 201).await;
    let path = format!("/api/v1/cases/{}", id(&case));
    json_of(app.patch(&path, &owner, json!({"status": "solved"})).await, 200).await;
    json_of(app.patch(&path, &owner, json!({"status": "closed"})).await, 200).await;
    let replayed = json_of(app.post("/api/v1/interactions", &owner, mail("<m1@example.com>")).await, 200).await;
    assert_eq!(replayed["id"], logged["id"]);
    let batch = json!({"items": [mail("<m1@example.com>")]});
    let ids = json_of(app.post("/api/v1/interactions/batch", &owner, batch).await, 201).await;
    assert_eq!(ids["ids"], json!([logged["id"]]));
    let problem = assert_problem(
        app.post("/api/v1/interactions", &owner, mail("<m2@example.com>")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "case_id");
    let batch = json!({"items": [mail("<m1@example.com>"), mail("<m2@example.com>")]});
    let problem =
        assert_problem(app.post("/api/v1/interactions/batch", &owner, batch).await, 422, "validation_failed").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["items[1].case_id"]);
}

/// Business hours never set are version 0: a weak or unreadable `If-Match` still matches
/// nothing.
#[tokio::test]
async fn an_unreadable_if_match_matches_no_version() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let hours = json!({"intervals": [{"weekday": 1, "start": "08:00", "end": "16:00"}]});
    for tag in ["W/\"0\"", "abc", "\"0\", \"1\""] {
        let res = app
            .client
            .put(app.url("/api/v1/workspace/business-hours"))
            .bearer_auth(&owner)
            .header("if-match", tag)
            .json(&hours)
            .send()
            .await
            .unwrap();
        assert_problem(res, 412, "precondition_failed").await;
    }
    assert_eq!(json_of(app.get("/api/v1/workspace/business-hours", &owner).await, 200).await["version"], 0);
}

/// A bad body is told first (`422`), whatever the `If-Match`.
#[tokio::test]
async fn bad_business_hours_are_a_422_before_a_412() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let bad = json!({"intervals": [{"weekday": 0, "start": "23:00", "end": "24:00"}]});
    let res = app
        .client
        .put(app.url("/api/v1/workspace/business-hours"))
        .bearer_auth(&owner)
        .header("if-match", "\"7\"")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "validation_failed").await;
}

/// An array where an object goes is refused in merge patches and JSON parameters too (a
/// policy's `targets`, a report's `schedule`), and changes nothing.
#[tokio::test]
async fn arrays_for_objects_are_refused_in_patches_and_parameters() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (_, _, policy) = setup(&app, &owner).await;
    let path = format!("/api/v1/sla-policies/{}", id(&policy));
    let patch = json!({"targets": [null, {"first_response_minutes": 1, "resolution_minutes": 2}, null, null]});
    let problem = assert_problem(app.patch(&path, &owner, patch).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "targets");
    let patch = json!({"targets": {"high": [5, 6]}});
    assert_problem(app.patch(&path, &owner, patch).await, 422, "validation_failed").await;
    assert_eq!(json_of(app.get(&path, &owner).await, 200).await, policy);
    let report = json!({"name": "x", "kind": "rfm", "params": {}, "schedule": ["week", "07:00", 3, null]});
    let problem = assert_problem(app.post("/api/v1/reports", &owner, report).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "schedule");
}
