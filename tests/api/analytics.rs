//! `/analytics/*` against `analytics_model`: a seeded random workspace built through the API,
//! every figure of every endpoint compared for several windows; then hand-made edge cases with
//! their numbers written out, and bad parameters.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::analytics_model::{assert_same, World};
use crate::helpers::*;
use crate::pipelines::default_pipeline;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn id(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(path, token).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn instant(v: &Value, key: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v[key].as_str().unwrap()).unwrap().with_timezone(&Utc)
}

async fn workspace_id(app: &TestApp, token: &str) -> Uuid {
    id(&get_ok(app, token, "/api/v1/workspace").await)
}

pub(crate) struct Generated {
    pub owner: String,
    pub users: Vec<Uuid>,
    pub channels: Vec<Uuid>,
    pub pipelines: Vec<Uuid>,
    pub customers: Vec<Uuid>,
    pub deleted: Vec<Uuid>,
}

/// A random workspace in `timezone`: customers of both kinds with countries, tags,
/// custom fields and owners; interactions on every channel, some at the same instant, some on
/// local midnights, purchases with and without value and with repeated items; deals in two
/// pipelines whose histories skip stages, go back, end won or lost, start in a lost stage, are
/// back-filled with equal timestamps, and pass through a stage later archived; finally some
/// customers soft-deleted.
pub(crate) async fn generate(app: &TestApp, rng: &mut StdRng, now: DateTime<Utc>, timezone: &str) -> Generated {
    let owner = app.owner_token().await;
    let res = app.patch("/api/v1/workspace", &owner, json!({"timezone": timezone})).await;
    assert_eq!(res.status(), 200);
    let mut users = Vec::new();
    for _ in 0..2 {
        users.push(id(&app.user_token(&owner, "member").await.1));
    }
    let channels: Vec<Uuid> =
        get_ok(app, &owner, "/api/v1/channels?limit=200").await["data"].as_array().unwrap().iter().map(id).collect();
    assert!(channels.len() >= 9);

    let past = |rng: &mut StdRng, max_days: i64| now - Duration::seconds(rng.gen_range(60..max_days * 86_400));
    let countries = [None, Some("BR"), Some("FR"), Some("US")];
    let tags = ["vip", "b2b", "trial", "Zeta", "été"];
    let plans = [json!({}), json!({"plan": "pro"}), json!({"plan": "free"}), json!({"plan": 3}), json!({"plan": true})];
    let mut customers = Vec::new();
    for n in 0..60 {
        let how_many = rng.gen_range(0..=3);
        let mut tag_set: Vec<&str> = tags.choose_multiple(rng, how_many).copied().collect();
        tag_set.shuffle(rng);
        let owner_id = [None, Some(users[0]), Some(users[1])].choose(rng).copied().flatten();
        let body = json!({
            "name": format!("Customer {n}"),
            "kind": if rng.gen_bool(0.3) { "company" } else { "person" },
            "country": countries.choose(rng).unwrap(),
            "tags": tag_set,
            "attributes": plans.choose(rng).unwrap(),
            "owner_id": owner_id,
            "created_at": iso(past(rng, 3 * 365)),
        });
        let res = app.post("/api/v1/customers", &owner, body).await;
        assert_eq!(res.status(), 201);
        customers.push(id(&res.json().await.unwrap()));
    }

    // Instants shared by several interactions, and local midnights (03:00Z in São Paulo).
    let shared: Vec<DateTime<Utc>> = (0..8).map(|_| past(rng, 700)).collect();
    let midnights: Vec<DateTime<Utc>> = (0..8)
        .map(|_| {
            let day = (now - Duration::days(rng.gen_range(1..700))).date_naive();
            day.and_hms_opt(3, 0, 0).unwrap().and_utc() - Duration::microseconds(rng.gen_range(0..2))
        })
        .collect();
    let skus = ["apple", "Banana", "cherry", "date", "éclair", "fig"];
    let kinds = ["message", "call", "meeting", "note", "purchase", "support"];
    let mut items = Vec::new();
    for _ in 0..900 {
        let occurred_at = match rng.gen_range(0..10) {
            0 => *shared.choose(rng).unwrap(),
            1 => *midnights.choose(rng).unwrap(),
            _ => past(rng, 760),
        };
        let kind = if rng.gen_bool(0.35) { "purchase" } else { kinds.choose(rng).unwrap() };
        let mut it = json!({
            "customer_id": customers.choose(rng).unwrap(),
            "channel_id": channels.choose(rng).unwrap(),
            "direction": if rng.gen_bool(0.5) { "inbound" } else { "outbound" },
            "kind": kind,
            "occurred_at": iso(occurred_at),
        });
        if kind == "purchase" {
            if rng.gen_bool(0.8) {
                it["value_cents"] = json!(rng.gen_range(0..100_000));
            }
            let basket: Vec<&str> = (0..rng.gen_range(0..5)).map(|_| *skus.choose(rng).unwrap()).collect();
            it["items"] = json!(basket);
        }
        items.push(it);
    }
    let res = app.post("/api/v1/interactions/batch", &owner, json!({"items": items})).await;
    assert_eq!(res.status(), 201);
    let logged: Value = res.json().await.unwrap();
    let ids: Vec<String> = logged["ids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect();
    // Later corrections: moved in time, to another customer or channel, no longer a purchase;
    // and deletions (the rollup behind first interactions and purchases must follow).
    for id in ids.choose_multiple(rng, 60) {
        let path = format!("/api/v1/interactions/{id}");
        let res = match rng.gen_range(0..5) {
            0 => app.patch(&path, &owner, json!({"occurred_at": iso(past(rng, 900))})).await,
            1 => app.patch(&path, &owner, json!({"customer_id": customers.choose(rng).unwrap()})).await,
            2 => {
                app.patch(&path, &owner, json!({"channel_id": channels.choose(rng).unwrap(), "subject": "moved"})).await
            }
            3 => app.patch(&path, &owner, json!({"kind": "note", "value_cents": null, "items": []})).await,
            _ => app.delete(&path, &owner).await,
        };
        assert!(res.status().is_success(), "{path}: {}", res.text().await.unwrap());
    }

    // Pipelines: the default one with an extra stage that is archived once deals went through
    // it, and a second one.
    let sales = default_pipeline(app, &owner).await;
    let sales_id = id(&sales);
    let res = app
        .post(
            &format!("/api/v1/pipelines/{sales_id}/stages"),
            &owner,
            json!({"name": "Demo", "kind": "open", "position": 2}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let demo: Value = res.json().await.unwrap();
    let demo_id = demo["stages"].as_array().map_or_else(|| id(&demo), |s| id(&s[2]));
    let res = app
        .post(
            "/api/v1/pipelines",
            &owner,
            json!({"name": "Renewals", "stages": [
                {"name": "Due", "kind": "open"}, {"name": "Lost", "kind": "lost"},
                {"name": "Talking", "kind": "open"}, {"name": "Renewed", "kind": "won"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let renewals: Value = res.json().await.unwrap();
    let mut pipelines = Vec::new();
    for p in [sales_id, id(&renewals)] {
        let full = get_ok(app, &owner, &format!("/api/v1/pipelines/{p}")).await;
        let stages: Vec<Uuid> = full["stages"].as_array().unwrap().iter().map(id).collect();
        pipelines.push((p, stages));
    }
    for _ in 0..45 {
        let (pipeline, stages) = pipelines.choose(rng).unwrap().clone();
        let created = past(rng, 2 * 365);
        let mut stage = *stages.choose(rng).unwrap();
        let deal_owner = [None, Some(users[0]), Some(users[1])].choose(rng).copied().flatten();
        let res = app
            .post(
                "/api/v1/deals",
                &owner,
                json!({"pipeline_id": pipeline, "stage_id": stage, "customer_id": customers.choose(rng).unwrap(),
                       "title": "Deal", "amount_cents": rng.gen_range(0..1_000_000),
                       "owner_id": deal_owner, "created_at": iso(created)}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let deal = id(&res.json().await.unwrap());
        let mut at = created;
        for _ in 0..rng.gen_range(0..7) {
            let next = *stages.choose(rng).unwrap();
            if next == stage {
                continue;
            }
            if !rng.gen_bool(0.2) {
                at = (at + Duration::seconds(rng.gen_range(0..40 * 86_400))).min(now - Duration::seconds(60));
            }
            let res = app
                .patch(&format!("/api/v1/deals/{deal}"), &owner, json!({"stage_id": next, "changed_at": iso(at)}))
                .await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
            stage = next;
        }
    }
    // Archive "Demo": its deals move to the first stage (a change recorded now); history keeps
    // pointing at it.
    let first = pipelines[0].1[0];
    let res = app.delete(&format!("/api/v1/pipelines/{sales_id}/stages/{demo_id}?move_to={first}"), &owner).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());

    let mut deleted = Vec::new();
    for c in customers.choose_multiple(rng, 7) {
        assert_eq!(app.delete(&format!("/api/v1/customers/{c}"), &owner).await.status(), 204);
        deleted.push(*c);
    }
    Generated { owner, users, channels, pipelines: pipelines.into_iter().map(|p| p.0).collect(), customers, deleted }
}

fn date(t: DateTime<Utc>) -> String {
    t.date_naive().to_string()
}

#[tokio::test]
async fn every_figure_matches_an_independent_computation() {
    compare_every_figure("America/Sao_Paulo", 20261125).await;
}

/// Havana's clocks change at midnight: some local midnights occur twice, some never.
#[tokio::test]
async fn every_figure_matches_where_midnights_repeat_or_vanish() {
    compare_every_figure("America/Havana", 7).await;
}

/// Kathmandu is 5:45 ahead of UTC: every local midnight cuts a UTC hour, which the interaction
/// series must read from the interactions rather than from the hourly rollup.
#[tokio::test]
async fn every_figure_matches_where_offsets_are_not_whole_hours() {
    compare_every_figure("Asia/Kathmandu", 545).await;
}

/// Each rollup equals its definition after a random write sequence (corrections, deletions,
/// soft deletes, stage moves): the per-customer activity, the stays, and the hourly rollup
/// with its pending changes, while they are pending and once folded, and after more writes
/// racing with folds.
#[tokio::test]
async fn every_rollup_equals_its_definition_through_writes_and_folds() {
    let app = spawn_app().await;
    let mut rng = StdRng::seed_from_u64(14);
    let now = Utc::now();
    let g = generate(&app, &mut rng, now, "Europe/Paris").await;
    let ws = workspace_id(&app, &g.owner).await;
    assert_hours_exact(&app, ws).await;
    assert_stays_exact(&app, ws).await;
    assert_entered_stages_exact(&app, ws).await;
    assert_activity_exact(&app, ws).await;
    assert_periods_exact(&app, ws, "Europe/Paris", 0..=0).await;
    assert_rfm_counts_exact(&app, ws).await;
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_hours_exact(&app, ws).await;
    assert_rfm_counts_exact(&app, ws).await;
    let pending: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM interaction_hour_changes WHERE workspace_id = $1)
              + (SELECT count(*) FROM rfm_count_changes WHERE workspace_id = $1)",
    )
    .bind(ws)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(pending, 0, "a fold takes every pending change");

    // Writers and folds at once: a change is folded once, whichever fold takes it.
    let channel = g.channels[0];
    let live: Vec<Uuid> = g.customers.iter().filter(|c| !g.deleted.contains(c)).copied().collect();
    let writes = (0..40).map(|n| {
        let (app, owner, customer) = (&app, g.owner.clone(), live[n % live.len()]);
        async move {
            let body = json!({"customer_id": customer, "channel_id": channel, "direction": "inbound",
                              "kind": "purchase", "value_cents": 7 * n,
                              "occurred_at": iso(Utc::now() - Duration::minutes(37 * n as i64))});
            let res = app.post("/api/v1/interactions", &owner, body).await;
            assert_eq!(res.status(), 201);
            let id = id(&res.json().await.unwrap());
            let path = format!("/api/v1/interactions/{id}");
            let res = if n % 2 == 0 {
                app.patch(&path, &owner, json!({"occurred_at": iso(Utc::now() - Duration::days(n as i64))})).await
            } else {
                app.delete(&path, &owner).await
            };
            assert!(res.status().is_success());
        }
    });
    let folds = (0..10).map(|_| async {
        rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    });
    futures_util::future::join(futures_util::future::join_all(writes), futures_util::future::join_all(folds)).await;
    assert_hours_exact(&app, ws).await;
    assert_rfm_counts_exact(&app, ws).await;
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_hours_exact(&app, ws).await;
    assert_activity_exact(&app, ws).await;
    assert_periods_exact(&app, ws, "Europe/Paris", 0..=0).await;
    assert_rfm_counts_exact(&app, ws).await;

    // Notes (no purchase, rarely a customer's first interaction) in weeks and months the
    // customers were or were not active in: each adds its periods to its customer's row.
    for n in 0..30 {
        let body = json!({"customer_id": live[(5 * n) % live.len()], "channel_id": channel, "direction": "outbound",
                          "kind": "note", "occurred_at": iso(Utc::now() - Duration::days(13 * n as i64))});
        assert_eq!(app.post("/api/v1/interactions", &g.owner, body).await.status(), 201);
    }
    assert_activity_exact(&app, ws).await;
    assert_periods_exact(&app, ws, "Europe/Paris", 0..=0).await;

    // segment_hours through the changes of customers' keys, soft deletes, restores and erases,
    // each racing with interaction writes (and folds) of the same customers.
    assert_segment_hours_exact(&app, ws).await;
    let owner_user = get_ok(&app, &g.owner, "/api/v1/users").await["data"][0]["id"].as_str().unwrap().to_owned();
    let changes = (0..24).map(|n| {
        let (app, token, customer, owner_user) = (&app, g.owner.clone(), live[n % live.len()], owner_user.clone());
        async move {
            let path = format!("/api/v1/customers/{customer}");
            let res = match n % 6 {
                0 => app.patch(&path, &token, json!({"country": (["DE", "JP", "BR"][n % 3])})).await,
                1 => app.patch(&path, &token, json!({"tags": [format!("t{}", n % 4), "shared"]})).await,
                2 => app.patch(&path, &token, json!({"owner_id": owner_user, "kind": "company", "tags": []})).await,
                3 => app.delete(&path, &token).await,
                4 => {
                    assert_eq!(app.delete(&path, &token).await.status(), 204);
                    app.post(&format!("{path}/restore"), &token, json!({})).await
                }
                _ => app.delete(&format!("{path}?erase=true"), &token).await,
            };
            let status = res.status();
            assert!(status.is_success(), "{n}: {status} {}", res.text().await.unwrap());
        }
    });
    let writes = (0..48).map(|n| {
        let (app, token, customer) = (&app, g.owner.clone(), live[n % 24 % live.len()]);
        async move {
            let body = json!({"customer_id": customer, "channel_id": channel, "direction": "inbound",
                              "kind": if n % 2 == 0 { "purchase" } else { "call" },
                              "value_cents": if n % 2 == 0 { Some(11 * n) } else { None },
                              "occurred_at": iso(Utc::now() - Duration::minutes(97 * n as i64))});
            // A customer erased or deleted meanwhile refuses the write.
            let status = app.post("/api/v1/interactions", &token, body).await.status();
            assert!([201, 404, 409, 422].contains(&status.as_u16()), "{status}");
        }
    });
    // Corrections and deletions of the same customers' interactions: a writer that holds an
    // interaction never waits for an erase that needs it (no deadlock, no 500).
    let held: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT ON (customer_id) id FROM interactions
          WHERE workspace_id = $1 AND customer_id = ANY ($2) ORDER BY customer_id, occurred_at DESC",
    )
    .bind(ws)
    .bind(&live[..24.min(live.len())])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let edits = held.iter().enumerate().map(|(n, interaction)| {
        let (app, token) = (&app, g.owner.clone());
        async move {
            let path = format!("/api/v1/interactions/{interaction}");
            let res = if n % 2 == 0 {
                app.patch(&path, &token, json!({"occurred_at": iso(Utc::now() - Duration::hours(3 * n as i64))})).await
            } else {
                app.delete(&path, &token).await
            };
            let status = res.status();
            assert!([200, 204, 404, 409].contains(&status.as_u16()), "{status} {}", res.text().await.unwrap());
        }
    });
    let folds = (0..5).map(|_| async {
        rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    });
    futures_util::future::join4(
        futures_util::future::join_all(changes),
        futures_util::future::join_all(writes),
        futures_util::future::join_all(edits),
        futures_util::future::join_all(folds),
    )
    .await;
    assert_segment_hours_exact(&app, ws).await;
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_segment_hours_exact(&app, ws).await;
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM segment_hour_changes WHERE workspace_id = $1")
        .bind(ws)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "a fold takes every pending change");
}

/// A correction of an interaction takes its customer's segments lock before it holds the
/// interaction: while a change of the customer's groups is in flight, the correction waits
/// without holding the interaction, which a transaction holding the customer (an erase's
/// cascade, a user's deletion) could need next. Then both land, and the rollup is exact.
#[tokio::test]
async fn a_correction_waits_for_its_customers_groups_before_holding_the_interaction() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    let customer = id(&app
        .post("/api/v1/customers", &owner, json!({"name": "Held", "country": "FR"}))
        .await
        .json()
        .await
        .unwrap());
    let channel = id(&get_ok(&app, &owner, "/api/v1/channels").await["data"][0]);
    let body = json!({"customer_id": customer, "channel_id": channel, "direction": "inbound", "kind": "call",
                      "occurred_at": iso(Utc::now())});
    let interaction = id(&app.post("/api/v1/interactions", &owner, body).await.json().await.unwrap());
    let mut change = app.pool.begin().await.unwrap();
    sqlx::query("UPDATE customers SET country = 'DE' WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(customer)
        .execute(&mut *change)
        .await
        .unwrap();
    let path = format!("/api/v1/interactions/{interaction}");
    let correction = app.patch(&path, &owner, json!({"occurred_at": iso(Utc::now() - Duration::days(2))}));
    let check = async {
        let mut waited = false;
        for _ in 0..500 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            if waiting > 0 {
                waited = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(waited, "the correction never waited for its customer's lock");
        let free = sqlx::query("SELECT 1 FROM interactions WHERE workspace_id = $1 AND id = $2 FOR UPDATE NOWAIT")
            .bind(ws)
            .bind(interaction)
            .execute(&mut *change)
            .await;
        assert!(free.is_ok(), "the waiting correction holds the interaction: {free:?}");
        change.commit().await.unwrap();
    };
    let (res, ()) = futures_util::future::join(correction, check).await;
    assert_eq!(res.status(), 200);
    assert_segment_hours_exact(&app, ws).await;
}

/// `segment_hours` with its pending changes holds, per group of each rolled dimension, the live
/// customers (at hour `-infinity`), and per UTC hour their interactions, purchases, revenue and
/// how many have their latest interaction in it, computed here customer by customer.
async fn assert_segment_hours_exact(app: &TestApp, ws: Uuid) {
    assert_rows_equal(
        app,
        ws,
        "SELECT dimension, key, hour, sum(customers)::numeric AS c, sum(interactions)::numeric AS n,
                sum(purchases)::numeric AS p, sum(revenue)::numeric AS v, sum(last_active)::numeric AS l
           FROM (SELECT dimension, key, hour, customers, interactions, purchases, revenue, last_active
                   FROM segment_hours WHERE workspace_id = $1
                 UNION ALL
                 SELECT k.dimension, k.key, ch.hour, ch.customers, ch.interactions, ch.purchases, ch.revenue, ch.last_active
                   FROM segment_hour_changes ch
                  CROSS JOIN LATERAL rapport_segment_keys(ch.country, ch.kind, ch.owner_id, ch.tags) k
                  WHERE ch.workspace_id = $1) h
          GROUP BY 1, 2, 3
         HAVING sum(customers) <> 0 OR sum(interactions) <> 0 OR sum(purchases) <> 0 OR sum(revenue) <> 0
             OR sum(last_active) <> 0",
        "SELECT k.dimension, k.key, r.hour, sum(r.c)::numeric AS c, sum(r.n)::numeric AS n, sum(r.p)::numeric AS p,
                sum(r.v)::numeric AS v, sum(r.l)::numeric AS l
           FROM customers c
          CROSS JOIN LATERAL (
                SELECT '-infinity'::timestamptz AS hour, 1 AS c, 0 AS n, 0 AS p, 0::bigint AS v, 0 AS l
                UNION ALL
                SELECT date_trunc('hour', i.occurred_at, 'UTC'), 0, 1, (i.kind = 'purchase')::int,
                       coalesce(i.value_cents, 0),
                       (row_number() OVER (ORDER BY i.occurred_at DESC, i.id) = 1)::int
                  FROM interactions i WHERE i.workspace_id = $1 AND i.customer_id = c.id) r
          CROSS JOIN LATERAL rapport_segment_keys(c.country, c.kind, c.owner_id, c.tags) k
          WHERE c.workspace_id = $1 AND c.deleted_at IS NULL
          GROUP BY 1, 2, 3",
    )
    .await;
}

/// Removing a user who owns more customers than the lock table holds (PostgreSQL's default:
/// 6,400 entries for all sessions) moves them all out of the user's segment, in one transaction.
#[tokio::test]
async fn a_user_owning_many_customers_is_removed() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    let (_, user) = app.user_token(&owner, "member").await;
    let user_id: Uuid = user["id"].as_str().unwrap().parse().unwrap();
    sqlx::query(
        "INSERT INTO customers (workspace_id, id, kind, name, country, tags, owner_id)
         SELECT $1, gen_random_uuid(), 'person', 'Owned ' || g, 'FR', ARRAY['t' || g % 3], $2
           FROM generate_series(1, 15000) AS g",
    )
    .bind(ws)
    .bind(user_id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(app.delete(&format!("/api/v1/users/{user_id}"), &owner).await.status(), 204);
    let (owned, unowned): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE owner_id IS NOT NULL), count(*) FILTER (WHERE owner_id IS NULL)
           FROM customers WHERE workspace_id = $1",
    )
    .bind(ws)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((owned, unowned), (0, 15000));
    assert_segment_hours_exact(&app, ws).await;
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_segment_hours_exact(&app, ws).await;
}

/// A bulk update of interactions (one statement over every row, on a connection whose trigger
/// plans were made for a one-row update) leaves every rollup equal to its definition: rows
/// that move an hour, rows whose value changes, rows that stay as they were.
#[tokio::test]
async fn rollups_hold_through_a_bulk_update() {
    let app = spawn_app().await;
    let mut rng = StdRng::seed_from_u64(20);
    let g = generate(&app, &mut rng, Utc::now(), "UTC").await;
    let ws = workspace_id(&app, &g.owner).await;
    let mut conn = app.pool.acquire().await.unwrap();
    let one = "UPDATE interactions SET occurred_at = occurred_at - interval '1 minute'
                WHERE workspace_id = $1 AND id = (SELECT id FROM interactions WHERE workspace_id = $1 ORDER BY id LIMIT 1)";
    let all = "UPDATE interactions
                  SET occurred_at = occurred_at - CASE WHEN hashtext(id::text) % 3 = 0 THEN interval '1 hour' ELSE interval '0' END,
                      value_cents = CASE WHEN kind = 'purchase' AND hashtext(id::text) % 2 = 0 THEN value_cents + 100 ELSE value_cents END
                WHERE workspace_id = $1";
    for sql in [one, one, all] {
        sqlx::query(sql).bind(ws).execute(&mut *conn).await.unwrap();
    }
    let (moved, purchases): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE hashtext(id::text) % 3 = 0),
                count(*) FILTER (WHERE kind = 'purchase' AND hashtext(id::text) % 2 = 0)
           FROM interactions WHERE workspace_id = $1",
    )
    .bind(ws)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(moved > 20 && purchases > 5, "{moved} moved, {purchases} purchases changed");
    assert_hours_exact(&app, ws).await;
    assert_segment_hours_exact(&app, ws).await;
    assert_activity_exact(&app, ws).await;
    assert_periods_exact(&app, ws, "UTC", 0..=0).await;
    assert_rfm_counts_exact(&app, ws).await;
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_hours_exact(&app, ws).await;
    assert_rfm_counts_exact(&app, ws).await;
}

/// A rollup's rows and their definition's (`$1` the workspace), each read as one sorted text:
/// equal, and the definition has rows.
async fn assert_rows_equal(app: &TestApp, ws: Uuid, rollup: &str, definition: &str) {
    let sql = format!(
        "SELECT (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM ({rollup}) r),
                (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM ({definition}) r)"
    );
    let (got, want): (Option<String>, Option<String>) =
        sqlx::query_as(&sql).bind(ws).fetch_one(&app.pool).await.unwrap();
    assert!(want.is_some(), "the definition has no rows");
    assert_eq!(got, want);
}

/// `rfm_counts` with its pending changes holds, per bucket of each RFM order, the customers with
/// a purchase whose keys fall in it (soft-deleted customers too), computed here from the
/// interactions.
async fn assert_rfm_counts_exact(app: &TestApp, ws: Uuid) {
    assert_rows_equal(
        app,
        ws,
        "SELECT dimension, bucket, sum(customers) AS n
               FROM (SELECT dimension, bucket, customers FROM rfm_counts WHERE workspace_id = $1
                     UNION ALL
                     SELECT dimension, bucket, customers FROM rfm_count_changes WHERE workspace_id = $1) c
              GROUP BY 1, 2 HAVING sum(customers) <> 0",
        "SELECT b.dimension, b.bucket, count(*) AS n
               FROM (SELECT customer_id, count(*) AS n, coalesce(sum(value_cents), 0) AS v, max(occurred_at) AS last
                       FROM interactions WHERE workspace_id = $1 AND kind = 'purchase' GROUP BY customer_id) p
              CROSS JOIN LATERAL rapport_rfm_buckets(p.customer_id, p.n, p.v, p.last) b
              GROUP BY 1, 2",
    )
    .await;
}

/// RFM's buckets keep each order: a bucket function never decreases as its key grows, and labels
/// a bucket by its least key (that least key is in the bucket), so the buckets below a row's hold
/// only rows below it, and a bucket's rows start at its label.
#[tokio::test]
async fn rfm_buckets_keep_the_order_of_their_keys() {
    let app = spawn_app().await;
    let wrong: i64 = sqlx::query_scalar(
        "WITH v AS (
             SELECT DISTINCT v FROM (SELECT generate_series(-30000, 30000)::numeric AS v
                                     UNION ALL
                                     SELECT s * (p + d)
                                       FROM generate_series(3, 25) AS e,
                                            LATERAL (SELECT trunc(10::numeric ^ e) AS p) x,
                                            generate_series(-1500, 1500) AS d,
                                            (VALUES (1), (-1)) AS z (s)) a
         )
         SELECT count(*) FROM (
             SELECT v, rapport_rfm_value_bucket(v) AS b, lag(rapport_rfm_value_bucket(v)) OVER (ORDER BY v) AS before
               FROM v) c
          WHERE b > v OR b < before OR rapport_rfm_value_bucket(b) <> b",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "purchase totals whose bucket breaks the order");
    let ids: Vec<Uuid> = (0..2000)
        .map(|n| match n % 3 {
            0 => Uuid::new_v4(),
            _ => Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_700_000_000 + n * 43_201, 0)),
        })
        .collect();
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT id, rapport_rfm_id_day(id) AS day, lag(rapport_rfm_id_day(id)) OVER (ORDER BY id) AS before
               FROM unnest($1::uuid[]) AS id) c
          WHERE day < before OR rapport_rfm_id_day_start(day) > id OR rapport_rfm_id_day(rapport_rfm_id_day_start(day)) <> day",
    )
    .bind(&ids)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "ids whose day breaks the order");
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM generate_series(timestamptz '1969-12-25', '1970-01-05', interval '37 minutes 1.5 seconds') AS at
          WHERE at < to_timestamp(rapport_rfm_day(at) * 86400) OR at >= to_timestamp((rapport_rfm_day(at) + 1) * 86400)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "instants outside their day");
    // The bucket functions run per row in the rollups' triggers: each is inlined, never called
    // (an IMMUTABLE SQL function whose body is only STABLE runs as a call of its own).
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL track_functions = 'all'").execute(&mut *tx).await.unwrap();
    sqlx::query(
        "SELECT sum(b.bucket) FROM generate_series(1, 50) AS n,
                LATERAL rapport_rfm_buckets(md5(n::text)::uuid, n, n * 1234.5, timestamptz '2026-01-01' - n * interval '1 day') AS b",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let called: Vec<String> = sqlx::query_scalar(
        "SELECT funcname::text FROM pg_stat_xact_user_functions WHERE funcname LIKE 'rapport\\_rfm\\_%' ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(called.is_empty(), "called, not inlined: {called:?}");
}

