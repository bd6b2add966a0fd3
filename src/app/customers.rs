//! Customers, people and companies: create, change, soft delete and restore, erase for good
//! (with everything of theirs, in the event log too), list, and the 360° view.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{check_version, event, found, lock, record, record_change, Actor, Result, Tx};
use crate::analytics::rfm;
use crate::db::customers::{self, Customer, CustomerKind, CustomerSort, Filter, Position};
use crate::db::events::{self as log, NewEvent};
use crate::db::interactions::{self, ChannelCount};
use crate::db::{deals, rows, timeline};
use crate::domain::events::EventType;
use crate::domain::{Attributes, Bound, Country, Email, Name, Phone, Role, Tags};

/// A customer's writable fields, valid.
#[derive(Debug, Clone)]
pub struct CustomerFields {
    pub kind: CustomerKind,
    pub name: Name,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub company_name: Option<Name>,
    pub country: Option<Country>,
    pub city: Option<Name>,
    pub tags: Tags,
    pub attributes: Attributes,
    pub owner_id: Option<Uuid>,
}

impl From<CustomerFields> for customers::Fields {
    fn from(f: CustomerFields) -> Self {
        customers::Fields {
            kind: f.kind,
            name: f.name.into_inner(),
            email: f.email.map(Email::into_inner),
            phone: f.phone.map(Phone::into_inner),
            company_name: f.company_name.map(Name::into_inner),
            country: f.country.map(Country::into_inner),
            city: f.city.map(Name::into_inner),
            tags: f.tags.into_inner(),
            attributes: f.attributes.into_inner(),
            owner_id: f.owner_id,
        }
    }
}

/// What `GET /customers` and the export filter on, dates not yet resolved.
#[derive(Debug, Default, Clone)]
pub struct CustomerFilter {
    /// Everything but the creation window.
    pub filter: Filter,
    pub created_after: Option<Bound>,
    pub created_before: Option<Bound>,
}

impl CustomerFilter {
    /// The filter, with its dates resolved in the workspace's time zone.
    pub async fn resolve(&self, db: impl PgExecutor<'_>, actor: &Actor) -> Result<Filter> {
        let (after, before) =
            crate::db::workspaces::resolve_bounds(db, actor.workspace_id, self.created_after, self.created_before)
                .await?;
        Ok(Filter { created_after: after, created_before: before, ..self.filter.clone() })
    }
}

/// A page of customers (`limit` rows) after `after` in the order of `sort`.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    filter: &CustomerFilter,
    sort: Option<CustomerSort>,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<(Customer, Position)>> {
    let filter = filter.resolve(pool, actor).await?;
    Ok(customers::list(pool, actor.workspace_id, &filter, sort, after, limit).await?)
}

/// A live customer.
pub async fn get(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<Customer> {
    found(rows::find(db, actor.workspace_id, id).await?, "customer")
}

/// A new customer, valid; `created_at` brings history over (never in the future; default now).
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub fields: CustomerFields,
    pub created_at: Option<DateTime<Utc>>,
}

/// Adds a customer (member).
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, new: NewCustomer) -> Result<Customer> {
    actor.require(Role::Member)?;
    let customer = customers::insert(&mut **tx, actor.workspace_id, &new.fields.into(), new.created_at).await?;
    record(tx, actor, &[created(&customer)]).await?;
    Ok(customer)
}

fn created(c: &Customer) -> NewEvent {
    event(EventType::CustomerCreated, c.id, Some(c.id), c)
}

fn updated(c: &Customer) -> NewEvent {
    event(EventType::CustomerUpdated, c.id, Some(c.id), c)
}

/// Changes a live customer (member): `change` gives its new fields from the current ones.
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    change: impl FnOnce(&Customer) -> Result<CustomerFields>,
) -> Result<Customer> {
    let current: Customer = lock(tx, actor, Role::Member, id, "customer").await?;
    let fields = change(&current)?;
    check_version(expected, current.version)?;
    let customer = customers::update(&mut **tx, actor.workspace_id, current.id, &fields.into()).await?;
    record_change(tx, actor, current.version, customer.version, || updated(&customer)).await?;
    Ok(customer)
}

