//! Tenant isolation: a second workspace never sees, changes or references the first's rows.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

struct Rows {
    pipeline: Value,
    deal: Value,
    customer: Value,
    channel: Value,
    interaction: Value,
    user: Value,
    token: Value,
    report: Value,
    run: Value,
    policy: Value,
    case: Value,
}

async fn first_workspace_rows(app: &TestApp, owner: &str) -> Rows {
    let customer: Value = app
        .post("/api/v1/customers", owner, json!({"name": "Secret Customer", "email": "secret@a.test", "tags": ["a"]}))
        .await
        .json()
        .await
        .unwrap();
    let channel: Value = app
        .post("/api/v1/channels", owner, json!({"kind": "other", "name": "A's channel"}))
        .await
        .json()
        .await
        .unwrap();
    let interaction: Value = app
        .post("/api/v1/interactions", owner, json!({"customer_id": customer["id"], "channel_id": channel["id"], "direction": "inbound", "kind": "note", "subject": "secret"}))
        .await
        .json()
        .await
        .unwrap();
    let (_, user) = app.user_token(owner, "member").await;
    let token: Value =
        app.post("/api/v1/api-tokens", owner, json!({"name": "a", "role": "viewer"})).await.json().await.unwrap();
    let pipelines: Value = app.get("/api/v1/pipelines", owner).await.json().await.unwrap();
    let pipeline = pipelines["data"][0].clone();
    let deal: Value = app
        .post(
            "/api/v1/deals",
            owner,
            json!({"pipeline_id": pipeline["id"], "customer_id": customer["id"], "title": "Secret deal"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let report: Value = app
        .post("/api/v1/reports", owner, json!({"name": "Secret report", "kind": "rfm", "schedule": {"every": "day"}}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/reports/{}/runs", report["id"].as_str().unwrap());
    let run: Value = app.post(&path, owner, json!({})).await.json().await.unwrap();
    let policy: Value = app
        .post("/api/v1/sla-policies", owner, json!({"name": "Secret policy", "targets": {}}))
        .await
        .json()
        .await
        .unwrap();
    let case: Value = app
        .post(
            "/api/v1/cases",
            owner,
            json!({"customer_id": customer["id"], "channel_id": channel["id"], "subject": "Secret case", "sla_policy_id": policy["id"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    Rows { pipeline, deal, customer, channel, interaction, user, token, report, run, policy, case }
}

async fn fingerprint(app: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws('|',
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM customers t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM interactions t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM channels t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM users t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM api_tokens t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM deals t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM stages t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM deal_stage_events t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM reports t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM report_runs t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM sla_policies t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM cases t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM case_status_changes t),
            (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY workspace_id), '')) FROM business_hours t))",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_route_with_an_id_is_404_across_workspaces() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let rows = first_workspace_rows(&app, &owner).await;
    let other = app.other_workspace().await;
    let before = fingerprint(&app).await;

    let doc = serde_json::to_value(rapport::openapi::document()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("{id}") {
            continue;
        }
        let resource = path.trim_start_matches("/api/v1/").split('/').next().unwrap();
        let id = match resource {
            "customers" => &rows.customer["id"],
            "channels" => &rows.channel["id"],
            "interactions" => &rows.interaction["id"],
            "users" => &rows.user["id"],
            "api-tokens" => &rows.token["id"],
            "pipelines" => &rows.pipeline["id"],
            "deals" => &rows.deal["id"],
            "reports" => &rows.report["id"],
            "sla-policies" => &rows.policy["id"],
            "cases" => &rows.case["id"],
            other => panic!("the isolation matrix does not know {other}: add it"),
        };
        let concrete = path
            .replace("{id}", id.as_str().unwrap())
            .replace("{stage_id}", rows.pipeline["stages"][0]["id"].as_str().unwrap())
            .replace("{run_id}", rows.run["id"].as_str().unwrap());
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = matches!(m, Method::POST | Method::PATCH | Method::PUT).then(|| {
                if path.ends_with("/order") {
                    json!({"stage_ids": []})
                } else if path.ends_with("/stages") {
                    json!({"name": "stolen", "kind": "open"})
                } else {
                    json!({"name": "stolen"})
                }
            });
            let res = app.request(m.clone(), &concrete, Some(&other), body).await;
            assert_eq!(res.status(), 404, "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} operations checked");
    assert_eq!(fingerprint(&app).await, before, "nothing changed");
    // The token of the first workspace still works: not revoked by the other.
    assert_eq!(app.get("/api/v1/me", rows.token["token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn lists_and_searches_never_show_a_foreign_row() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let rows = first_workspace_rows(&app, &owner).await;
    let other = app.other_workspace().await;
    let foreign: Vec<&Value> = vec![
        &rows.customer["id"],
        &rows.channel["id"],
        &rows.interaction["id"],
        &rows.user["id"],
        &rows.token["id"],
        &rows.case["id"],
        &rows.policy["id"],
    ];
    for list in [
        "/api/v1/customers",
        "/api/v1/customers?q=secret",
        "/api/v1/customers?email=secret@a.test",
        "/api/v1/customers?tag=a",
        "/api/v1/interactions",
        "/api/v1/channels?limit=200",
        "/api/v1/users",
        "/api/v1/api-tokens",
        "/api/v1/pipelines",
        "/api/v1/deals",
        "/api/v1/cases",
        "/api/v1/sla-policies",
    ] {
        let res = app.get(list, &other).await;
        assert_eq!(res.status(), 200, "{list}");
        let page: Value = res.json().await.unwrap();
        for row in page["data"].as_array().unwrap() {
            assert!(!foreign.contains(&&row["id"]), "{list} shows a foreign row");
        }
    }
    let q = format!("/api/v1/interactions?customer_id={}", rows.customer["id"].as_str().unwrap());
    let page: Value = app.get(&q, &other).await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    // Nor do the support analytics count the first workspace's case.
    let support: Value = app.get("/api/v1/analytics/support", &other).await.json().await.unwrap();
    assert_eq!(support["totals"]["created"], 0);
    let support: Value = app.get("/api/v1/analytics/support", &owner).await.json().await.unwrap();
    assert_eq!(support["totals"]["created"], 1);
    // The same filters in the first workspace do find them (the test can fail).
    let page: Value = app.get("/api/v1/customers?q=secret", &owner).await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_body_cannot_reference_a_foreign_row() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let rows = first_workspace_rows(&app, &owner).await;
    let other = app.other_workspace().await;
    let before = fingerprint(&app).await;
    let mine: Value = app.post("/api/v1/customers", &other, json!({"name": "Mine"})).await.json().await.unwrap();
    let my_channels: Value = app.get("/api/v1/channels", &other).await.json().await.unwrap();
    let my_channel = my_channels["data"][0]["id"].clone();
    let cases = [
        (
            json!({"customer_id": rows.customer["id"], "channel_id": my_channel, "direction": "inbound", "kind": "note"}),
            "customer_id",
        ),
        (
            json!({"customer_id": mine["id"], "channel_id": rows.channel["id"], "direction": "inbound", "kind": "note"}),
            "channel_id",
        ),
        (
            json!({"customer_id": mine["id"], "channel_id": my_channel, "direction": "inbound", "kind": "note", "user_id": rows.user["id"]}),
            "user_id",
        ),
        (
            json!({"customer_id": mine["id"], "channel_id": my_channel, "direction": "inbound", "kind": "note", "case_id": rows.case["id"]}),
            "case_id",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/api/v1/interactions", &other, body.clone()).await;
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field);
        let res = app.post("/api/v1/interactions/batch", &other, json!({"items": [body]})).await;
        assert_problem(res, 422, "validation_failed").await;
    }
    let res = app.post("/api/v1/customers", &other, json!({"name": "X", "owner_id": rows.user["id"]})).await;
    let p = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "owner_id");
    let path = format!("/api/v1/customers/{}", mine["id"].as_str().unwrap());
    let p =
        assert_problem(app.patch(&path, &other, json!({"owner_id": rows.user["id"]})).await, 422, "validation_failed")
            .await;
    assert_eq!(p["errors"][0]["field"], "owner_id");
    // Only the other workspace's own customer was added.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM interactions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    assert_ne!(fingerprint(&app).await, before);
}

#[tokio::test]
async fn the_database_refuses_cross_workspace_references() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let rows = first_workspace_rows(&app, &owner).await;
    let other = app.other_workspace().await;
    let me: Value = app.get("/api/v1/me", &other).await.json().await.unwrap();
    // Straight SQL, past every check of the API: the composite foreign keys still refuse.
    let res = sqlx::query(
        "INSERT INTO interactions (workspace_id, id, customer_id, channel_id, direction, kind, occurred_at)
         VALUES ($1, gen_random_uuid(), $2, $3, 'inbound', 'note', now())",
    )
    .bind(uuid::Uuid::parse_str(me["workspace"]["id"].as_str().unwrap()).unwrap())
    .bind(uuid::Uuid::parse_str(rows.customer["id"].as_str().unwrap()).unwrap())
    .bind(uuid::Uuid::parse_str(rows.channel["id"].as_str().unwrap()).unwrap())
    .execute(&app.pool)
    .await;
    let err = res.unwrap_err();
    assert_eq!(err.as_database_error().and_then(|e| e.code()).as_deref(), Some("23503"));
}

#[tokio::test]
async fn analytics_count_only_the_callers_rows() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let rows = first_workspace_rows(&app, &owner).await;
    let purchase = json!({"customer_id": rows.customer["id"], "channel_id": rows.channel["id"], "direction": "inbound",
                          "kind": "purchase", "value_cents": 500, "items": ["x", "y"]});
    assert_eq!(app.post("/api/v1/interactions", &owner, purchase).await.status(), 201);
    let other = app.other_workspace().await;
    let other_pipeline: Value = app.get("/api/v1/pipelines", &other).await.json().await.unwrap();
    let window = "from=2000-01-01&to=2100-01-01";
    let figures = |p: &str| {
        [
            (format!("/api/v1/analytics/funnel?pipeline_id={p}&{window}"), "/entered"),
            (format!("/api/v1/analytics/segments?dimension=channel&{window}"), "/totals/interactions"),
            (format!("/api/v1/analytics/segments?dimension=tag&{window}"), "/totals/customers"),
            ("/api/v1/analytics/rfm".to_owned(), "/customers"),
            ("/api/v1/analytics/cohorts?period=month&from=2000-01-01&to=2060-01-01".to_owned(), "/cohorts/0/size"),
            (
                "/api/v1/analytics/interactions?bucket=month&group_by=kind&from=2000-01-01&to=2060-01-01".to_owned(),
                "/series/0/points",
            ),
            (format!("/api/v1/analytics/basket?{window}"), "/baskets"),
        ]
    };
    let count = |v: Option<&Value>| match v {
        None | Some(Value::Null) => 0,
        Some(Value::Array(points)) => points.iter().map(|p| p["count"].as_i64().unwrap()).sum(),
        Some(n) => n.as_i64().unwrap(),
    };
    let p = rows.pipeline["id"].as_str().unwrap();
    for (path, pointer) in figures(p) {
        let mine: Value = app.get(&path, &owner).await.json().await.unwrap();
        assert!(count(mine.pointer(pointer)) > 0, "{path} counts the workspace's own rows: {mine}");
    }
    for (path, pointer) in figures(other_pipeline["data"][0]["id"].as_str().unwrap()) {
        let res = app.get(&path, &other).await;
        assert_eq!(res.status(), 200, "{path}");
        let theirs: Value = res.json().await.unwrap();
        assert_eq!(count(theirs.pointer(pointer)), 0, "{path} shows foreign rows: {theirs}");
    }
    let c = rows.customer["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/v1/analytics/rfm?customer_id={c}"), &owner).await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/analytics/rfm?customer_id={c}"), &other).await.status(), 404);
}
