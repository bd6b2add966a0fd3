use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

pub async fn default_pipeline(app: &TestApp, token: &str) -> Value {
    let list: Value = app.get("/api/v1/pipelines", token).await.json().await.unwrap();
    list["data"][0].clone()
}

fn stage_names(p: &Value) -> Vec<String> {
    p["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
}

fn assert_contiguous(p: &Value) {
    let positions: Vec<i64> = p["stages"].as_array().unwrap().iter().map(|s| s["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (0..positions.len() as i64).collect::<Vec<_>>(), "{p}");
}

#[tokio::test]
async fn a_new_workspace_has_the_customer_journey() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let p = default_pipeline(&app, &owner).await;
    assert_eq!(stage_names(&p), ["Need identified", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]);
    let kinds: Vec<&str> = p["stages"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["open", "open", "open", "open", "won", "lost"]);
    assert_contiguous(&p);
}

#[tokio::test]
async fn pipeline_crud_and_the_three_kinds_rule() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (member, _) = app.user_token(&owner, "member").await;
    let body = json!({"name": "Renewals", "stages": [{"name": "Due", "kind": "open"}, {"name": "Renewed", "kind": "won"}, {"name": "Churned", "kind": "lost"}]});
    assert_problem(app.post("/api/v1/pipelines", &member, body.clone()).await, 403, "forbidden").await;
    let res = app.post("/api/v1/pipelines", &owner, body).await;
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["stages"][1]["probability"], 100);
    let path = format!("/api/v1/pipelines/{}", p["id"].as_str().unwrap());
    let res = app
        .post(
            "/api/v1/pipelines",
            &owner,
            json!({"name": "Bad", "stages": [{"name": "A", "kind": "open"}, {"name": "B", "kind": "won"}]}),
        )
        .await;
    assert_problem(res, 409, "conflict").await;

    // Removing or changing the only won stage would break the rule.
    let won = p["stages"][1]["id"].as_str().unwrap();
    assert_problem(app.delete(&format!("{path}/stages/{won}"), &owner).await, 409, "conflict").await;
    assert_problem(app.patch(&format!("{path}/stages/{won}"), &owner, json!({"kind": "open"})).await, 409, "conflict")
        .await;
    let res = app.patch(&format!("{path}/stages/{won}"), &owner, json!({"name": "Renewed!", "probability": 90})).await;
    assert_eq!(res.status(), 200);

    let res = app.patch(&path, &owner, json!({"name": "Renewals 2027"})).await;
    assert_eq!(res.status(), 200);
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["name"], "Renewals 2027");
    assert_eq!(app.delete(&path, &owner).await.status(), 204);
    assert_problem(app.get(&path, &owner).await, 404, "not_found").await;
}

