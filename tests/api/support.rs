//! Support cases on a clock the tests set: business hours, SLA policies, due times counted in
//! business minutes across weekends and pauses, the status rules, breaches.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::helpers::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A workspace in Paris with business hours Monday to Friday 09:00–18:00, a customer, and a
/// policy (`business_hours` as given) with targets for `high`.
async fn setup(app: &TestApp, owner: &str, business_hours: bool, first: i64, resolution: i64) -> (Value, Value, Value) {
    json_of(app.patch("/api/v1/workspace", owner, json!({"timezone": "Europe/Paris"})).await, 200).await;
    let hours = json!({"intervals": (1..=5).map(|d| json!({"weekday": d, "start": "09:00", "end": "18:00"})).collect::<Vec<_>>()});
    let res = app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(owner), Some(hours)).await;
    json_of(res, 200).await;
    let customer = json_of(app.post("/api/v1/customers", owner, json!({"name": "Client"})).await, 201).await;
    let channels = json_of(app.get("/api/v1/channels", owner).await, 200).await;
    let policy = json!({"name": "P", "business_hours": business_hours,
                        "targets": {"high": {"first_response_minutes": first, "resolution_minutes": resolution}}});
    let policy = json_of(app.post("/api/v1/sla-policies", owner, policy).await, 201).await;
    (customer, channels["data"][0].clone(), policy)
}

async fn open_case(app: &TestApp, owner: &str, customer: &Value, channel: &Value, policy: &Value) -> Value {
    let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Help",
                      "priority": "high", "sla_policy_id": policy["id"]});
    json_of(app.post("/api/v1/cases", owner, body).await, 201).await
}

/// Friday 17:55 with 30 business minutes and hours 09:00–18:00 is due Monday 09:25 (Paris).
#[tokio::test]
async fn due_times_count_business_minutes() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner, true, 30, 600).await;
    app.clock.set(at("2026-11-27T16:55:00Z"));
    let case = open_case(&app, &owner, &customer, &channel, &policy).await;
    assert_eq!(case["number"], 1);
    assert_eq!(case["status"], "new");
    assert_eq!(case["first_response_due_at"], "2026-11-30T08:25:00Z");
    // 600 business minutes: 5 on Friday, 540 on Monday, 55 on Tuesday.
    assert_eq!(case["resolution_due_at"], "2026-12-01T08:55:00Z");
    assert!(case["first_response_breach_minutes"].is_null());

    // Monday 10:00 local: 35 business minutes past the first-response target.
    app.clock.set(at("2026-11-30T09:00:00Z"));
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let late = json_of(app.get(&path, &owner).await, 200).await;
    assert_eq!(late["first_response_breach_minutes"], 35);
    let breached = json_of(app.get("/api/v1/cases?breached=true", &owner).await, 200).await;
    assert_eq!(breached["data"].as_array().unwrap().len(), 1);
    let fine = json_of(app.get("/api/v1/cases?breached=false", &owner).await, 200).await;
    assert!(fine["data"].as_array().unwrap().is_empty());

    // A holiday on Monday moves due times of unsolved cases to Tuesday.
    let hours = json!({"intervals": (1..=5).map(|d| json!({"weekday": d, "start": "09:00", "end": "18:00"})).collect::<Vec<_>>(),
                       "holidays": ["2026-11-30"]});
    json_of(
        app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(&owner), Some(hours)).await,
        200,
    )
    .await;
    let moved = json_of(app.get(&path, &owner).await, 200).await;
    assert_eq!(moved["first_response_due_at"], "2026-12-01T08:25:00Z");
    // A second case is number 2.
    assert_eq!(open_case(&app, &owner, &customer, &channel, &policy).await["number"], 2);
}

