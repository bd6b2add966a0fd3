//! Saved reports: what they run, when they run and which period they cover, stated in the workspace's local time
//! and computed to UTC instants with the IANA time zone rules (`chrono-tz`), so that they
//! survive daylight-saving changes:
//!
//! - a local time the clocks skip (spring forward) runs at the first instant after the jump;
//! - a local time that occurs twice (fall back) runs once, at its first occurrence.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

crate::text_enum! {
    /// The analytics endpoint a saved report runs: `interactions` is `/analytics/interactions`.
    pub enum ReportKind {
        Funnel => "funnel",
        Segments => "segments",
        Rfm => "rfm",
        Cohorts => "cohorts",
        Interactions => "interactions",
        Basket => "basket",
        Support => "support",
    }
}

crate::text_enum! {
    /// How a report run started: asked for, or its schedule came round.
    pub enum RunTrigger {
        Manual => "manual",
        Schedule => "schedule",
    }
}

crate::text_enum! {
    /// How a report run ended.
    pub enum RunStatus {
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

crate::text_enum! {
    /// How often a schedule comes round.
    pub enum Every {
        Day => "day",
        Week => "week",
        Month => "month",
    }
}

crate::text_enum! {
    /// A period relative to the day a report runs, in the workspace's time zone. `last_N_days`:
    /// the N whole days before today; `previous_week` (Monday to Monday), `previous_month` and
    /// `previous_quarter`: the calendar period before the current one; `month_to_date` and
    /// `year_to_date`: from the first day of the month or year to the instant of the run.
    pub enum Range {
        Last7Days => "last_7_days",
        Last30Days => "last_30_days",
        Last90Days => "last_90_days",
        PreviousWeek => "previous_week",
        PreviousMonth => "previous_month",
        PreviousQuarter => "previous_quarter",
        MonthToDate => "month_to_date",
        YearToDate => "year_to_date",
    }
}

/// Local dates `[from, to)`; `to` is `None` for a period that runs up to the instant of the
/// run.
pub type LocalPeriod = (NaiveDate, Option<NaiveDate>);

impl Range {
    /// The period for a run on the local day `today`.
    pub fn period(self, today: NaiveDate) -> LocalPeriod {
        match self {
            Range::Last7Days => (today - Days::new(7), Some(today)),
            Range::Last30Days => (today - Days::new(30), Some(today)),
            Range::Last90Days => (today - Days::new(90), Some(today)),
            Range::PreviousWeek => {
                let monday = week_start(today);
                (monday - Days::new(7), Some(monday))
            }
            Range::PreviousMonth => {
                let first = month_start(today);
                (first - Months::new(1), Some(first))
            }
            Range::PreviousQuarter => {
                let first = quarter_start(today);
                (first - Months::new(3), Some(first))
            }
            Range::MonthToDate => (month_start(today), None),
            Range::YearToDate => (today.with_ordinal(1).unwrap_or(today), None),
        }
    }
}

fn week_start(d: NaiveDate) -> NaiveDate {
    d - Days::new(u64::from(d.weekday().num_days_from_monday()))
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    let month = (d.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), month, 1).unwrap_or(d)
}

/// The day of the month a monthly schedule runs on: 1 to 28 (in every month), or the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MonthDay {
    Day(u8),
    #[serde(with = "last")]
    Last,
}

impl MonthDay {
    /// Its schema: an integer from 1 to 28, or `"last"`.
    pub fn schema() -> utoipa::openapi::schema::Schema {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
        Schema::OneOf(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(28)))
                .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["last"])))
                .description(Some("A day of the month every month has (1 to 28), or \"last\"."))
                .build(),
        )
    }
}

mod last {
    pub fn serialize<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("last")
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        if text == "last" {
            Ok(())
        } else {
            Err(serde::de::Error::custom("expected \"last\""))
        }
    }
}

/// A schedule as a client states it; [`Schedule::parse`] checks it. Its schema: one shape
/// per `every`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub every: Every,
    /// Local time of day, `HH:MM` (24 h). Default: `07:00`.
    pub at: Option<String>,
    /// Weeks only: ISO day of the week, 1 (Monday) to 7 (Sunday). Default: 1.
    pub weekday: Option<i64>,
    /// Months only: 1 to 28, or `"last"` (the month's last day). Default: 1.
    pub day: Option<serde_json::Value>,
}

/// The pattern of a local time of day.
pub const HH_MM_PATTERN: &str = r"^([01][0-9]|2[0-3]):[0-5][0-9]$";

