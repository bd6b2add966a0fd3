//! ANALYTICS.md computed again, in plain Rust, from the raw rows of a workspace: the reference
//! the SQL of `/analytics/*` is compared with. Nothing here shares code with the server; dates
//! are cut with chrono-tz's copy of the timezone database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Uuid,
    pub kind: String,
    pub country: Option<String>,
    pub owner_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub attributes: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Interaction {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub channel_id: Uuid,
    pub direction: String,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub value_cents: Option<i64>,
    pub items: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub id: Uuid,
    pub pipeline_id: Uuid,
    pub name: String,
    pub position: Option<i32>,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct Deal {
    pub id: Uuid,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub customer_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub status: String,
    pub amount_cents: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub deal_id: Uuid,
    pub to_stage_id: Uuid,
    pub changed_at: DateTime<Utc>,
}

/// The rows of one workspace; only live customers and what belongs to them.
pub struct World {
    pub tz: Tz,
    pub customers: Vec<Customer>,
    pub interactions: Vec<Interaction>,
    pub stages: Vec<Stage>,
    pub deals: Vec<Deal>,
    pub events: Vec<Event>,
    /// Names of the workspace's users and channels, by id: the labels of groups keyed by them.
    pub names: HashMap<Uuid, String>,
}

impl World {
    /// Reads the rows as stored (plain selects, no computation).
    pub async fn load(pool: &PgPool, ws: Uuid) -> World {
        let tz: String =
            sqlx::query_scalar("SELECT timezone FROM workspaces WHERE id = $1").bind(ws).fetch_one(pool).await.unwrap();
        let customers: Vec<Customer> = sqlx::query(
            "SELECT id, kind, country, owner_id, tags, attributes, created_at FROM customers
              WHERE workspace_id = $1 AND deleted_at IS NULL",
        )
        .bind(ws)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| Customer {
            id: r.get("id"),
            kind: r.get("kind"),
            country: r.get("country"),
            owner_id: r.get("owner_id"),
            tags: r.get("tags"),
            attributes: r.get("attributes"),
            created_at: r.get("created_at"),
        })
        .collect();
        let live: HashSet<Uuid> = customers.iter().map(|c| c.id).collect();
        let interactions = sqlx::query(
            "SELECT id, customer_id, channel_id, direction, kind, occurred_at, value_cents, items FROM interactions
              WHERE workspace_id = $1",
        )
        .bind(ws)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| Interaction {
            id: r.get("id"),
            customer_id: r.get("customer_id"),
            channel_id: r.get("channel_id"),
            direction: r.get("direction"),
            kind: r.get("kind"),
            occurred_at: r.get("occurred_at"),
            value_cents: r.get("value_cents"),
            items: r.get("items"),
        })
        .filter(|i| live.contains(&i.customer_id))
        .collect();
        let stages = sqlx::query("SELECT id, pipeline_id, name, position, kind FROM stages WHERE workspace_id = $1")
            .bind(ws)
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| Stage {
                id: r.get("id"),
                pipeline_id: r.get("pipeline_id"),
                name: r.get("name"),
                position: r.get("position"),
                kind: r.get("kind"),
            })
            .collect();
        let deals: Vec<Deal> = sqlx::query(
            "SELECT id, pipeline_id, stage_id, customer_id, owner_id, status, amount_cents, created_at FROM deals
              WHERE workspace_id = $1",
        )
        .bind(ws)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| Deal {
            id: r.get("id"),
            pipeline_id: r.get("pipeline_id"),
            stage_id: r.get("stage_id"),
            customer_id: r.get("customer_id"),
            owner_id: r.get("owner_id"),
            status: r.get("status"),
            amount_cents: r.get("amount_cents"),
            created_at: r.get("created_at"),
        })
        .filter(|d| live.contains(&d.customer_id))
        .collect();
        let events =
            sqlx::query("SELECT id, deal_id, to_stage_id, changed_at FROM deal_stage_events WHERE workspace_id = $1")
                .bind(ws)
                .fetch_all(pool)
                .await
                .unwrap()
                .into_iter()
                .map(|r| Event {
                    id: r.get("id"),
                    deal_id: r.get("deal_id"),
                    to_stage_id: r.get("to_stage_id"),
                    changed_at: r.get("changed_at"),
                })
                .collect();
        let names: HashMap<Uuid, String> = sqlx::query_as(
            "SELECT id, name FROM users WHERE workspace_id = $1 UNION ALL SELECT id, name FROM channels WHERE workspace_id = $1",
        )
        .bind(ws)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
        World { tz: tz.parse().unwrap(), customers, interactions, stages, deals, events, names }
    }

    /// The label of a group key: the name of the user or channel it names, when `named`.
    fn label(&self, named: bool, key: &Option<String>) -> Option<String> {
        let id: Uuid = key.as_deref().filter(|_| named)?.parse().ok()?;
        self.names.get(&id).cloned()
    }

    /// The local date of an instant.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The instant a local day starts: a midnight that occurs twice is the later instant; one
    /// the clocks skip is read with the offset in force before the jump.
    pub fn midnight(&self, d: NaiveDate) -> DateTime<Utc> {
        use chrono::offset::LocalResult;
        let local = d.and_hms_opt(0, 0, 0).unwrap();
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
            LocalResult::None => {
                let before = self.tz.from_local_datetime(&(local - Duration::hours(6))).earliest().unwrap();
                (local - Duration::seconds(before.offset().fix().local_minus_utc().into())).and_utc()
            }
        }
    }

    /// First day of the period holding the local date of `t`.
    fn period_of(&self, t: DateTime<Utc>, period: &str) -> NaiveDate {
        trunc(self.local_date(t), period)
    }

    fn in_window(t: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        from <= t && t < to
    }
}