/// Time in pending pauses the resolution clock; the status rules hold; reopenings count.
#[tokio::test]
async fn pauses_and_status_rules() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner, false, 60, 120).await;
    app.clock.set(at("2026-11-28T10:00:00Z"));
    let case = open_case(&app, &owner, &customer, &channel, &policy).await;
    assert_eq!(case["resolution_due_at"], "2026-11-28T12:00:00Z", "calendar minutes: the weekend counts");
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let step = |status: &'static str, when: &'static str| {
        let (app, owner, path) = (&app, &owner, &path);
        async move {
            app.clock.set(at(when));
            app.patch(path, owner, json!({"status": status})).await
        }
    };
    json_of(step("open", "2026-11-28T10:10:00Z").await, 200).await;
    let paused = json_of(step("pending", "2026-11-28T10:30:00Z").await, 200).await;
    assert!(paused["resolution_due_at"].is_null(), "no due time while paused");
    let resumed = json_of(step("open", "2026-11-28T11:30:00Z").await, 200).await;
    assert_eq!(resumed["resolution_due_at"], "2026-11-28T13:00:00Z", "an hour paused moves it an hour");
    assert_problem(step("closed", "2026-11-28T11:31:00Z").await, 409, "conflict").await;
    let solved = json_of(step("solved", "2026-11-28T11:40:00Z").await, 200).await;
    assert_eq!(solved["solved_at"], "2026-11-28T11:40:00Z");
    assert!(solved["resolution_breach_minutes"].is_null());
    let reopened = json_of(step("open", "2026-11-28T12:00:00Z").await, 200).await;
    assert_eq!((reopened["reopened"].as_i64(), reopened["solved_at"].is_null()), (Some(1), true));
    json_of(step("solved", "2026-11-28T13:30:00Z").await, 200).await;
    let closed = json_of(step("closed", "2026-11-28T14:00:00Z").await, 200).await;
    assert_eq!(closed["resolution_breach_minutes"], 30, "solved 13:30, due 13:00");
    assert_problem(step("open", "2026-11-28T15:00:00Z").await, 409, "conflict").await;
    // Closed is final but for the customer's rating; a case is no follow-up of itself.
    assert_problem(app.patch(&path, &owner, json!({"priority": "low"})).await, 409, "conflict").await;
    let rated = json_of(app.patch(&path, &owner, json!({"satisfaction": "good"})).await, 200).await;
    assert_eq!(rated["satisfaction"], "good");
    assert_problem(app.patch(&path, &owner, json!({"follow_up_of": case["id"]})).await, 422, "validation_failed").await;
    // Solved before any response: the first-response target counts as met at the solution.
    assert!(closed["first_response_breach_minutes"].as_i64().is_some(), "solved 13:30, first response due 11:00");
    let timely = open_case(&app, &owner, &customer, &channel, &policy).await;
    let timely_path = format!("/api/v1/cases/{}", timely["id"].as_str().unwrap());
    json_of(app.patch(&timely_path, &owner, json!({"status": "solved"})).await, 200).await;
    app.clock.set(at("2026-11-29T15:00:00Z"));
    let later = json_of(app.get(&timely_path, &owner).await, 200).await;
    assert!(later["first_response_breach_minutes"].is_null(), "{later}");
    assert!(later["created_at"].as_str() <= later["updated_at"].as_str());
    // A follow-up names the closed case.
    let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Again",
                      "follow_up_of": case["id"]});
    json_of(app.post("/api/v1/cases", &owner, body).await, 201).await;
    let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "X", "status": "open"});
    assert_problem(app.post("/api/v1/cases", &owner, body).await, 422, "validation_failed").await;
}

