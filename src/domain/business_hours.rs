//! Business hours and the business clock: a workspace's weekly working intervals in its time
//! zone with its holidays, and over them the instant `n` business minutes after another and the
//! business time between two instants, with pauses left out. Support cases' service-level due
//! times and breaches are computed with it (ITIL's "service hours").
//!
//! **Definition.** An instant is business time when its local date (in the calendar's time
//! zone) is not a holiday and its local wall-clock time falls in one of the intervals
//! (`[start, end)`) of that local weekday. This holds exactly across daylight-saving changes: a
//! local hour that is skipped holds no business time, a repeated one counts twice (each of its
//! instants is business time). A paused span (a case waiting on the customer) is not business
//! time, whatever the calendar says. Without business hours (`Calendar::always`), every
//! instant is business time.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schedule::local_instant;
use crate::error::FieldError;

/// One weekly interval of business hours, in the workspace's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// ISO day of the week: 1 (Monday) to 7 (Sunday).
    #[schema(minimum = 1, maximum = 7, example = 1)]
    #[serde(deserialize_with = "super::numbers::integer")]
    pub weekday: u8,
    /// Start, `HH:MM` (inclusive).
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "09:00")]
    pub start: String,
    /// End, `HH:MM` or `24:00` (exclusive), after `start`.
    #[schema(pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", example = "18:00")]
    pub end: String,
}

/// A workspace's business hours: weekly intervals (a day may have several, e.g. 09:00–12:30
/// and 13:30–18:00) and holidays (local dates without business hours), in the workspace's time
/// zone. Until the workspace sets some, Monday to Friday 09:00–17:00.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// 1 to 100.
    #[schema(min_items = 1, max_items = 100)]
    pub intervals: Vec<Interval>,
    /// At most 1,000 dates, `YYYY-MM-DD`, years 1900 to 9999.
    #[serde(default)]
    #[schema(schema_with = holidays_schema)]
    pub holidays: Vec<NaiveDate>,
}

/// The schema of holidays: at most 1,000 dates of years 1900 to 9999 (`domain::calendar_date`).
pub fn holidays_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
    let day = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(crate::domain::CALENDAR_DATE_PATTERN));
    Schema::Array(
        ArrayBuilder::new()
            .items(day)
            .max_items(Some(1000))
            .description(Some("At most 1,000 dates, `YYYY-MM-DD`, years 1900 to 9999."))
            .examples([serde_json::json!(["2026-12-25"])])
            .build(),
    )
}

/// The minute of the day `HH:MM` (two digits each) stands for, `24:00` included.
fn minute_of(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !(two_digits(h) && two_digits(m)) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 || (h, m) == (24, 0)).then_some(h * 60 + m)
}

impl BusinessHours {
    /// Monday to Friday, 09:00–17:00, no holidays.
    pub fn office() -> BusinessHours {
        let day = |weekday| Interval { weekday, start: "09:00".into(), end: "17:00".into() };
        BusinessHours { intervals: (1..=5).map(day).collect(), holidays: Vec::new() }
    }

    /// Every bad part named (`intervals[2].end`).
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.intervals.is_empty() || self.intervals.len() > 100 {
            // Hours without any business time would leave every business-minute target unmet
            // forever.
            errors.push(FieldError::new("intervals", "must hold 1 to 100 intervals"));
        }
        if self.holidays.len() > 1000 {
            errors.push(FieldError::new("holidays", "must hold at most 1,000 dates"));
        }
        for (i, day) in self.holidays.iter().enumerate() {
            if let Err(e) = crate::domain::time::calendar_date(&format!("holidays[{i}]"), *day) {
                errors.push(e);
            }
        }
        for (i, interval) in self.intervals.iter().enumerate() {
            let at = |part: &str| format!("intervals[{i}].{part}");
            if !(1..=7).contains(&interval.weekday) {
                errors.push(FieldError::new(at("weekday"), "must be 1 (Monday) to 7 (Sunday)"));
            }
            match (minute_of(&interval.start), minute_of(&interval.end)) {
                (Some(s), Some(e)) if s < e && s < 1440 => {}
                (Some(s), _) if s >= 1440 => errors.push(FieldError::new(at("start"), "must be 00:00 to 23:59")),
                (Some(_), Some(_)) => errors.push(FieldError::new(at("end"), "must be after start")),
                (None, _) => errors.push(FieldError::new(at("start"), "must be HH:MM")),
                (_, None) => errors.push(FieldError::new(at("end"), "must be HH:MM or 24:00")),
            }
        }
        errors
    }

    /// The calendar in `tz` (after [`BusinessHours::check`]).
    pub fn calendar(&self, tz: Tz) -> Calendar {
        let intervals: Vec<(u32, u32, u32)> = self
            .intervals
            .iter()
            .filter_map(|i| Some((u32::from(i.weekday), minute_of(&i.start)?, minute_of(&i.end)?)))
            .collect();
        Calendar::new(tz, &intervals, self.holidays.iter().copied())
    }
}