pub fn trunc(d: NaiveDate, period: &str) -> NaiveDate {
    match period {
        "day" => d,
        "week" => d - Duration::days(d.weekday().num_days_from_monday() as i64),
        "month" => d.with_day(1).unwrap(),
        other => panic!("period {other}"),
    }
}

pub fn next(d: NaiveDate, period: &str) -> NaiveDate {
    match period {
        "day" => d + Duration::days(1),
        "week" => d + Duration::days(7),
        "month" => d.checked_add_months(chrono::Months::new(1)).unwrap(),
        other => panic!("period {other}"),
    }
}

fn ratio(n: i64, d: i64) -> Value {
    if d == 0 {
        Value::Null
    } else {
        json!(n as f64 / d as f64)
    }
}

fn hours(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap() as f64 / 1e6 / 3600.0
}

/// `percentile_cont(0.5)`: linear interpolation between the two middle values.
fn median(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pos = 0.5 * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    json!(v[lo] + (pos - lo as f64) * (v[hi] - v[lo]))
}

/// Postgres `ntile(5)` over rows already sorted: the first N % 5 buckets hold one more row.
fn ntile5(n: usize) -> Vec<i64> {
    let (per, extra) = (n / 5, n % 5);
    let mut out = Vec::with_capacity(n);
    for bucket in 0..5 {
        let size = per + usize::from(bucket < extra);
        out.extend(std::iter::repeat_n(bucket as i64 + 1, size));
    }
    out
}

