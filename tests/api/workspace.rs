use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn owner_changes_the_workspace() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = app.get("/api/v1/workspace", &owner).await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    let ws: Value = res.json().await.unwrap();
    assert_eq!(ws["currency"], "EUR");
    assert_eq!(ws["timezone"], "UTC");
    let res = app
        .patch("/api/v1/workspace", &owner, json!({"name": "Acme", "timezone": "America/Sao_Paulo", "currency": "BRL"}))
        .await;
    assert_eq!(res.status(), 200);
    let ws: Value = res.json().await.unwrap();
    assert_eq!(
        (ws["name"].as_str(), ws["timezone"].as_str(), ws["currency"].as_str()),
        (Some("Acme"), Some("America/Sao_Paulo"), Some("BRL"))
    );
    assert_eq!(ws["version"], 2);

    let res = app.patch("/api/v1/workspace", &owner, json!({"timezone": "Mars/Olympus", "currency": "euro"})).await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    let res = app
        .client
        .patch(app.url("/api/v1/workspace"))
        .bearer_auth(&owner)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "B"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 412, "precondition_failed").await;
    let ws: Value = app.get("/api/v1/workspace", &owner).await.json().await.unwrap();
    assert_eq!(ws["name"], "Acme");
}

#[tokio::test]
async fn only_the_owner_changes_the_workspace() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (admin, _) = app.user_token(&owner, "admin").await;
    assert_problem(app.patch("/api/v1/workspace", &admin, json!({"name": "Mine"})).await, 403, "forbidden").await;
}

/// Every time zone a workspace may take is one PostgreSQL knows: the analytics compute local
/// days with `AT TIME ZONE`.
#[tokio::test]
async fn every_time_zone_offered_is_known_to_postgresql() {
    let app = spawn_app().await;
    let zones: Vec<String> = rapport::domain::timezones().map(str::to_owned).collect();
    assert!(zones.len() > 400);
    let unknown: Vec<String> =
        sqlx::query_scalar("SELECT z FROM unnest($1::text[]) AS z WHERE z NOT IN (SELECT name FROM pg_timezone_names)")
            .bind(&zones)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
}
