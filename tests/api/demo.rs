//! The demo workspace and the document's examples: every GET, called with the examples the
//! document gives (as Swagger UI's "Try it out" sends them), answers 2xx on the demo; so do the
//! example bodies of the creates.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// The URL of `path` with the example of each of its parameters (query parameters without one
/// left out, as Swagger UI leaves them), and its example headers.
fn example_request(path: &str, op: &Value) -> (String, Vec<(String, String)>) {
    let mut url = path.to_owned();
    let mut query: Vec<(String, String)> = Vec::new();
    let mut headers = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap();
        let Some(example) = p.get("example") else {
            assert_ne!(p["in"], "path", "{path}: path parameter {name} has no example");
            continue;
        };
        let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
        match p["in"].as_str().unwrap() {
            "path" => url = url.replace(&format!("{{{name}}}"), &text(example)),
            "header" => headers.push((name.to_owned(), text(example))),
            _ => match example {
                Value::Array(items) => query.extend(items.iter().map(|v| (name.to_owned(), text(v)))),
                // deepObject: `attr[key]=value`.
                Value::Object(fields) => query.extend(fields.iter().map(|(k, v)| (format!("{name}[{k}]"), text(v)))),
                v => query.push((name.to_owned(), text(v))),
            },
        }
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&serde_urlencoded::to_string(&query).unwrap());
    }
    (url, headers)
}

#[tokio::test]
async fn every_example_succeeds_against_the_demo() {
    let app = spawn_app().await;
    assert!(rapport::demo::create(&app.pool).await.unwrap(), "the demo is new");
    assert!(!rapport::demo::create(&app.pool).await.unwrap(), "a second call finds it");
    let spec: Value = app.client.get(app.url("/api-docs/openapi.json")).send().await.unwrap().json().await.unwrap();
    let login = &spec["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"]["example"];
    let tokens: Value =
        app.request(Method::POST, "/api/v1/auth/login", None, Some(login.clone())).await.json().await.unwrap();
    let token = tokens["access_token"].as_str().expect("the login example logs in").to_owned();
    let mut called = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let body = op.pointer("/requestBody/content/application~1json/example");
            let wanted = method == "get" || (method == "post" && body.is_some() && path != "/api/v1/auth/login");
            if !wanted || path == "/api/v1/workspaces" || path.starts_with("/api/v1/auth/") {
                continue;
            }
            let (url, headers) = example_request(path, op);
            let mut req = app.client.request(method.to_uppercase().parse().unwrap(), app.url(&url)).bearer_auth(&token);
            for (name, value) in headers {
                req = req.header(name, value);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            assert!(status.is_success(), "{method} {url}: {status} {}", res.text().await.unwrap());
            called += 1;
        }
    }
    assert!(called >= 40, "{called} operations called");
}

/// The demo looks like a CRM: people and companies in several countries, interactions on every
/// channel over more than a year, deals that took days to weeks per stage, two pipelines.
#[tokio::test]
async fn the_demo_looks_alive() {
    let app = spawn_app().await;
    rapport::demo::create(&app.pool).await.unwrap();
    let ws = rapport::demo::ids::WORKSPACE;
    let one = |sql: &'static str| {
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(ws).fetch_one(&pool).await.unwrap() }
    };
    assert!(one("SELECT count(DISTINCT country) FROM customers WHERE workspace_id = $1").await >= 10);
    assert!(one("SELECT count(*) FROM customers WHERE workspace_id = $1 AND kind = 'company'").await >= 20);
    assert_eq!(one("SELECT count(DISTINCT channel_id) FROM interactions WHERE workspace_id = $1").await, 9);
    assert!(
        one("SELECT extract(days FROM max(occurred_at) - min(occurred_at))::bigint FROM interactions WHERE workspace_id = $1")
            .await
            >= 450
    );
    assert_eq!(one("SELECT count(*) FROM pipelines WHERE workspace_id = $1").await, 2);
    let median_hours = one(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.changed_at - e.changed_at) / 3600)::bigint
           FROM deal_stage_events e
           JOIN deal_stage_events n ON n.deal_id = e.deal_id AND n.from_stage_id = e.to_stage_id
          WHERE e.workspace_id = $1",
    )
    .await;
    assert!((48..=24 * 30).contains(&median_hours), "median stay {median_hours} h");
    assert!(one("SELECT count(*) FROM reports WHERE workspace_id = $1").await >= 5);
    let subjects = one("SELECT count(DISTINCT subject) FROM interactions WHERE workspace_id = $1").await;
    assert!(subjects >= 30, "{subjects} subjects");
}