fn ts(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

impl World {
    pub fn acquisition_channel(&self, customer: Uuid) -> Option<Uuid> {
        self.interactions
            .iter()
            .filter(|i| i.customer_id == customer)
            .min_by_key(|i| (i.occurred_at, i.id))
            .map(|i| i.channel_id)
    }

    pub fn funnel(
        &self,
        pipeline: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        owner: Option<Uuid>,
        channel: Option<Uuid>,
    ) -> Value {
        let mut path: Vec<&Stage> = self
            .stages
            .iter()
            .filter(|s| s.pipeline_id == pipeline && s.position.is_some() && s.kind != "lost")
            .collect();
        path.sort_by_key(|s| s.position);
        let cohort: Vec<&Deal> = self
            .deals
            .iter()
            .filter(|d| d.pipeline_id == pipeline && Self::in_window(d.created_at, from, to))
            .filter(|d| owner.is_none() || d.owner_id == owner)
            .filter(|d| channel.is_none() || self.acquisition_channel(d.customer_id) == channel)
            .collect();
        let position: HashMap<Uuid, i32> = path.iter().map(|s| (s.id, s.position.unwrap())).collect();
        let mut reach: HashMap<Uuid, Option<i32>> = HashMap::new();
        let mut stays: HashMap<Uuid, Vec<f64>> = HashMap::new();
        for d in &cohort {
            let mut evs: Vec<&Event> = self.events.iter().filter(|e| e.deal_id == d.id).collect();
            evs.sort_by_key(|e| (e.changed_at, e.id));
            reach.insert(d.id, evs.iter().filter_map(|e| position.get(&e.to_stage_id).copied()).max());
            for pair in evs.windows(2) {
                stays.entry(pair[0].to_stage_id).or_default().push(hours(pair[0].changed_at, pair[1].changed_at));
            }
        }
        let reached = |p: i32| cohort.iter().filter(|d| reach[&d.id].is_some_and(|r| r >= p)).collect::<Vec<_>>();
        let first = path.first().map(|s| reached(s.position.unwrap()).len() as i64).unwrap_or(0);
        let mut stages = Vec::new();
        let mut previous: Option<i64> = None;
        for s in &path {
            let r = reached(s.position.unwrap());
            let n = r.len() as i64;
            stages.push(json!({
                "stage_id": s.id, "name": s.name, "position": s.position, "reached": n,
                "reached_amount_cents": r.iter().map(|d| d.amount_cents).sum::<i64>(),
                "current": cohort.iter().filter(|d| d.stage_id == s.id).count(),
                "conversion_from_previous": previous.map_or(Value::Null, |p| ratio(n, p)),
                "conversion_from_first": ratio(n, first),
                "median_hours_in_stage": median(stays.get(&s.id).cloned().unwrap_or_default()),
            }));
            previous = Some(n);
        }
        let count = |status: &str| cohort.iter().filter(|d| d.status == status).count() as i64;
        let (won, lost) = (count("won"), count("lost"));
        let mut lost_after: BTreeMap<(bool, i32), (Value, i64)> = BTreeMap::new();
        for d in cohort.iter().filter(|d| d.status == "lost") {
            let key = match reach[&d.id] {
                Some(p) => ((false, p), json!(path.iter().find(|s| s.position == Some(p)).unwrap().id)),
                None => ((true, 0), Value::Null),
            };
            lost_after.entry(key.0).or_insert((key.1, 0)).1 += 1;
        }
        json!({
            "pipeline_id": pipeline, "from": ts(from), "to": ts(to),
            "entered": cohort.len(), "open": count("open"), "won": won, "lost": lost,
            "win_rate": ratio(won, won + lost),
            "stages": stages,
            "lost_after": lost_after.into_values().map(|(id, n)| json!({"stage_id": id, "count": n})).collect::<Vec<_>>(),
        })
    }

    fn customer_keys(c: &Customer, dimension: &str) -> Vec<Option<String>> {
        match dimension {
            "country" => vec![c.country.clone()],
            "kind" => vec![Some(c.kind.clone())],
            "owner" => vec![c.owner_id.map(|o| o.to_string())],
            "tag" if c.tags.is_empty() => vec![None],
            "tag" => c.tags.iter().cloned().map(Some).collect::<BTreeSet<_>>().into_iter().collect(),
            attr => {
                let key = attr.strip_prefix("attr.").expect("a customer dimension");
                vec![match c.attributes.get(key) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) if n.is_i64() => Some(n.to_string()),
                    Some(Value::Bool(b)) => Some(b.to_string()),
                    Some(other) => panic!("the tests use no attribute like {other}"),
                }]
            }
        }
    }

    pub fn segments(&self, dimension: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        #[derive(Default, Clone, Copy)]
        struct F {
            customers: i64,
            active: i64,
            interactions: i64,
            purchases: i64,
            revenue: i64,
        }
        let fig = |f: &F| {
            json!({"customers": f.customers, "active_customers": f.active, "interactions": f.interactions,
                   "purchases": f.purchases, "revenue_cents": f.revenue})
        };
        let window: Vec<&Interaction> =
            self.interactions.iter().filter(|i| Self::in_window(i.occurred_at, from, to)).collect();
        let counted: Vec<&Customer> = self.customers.iter().filter(|c| c.created_at < to).collect();
        let per_customer = |c: &Customer| {
            let mine: Vec<&&Interaction> = window.iter().filter(|i| i.customer_id == c.id).collect();
            let purchases: Vec<&&&Interaction> = mine.iter().filter(|i| i.kind == "purchase").collect();
            F {
                customers: 1,
                active: i64::from(!mine.is_empty()),
                interactions: mine.len() as i64,
                purchases: purchases.len() as i64,
                revenue: purchases.iter().map(|i| i.value_cents.unwrap_or(0)).sum(),
            }
        };
        let add = |a: &mut F, b: F| {
            a.customers += b.customers;
            a.active += b.active;
            a.interactions += b.interactions;
            a.purchases += b.purchases;
            a.revenue += b.revenue;
        };
        let mut totals = F::default();
        for c in &counted {
            add(&mut totals, per_customer(c));
        }
        let mut groups: HashMap<Option<String>, F> = HashMap::new();
        if dimension == "channel" {
            let mut customers: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
            for i in &window {
                let g = groups.entry(Some(i.channel_id.to_string())).or_default();
                g.interactions += 1;
                if i.kind == "purchase" {
                    g.purchases += 1;
                    g.revenue += i.value_cents.unwrap_or(0);
                }
                customers.entry(i.channel_id).or_default().insert(i.customer_id);
            }
            for (ch, set) in customers {
                let g = groups.get_mut(&Some(ch.to_string())).unwrap();
                g.customers = set.len() as i64;
                g.active = set.len() as i64;
            }
        } else {
            for c in &counted {
                let f = per_customer(c);
                for key in Self::customer_keys(c, dimension) {
                    add(groups.entry(key).or_default(), f);
                }
            }
        }
        let mut groups: Vec<(Option<String>, F)> = groups.into_iter().filter(|(_, f)| f.customers > 0).collect();
        groups.sort_by(|(ka, a), (kb, b)| {
            b.revenue.cmp(&a.revenue).then(b.customers.cmp(&a.customers)).then_with(|| match (ka, kb) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, _) => std::cmp::Ordering::Greater,
                (_, None) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
            })
        });
        json!({
            "dimension": dimension, "from": ts(from), "to": ts(to),
            "groups": groups.iter().map(|(k, f)| {
                let mut v = fig(f);
                v["key"] = json!(k);
                v["label"] = json!(self.label(matches!(dimension, "owner" | "channel"), k));
                v
            }).collect::<Vec<_>>(),
            "totals": fig(&totals),
        })
    }

    /// Per customer with a purchase before `as_of`: (id, last purchase, frequency, monetary, r, f, m, segment).
    #[allow(clippy::type_complexity)]
    fn rfm_rows(&self, as_of: DateTime<Utc>) -> Vec<(Uuid, DateTime<Utc>, i64, i64, i64, i64, i64, &'static str)> {
        let mut per: BTreeMap<Uuid, (DateTime<Utc>, i64, i64)> = BTreeMap::new();
        for i in self.interactions.iter().filter(|i| i.kind == "purchase" && i.occurred_at < as_of) {
            let e = per.entry(i.customer_id).or_insert((i.occurred_at, 0, 0));
            e.0 = e.0.max(i.occurred_at);
            e.1 += 1;
            e.2 += i.value_cents.unwrap_or(0);
        }
        let rows: Vec<(Uuid, DateTime<Utc>, i64, i64)> = per.into_iter().map(|(id, (l, f, m))| (id, l, f, m)).collect();
        let tiles = ntile5(rows.len());
        let score = |key: &dyn Fn(&(Uuid, DateTime<Utc>, i64, i64)) -> (i128, Uuid)| {
            let mut order: Vec<usize> = (0..rows.len()).collect();
            order.sort_by_key(|&i| key(&rows[i]));
            let mut s = vec![0; rows.len()];
            for (rank, &i) in order.iter().enumerate() {
                s[i] = tiles[rank];
            }
            s
        };
        let r = score(&|x| (x.1.timestamp_micros() as i128, x.0));
        let f = score(&|x| (x.2 as i128, x.0));
        let m = score(&|x| (x.3 as i128, x.0));
        rows.iter()
            .enumerate()
            .map(|(i, x)| {
                let (ri, fi) = (r[i], f[i]);
                let segment = if ri >= 4 && fi >= 4 {
                    "champions"
                } else if ri >= 3 && fi >= 3 {
                    "loyal"
                } else if ri >= 4 && fi <= 2 {
                    "new"
                } else if ri == 3 && fi <= 2 {
                    "promising"
                } else if ri <= 2 && fi >= 3 {
                    "at_risk"
                } else if ri == 2 && fi <= 2 {
                    "hibernating"
                } else {
                    "lost"
                };
                (x.0, x.1, x.2, x.3, ri, fi, m[i], segment)
            })
            .collect()
    }

    pub fn rfm(&self, as_of: DateTime<Utc>) -> Value {
        let rows = self.rfm_rows(as_of);
        let segments: Vec<Value> = ["champions", "loyal", "new", "promising", "at_risk", "hibernating", "lost"]
            .iter()
            .map(|s| {
                let of: Vec<_> = rows.iter().filter(|r| r.7 == *s).collect();
                json!({"segment": s, "customers": of.len(), "revenue_cents": of.iter().map(|r| r.3).sum::<i64>()})
            })
            .collect();
        json!({"as_of": ts(as_of), "customers": rows.len(), "segments": segments})
    }

    /// One customer's figures; `None` without a purchase before `as_of`.
    pub fn rfm_customer(&self, as_of: DateTime<Utc>, customer: Uuid) -> Option<Value> {
        self.rfm_rows(as_of).into_iter().find(|r| r.0 == customer).map(|r| {
            let micros = (as_of - r.1).num_microseconds().unwrap();
            json!({"customer_id": r.0, "recency_days": micros.div_euclid(86_400_000_000), "frequency": r.2,
                   "monetary_cents": r.3, "r": r.4, "f": r.5, "m": r.6, "segment": r.7})
        })
    }

    pub fn cohorts(&self, period: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        let mut first: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        let mut active: HashSet<(Uuid, NaiveDate)> = HashSet::new();
        for i in &self.interactions {
            let e = first.entry(i.customer_id).or_insert(i.occurred_at);
            *e = (*e).min(i.occurred_at);
            active.insert((i.customer_id, self.period_of(i.occurred_at, period)));
        }
        let mut cohorts: BTreeMap<NaiveDate, Vec<Uuid>> = BTreeMap::new();
        for (c, t) in first {
            let p = self.period_of(t, period);
            let start = self.midnight(p);
            if from <= start && start < to {
                cohorts.entry(p).or_default().push(c);
            }
        }
        let out: Vec<Value> = cohorts
            .into_iter()
            .map(|(p, members)| {
                let mut retention = Vec::new();
                let (mut k, mut q) = (0, p);
                while self.midnight(q) < to {
                    let n = members.iter().filter(|m| active.contains(&(**m, q))).count();
                    retention.push(json!({"offset": k, "active": n, "rate": n as f64 / members.len() as f64}));
                    k += 1;
                    q = next(q, period);
                }
                json!({"cohort": p.to_string(), "size": members.len(), "retention": retention})
            })
            .collect();
        json!({"period": period, "from": ts(from), "to": ts(to), "cohorts": out})
    }

    pub fn series(&self, bucket: &str, group_by: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        let window: Vec<&Interaction> =
            self.interactions.iter().filter(|i| Self::in_window(i.occurred_at, from, to)).collect();
        let group_of = |i: &Interaction| -> Option<String> {
            match group_by {
                None => None,
                Some("channel") => Some(i.channel_id.to_string()),
                Some("kind") => Some(i.kind.clone()),
                Some("direction") => Some(i.direction.clone()),
                Some(other) => panic!("group {other}"),
            }
        };
        let mut groups: BTreeSet<Option<Vec<u8>>> =
            window.iter().map(|i| group_of(i).map(String::into_bytes)).collect();
        if group_by.is_none() {
            groups.insert(None);
        }
        let mut buckets = Vec::new();
        let mut d = self.period_of(from, bucket);
        while self.midnight(d) < to {
            if self.midnight(d) >= from {
                buckets.push(d);
            }
            d = next(d, bucket);
        }
        let series: Vec<Value> = groups
            .into_iter()
            .map(|g| {
                let g = g.map(|b| String::from_utf8(b).unwrap());
                let points: Vec<Value> = buckets
                    .iter()
                    .map(|b| {
                        let hits: Vec<&&Interaction> = window
                            .iter()
                            .filter(|i| group_of(i) == g && self.period_of(i.occurred_at, bucket) == *b)
                            .collect();
                        json!({"bucket": b.to_string(), "count": hits.len(),
                               "value_cents": hits.iter().map(|i| i.value_cents.unwrap_or(0)).sum::<i64>()})
                    })
                    .collect();
                json!({"group": g, "label": self.label(group_by == Some("channel"), &g), "points": points})
            })
            .collect();
        json!({"bucket": bucket, "group_by": group_by, "from": ts(from), "to": ts(to), "series": series})
    }

    pub fn basket(&self, from: DateTime<Utc>, to: DateTime<Utc>, min_support: f64, limit: usize) -> Value {
        let baskets: Vec<BTreeSet<&str>> = self
            .interactions
            .iter()
            .filter(|i| i.kind == "purchase" && Self::in_window(i.occurred_at, from, to) && !i.items.is_empty())
            .map(|i| i.items.iter().map(String::as_str).collect())
            .collect();
        let n = baskets.len() as i64;
        let mut single: HashMap<&str, i64> = HashMap::new();
        let mut pairs: HashMap<(&str, &str), i64> = HashMap::new();
        for b in &baskets {
            let items: Vec<&str> = b.iter().copied().collect();
            for (x, a) in items.iter().enumerate() {
                *single.entry(a).or_default() += 1;
                for b in &items[x + 1..] {
                    *pairs.entry((a, b)).or_default() += 1;
                }
            }
        }
        let mut rows: Vec<(&str, &str, i64, f64)> = pairs
            .into_iter()
            .map(|((a, b), c)| (a, b, c, (c * n) as f64 / (single[a] * single[b]) as f64))
            .filter(|r| r.2 as f64 / n as f64 >= min_support)
            .collect();
        rows.sort_by(|x, y| {
            y.2.cmp(&x.2)
                .then(y.3.partial_cmp(&x.3).unwrap())
                .then(x.0.as_bytes().cmp(y.0.as_bytes()))
                .then(x.1.as_bytes().cmp(y.1.as_bytes()))
        });
        rows.truncate(limit);
        let pairs: Vec<Value> = rows
            .iter()
            .map(|(a, b, c, lift)| {
                json!({"a": a, "b": b, "count": c, "support": *c as f64 / n as f64,
                       "confidence_a_b": *c as f64 / single[a] as f64, "confidence_b_a": *c as f64 / single[b] as f64,
                       "lift": lift})
            })
            .collect();
        json!({"from": ts(from), "to": ts(to), "baskets": n, "pairs": pairs})
    }
}

