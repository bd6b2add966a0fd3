use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::rows::Conditions;
use crate::domain::{new_id, WorkspaceId};

crate::text_enum! {
    pub enum CustomerKind {
        Person => "person",
        Company => "company",
    }
}

/// A person or a company the workspace has a relationship with.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub kind: CustomerKind,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// E.164, `;ext=<digits>` after it for an extension.
    #[schema(example = "+442079460958")]
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "GB")]
    pub country: Option<String>,
    pub city: Option<String>,
    pub tags: Vec<String>,
    /// Custom fields (a JSON object, at most 16 KiB).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    /// The user in charge of the relationship.
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub const COLUMNS: &str =
    "id, kind, name, email, phone, company_name, country, city, tags, attributes, owner_id, created_at, updated_at, version";
pub const EMAIL_KEY: &str = "customers_email_key";

/// Live customers: a soft-deleted one is gone from lookups (see `lock_any`).
impl crate::db::rows::Table for Customer {
    const TABLE: &'static str = "customers";
    const COLUMNS: &'static str = COLUMNS;
    const VISIBLE: &'static str = "t.deleted_at IS NULL";
}
pub const OWNER_FK: &str = "customers_workspace_id_owner_id_fkey";

/// The writable fields, validated.
#[derive(Debug, Clone)]
pub struct Fields {
    pub kind: CustomerKind,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub tags: Vec<String>,
    pub attributes: serde_json::Value,
    pub owner_id: Option<Uuid>,
}

impl Fields {
    /// Binds the fields as the statement's next parameters, in the order `kind, name, email,
    /// phone, company_name, country, city, tags, attributes, owner_id` (`$3` to `$12` after the
    /// workspace and the id).
    fn bind<'q>(
        &'q self,
        q: QueryAs<'q, Postgres, Customer, PgArguments>,
    ) -> QueryAs<'q, Postgres, Customer, PgArguments> {
        q.bind(self.kind)
            .bind(&self.name)
            .bind(&self.email)
            .bind(&self.phone)
            .bind(&self.company_name)
            .bind(&self.country)
            .bind(&self.city)
            .bind(&self.tags)
            .bind(&self.attributes)
            .bind(self.owner_id)
    }
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    f: &Fields,
    created_at: Option<DateTime<Utc>>,
) -> Result<Customer, sqlx::Error> {
    let sql = format!(
        "INSERT INTO customers (workspace_id, id, kind, name, email, phone, company_name, country, city,
                                tags, attributes, owner_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, coalesce($13, now()), now())
         RETURNING {COLUMNS}"
    );
    f.bind(sqlx::query_as(&sql).bind(ws).bind(new_id())).bind(created_at).fetch_one(db).await
}

