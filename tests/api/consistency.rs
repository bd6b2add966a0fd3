//! Rules that hold across resources: a customer's rows follow its soft delete; a change that
//! changes nothing keeps the version (and the ETag, and `updated_at`); one rule for an instant
//! given as a bare date in every filter.

use serde_json::{json, Value};

use crate::helpers::*;

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_soft_deleted_customers_deals_and_interactions_follow_it() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let gone: Value = json_of(app.post("/api/v1/customers", &owner, json!({"name": "Gone"})).await).await;
    let kept: Value = json_of(app.post("/api/v1/customers", &owner, json!({"name": "Kept"})).await).await;
    let pipelines: Value = json_of(app.get("/api/v1/pipelines", &owner).await).await;
    let channels: Value = json_of(app.get("/api/v1/channels", &owner).await).await;
    let (pipeline, channel) = (pipelines["data"][0]["id"].clone(), channels["data"][0]["id"].clone());
    let mut deals = Vec::new();
    let mut interactions = Vec::new();
    for c in [&gone, &kept] {
        let d: Value = json_of(
            app.post("/api/v1/deals", &owner, json!({"pipeline_id": pipeline, "customer_id": c["id"], "title": "D"}))
                .await,
        )
        .await;
        let i: Value = json_of(
            app.post(
                "/api/v1/interactions",
                &owner,
                json!({"customer_id": c["id"], "channel_id": channel, "direction": "inbound", "kind": "call",
                       "external_id": format!("ext-{}", c["name"].as_str().unwrap())}),
            )
            .await,
        )
        .await;
        deals.push(d["id"].as_str().unwrap().to_owned());
        interactions.push(i["id"].as_str().unwrap().to_owned());
    }
    let visible = |list: Value| -> Vec<String> {
        list["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    let gone_path = format!("/api/v1/customers/{}", gone["id"].as_str().unwrap());
    assert_eq!(app.delete(&gone_path, &owner).await.status(), 204);

    // Hidden while deleted: lists, lookups, history, changes, deletion.
    assert_eq!(visible(json_of(app.get("/api/v1/deals", &owner).await).await), [deals[1].clone()]);
    assert_eq!(visible(json_of(app.get("/api/v1/interactions", &owner).await).await), [interactions[1].clone()]);
    let filtered = format!("/api/v1/deals?customer_id={}", gone["id"].as_str().unwrap());
    assert_eq!(visible(json_of(app.get(&filtered, &owner).await).await), Vec::<String>::new());
    for path in [
        format!("/api/v1/deals/{}", deals[0]),
        format!("/api/v1/deals/{}/history", deals[0]),
        format!("/api/v1/interactions/{}", interactions[0]),
    ] {
        assert_problem(app.get(&path, &owner).await, 404, "not_found").await;
    }
    let deal_path = format!("/api/v1/deals/{}", deals[0]);
    let interaction_path = format!("/api/v1/interactions/{}", interactions[0]);
    assert_problem(app.patch(&deal_path, &owner, json!({"title": "X"})).await, 404, "not_found").await;
    assert_problem(app.patch(&interaction_path, &owner, json!({"subject": "X"})).await, 404, "not_found").await;
    assert_problem(app.delete(&deal_path, &owner).await, 404, "not_found").await;
    assert_problem(app.delete(&interaction_path, &owner).await, 404, "not_found").await;
    // Replaying its external id neither shows the hidden interaction nor makes a second one.
    let replay = app
        .post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": kept["id"], "channel_id": channel, "direction": "inbound", "kind": "call",
                   "external_id": "ext-Gone"}),
        )
        .await;
    assert_problem(replay, 409, "conflict").await;

    // Back when restored, unchanged.
    assert_eq!(app.post(&format!("{gone_path}/restore"), &owner, json!({})).await.status(), 200);
    let mut all_deals = visible(json_of(app.get("/api/v1/deals", &owner).await).await);
    all_deals.sort();
    let mut expected = deals.clone();
    expected.sort();
    assert_eq!(all_deals, expected);
    let deal: Value = json_of(app.get(&deal_path, &owner).await).await;
    assert_eq!((deal["title"].as_str(), deal["version"].as_i64()), (Some("D"), Some(1)));
    assert_eq!(app.get(&interaction_path, &owner).await.status(), 200);
    assert_eq!(app.get(&format!("{deal_path}/history"), &owner).await.status(), 200);
}