/// Another workspace's cases, policies and references are not found.
#[tokio::test]
async fn cases_are_per_workspace() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other = app.other_workspace().await;
    let (customer, channel, policy) = setup(&app, &owner, true, 30, 600).await;
    let case = open_case(&app, &owner, &customer, &channel, &policy).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    assert_problem(app.get(&path, &other).await, 404, "not_found").await;
    assert_problem(
        app.get(&format!("/api/v1/sla-policies/{}", policy["id"].as_str().unwrap()), &other).await,
        404,
        "not_found",
    )
    .await;
    let listed = json_of(app.get("/api/v1/cases", &other).await, 200).await;
    assert!(listed["data"].as_array().unwrap().is_empty());
    let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Theirs"});
    let problem = assert_problem(app.post("/api/v1/cases", &other, body).await, 422, "validation_failed").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["customer_id", "channel_id"]);
    // Bad business hours are named part by part and change nothing.
    let bad = json!({"intervals": [{"weekday": 8, "start": "18:00", "end": "09:00"}]});
    let problem = assert_problem(
        app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(&owner), Some(bad)).await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["intervals[0].weekday", "intervals[0].end"]);
    for (bad, field) in [
        (json!({"intervals": [{"weekday": 1, "start": "+9:+5", "end": "+9:+9"}]}), "intervals[0].start"),
        (json!({"intervals": [{"weekday": 1, "start": "09:00", "end": "+24:0"}]}), "intervals[0].end"),
        (json!({"intervals": []}), "intervals"),
        (
            json!({"intervals": [{"weekday": 1, "start": "09:00", "end": "17:00"}], "holidays": ["+10000-01-01"]}),
            "holidays[0]",
        ),
        (
            json!({"intervals": [{"weekday": 1, "start": "09:00", "end": "17:00"}], "holidays": ["0000-01-01"]}),
            "holidays[0]",
        ),
    ] {
        let res =
            app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(&owner), Some(bad.clone()));
        let problem = assert_problem(res.await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{bad}");
    }
    let hours = json_of(app.get("/api/v1/workspace/business-hours", &owner).await, 200).await;
    assert_eq!(hours["intervals"].as_array().unwrap().len(), 5);
}

async fn log(app: &TestApp, owner: &str, body: Value, status: u16) -> Value {
    json_of(app.post("/api/v1/interactions", owner, body).await, status).await
}