pub async fn update(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid, f: &Fields) -> Result<Customer, sqlx::Error> {
    let sql = format!(
        "UPDATE customers SET kind = $3, name = $4, email = $5, phone = $6, company_name = $7, country = $8,
                city = $9, tags = $10, attributes = $11, owner_id = $12
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    f.bind(sqlx::query_as(&sql).bind(ws).bind(id)).fetch_one(db).await
}

pub async fn soft_delete(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<(), sqlx::Error> {
    crate::db::rows::execute(db, "UPDATE customers SET deleted_at = now() WHERE workspace_id = $1 AND id = $2", ws, id)
        .await?;
    Ok(())
}

/// How long a soft-deleted customer can be restored.
pub const RESTORE_DAYS: i32 = 30;

/// Restores a customer deleted less than 30 days ago. `None`: no such deleted customer.
pub async fn restore(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE customers SET deleted_at = NULL
          WHERE workspace_id = $1 AND id = $2 AND deleted_at > now() - make_interval(days => $3)
          RETURNING {COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
    .bind(RESTORE_DAYS)
    .fetch_optional(db)
    .await
}

/// A customer, live or soft-deleted, locked until the end of the transaction.
pub async fn lock_any(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE workspace_id = $1 AND id = $2 FOR UPDATE"))
        .bind(ws)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Erases customers, live or soft-deleted, with their interactions and deals.
pub async fn erase(db: impl PgExecutor<'_>, ws: WorkspaceId, ids: &[Uuid]) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM customers WHERE workspace_id = $1 AND id = ANY($2)")
        .bind(ws)
        .bind(ids)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// The workspaces holding customers deleted more than 30 days ago.
pub async fn workspaces_with_expired(db: impl PgExecutor<'_>) -> Result<Vec<WorkspaceId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT workspace_id FROM customers WHERE deleted_at < now() - make_interval(days => $1)",
    )
    .bind(RESTORE_DAYS)
    .fetch_all(db)
    .await
}

/// Locks (skipping those another purge holds) up to 1,000 customers of a workspace deleted more
/// than 30 days ago.
pub async fn lock_expired(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM customers
          WHERE workspace_id = $1 AND deleted_at < now() - make_interval(days => $2)
          ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED",
    )
    .bind(ws)
    .bind(RESTORE_DAYS)
    .fetch_all(db)
    .await
}

crate::text_enum! {
    /// List orders of `GET /customers`.
    pub enum CustomerSort {
        CreatedAt => "created_at",
        CreatedAtDesc => "-created_at",
        Name => "name",
        NameDesc => "-name",
        UpdatedAt => "updated_at",
        UpdatedAtDesc => "-updated_at",
        /// Best match to `q` first (only with `q`).
        Relevance => "relevance",
    }
}

impl CustomerSort {
    fn column(self) -> &'static str {
        match self {
            CustomerSort::CreatedAt | CustomerSort::CreatedAtDesc => "created_at",
            CustomerSort::Name | CustomerSort::NameDesc => "name",
            CustomerSort::UpdatedAt | CustomerSort::UpdatedAtDesc => "updated_at",
            CustomerSort::Relevance => "relevance",
        }
    }

    fn descending(self) -> bool {
        matches!(self, CustomerSort::CreatedAtDesc | CustomerSort::NameDesc | CustomerSort::UpdatedAtDesc)
    }
}

/// The filters of `GET /customers` (and of the export).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub q: Option<String>,
    pub email: Option<String>,
    pub tags: Vec<String>,
    pub country: Option<String>,
    pub owner_id: Option<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub attributes: Vec<(String, String)>,
}

/// Where a page starts: after this row of the current order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Position {
    /// By relevance to `q` (score, id).
    Relevance(f32, Uuid),
    /// By a timestamp column.
    Time(DateTime<Utc>, Uuid),
    /// By name.
    Name(String, Uuid),
}

/// Queries of at least this many characters also match with typos (trigram word similarity).
pub const FUZZY_MIN_CHARS: usize = 4;

fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, ws: WorkspaceId, f: &Filter) {
    qb.push(" WHERE workspace_id = ").push_bind(ws).push(" AND deleted_at IS NULL");
    if let Some(q) = &f.q {
        let q = q.to_lowercase();
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        qb.push(" AND (search LIKE ").push_bind(like);
        if q.chars().count() >= FUZZY_MIN_CHARS {
            qb.push(" OR ").push_bind(q).push(" <% search");
        }
        qb.push(")");
    }
    if let Some(email) = &f.email {
        qb.push(" AND lower(email) = lower(").push_bind(email.clone()).push(")");
    }
    if !f.tags.is_empty() {
        qb.push(" AND tags @> ").push_bind(f.tags.clone());
    }
    qb.and_if("country =", f.country.clone())
        .and_if("owner_id =", f.owner_id)
        .and_if("created_at >=", f.created_after)
        .and_if("created_at <", f.created_before);
    // A field equals the text, or the number or boolean whose JSON text it is exactly (`40`,
    // `true`; not `40.0`); both forms are containments, which the attributes' GIN index answers.
    for (key, value) in &f.attributes {
        let one = |v: serde_json::Value| serde_json::Value::Object([(key.clone(), v)].into_iter().collect());
        qb.push(" AND (attributes @> ").push_bind(one(serde_json::Value::String(value.clone())));
        match serde_json::from_str::<serde_json::Value>(value) {
            Ok(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)))
                if serde_json::to_string(&v).is_ok_and(|text| text == *value) =>
            {
                qb.push(" OR attributes @> ").push_bind(one(v)).push(")");
            }
            _ => {
                qb.push(")");
            }
        }
    }
}

