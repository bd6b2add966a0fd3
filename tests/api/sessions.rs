//! A user's tokens follow the user: deleted, disabled, demoted or with a new password, every
//! token issued before stops working (or acts with the new role), on every instance within
//! 5 s, and no request fails with a 500 because its user vanished.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// An admin of the workspace: its access token, refresh token, an API token it made, its id.
struct Admin {
    access: String,
    refresh: String,
    api: String,
    id: String,
    email: String,
}

async fn admin(app: &TestApp, owner: &str) -> Admin {
    let email = format!("admin-{}@rapport.test", uuid::Uuid::new_v4().simple());
    let res = app
        .post(
            "/api/v1/users",
            owner,
            json!({"email": email, "name": "Ad Min", "password": "password-123", "role": "admin"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let user: Value = res.json().await.unwrap();
    let pair = app.tokens(&email, "password-123").await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let created: Value =
        app.post("/api/v1/api-tokens", &access, json!({"name": "sync", "role": "admin"})).await.json().await.unwrap();
    Admin {
        access,
        refresh: pair["refresh_token"].as_str().unwrap().to_owned(),
        api: created["token"].as_str().unwrap().to_owned(),
        id: user["id"].as_str().unwrap().to_owned(),
        email,
    }
}

/// Every kind of route a token reaches: reads, writes, admin writes, the caller.
async fn statuses(app: &TestApp, token: &str) -> Vec<u16> {
    let email = format!("new-{}@rapport.test", uuid::Uuid::new_v4().simple());
    vec![
        app.get("/api/v1/me", token).await.status().as_u16(),
        app.get("/api/v1/customers", token).await.status().as_u16(),
        app.post("/api/v1/customers", token, json!({"name": "Probe"})).await.status().as_u16(),
        app.post(
            "/api/v1/users",
            token,
            json!({"email": email, "name": "New", "password": "password-123", "role": "admin"}),
        )
        .await
        .status()
        .as_u16(),
        app.post("/api/v1/api-tokens", token, json!({"name": "more", "role": "viewer"})).await.status().as_u16(),
        app.post("/api/v1/channels", token, json!({"kind": "other", "name": "Probe"})).await.status().as_u16(),
    ]
}

async fn refresh(app: &TestApp, refresh_token: &str) -> u16 {
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token})))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_deleted_users_tokens_stop_everywhere_and_nothing_500s() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let a = admin(&app, &owner).await;
    assert_eq!(statuses(&app, &a.access).await, [200, 200, 201, 201, 201, 201]);
    assert_eq!(statuses(&app, &a.api).await, [200, 200, 201, 201, 201, 201]);

    let users =
        || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap() };
    let before = users().await;
    assert_eq!(app.delete(&format!("/api/v1/users/{}", a.id), &owner).await.status(), 204);
    for token in [&a.access, &a.api] {
        assert_eq!(statuses(&app, token).await, [401; 6], "every route refuses a deleted user's token");
    }
    let body = assert_problem(app.get("/api/v1/customers", &a.access).await, 401, "unauthorized").await;
    assert!(body["detail"].as_str().unwrap().contains("no longer exists"), "{body}");
    assert_eq!(refresh(&app, &a.refresh).await, 401);
    // The API token the user made shows as revoked; no admin was made by the dead token.
    let tokens: Value = app.get("/api/v1/api-tokens", &owner).await.json().await.unwrap();
    assert!(tokens["data"].as_array().unwrap().iter().all(|t| t["revoked_at"].is_string()), "{tokens}");
    assert_eq!(users().await, before - 1, "the dead tokens made no user");
}

