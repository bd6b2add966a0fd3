use std::time::Instant;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn login_then_me() {
    let app = spawn_app().await;
    let pair = app.tokens(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let res = app.get("/api/v1/me", pair["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"]["email"], OWNER_EMAIL);
    assert_eq!(me["role"], "owner");
    assert_eq!(me["workspace"]["name"], "Rapport");
    assert!(me["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn email_lookup_is_case_insensitive() {
    let app = spawn_app().await;
    let res = app.login(&OWNER_EMAIL.to_uppercase(), OWNER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_email_and_wrong_password_look_the_same() {
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_LOGIN_MAX_FAILURES".into(), "100".into());
        v.insert("RAPPORT_LOGIN_MAX_FAILURES_PER_IP".into(), "100".into());
    })
    .await;
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let a = assert_problem(app.login("nobody@rapport.test", "whatever-123").await, 401, "unauthorized").await;
        unknown.push(t.elapsed());
        let t = Instant::now();
        let b = assert_problem(app.login(OWNER_EMAIL, "not-the-password").await, 401, "unauthorized").await;
        wrong.push(t.elapsed());
        assert_eq!(a["detail"], b["detail"]);
    }
    // The unknown email is checked against a dummy hash: it costs a password verification too.
    let (u, w) = (unknown.iter().min().unwrap(), wrong.iter().min().unwrap());
    assert!(u.as_secs_f64() > w.as_secs_f64() * 0.5, "unknown email {u:?} vs wrong password {w:?}");
}

#[tokio::test]
async fn an_email_with_a_nul_is_just_unknown() {
    let app = spawn_app().await;
    assert_problem(app.login("a\u{0}b@rapport.test", "whatever-123").await, 401, "unauthorized").await;
}

#[tokio::test]
async fn repeated_failures_are_throttled() {
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_LOGIN_MAX_FAILURES".into(), "3".into());
    })
    .await;
    for _ in 0..3 {
        assert_problem(app.login(OWNER_EMAIL, "wrong-password").await, 401, "unauthorized").await;
    }
    let res = app.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    assert_problem(res, 429, "rate_limited").await;
}

/// The failures are counted in the database: those made on one instance count on another, and
/// the window is the same for both.
#[tokio::test]
async fn the_login_throttle_holds_across_instances() {
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_LOGIN_MAX_FAILURES".into(), "3".into());
        v.insert("RAPPORT_LOGIN_WINDOW_SECS".into(), "60".into());
    })
    .await;
    let other = app.second_instance().await;
    let login_there = |password: &'static str| {
        app.client
            .post(format!("{other}/api/v1/auth/login"))
            .json(&json!({"email": OWNER_EMAIL, "password": password}))
            .send()
    };
    assert_problem(app.login(OWNER_EMAIL, "wrong-password").await, 401, "unauthorized").await;
    assert_problem(login_there("wrong-password").await.unwrap(), 401, "unauthorized").await;
    assert_problem(app.login(OWNER_EMAIL, "wrong-password").await, 401, "unauthorized").await;
    for res in [login_there(OWNER_PASSWORD).await.unwrap(), app.login(OWNER_EMAIL, OWNER_PASSWORD).await] {
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_problem(res, 429, "rate_limited").await;
    }
    // Once the window is over (moved into the past here), the right password works again, on
    // either instance; a success clears the email's count.
    sqlx::query("UPDATE login_failures SET started_at = started_at - interval '61 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(login_there(OWNER_PASSWORD).await.unwrap().status(), 200);
    assert_problem(app.login(OWNER_EMAIL, "wrong-password").await, 401, "unauthorized").await;
    assert_eq!(app.login(OWNER_EMAIL, OWNER_PASSWORD).await.status(), 200);
}