/// One page (`limit` rows) of customers in the order of `sort` (default `-created_at`).
/// `relevance` ranks by trigram word similarity to `q`: it scores every match, so it costs
/// more for very common terms; the other orders stop after a page of matches.
pub async fn list(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    f: &Filter,
    sort: Option<CustomerSort>,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<(Customer, Position)>, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT ");
    qb.push(COLUMNS);
    let relevance = sort == Some(CustomerSort::Relevance) && f.q.is_some();
    if relevance {
        qb.push(", word_similarity(")
            .push_bind(f.q.clone().unwrap_or_default().to_lowercase())
            .push(", search) AS score");
    } else {
        qb.push(", 0::real AS score");
    }
    qb.push(" FROM customers");
    push_filters(&mut qb, ws, f);
    let sort = sort.unwrap_or(CustomerSort::CreatedAtDesc);
    if relevance {
        if let Some(Position::Relevance(score, id)) = &after {
            // Higher scores first, then ids ascending.
            qb.push(" AND (word_similarity(")
                .push_bind(f.q.clone().unwrap_or_default().to_lowercase())
                .push(", search) < ")
                .push_bind(*score)
                .push(" OR (word_similarity(")
                .push_bind(f.q.clone().unwrap_or_default().to_lowercase())
                .push(", search) = ")
                .push_bind(*score)
                .push(" AND id > ")
                .push_bind(*id)
                .push("))");
        }
        qb.push(" ORDER BY score DESC, id LIMIT ").push_bind(limit);
    } else {
        let (col, ascending) = (sort.column(), !sort.descending());
        match &after {
            Some(Position::Time(t, id)) => qb.and_after(col, ascending, Some((*t, *id))),
            Some(Position::Name(n, id)) => qb.and_after(col, ascending, Some((n.clone(), *id))),
            _ => &mut qb,
        }
        .order_by(col, ascending, limit);
    }
    let rows: Vec<ListRow> = qb.build_query_as().fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let position = if relevance {
                Position::Relevance(r.score, r.customer.id)
            } else {
                match sort.column() {
                    "name" => Position::Name(r.customer.name.clone(), r.customer.id),
                    "updated_at" => Position::Time(r.customer.updated_at, r.customer.id),
                    _ => Position::Time(r.customer.created_at, r.customer.id),
                }
            };
            (r.customer, position)
        })
        .collect())
}

#[derive(FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    customer: Customer,
    score: f32,
}

/// A row of an import, validated; `None` fields keep the existing value on update.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The customer the row updates; without it, the row updates the live customer with its
    /// email, or creates one.
    pub id: Option<Uuid>,
    pub kind: Option<CustomerKind>,
    /// Always given unless the row names its customer by `id`.
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<serde_json::Value>,
    pub owner_id: Option<Uuid>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A customer a row of an import landed on.
#[derive(Debug, Clone)]
pub struct ImportedRow {
    /// The row's index in its batch.
    pub index: usize,
    pub customer: Customer,
    /// Inserted (else it matched a customer by id or email).
    pub created: bool,
    /// Its version moved: inserted, or some field took another value.
    pub changed: bool,
}

/// What a batch of an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub rows: Vec<ImportedRow>,
    /// Indexes of the rows whose `id` names no live customer of the workspace (nothing done).
    pub unknown_ids: Vec<usize>,
}

#[derive(FromRow)]
struct ImportedDbRow {
    slot: Uuid,
    created: bool,
    old_version: Option<i64>,
    #[sqlx(flatten)]
    customer: Customer,
}