impl utoipa::PartialSchema for ScheduleInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
        let nullable = |t: Type| SchemaType::from_iter([t, Type::Null]);
        let shape = |every: Every| {
            let mut o = ObjectBuilder::new()
                .property("every", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([every.as_str()])))
                .required("every")
                .property(
                    "at",
                    ObjectBuilder::new()
                        .schema_type(nullable(Type::String))
                        .pattern(Some(HH_MM_PATTERN))
                        .description(Some("Local time of day, HH:MM (24 h), such as 18:30. Default: 07:00.")),
                )
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            match every {
                Every::Day => {}
                Every::Week => {
                    o = o.property(
                        "weekday",
                        ObjectBuilder::new()
                            .schema_type(nullable(Type::Integer))
                            .minimum(Some(1))
                            .maximum(Some(7))
                            .description(Some("ISO day of the week, 1 (Monday) to 7 (Sunday). Default: 1.")),
                    )
                }
                Every::Month => {
                    let day = OneOfBuilder::new()
                        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(28)))
                        .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["last"])))
                        .item(ObjectBuilder::new().schema_type(Type::Null))
                        .description(Some("1 to 28 (a day every month has), or \"last\". Default: 1."));
                    o = o.property("day", day)
                }
            }
            o.build()
        };
        Schema::OneOf(
            OneOfBuilder::new()
                .item(shape(Every::Day))
                .item(shape(Every::Week))
                .item(shape(Every::Month))
                .description(Some(
                    "When a report runs by itself, in the workspace's local time: every day, every week (on \
                     `weekday`) or every month (on `day`), at `at`.",
                ))
                .build(),
        )
        .into()
    }
}

impl utoipa::ToSchema for ScheduleInput {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ScheduleInput")
    }
}

/// When a report runs by itself, in the workspace's local time: every day, every week on
/// `weekday`, or every month on `day`, at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    pub every: Every,
    /// Local time of day, `HH:MM`.
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")]
    #[serde(with = "hh_mm")]
    pub at: NaiveTime,
    /// Weeks: ISO day of the week, 1 (Monday) to 7 (Sunday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: Option<u8>,
    /// Months: 1 to 28, or `"last"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = MonthDay::schema)]
    pub day: Option<MonthDay>,
}

mod hh_mm {
    use chrono::NaiveTime;

    pub fn serialize<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        super::Schedule::time_of_day(&text).ok_or_else(|| serde::de::Error::custom("expected HH:MM"))
    }
}

impl Schedule {
    /// The local time of the default schedule.
    pub const DEFAULT_AT: &'static str = "07:00";

    fn time_of_day(text: &str) -> Option<NaiveTime> {
        let ok = text.len() == 5 && text.as_bytes()[2] == b':';
        ok.then(|| NaiveTime::parse_from_str(text, "%H:%M").ok()).flatten()
    }

    /// Checks a stated schedule; every bad field is reported (`<field>.at`, ...).
    pub fn parse(field: &str, input: &ScheduleInput) -> Result<Schedule, Vec<FieldError>> {
        let mut errors = Vec::new();
        let at = Schedule::time_of_day(input.at.as_deref().unwrap_or(Schedule::DEFAULT_AT));
        if at.is_none() {
            errors.push(FieldError::new(format!("{field}.at"), "must be a local time HH:MM (00:00 to 23:59)"));
        }
        let weekday = match (input.every, input.weekday) {
            (Every::Week, None) => Some(1),
            (Every::Week, Some(d @ 1..=7)) => Some(d as u8),
            (Every::Week, Some(_)) => {
                errors.push(FieldError::new(format!("{field}.weekday"), "must be 1 (Monday) to 7 (Sunday)"));
                None
            }
            (_, None) => None,
            (_, Some(_)) => {
                errors.push(FieldError::new(format!("{field}.weekday"), "is only for weekly schedules"));
                None
            }
        };
        let day = match (input.every, &input.day) {
            (Every::Month, None) => Some(MonthDay::Day(1)),
            (Every::Month, Some(v)) => match v {
                serde_json::Value::Number(n) if n.as_u64().is_some_and(|d| (1..=28).contains(&d)) => {
                    n.as_u64().map(|d| MonthDay::Day(d as u8))
                }
                serde_json::Value::String(s) if s == "last" => Some(MonthDay::Last),
                _ => {
                    errors.push(FieldError::new(
                        format!("{field}.day"),
                        "must be 1 to 28 (a day every month has), or \"last\"",
                    ));
                    None
                }
            },
            (_, None) => None,
            (_, Some(_)) => {
                errors.push(FieldError::new(format!("{field}.day"), "is only for monthly schedules"));
                None
            }
        };
        match at {
            Some(at) if errors.is_empty() => Ok(Schedule { every: input.every, at, weekday, day }),
            _ => Err(errors),
        }
    }