/// Soft-deletes a live customer (member): gone from lists and lookups with its interactions and
/// deals, restorable for 30 days.
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let current: Customer = lock(tx, actor, Role::Member, id, "customer").await?;
    check_version(expected, current.version)?;
    customers::soft_delete(&mut **tx, actor.workspace_id, current.id).await?;
    record(tx, actor, &[event(EventType::CustomerDeleted, current.id, Some(current.id), &current)]).await?;
    Ok(())
}

/// Restores a customer deleted less than 30 days ago (member); a live one is returned as is.
/// `409` if another live customer took its email meanwhile.
pub async fn restore(tx: &mut Tx<'_>, actor: &Actor, id: Uuid) -> Result<Customer> {
    actor.require(Role::Member)?;
    if let Some(live) = rows::find::<Customer>(&mut **tx, actor.workspace_id, id).await? {
        return Ok(live);
    }
    let customer = found(customers::restore(&mut **tx, actor.workspace_id, id).await?, "deleted customer")?;
    record(tx, actor, &[event(EventType::CustomerRestored, customer.id, Some(customer.id), &customer)]).await?;
    Ok(customer)
}

/// Erases a customer, live or soft-deleted, for good (admin; right to erasure): with its
/// interactions and deals, and every personal field of theirs in the event log (earlier events
/// keep only the resource's id).
pub async fn erase(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    actor.require(Role::Admin)?;
    let current = found(customers::lock_any(&mut **tx, actor.workspace_id, id).await?, "customer")?;
    check_version(expected, current.version)?;
    erase_all(tx, actor, &[current.id]).await
}

/// Erases these customers of the actor's workspace (they exist and are locked).
async fn erase_all(tx: &mut Tx<'_>, actor: &Actor, ids: &[Uuid]) -> Result<()> {
    let origin = actor.origin();
    log::erase_customers(tx, actor.workspace_id, &origin, ids).await?;
    customers::erase(&mut **tx, actor.workspace_id, ids).await?;
    let erased: Vec<NewEvent> = ids
        .iter()
        .map(|id| NewEvent {
            kind: EventType::CustomerErased,
            resource_id: *id,
            customer_id: Some(*id),
            data: serde_json::json!({ "id": id }),
        })
        .collect();
    record(tx, actor, &erased).await
}

/// Erases the customers of a workspace deleted more than 30 days ago (their restore window has
/// closed), as `system`; returns how many.
pub async fn purge_expired(tx: &mut Tx<'_>, workspace: crate::domain::WorkspaceId) -> Result<usize> {
    let actor = Actor::system(workspace);
    let ids = customers::lock_expired(&mut **tx, workspace).await?;
    if !ids.is_empty() {
        erase_all(tx, &actor, &ids).await?;
    }
    Ok(ids.len())
}

/// One entry of a customer's timeline.
pub use crate::db::timeline::{Entry as TimelineEntry, Item as TimelineItem};

/// A page of a live customer's timeline (interactions, stage changes and case status changes),
/// newest first.
pub async fn timeline(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<TimelineEntry>> {
    let customer = get(pool, actor, id).await?;
    Ok(timeline::page(pool, actor.workspace_id, timeline::Of::Customer(customer.id), after, limit).await?)
}

/// The 360° view of a live customer.
pub struct Summary {
    pub customer: Customer,
    pub totals: interactions::Totals,
    pub by_channel: Vec<ChannelCount>,
    pub open_deals: Vec<deals::OpenDeal>,
    pub open_cases: Vec<crate::db::support::Case>,
    pub rfm: Option<rfm::RfmCustomer>,
}

/// The 360° view of a live customer; `now` is the instant its open cases' breaches are taken at.
pub async fn summary(pool: &PgPool, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> Result<Summary> {
    let customer = get(pool, actor, id).await?;
    let (ws, cid) = (actor.workspace_id, customer.id);
    let (totals, by_channel, open_deals) = tokio::try_join!(
        interactions::totals(pool, ws, cid),
        interactions::counts_by_channel(pool, ws, cid),
        deals::open_deals(pool, ws, cid)
    )?;
    let rfm = match totals.purchases {
        0 => None,
        _ => rfm::customer(pool, ws, Utc::now(), cid).await?,
    };
    let open_cases = super::support::open_cases(pool, actor, cid, now).await?;
    Ok(Summary { customer, totals, by_channel, open_deals, open_cases, rfm })
}
