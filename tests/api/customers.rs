use serde_json::{json, Value};

use crate::helpers::*;

pub async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/api/v1/customers", token, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn customer_crud_with_merge_patch_and_versions() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let me: Value = app.get("/api/v1/me", &owner).await.json().await.unwrap();
    let res = app
        .post(
            "/api/v1/customers",
            &owner,
            json!({"name": "Ada Lovelace", "email": "Ada@Example.com", "country": "GB", "city": "London",
                   "tags": ["vip", "math", "vip"], "attributes": {"plan": "gold", "seats": 3},
                   "owner_id": me["user"]["id"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["etag"], "\"1\"");
    let c: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/customers/{}", c["id"].as_str().unwrap()));
    assert_eq!(c["kind"], "person");
    assert_eq!(c["tags"], json!(["vip", "math"]));
    assert_eq!(c["email"], "Ada@Example.com");

    // Case-insensitive unique email.
    let res = app.post("/api/v1/customers", &owner, json!({"name": "Other", "email": "ada@EXAMPLE.com"})).await;
    assert_problem(res, 409, "conflict").await;

    let res =
        app.patch(&location, &owner, json!({"city": null, "attributes": {"seats": null, "tier": 2}, "tags": []})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let c2: Value = res.json().await.unwrap();
    assert!(c2["city"].is_null());
    assert_eq!(c2["attributes"], json!({"plan": "gold", "tier": 2}));
    assert_eq!(c2["tags"], json!([]));
    assert_eq!(c2["name"], "Ada Lovelace");

    let res = app
        .client
        .patch(app.url(&location))
        .bearer_auth(&owner)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 412, "precondition_failed").await;
    let res =
        app.client.delete(app.url(&location)).bearer_auth(&owner).header("if-match", "\"1\"").send().await.unwrap();
    assert_problem(res, 412, "precondition_failed").await;
    // `If-Match` compares strongly: a weak tag matches no version, not even the current one.
    let res =
        app.client.delete(app.url(&location)).bearer_auth(&owner).header("if-match", "W/\"2\"").send().await.unwrap();
    assert_problem(res, 412, "precondition_failed").await;
    assert_problem(
        app.patch(&location, &owner, json!({"created_at": "2020-01-01T00:00:00Z"})).await,
        422,
        "validation_failed",
    )
    .await;
    let got: Value = app.get(&location, &owner).await.json().await.unwrap();
    assert_eq!(got, c2, "nothing changed by refused writes");
}

#[tokio::test]
async fn created_at_can_be_brought_over_but_not_from_the_future() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let c = create(&app, &owner, json!({"name": "Old", "created_at": "2019-03-04T05:06:07+02:00"})).await;
    assert_eq!(c["created_at"], "2019-03-04T03:06:07Z");
    let res =
        app.post("/api/v1/customers", &owner, json!({"name": "Future", "created_at": "2999-01-01T00:00:00Z"})).await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "created_at");
}