/// RFM read from the bucket counts, where ranks cross buckets: customers made on many days (and
/// with random ids), tied frequencies, totals at the edges of the value buckets, last purchases
/// tied to the microsecond; as of now and of the past, with changes pending and folded, and with
/// customers soft-deleted.
#[tokio::test]
async fn rfm_ranks_hold_across_buckets() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    let channel = id(&get_ok(&app, &owner, "/api/v1/channels").await["data"][0]);
    let base = Utc::now() - Duration::hours(3);
    let values = [0, 999, 1_000, 1_001, 1_009, 1_010, 9_999, 10_000, 10_049, 123_456_789];
    let mut buyers = Vec::new();
    for n in 0..64u64 {
        let id = match n % 5 {
            0 => Uuid::new_v4(),
            _ => Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_760_000_000 + (n % 11) * 86_400, 0)),
        };
        sqlx::query("INSERT INTO customers (workspace_id, id, kind, name) VALUES ($1, $2, 'person', $3)")
            .bind(ws)
            .bind(id)
            .bind(format!("Buyer {n}"))
            .execute(&app.pool)
            .await
            .unwrap();
        for k in 0..1 + n % 3 {
            let at = if n % 4 == 0 { base } else { base - Duration::hours((n * 7 + k * 30) as i64) };
            let body = json!({"customer_id": id, "channel_id": channel, "direction": "inbound", "kind": "purchase",
                              "value_cents": values[((n + k) % values.len() as u64) as usize],
                              "occurred_at": iso(at)});
            assert_eq!(app.post("/api/v1/interactions", &owner, body).await.status(), 201);
        }
        buyers.push(id);
    }
    for step in ["pending", "folded", "deleted"] {
        match step {
            "folded" => {
                rapport::analytics::rollups::fold(&app.pool).await.unwrap();
            }
            "deleted" => {
                for c in buyers.iter().step_by(7) {
                    assert_eq!(app.delete(&format!("/api/v1/customers/{c}"), &owner).await.status(), 204);
                }
            }
            _ => {}
        }
        let world = World::load(&app.pool, ws).await;
        for hours in [None, Some(10), Some(40), Some(100), Some(200)] {
            let as_of =
                hours.map(|h| format!("as_of={}", urlencode(&iso(base - Duration::hours(h))))).unwrap_or_default();
            assert_rfm_as_defined(&app, &owner, &world, &as_of, step, &buyers).await;
        }
    }
}