/// The first outbound interaction by a user on a case is its first response (the earliest,
/// never before the case was opened); the case's timeline merges its interactions and status
/// changes; the customer's 360° view shows it while it is unsolved.
#[tokio::test]
async fn first_responses_come_from_interactions() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let me = json_of(app.get("/api/v1/me", &owner).await, 200).await;
    let user_id = me["user"]["id"].clone();
    let (customer, channel, policy) = setup(&app, &owner, false, 60, 600).await;
    app.clock.set(at("2026-11-24T10:00:00Z"));
    let case = open_case(&app, &owner, &customer, &channel, &policy).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let on_case = |direction: &str, user: Value, occurred_at: &str| {
        json!({"customer_id": customer["id"], "channel_id": channel["id"], "direction": direction, "kind": "message",
               "user_id": user, "occurred_at": occurred_at, "case_id": case["id"]})
    };
    // An inbound message, and an outbound one by no user, are no response.
    log(&app, &owner, on_case("inbound", Value::Null, "2026-11-24T10:05:00Z"), 201).await;
    log(&app, &owner, on_case("outbound", Value::Null, "2026-11-24T10:06:00Z"), 201).await;
    assert!(json_of(app.get(&path, &owner).await, 200).await["first_responded_at"].is_null());
    // A reply by a user is; one logged later but sent earlier moves it; none is before opening.
    log(&app, &owner, on_case("outbound", user_id.clone(), "2026-11-24T10:45:00Z"), 201).await;
    let answered = json_of(app.get(&path, &owner).await, 200).await;
    assert_eq!(answered["first_responded_at"], "2026-11-24T10:45:00Z");
    assert_eq!(answered["first_response_business_seconds"], 45 * 60, "Tuesday 10:00–10:45 is business time");
    let early = log(&app, &owner, on_case("outbound", user_id.clone(), "2026-11-24T09:00:00Z"), 201).await;
    assert_eq!(json_of(app.get(&path, &owner).await, 200).await["first_responded_at"], "2026-11-24T10:00:00Z");
    let early_path = format!("/api/v1/interactions/{}", early["id"].as_str().unwrap());
    assert_eq!(app.delete(&early_path, &owner).await.status(), 204);
    assert_eq!(json_of(app.get(&path, &owner).await, 200).await["first_responded_at"], "2026-11-24T10:45:00Z");
    // An interaction names a case of its own customer only, alone or in a batch.
    let other = json_of(app.post("/api/v1/customers", &owner, json!({"name": "Other"})).await, 201).await;
    let mut wrong = on_case("outbound", user_id.clone(), "2026-11-24T11:00:00Z");
    wrong["customer_id"] = other["id"].clone();
    let problem =
        assert_problem(app.post("/api/v1/interactions", &owner, wrong.clone()).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "case_id");
    let batch = app.post("/api/v1/interactions/batch", &owner, json!({"items": [wrong]})).await;
    let problem = assert_problem(batch, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "items[0].case_id");
    // The case cannot move to another customer while it holds interactions of its own.
    let moved = app.patch(&path, &owner, json!({"customer_id": other["id"]})).await;
    assert_problem(moved, 409, "conflict").await;
    // Timeline: newest first, interactions and status changes (the opening last).
    app.clock.set(at("2026-11-24T12:00:00Z"));
    json_of(app.patch(&path, &owner, json!({"status": "open"})).await, 200).await;
    let timeline = json_of(app.get(&format!("{path}/timeline"), &owner).await, 200).await;
    let types: Vec<&str> = timeline["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["case_status_change", "interaction", "interaction", "interaction", "case_status_change"]);
    assert_eq!(timeline["data"][0]["case_status_change"]["to_status"], "open");
    assert!(timeline["data"][4]["case_status_change"]["from_status"].is_null());
    let filtered =
        json_of(app.get(&format!("/api/v1/interactions?case_id={}", case["id"].as_str().unwrap()), &owner).await, 200)
            .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 3);
    // The customer's 360° view and timeline show the case.
    let customer_path = format!("/api/v1/customers/{}", customer["id"].as_str().unwrap());
    let summary = json_of(app.get(&format!("{customer_path}/summary"), &owner).await, 200).await;
    assert_eq!(summary["open_cases"][0]["id"], case["id"]);
    let timeline = json_of(app.get(&format!("{customer_path}/timeline"), &owner).await, 200).await;
    assert!(timeline["data"].as_array().unwrap().iter().any(|e| e["case_status_change"]["case_id"] == case["id"]));
    json_of(app.patch(&path, &owner, json!({"status": "solved"})).await, 200).await;
    let summary = json_of(app.get(&format!("{customer_path}/summary"), &owner).await, 200).await;
    assert!(summary["open_cases"].as_array().unwrap().is_empty());

    // A reply stays a reply when its user is removed: the first response does not move.
    let (_, member) = app.user_token(&owner, "member").await;
    let second = open_case(&app, &owner, &customer, &channel, &policy).await;
    let second_path = format!("/api/v1/cases/{}", second["id"].as_str().unwrap());
    let mut by_member = on_case("outbound", member["id"].clone(), "2026-11-24T12:10:00Z");
    by_member["case_id"] = second["id"].clone();
    let reply = log(&app, &owner, by_member, 201).await;
    let mut by_owner = on_case("outbound", user_id.clone(), "2026-11-24T12:20:00Z");
    by_owner["case_id"] = second["id"].clone();
    log(&app, &owner, by_owner, 201).await;
    assert_eq!(app.delete(&format!("/api/v1/users/{}", member["id"].as_str().unwrap()), &owner).await.status(), 204);
    let mut inbound = on_case("inbound", Value::Null, "2026-11-24T12:30:00Z");
    inbound["case_id"] = second["id"].clone();
    log(&app, &owner, inbound, 201).await;
    let second_now = json_of(app.get(&second_path, &owner).await, 200).await;
    assert_eq!(second_now["first_responded_at"], "2026-11-24T12:10:00Z");
    // Nor when the reply is edited later (its user gone, `user_id` reads null).
    let reply_path = format!("/api/v1/interactions/{}", reply["id"].as_str().unwrap());
    // It goes to another customer only off its case, or onto one of theirs: not alone (409).
    let moved = app.patch(&reply_path, &owner, json!({"customer_id": other["id"]})).await;
    assert_problem(moved, 409, "conflict").await;
    json_of(app.patch(&reply_path, &owner, json!({"subject": "Typo fixed"})).await, 200).await;
    let second_now = json_of(app.get(&second_path, &owner).await, 200).await;
    assert_eq!(second_now["first_responded_at"], "2026-11-24T12:10:00Z");

    // A closed case takes no interaction, alone, in a batch or by a move.
    json_of(app.patch(&path, &owner, json!({"status": "closed"})).await, 200).await;
    let late = on_case("outbound", user_id.clone(), "2026-11-24T13:00:00Z");
    let problem =
        assert_problem(app.post("/api/v1/interactions", &owner, late.clone()).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "case_id");
    let batch = app.post("/api/v1/interactions/batch", &owner, json!({"items": [late]})).await;
    assert_eq!(assert_problem(batch, 422, "validation_failed").await["errors"][0]["field"], "items[0].case_id");
    let loose = log(
        &app,
        &owner,
        json!({"customer_id": customer["id"], "channel_id": channel["id"],
                                          "direction": "inbound", "kind": "note"}),
        201,
    )
    .await;
    let loose_path = format!("/api/v1/interactions/{}", loose["id"].as_str().unwrap());
    let moved = app.patch(&loose_path, &owner, json!({"case_id": case["id"]})).await;
    assert_eq!(assert_problem(moved, 422, "validation_failed").await["errors"][0]["field"], "case_id");
    // ... and keeps the ones it has: moving one off it is a conflict with its state.
    let on_closed = format!("/api/v1/interactions/{}", filtered["data"][0]["id"].as_str().unwrap());
    assert_problem(app.patch(&on_closed, &owner, json!({"case_id": null})).await, 409, "conflict").await;
    assert_problem(app.patch(&on_closed, &owner, json!({"case_id": second["id"]})).await, 409, "conflict").await;
    assert_eq!(json_of(app.get(&on_closed, &owner).await, 200).await["case_id"], case["id"]);
    // A case with interactions stays (close it); one opened by mistake goes, with its history.
    assert_problem(app.delete(&second_path, &owner).await, 409, "conflict").await;
    let mistake = open_case(&app, &owner, &customer, &channel, &policy).await;
    let mistake_path = format!("/api/v1/cases/{}", mistake["id"].as_str().unwrap());
    assert_eq!(app.delete(&mistake_path, &owner).await.status(), 204);
    assert_problem(app.get(&mistake_path, &owner).await, 404, "not_found").await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM case_status_changes WHERE case_id = $1::text::uuid")
        .bind(mistake["id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // Erasing the customer takes its cases (a follow-up among them) and their interactions,
    // each with its event.
    let follow_up = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Again",
                           "follow_up_of": case["id"]});
    json_of(app.post("/api/v1/cases", &owner, follow_up).await, 201).await;
    let theirs = json!({"customer_id": other["id"], "channel_id": channel["id"], "subject": "Theirs"});
    json_of(app.post("/api/v1/cases", &owner, theirs).await, 201).await;
    assert_eq!(app.delete(&format!("{customer_path}?erase=true"), &owner).await.status(), 204);
    let gone: Vec<(String, i64)> = sqlx::query_as(
        "SELECT type, count(*) FROM events WHERE type IN ('case.deleted', 'customer.erased') GROUP BY type ORDER BY type",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    // The case removed by hand above, and the three of the erased customer.
    assert_eq!(gone, [("case.deleted".to_owned(), 4), ("customer.erased".to_owned(), 1)]);
    let cases: i64 = sqlx::query_scalar("SELECT count(*) FROM cases").fetch_one(&app.pool).await.unwrap();
    assert_eq!(cases, 1, "the other customer's case stays");
}