/// Every PATCH of the API: called with `{}` and with the values the resource already has, it
/// answers the resource unchanged (same version, ETag and `updated_at`); a real change bumps.
#[tokio::test]
async fn a_change_that_changes_nothing_keeps_the_version() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let customer: Value = json_of(
        app.post(
            "/api/v1/customers",
            &owner,
            json!({"name": "Same", "email": "same@example.org", "tags": ["a", "b"], "attributes": {"k": {"n": 1}}}),
        )
        .await,
    )
    .await;
    let channels: Value = json_of(app.get("/api/v1/channels", &owner).await).await;
    let pipelines: Value = json_of(app.get("/api/v1/pipelines", &owner).await).await;
    let pipeline = &pipelines["data"][0];
    let stage = &pipeline["stages"][1];
    let deal: Value = json_of(
        app.post(
            "/api/v1/deals",
            &owner,
            json!({"pipeline_id": pipeline["id"], "customer_id": customer["id"], "title": "Deal", "amount_cents": 500}),
        )
        .await,
    )
    .await;
    let interaction: Value = json_of(
        app.post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": customer["id"], "channel_id": channels["data"][0]["id"], "direction": "inbound",
                   "kind": "purchase", "value_cents": 5, "items": ["x"], "metadata": {"a": [1, 2]}}),
        )
        .await,
    )
    .await;
    let (_, user) = app.user_token(&owner, "member").await;
    let workspace: Value = json_of(app.get("/api/v1/workspace", &owner).await).await;

    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    // (path, its current resource, the same values written again, a real change)
    let cases: Vec<(String, Value, Value, Value)> = vec![
        (
            format!("/api/v1/customers/{}", id(&customer)),
            customer.clone(),
            json!({"name": "Same", "email": "same@example.org", "tags": ["a", "b"], "attributes": {"k": {"n": 1}}}),
            json!({"city": "Bern"}),
        ),
        (
            format!("/api/v1/deals/{}", id(&deal)),
            deal.clone(),
            json!({"title": "Deal", "amount_cents": 500, "stage_id": deal["stage_id"]}),
            json!({"amount_cents": 501}),
        ),
        (
            format!("/api/v1/interactions/{}", id(&interaction)),
            interaction.clone(),
            json!({"kind": "purchase", "value_cents": 5, "items": ["x"], "metadata": {"a": [1, 2]}}),
            json!({"subject": "Receipt"}),
        ),
        (
            format!("/api/v1/channels/{}", id(&channels["data"][0])),
            channels["data"][0].clone(),
            json!({"name": channels["data"][0]["name"], "active": true}),
            json!({"name": "Mail"}),
        ),
        (
            format!("/api/v1/pipelines/{}", id(pipeline)),
            pipeline.clone(),
            json!({"name": pipeline["name"]}),
            json!({"name": "Sales two"}),
        ),
        (
            format!("/api/v1/users/{}", id(&user)),
            user.clone(),
            json!({"name": user["name"], "role": "member", "disabled": false}),
            json!({"name": "Renamed"}),
        ),
        (
            "/api/v1/workspace".into(),
            workspace.clone(),
            json!({"timezone": "UTC", "currency": "EUR"}),
            json!({"name": "W"}),
        ),
    ];
    for (path, before, same, change) in cases {
        for patch in [json!({}), same] {
            let res = app.patch(&path, &owner, patch.clone()).await;
            assert_eq!(res.status(), 200, "{path} {patch}");
            let etag = res.headers()["etag"].to_str().unwrap().to_owned();
            let after: Value = res.json().await.unwrap();
            assert_eq!(after["version"], before["version"], "{path} {patch}");
            assert_eq!(after["updated_at"], before["updated_at"], "{path} {patch}");
            assert_eq!(etag, format!("\"{}\"", before["version"]), "{path}");
            // A client holding the old ETag is not refused.
            let again = app
                .client
                .patch(app.url(&path))
                .bearer_auth(&owner)
                .header("if-match", etag.as_str())
                .json(&patch)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), 200, "{path}");
        }
        let changed: Value = json_of(app.patch(&path, &owner, change.clone()).await).await;
        assert_eq!(changed["version"].as_i64(), before["version"].as_i64().map(|v| v + 1), "{path} {change}");
        assert_ne!(changed["updated_at"], before["updated_at"], "{path}");
    }
    // A stage patched with its own values leaves its pipeline's version alone.
    let stage_path = format!("/api/v1/pipelines/{}/stages/{}", id(pipeline), id(stage));
    let p: Value = json_of(app.get(&format!("/api/v1/pipelines/{}", id(pipeline)), &owner).await).await;
    let same: Value = json_of(
        app.patch(
            &stage_path,
            &owner,
            json!({"name": stage["name"], "kind": stage["kind"], "probability": stage["probability"]}),
        )
        .await,
    )
    .await;
    assert_eq!(same["version"], p["version"]);
    let order: Vec<Value> = p["stages"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    let reordered: Value = json_of(
        app.request(
            reqwest::Method::PUT,
            &format!("/api/v1/pipelines/{}/stages/order", id(pipeline)),
            Some(&owner),
            Some(json!({"stage_ids": order})),
        )
        .await,
    )
    .await;
    assert_eq!(reordered["version"], p["version"], "the same order is no change");
    let moved: Value = json_of(app.patch(&stage_path, &owner, json!({"probability": 33})).await).await;
    assert_eq!(moved["version"].as_i64(), p["version"].as_i64().map(|v| v + 1));
}

