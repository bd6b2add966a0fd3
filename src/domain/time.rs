//! Instants and dates a client gives.

use crate::error::FieldError;

/// An instant as a client gives it in a query (a filter, an analytics window): a bare date
/// `YYYY-MM-DD`, meaning midnight of that day in the workspace's time zone (resolved in
/// PostgreSQL by `rapport_local_midnight`, see `db::workspaces::resolve_bounds`), or an RFC 3339
/// timestamp with its offset. One rule for every query parameter that takes an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Midnight of that day in the workspace's time zone.
    Date(chrono::NaiveDate),
    At(chrono::DateTime<chrono::Utc>),
}

impl Bound {
    /// What the OpenAPI document says of the form.
    pub const DESCRIPTION: &'static str =
        "A date (YYYY-MM-DD: midnight in the workspace's time zone) or an RFC 3339 timestamp with an offset";

    pub fn parse(field: &str, text: &str) -> Result<Bound, FieldError> {
        if text.len() == 10 {
            if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                return Ok(Bound::Date(d));
            }
        } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(Bound::At(t.with_timezone(&chrono::Utc)));
        } else if let Some(encoded) = plus_read_as_space(text) {
            return Err(FieldError::new(
                field,
                format!(
                    "must be an RFC 3339 timestamp: its offset's `+` arrived as a space, as `+` reads in a query \
                     string; send it as `%2B` ({encoded}) or give the instant in UTC with `Z`"
                ),
            ));
        }
        Err(FieldError::new(
            field,
            "must be a date (YYYY-MM-DD, midnight in the workspace's time zone) or an RFC 3339 timestamp with an offset",
        ))
    }

    /// The instant, or the date to resolve in the workspace's time zone.
    pub fn split(b: Option<Bound>) -> (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::NaiveDate>) {
        match b {
            Some(Bound::At(t)) => (Some(t), None),
            Some(Bound::Date(d)) => (None, Some(d)),
            None => (None, None),
        }
    }
}

/// `text` as the client meant it, with its `+` encoded (`2026-03-01T10:00:00%2B01:00`), when it
/// is an RFC 3339 timestamp once its last space is read as the `+` of its offset
/// (`2026-03-01T10:00:00 01:00`: what an unencoded `+` in a query string becomes).
fn plus_read_as_space(text: &str) -> Option<String> {
    let (head, offset) = text.rsplit_once(' ')?;
    chrono::DateTime::parse_from_rfc3339(&format!("{head}+{offset}")).ok()?;
    Some(format!("{head}%2B{offset}"))
}

/// What a timestamp field (or an import's `created_at` cell) says of a value that is not one.
pub const TIMESTAMP_EXPECTED: &str = "must be an RFC 3339 timestamp with Z or an offset, such as 2026-03-01T10:00:00Z";

/// The form of a [`Bound`], for schemas.
pub const TIME_BOUND_PATTERN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$";

/// The schema of a [`Bound`] in a query.
pub fn time_bound() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(TIME_BOUND_PATTERN))
        .description(Some(Bound::DESCRIPTION))
        .build()
}

/// A timestamp given by a client for something that already happened: not in the future
/// (a minute of clock skew allowed) and not before 1900.
pub fn past_time(field: &str, t: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, FieldError> {
    let now = chrono::Utc::now();
    if t > now + chrono::Duration::seconds(60) {
        return Err(FieldError::new(field, "must not be in the future"));
    }
    if t.timestamp() < -2_208_988_800 {
        return Err(FieldError::new(field, "must not be before 1900-01-01"));
    }
    Ok(t)
}

/// The form of a [`calendar_date`], for the OpenAPI schema.
pub const CALENDAR_DATE_PATTERN: &str = "^(19[0-9]{2}|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";

/// A calendar date a person plans with (an expected close date): years 1900 to 9999, the
/// four-digit years of RFC 3339 (PostgreSQL could not store every date `chrono` reads).
pub fn calendar_date(field: &str, d: chrono::NaiveDate) -> Result<chrono::NaiveDate, FieldError> {
    use chrono::Datelike;
    if (1900..=9999).contains(&d.year()) {
        Ok(d)
    } else {
        Err(FieldError::new(field, "must be a date from 1900-01-01 to 9999-12-31"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        use chrono::NaiveDate;
        assert_eq!(
            Bound::parse("from", "2026-03-01").unwrap(),
            Bound::Date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
        );
        assert!(
            matches!(Bound::parse("from", "2026-03-01T10:00:00-03:00").unwrap(), Bound::At(t) if t.to_rfc3339() == "2026-03-01T13:00:00+00:00")
        );
        assert!(matches!(Bound::parse("to", "2026-03-01 10:00:00.5+01:00").unwrap(), Bound::At(_)));
        assert!(matches!(Bound::parse("to", "2026-03-01t10:00:00z").unwrap(), Bound::At(_)));
        for bad in [
            "2026-02-30",
            "2026-3-01",
            "2026-03-01T10:00:00",
            "yesterday",
            "",
            "2026-03-01T25:00:00Z",
            "+10000-01-01T00:00:00Z",
            "-200000-01-01T00:00:00Z",
            "+10000-01-01",
        ] {
            assert!(Bound::parse("from", bad).is_err(), "{bad}");
        }
        // An unencoded `+` arrives as a space: the answer says so.
        let e = Bound::parse("as_of", "2026-03-01T10:00:00 01:00").unwrap_err();
        assert!(e.message.contains("%2B"), "{}", e.message);
        let e = Bound::parse("as_of", "2026-03-01 10:00:00 01:00").unwrap_err();
        assert!(e.message.contains("2026-03-01 10:00:00%2B01:00"), "{}", e.message);
        assert!(!Bound::parse("as_of", "2026-03-01T10:00:00Z x").unwrap_err().message.contains("%2B"));
    }
}

/// The instant PostgreSQL keeps for `t`: whole microseconds (sqlx sends a `timestamptz` as the
/// microseconds since 2000-01-01, truncated toward that epoch). A value computed before it is
/// written reads back equal to this.
pub fn as_stored(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let epoch = chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default(),
        chrono::Utc,
    );
    match (t - epoch).num_microseconds() {
        Some(micros) => epoch + chrono::TimeDelta::microseconds(micros),
        None => t,
    }
}

#[cfg(test)]
mod stored_tests {
    use chrono::{DateTime, Utc};

    #[test]
    fn stored_instants_are_whole_microseconds_toward_2000() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(super::as_stored(at("2026-11-30T04:35:48.897696228Z")), at("2026-11-30T04:35:48.897696Z"));
        assert_eq!(super::as_stored(at("1969-12-31T23:59:59.9999995Z")), at("1970-01-01T00:00:00Z"));
        assert_eq!(super::as_stored(at("1999-12-31T23:59:59.9999995Z")), at("2000-01-01T00:00:00Z"));
        assert_eq!(super::as_stored(at("2000-01-01T00:00:00Z")), at("2000-01-01T00:00:00Z"));
    }
}