/// A rating comes once a case is solved; solved cases are closed by the job after the setting's
/// days, as Rapport itself, and a closed case keeps its facts.
#[tokio::test]
async fn ratings_and_closing() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner, false, 60, 600).await;
    app.clock.set(at("2026-11-02T10:00:00Z"));
    let case = open_case(&app, &owner, &customer, &channel, &policy).await;
    let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let early = app.patch(&path, &owner, json!({"satisfaction": "good"})).await;
    assert_eq!(assert_problem(early, 422, "validation_failed").await["errors"][0]["field"], "satisfaction");
    app.clock.set(at("2026-11-02T12:30:00Z"));
    let solved = json_of(app.patch(&path, &owner, json!({"status": "solved"})).await, 200).await;
    assert_eq!(solved["resolution_business_seconds"], 150 * 60);
    let alone = app.patch(&path, &owner, json!({"satisfaction_comment": "Thanks"})).await;
    assert_eq!(assert_problem(alone, 422, "validation_failed").await["errors"][0]["field"], "satisfaction_comment");
    let rated = app.patch(&path, &owner, json!({"satisfaction": "bad", "satisfaction_comment": "Slow"})).await;
    assert_eq!(json_of(rated, 200).await["satisfaction"], "bad");
    // Reopening drops the rating (of a solution the case no longer has); solved before any
    // response, the case stays answered then.
    app.clock.set(at("2026-11-02T12:40:00Z"));
    let reopened = json_of(app.patch(&path, &owner, json!({"status": "open"})).await, 200).await;
    assert!(reopened["satisfaction"].is_null() && reopened["satisfaction_comment"].is_null(), "{reopened}");
    assert_eq!(reopened["answered_at"], "2026-11-02T12:30:00Z");
    let solved = json_of(app.patch(&path, &owner, json!({"status": "solved"})).await, 200).await;
    assert_eq!(solved["resolution_business_seconds"], 160 * 60);
    json_of(app.patch(&path, &owner, json!({"satisfaction": "good"})).await, 200).await;
    // Four days after: one case closed, the second run finds none.
    let now = at("2026-11-06T12:31:00Z");
    let mut tx = app.pool.begin().await.unwrap();
    let close = rapport::app::support::close_solved;
    assert_eq!(close(&mut tx, at("2026-11-02T12:40:00Z"), now, 10).await.unwrap(), 0, "solved at the cutoff");
    assert_eq!(close(&mut tx, at("2026-11-02T12:41:00Z"), now, 10).await.unwrap(), 1);
    assert_eq!(close(&mut tx, at("2026-11-02T12:41:00Z"), now, 10).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let closed = json_of(app.get(&path, &owner).await, 200).await;
    assert_eq!(
        (closed["status"].as_str(), closed["closed_at"].as_str()),
        (Some("closed"), Some("2026-11-06T12:31:00Z"))
    );
    assert_eq!(closed["resolution_business_seconds"], 160 * 60);
    // The close is recorded as Rapport's (read from the table: the feed waits for older
    // transactions of the whole cluster, other tests' included).
    let last: (String, String) = sqlx::query_as(
        "SELECT type, actor_type FROM events WHERE resource_id = $1::text::uuid ORDER BY seq DESC LIMIT 1",
    )
    .bind(case["id"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(last, ("case.updated".to_owned(), "system".to_owned()));
}

/// The worked example of docs/analytics.md ("Support"), step by step: its figures.
#[tokio::test]
async fn the_documented_support_example_holds() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let me = json_of(app.get("/api/v1/me", &owner).await, 200).await;
    json_of(app.patch("/api/v1/workspace", &owner, json!({"timezone": "Europe/Berlin"})).await, 200).await;
    let hours = json!({"intervals": (1..=5).map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"})).collect::<Vec<_>>()});
    json_of(
        app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(&owner), Some(hours)).await,
        200,
    )
    .await;
    let targets = json!({"normal": {"first_response_minutes": 60, "resolution_minutes": 480},
                         "high": {"first_response_minutes": 30, "resolution_minutes": 240}});
    let policy = json!({"name": "Standard", "business_hours": true, "targets": targets});
    let policy = json_of(app.post("/api/v1/sla-policies", &owner, policy).await, 201).await;
    let customer = json_of(app.post("/api/v1/customers", &owner, json!({"name": "Client"})).await, 201).await;
    let channel = json_of(app.get("/api/v1/channels", &owner).await, 200).await["data"][0].clone();
    // Local times in Berlin, UTC+1 in November.
    let local = |s: &str| at(&format!("{s}+01:00"));
    let open = |priority: &str, when: &str| {
        app.clock.set(local(when));
        let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Help",
                          "priority": priority, "sla_policy_id": policy["id"]});
        app.post("/api/v1/cases", &owner, body)
    };
    let reply = |case: &Value, when: &str| {
        let body = json!({"customer_id": customer["id"], "channel_id": channel["id"], "direction": "outbound",
                          "kind": "message", "user_id": me["user"]["id"], "occurred_at": local(when), "case_id": case["id"]});
        app.post("/api/v1/interactions", &owner, body)
    };
    let patch = |case: &Value, when: &str, body: Value| {
        app.clock.set(local(when));
        let path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
        let (app, owner) = (&app, &owner);
        async move { app.patch(&path, owner, body).await }
    };
    let one = json_of(open("normal", "2026-11-09T08:30:00").await, 201).await;
    json_of(reply(&one, "2026-11-09T09:40:00").await, 201).await;
    json_of(patch(&one, "2026-11-09T10:00:00", json!({"status": "pending"})).await, 200).await;
    json_of(patch(&one, "2026-11-10T10:00:00", json!({"status": "open"})).await, 200).await;
    let solved = json_of(patch(&one, "2026-11-10T11:00:00", json!({"status": "solved"})).await, 200).await;
    assert_eq!(solved["resolution_due_at"], "2026-11-10T16:00:00Z", "Tuesday 17:00 in Berlin");
    json_of(patch(&one, "2026-11-10T11:05:00", json!({"satisfaction": "good"})).await, 200).await;
    let three = json_of(open("normal", "2026-11-11T14:00:00").await, 201).await;
    json_of(reply(&three, "2026-11-11T16:30:00").await, 201).await;
    json_of(patch(&three, "2026-11-12T10:00:00", json!({"status": "solved"})).await, 200).await;
    json_of(patch(&three, "2026-11-12T15:00:00", json!({"status": "open"})).await, 200).await;
    json_of(patch(&three, "2026-11-13T12:00:00", json!({"status": "solved"})).await, 200).await;
    json_of(patch(&three, "2026-11-13T12:05:00", json!({"satisfaction": "bad"})).await, 200).await;
    json_of(open("high", "2026-11-13T16:45:00").await, 201).await;
    app.clock.set(local("2026-11-17T10:00:00"));
    let got = json_of(app.get("/api/v1/analytics/support?from=2026-11-09&to=2026-11-16", &owner).await, 200).await;
    assert_eq!(
        got["totals"],
        json!({
            "created": 3, "solved": 2, "reopened": 1, "backlog": 1,
            "first_responses": 2,
            "first_response_median_business_minutes": 95.0, "first_response_p90_business_minutes": 139.0,
            "first_response_median_minutes": 110.0, "first_response_p90_minutes": 142.0,
            "resolution_median_business_minutes": 720.0, "resolution_p90_business_minutes": 816.0,
            "resolution_median_minutes": 2175.0, "resolution_p90_minutes": 2643.0,
            "first_response_targets": 2, "first_response_met": 1, "first_response_attainment": 0.5,
            "resolution_targets": 2, "resolution_met": 1, "resolution_attainment": 0.5,
            "satisfaction_good": 1, "satisfaction_bad": 1, "satisfaction_score": 0.5
        })
    );
    let by_priority = json_of(
        app.get("/api/v1/analytics/support?from=2026-11-09&to=2026-11-16&group_by=priority", &owner).await,
        200,
    )
    .await;
    let keys: Vec<(&str, i64, i64)> = by_priority["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["created"].as_i64().unwrap(), g["backlog"].as_i64().unwrap()))
        .collect();
    assert_eq!(keys, [("normal", 2, 0), ("high", 1, 1)]);
    assert!(by_priority["groups"][1]["first_response_median_minutes"].is_null());
}

/// Replies logged at once on one case, alone and in batches, all land: each write locks the case
/// before its interaction's foreign key shares it (two writers holding it shared and then asking
/// for it alone deadlocked).
#[tokio::test]
async fn concurrent_replies_on_one_case_all_land() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let me = json_of(app.get("/api/v1/me", &owner).await, 200).await;
    let (customer, channel, policy) = setup(&app, &owner, false, 60, 600).await;
    app.clock.set(at("2026-11-24T09:00:00Z"));
    let case = open_case(&app, &owner, &customer, &channel, &policy).await;
    let reply = |minute: u32| {
        json!({"customer_id": customer["id"], "channel_id": channel["id"], "direction": "outbound", "kind": "message",
               "user_id": me["user"]["id"], "case_id": case["id"],
               "occurred_at": format!("2026-11-24T10:{minute:02}:00Z")})
    };
    let singles = (0..24).map(|m| app.post("/api/v1/interactions", &owner, reply(m + 30)));
    let batches =
        (0..4).map(|b| app.post("/api/v1/interactions/batch", &owner, json!({"items": [reply(b), reply(b + 10)]})));
    let (singles, batches) =
        tokio::join!(futures_util::future::join_all(singles), futures_util::future::join_all(batches));
    for res in singles {
        assert_eq!(res.status(), 201);
    }
    for res in batches {
        assert_eq!(res.status(), 201);
    }
    let got = json_of(app.get(&format!("/api/v1/cases/{}", case["id"].as_str().unwrap()), &owner).await, 200).await;
    assert_eq!(got["first_responded_at"], "2026-11-24T10:00:00Z");
    let on_case = format!("/api/v1/interactions?case_id={}&limit=200", case["id"].as_str().unwrap());
    assert_eq!(json_of(app.get(&on_case, &owner).await, 200).await["data"].as_array().unwrap().len(), 32);
}