#[tokio::test]
async fn a_disabled_user_cannot_re_enable_itself_and_old_tokens_stay_dead() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let a = admin(&app, &owner).await;
    let me = format!("/api/v1/users/{}", a.id);
    assert_eq!(app.patch(&me, &owner, json!({"disabled": true})).await.status(), 200);
    assert_problem(app.patch(&me, &a.access, json!({"disabled": false})).await, 401, "unauthorized").await;
    assert_problem(app.patch(&me, &a.api, json!({"disabled": false})).await, 401, "unauthorized").await;
    assert_eq!(statuses(&app, &a.access).await, [401; 6]);
    assert_eq!(statuses(&app, &a.api).await, [401; 6]);
    assert_eq!(refresh(&app, &a.refresh).await, 401);
    assert_eq!(app.login(&a.email, "password-123").await.status(), 401);

    // Enabled again: a new login works; what was issued before the disabling does not.
    assert_eq!(app.patch(&me, &owner, json!({"disabled": false})).await.status(), 200);
    assert_eq!(statuses(&app, &a.access).await, [401; 6]);
    assert_eq!(statuses(&app, &a.api).await, [401; 6]);
    let fresh = app.tokens(&a.email, "password-123").await;
    assert_eq!(app.get("/api/v1/me", fresh["access_token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn a_new_role_applies_at_once_to_sessions_and_caps_api_tokens() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let a = admin(&app, &owner).await;
    let me = format!("/api/v1/users/{}", a.id);
    assert_eq!(app.patch(&me, &owner, json!({"role": "viewer"})).await.status(), 200);
    // Demoted: reads pass, every write is now forbidden, for the session and the API token.
    for token in [&a.access, &a.api] {
        assert_eq!(statuses(&app, token).await, [200, 200, 403, 403, 403, 403]);
        let who: Value = app.get("/api/v1/me", token).await.json().await.unwrap();
        assert_eq!(who["role"], "viewer", "{who}");
    }
    assert_eq!(app.patch(&me, &owner, json!({"role": "member"})).await.status(), 200);
    assert_eq!(statuses(&app, &a.access).await, [200, 200, 201, 403, 403, 403]);
    assert_eq!(statuses(&app, &a.api).await, [200, 200, 201, 403, 403, 403], "capped at member");
    // Back to admin: the API token acts with its own role again; the session was kept.
    assert_eq!(app.patch(&me, &owner, json!({"role": "admin"})).await.status(), 200);
    assert_eq!(statuses(&app, &a.api).await, [200, 200, 201, 201, 201, 201]);
    assert_eq!(refresh(&app, &a.refresh).await, 200);
}

#[tokio::test]
async fn a_new_password_ends_sessions_and_api_tokens() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let a = admin(&app, &owner).await;
    let me = format!("/api/v1/users/{}", a.id);
    assert_eq!(app.patch(&me, &owner, json!({"password": "another-password"})).await.status(), 200);
    let body = assert_problem(app.get("/api/v1/me", &a.access).await, 401, "unauthorized").await;
    assert!(body["detail"].as_str().unwrap().contains("session has ended"), "{body}");
    assert_eq!(statuses(&app, &a.api).await, [401; 6]);
    assert_eq!(refresh(&app, &a.refresh).await, 401);
    let fresh = app.tokens(&a.email, "another-password").await;
    assert_eq!(statuses(&app, fresh["access_token"].as_str().unwrap()).await, [200, 200, 201, 201, 201, 201]);
    // A change that is not about credentials keeps sessions.
    let access = fresh["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.patch(&me, &owner, json!({"name": "Renamed"})).await.status(), 200);
    assert_eq!(app.get("/api/v1/me", &access).await.status(), 200);
}

#[tokio::test]
async fn other_instances_learn_of_a_user_change_within_five_seconds() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other = app.second_instance().await;
    let on_other = |path: &'static str, token: String| {
        let client = app.client.clone();
        let url = format!("{other}{path}");
        async move { client.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    let demoted = admin(&app, &owner).await;
    let disabled = admin(&app, &owner).await;
    let deleted = admin(&app, &owner).await;
    // The other instance has seen each of them (and keeps what it saw).
    for a in [&demoted, &disabled, &deleted] {
        assert_eq!(on_other("/api/v1/api-tokens", a.access.clone()).await, 200);
        assert_eq!(on_other("/api/v1/api-tokens", a.api.clone()).await, 200);
    }
    let changed = Instant::now();
    let path = |a: &Admin| format!("/api/v1/users/{}", a.id);
    assert_eq!(app.patch(&path(&demoted), &owner, json!({"role": "viewer"})).await.status(), 200);
    assert_eq!(app.patch(&path(&disabled), &owner, json!({"disabled": true})).await.status(), 200);
    assert_eq!(app.delete(&path(&deleted), &owner).await.status(), 204);
    let expected = [
        (demoted.access.clone(), 403),
        (demoted.api.clone(), 403),
        (disabled.access.clone(), 401),
        (disabled.api.clone(), 401),
        (deleted.access.clone(), 401),
        (deleted.api.clone(), 401),
    ];
    for (token, status) in expected {
        while on_other("/api/v1/api-tokens", token.clone()).await != status {
            assert!(changed.elapsed() < Duration::from_secs(5), "the other instance still lets it through after 5 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A request whose user is removed while it runs meets the removal in the database (a foreign
/// key to the user): a conflict, never a 500.
#[tokio::test]
async fn a_user_removed_mid_request_is_a_conflict_not_a_500() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let customer: Value =
        app.post("/api/v1/customers", &owner, json!({"name": "Mid Flight"})).await.json().await.unwrap();
    let pipeline: Value = app.get("/api/v1/pipelines", &owner).await.json().await.unwrap();
    let pipeline_id = pipeline["data"][0]["id"].as_str().unwrap().to_owned();
    let writes: Vec<(&str, Value)> = vec![
        ("/api/v1/api-tokens", json!({"name": "late", "role": "viewer"})),
        (
            "/api/v1/deals",
            json!({"pipeline_id": pipeline_id, "customer_id": customer["id"], "title": "Late deal", "amount_cents": 0}),
        ),
    ];
    for (path, body) in writes {
        let a = admin(&app, &owner).await;
        // The removal holds the user's row until it commits; the request, already past
        // authentication, waits on it to check its foreign key.
        let mut removal = app.pool.begin().await.unwrap();
        sqlx::query("DELETE FROM users WHERE id = $1::uuid").bind(&a.id).execute(&mut *removal).await.unwrap();
        let request = app.post(path, &a.access, body);
        let commit = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            removal.commit().await.unwrap();
        };
        let (res, ()) = tokio::join!(request, commit);
        assert_problem(res, 409, "conflict").await;
    }
}