/// RFM's summary as of `as_of` (a query string, empty for now), and each of `customers`' scores
/// as of the instant the summary answered for, equal the model's (`404` for a customer without
/// a purchase then). Returns the summary.
async fn assert_rfm_as_defined(
    app: &TestApp,
    token: &str,
    world: &World,
    as_of: &str,
    label: &str,
    customers: &[Uuid],
) -> Value {
    let got = get_ok(app, token, &format!("/api/v1/analytics/rfm?{as_of}")).await;
    let at = instant(&got, "as_of");
    assert_same(&format!("rfm {as_of} ({label})"), &got, &world.rfm(at));
    for c in customers {
        let res = app.get(&format!("/api/v1/analytics/rfm?customer_id={c}&as_of={}", urlencode(&iso(at))), token).await;
        match world.rfm_customer(at, *c) {
            Some(want) => {
                assert_eq!(res.status(), 200, "rfm of {c} {as_of} ({label})");
                assert_same(&format!("rfm of {c} {as_of} ({label})"), &res.json().await.unwrap(), &want);
            }
            None => {
                assert_problem(res, 404, "not_found").await;
            }
        }
    }
    got
}

/// Each customer's `customer_activity` row is its first interaction (ties: smallest id) and
/// its purchases' count, value and latest time; a customer without interactions has none.
async fn assert_activity_exact(app: &TestApp, ws: Uuid) {
    assert_rows_equal(
        app,
        ws,
        "SELECT customer_id, first_at, first_id, first_channel_id, purchases, purchase_value, last_purchase_at
               FROM customer_activity WHERE workspace_id = $1",
        "SELECT f.customer_id, f.occurred_at, f.id, f.channel_id, coalesce(p.n, 0), coalesce(p.v, 0), p.last
               FROM (SELECT DISTINCT ON (customer_id) customer_id, occurred_at, id, channel_id
                       FROM interactions WHERE workspace_id = $1 ORDER BY customer_id, occurred_at, id) f
               LEFT JOIN (SELECT customer_id, count(*) AS n, coalesce(sum(value_cents), 0) AS v,
                                 max(occurred_at) AS last
                            FROM interactions WHERE workspace_id = $1 AND kind = 'purchase'
                           GROUP BY customer_id) p ON p.customer_id = f.customer_id",
    )
    .await;
}

