//! Interactions: every contact with a customer, on any channel.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::{check_version, event, found, lock, record, Actor, Result, Tx};
use crate::db::interactions::{self, Fields, Filter, Interaction};
use crate::db::rows;
use crate::domain::events::EventType;
use crate::domain::{new_id, Bound, Role};
use crate::error::{ApiError, FieldError};

/// At most this many interactions in a batch.
pub const MAX_BATCH: usize = 1000;

/// What a create did: logged it, or found it already logged (same external id on the channel).
pub enum Logged {
    Created(Interaction),
    Existing(Interaction),
}

fn created(i: &Interaction) -> crate::db::events::NewEvent {
    event(EventType::InteractionCreated, i.id, Some(i.customer_id), i)
}

/// Logs an interaction (member): its customer must be live and its channel active, its case
/// one of that customer's and not closed (`422` naming which). An `external_id` already logged on the channel
/// gives the existing interaction and changes nothing. Without a case, the interaction and its
/// event are one statement, atomic by itself: `db` may be a connection outside any transaction
/// (the fast path of `POST /interactions`); on a case, the case's first response follows in
/// the same transaction.
pub async fn create(db: &mut PgConnection, actor: &Actor, fields: Fields) -> Result<Logged> {
    actor.require(Role::Member)?;
    let Some(case_id) = fields.case_id else { return insert(db, actor, fields).await };
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    if !super::support::lock_for_interactions(&mut tx, actor, &[case_id]).await?.is_empty() {
        // A closed case takes no new interaction; a replay of one it has is answered as ever.
        if let Some(external_id) = &fields.external_id {
            let ws = actor.workspace_id;
            if let Some(existing) = interactions::by_external_id(&mut *tx, ws, fields.channel_id, external_id).await? {
                return Ok(Logged::Existing(existing));
            }
        }
        return Err(ApiError::validation("case_id", crate::domain::support::CLOSED_CASE));
    }
    let logged = insert(&mut tx, actor, fields).await?;
    if let Logged::Created(_) = logged {
        super::support::responses_changed(&mut tx, actor, &[case_id]).await?;
    }
    tx.commit().await?;
    Ok(logged)
}

async fn insert(db: &mut PgConnection, actor: &Actor, fields: Fields) -> Result<Logged> {
    let ws = actor.workspace_id;
    let (customer_id, channel_id, external_id) = (fields.customer_id, fields.channel_id, fields.external_id.clone());
    let new = Interaction::new(new_id(), &fields, Utc::now());
    let origin = actor.origin();
    if let Some(i) =
        interactions::insert(&mut *db, ws, new.id, &fields, new.created_at, &origin, &created(&new)).await?
    {
        return Ok(Logged::Created(i));
    }
    if let Some(external_id) = &external_id {
        if let Some(existing) = interactions::by_external_id(&mut *db, ws, channel_id, external_id).await? {
            return Ok(Logged::Existing(existing));
        }
    }
    let (customers, channels) = interactions::live_references(&mut *db, ws, &[customer_id], &[channel_id]).await?;
    let mut errors = Vec::new();
    if customers.is_empty() {
        errors.push(FieldError::new("customer_id", "is not a customer of this workspace"));
    }
    if channels.is_empty() {
        errors.push(FieldError::new("channel_id", "is not an active channel of this workspace"));
    }
    if errors.is_empty() {
        // The references hold, so the external id is taken: by an interaction hidden with its
        // soft-deleted customer.
        return Err(ApiError::Conflict(
            "the channel already has an interaction with this external_id (its customer is deleted)".into(),
        ));
    }
    Err(ApiError::Validation(errors))
}

/// An item of a batch: its references, and its fields if they are valid.
pub struct BatchItem {
    pub customer_id: Uuid,
    pub channel_id: Uuid,
    pub fields: Option<Fields>,
}