    /// Whether the schedule runs on the local day `d`.
    fn runs_on(&self, d: NaiveDate) -> bool {
        match self.every {
            Every::Day => true,
            Every::Week => Some(d.weekday().number_from_monday() as u8) == self.weekday,
            Every::Month => match self.day {
                Some(MonthDay::Day(n)) => d.day() == u32::from(n),
                Some(MonthDay::Last) => d.succ_opt().is_none_or(|next| next.month() != d.month()),
                None => d.day() == 1,
            },
        }
    }

    /// The first time the schedule comes round strictly after `after`, in `tz`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> DateTime<Utc> {
        // Start a day early: near a change of offset, yesterday's slot may still be ahead.
        let mut day = after.with_timezone(&tz).date_naive() - Days::new(1);
        loop {
            if self.runs_on(day) {
                let slot = local_instant(tz, day, self.at);
                if slot > after {
                    return slot;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => return DateTime::<Utc>::MAX_UTC,
            }
        }
    }

    /// The latest time the schedule came round at or before `now`, if any since `since`
    /// (exclusive): of slots missed while nothing ran, only the last one runs.
    pub fn latest_due(&self, tz: Tz, since: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut slot = self.next_after(tz, since);
        if slot > now {
            return None;
        }
        loop {
            let next = self.next_after(tz, slot);
            if next > now {
                return Some(slot);
            }
            slot = next;
        }
    }

    /// The period that just ended when the slot `slot` comes round: the local day, Monday to
    /// Monday week, or month before the one the slot falls in.
    pub fn period_ended(&self, tz: Tz, slot: DateTime<Utc>) -> LocalPeriod {
        let today = slot.with_timezone(&tz).date_naive();
        match self.every {
            Every::Day => (today - Days::new(1), Some(today)),
            Every::Week => Range::PreviousWeek.period(today),
            Every::Month => Range::PreviousMonth.period(today),
        }
    }
}

/// The instant of the local time `time` on the local day `day` in `tz`: a skipped local time
/// is the first instant after the jump, a repeated one its first occurrence.
pub fn local_instant(tz: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = day.and_time(time);
    // A gap is at most a few hours; whole minutes reach its end (IANA offsets change on minutes).
    for _ in 0..=(24 * 60) {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.with_timezone(&Utc),
            LocalResult::None => local += chrono::TimeDelta::minutes(1),
        }
    }
    Utc.from_utc_datetime(&day.and_time(time))
}

/// The time zone rules of an IANA name (every name `text::timezones` lists has them: a test
/// checks it).
pub fn zone(name: &str) -> Result<Tz, FieldError> {
    Tz::from_str(name).map_err(|_| FieldError::new("timezone", format!("{name:?} has no time zone rules")))
}