/// Each row's active periods are, in the zone the row names, the distinct local weeks and months
/// of the customer's interactions; `stale` rows name another zone than `timezone` (or none).
async fn assert_periods_exact(app: &TestApp, ws: Uuid, timezone: &str, stale: std::ops::RangeInclusive<i64>) {
    assert_rows_equal(
        app,
        ws,
        "SELECT customer_id, periods_tz,
                (SELECT array_agg(d ORDER BY d) FROM unnest(active_weeks) d),
                (SELECT array_agg(d ORDER BY d) FROM unnest(active_months) d)
           FROM customer_activity WHERE workspace_id = $1 AND periods_tz IS NOT NULL",
        "SELECT a.customer_id, a.periods_tz,
                array_agg(DISTINCT date_trunc('week', i.occurred_at AT TIME ZONE a.periods_tz)::date),
                array_agg(DISTINCT date_trunc('month', i.occurred_at AT TIME ZONE a.periods_tz)::date)
           FROM customer_activity a
           JOIN interactions i ON i.workspace_id = a.workspace_id AND i.customer_id = a.customer_id
          WHERE a.workspace_id = $1 AND a.periods_tz IS NOT NULL
          GROUP BY a.customer_id, a.periods_tz",
    )
    .await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM customer_activity WHERE workspace_id = $1 AND periods_tz IS DISTINCT FROM $2",
    )
    .bind(ws)
    .bind(timezone)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(stale.contains(&n), "{n} rows not in {timezone}, expected {stale:?}");
}

/// A change of the workspace's time zone: cohorts follow at once (rows still in the old zone
/// are read from their interactions), the `rollups` job's passes convert every customer's
/// active periods while writers add, move and delete interactions, and then every row is in the
/// new zone, exact, and the cohorts still as defined.
#[tokio::test]
async fn cohorts_follow_a_timezone_change_through_the_conversion() {
    // The job is off: this test runs the passes itself, between and beside the writes.
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_JOB_ROLLUPS".into(), "off".into());
    })
    .await;
    let mut rng = StdRng::seed_from_u64(21);
    let g = generate(&app, &mut rng, Utc::now(), "Asia/Tokyo").await;
    let ws = workspace_id(&app, &g.owner).await;
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_periods_exact(&app, ws, "Asia/Tokyo", 0..=0).await;
    let live: Vec<Uuid> = g.customers.iter().filter(|c| !g.deleted.contains(c)).copied().collect();
    let cohorts_as_defined = |label: String| {
        let (app, owner) = (&app, g.owner.clone());
        async move {
            let world = World::load(&app.pool, ws).await;
            for (period, window) in
                [("week", "from=2020-01-01&to=2030-01-01"), ("month", "from=2000-01-01&to=2060-01-01")]
            {
                let got = get_ok(app, &owner, &format!("/api/v1/analytics/cohorts?period={period}&{window}")).await;
                assert!(!got["cohorts"].as_array().unwrap().is_empty(), "{got}");
                let want = world.cohorts(period, instant(&got, "from"), instant(&got, "to"));
                assert_same(&format!("cohorts by {period} {label}"), &got, &want);
            }
        }
    };
    for (round, zone) in ["America/Los_Angeles", "Pacific/Chatham"].into_iter().enumerate() {
        assert_eq!(app.patch("/api/v1/workspace", &g.owner, json!({"timezone": zone})).await.status(), 200);
        assert_periods_exact(&app, ws, zone, 1..=i64::MAX).await;
        cohorts_as_defined(format!("in {zone}, not converted")).await;
        let channel = g.channels[0];
        let writes = (0..30).map(|n| {
            let (app, owner, customer) = (&app, g.owner.clone(), live[(7 * n + round) % live.len()]);
            async move {
                let body = json!({"customer_id": customer, "channel_id": channel, "direction": "inbound",
                                  "kind": "note", "occurred_at": iso(Utc::now() - Duration::days(11 * n as i64))});
                let res = app.post("/api/v1/interactions", &owner, body).await;
                assert_eq!(res.status(), 201);
                let id = id(&res.json().await.unwrap());
                let path = format!("/api/v1/interactions/{id}");
                let res = match n % 3 {
                    0 => app.patch(&path, &owner, json!({"occurred_at": iso(Utc::now() - Duration::days(400))})).await,
                    1 => app.delete(&path, &owner).await,
                    _ => return,
                };
                assert!(res.status().is_success());
            }
        });
        let passes = (0..6).map(|_| async {
            rapport::analytics::rollups::fold(&app.pool).await.unwrap();
        });
        futures_util::future::join(futures_util::future::join_all(writes), futures_util::future::join_all(passes))
            .await;
        rapport::analytics::rollups::fold(&app.pool).await.unwrap();
        assert_periods_exact(&app, ws, zone, 0..=0).await;
        assert_activity_exact(&app, ws).await;
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM customer_period_generations g
               LEFT JOIN customer_period_passes p ON p.workspace_id = g.workspace_id
              WHERE g.workspace_id = $1 AND (p.workspace_id IS NULL OR p.generation <> g.generation OR NOT p.done)",
        )
        .bind(ws)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(pending, 0, "a conversion that is done ends");
        cohorts_as_defined(format!("in {zone}, converted")).await;
    }
}