/// Logs up to 1,000 interactions at once (member), all or nothing: `errors` (of the items'
/// fields) and every item with a customer that is not live or a channel that is not active,
/// named by index, make one `422`. Returns the ids in order (an item whose external id was
/// already logged gets the existing interaction's).
pub async fn create_batch(
    tx: &mut Tx<'_>,
    actor: &Actor,
    items: Vec<BatchItem>,
    mut errors: Vec<FieldError>,
) -> Result<Vec<Uuid>> {
    actor.require(Role::Member)?;
    let ws = actor.workspace_id;
    let mut customer_ids: Vec<Uuid> = items.iter().map(|i| i.customer_id).collect();
    let mut channel_ids: Vec<Uuid> = items.iter().map(|i| i.channel_id).collect();
    customer_ids.sort();
    customer_ids.dedup();
    channel_ids.sort();
    channel_ids.dedup();
    let (live_customers, live_channels) =
        interactions::live_references(&mut **tx, ws, &customer_ids, &channel_ids).await?;
    let case_pairs: Vec<(Uuid, Uuid)> =
        items.iter().filter_map(|i| Some((i.fields.as_ref()?.case_id?, i.customer_id))).collect();
    let case_ids: Vec<Uuid> = case_pairs.iter().map(|p| p.0).collect();
    let closed = super::support::lock_for_interactions(tx, actor, &case_ids).await?;
    let cases = match case_pairs.is_empty() {
        true => Vec::new(),
        false => crate::db::support::cases_of(&mut **tx, ws, &case_pairs).await?,
    };
    // Items on a closed case that replay an interaction it has are answered as ever.
    let replays: Vec<(Uuid, String)> = items
        .iter()
        .filter_map(|i| {
            let f = i.fields.as_ref()?;
            closed.contains(&f.case_id?).then(|| Some((i.channel_id, f.external_id.clone()?)))?
        })
        .collect();
    let replayed: Vec<(Uuid, String)> = match replays.is_empty() {
        true => Vec::new(),
        false => {
            interactions::ids_by_external(&mut **tx, ws, &replays).await?.into_iter().map(|(c, e, _)| (c, e)).collect()
        }
    };
    for (i, item) in items.iter().enumerate() {
        if !live_customers.contains(&item.customer_id) {
            errors.push(FieldError::new(format!("items[{i}].customer_id"), "is not a customer of this workspace"));
        }
        if !live_channels.contains(&item.channel_id) {
            errors
                .push(FieldError::new(format!("items[{i}].channel_id"), "is not an active channel of this workspace"));
        }
        if let Some(case_id) = item.fields.as_ref().and_then(|f| f.case_id) {
            let field = format!("items[{i}].case_id");
            if !cases.iter().any(|c| (c.0, c.1) == (case_id, item.customer_id)) {
                errors.push(FieldError::new(field, crate::error::NOT_THE_CUSTOMERS_CASE));
            } else if closed.contains(&case_id) {
                let key = item.fields.as_ref().and_then(|f| Some((item.channel_id, f.external_id.clone()?)));
                if !key.is_some_and(|k| replayed.contains(&k)) {
                    errors.push(FieldError::new(field, crate::domain::support::CLOSED_CASE));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let now = Utc::now();
    let rows: Vec<Interaction> =
        items.into_iter().filter_map(|i| i.fields).map(|f| Interaction::new(new_id(), &f, now)).collect();
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let events: Vec<_> = rows.iter().map(created).collect();
    let origin = actor.origin();
    interactions::insert_many(&mut **tx, ws, &rows, &origin, &events).await?;
    let on_cases: Vec<Uuid> = rows.iter().filter_map(|r| r.case_id).collect();
    if !on_cases.is_empty() {
        super::support::responses_changed(tx, actor, &on_cases).await?;
    }
    let keys: Vec<(Uuid, String)> = rows.iter().filter_map(|r| Some((r.channel_id, r.external_id.clone()?))).collect();
    if !keys.is_empty() {
        let existing: HashMap<(Uuid, String), Uuid> = interactions::ids_by_external(&mut **tx, ws, &keys)
            .await?
            .into_iter()
            .map(|(channel, external, id)| ((channel, external), id))
            .collect();
        for (id, row) in ids.iter_mut().zip(&rows) {
            if let Some(external) = &row.external_id {
                if let Some(actual) = existing.get(&(row.channel_id, external.clone())) {
                    *id = *actual;
                }
            }
        }
    }
    Ok(ids)
}

pub async fn get(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<Interaction> {
    found(rows::find(db, actor.workspace_id, id).await?, "interaction")
}

/// Changes an interaction (member): `change` gives its new fields from the current ones. A new
/// customer must be live, a new channel active, a new case not closed (`422`); an interaction on
/// a closed case stays on it, and one on a case moves to another customer only with a case of
/// that customer (or none) (`409`).
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    change: impl FnOnce(&Interaction) -> Result<Fields>,
) -> Result<Interaction> {
    let ws = actor.workspace_id;
    interactions::hold_customer_of(&mut **tx, ws, id).await?;
    let current: Interaction = lock(tx, actor, Role::Member, id, "interaction").await?;
    let fields = change(&current)?;
    check_version(expected, current.version)?;
    let on_cases: Vec<Uuid> = [current.case_id, fields.case_id].into_iter().flatten().collect();
    let closed = super::support::lock_for_interactions(tx, actor, &on_cases).await?;
    if fields.case_id != current.case_id {
        if current.case_id.is_some_and(|c| closed.contains(&c)) {
            return Err(ApiError::Conflict(
                "the interaction is on a closed case, which is final: it stays on that case".into(),
            ));
        }
        if !closed.is_empty() {
            return Err(ApiError::validation("case_id", crate::domain::support::CLOSED_CASE));
        }
    } else if fields.case_id.is_some() && fields.customer_id != current.customer_id {
        return Err(ApiError::Conflict(
            "the interaction is on a case of its customer: to give it to another customer, take it off the case \
             (case_id: null) or put it on one of that customer's cases"
                .into(),
        ));
    }
    if fields.customer_id != current.customer_id || fields.channel_id != current.channel_id {
        let (c, ch) = interactions::live_references(&mut **tx, ws, &[fields.customer_id], &[fields.channel_id]).await?;
        let mut errors = Vec::new();
        if c.is_empty() {
            errors.push(FieldError::new("customer_id", "is not a customer of this workspace"));
        }
        if ch.is_empty() && fields.channel_id != current.channel_id {
            errors.push(FieldError::new("channel_id", "is not an active channel of this workspace"));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
    }
    let updated = interactions::update(&mut **tx, ws, current.id, &fields).await?;
    if updated.version != current.version {
        let e = event(EventType::InteractionUpdated, updated.id, Some(updated.customer_id), &updated);
        record(tx, actor, &[e]).await?;
        super::support::responses_changed(tx, actor, &on_cases).await?;
    }
    Ok(updated)
}

/// Deletes an interaction (member).
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    interactions::hold_customer_of(&mut **tx, actor.workspace_id, id).await?;
    let current: Interaction = lock(tx, actor, Role::Member, id, "interaction").await?;
    check_version(expected, current.version)?;
    let on_cases: Vec<Uuid> = current.case_id.into_iter().collect();
    super::support::lock_for_interactions(tx, actor, &on_cases).await?;
    rows::delete::<Interaction>(&mut **tx, actor.workspace_id, current.id).await?;
    let e = event(EventType::InteractionDeleted, current.id, Some(current.customer_id), &current);
    record(tx, actor, &[e]).await?;
    super::support::responses_changed(tx, actor, &on_cases).await
}

/// A page of interactions (`filter` with its instants unresolved), newest or oldest first.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    mut filter: Filter,
    occurred_after: Option<Bound>,
    occurred_before: Option<Bound>,
    ascending: bool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Interaction>> {
    let (a, b) =
        crate::db::workspaces::resolve_bounds(pool, actor.workspace_id, occurred_after, occurred_before).await?;
    filter.occurred_after = a;
    filter.occurred_before = b;
    Ok(interactions::list(pool, actor.workspace_id, &filter, ascending, after, limit).await?)
}
