use serde_json::Value;

use crate::helpers::*;

/// The committed spec is what the server serves; regenerate with
/// `cargo run -- openapi > openapi/openapi.json`.
#[tokio::test]
async fn committed_spec_matches_the_served_one() {
    let app = spawn_app().await;
    let served: Value = app.client.get(app.url("/api-docs/openapi.json")).send().await.unwrap().json().await.unwrap();
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string("openapi/openapi.json").expect("openapi/openapi.json")).unwrap();
    assert!(served == committed, "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`");
    assert_eq!(served["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
}

#[test]
fn every_operation_is_documented() {
    let doc = serde_json::to_value(rapport::openapi::document()).unwrap();
    let mut count = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            count += 1;
            let name = format!("{method} {path}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: summary");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2')), "{name}: a success response");
            if path.starts_with("/api/v1") {
                assert!(responses.keys().any(|k| k.starts_with('4')), "{name}: error responses");
            }
            // One bearer requirement for the whole document; an open operation says `[{}]`.
            let open = op.get("security").is_some_and(|s| s == &serde_json::json!([{}]));
            if !open {
                assert!(responses.contains_key("401"), "{name}: 401");
            }
        }
    }
    assert!(count >= 18, "{count} operations");
    assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
}

/// The rate limit counts the API's open operations by address: its list is the document's.
#[test]
fn the_rate_limits_open_operations_are_the_documents() {
    let doc = serde_json::to_value(rapport::openapi::document()).unwrap();
    let mut open = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.starts_with("/api/") && op.get("security").is_some_and(|s| s == &serde_json::json!([{}])) {
                open.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let mut listed: Vec<(String, String)> =
        rapport::http::rate_limit::ANONYMOUS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    open.sort();
    listed.sort();
    assert_eq!(open, listed);
}

#[tokio::test]
async fn swagger_ui_is_served() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/swagger-ui/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("swagger"));
}