/// One rule for an instant given as a bare date, in every filter as in analytics: midnight of
/// that day in the workspace's time zone.
#[tokio::test]
async fn a_bare_date_in_any_filter_is_local_midnight() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"timezone": "America/Sao_Paulo"})).await.status(), 200);
    // 2024-06-01 00:00 in São Paulo is 03:00 UTC: one row a second before, one at it.
    let before = "2024-06-01T02:59:59Z";
    let at = "2024-06-01T03:00:00Z";
    let channels: Value = json_of(app.get("/api/v1/channels", &owner).await).await;
    let pipelines: Value = json_of(app.get("/api/v1/pipelines", &owner).await).await;
    let mut customers = Vec::new();
    for t in [before, at] {
        let c: Value = json_of(app.post("/api/v1/customers", &owner, json!({"name": t, "created_at": t})).await).await;
        app.post(
            "/api/v1/deals",
            &owner,
            json!({"pipeline_id": pipelines["data"][0]["id"], "customer_id": c["id"], "title": t, "created_at": t}),
        )
        .await;
        app.post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": c["id"], "channel_id": channels["data"][0]["id"], "direction": "inbound", "kind": "call",
                   "subject": t, "occurred_at": t}),
        )
        .await;
        customers.push(c);
    }
    let field = |list: &Value, f: &str| -> Vec<String> {
        list["data"].as_array().unwrap().iter().map(|r| r[f].as_str().unwrap().to_owned()).collect()
    };
    for (path, key) in [
        ("/api/v1/customers?created_after=2024-06-01", "name"),
        ("/api/v1/deals?created_after=2024-06-01", "title"),
        ("/api/v1/interactions?occurred_after=2024-06-01", "subject"),
        ("/api/v1/customers?created_after=2024-06-01T00:00:00-03:00", "name"),
        ("/api/v1/deals?created_after=2024-06-01T03:00:00Z", "title"),
    ] {
        let list: Value = json_of(app.get(path, &owner).await).await;
        assert_eq!(field(&list, key), [at], "{path}: {list}");
    }
    for (path, key) in [
        ("/api/v1/customers?created_before=2024-06-01", "name"),
        ("/api/v1/deals?created_before=2024-06-01", "title"),
        ("/api/v1/interactions?occurred_before=2024-06-01", "subject"),
    ] {
        let list: Value = json_of(app.get(path, &owner).await).await;
        assert_eq!(field(&list, key), [before], "{path}: {list}");
    }
    // The same forms are refused the same way everywhere.
    for path in [
        "/api/v1/customers?created_after=2024-06-01T00:00:00",
        "/api/v1/deals?created_after=2024-6-1",
        "/api/v1/interactions?occurred_before=2024-02-30",
        "/api/v1/customers/export?created_before=yesterday",
    ] {
        assert_problem(app.get(path, &owner).await, 400, "malformed_request").await;
    }
    // The spec declares every one of them with the same schema.
    let spec: Value = json_of(app.request(reqwest::Method::GET, "/api-docs/openapi.json", None, None).await).await;
    let mut schemas = Vec::new();
    for (path, name) in [
        ("/api/v1/customers", "created_after"),
        ("/api/v1/customers/export", "created_before"),
        ("/api/v1/deals", "created_after"),
        ("/api/v1/interactions", "occurred_before"),
        ("/api/v1/analytics/funnel", "from"),
        ("/api/v1/analytics/rfm", "as_of"),
    ] {
        let params = spec["paths"][path]["get"]["parameters"].as_array().unwrap();
        let p = params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}"));
        schemas.push(p["schema"].clone());
    }
    assert!(schemas.windows(2).all(|w| w[0] == w[1]), "{schemas:?}");
    assert_eq!(customers.len(), 2);
}
