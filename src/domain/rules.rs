//! The rules of pipelines and deals, each stated once.

use chrono::{DateTime, Utc};

use crate::error::FieldError;

crate::text_enum! {
    /// What a stage means: still open, or the deal is won, or lost.
    pub enum StageKind {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
}

crate::text_enum! {
    /// Where a deal stands: the kind of its stage.
    pub enum DealStatus {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
}

/// A deal's status follows the kind of its stage.
pub fn deal_status(kind: StageKind) -> DealStatus {
    match kind {
        StageKind::Open => DealStatus::Open,
        StageKind::Won => DealStatus::Won,
        StageKind::Lost => DealStatus::Lost,
    }
}

/// A deal that enters a stage of `kind` at `at` closes then if the stage is won or lost (its
/// `closed_at`), and is open (none) otherwise.
pub fn closed_at_on_entering(kind: StageKind, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    closes(kind).then_some(at)
}

/// Whether a deal that enters a stage of `kind` closes (won or lost).
pub fn closes(kind: StageKind) -> bool {
    kind != StageKind::Open
}

/// A pipeline keeps at least one open, one won and one lost stage.
pub fn has_every_kind(kinds: impl Iterator<Item = StageKind> + Clone) -> bool {
    StageKind::ALL.iter().all(|k| kinds.clone().any(|s| s == *k))
}

/// What breaking [`has_every_kind`] is told.
pub const THREE_KINDS: &str = "a pipeline keeps at least one open, one won and one lost stage";

/// A stage's probability when none is given: 100 for won, 0 for lost, 50 for open.
pub fn default_probability(kind: StageKind) -> i32 {
    match kind {
        StageKind::Won => 100,
        StageKind::Lost => 0,
        StageKind::Open => 50,
    }
}

/// When a deal moves: never in the future (a minute of clock skew allowed), never before its
/// previous change (history is in order).
pub fn stage_change_time(
    field: &str,
    at: DateTime<Utc>,
    previous: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, FieldError> {
    let at = super::past_time(field, at)?;
    if previous.is_some_and(|p| at < p) {
        return Err(FieldError::new(field, "must not be before the deal's previous change"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let now = Utc::now();
        assert_eq!(deal_status(StageKind::Won), DealStatus::Won);
        assert_eq!(closed_at_on_entering(StageKind::Lost, now), Some(now));
        assert_eq!(closed_at_on_entering(StageKind::Open, now), None);
        assert!(has_every_kind([StageKind::Open, StageKind::Won, StageKind::Lost].into_iter()));
        assert!(!has_every_kind([StageKind::Open, StageKind::Won].into_iter()));
        assert!(stage_change_time("changed_at", now, Some(now + chrono::Duration::seconds(1))).is_err());
        assert!(stage_change_time("changed_at", now + chrono::Duration::days(1), None).is_err());
        assert!(stage_change_time("changed_at", now, Some(now)).is_ok());
    }
}