/// Asserts two JSON documents equal: integers exactly, other numbers within 1e-9 (relative
/// past 1), `from`/`to`/`as_of` as instants.
pub fn assert_same(what: &str, got: &Value, want: &Value) {
    fn walk(path: &str, got: &Value, want: &Value, errors: &mut Vec<String>) {
        match (got, want) {
            (Value::Number(g), Value::Number(w)) => {
                if let (Some(g), Some(w)) = (g.as_i64(), w.as_i64()) {
                    if g != w {
                        errors.push(format!("{path}: {g} != {w}"));
                    }
                } else {
                    let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
                    if (g - w).abs() > 1e-9 * w.abs().max(1.0) {
                        errors.push(format!("{path}: {g} != {w}"));
                    }
                }
            }
            (Value::String(g), Value::String(w))
                if ["from", "to", "as_of"].iter().any(|k| path.ends_with(&format!(".{k}"))) =>
            {
                let p = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
                if p(g).ok() != p(w).ok() {
                    errors.push(format!("{path}: {g} != {w}"));
                }
            }
            (Value::Array(g), Value::Array(w)) => {
                if g.len() != w.len() {
                    errors.push(format!("{path}: {} items != {} items", g.len(), w.len()));
                }
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    walk(&format!("{path}[{i}]"), a, b, errors);
                }
            }
            (Value::Object(g), Value::Object(w)) => {
                for k in g.keys().chain(w.keys()).collect::<BTreeSet<_>>() {
                    walk(
                        &format!("{path}.{k}"),
                        g.get(k).unwrap_or(&Value::Null),
                        w.get(k).unwrap_or(&Value::Null),
                        errors,
                    );
                }
            }
            (g, w) if g == w => {}
            (g, w) => errors.push(format!("{path}: {g} != {w}")),
        }
    }
    let mut errors = Vec::new();
    walk("", got, want, &mut errors);
    assert!(errors.is_empty(), "{what}: {} differences, first: {:#?}", errors.len(), &errors[..errors.len().min(15)]);
}