#[tokio::test]
async fn soft_delete_restore_and_erase() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (member, _) = app.user_token(&owner, "member").await;
    let c = create(&app, &owner, json!({"name": "Gone", "email": "gone@example.com"})).await;
    let path = format!("/api/v1/customers/{}", c["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, &member).await.status(), 204);
    assert_problem(app.get(&path, &owner).await, 404, "not_found").await;
    let list: Value = app.get("/api/v1/customers", &owner).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // Its email is free while it is deleted; restoring then clashes.
    let taker = create(&app, &owner, json!({"name": "Taker", "email": "GONE@example.com"})).await;
    assert_problem(app.post(&format!("{path}/restore"), &member, json!({})).await, 409, "conflict").await;
    let taker_path = format!("/api/v1/customers/{}", taker["id"].as_str().unwrap());
    assert_eq!(app.delete(&taker_path, &owner).await.status(), 204);
    let res = app.post(&format!("{path}/restore"), &member, json!({})).await;
    assert_eq!(res.status(), 200);
    let restored: Value = res.json().await.unwrap();
    assert_eq!(restored["name"], "Gone");
    assert_eq!(app.get(&path, &owner).await.status(), 200);

    // Older than 30 days: not restorable.
    sqlx::query("UPDATE customers SET deleted_at = now() - interval '31 days' WHERE id = $1")
        .bind(uuid::Uuid::parse_str(taker["id"].as_str().unwrap()).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_problem(app.post(&format!("{taker_path}/restore"), &owner, json!({})).await, 404, "not_found").await;

    // Erasure: admin only, takes the interactions along.
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let res = app
        .post("/api/v1/interactions", &owner, json!({"customer_id": c["id"], "channel_id": channels["data"][0]["id"], "direction": "inbound", "kind": "note"}))
        .await;
    assert_eq!(res.status(), 201);
    assert_problem(app.delete(&format!("{path}?erase=true"), &member).await, 403, "forbidden").await;
    assert_problem(app.delete(&format!("{path}?erase=maybe"), &owner).await, 400, "malformed_request").await;
    assert_eq!(app.delete(&format!("{path}?erase=true"), &owner).await.status(), 204);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM interactions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(left, 0);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customers WHERE name = 'Gone'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(rows, 0);
    assert_problem(app.post(&format!("{path}/restore"), &owner, json!({})).await, 404, "not_found").await;
}

async fn names(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let res = app.get(&format!("/api/v1/customers?{query}"), token).await;
    assert_eq!(res.status(), 200, "{query}");
    let page: Value = res.json().await.unwrap();
    page["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn filters_and_sorts() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let me: Value = app.get("/api/v1/me", &owner).await.json().await.unwrap();
    create(&app, &owner, json!({"name": "Bea", "country": "FR", "tags": ["vip", "b2b"], "attributes": {"plan": "gold", "seats": 40, "trial": false}, "created_at": "2024-01-01T00:00:00Z"})).await;
    create(&app, &owner, json!({"name": "Al", "country": "FR", "tags": ["vip"], "attributes": {"plan": "silver"}, "owner_id": me["user"]["id"], "created_at": "2024-02-01T00:00:00Z"})).await;
    create(&app, &owner, json!({"name": "Cy", "country": "DE", "email": "cy@example.com", "kind": "company", "created_at": "2024-03-01T00:00:00Z"})).await;

    assert_eq!(names(&app, &owner, "").await, ["Cy", "Al", "Bea"], "default -created_at");
    assert_eq!(names(&app, &owner, "sort=created_at").await, ["Bea", "Al", "Cy"]);
    assert_eq!(names(&app, &owner, "sort=name").await, ["Al", "Bea", "Cy"]);
    assert_eq!(names(&app, &owner, "sort=-name").await, ["Cy", "Bea", "Al"]);
    assert_eq!(names(&app, &owner, "sort=-updated_at").await.len(), 3);
    assert_eq!(names(&app, &owner, "country=FR&sort=name").await, ["Al", "Bea"]);
    assert_eq!(names(&app, &owner, "tag=vip&sort=name").await, ["Al", "Bea"]);
    assert_eq!(names(&app, &owner, "tag=vip&tag=b2b").await, ["Bea"]);
    assert_eq!(names(&app, &owner, "attr.plan=gold").await, ["Bea"]);
    // The form typed clients send (OpenAPI deepObject), and fields holding numbers and booleans.
    assert_eq!(names(&app, &owner, "attr%5Bplan%5D=gold&attr[seats]=40").await, ["Bea"]);
    assert_eq!(names(&app, &owner, "attr[trial]=false&attr.seats=40").await, ["Bea"]);
    assert!(names(&app, &owner, "attr[seats]=41").await.is_empty());
    assert!(names(&app, &owner, "attr[plan]=silver&attr[plan]=gold").await.is_empty(), "all must match");
    assert_eq!(names(&app, &owner, &format!("owner_id={}", me["user"]["id"].as_str().unwrap())).await, ["Al"]);
    assert_eq!(names(&app, &owner, "email=CY@example.com").await, ["Cy"]);
    assert_eq!(names(&app, &owner, "created_after=2024-01-15&created_before=2024-02-15").await, ["Al"]);
    assert_eq!(names(&app, &owner, "created_after=2024-02-01T00:00:00Z&sort=name").await, ["Al", "Cy"]);

    for bad in [
        "sort=email",
        "country=fr",
        "colour=red",
        "limit=0",
        "limit=201",
        "owner_id=nope",
        "created_after=yesterday",
        "sort=name&sort=-name",
        "cursor=abc",
        "attr[]=x",
        "attr.=x",
    ] {
        let res = app.get(&format!("/api/v1/customers?{bad}"), &owner).await;
        assert_problem(res, 400, "malformed_request").await;
    }
}

#[tokio::test]
async fn search_is_prefix_and_typo_tolerant() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    create(&app, &owner, json!({"name": "John Smith", "email": "john@acme.io"})).await;
    create(&app, &owner, json!({"name": "Joanna Doe", "company_name": "Globex", "phone": "+1 212 555 0100"})).await;
    create(&app, &owner, json!({"name": "Zed", "email": "zed@initech.com"})).await;
    let mut r = names(&app, &owner, "q=jo").await;
    r.sort();
    assert_eq!(r, ["Joanna Doe", "John Smith"]);
    assert_eq!(names(&app, &owner, "q=glob").await, ["Joanna Doe"], "company");
    assert_eq!(names(&app, &owner, "q=initech").await, ["Zed"], "email");
    assert_eq!(names(&app, &owner, "q=555").await, ["Joanna Doe"], "phone");
    assert_eq!(names(&app, &owner, "q=SMI").await, ["John Smith"], "case");
    assert_eq!(names(&app, &owner, "q=jonh&sort=relevance").await[0], "John Smith", "typo, best match first");
    assert_eq!(names(&app, &owner, "q=smiht").await, ["John Smith"], "typo");
    assert_eq!(names(&app, &owner, "q=xqzw").await.len(), 0, "nothing alike");
    assert_eq!(names(&app, &owner, "q=50%25").await.len(), 0, "LIKE wildcards are literal");
    // Relevance: the exact word ranks first.
    create(&app, &owner, json!({"name": "Johnny Smithers"})).await;
    assert_eq!(names(&app, &owner, "q=smith&sort=relevance").await[0], "John Smith");
    assert_eq!(names(&app, &owner, "q=smith").await[0], "Johnny Smithers", "by default, newest first");
    assert_eq!(names(&app, &owner, "sort=relevance").await[0], "Johnny Smithers", "nothing to rank: default order");
}

#[tokio::test]
async fn cursors_walk_every_order_without_gaps() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    for i in 0..23 {
        // Equal names and equal timestamps: ties are broken by id.
        create(
            &app,
            &owner,
            json!({"name": format!("N{}", i % 4), "created_at": format!("2024-01-0{}T00:00:00Z", 1 + i % 3)}),
        )
        .await;
    }
    for sort in ["created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("/api/v1/customers?sort={sort}&limit=5&cursor={c}"),
                None => format!("/api/v1/customers?sort={sort}&limit=5"),
            };
            let page: Value = app.get(&q, &owner).await.json().await.unwrap();
            seen.extend(page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (23, 23), "{sort}");
        // A cursor of one order is refused by another.
        let first: Value =
            app.get(&format!("/api/v1/customers?sort={sort}&limit=5"), &owner).await.json().await.unwrap();
        let other = if sort == "name" { "-name" } else { "name" };
        let res = app
            .get(&format!("/api/v1/customers?sort={other}&cursor={}", first["next_cursor"].as_str().unwrap()), &owner)
            .await;
        assert_problem(res, 400, "malformed_request").await;
    }
    // Search pages too.
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/customers?q=n1&sort=relevance&limit=2&cursor={c}"),
            None => "/api/v1/customers?q=n1&sort=relevance&limit=2".into(),
        };
        let page: Value = app.get(&q, &owner).await.json().await.unwrap();
        seen += page["data"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 6);
}

