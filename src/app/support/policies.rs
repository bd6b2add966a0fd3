//! The workspace's business hours and its service-level policies; a change to either moves
//! the due times of the unsolved cases it governs (`super::recompute`).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::recompute;
use crate::app::{check_version, event, found, lock, record, record_change, Actor, Result, Tx};
use crate::db::events::NewEvent;
use crate::db::rows;
use crate::db::support::{self, SlaPolicy, WorkspaceBusinessHours};
use crate::domain::business_hours::BusinessHours;
use crate::domain::events::EventType;
use crate::domain::support::Targets;
use crate::domain::{Name, Role};
use crate::error::ApiError;

/// The workspace's business hours (Monday to Friday 09:00–17:00, version 0, until it sets
/// some).
pub async fn business_hours(db: impl PgExecutor<'_>, actor: &Actor) -> Result<WorkspaceBusinessHours> {
    Ok(support::business_hours(db, actor.workspace_id)
        .await?
        .unwrap_or_else(|| WorkspaceBusinessHours::new(BusinessHours::office(), 0)))
}

/// Sets the business hours (admin), checked (`422`), when `expected` (the request's
/// `If-Match`, if any) is their version (`412` otherwise); the due times of every unsolved case
/// on a business-hours policy follow.
pub async fn set_business_hours(
    tx: &mut Tx<'_>,
    actor: &Actor,
    hours: BusinessHours,
    expected: Option<i64>,
) -> Result<WorkspaceBusinessHours> {
    actor.require(Role::Admin)?;
    // A bad body is told first (`422`), as every change of a resource does.
    let errors = hours.check();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let current = support::lock_business_hours(tx, actor.workspace_id).await?;
    check_version(expected, current.unwrap_or(0))?;
    let version = support::set_business_hours(&mut **tx, actor.workspace_id, &hours).await?;
    let set = WorkspaceBusinessHours::new(hours, version);
    let event = NewEvent {
        kind: EventType::BusinessHoursUpdated,
        resource_id: actor.workspace_id.0,
        customer_id: None,
        // The hours, with the workspace's id (the resource they belong to).
        data: {
            let mut data = serde_json::to_value(&set).unwrap_or_default();
            data["id"] = serde_json::json!(actor.workspace_id.0);
            data
        },
    };
    record(tx, actor, &[event]).await?;
    recompute(tx, actor, None).await?;
    Ok(set)
}

/// A policy's fields, valid.
#[derive(Debug, Clone)]
pub struct PolicyFields {
    pub name: Name,
    pub targets: Targets,
    pub business_hours: bool,
}

impl PolicyFields {
    /// The fields, each bad one named (`422`).
    pub fn parse(name: &str, targets: Targets, business_hours: bool) -> Result<PolicyFields> {
        let mut errors = targets.check("targets");
        let name = Name::parse("name", name).map_err(|e| errors.push(e)).ok();
        match name {
            Some(name) if errors.is_empty() => Ok(PolicyFields { name, targets, business_hours }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

pub async fn list_policies(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SlaPolicy>> {
    Ok(rows::oldest_first(db, actor.workspace_id, after, limit).await?)
}

pub async fn get_policy(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<SlaPolicy> {
    found(rows::find(db, actor.workspace_id, id).await?, "SLA policy")
}

/// Adds a policy (admin).
pub async fn create_policy(tx: &mut Tx<'_>, actor: &Actor, f: PolicyFields) -> Result<SlaPolicy> {
    actor.require(Role::Admin)?;
    let p = support::save_policy(&mut **tx, actor.workspace_id, None, f.name.as_str(), &f.targets, f.business_hours)
        .await?;
    record(tx, actor, &[event(EventType::SlaPolicyCreated, p.id, None, &p)]).await?;
    Ok(p)
}

/// Changes a policy (admin); its unsolved cases' due times follow.
pub async fn update_policy(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    change: impl FnOnce(&SlaPolicy) -> Result<PolicyFields>,
) -> Result<SlaPolicy> {
    let current: SlaPolicy = lock(tx, actor, Role::Admin, id, "SLA policy").await?;
    let f = change(&current)?;
    check_version(expected, current.version)?;
    let p =
        support::save_policy(&mut **tx, actor.workspace_id, Some(id), f.name.as_str(), &f.targets, f.business_hours)
            .await?;
    record_change(tx, actor, current.version, p.version, || event(EventType::SlaPolicyUpdated, p.id, None, &p)).await?;
    if p.version != current.version {
        recompute(tx, actor, Some(id)).await?;
    }
    Ok(p)
}

/// Removes a policy (admin); one that cases not closed follow cannot go (`409`): move them to
/// another. Closed cases that followed it keep their due times and lose the reference (each
/// with its `case.updated` event); their breach minutes are then counted in calendar minutes.
pub async fn delete_policy(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let current: SlaPolicy = lock(tx, actor, Role::Admin, id, "SLA policy").await?;
    check_version(expected, current.version)?;
    if support::policy_in_use(&mut **tx, actor.workspace_id, id).await? {
        return Err(ApiError::Conflict("cases not closed follow this policy; give them another first".into()));
    }
    let detached = support::detach_policy_from_closed(&mut **tx, actor.workspace_id, id).await?;
    let mut events: Vec<NewEvent> = detached.iter().map(super::case_event_updated).collect();
    rows::delete::<SlaPolicy>(&mut **tx, actor.workspace_id, id).await?;
    events.push(event(EventType::SlaPolicyDeleted, id, None, &current));
    record(tx, actor, &events).await?;
    Ok(())
}