/// A writer that read the old zone and commits after a change of zone was asked for: the change
/// waits for it (else the passes could end before its row is visible, leaving the row in the old
/// zone for good), and once both are done every row is converted.
#[tokio::test]
async fn a_change_of_zone_waits_for_the_writers_that_read_the_old_one() {
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_JOB_ROLLUPS".into(), "off".into());
    })
    .await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    let channel = id(&get_ok(&app, &owner, "/api/v1/channels").await["data"][0]);
    let customer = id(&app.post("/api/v1/customers", &owner, json!({"name": "Late"})).await.json().await.unwrap());
    let other = id(&app.post("/api/v1/customers", &owner, json!({"name": "Other"})).await.json().await.unwrap());
    let body = json!({"customer_id": other, "channel_id": channel, "direction": "inbound", "kind": "note",
                      "occurred_at": "2026-01-31T20:00:00Z"});
    assert_eq!(app.post("/api/v1/interactions", &owner, body).await.status(), 201);
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();

    // The first interaction of a customer, in a transaction still open (its row reads UTC).
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO interactions (workspace_id, id, customer_id, channel_id, direction, kind, occurred_at)
         VALUES ($1, $2, $3, $4, 'inbound', 'note', '2026-01-31T20:00:00Z')",
    )
    .bind(ws)
    .bind(Uuid::now_v7())
    .bind(customer)
    .bind(channel)
    .execute(&mut *tx)
    .await
    .unwrap();
    let patch = app.patch("/api/v1/workspace", &owner, json!({"timezone": "Asia/Tokyo"}));
    tokio::pin!(patch);
    let early = tokio::time::timeout(std::time::Duration::from_millis(700), &mut patch).await;
    let waited = early.is_err();
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    tx.commit().await.unwrap();
    let status = match early {
        Ok(res) => res.status(),
        Err(_) => patch.await.status(),
    };
    assert_eq!(status, 200);
    rapport::analytics::rollups::fold(&app.pool).await.unwrap();
    assert_periods_exact(&app, ws, "Asia/Tokyo", 0..=0).await;
    let months: Vec<chrono::NaiveDate> = sqlx::query_scalar(
        "SELECT unnest(active_months) FROM customer_activity WHERE workspace_id = $1 AND customer_id = $2",
    )
    .bind(ws)
    .bind(customer)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(months, [NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()], "20:00 UTC on 31 January is February in Tokyo");
    assert!(waited, "the change of zone did not wait for the writer that read the old one");
}

/// Each stage event's `left_at` is the deal's next event's time (events by `changed_at`, then
/// id), or null for the last: the stays the funnel reads.
async fn assert_stays_exact(app: &TestApp, ws: Uuid) {
    let (events, wrong): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE left_at IS DISTINCT FROM next_at)
           FROM (SELECT left_at, lead(changed_at) OVER (PARTITION BY deal_id ORDER BY changed_at, id) AS next_at
                   FROM deal_stage_events WHERE workspace_id = $1) e",
    )
    .bind(ws)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(events > 50, "{events} events");
    assert_eq!(wrong, 0, "events whose stay end is not the next event's time");
}

/// Each deal's `entered_stage_ids` holds each stage of its history's events once: the stages
/// it has ever entered, from which the funnel finds its reach.
async fn assert_entered_stages_exact(app: &TestApp, ws: Uuid) {
    let (deals, wrong): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE kept IS DISTINCT FROM entered OR repeated)
           FROM (SELECT (SELECT array_agg(s ORDER BY s) FROM unnest(d.entered_stage_ids) AS s) AS kept,
                        cardinality(d.entered_stage_ids) <> (SELECT count(DISTINCT s) FROM unnest(d.entered_stage_ids) AS s) AS repeated,
                        (SELECT array_agg(DISTINCT e.to_stage_id ORDER BY e.to_stage_id) FROM deal_stage_events e
                          WHERE e.workspace_id = d.workspace_id AND e.deal_id = d.id) AS entered
                   FROM deals d WHERE d.workspace_id = $1) x",
    )
    .bind(ws)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(deals > 20, "{deals} deals");
    assert_eq!(wrong, 0, "deals whose entered stages are not their history's");
}

async fn assert_hours_exact(app: &TestApp, ws: Uuid) {
    assert_rows_equal(
        app,
        ws,
        "SELECT hour, channel_id, kind, direction, sum(interactions) AS n, sum(value_cents) AS v
               FROM (SELECT * FROM interaction_hours WHERE workspace_id = $1
                     UNION ALL SELECT * FROM interaction_hour_changes WHERE workspace_id = $1) h
              GROUP BY 1, 2, 3, 4 HAVING sum(interactions) <> 0 OR sum(value_cents) <> 0",
        "SELECT date_trunc('hour', occurred_at, 'UTC') AS hour, channel_id, kind, direction,
                    count(*)::numeric AS n, coalesce(sum(value_cents), 0)::numeric AS v
               FROM interactions WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4",
    )
    .await;
}

/// Every interaction of the window counts, as the definition has it: one before the first
/// listed bucket makes its group listed (with zeros), one in the first pass of a local
/// midnight that happens twice (Havana, 1 November 2026) counts in its local bucket, and a
/// window too short to list a bucket still lists its groups.
#[tokio::test]
async fn series_count_every_interaction_of_the_window() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"timezone": "America/Havana"})).await.status(), 200);
    let customer = id(&app.post("/api/v1/customers", &owner, json!({"name": "Edge"})).await.json().await.unwrap());
    let channel = id(&get_ok(&app, &owner, "/api/v1/channels").await["data"][0]);
    for (kind, at) in [
        ("call", "2026-10-20T12:00:00Z"),
        ("message", "2026-11-01T04:30:00Z"),
        ("message", "2026-11-01T05:30:00Z"),
        ("meeting", "2026-11-10T10:20:00Z"),
        ("note", "2026-11-20T09:00:00Z"),
    ] {
        let body = json!({"customer_id": customer, "channel_id": channel, "direction": "inbound",
                          "kind": kind, "occurred_at": at});
        assert_eq!(app.post("/api/v1/interactions", &owner, body).await.status(), 201);
    }
    let world = World::load(&app.pool, ws).await;
    for window in [
        "bucket=month&from=2026-10-15&to=2026-12-01",
        "bucket=day&from=2026-11-01T04:15:00Z&to=2026-11-03",
        "bucket=day&from=2026-11-10T10:00:00Z&to=2026-11-10T11:00:00Z",
    ] {
        for fold in [false, true] {
            if fold {
                rapport::analytics::rollups::fold(&app.pool).await.unwrap();
            }
            let got = get_ok(&app, &owner, &format!("/api/v1/analytics/interactions?group_by=kind&{window}")).await;
            let bucket = window.split('&').next().unwrap().trim_start_matches("bucket=");
            let want = world.series(bucket, Some("kind"), instant(&got, "from"), instant(&got, "to"));
            assert_same(&format!("series {window} (folded: {fold})"), &got, &want);
            assert!(!got["series"].as_array().unwrap().is_empty(), "{window}: {got}");
        }
    }
}

