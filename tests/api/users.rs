use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn users_crud() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": "Ana@Rapport.test", "name": " Ana ", "password": "password-123", "role": "member"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["etag"], "\"1\"");
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["name"], "Ana");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let id = user["id"].as_str().unwrap();
    let path = format!("/api/v1/users/{id}");

    // Case-insensitive unique email.
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": "ana@rapport.TEST", "name": "A2", "password": "password-123", "role": "member"}),
        )
        .await;
    assert_problem(res, 409, "conflict").await;

    let got: Value = app.get(&path, &owner).await.json().await.unwrap();
    assert_eq!(got, user);

    let res = app.patch(&path, &owner, json!({"role": "admin", "name": "Ana B"})).await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["role"], "admin");
    assert_eq!(changed["version"], 2);

    // A stale If-Match is 412, the current one applies.
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["etag"], "\"2\"");
    assert_problem(res, 412, "precondition_failed").await;
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .header("if-match", "\"2\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Password change: the new one logs in.
    assert_eq!(app.patch(&path, &owner, json!({"password": "new-password-9"})).await.status(), 200);
    assert_eq!(app.login("ana@rapport.test", "new-password-9").await.status(), 200);

    let list: Value = app.get("/api/v1/users", &owner).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert!(list["next_cursor"].is_null());

    assert_eq!(app.delete(&path, &owner).await.status(), 204);
    assert_problem(app.get(&path, &owner).await, 404, "not_found").await;
    assert_problem(app.delete(&path, &owner).await, 404, "not_found").await;
}

#[tokio::test]
async fn pages_follow_cursors() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    for i in 0..5 {
        let res = app.post("/api/v1/users", &owner, json!({"email": format!("u{i}@rapport.test"), "name": "U", "password": "password-123", "role": "viewer"})).await;
        assert_eq!(res.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".into(),
        };
        let page: Value = app.get(&path, &owner).await.json().await.unwrap();
        for u in page["data"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 6, "no row twice");

    // A cursor of this workspace means nothing in another.
    let page: Value = app.get("/api/v1/users?limit=2", &owner).await.json().await.unwrap();
    let other = app.other_workspace().await;
    let res = app.get(&format!("/api/v1/users?cursor={}", page["next_cursor"].as_str().unwrap()), &other).await;
    assert_problem(res, 400, "malformed_request").await;
}

#[tokio::test]
async fn the_last_owner_stays() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let me: Value = app.get("/api/v1/me", &owner).await.json().await.unwrap();
    let my_path = format!("/api/v1/users/{}", me["user"]["id"].as_str().unwrap());
    assert_problem(app.patch(&my_path, &owner, json!({"role": "admin"})).await, 409, "conflict").await;
    assert_problem(app.patch(&my_path, &owner, json!({"disabled": true})).await, 409, "conflict").await;
    assert_problem(app.delete(&my_path, &owner).await, 409, "conflict").await;

    // An admin cannot touch owners nor make one.
    let (admin, _) = app.user_token(&owner, "admin").await;
    assert_problem(app.patch(&my_path, &admin, json!({"name": "x"})).await, 403, "forbidden").await;
    let (_, member) = app.user_token(&owner, "member").await;
    let member_path = format!("/api/v1/users/{}", member["id"].as_str().unwrap());
    assert_problem(app.patch(&member_path, &admin, json!({"role": "owner"})).await, 403, "forbidden").await;
    assert_eq!(app.patch(&member_path, &admin, json!({"role": "viewer"})).await.status(), 200);

    // With a second owner, the first may step down.
    assert_eq!(app.patch(&member_path, &owner, json!({"role": "owner"})).await.status(), 200);
    assert_eq!(app.patch(&my_path, &owner, json!({"role": "admin"})).await.status(), 200);
}

#[tokio::test]
async fn another_workspaces_user_is_not_found() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other = app.other_workspace().await;
    let (_, member) = app.user_token(&owner, "member").await;
    let path = format!("/api/v1/users/{}", member["id"].as_str().unwrap());
    assert_problem(app.get(&path, &other).await, 404, "not_found").await;
    assert_problem(app.patch(&path, &other, json!({"name": "stolen"})).await, 404, "not_found").await;
    assert_problem(app.delete(&path, &other).await, 404, "not_found").await;
    let still: Value = app.get(&path, &owner).await.json().await.unwrap();
    assert_eq!(still["name"], "member");
}

/// A user who moved deals, logged interactions and owns customers can be removed: the deal
/// history it wrote stays, unsigned (it was a 500: the history refused the unsigning).
#[tokio::test]
async fn a_removed_user_leaves_its_history_unsigned() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (member, user) = app.user_token(&owner, "member").await;
    let user_id = user["id"].as_str().unwrap();
    let customer: Value = app
        .post("/api/v1/customers", &member, json!({"name": "Kept", "owner_id": user_id}))
        .await
        .json()
        .await
        .unwrap();
    let pipelines: Value = app.get("/api/v1/pipelines", &member).await.json().await.unwrap();
    let pipeline = &pipelines["data"][0];
    let deal: Value = app
        .post(
            "/api/v1/deals",
            &member,
            json!({"pipeline_id": pipeline["id"], "customer_id": customer["id"], "title": "T"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/deals/{}", deal["id"].as_str().unwrap());
    let moved = app.patch(&path, &member, json!({"stage_id": pipeline["stages"][1]["id"]})).await;
    assert_eq!(moved.status(), 200);

    assert_eq!(app.delete(&format!("/api/v1/users/{user_id}"), &owner).await.status(), 204);
    let history: Value = app.get(&format!("{path}/history"), &owner).await.json().await.unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert!(history.as_array().unwrap().iter().all(|e| e["user_id"].is_null()), "{history}");
    let kept: Value =
        app.get(&format!("/api/v1/customers/{}", customer["id"].as_str().unwrap()), &owner).await.json().await.unwrap();
    assert!(kept["owner_id"].is_null());
}