#[tokio::test]
async fn timeline_and_summary() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let c = create(&app, &owner, json!({"name": "Tim"})).await;
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let email = channels["data"].as_array().unwrap().iter().find(|c| c["kind"] == "email").unwrap()["id"].clone();
    let web = channels["data"].as_array().unwrap().iter().find(|c| c["kind"] == "web").unwrap()["id"].clone();
    for (i, (channel, kind, value)) in [
        (&email, "message", None),
        (&web, "purchase", Some(1500)),
        (&web, "purchase", Some(2500)),
        (&email, "support", None),
    ]
    .iter()
    .enumerate()
    {
        let mut body = json!({"customer_id": c["id"], "channel_id": channel, "direction": "inbound", "kind": kind,
                              "occurred_at": format!("2024-05-0{}T10:00:00Z", i + 1)});
        if let Some(v) = value {
            body["value_cents"] = json!(v);
            body["items"] = json!(["sku-1"]);
        }
        assert_eq!(app.post("/api/v1/interactions", &owner, body).await.status(), 201);
    }
    let path = format!("/api/v1/customers/{}", c["id"].as_str().unwrap());
    let page: Value = app.get(&format!("{path}/timeline?limit=3"), &owner).await.json().await.unwrap();
    let days: Vec<&str> = page["data"].as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert_eq!(days, ["2024-05-04T10:00:00Z", "2024-05-03T10:00:00Z", "2024-05-02T10:00:00Z"]);
    assert_eq!(page["data"][0]["type"], "interaction");
    let next: Value = app
        .get(&format!("{path}/timeline?limit=3&cursor={}", page["next_cursor"].as_str().unwrap()), &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["data"].as_array().unwrap().len(), 1);
    assert!(next["next_cursor"].is_null());

    let s: Value = app.get(&format!("{path}/summary"), &owner).await.json().await.unwrap();
    assert_eq!(s["customer"]["id"], c["id"]);
    assert_eq!(s["interactions"]["total"], 4);
    assert_eq!(s["interactions"]["first_at"], "2024-05-01T10:00:00Z");
    assert_eq!(s["interactions"]["last_at"], "2024-05-04T10:00:00Z");
    assert_eq!(s["purchases"], 2);
    assert_eq!(s["lifetime_value_cents"], 4000);
    let by: Vec<(String, i64)> = s["interactions"]["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["channel_kind"].as_str().unwrap().to_owned(), b["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(by.len(), 2);
    assert!(by.contains(&("email".into(), 2)) && by.contains(&("web".into(), 2)));
}