/// A stage removed with `move_to` while its deals are being moved: both add events to the same
/// deals at once, and every stay still ends at its deal's next event.
#[tokio::test]
async fn stays_hold_when_moves_race_a_stage_removal() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    let pipeline = default_pipeline(&app, &owner).await;
    let (pid, stages) = (id(&pipeline), pipeline["stages"].as_array().unwrap().iter().map(id).collect::<Vec<_>>());
    let customer = id(&app.post("/api/v1/customers", &owner, json!({"name": "Racer"})).await.json().await.unwrap());
    for round in 0..3 {
        // A fresh stage to hold the deals, then removed into the first stage as they move on.
        let res = app
            .post(
                &format!("/api/v1/pipelines/{pid}/stages"),
                &owner,
                json!({"name": format!("Hold {round}"), "kind": "open"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let full = get_ok(&app, &owner, &format!("/api/v1/pipelines/{pid}")).await;
        let hold =
            full["stages"].as_array().unwrap().iter().find(|s| s["name"] == format!("Hold {round}")).map(id).unwrap();
        let mut deals = Vec::new();
        for _ in 0..12 {
            let body = json!({"pipeline_id": pid, "stage_id": hold, "customer_id": customer, "title": "Race", "amount_cents": 1});
            deals.push(id(&app.post("/api/v1/deals", &owner, body).await.json().await.unwrap()));
        }
        let moves =
            deals.iter().map(|d| {
                let (app, owner, to) = (&app, owner.clone(), stages[2]);
                async move {
                    app.patch(&format!("/api/v1/deals/{d}"), &owner, json!({"stage_id": to})).await.status().as_u16()
                }
            });
        let removal = async {
            app.delete(&format!("/api/v1/pipelines/{pid}/stages/{hold}?move_to={}", stages[0]), &owner)
                .await
                .status()
                .as_u16()
        };
        let (statuses, removed) = futures_util::future::join(futures_util::future::join_all(moves), removal).await;
        assert_eq!(removed, 204);
        for status in statuses {
            assert!([200, 409, 422].contains(&status), "{status}");
        }
    }
    assert_stays_exact(&app, ws).await;
}

/// A change of the workspace's time zone moves every bucket; the series follows at once (the
/// rollup is kept per UTC hour, so nothing needs rebuilding), before and after a fold.
#[tokio::test]
async fn series_follow_a_timezone_change_at_once() {
    let app = spawn_app().await;
    let mut rng = StdRng::seed_from_u64(3);
    let now = Utc::now();
    let g = generate(&app, &mut rng, now, "America/Sao_Paulo").await;
    let ws = workspace_id(&app, &g.owner).await;
    for (n, zone) in ["Asia/Kathmandu", "Pacific/Chatham", "UTC"].into_iter().enumerate() {
        let res = app.patch("/api/v1/workspace", &g.owner, json!({"timezone": zone})).await;
        assert_eq!(res.status(), 200);
        if n == 1 {
            rapport::analytics::rollups::fold(&app.pool).await.unwrap();
        }
        let world = World::load(&app.pool, ws).await;
        for window in ["", "&from=2025-01-01&to=2026-06-01"] {
            for (bucket, group) in [("day", "channel"), ("week", "kind"), ("month", "direction")] {
                let got = get_ok(
                    &app,
                    &g.owner,
                    &format!("/api/v1/analytics/interactions?bucket={bucket}&group_by={group}{window}"),
                )
                .await;
                let want = world.series(bucket, Some(group), instant(&got, "from"), instant(&got, "to"));
                assert_same(&format!("series by {bucket} and {group} in {zone} [{window}]"), &got, &want);
            }
        }
    }
}

/// Fewer buyers than tiles: `ntile(5)` gives each its own tile, some tiles stay empty; the
/// tile bounds read from the rollup's indexes must agree, as of now (rollup) and as of a past
/// instant (recomputed rows), and with one buyer soft-deleted.
#[tokio::test]
async fn rfm_tiles_hold_with_fewer_buyers_than_tiles() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws = workspace_id(&app, &owner).await;
    let channel = id(&get_ok(&app, &owner, "/api/v1/channels").await["data"][0]);
    let mut buyers = Vec::new();
    for n in 0..4i64 {
        let c: Value =
            app.post("/api/v1/customers", &owner, json!({"name": format!("Buyer {n}")})).await.json().await.unwrap();
        let c = id(&c);
        for k in 0..=n {
            let body = json!({"customer_id": c, "channel_id": channel, "direction": "inbound", "kind": "purchase",
                              "value_cents": 100 * (4 - n), "occurred_at": iso(Utc::now() - Duration::days(10 * n + k))});
            assert_eq!(app.post("/api/v1/interactions", &owner, body).await.status(), 201);
        }
        buyers.push(c);
    }
    for deleted in [false, true] {
        if deleted {
            assert_eq!(app.delete(&format!("/api/v1/customers/{}", buyers[1]), &owner).await.status(), 204);
        }
        let world = World::load(&app.pool, ws).await;
        for as_of in [String::new(), format!("as_of={}", urlencode(&iso(Utc::now() - Duration::days(15))))] {
            assert_rfm_as_defined(&app, &owner, &world, &as_of, &format!("deleted: {deleted}"), &buyers).await;
        }
    }
}

async fn compare_every_figure(timezone: &str, default_seed: u64) {
    let app = spawn_app().await;
    let seed: u64 = std::env::var("ANALYTICS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default_seed);
    eprintln!("analytics seed {seed} in {timezone} (ANALYTICS_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    let g = generate(&app, &mut rng, now, timezone).await;
    let world = World::load(&app.pool, workspace_id(&app, &g.owner).await).await;
    assert!(world.customers.len() == g.customers.len() - g.deleted.len());
    let token = g.owner.as_str();

    let offset_from = (now - Duration::days(500)).with_timezone(&chrono::FixedOffset::west_opt(3 * 3600).unwrap());
    let windows: Vec<(String, Option<NaiveDate>)> = vec![
        (String::new(), None),
        (
            format!("from={}&to={}", date(now - Duration::days(400)), date(now - Duration::days(20))),
            Some((now - Duration::days(400)).date_naive()),
        ),
        (
            format!("from={}&to={}", urlencode(&offset_from.to_rfc3339()), urlencode(&iso(now - Duration::hours(5)))),
            None,
        ),
        ("from=2000-01-01&to=2060-01-01".to_owned(), NaiveDate::from_ymd_opt(2000, 1, 1)),
        // Under an hour: no whole UTC hour to read from a rollup (segments read the rows).
        (
            format!(
                "from={}&to={}",
                urlencode(&iso(now - Duration::minutes(100))),
                urlencode(&iso(now - Duration::minutes(45)))
            ),
            None,
        ),
    ];
    for (w, (window, from_date)) in windows.iter().enumerate() {
        let sep = if window.is_empty() { "" } else { "&" };
        let mut checked_window = false;
        let check = |what: &str, got: &Value, want: Value| {
            assert_same(&format!("{what} [window {w}: {window}]"), got, &want);
        };
        for (p, pipeline) in g.pipelines.iter().enumerate() {
            let filters = [
                String::new(),
                format!("&owner_id={}", g.users[0]),
                format!("&channel_id={}", g.channels[p % g.channels.len()]),
            ];
            for f in filters {
                let got =
                    get_ok(&app, token, &format!("/api/v1/analytics/funnel?pipeline_id={pipeline}{sep}{window}{f}"))
                        .await;
                let (from, to) = (instant(&got, "from"), instant(&got, "to"));
                if let (Some(d), false) = (from_date, checked_window) {
                    assert_eq!(from, world.midnight(*d), "a bare date is midnight in the workspace's timezone");
                    checked_window = true;
                }
                if w == 3 && f.is_empty() {
                    // The generated data reaches every case the definitions name.
                    assert!(got["entered"].as_i64().unwrap() >= 10 && got["lost"].as_i64().unwrap() > 0, "{got}");
                    assert!(!got["lost_after"].as_array().unwrap().is_empty());
                }
                let owner = f.strip_prefix("&owner_id=").map(|u| u.parse().unwrap());
                let channel = f.strip_prefix("&channel_id=").map(|u| u.parse().unwrap());
                check(&format!("funnel {pipeline}{f}"), &got, world.funnel(*pipeline, from, to, owner, channel));
            }
        }
        for dim in ["country", "kind", "owner", "tag", "channel", "attr.plan", "attr.missing"] {
            let got = get_ok(&app, token, &format!("/api/v1/analytics/segments?dimension={dim}{sep}{window}")).await;
            check(&format!("segments by {dim}"), &got, world.segments(dim, instant(&got, "from"), instant(&got, "to")));
        }
        for (params, min_support, limit) in
            [("", 0.01, 20), ("&min_support=0&limit=200", 0.0, 200), ("&min_support=0.05&limit=3", 0.05, 3)]
        {
            let got = get_ok(&app, token, &format!("/api/v1/analytics/basket?{window}{params}")).await;
            if w == 3 {
                assert!(got["pairs"].as_array().unwrap().len() >= 3, "{got}");
            }
            check(
                &format!("basket {params}"),
                &got,
                world.basket(instant(&got, "from"), instant(&got, "to"), min_support, limit),
            );
        }
        let long = w == 3;
        for bucket in ["day", "week", "month"] {
            if long && bucket != "month" {
                continue;
            }
            for group in [None, Some("channel"), Some("kind"), Some("direction")] {
                let gp = group.map(|g| format!("&group_by={g}")).unwrap_or_default();
                let got =
                    get_ok(&app, token, &format!("/api/v1/analytics/interactions?bucket={bucket}{gp}{sep}{window}"))
                        .await;
                check(
                    &format!("series by {bucket} {group:?}"),
                    &got,
                    world.series(bucket, group, instant(&got, "from"), instant(&got, "to")),
                );
            }
        }
        for period in ["week", "month"] {
            if long && period == "week" {
                continue;
            }
            let got = get_ok(&app, token, &format!("/api/v1/analytics/cohorts?period={period}{sep}{window}")).await;
            if w == 3 {
                assert!(got["cohorts"].as_array().unwrap().len() >= 3, "{got}");
            }
            check(
                &format!("cohorts by {period}"),
                &got,
                world.cohorts(period, instant(&got, "from"), instant(&got, "to")),
            );
        }
    }

    let as_ofs = [
        String::new(),
        format!("as_of={}", date(now - Duration::days(200))),
        format!("as_of={}", urlencode(&iso(now - Duration::days(33)))),
    ];
    for (n, as_of) in as_ofs.iter().enumerate() {
        let got = assert_rfm_as_defined(&app, token, &world, as_of, "", &g.customers).await;
        if n == 0 {
            assert!(got["customers"].as_i64().unwrap() >= 20, "enough customers to fill five tiles");
        }
    }
    // The 360° summary carries the customer's scores as of now.
    let with = g.customers.iter().find(|c| !g.deleted.contains(c) && world.rfm_customer(now, **c).is_some()).unwrap();
    let summary = get_ok(&app, token, &format!("/api/v1/customers/{with}/summary")).await;
    let mut want = world.rfm_customer(Utc::now(), *with).unwrap();
    want["recency_days"] = summary["rfm"]["recency_days"].clone();
    assert_same("summary rfm", &summary["rfm"], &want);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

// ---------------------------------------------------------------------------------------------
// Hand-made cases

#[tokio::test]
async fn an_empty_window_gives_zeros_and_nulls() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let pipeline = default_pipeline(&app, &owner).await;
    let p = pipeline["id"].as_str().unwrap();
    let w = "from=2020-01-01&to=2020-01-03";
    let f = get_ok(&app, &owner, &format!("/api/v1/analytics/funnel?pipeline_id={p}&{w}")).await;
    assert_eq!((f["entered"].as_i64(), f["won"].as_i64(), f["lost"].as_i64()), (Some(0), Some(0), Some(0)));
    assert!(f["win_rate"].is_null(), "0 / 0 is null");
    assert_eq!(f["stages"].as_array().unwrap().len(), 5, "four open stages and the won one");
    for s in f["stages"].as_array().unwrap() {
        assert_eq!(s["reached"], 0);
        assert!(s["conversion_from_previous"].is_null() && s["conversion_from_first"].is_null());
        assert!(s["median_hours_in_stage"].is_null());
    }
    assert_eq!(f["lost_after"], json!([]));
    assert_eq!(f["from"], "2020-01-01T00:00:00Z", "the workspace's timezone is UTC by default");

    let s = get_ok(&app, &owner, &format!("/api/v1/analytics/segments?dimension=country&{w}")).await;
    assert_eq!(s["groups"], json!([]));
    assert_eq!(
        s["totals"],
        json!({"customers": 0, "active_customers": 0, "interactions": 0, "purchases": 0, "revenue_cents": 0})
    );
    let r = get_ok(&app, &owner, "/api/v1/analytics/rfm").await;
    assert_eq!(r["customers"], 0);
    let names: Vec<&str> = r["segments"].as_array().unwrap().iter().map(|s| s["segment"].as_str().unwrap()).collect();
    assert_eq!(names, ["champions", "loyal", "new", "promising", "at_risk", "hibernating", "lost"]);
    assert!(r["segments"].as_array().unwrap().iter().all(|s| s["customers"] == 0 && s["revenue_cents"] == 0));
    let c = get_ok(&app, &owner, &format!("/api/v1/analytics/cohorts?period=week&{w}")).await;
    assert_eq!(c["cohorts"], json!([]));
    let i = get_ok(&app, &owner, &format!("/api/v1/analytics/interactions?bucket=day&{w}")).await;
    assert_eq!(
        i["series"],
        json!([{"group": null, "label": null, "points": [
            {"bucket": "2020-01-01", "count": 0, "value_cents": 0}, {"bucket": "2020-01-02", "count": 0, "value_cents": 0}]}])
    );
    let g = get_ok(&app, &owner, &format!("/api/v1/analytics/interactions?bucket=day&group_by=kind&{w}")).await;
    assert_eq!(g["series"], json!([]), "no group without an interaction");
    let b = get_ok(&app, &owner, &format!("/api/v1/analytics/basket?{w}")).await;
    assert_eq!((b["baskets"].as_i64(), b["pairs"].clone()), (Some(0), json!([])));
}

#[tokio::test]
async fn funnel_counts_skips_backward_moves_lost_deals_and_stays() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let pipeline = default_pipeline(&app, &owner).await;
    let p = pipeline["id"].as_str().unwrap();
    let st: Vec<Value> = pipeline["stages"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    // Stages: 0 Need identified, 1 Qualified, 2 Proposal, 3 Negotiation, 4 Won, 5 Lost.
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Ann"})).await.json().await.unwrap();
    let deal = |stage: &Value, at: &str, amount: i64| json!({"pipeline_id": p, "stage_id": stage, "customer_id": customer["id"], "title": "D", "amount_cents": amount, "created_at": at});
    let mut ids = Vec::new();
    for (stage, amount) in [(&st[0], 100), (&st[0], 200), (&st[5], 300), (&st[1], 400)] {
        let d: Value =
            app.post("/api/v1/deals", &owner, deal(stage, "2025-01-01T00:00:00Z", amount)).await.json().await.unwrap();
        ids.push(d["id"].as_str().unwrap().to_owned());
    }
    let mv = |d: usize, s: usize, at: &str| {
        let (path, body) = (format!("/api/v1/deals/{}", ids[d]), json!({"stage_id": st[s], "changed_at": at}));
        let app = &app;
        let owner = &owner;
        async move { assert_eq!(app.patch(&path, owner, body).await.status(), 200) }
    };
    // Deal 0 skips to Proposal after 10 h, goes back to Qualified after 20 h more, then wins.
    mv(0, 2, "2025-01-01T10:00:00Z").await;
    mv(0, 1, "2025-01-02T06:00:00Z").await;
    mv(0, 4, "2025-01-02T06:00:00Z").await; // same instant: a stay of 0 hours
                                            // Deal 1 is lost after 30 h in Need identified.
    mv(1, 5, "2025-01-02T06:00:00Z").await;
    // Deal 2 was created lost. Deal 3 stays in Qualified (a stay not ended is not counted).
    let f =
        get_ok(&app, &owner, &format!("/api/v1/analytics/funnel?pipeline_id={p}&from=2025-01-01&to=2025-02-01")).await;
    assert_eq!(
        (f["entered"].as_i64(), f["open"].as_i64(), f["won"].as_i64(), f["lost"].as_i64()),
        (Some(4), Some(1), Some(1), Some(2))
    );
    assert_eq!(f["win_rate"], json!(1.0 / 3.0));
    let reached: Vec<i64> = f["stages"].as_array().unwrap().iter().map(|s| s["reached"].as_i64().unwrap()).collect();
    assert_eq!(reached, [3, 2, 1, 1, 1], "deal 2 never entered the path; deal 0 passed Negotiation by winning");
    let amounts: Vec<i64> =
        f["stages"].as_array().unwrap().iter().map(|s| s["reached_amount_cents"].as_i64().unwrap()).collect();
    assert_eq!(amounts, [700, 500, 100, 100, 100]);
    let s = &f["stages"];
    assert!(s[0]["conversion_from_previous"].is_null());
    assert_eq!(s[1]["conversion_from_previous"], json!(2.0 / 3.0));
    assert_eq!(s[2]["conversion_from_previous"], json!(0.5));
    assert_eq!(s[4]["conversion_from_first"], json!(1.0 / 3.0));
    assert_eq!(s[0]["median_hours_in_stage"], json!(20.0), "stays of 10 h and 30 h");
    assert_eq!(s[1]["median_hours_in_stage"], json!(0.0), "deal 0's 0-hour stay; deal 3's open stay is not counted");
    assert_eq!(s[2]["median_hours_in_stage"], json!(20.0));
    assert!(s[3]["median_hours_in_stage"].is_null());
    assert_eq!(s[1]["current"], 1);
    assert_eq!(
        f["lost_after"],
        json!([{"stage_id": st[0], "count": 1}, {"stage_id": null, "count": 1}]),
        "deal 1 reached Need identified; deal 2 nothing"
    );
}

#[tokio::test]
async fn buckets_follow_the_workspace_timezone_across_dst_and_months() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"timezone": "America/New_York"})).await.status(), 200);
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Bo"})).await.json().await.unwrap();
    let channels = get_ok(&app, &owner, "/api/v1/channels").await;
    let channel = &channels["data"][0]["id"];
    let mut items = Vec::new();
    // New York went from EST (-5) to EDT (-4) on 2025-03-09 at 02:00 local: that day has 23 h.
    for at in [
        "2025-03-09T04:30:00Z", // 23:30 on the 8th (EST)
        "2025-03-09T05:00:00Z", // 00:00 on the 9th (EST): the day's first instant
        "2025-03-10T03:59:59Z", // 23:59:59 on the 9th (EDT)
        "2025-03-10T04:00:00Z", // 00:00 on the 10th (EDT)
        "2025-09-29T12:00:00Z", // Monday 29 September
        "2025-10-02T12:00:00Z", // Thursday 2 October, same ISO week
    ] {
        items.push(
            json!({"customer_id": customer["id"], "channel_id": channel, "direction": "inbound", "kind": "purchase",
                          "value_cents": 100, "items": ["a", "b"], "occurred_at": at}),
        );
    }
    assert_eq!(app.post("/api/v1/interactions/batch", &owner, json!({"items": items})).await.status(), 201);
    let day = get_ok(&app, &owner, "/api/v1/analytics/interactions?bucket=day&from=2025-03-08&to=2025-03-11").await;
    assert_eq!(day["from"], "2025-03-08T05:00:00Z", "midnight EST");
    assert_eq!(day["to"], "2025-03-11T04:00:00Z", "midnight EDT");
    let counts: Vec<(String, i64)> = day["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["bucket"].as_str().unwrap().to_owned(), p["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(counts, [("2025-03-08".into(), 1), ("2025-03-09".into(), 2), ("2025-03-10".into(), 1)]);
    let week = get_ok(&app, &owner, "/api/v1/analytics/interactions?bucket=week&from=2025-09-29&to=2025-10-06").await;
    assert_eq!(week["series"][0]["points"], json!([{"bucket": "2025-09-29", "count": 2, "value_cents": 200}]));
    let month = get_ok(&app, &owner, "/api/v1/analytics/interactions?bucket=month&from=2025-09-01&to=2025-11-01").await;
    assert_eq!(
        month["series"][0]["points"],
        json!([{"bucket": "2025-09-01", "count": 1, "value_cents": 100}, {"bucket": "2025-10-01", "count": 1, "value_cents": 100}])
    );
    // The customer's cohort is the week of 2025-03-03 (its first interaction, on the 8th, local),
    // active again in the week of 2025-03-10 (the 10th local), then in the week of 2025-09-29.
    let c = get_ok(&app, &owner, "/api/v1/analytics/cohorts?period=week&from=2025-03-03&to=2025-03-24").await;
    assert_eq!(
        c["cohorts"],
        json!([{"cohort": "2025-03-03", "size": 1, "retention": [
            {"offset": 0, "active": 1, "rate": 1.0}, {"offset": 1, "active": 1, "rate": 1.0}, {"offset": 2, "active": 0, "rate": 0.0}]}])
    );
    let b = get_ok(&app, &owner, "/api/v1/analytics/basket?from=2025-01-01&to=2026-01-01&min_support=0").await;
    assert_eq!(b["baskets"], 6);
    assert_eq!(
        b["pairs"],
        json!([{"a": "a", "b": "b", "count": 6, "support": 1.0, "confidence_a_b": 1.0, "confidence_b_a": 1.0, "lift": 1.0}])
    );
    // A soft-deleted customer leaves every figure.
    assert_eq!(
        app.delete(&format!("/api/v1/customers/{}", customer["id"].as_str().unwrap()), &owner).await.status(),
        204
    );
    let day = get_ok(&app, &owner, "/api/v1/analytics/interactions?bucket=day&from=2025-03-08&to=2025-03-11").await;
    assert!(day["series"][0]["points"].as_array().unwrap().iter().all(|p| p["count"] == 0));
    let b = get_ok(&app, &owner, "/api/v1/analytics/basket?from=2025-01-01&to=2026-01-01").await;
    assert_eq!(b["baskets"], 0);
}

