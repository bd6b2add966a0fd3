//! Bulk loading of a synthetic workspace, set-based inside PostgreSQL (no row-by-row round
//! trips), for `rapport seed`.
//!
//! The data is skewed like a real CRM's: most customers have a handful of interactions over
//! three years and every channel, a few have thousands; a fifth of the interactions are
//! purchases of one to four SKUs from a catalogue of 200.

use std::time::Instant;

use sqlx::PgPool;

use crate::domain::WorkspaceId;

/// A random UUID whose first 48 bits are the time `$ts` in ms, like a UUID v7: rows inserted
/// in time order stay close in the primary key index.
const UUID7: &str = "(lpad(to_hex((extract(epoch from TS) * 1000)::bigint), 12, '0') \
    || substr(gen_random_uuid()::text, 15))::uuid";

fn uuid7(ts: &str) -> String {
    UUID7.replace("TS", ts)
}

/// Runs `sql` ($1 workspace, $2 size, $3 part, $4 parts) as `PARTS` statements at once, one
/// per core: generating rows is CPU-bound.
async fn step(pool: &PgPool, what: &str, sql: &str, ws: WorkspaceId, n: i64) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    // On a terminal, a spinner while the step runs (hidden otherwise; the line below stays).
    let spinner = indicatif::ProgressBar::new_spinner().with_message(what.to_owned());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let parts = PARTS;
    let runs = (0..parts).map(|part| async move {
        let mut conn = pool.acquire().await?;
        for setting in ["SET synchronous_commit = off", "SET work_mem = '256MB'"] {
            sqlx::query(setting).execute(&mut *conn).await?;
        }
        let done = sqlx::query(sql).bind(ws).bind(n).bind(part).bind(parts).execute(&mut *conn).await?;
        Ok::<u64, sqlx::Error>(done.rows_affected())
    });
    let rows: u64 = futures_util::future::try_join_all(runs).await?.into_iter().sum();
    spinner.finish_and_clear();
    println!("  {what:<32} {rows:>10} rows {:>8.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

const PARTS: i64 = 2;

/// What loading drops and puts back: statements to run after the load, in order.
struct Schema {
    restore: Vec<String>,
}

/// Drops every index and constraint of `tables` (and foreign keys pointing at them), so the
/// load only appends to the heap; `restore` builds them again once, each in one pass.
async fn strip(pool: &PgPool, tables: &[&str]) -> Result<Schema, sqlx::Error> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    // (table, name, kind, definition)
    let constraints: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text, c.contype::text, pg_get_constraintdef(c.oid)
           FROM pg_constraint c
          WHERE c.contype IN ('p', 'u', 'f')
            AND (c.conrelid::regclass::text = ANY($1) OR c.confrelid::regclass::text = ANY($1))",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname::text, i.indexdef FROM pg_indexes i
          WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;
    let mut restore = Vec::new();
    for kind in ["p", "u"] {
        for (table, name, _, def) in constraints.iter().filter(|c| c.2 == kind) {
            restore.push(format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"));
        }
    }
    restore.extend(indexes.iter().map(|(_, def)| def.clone()));
    for (table, name, _, def) in constraints.iter().filter(|c| c.2 == "f") {
        restore.push(format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"));
    }
    for kind in ["f", "u", "p"] {
        for (table, name, _, _) in constraints.iter().filter(|c| c.2 == kind) {
            sqlx::query(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}")).execute(pool).await?;
        }
    }
    for (name, _) in &indexes {
        sqlx::query(&format!("DROP INDEX {name}")).execute(pool).await?;
    }
    Ok(Schema { restore })
}

async fn restore(pool: &PgPool, schema: Schema) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    sqlx::query("SET maintenance_work_mem = '1GB'").execute(&mut *conn).await?;
    sqlx::query("SET max_parallel_maintenance_workers = 2").execute(&mut *conn).await?;
    for statement in &schema.restore {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    println!(
        "  {:<32} {:>10} {:>13.1} s",
        "constraints and indexes",
        schema.restore.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fills the new workspace `ws` with users, `customers` customers, about
/// `interactions_per_customer` interactions each, deals and their histories; prints each
/// step's time.
pub async fn load(
    pool: &PgPool,
    ws: WorkspaceId,
    customers: i64,
    interactions_per_customer: i64,
) -> Result<(), sqlx::Error> {
    step(
        pool,
        "users",
        &format!(
            "INSERT INTO users (workspace_id, id, email, name, password_hash, role)
             SELECT $1, {}, 'rep' || g || '@rapport.local', 'Rep ' || g,
                    (SELECT password_hash FROM users WHERE workspace_id = $1 LIMIT 1), 'member'
               FROM generate_series(1, least($2, 20)) g
              WHERE g % $4 = $3",
            uuid7("clock_timestamp()")
        ),
        ws,
        customers,
    )
    .await?;

    // Load into bare tables, then build indexes and check constraints once: much faster
    // than keeping them up to date row by row. (The tables hold other workspaces' rows too:
    // the constraints are checked again for all of them when they come back.)
    let schema = strip(pool, &["customers", "interactions", "deals", "deal_stage_events"]).await?;
    // The customer_activity, interaction_hours and segment_hours rollups are built once at the
    // end rather than statement by statement.
    sqlx::query("ALTER TABLE interactions DISABLE TRIGGER interactions_activity_added").execute(pool).await?;
    sqlx::query("ALTER TABLE interactions DISABLE TRIGGER interactions_hours_added").execute(pool).await?;
    sqlx::query("ALTER TABLE interactions DISABLE TRIGGER interactions_segments_added").execute(pool).await?;
    sqlx::query("ALTER TABLE customers DISABLE TRIGGER customers_segments_added").execute(pool).await?;
    // The workspace is new: no currency change can race with its amounts.
    sqlx::query("ALTER TABLE interactions DISABLE TRIGGER interactions_money").execute(pool).await?;
    sqlx::query("ALTER TABLE deals DISABLE TRIGGER deals_money").execute(pool).await?;
    // Each event's `left_at` is written with it.
    sqlx::query("ALTER TABLE deal_stage_events DISABLE TRIGGER deal_stage_events_stays").execute(pool).await?;

    step(
        pool,
        "customers",
        &format!(
            "WITH first(n) AS (SELECT ARRAY['Ada','Alan','Grace','Linus','Ken','Barbara','Donald','Edsger','John','Mary',
                        'Anna','Marie','Pierre','Sofia','Lucas','Emma','Noah','Mia','Liam','Olivia','Hugo','Léa',
                        'Yuki','Hiro','Chen','Wei','Priya','Ravi','Fatima','Omar','Ivan','Olga','Carlos','Lucía',
                        'João','Ana','Kwame','Amara','Lars','Ingrid']),
                  last(n) AS (SELECT ARRAY['Lovelace','Turing','Hopper','Torvalds','Thompson','Liskov','Knuth','Dijkstra',
                        'Smith','Johnson','Martin','Bernard','Dubois','Rossi','Müller','Schmidt','García','Silva',
                        'Santos','Tanaka','Suzuki','Wang','Li','Patel','Singh','Khan','Ivanov','Nowak','Kowalski',
                        'Jensen','Hansen','Nielsen','Okafor','Mensah','Cohen','Levi','Moreau','Laurent','Fischer','Weber']),
                  company(n) AS (SELECT ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka',
                        'Tyrell','Cyberdyne','Soylent','Aperture','Vandelay','Dunder','Prestige','Massive']),
                  country(c) AS (SELECT ARRAY['FR','FR','FR','DE','DE','GB','GB','US','US','US','ES','IT','NL','BE',
                        'BR','JP','IN','CA','SE','PL']),
                  tag(t) AS (SELECT ARRAY['vip','newsletter','b2b','b2c','churn-risk','trial','partner','reseller',
                        'event-2024','event-2025']),
                  owners AS (SELECT array_agg(id) AS ids FROM users WHERE workspace_id = $1)
             INSERT INTO customers (workspace_id, id, kind, name, email, phone, company_name, country, city, tags,
                                    attributes, owner_id, created_at, updated_at)
             SELECT $1, {}, s.kind, s.name, s.email, s.phone, s.company, s.country, NULL, s.tags, s.attributes,
                    s.owner, s.created_at, s.created_at
               FROM (
                 SELECT g,
                        CASE WHEN g % 5 = 0 THEN 'company' ELSE 'person' END AS kind,
                        CASE WHEN g % 5 = 0 THEN company.n[1 + g % 16] || ' ' || last.n[1 + (g / 7) % 40] || ' ' || g
                             ELSE first.n[1 + g % 40] || ' ' || last.n[1 + (g / 40) % 40] END AS name,
                        lower(first.n[1 + g % 40]) || '.' || lower(last.n[1 + (g / 40) % 40]) || '.' || g || '@example.com' AS email,
                        CASE WHEN g % 3 = 0 THEN '+33 6 ' || lpad((g % 100000000)::text, 8, '0') END AS phone,
                        CASE WHEN g % 4 = 0 THEN company.n[1 + (g / 3) % 16] END AS company,
                        country.c[1 + (g * 7) % 20] AS country,
                        ARRAY(SELECT DISTINCT tag.t[1 + ((g * k * 13) % 10)] FROM generate_series(1, (g % 4)) k) AS tags,
                        jsonb_build_object('plan', (ARRAY['free','pro','enterprise'])[1 + g % 3],
                                           'source', (ARRAY['ads','referral','organic','event'])[1 + (g / 3) % 4]) AS attributes,
                        owners.ids[1 + g % array_length(owners.ids, 1)] AS owner,
                        now() - interval '3 years' * (1 - (g::float8 / $2)) - interval '1 second' * (g % 86400) AS created_at
                   FROM generate_series(1, $2) g, first, last, company, country, tag, owners
                  WHERE g % $4 = $3
               ) s",
            uuid7("s.created_at")
        ),
        ws,
        customers,
    )
    .await?;

    // Interactions: an exponential number per customer (mean `per`), ten heavy customers with
    // thousands, spread from the customer's creation to now over every channel.
    step(
        pool,
        "interactions",
        &format!(
            "WITH ch AS (SELECT array_agg(id ORDER BY kind) AS ids FROM channels WHERE workspace_id = $1),
                  us AS (SELECT array_agg(id) AS ids FROM users WHERE workspace_id = $1),
                  c AS (SELECT id, created_at,
                               CASE WHEN row_number() OVER (ORDER BY id) <= 10 / $4 THEN 5000
                                    ELSE floor(-ln(1 - random()) * {per} + 0.5)::int END AS n
                          FROM customers WHERE workspace_id = $1 AND get_byte(uuid_send(id), 15) % $4 = $3),
                  gen AS (
                    SELECT c.id AS customer_id,
                           c.created_at + (now() - c.created_at) * random() AS occurred_at,
                           random() AS r, k
                      FROM c, generate_series(1, c.n) k)
             INSERT INTO interactions (workspace_id, id, customer_id, channel_id, direction, kind, subject,
                                       occurred_at, duration_seconds, value_cents, items, user_id, created_at, updated_at)
             SELECT $1, {}, gen.customer_id, ch.ids[1 + (k * 7 + (r * 1000)::int) % array_length(ch.ids, 1)],
                    CASE WHEN r < 0.55 THEN 'inbound' ELSE 'outbound' END,
                    t.kind,
                    CASE t.kind WHEN 'purchase' THEN 'Order' WHEN 'support' THEN 'Ticket' ELSE 'Contact' END,
                    gen.occurred_at,
                    CASE WHEN t.kind IN ('call', 'meeting') THEN 60 + (r * 3600)::int END,
                    CASE WHEN t.kind = 'purchase' THEN 500 + (r * 49500)::int END,
                    CASE WHEN t.kind = 'purchase'
                         THEN ARRAY(SELECT 'SKU-' || lpad((1 + ((k * 31 + i * 17 + (r * 997)::int) % 200))::text, 3, '0')
                                      FROM generate_series(1, 1 + (k % 4)) i)
                         ELSE '{{}}' END,
                    us.ids[1 + k % array_length(us.ids, 1)],
                    gen.occurred_at, gen.occurred_at
               FROM gen, ch, us,
                    LATERAL (SELECT CASE WHEN gen.r < 0.40 THEN 'message' WHEN gen.r < 0.55 THEN 'call'
                                         WHEN gen.r < 0.60 THEN 'meeting' WHEN gen.r < 0.70 THEN 'note'
                                         WHEN gen.r < 0.90 THEN 'purchase' ELSE 'support' END AS kind) t
",
            uuid7("gen.occurred_at"),
            per = interactions_per_customer
        ),
        ws,
        customers,
    )
    .await?;

    // Deals: one per customer in the default pipeline, walked through its stages. Most stall
    // early, some skip a stage, some go back one, about 20% are won and 30% lost; each step
    // some days after the previous one, never past now.
    step(
        pool,
        "deals and their history",
        "WITH st AS (SELECT array_agg(s.id ORDER BY s.position) AS ids, min(s.pipeline_id::text)::uuid AS pipeline
                       FROM stages s JOIN pipelines p ON p.workspace_id = s.workspace_id AND p.id = s.pipeline_id
                      WHERE s.workspace_id = $1 AND s.archived_at IS NULL AND p.name = 'Sales'),
              c AS (SELECT id, created_at, owner_id, random() AS r, random() AS r2 FROM customers
                     WHERE workspace_id = $1 AND get_byte(uuid_send(id), 14) % $4 = $3),
              paths AS (
                SELECT c.*, st.ids, st.pipeline,
                       CASE
                         WHEN c.r < 0.20 THEN CASE WHEN c.r2 < 0.3 THEN ARRAY[0, 2, 3, 4] WHEN c.r2 < 0.5 THEN ARRAY[0, 1, 3, 4]
                                                   WHEN c.r2 < 0.8 THEN ARRAY[0, 1, 2, 3, 4] ELSE ARRAY[0, 1, 2, 1, 2, 3, 4] END
                         WHEN c.r < 0.50 THEN CASE WHEN c.r2 < 0.25 THEN ARRAY[0, 5] WHEN c.r2 < 0.5 THEN ARRAY[0, 1, 5]
                                                   WHEN c.r2 < 0.75 THEN ARRAY[0, 1, 2, 5] ELSE ARRAY[0, 1, 2, 3, 2, 3, 5] END
                         WHEN c.r < 0.70 THEN ARRAY[0]
                         WHEN c.r < 0.82 THEN ARRAY[0, 1]
                         WHEN c.r < 0.92 THEN ARRAY[0, 1, 2, 1, 2]
                         ELSE ARRAY[0, 1, 2, 3, 2, 3]
                       END AS path
                  FROM c, st),
              steps AS (
                SELECT p.id AS customer_id, p.owner_id, p.pipeline, p.ids, p.path, k, pos, cardinality(p.path) AS n,
                       least(now() - interval '1 minute' * (cardinality(p.path) - 1), p.created_at) AS first_at,
                       least(now() - interval '1 minute' * (cardinality(p.path) - k),
                             p.created_at + interval '1 day' * (k - 1) * (1 + 20 * p.r2)) AS at,
                       (lpad(to_hex((extract(epoch from p.created_at) * 1000)::bigint), 12, '0')
                          || substr(md5(p.id::text), 13, 20))::uuid AS deal_id
                  FROM paths p, unnest(p.path) WITH ORDINALITY AS u (pos, k)),
              new_deals AS (
                INSERT INTO deals (workspace_id, id, pipeline_id, stage_id, customer_id, title, amount_cents, status,
                                   owner_id, closed_at, created_at, updated_at, entered_stage_ids)
                SELECT $1, s.deal_id, s.pipeline, s.ids[s.pos + 1], s.customer_id, 'Opportunity ' || left(s.customer_id::text, 8),
                       (1000 + (get_byte(uuid_send(s.deal_id), 15) * 3917) % 5000000)::bigint,
                       CASE s.pos WHEN 4 THEN 'won' WHEN 5 THEN 'lost' ELSE 'open' END,
                       s.owner_id, CASE WHEN s.pos >= 4 THEN s.at END,
                       s.first_at, s.at,
                       (SELECT array_agg(s.ids[x.pos + 1] ORDER BY x.k)
                          FROM (SELECT u.pos, min(u.k) AS k FROM unnest(s.path) WITH ORDINALITY AS u (pos, k) GROUP BY u.pos) x)
                  FROM steps s WHERE s.k = s.n
                RETURNING 0)
             INSERT INTO deal_stage_events (workspace_id, id, deal_id, from_stage_id, to_stage_id, changed_at, user_id, left_at,
                                            deal_created_at)
             SELECT $1, e.id, e.deal_id, e.from_stage_id, e.to_stage_id, e.changed_at, e.user_id,
                    lead(e.changed_at) OVER (PARTITION BY e.deal_id ORDER BY e.changed_at, e.id), e.deal_created_at
               FROM (SELECT (lpad(to_hex((extract(epoch from s.at) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 15))::uuid AS id,
                            s.deal_id, s.first_at AS deal_created_at, CASE WHEN s.k > 1 THEN s.ids[lag(s.pos) OVER w + 1] END AS from_stage_id,
                            s.ids[s.pos + 1] AS to_stage_id, s.at AS changed_at, s.owner_id AS user_id
                       FROM steps s
                     WINDOW w AS (PARTITION BY s.deal_id ORDER BY s.k)) e",
        ws,
        customers,
    )
    .await?;

    restore(pool, schema).await?;
    let rollup = Instant::now();
    // The rebuilds' plans need the loaded rows' statistics (without them, 100,000 customers'
    // rollups took 2 minutes instead of 20 s).
    sqlx::query("ANALYZE customers, interactions").execute(pool).await?;
    sqlx::query("SELECT rapport_customer_activity_rebuild($1)").bind(ws.0).execute(pool).await?;
    sqlx::query("SELECT rapport_interaction_hours_rebuild($1)").bind(ws.0).execute(pool).await?;
    sqlx::query("SELECT rapport_segment_hours_rebuild($1)").bind(ws.0).execute(pool).await?;
    // rfm_counts follows customer_activity's rebuild through its changes: fold them all now.
    sqlx::query("SELECT rapport_rfm_counts_fold(2147483647)").execute(pool).await?;
    sqlx::query("ALTER TABLE interactions ENABLE TRIGGER interactions_activity_added").execute(pool).await?;
    sqlx::query("ALTER TABLE interactions ENABLE TRIGGER interactions_hours_added").execute(pool).await?;
    sqlx::query("ALTER TABLE interactions ENABLE TRIGGER interactions_segments_added").execute(pool).await?;
    sqlx::query("ALTER TABLE customers ENABLE TRIGGER customers_segments_added").execute(pool).await?;
    sqlx::query("ALTER TABLE interactions ENABLE TRIGGER interactions_money").execute(pool).await?;
    sqlx::query("ALTER TABLE deals ENABLE TRIGGER deals_money").execute(pool).await?;
    sqlx::query("ALTER TABLE deal_stage_events ENABLE TRIGGER deal_stage_events_stays").execute(pool).await?;
    println!("  {:<32} {:>10} {:>13.1} s", "analytics rollups", "", rollup.elapsed().as_secs_f64());
    let analyze = Instant::now();
    sqlx::query("VACUUM (ANALYZE) customers").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) interactions").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) customer_activity").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) interaction_hours").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) segment_hours").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) rfm_counts").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) deals").execute(pool).await?;
    sqlx::query("VACUUM (ANALYZE) deal_stage_events").execute(pool).await?;
    println!("  {:<32} {:>10} {:>13.1} s", "vacuum analyze", "", analyze.elapsed().as_secs_f64());
    Ok(())
}
