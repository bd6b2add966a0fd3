use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_new_workspace_has_the_default_channels() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let list: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let mut kinds: Vec<&str> = list["data"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["chat", "email", "fax", "in_person", "mms", "phone", "sms", "social", "web"]);
    assert!(list["data"].as_array().unwrap().iter().all(|c| c["active"] == true));
    let other = app.other_workspace().await;
    let theirs: Value = app.get("/api/v1/channels", &other).await.json().await.unwrap();
    assert_eq!(theirs["data"].as_array().unwrap().len(), 9);
    assert!(theirs["data"].as_array().unwrap().iter().all(|c| !list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == c["id"])));
}

#[tokio::test]
async fn channels_crud_and_rules() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (member, _) = app.user_token(&owner, "member").await;
    let body = json!({"kind": "other", "name": "Carrier pigeon", "config": {"loft": 3}});
    assert_problem(app.post("/api/v1/channels", &member, body.clone()).await, 403, "forbidden").await;
    let res = app.post("/api/v1/channels", &owner, body).await;
    assert_eq!(res.status(), 201);
    let ch: Value = res.json().await.unwrap();
    assert_eq!(ch["active"], true);
    assert_eq!(ch["config"]["loft"], 3);
    let path = format!("/api/v1/channels/{}", ch["id"].as_str().unwrap());
    let res = app.patch(&path, &owner, json!({"name": "Pigeon", "config": {"loft": null, "color": "grey"}})).await;
    assert_eq!(res.status(), 200);
    let ch: Value = res.json().await.unwrap();
    assert_eq!(ch["name"], "Pigeon");
    assert_eq!(ch["config"], json!({"color": "grey"}));
    assert_eq!(ch["version"], 2);
    assert_problem(app.patch(&path, &owner, json!({"kind": "telepathy"})).await, 422, "validation_failed").await;
    assert_problem(app.patch(&path, &owner, json!({"name": null})).await, 422, "validation_failed").await;

    // A channel with interactions cannot go; deactivated, it takes no new ones.
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "C"})).await.json().await.unwrap();
    let res = app
        .post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": customer["id"], "channel_id": ch["id"], "direction": "inbound", "kind": "message"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_problem(app.delete(&path, &owner).await, 409, "conflict").await;
    assert_eq!(app.patch(&path, &owner, json!({"active": false})).await.status(), 200);
    let res = app
        .post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": customer["id"], "channel_id": ch["id"], "direction": "inbound", "kind": "message"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "channel_id");

    // An unused channel can go.
    let spare: Value =
        app.post("/api/v1/channels", &owner, json!({"kind": "web", "name": "Spare"})).await.json().await.unwrap();
    let spare_path = format!("/api/v1/channels/{}", spare["id"].as_str().unwrap());
    assert_eq!(app.delete(&spare_path, &owner).await.status(), 204);
    assert_problem(app.get(&spare_path, &owner).await, 404, "not_found").await;
}