/// The `customer_activity` rollup stays equal to its definition under concurrent writes to one
/// customer: inserts, batches, moves in time, deletions.
#[tokio::test]
async fn the_activity_rollup_survives_concurrent_writes() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Busy"})).await.json().await.unwrap();
    let cid = customer["id"].as_str().unwrap().to_owned();
    let channels = get_ok(&app, &owner, "/api/v1/channels").await;
    let channel = channels["data"][0]["id"].as_str().unwrap().to_owned();
    let purchase = |days: i64| {
        json!({"customer_id": cid, "channel_id": channel, "direction": "inbound", "kind": "purchase",
               "value_cents": 100 + days, "occurred_at": iso(Utc::now() - Duration::days(days))})
    };
    let mut ids = Vec::new();
    for d in 0..20 {
        let v: Value = app.post("/api/v1/interactions", &owner, purchase(d + 1)).await.json().await.unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let mut tasks = Vec::new();
    for n in 0..40i64 {
        let (app, owner, id) = (&app, owner.clone(), ids[(n % 20) as usize].clone());
        let body = purchase(30 + n);
        let batch = json!({"items": [purchase(100 + n), purchase(200 + n)]});
        tasks.push(async move {
            let path = format!("/api/v1/interactions/{id}");
            match n % 4 {
                0 => app.post("/api/v1/interactions", &owner, body).await.status().as_u16(),
                1 => app.post("/api/v1/interactions/batch", &owner, batch).await.status().as_u16(),
                2 => app
                    .patch(&path, &owner, json!({"occurred_at": iso(Utc::now() - Duration::days(300 + n))}))
                    .await
                    .status()
                    .as_u16(),
                _ => app.delete(&path, &owner).await.status().as_u16(),
            }
        });
    }
    for status in futures_util::future::join_all(tasks).await {
        assert!([200, 201, 204, 404].contains(&status), "{status}");
    }
    let (rollup, truth): (String, String) = sqlx::query_as(
        "SELECT (SELECT row(first_at, first_id, first_channel_id, purchases, purchase_value, last_purchase_at)::text
                   FROM customer_activity WHERE customer_id = $1),
                (SELECT row(f.occurred_at, f.id, f.channel_id, p.n, p.v, p.last)::text
                   FROM (SELECT occurred_at, id, channel_id FROM interactions WHERE customer_id = $1
                          ORDER BY occurred_at, id LIMIT 1) f,
                        (SELECT count(*) AS n, coalesce(sum(value_cents), 0) AS v, max(occurred_at) AS last
                           FROM interactions WHERE customer_id = $1 AND kind = 'purchase') p)",
    )
    .bind(cid.parse::<Uuid>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(rollup, truth);
}