/// Case numbers are per workspace, from 1, unique under concurrent creations; a workspace whose
/// sequence was lost (a partial restore) gets it back past its highest number at the next start.
#[tokio::test]
async fn case_numbers_are_per_workspace_and_survive_a_lost_sequence() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner, false, 30, 600).await;
    let opened =
        futures_util::future::join_all((0..12).map(|_| open_case(&app, &owner, &customer, &channel, &policy))).await;
    let mut numbers: Vec<i64> = opened.iter().map(|c| c["number"].as_i64().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());

    let other = app.other_workspace().await;
    let (customer2, channel2, policy2) = setup(&app, &other, false, 30, 600).await;
    assert_eq!(open_case(&app, &other, &customer2, &channel2, &policy2).await["number"], 1);

    let ws: uuid::Uuid = sqlx::query_scalar("SELECT workspace_id FROM cases WHERE id = $1")
        .bind(uuid::Uuid::parse_str(opened[0]["id"].as_str().unwrap()).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query(&format!("DROP SEQUENCE case_numbers.\"{ws}\"")).execute(&app.pool).await.unwrap();
    rapport::db::pool::repair(&app.pool).await.unwrap();
    assert_eq!(open_case(&app, &owner, &customer, &channel, &policy).await["number"], 13);
    // Behind its highest number (restored from an older dump): moved past it.
    sqlx::query(&format!("SELECT setval('case_numbers.\"{ws}\"', 2)")).execute(&app.pool).await.unwrap();
    rapport::db::pool::repair(&app.pool).await.unwrap();
    assert_eq!(open_case(&app, &owner, &customer, &channel, &policy).await["number"], 14);
}

/// A window without any case has zero figures, for the totals and every grouping.
#[tokio::test]
async fn support_analytics_of_an_empty_window() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (customer, channel, policy) = setup(&app, &owner, false, 30, 600).await;
    open_case(&app, &owner, &customer, &channel, &policy).await;
    for group_by in ["", "&group_by=priority", "&group_by=channel", "&group_by=assignee", "&group_by=tag"] {
        let path = format!("/api/v1/analytics/support?from=2001-01-01&to=2001-02-01{group_by}");
        let got = json_of(app.get(&path, &owner).await, 200).await;
        assert_eq!(got["groups"], json!([]), "{group_by}");
        assert_eq!(got["totals"]["created"], 0, "{group_by}");
        assert_eq!(got["totals"]["backlog"], 0, "{group_by}");
        assert!(got["totals"]["first_response_median_minutes"].is_null(), "{group_by}");
    }
}