/// A span of paused time: from its start to its end, or on (`None`: not resumed yet).
pub type Pause = (DateTime<Utc>, Option<DateTime<Utc>>);

/// The longest a clock looks ahead for a due time before it says there is none (a calendar
/// with hardly any hours): three years of days.
const HORIZON_DAYS: u32 = 3 * 366;

/// Weekly intervals in a time zone, and holidays: see the module's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
    /// Per ISO weekday (index 0 = Monday), intervals in minutes of the local day, sorted and
    /// merged: `[start, end)` with `0 <= start < end <= 1440`.
    week: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// A calendar from `(ISO weekday 1..=7, start minute, end minute)` intervals (overlapping
    /// ones merged) and holidays. Intervals out of bounds are the caller's fault (checked by
    /// [`BusinessHours`](crate::domain::BusinessHours) before).
    pub fn new(tz: Tz, intervals: &[(u32, u32, u32)], holidays: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for &(weekday, start, end) in intervals {
            if (1..=7).contains(&weekday) && start < end && end <= 1440 {
                week[weekday as usize - 1].push((start, end));
            }
        }
        for day in &mut week {
            day.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(day.len());
            for &(s, e) in day.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *day = merged;
        }
        Calendar { tz, week, holidays: holidays.into_iter().collect() }
    }

    /// Every instant is business time (a policy counted in calendar minutes).
    pub fn always(tz: Tz) -> Calendar {
        Calendar::new(tz, &(1..=7).map(|d| (d, 0, 1440)).collect::<Vec<_>>(), [])
    }

    /// Whether `at` is business time (the definition itself, instant by instant).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        let minute = local.hour() * 60 + local.minute();
        !self.holidays.contains(&local.date_naive())
            && self.week[local.weekday().num_days_from_monday() as usize]
                .iter()
                .any(|&(s, e)| s <= minute && minute < e)
    }

    fn offset_at(&self, unix: i64) -> i32 {
        let at = DateTime::from_timestamp(unix, 0).unwrap_or_default().naive_utc();
        self.tz.offset_from_utc_datetime(&at).fix().local_minus_utc()
    }

    /// The business spans of local day `day`, as `[start, end)` Unix seconds, in order.
    fn day_spans(&self, day: NaiveDate) -> Vec<(i64, i64)> {
        if self.holidays.contains(&day) {
            return Vec::new();
        }
        let intervals = &self.week[day.weekday().num_days_from_monday() as usize];
        if intervals.is_empty() {
            return Vec::new();
        }
        let midnight = |d: NaiveDate| local_instant(self.tz, d, NaiveTime::MIN).timestamp();
        let (a, b) = (midnight(day), midnight(day.succ_opt().unwrap_or(day)));
        if b - a == 86_400 && self.offset_at(a) == self.offset_at(b - 1) {
            // No offset change in the day: wall-clock minutes are UTC minutes.
            return intervals.iter().map(|&(s, e)| (a + i64::from(s) * 60, a + i64::from(e) * 60)).collect();
        }
        // A day with an offset change: minute by minute (offsets change on whole minutes), from a
        // little before its first instant to a little after its last.
        let mut spans: Vec<(i64, i64)> = Vec::new();
        let mut t = a - 3 * 3600;
        while t < b + 3 * 3600 {
            if self.is_open(DateTime::from_timestamp(t, 0).unwrap_or_default())
                && DateTime::from_timestamp(t, 0).unwrap_or_default().with_timezone(&self.tz).date_naive() == day
            {
                match spans.last_mut() {
                    Some(last) if last.1 == t => last.1 = t + 60,
                    _ => spans.push((t, t + 60)),
                }
            }
            t += 60;
        }
        spans
    }

    /// The local day an instant falls on.
    fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// The instant `minutes` business minutes after `start`, paused spans left out; `None`
    /// when the clock never gets there (an open pause, or no business hours within three
    /// years).
    pub fn add(&self, start: DateTime<Utc>, minutes: i64, pauses: &[Pause]) -> Option<DateTime<Utc>> {
        let from = start.timestamp();
        let mut left = minutes.max(0) * 60;
        if left == 0 {
            return Some(start);
        }
        let open_pause = pauses.iter().filter(|p| p.1.is_none()).map(|p| p.0.timestamp()).min();
        let mut day = self.day_of(start).pred_opt()?;
        for _ in 0..HORIZON_DAYS {
            for (a, b) in self.day_spans(day) {
                if open_pause.is_some_and(|p| p <= a.max(from)) {
                    return None;
                }
                for (x, y) in unpaused(a.max(from), b, pauses) {
                    if y - x >= left {
                        return DateTime::from_timestamp(x + left, start.timestamp_subsec_nanos());
                    }
                    left -= y - x;
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// Business seconds in `[from, to)`, paused spans left out.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>, pauses: &[Pause]) -> i64 {
        if to <= from {
            return 0;
        }
        let (f, t) = (from.timestamp(), to.timestamp());
        let (Some(mut day), Some(last)) = (self.day_of(from).pred_opt(), self.day_of(to).succ_opt()) else {
            return 0;
        };
        let mut total = 0;
        while day <= last {
            for (a, b) in self.day_spans(day) {
                total += unpaused(a.max(f), b.min(t), pauses).iter().map(|(x, y)| y - x).sum::<i64>();
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }
}

/// `[a, b)` without the paused spans, as the spans left (in order).
fn unpaused(a: i64, b: i64, pauses: &[Pause]) -> Vec<(i64, i64)> {
    let mut left = vec![];
    if a >= b {
        return left;
    }
    let mut cuts: Vec<(i64, i64)> =
        pauses.iter().map(|(s, e)| (s.timestamp(), e.map_or(i64::MAX, |e| e.timestamp()))).collect();
    cuts.sort_unstable();
    let mut cursor = a;
    for (s, e) in cuts {
        if e <= cursor || s >= b {
            continue;
        }
        if s > cursor {
            left.push((cursor, s.min(b)));
        }
        cursor = cursor.max(e);
        if cursor >= b {
            return left;
        }
    }
    if cursor < b {
        left.push((cursor, b));
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn office(tz: &str) -> Calendar {
        Calendar::new(tz.parse().unwrap(), &(1..=5).map(|d| (d, 9 * 60, 18 * 60)).collect::<Vec<_>>(), [])
    }

    /// Friday 17:55 with 30 business minutes and hours 09:00–18:00 is Monday 09:25 (local).
    #[test]
    fn friday_evening_runs_into_monday() {
        let paris = office("Europe/Paris");
        assert_eq!(paris.add(at("2026-11-27T16:55:00Z"), 30, &[]), Some(at("2026-11-30T08:25:00Z")));
        // A holiday on the Monday moves it to Tuesday.
        let with_holiday = Calendar::new(
            "Europe/Paris".parse().unwrap(),
            &(1..=5).map(|d| (d, 9 * 60, 18 * 60)).collect::<Vec<_>>(),
            [NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()],
        );
        assert_eq!(with_holiday.add(at("2026-11-27T16:55:00Z"), 30, &[]), Some(at("2026-12-01T08:25:00Z")));
        // Paused from Friday 17:58 to Monday 10:00: two minutes on Friday, 28 from 10:00.
        let pause = [(at("2026-11-27T16:58:00Z"), Some(at("2026-11-30T09:00:00Z")))];
        assert_eq!(paris.add(at("2026-11-27T16:55:00Z"), 30, &pause), Some(at("2026-11-30T09:27:00Z")));
        assert_eq!(paris.add(at("2026-11-27T16:55:00Z"), 30, &[(at("2026-11-27T16:58:00Z"), None)]), None);
        assert_eq!(paris.between(at("2026-11-27T16:55:00Z"), at("2026-11-30T08:25:00Z"), &[]), 30 * 60);
    }

    /// A night shift across midnight, through the night the clocks go back in Paris: the
    /// repeated hour counts twice.
    #[test]
    fn a_repeated_hour_counts_twice() {
        let nights =
            Calendar::new("Europe/Paris".parse().unwrap(), &(1..=7).map(|d| (d, 0, 6 * 60)).collect::<Vec<_>>(), []);
        // 2026-10-25: 03:00 CEST becomes 02:00 CET. 00:00–06:00 local is 7 hours.
        assert_eq!(nights.between(at("2026-10-24T12:00:00Z"), at("2026-10-25T12:00:00Z"), &[]), 7 * 3600);
        // 2026-03-29: 02:00 CET becomes 03:00 CEST: 5 hours.
        assert_eq!(nights.between(at("2026-03-28T12:00:00Z"), at("2026-03-29T12:00:00Z"), &[]), 5 * 3600);
    }

    /// The business clock against the definition applied minute by minute.
    fn oracle_add(cal: &Calendar, start: DateTime<Utc>, minutes: i64, pauses: &[Pause]) -> Option<DateTime<Utc>> {
        let paused = |t: DateTime<Utc>| pauses.iter().any(|(s, e)| *s <= t && e.is_none_or(|e| t < e));
        let mut t = start;
        let mut n = 0;
        for _ in 0..(200 * 24 * 60) {
            if cal.is_open(t) && !paused(t) {
                n += 1;
                if n == minutes {
                    return Some(t + TimeDelta::minutes(1));
                }
            }
            t += TimeDelta::minutes(1);
        }
        None
    }

    fn oracle_between(cal: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>, pauses: &[Pause]) -> i64 {
        let paused = |t: DateTime<Utc>| pauses.iter().any(|(s, e)| *s <= t && e.is_none_or(|e| t < e));
        let mut t = from;
        let mut n = 0;
        while t < to {
            if cal.is_open(t) && !paused(t) {
                n += 60;
            }
            t += TimeDelta::minutes(1);
        }
        n
    }

    /// Random calendars (split days, holidays) in three zones with daylight-saving changes,
    /// starts near the changes, random pauses: due times and business time equal the
    /// definition's to the minute.
    #[test]
    fn the_clock_follows_the_definition_across_dst_and_holidays() {
        let cases = [
            ("America/Sao_Paulo", ["2018-11-03T12:00:00Z", "2019-02-16T12:00:00Z"]),
            ("Europe/Paris", ["2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z"]),
            ("Australia/Lord_Howe", ["2026-04-04T00:00:00Z", "2026-10-03T00:00:00Z"]),
        ];
        let mut rng = StdRng::seed_from_u64(13);
        for (zone, changes) in cases {
            let tz: Tz = zone.parse().unwrap();
            for _ in 0..12 {
                let mut intervals = Vec::new();
                for weekday in 1..=7 {
                    if rng.gen_bool(0.8) {
                        // Split days: up to three intervals, some around 00:00–03:00.
                        for _ in 0..rng.gen_range(1..=3) {
                            let s = rng.gen_range(0..1380);
                            intervals.push((weekday, s, rng.gen_range(s + 1..=1440)));
                        }
                    }
                }
                let base: DateTime<Utc> = at(changes[rng.gen_range(0..2)]);
                let holidays: Vec<NaiveDate> = (0..rng.gen_range(0..3))
                    .map(|_| (base + TimeDelta::days(rng.gen_range(-2..6))).with_timezone(&tz).date_naive())
                    .collect();
                let cal = Calendar::new(tz, &intervals, holidays);
                let start = base + TimeDelta::minutes(rng.gen_range(-36 * 60..36 * 60));
                let pauses: Vec<Pause> = match rng.gen_range(0..3) {
                    0 => vec![],
                    1 => {
                        let p = start + TimeDelta::minutes(rng.gen_range(0..2000));
                        vec![(p, Some(p + TimeDelta::minutes(rng.gen_range(1..3000))))]
                    }
                    _ => {
                        let p = start + TimeDelta::minutes(rng.gen_range(0..600));
                        let q = p + TimeDelta::minutes(rng.gen_range(1..900));
                        vec![
                            (p, Some(q)),
                            (q + TimeDelta::minutes(rng.gen_range(1..900)), Some(q + TimeDelta::minutes(2000))),
                        ]
                    }
                };
                let minutes = rng.gen_range(1..3000);
                let due = cal.add(start, minutes, &pauses);
                assert_eq!(
                    due,
                    oracle_add(&cal, start, minutes, &pauses),
                    "{zone} {intervals:?} from {start} + {minutes}"
                );
                let end = start + TimeDelta::minutes(rng.gen_range(0..5000));
                assert_eq!(
                    cal.between(start, end, &pauses),
                    oracle_between(&cal, start, end, &pauses),
                    "{zone} {intervals:?}"
                );
            }
        }
    }
}