/// The local day of `at` in `tz`.
pub fn local_day(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn schedule(json: serde_json::Value) -> Result<Schedule, Vec<FieldError>> {
        Schedule::parse("schedule", &serde_json::from_value(json).unwrap())
    }

    fn daily(time: &str) -> Schedule {
        schedule(serde_json::json!({"every": "day", "at": time})).unwrap()
    }

    #[test]
    fn every_listed_zone_has_rules() {
        for name in crate::domain::text::timezones() {
            assert!(zone(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn schedules_are_checked_field_by_field() {
        let s = schedule(serde_json::json!({"every": "week"})).unwrap();
        assert_eq!((s.at.to_string().as_str(), s.weekday, s.day), ("07:00:00", Some(1), None));
        let s = schedule(serde_json::json!({"every": "month", "day": "last", "at": "23:59"})).unwrap();
        assert_eq!(s.day, Some(MonthDay::Last));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!({"every": "month", "at": "23:59", "day": "last"})
        );
        let bad = schedule(serde_json::json!({"every": "day", "at": "24:00", "weekday": 2, "day": 3})).unwrap_err();
        let fields: Vec<_> = bad.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["schedule.at", "schedule.weekday", "schedule.day"]);
        for day in [serde_json::json!(0), serde_json::json!(29), serde_json::json!("first"), serde_json::json!(1.5)] {
            assert!(schedule(serde_json::json!({"every": "month", "day": day})).is_err());
        }
        for time in ["7:00", "07:60", "07:00:00", "0700"] {
            assert!(schedule(serde_json::json!({"every": "day", "at": time})).is_err(), "{time}");
        }
    }

    #[test]
    fn daily_in_paris_across_both_changes() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let s = daily("07:00");
        // Winter (UTC+1), then summer (UTC+2) from 2026-03-29.
        assert_eq!(s.next_after(paris, at("2026-03-28T06:00:00Z")), at("2026-03-29T05:00:00Z"));
        assert_eq!(s.next_after(paris, at("2026-03-29T05:00:00Z")), at("2026-03-30T05:00:00Z"));
        // Back to winter on 2026-10-25.
        assert_eq!(s.next_after(paris, at("2026-10-24T05:00:00Z")), at("2026-10-25T06:00:00Z"));
        // A skipped time runs when the clocks jump; a repeated one runs once.
        let s = daily("02:30");
        assert_eq!(s.next_after(paris, at("2026-03-28T01:30:00Z")), at("2026-03-29T01:00:00Z"));
        assert_eq!(s.next_after(paris, at("2026-03-29T01:00:00Z")), at("2026-03-30T00:30:00Z"));
        assert_eq!(s.next_after(paris, at("2026-10-24T00:30:00Z")), at("2026-10-25T00:30:00Z"));
        assert_eq!(s.next_after(paris, at("2026-10-25T00:30:00Z")), at("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn daily_in_sao_paulo_across_both_changes() {
        // DST began at midnight on 2018-11-04 (UTC-3 → UTC-2) and ended at midnight on
        // 2019-02-17 (the hour before midnight occurred twice).
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        let s = daily("07:00");
        assert_eq!(s.next_after(sp, at("2018-11-03T10:00:00Z")), at("2018-11-04T09:00:00Z"));
        assert_eq!(s.next_after(sp, at("2019-02-16T09:00:00Z")), at("2019-02-17T10:00:00Z"));
        let s = daily("00:30");
        assert_eq!(s.next_after(sp, at("2018-11-03T03:30:00Z")), at("2018-11-04T03:00:00Z"));
        let s = daily("23:30");
        assert_eq!(s.next_after(sp, at("2019-02-16T12:00:00Z")), at("2019-02-17T01:30:00Z"));
        assert_eq!(s.next_after(sp, at("2019-02-17T01:30:00Z")), at("2019-02-18T02:30:00Z"));
    }

    #[test]
    fn weekly_and_monthly_slots() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let friday = schedule(serde_json::json!({"every": "week", "weekday": 5, "at": "18:00"})).unwrap();
        // 2026-12-02 is a Wednesday.
        assert_eq!(friday.next_after(paris, at("2026-12-02T12:00:00Z")), at("2026-12-04T17:00:00Z"));
        let last = schedule(serde_json::json!({"every": "month", "day": "last", "at": "09:00"})).unwrap();
        assert_eq!(last.next_after(paris, at("2027-02-01T00:00:00Z")), at("2027-02-28T08:00:00Z"));
        assert_eq!(last.next_after(paris, at("2028-02-01T00:00:00Z")), at("2028-02-29T08:00:00Z"));
        let first = schedule(serde_json::json!({"every": "month"})).unwrap();
        assert_eq!(first.next_after(paris, at("2026-12-01T06:00:00Z")), at("2027-01-01T06:00:00Z"));
    }

    #[test]
    fn only_the_latest_missed_slot_is_due() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let s = daily("07:00");
        let since = at("2026-12-01T06:00:00Z");
        assert_eq!(s.latest_due(paris, since, at("2026-12-01T05:59:59Z")), None);
        assert_eq!(s.latest_due(paris, since, at("2026-12-01T06:00:00Z")), None);
        assert_eq!(s.latest_due(paris, since, at("2026-12-05T06:30:00Z")), Some(at("2026-12-05T06:00:00Z")));
    }

    #[test]
    fn ranges_and_ended_periods() {
        let today = date("2026-03-31"); // a Tuesday
        let r = |range: Range| range.period(today);
        assert_eq!(r(Range::Last7Days), (date("2026-03-24"), Some(today)));
        assert_eq!(r(Range::Last90Days), (date("2025-12-31"), Some(today)));
        assert_eq!(r(Range::PreviousWeek), (date("2026-03-23"), Some(date("2026-03-30"))));
        assert_eq!(r(Range::PreviousMonth), (date("2026-02-01"), Some(date("2026-03-01"))));
        assert_eq!(r(Range::PreviousQuarter), (date("2025-10-01"), Some(date("2026-01-01"))));
        assert_eq!(r(Range::MonthToDate), (date("2026-03-01"), None));
        assert_eq!(r(Range::YearToDate), (date("2026-01-01"), None));
        assert_eq!(Range::PreviousMonth.period(date("2026-01-15")), (date("2025-12-01"), Some(date("2026-01-01"))));
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let monthly = schedule(serde_json::json!({"every": "month", "at": "00:30"})).unwrap();
        // The 00:30 slot of 1 April local time is still 31 March in UTC.
        assert_eq!(
            monthly.period_ended(paris, at("2026-03-31T22:30:00Z")),
            (date("2026-03-01"), Some(date("2026-04-01")))
        );
        assert_eq!(
            daily("07:00").period_ended(paris, at("2026-03-29T05:00:00Z")),
            (date("2026-03-28"), Some(date("2026-03-29")))
        );
    }
}