/// Upserts a batch in which no id and no email repeats: a row with an `id` updates that live
/// customer; a row without one updates the live customer with its email, or else is inserted.
/// One statement (after a plan setting for the transaction); returns the customers as they are
/// after it.
pub async fn import_batch(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    ws: WorkspaceId,
    rows: &[ImportRow],
) -> Result<Imported, sqlx::Error> {
    // Each row gets a slot id: the new customer's id when it is inserted.
    let slots: Vec<Uuid> = rows.iter().map(|_| new_id()).collect();
    let targets: Vec<Option<Uuid>> = rows.iter().map(|r| r.id).collect();
    let kinds: Vec<Option<CustomerKind>> = rows.iter().map(|r| r.kind).collect();
    let text = |f: fn(&ImportRow) -> &Option<String>| rows.iter().map(|r| f(r).clone()).collect::<Vec<_>>();
    let tags: Vec<Option<serde_json::Value>> =
        rows.iter().map(|r| r.tags.clone().map(serde_json::Value::from)).collect();
    let attributes: Vec<Option<serde_json::Value>> = rows.iter().map(|r| r.attributes.clone()).collect();
    let owners: Vec<Option<Uuid>> = rows.iter().map(|r| r.owner_id).collect();
    let created: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.created_at).collect();
    // A plan for any workspace (not one for this workspace's estimated size): the statistics
    // of a workspace that grew since the last ANALYZE (an import into a new one) say one row,
    // and for one row any index on workspace_id looks as good as the unique ones, so each row's
    // lookup would read the whole workspace (measured: 20 rows into 18,000 customers, 17 ms
    // against 0.1 ms).
    sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan").execute(&mut **tx).await?;
    let landed: Vec<ImportedDbRow> = sqlx::query_as(&format!(
        "WITH u AS (
            SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                 $9::text[], $10::text[], $11::jsonb[], $12::jsonb[], $13::uuid[], $14::timestamptz[])
                       AS u (slot, target, kind, name, email, phone, company_name, country, city, tags, attributes,
                             owner_id, created_at)
         ),
         -- The customer each row updates: by id, or else by email among the live ones, each
         -- found by one probe of an index (the primary key, customers_email_key) per row. A
         -- matched row carries its fields: the update joins no other set of the batch's rows
         -- (under the generic plan, estimated at 10 rows each, such a join was a nested loop:
         -- 1,000 × 1,000 comparisons per batch of updates).
         matched AS (
            SELECT u.*, c.id AS customer_id, c.version FROM u CROSS JOIN LATERAL (
                SELECT id, version FROM customers c
                 WHERE c.workspace_id = $1 AND c.id = u.target AND c.deleted_at IS NULL LIMIT 1) c
            UNION ALL
            SELECT u.*, c.id, c.version FROM u CROSS JOIN LATERAL (
                SELECT id, version FROM customers c
                 WHERE c.workspace_id = $1 AND lower(c.email) = lower(u.email) AND c.deleted_at IS NULL
                   AND c.email IS NOT NULL LIMIT 1) c
             WHERE u.target IS NULL
         ),
         updated AS (
            UPDATE customers c SET kind = coalesce(m.kind, c.kind), name = coalesce(m.name, c.name),
                   email = coalesce(m.email, c.email),
                   phone = coalesce(m.phone, c.phone), company_name = coalesce(m.company_name, c.company_name),
                   country = coalesce(m.country, c.country), city = coalesce(m.city, c.city),
                   tags = CASE WHEN m.tags IS NULL THEN c.tags ELSE ARRAY(SELECT jsonb_array_elements_text(m.tags)) END,
                   attributes = coalesce(m.attributes, c.attributes), owner_id = coalesce(m.owner_id, c.owner_id)
              FROM matched m
             WHERE c.workspace_id = $1 AND c.id = ANY(ARRAY(SELECT customer_id FROM matched)) AND c.id = m.customer_id
               -- Checked again on the row as it is when its lock is granted (a customer deleted
               -- or given another email meanwhile is no longer this row's).
               AND c.deleted_at IS NULL AND (m.target IS NOT NULL OR lower(c.email) = lower(m.email))
            RETURNING m.slot, false AS created, m.version AS old_version, {cols}
         ),
         inserted AS (
            INSERT INTO customers (workspace_id, id, kind, name, email, phone, company_name, country, city, tags,
                                   attributes, owner_id, created_at)
            SELECT $1, u.slot, coalesce(u.kind, 'person'), u.name, u.email, u.phone, u.company_name, u.country,
                   u.city, ARRAY(SELECT jsonb_array_elements_text(coalesce(u.tags, '[]'))),
                   coalesce(u.attributes, '{{}}'), u.owner_id, coalesce(u.created_at, now())
              FROM u
             WHERE u.target IS NULL AND u.slot NOT IN (SELECT slot FROM updated)
            RETURNING id AS slot, true AS created, NULL::bigint AS old_version, {COLUMNS}
         )
         SELECT * FROM updated UNION ALL SELECT * FROM inserted",
        cols = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(ws)
    .bind(&slots)
    .bind(&targets)
    .bind(&kinds)
    .bind(text(|r| &r.name))
    .bind(text(|r| &r.email))
    .bind(text(|r| &r.phone))
    .bind(text(|r| &r.company_name))
    .bind(text(|r| &r.country))
    .bind(text(|r| &r.city))
    .bind(&tags)
    .bind(&attributes)
    .bind(&owners)
    .bind(&created)
    .fetch_all(&mut **tx)
    .await?;
    let index_of: std::collections::HashMap<Uuid, usize> = slots.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut out = Imported::default();
    for r in landed {
        let Some(&index) = index_of.get(&r.slot) else { continue };
        let changed = r.created || r.old_version != Some(r.customer.version);
        out.rows.push(ImportedRow { index, customer: r.customer, created: r.created, changed });
    }
    out.rows.sort_by_key(|r| r.index);
    let landed: std::collections::HashSet<usize> = out.rows.iter().map(|r| r.index).collect();
    out.unknown_ids = (0..rows.len()).filter(|i| targets[*i].is_some() && !landed.contains(i)).collect();
    Ok(out)
}

/// Which of `ids` are users of the workspace.
pub async fn existing_users(db: impl PgExecutor<'_>, ws: WorkspaceId, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1 AND id = ANY($2)")
        .bind(ws)
        .bind(ids)
        .fetch_all(db)
        .await
}