/// Phone numbers are read as people write them, international or national to the customer's
/// country, checked against the country's numbering plan and stored in E.164.
#[tokio::test]
async fn phones_are_stored_in_e164() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let cases = [
        (json!({"name": "A", "phone": "+49 (30) 901820"}), "+4930901820"),
        (json!({"name": "B", "country": "FR", "phone": "01 23 45 67 89"}), "+33123456789"),
        (json!({"name": "C", "country": "US", "phone": "(212) 555-0134 x12"}), "+12125550134;ext=12"),
        (json!({"name": "D", "country": "DE", "phone": "+33 1 23 45 67 89"}), "+33123456789"),
    ];
    for (body, want) in cases {
        let res = app.post("/api/v1/customers", &owner, body.clone()).await;
        assert_eq!(res.status(), 201, "{body}");
        let c: Value = res.json().await.unwrap();
        assert_eq!(c["phone"], want, "{body}");
    }
    for body in [
        json!({"name": "E", "phone": "01 23 45 67 89"}),
        json!({"name": "F", "country": "FR", "phone": "01 23"}),
        json!({"name": "G", "phone": "+1 555 0100"}),
    ] {
        let problem =
            assert_problem(app.post("/api/v1/customers", &owner, body.clone()).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "phone", "{body}");
    }
}

/// A customer with a phone extension can be changed again (the stored form is taken back), and
/// custom fields hold arrays three deep at most.
#[tokio::test]
async fn stored_phones_and_nested_arrays() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let c = create(&app, &owner, json!({"name": "Ext", "phone": "+1 212 555 0134 x12", "attributes": {"m": [[[1]]]}}))
        .await;
    assert_eq!(c["phone"], "+12125550134;ext=12");
    let path = format!("/api/v1/customers/{}", c["id"].as_str().unwrap());
    let res = app.patch(&path, &owner, json!({"city": "Albany"})).await;
    assert_eq!(res.status(), 200);
    let res = app.patch(&path, &owner, json!({"phone": "+12125550134;ext=13"})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["phone"], "+12125550134;ext=13");
    let problem = assert_problem(
        app.patch(&path, &owner, json!({"attributes": {"m": [[[[1]]]]}})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "attributes");
    // An object inside an array starts the count afresh.
    assert_eq!(app.patch(&path, &owner, json!({"attributes": {"m": [[[{"n": [[[2]]]}]]]}})).await.status(), 200);
}