/// Failures from one address count whatever the email, up to their own limit.
#[tokio::test]
async fn failures_from_one_address_are_throttled() {
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_LOGIN_MAX_FAILURES".into(), "100".into());
        v.insert("RAPPORT_LOGIN_MAX_FAILURES_PER_IP".into(), "2".into());
    })
    .await;
    assert_problem(app.login("nobody@rapport.test", "wrong-password").await, 401, "unauthorized").await;
    assert_problem(app.login("nobody-else@rapport.test", "wrong-password").await, 401, "unauthorized").await;
    assert_problem(app.login(OWNER_EMAIL, OWNER_PASSWORD).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.tokens(OWNER_EMAIL, OWNER_PASSWORD).await;
    let r1 = first["refresh_token"].clone();
    let res = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": r1}))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].clone();
    assert_ne!(r1, r2);
    assert_eq!(app.get("/api/v1/me", second["access_token"].as_str().unwrap()).await.status(), 200);

    // Reusing the spent token: refused, and the whole family with it.
    let res = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": r1}))).await;
    assert_problem(res, 401, "unauthorized").await;
    let res = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": r2}))).await;
    assert_problem(res, 401, "unauthorized").await;

    // Another login is another family, untouched.
    let other = app.tokens(OWNER_EMAIL, OWNER_PASSWORD).await;
    let res = app
        .request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": other["refresh_token"]})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let pair = app.tokens(OWNER_EMAIL, OWNER_PASSWORD).await;
    let body = json!({"refresh_token": pair["refresh_token"]});
    let res = app.request(Method::POST, "/api/v1/auth/logout", None, Some(body.clone())).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(body)).await;
    assert_problem(res, 401, "unauthorized").await;
    let res = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": "garbage"}))).await;
    assert_problem(res, 401, "unauthorized").await;
}

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "sub": uuid::Uuid::now_v7(), "ws": uuid::Uuid::now_v7(), "role": "owner",
        "iat": now, "exp": now + 600, "iss": "rapport", "aud": "rapport-api",
        "jti": uuid::Uuid::now_v7(), "kind": "access"
    });
    for (k, v) in overrides.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn assert_rejected(app: &TestApp, token: &str, why: &str) {
    let res = app.get("/api/v1/me", token).await;
    assert_eq!(res.status(), 401, "{why}");
    let challenge = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{why}: WWW-Authenticate");
    assert_problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn bad_tokens_are_401_with_a_challenge() {
    use base64::Engine;
    let app = spawn_app().await;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = chrono::Utc::now().timestamp();

    // A genuine token, to tamper with.
    let good = app.owner_token().await;
    assert_eq!(app.get("/api/v1/me", &good).await.status(), 200);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
    let mut payload: Value = serde_json::from_slice(&payload).unwrap();
    payload["role"] = json!("owner");
    payload["exp"] = json!(now + 100_000);
    parts[1] = b64(&payload);
    assert_rejected(&app, &parts.join("."), "tampered payload").await;

    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims(json!({}))));
    assert_rejected(&app, &none, "alg none").await;
    assert_rejected(&app, &sign(Algorithm::HS512, JWT_SECRET, &claims(json!({}))), "HS512").await;
    assert_rejected(
        &app,
        &sign(Algorithm::HS256, "another-secret-0123456789abcdef0123", &claims(json!({}))),
        "other key",
    )
    .await;
    let expired = claims(json!({"iat": now - 3600, "exp": now - 120}));
    assert_rejected(&app, &sign(Algorithm::HS256, JWT_SECRET, &expired), "expired").await;
    assert_rejected(&app, &sign(Algorithm::HS256, JWT_SECRET, &claims(json!({"iss": "someone-else"}))), "iss").await;
    assert_rejected(&app, &sign(Algorithm::HS256, JWT_SECRET, &claims(json!({"aud": "another-api"}))), "aud").await;
    assert_rejected(&app, "not-a-jwt", "garbage").await;
    let res = app.request(Method::GET, "/api/v1/me", None, None).await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn viewer_cannot_write() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (viewer, _) = app.user_token(&owner, "viewer").await;
    assert_eq!(app.get("/api/v1/users", &viewer).await.status(), 200, "a viewer reads");
    let res = app
        .post(
            "/api/v1/users",
            &viewer,
            json!({"email": "x@rapport.test", "name": "X", "password": "password-123", "role": "viewer"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app.patch("/api/v1/workspace", &viewer, json!({"name": "Mine"})).await;
    assert_problem(res, 403, "forbidden").await;
    let res = app.post("/api/v1/api-tokens", &viewer, json!({"name": "t", "role": "viewer"})).await;
    assert_problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn sign_up_creates_a_separate_workspace() {
    let app = spawn_app().await;
    let other = app.other_workspace().await;
    let me: Value = app.get("/api/v1/me", &other).await.json().await.unwrap();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["workspace"]["name"], "Other");
    let owner = app.owner_token().await;
    let mine: Value = app.get("/api/v1/me", &owner).await.json().await.unwrap();
    assert_ne!(me["workspace"]["id"], mine["workspace"]["id"]);
    let users: Value = app.get("/api/v1/users", &other).await.json().await.unwrap();
    assert_eq!(users["data"].as_array().unwrap().len(), 1, "sees only its own users");
}

#[tokio::test]
async fn sign_up_is_refused_when_disabled() {
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_ALLOW_SIGNUP".into(), "false".into());
    })
    .await;
    let res = app
        .request(
            Method::POST,
            "/api/v1/workspaces",
            None,
            Some(json!({"workspace_name": "W", "email": "w@rapport.test", "password": "password-123", "name": "W"})),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn disabled_user_cannot_log_in_or_refresh() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let email = "member@rapport.test";
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": email, "name": "M", "password": "password-123", "role": "member"}),
        )
        .await;
    let user: Value = res.json().await.unwrap();
    let pair = app.tokens(email, "password-123").await;
    let res =
        app.patch(&format!("/api/v1/users/{}", user["id"].as_str().unwrap()), &owner, json!({"disabled": true})).await;
    assert_eq!(res.status(), 200);
    assert_problem(app.login(email, "password-123").await, 401, "unauthorized").await;
    let res = app
        .request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": pair["refresh_token"]})))
        .await;
    assert_problem(res, 401, "unauthorized").await;
}
