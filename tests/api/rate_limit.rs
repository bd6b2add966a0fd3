//! The rate limit per principal (`http::rate_limit`): its fields on every `/api/` response,
//! `429` problem+json with `Retry-After` once spent, one budget per API token, per user and per
//! anonymous client address, shared by every instance on the database.

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// An app whose principals may make `requests` per `window_secs`.
async fn limited(requests: u32, window_secs: u32) -> TestApp {
    spawn_app_with(|v| {
        v.insert("RAPPORT_RATE_LIMIT".into(), requests.to_string());
        v.insert("RAPPORT_RATE_LIMIT_WINDOW_SECS".into(), window_secs.to_string());
    })
    .await
}

fn field(res: &Response, name: &str) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_else(|| panic!("no {name} field"))
}

/// `(r, t)` of a `RateLimit` field for the policy `principal`.
fn remaining(res: &Response) -> (u64, u64) {
    let value = field(res, "ratelimit");
    let params = value.strip_prefix("\"principal\";").unwrap_or_else(|| panic!("RateLimit: {value}"));
    let get = |key: &str| -> u64 {
        params
            .split(';')
            .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("RateLimit {value} has no {key}"))
    };
    (get("r"), get("t"))
}

#[tokio::test]
async fn a_principal_gets_its_quota_then_429_with_the_fields() {
    let app = limited(4, 60).await;
    // Logging in is a request of the client address, not of the user.
    let owner = app.owner_token().await;
    for left in (0..4).rev() {
        let res = app.get("/api/v1/customers", &owner).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(field(&res, "ratelimit-policy"), "\"principal\";q=4;w=60");
        let (r, t) = remaining(&res);
        assert_eq!(r, left);
        assert!((1..=60).contains(&t), "t={t}");
    }
    let res = app.get("/api/v1/customers", &owner).await;
    let retry_after: u64 = field(&res, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(field(&res, "ratelimit-policy"), "\"principal\";q=4;w=60");
    assert_eq!(remaining(&res).0, 0);
    assert_problem(res, 429, "rate_limited").await;
    // A refused write changes nothing: it never reached the handler.
    let refused = app.post("/api/v1/customers", &owner, json!({"kind": "person", "name": "Late"})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 0);

    // A path spelled with percent-escapes is the same route, and counts the same.
    let res = app.client.get(app.url("/%61pi/v1/me")).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Health probes and the document are not counted and carry no fields.
    let health = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().get("ratelimit").is_none());
}

#[tokio::test]
async fn each_user_and_each_api_token_has_a_budget_of_its_own() {
    let app = limited(6, 60).await;
    let owner = app.owner_token().await;
    // An API token of the owner, made with the owner's budget (1 of 6).
    let created =
        json_of(app.post("/api/v1/api-tokens", &owner, json!({"name": "script", "role": "member"})).await, 201).await;
    let api_token = created["token"].as_str().unwrap().to_owned();
    let (member, _) = app.user_token(&owner, "member").await; // 2 of 6
    for _ in 0..4 {
        assert_eq!(app.get("/api/v1/me", &owner).await.status(), StatusCode::OK);
    }
    assert_eq!(app.get("/api/v1/me", &owner).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // A second session of the same user shares the budget.
    let again = app.owner_token().await;
    assert_eq!(app.get("/api/v1/me", &again).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another user and the API token are untouched.
    let res = app.get("/api/v1/me", &member).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(remaining(&res).0, 5);
    let res = app.get("/api/v1/me", &api_token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(remaining(&res).0, 5);
}

#[tokio::test]
async fn requests_without_a_valid_token_count_for_the_client_address() {
    let app = limited(3, 60).await;
    let refresh =
        || app.request(reqwest::Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": "x"})));
    for left in (0..3).rev() {
        let res = refresh().await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(remaining(&res).0, left);
    }
    assert_problem(refresh().await, 429, "rate_limited").await;
    // A forged token is no token: it counts for the address too.
    let res = app.get("/api/v1/me", "not-a-token").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn logging_in_counts_for_the_address_even_with_a_token() {
    let app = limited(3, 60).await;
    let owner = app.owner_token().await; // the address's first
    let login = || {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .bearer_auth(&owner)
            .json(&json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD}))
            .send()
    };
    assert_eq!(login().await.unwrap().status(), StatusCode::OK);
    assert_eq!(login().await.unwrap().status(), StatusCode::OK);
    assert_eq!(login().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // The token's own budget is untouched.
    let res = app.get("/api/v1/me", &owner).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(remaining(&res).0, 2);
}

#[tokio::test]
async fn the_limit_holds_across_instances_and_the_window_passes() {
    let app = limited(5, 4).await;
    let owner = app.owner_token().await;
    let other = app.second_instance().await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let base = if i % 2 == 0 { app.address.clone() } else { other.clone() };
        let res = app.client.get(format!("{base}/api/v1/me")).bearer_auth(&owner).send().await.unwrap();
        statuses.push(res.status().as_u16());
        // Each instance learns of the other's requests at its next sync.
        tokio::time::sleep(rapport::http::rate_limit::SYNC_EVERY * 2).await;
    }
    // Five across both instances, not five each (the token's login was the address's).
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 3, "{statuses:?}");
    // The window (4 s from the first request) passes.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let res = app.get("/api/v1/me", &owner).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(remaining(&res).0, 4);
}

#[tokio::test]
async fn off_means_no_fields_and_no_limit() {
    let app = spawn_app().await; // RAPPORT_RATE_LIMIT=0
    let owner = app.owner_token().await;
    for _ in 0..20 {
        let res = app.get("/api/v1/me", &owner).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("ratelimit").is_none() && res.headers().get("ratelimit-policy").is_none());
    }
}
