use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn api_token_works_until_revoked_on_every_instance() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other_instance = app.second_instance().await;

    let res = app.post("/api/v1/api-tokens", &owner, json!({"name": "import", "role": "member"})).await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().contains_key("location"));
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();

    let me: Value = app.get("/api/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["role"], "member");
    assert_eq!(me["token_kind"], "api");
    let on_other = |t: String| {
        let client = app.client.clone();
        let url = format!("{other_instance}/api/v1/me");
        async move { client.get(url).bearer_auth(t).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(on_other(token.clone()).await, 200);

    // The listing never shows the secret.
    let list: Value = app.get("/api/v1/api-tokens", &owner).await.json().await.unwrap();
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert!(list["data"][0].get("token").is_none());

    assert_eq!(app.delete(&format!("/api/v1/api-tokens/{id}"), &owner).await.status(), 204);
    assert_problem(app.get("/api/v1/me", &token).await, 401, "unauthorized").await;
    // The other instance learns of it through LISTEN/NOTIFY within 5 s.
    let started = Instant::now();
    while on_other(token.clone()).await != 401 {
        assert!(started.elapsed() < Duration::from_secs(5), "still accepted after 5 s on another instance");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list: Value = app.get("/api/v1/api-tokens", &owner).await.json().await.unwrap();
    assert!(list["data"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn a_token_cannot_exceed_its_creators_role() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (admin, _) = app.user_token(&owner, "admin").await;
    let res = app.post("/api/v1/api-tokens", &admin, json!({"name": "x", "role": "owner"})).await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "role");
    let res = app
        .post("/api/v1/api-tokens", &admin, json!({"name": "x", "role": "admin", "expires_at": "2000-01-01T00:00:00Z"}))
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "expires_at");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn another_workspaces_token_id_is_not_found() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other = app.other_workspace().await;
    let created: Value =
        app.post("/api/v1/api-tokens", &owner, json!({"name": "x", "role": "viewer"})).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_problem(app.delete(&format!("/api/v1/api-tokens/{id}"), &other).await, 404, "not_found").await;
    let list: Value = app.get("/api/v1/api-tokens", &other).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // Still valid: the other workspace could not revoke it.
    assert_eq!(
        app.request(Method::GET, "/api/v1/me", Some(created["token"].as_str().unwrap()), None).await.status(),
        200
    );
}