#[tokio::test]
async fn skipped_and_repeated_midnights_follow_one_rule() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    // São Paulo skipped 2018-11-04 00:00 (clocks went from 23:59:59 -03 to 01:00 -02).
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"timezone": "America/Sao_Paulo"})).await.status(), 200);
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Cy"})).await.json().await.unwrap();
    let channels = get_ok(&app, &owner, "/api/v1/channels").await;
    let log = |at: &str| {
        json!({"customer_id": customer["id"], "channel_id": channels["data"][0]["id"], "direction": "outbound",
               "kind": "call", "occurred_at": at})
    };
    let items: Vec<Value> =
        ["2018-11-04T02:59:59Z", "2018-11-04T03:00:00Z", "2018-11-05T01:59:59Z", "2018-11-05T02:00:00Z"]
            .iter()
            .map(|at| log(at))
            .collect();
    assert_eq!(app.post("/api/v1/interactions/batch", &owner, json!({"items": items})).await.status(), 201);
    let day = get_ok(&app, &owner, "/api/v1/analytics/interactions?from=2018-11-03&to=2018-11-06").await;
    assert_eq!(
        (day["from"].as_str(), day["to"].as_str()),
        (Some("2018-11-03T03:00:00Z"), Some("2018-11-06T02:00:00Z"))
    );
    let counts: Vec<i64> =
        day["series"][0]["points"].as_array().unwrap().iter().map(|p| p["count"].as_i64().unwrap()).collect();
    assert_eq!(counts, [1, 2, 1], "the 4th started at 01:00 local, 03:00Z: the offset before the jump");
    let skipped = get_ok(&app, &owner, "/api/v1/analytics/interactions?from=2018-11-04&to=2018-11-05").await;
    assert_eq!(skipped["from"], "2018-11-04T03:00:00Z");
    // Havana repeated 2025-11-02 00:00 (-04, then again at -05): the later one.
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"timezone": "America/Havana"})).await.status(), 200);
    let repeated = get_ok(&app, &owner, "/api/v1/analytics/interactions?from=2025-11-02&to=2025-11-03").await;
    assert_eq!(repeated["from"], "2025-11-02T05:00:00Z");
}

#[tokio::test]
async fn bad_parameters_are_400_and_unknown_pipelines_404() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let p = default_pipeline(&app, &owner).await["id"].as_str().unwrap().to_owned();
    for (path, field) in [
        ("/api/v1/analytics/segments?dimension=city".to_owned(), "dimension"),
        ("/api/v1/analytics/segments?dimension=attr.".to_owned(), "dimension"),
        ("/api/v1/analytics/segments".to_owned(), "dimension"),
        ("/api/v1/analytics/segments?dimension=kind&from=2025-02-01&to=2025-02-01".to_owned(), "from"),
        ("/api/v1/analytics/segments?dimension=kind&from=2025-03-01&to=2025-02-01".to_owned(), "from"),
        ("/api/v1/analytics/segments?dimension=kind&from=2025-02-30".to_owned(), "from"),
        ("/api/v1/analytics/segments?dimension=kind&to=2025-02-01T10:00:00".to_owned(), "to"),
        ("/api/v1/analytics/segments?dimension=kind&to=tomorrow".to_owned(), "to"),
        (format!("/api/v1/analytics/funnel?pipeline_id={p}&owner_id=nope"), "owner_id"),
        ("/api/v1/analytics/funnel".to_owned(), "pipeline_id"),
        ("/api/v1/analytics/rfm?as_of=2025-13-01".to_owned(), "as_of"),
        ("/api/v1/analytics/cohorts?period=day".to_owned(), "period"),
        ("/api/v1/analytics/cohorts?period=week&from=1900-01-01&to=2100-01-01".to_owned(), "from"),
        ("/api/v1/analytics/interactions?bucket=hour".to_owned(), "bucket"),
        ("/api/v1/analytics/interactions?group_by=owner".to_owned(), "group_by"),
        ("/api/v1/analytics/interactions?bucket=day&from=1900-01-01&to=2100-01-01".to_owned(), "from"),
        ("/api/v1/analytics/basket?min_support=1.5".to_owned(), "min_support"),
        ("/api/v1/analytics/basket?min_support=NaN".to_owned(), "min_support"),
        ("/api/v1/analytics/basket?limit=0".to_owned(), "limit"),
        ("/api/v1/analytics/basket?limit=201".to_owned(), "limit"),
        ("/api/v1/analytics/basket?colour=red".to_owned(), "colour"),
    ] {
        let res = app.get(&path, &owner).await;
        let body = assert_problem(res, 400, "malformed_request").await;
        assert!(body.to_string().contains(field), "{path}: {body}");
    }
    let res = app.get(&format!("/api/v1/analytics/funnel?pipeline_id={}", Uuid::now_v7()), &owner).await;
    assert_problem(res, 404, "not_found").await;
    let other = app.other_workspace().await;
    let res = app.get(&format!("/api/v1/analytics/funnel?pipeline_id={p}"), &other).await;
    assert_problem(res, 404, "not_found").await;
    let res = app.get(&format!("/api/v1/analytics/rfm?customer_id={}", Uuid::now_v7()), &owner).await;
    assert_problem(res, 404, "not_found").await;
    let res = app.request(reqwest::Method::GET, "/api/v1/analytics/rfm", None, None).await;
    assert_problem(res, 401, "unauthorized").await;
}

/// `support >= min_support` is decided exactly, with `min_support` as the decimal given: never
/// rounded to a double first.
#[tokio::test]
async fn the_basket_threshold_is_decided_exactly() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let customer = app.post("/api/v1/customers", &owner, json!({"name": "Buyer"})).await.json::<Value>().await.unwrap();
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    for items in [["a", "b"], ["c", "d"]] {
        let res = app
            .post(
                "/api/v1/interactions",
                &owner,
                json!({"customer_id": customer["id"], "channel_id": channels["data"][0]["id"], "direction": "inbound",
                       "kind": "purchase", "items": items}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    // Two baskets: each pair has a support of exactly 1/2.
    for (min_support, pairs) in [
        ("0.500000000000000000000000000000000000000100000", 0),
        ("0.50000000000000001", 0),
        ("0.5000000000000000000000000000000000000000", 2),
        ("0.5", 2),
        ("5e-1", 2),
        ("50E-2", 2),
        ("0.49999999999999999999999", 2),
        ("1", 0),
        ("0", 2),
    ] {
        let body = get_ok(&app, &owner, &format!("/api/v1/analytics/basket?min_support={min_support}")).await;
        assert_eq!(body["baskets"], 2);
        assert_eq!(body["pairs"].as_array().unwrap().len(), pairs, "min_support={min_support}: {body}");
    }
    for bad in ["1.0000000000000000000000001", "-0.0000000000000000000001", "0x1", "1e", ".5", "0.5.1", "inf"] {
        let body = assert_problem(
            app.get(&format!("/api/v1/analytics/basket?min_support={bad}"), &owner).await,
            400,
            "malformed_request",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "min_support", "{bad}");
    }
}
