//! Support cases: their statuses and priorities, the rules a status change follows, the
//! service-level targets of a policy, and the due times and breaches they give on a business
//! clock ([`Calendar`]).
//!
//! **Status rules.** A case starts `new`. Until it is solved it moves freely between `new`,
//! `open`, `pending` (waiting on the customer) and `on_hold` (waiting on a third party), or to
//! `solved`. A `solved` case reopens to `open` (counted in `reopened`) or is `closed`; `closed`
//! is final (a follow-up is a new case, `follow_up_of` the closed one).
//!
//! **Clocks** (ITIL's service-level targets). The first-response clock runs from the case's
//! creation to its first response (or to its solution, when it is solved before any response); the resolution clock from its creation to its solution,
//! paused while the case is `pending` or `on_hold`. Each counts business minutes when its
//! policy says so, else every minute. A target is breached when the event comes after its due
//! time, or has not come by now and now is past it; by how much is counted on the same clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::business_hours::{Calendar, Pause};
use crate::error::FieldError;

crate::text_enum! {
    /// Where a case stands: `new`, `open`, `pending` (waiting on the customer), `on_hold`
    /// (waiting on a third party), `solved`, `closed` (final).
    pub enum CaseStatus {
        New => "new",
        Open => "open",
        Pending => "pending",
        OnHold => "on_hold",
        Solved => "solved",
        Closed => "closed",
    }
}

crate::text_enum! {
    /// How urgent a case is.
    pub enum Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
}

impl CaseStatus {
    /// Whether the resolution clock is paused in this status.
    pub fn pauses(self) -> bool {
        matches!(self, CaseStatus::Pending | CaseStatus::OnHold)
    }
    /// Whether the case is still to be solved.
    pub fn is_unsolved(self) -> bool {
        !matches!(self, CaseStatus::Solved | CaseStatus::Closed)
    }
}

/// What a status change is: a plain move, a reopening (`solved` → `open`), or refused (with the
/// reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Move,
    Reopen,
}

/// The status rules (see the module): `Err` with the reason for a change they refuse.
pub fn transition(from: CaseStatus, to: CaseStatus) -> Result<Transition, &'static str> {
    use CaseStatus::*;
    match (from, to) {
        (Closed, _) => Err("a closed case is final: open a follow-up case (follow_up_of)"),
        (_, New) if from != New => Err("a case is new only until it moves on"),
        (Solved, Open) => Ok(Transition::Reopen),
        (Solved, Closed) => Ok(Transition::Move),
        (Solved, _) => Err("a solved case reopens to open or is closed"),
        (_, Closed) => Err("only a solved case can be closed"),
        _ => Ok(Transition::Move),
    }
}

/// What an interaction's `case_id` naming a closed case is told.
pub const CLOSED_CASE: &str = "is a closed case (final): log it on a follow-up case";

/// The most minutes a target may give: a year.
pub const MAX_TARGET_MINUTES: i64 = 525_600;

/// The targets of one priority, in minutes of the policy's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Minutes from creation to the first response.
    #[schema(minimum = 1, maximum = 525600, example = 60)]
    #[serde(deserialize_with = "super::numbers::integer")]
    pub first_response_minutes: i64,
    /// Minutes from creation to the solution, pauses left out.
    #[schema(minimum = 1, maximum = 525600, example = 480)]
    #[serde(deserialize_with = "super::numbers::integer")]
    pub resolution_minutes: i64,
}

/// A policy's targets by priority; a priority without one has no due times.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub low: Option<Target>,
    pub normal: Option<Target>,
    pub high: Option<Target>,
    pub urgent: Option<Target>,
}

impl Targets {
    /// Every minute count within 1..=[`MAX_TARGET_MINUTES`] (each bad one named).
    pub fn check(&self, field: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (name, target) in [("low", self.low), ("normal", self.normal), ("high", self.high), ("urgent", self.urgent)]
        {
            let Some(t) = target else { continue };
            for (which, minutes) in
                [("first_response_minutes", t.first_response_minutes), ("resolution_minutes", t.resolution_minutes)]
            {
                if !(1..=MAX_TARGET_MINUTES).contains(&minutes) {
                    errors.push(FieldError::new(
                        format!("{field}.{name}.{which}"),
                        format!("must be 1 to {MAX_TARGET_MINUTES}"),
                    ));
                }
            }
        }
        errors
    }

    pub fn of(&self, priority: Priority) -> Option<Target> {
        match priority {
            Priority::Low => self.low,
            Priority::Normal => self.normal,
            Priority::High => self.high,
            Priority::Urgent => self.urgent,
        }
    }
}

/// The clock a case's targets are counted on, with the spans its resolution clock was paused.
pub struct Clock<'a> {
    pub calendar: &'a Calendar,
    pub pauses: &'a [Pause],
}

/// A case's due times (`None`: no target, or the clock is paused for now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dues {
    pub first_response: Option<DateTime<Utc>>,
    pub resolution: Option<DateTime<Utc>>,
}

impl Clock<'_> {
    /// The due times of a case created at `created` with `target`.
    pub fn dues(&self, created: DateTime<Utc>, target: Option<Target>) -> Dues {
        let Some(t) = target else { return Dues { first_response: None, resolution: None } };
        Dues {
            first_response: self.calendar.add(created, t.first_response_minutes, &[]),
            resolution: self.calendar.add(created, t.resolution_minutes, self.pauses),
        }
    }

    /// Business minutes (whole, rounded down: `0` is less than a minute late) by which `done`
    /// (or `now`, while not done) is past `due`; `None` when it is not past. `paused` says whether the pauses count (the
    /// resolution clock) or not (the first-response clock).
    pub fn breach(
        &self,
        due: Option<DateTime<Utc>>,
        done: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        paused: bool,
    ) -> Option<i64> {
        let due = due?;
        let at = done.unwrap_or(now);
        (at > due).then(|| self.calendar.between(due, at, if paused { self.pauses } else { &[] }) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    #[test]
    fn status_rules() {
        assert_eq!(transition(New, Open), Ok(Transition::Move));
        assert_eq!(transition(Open, Pending), Ok(Transition::Move));
        assert_eq!(transition(OnHold, Solved), Ok(Transition::Move));
        assert_eq!(transition(Solved, Open), Ok(Transition::Reopen));
        assert_eq!(transition(Solved, Closed), Ok(Transition::Move));
        assert!(transition(Solved, Pending).is_err());
        assert!(transition(Open, Closed).is_err());
        assert!(transition(Closed, Open).is_err());
        assert!(transition(Open, New).is_err());
        assert!(Pending.pauses() && OnHold.pauses() && !Open.pauses());
    }

    #[test]
    fn targets_are_bounded() {
        let t = Targets {
            urgent: Some(Target { first_response_minutes: 0, resolution_minutes: MAX_TARGET_MINUTES + 1 }),
            ..Default::default()
        };
        let fields: Vec<String> = t.check("targets").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["targets.urgent.first_response_minutes", "targets.urgent.resolution_minutes"]);
    }
}