#[tokio::test]
async fn stages_insert_reorder_and_delete_keep_positions_contiguous() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let p = default_pipeline(&app, &owner).await;
    let path = format!("/api/v1/pipelines/{}", p["id"].as_str().unwrap());
    let res = app
        .post(
            &format!("{path}/stages"),
            &owner,
            json!({"name": "Demo", "kind": "open", "probability": 40, "position": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.unwrap();
    assert_eq!(stage_names(&p), ["Need identified", "Qualified", "Demo", "Proposal", "Negotiation", "Won", "Lost"]);
    assert_contiguous(&p);
    let appended: Value = app
        .post(&format!("{path}/stages"), &owner, json!({"name": "X", "kind": "open", "position": 99}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(appended["stages"][7]["name"], "X", "past the end appends");
    let x = appended["stages"][7]["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("{path}/stages/{x}"), &owner).await.status(), 204);

    let mut ids: Vec<Value> = p["stages"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    ids.reverse();
    let res = app
        .request(reqwest::Method::PUT, &format!("{path}/stages/order"), Some(&owner), Some(json!({"stage_ids": ids})))
        .await;
    assert_eq!(res.status(), 200);
    let p2: Value = res.json().await.unwrap();
    assert_eq!(stage_names(&p2)[0], "Lost");
    assert_contiguous(&p2);
    for bad in [
        json!({"stage_ids": ids[..3]}),
        json!({"stage_ids": [ids[0].clone(), ids[0].clone(), ids[1].clone(), ids[2].clone(), ids[3].clone(), ids[4].clone(), ids[5].clone()]}),
        json!({"stage_ids": []}),
    ] {
        let res = app.request(reqwest::Method::PUT, &format!("{path}/stages/order"), Some(&owner), Some(bad)).await;
        assert_problem(res, 422, "validation_failed").await;
    }
    let demo = p["stages"][2]["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("{path}/stages/{demo}"), &owner).await.status(), 204);
    let p3: Value = app.get(&path, &owner).await.json().await.unwrap();
    assert_eq!(p3["stages"].as_array().unwrap().len(), 6);
    assert_contiguous(&p3);
    // Unreferenced: really gone.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM stages WHERE id = $1")
        .bind(uuid::Uuid::parse_str(demo).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, u8),
    Delete(usize),
    Reverse,
    Rotate(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..12, 0u8..3).prop_map(|(p, k)| Op::Insert(p, k)),
        (0usize..12).prop_map(Op::Delete),
        Just(Op::Reverse),
        (1usize..6).prop_map(Op::Rotate),
    ]
}

/// After any sequence of inserts, deletes and reorders, positions stay 0-based and contiguous,
/// the three kinds stay, and the order is the one a plain list model predicts.
#[test]
fn random_stage_edits_keep_the_invariants() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(spawn_app());
    let owner = runtime.block_on(app.owner_token());
    let mut runner =
        proptest::test_runner::TestRunner::new(proptest::test_runner::Config { cases: 12, ..Default::default() });
    runner
        .run(&proptest::collection::vec(op(), 1..12), |ops| {
            runtime.block_on(async {
                let body = json!({"name": "Prop", "stages": [{"name": "o0", "kind": "open"}, {"name": "w0", "kind": "won"}, {"name": "l0", "kind": "lost"}]});
                let p: Value = app.post("/api/v1/pipelines", &owner, body).await.json().await.unwrap();
                let path = format!("/api/v1/pipelines/{}", p["id"].as_str().unwrap());
                let mut model: Vec<(String, String)> = p["stages"].as_array().unwrap().iter().map(|s| (s["id"].as_str().unwrap().to_owned(), s["kind"].as_str().unwrap().to_owned())).collect();
                for (n, op) in ops.iter().enumerate() {
                    match op {
                        Op::Insert(at, k) => {
                            let kind = ["open", "won", "lost"][*k as usize];
                            let position = (*at).min(model.len());
                            let res = app.post(&format!("{path}/stages"), &owner, json!({"name": format!("s{n}"), "kind": kind, "position": position})).await;
                            assert_eq!(res.status(), 201);
                            let p: Value = res.json().await.unwrap();
                            let id = p["stages"][position]["id"].as_str().unwrap().to_owned();
                            model.insert(position, (id, kind.to_owned()));
                        }
                        Op::Delete(i) => {
                            let i = *i % model.len();
                            let kind = model[i].1.clone();
                            let res = app.delete(&format!("{path}/stages/{}", model[i].0), &owner).await;
                            if model.iter().filter(|m| m.1 == kind).count() == 1 {
                                assert_eq!(res.status(), 409, "the last {kind} stage stays");
                            } else {
                                assert_eq!(res.status(), 204);
                                model.remove(i);
                            }
                        }
                        Op::Reverse | Op::Rotate(_) => {
                            match op {
                                Op::Reverse => model.reverse(),
                                Op::Rotate(r) => {
                                    let r = r % model.len();
                                    model.rotate_left(r)
                                }
                                _ => {}
                            }
                            let ids: Vec<&str> = model.iter().map(|m| m.0.as_str()).collect();
                            let res = app.request(reqwest::Method::PUT, &format!("{path}/stages/order"), Some(&owner), Some(json!({"stage_ids": ids}))).await;
                            assert_eq!(res.status(), 200);
                        }
                    }
                    let p: Value = app.get(&path, &owner).await.json().await.unwrap();
                    assert_contiguous(&p);
                    let got: Vec<&str> = p["stages"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
                    let want: Vec<&str> = model.iter().map(|m| m.0.as_str()).collect();
                    assert_eq!(got, want);
                    for kind in ["open", "won", "lost"] {
                        assert!(p["stages"].as_array().unwrap().iter().any(|s| s["kind"] == kind));
                    }
                }
            });
            Ok(())
        })
        .unwrap();
}
