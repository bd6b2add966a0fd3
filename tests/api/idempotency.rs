use serde_json::{json, Value};

use crate::helpers::*;

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/users"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn replay_returns_the_stored_response_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let body = json!({"email": "m@rapport.test", "name": "M", "password": "password-123", "role": "member"});
    let first = post_with_key(&app, &owner, "key-1", body.clone()).await;
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();
    let again = post_with_key(&app, &owner, "key-1", body.clone()).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(user_count(&app).await, 2);

    // Same key, another body: 409, nothing created.
    let other = json!({"email": "n@rapport.test", "name": "N", "password": "password-123", "role": "member"});
    assert_problem(post_with_key(&app, &owner, "key-1", other.clone()).await, 409, "conflict").await;
    assert_eq!(user_count(&app).await, 2);
    // Another key: a new request.
    assert_eq!(post_with_key(&app, &owner, "key-2", other).await.status(), 201);
    assert_eq!(user_count(&app).await, 3);
}

#[tokio::test]
async fn error_responses_are_replayed_too_and_keys_are_per_workspace() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other = app.other_workspace().await;
    let bad = json!({"email": "nope", "name": "M", "password": "password-123", "role": "member"});
    let a = assert_problem(post_with_key(&app, &owner, "k", bad.clone()).await, 422, "validation_failed").await;
    let res = post_with_key(&app, &owner, "k", bad.clone()).await;
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // The stored body, byte for byte: it even names the first request's id.
    let b: Value = res.json().await.unwrap();
    assert_eq!(a, b);
    // The same key in another workspace is another key.
    let good = json!({"email": "m@rapport.test", "name": "M", "password": "password-123", "role": "member"});
    assert_eq!(post_with_key(&app, &other, "k", good).await.status(), 201);
}

#[tokio::test]
async fn invalid_keys_are_400() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let body = json!({"email": "m@rapport.test", "name": "M", "password": "password-123", "role": "member"});
    let long = "k".repeat(256);
    assert_problem(post_with_key(&app, &owner, &long, body.clone()).await, 400, "malformed_request").await;
    assert_problem(post_with_key(&app, &owner, "", body).await, 400, "malformed_request").await;
    assert_eq!(user_count(&app).await, 1);
}

/// A POST without a body (a report run) honours its key too: the retry gets the first run, and
/// no second run is made.
#[tokio::test]
async fn bodyless_posts_are_replayed_too() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let report = app.post("/api/v1/reports", &owner, json!({"name": "RFM", "kind": "rfm", "params": {}})).await;
    assert_eq!(report.status(), 201);
    let report: Value = report.json().await.unwrap();
    let path = format!("/api/v1/reports/{}/runs", report["id"].as_str().unwrap());
    let run = || app.client.post(app.url(&path)).bearer_auth(&owner).header("idempotency-key", "run-1").send();
    let first = run().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = run().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM report_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(runs, 1);
}
