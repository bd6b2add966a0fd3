//! Validated values of the domain: parse, don't validate.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;

/// The tenant every row belongs to. Every tenant query takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(transparent)]
pub struct WorkspaceId(pub Uuid);

impl std::fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A sum of amounts in minor units of the workspace's currency (a revenue, a lifetime value, the
/// amount of the deals that reached a stage). Each amount is at most 10^15, so a sum over up to
/// 2^63 rows stays below 10^34: it is held exactly in an `i128`, summed as `numeric` in
/// PostgreSQL, and written to JSON as an integer in full, never rounded, never wrapped (a client
/// in a language whose numbers are doubles reads values past 2^53 approximately; parse them as
/// big integers where that matters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SumCents(pub i128);

impl utoipa::PartialSchema for SumCents {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(0))
            .description(Some(
                "A sum of amounts in minor units: exact, written in full (it may exceed 2^63; \
                 read it as a big integer where that matters).",
            ))
            .examples([serde_json::json!(4_800_000)])
            .into()
    }
}

impl utoipa::ToSchema for SumCents {}

/// Read from PostgreSQL as the text of a `numeric` (select it `::text`).
impl sqlx::Type<sqlx::Postgres> for SumCents {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for SumCents {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(SumCents(text.parse()?))
    }
}

/// An enum stored as text: `as_str`, `FromStr`, and the sqlx text encoding, from one list.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok(s.parse::<$name>()?)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
    };
}

/// A new time-ordered id (UUID v7).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Text in Unicode Normalization Form C (UAX #15): canonically equal strings (`é` written as one
/// code point or as `e` and a combining accent) become the same string, so that equality,
/// uniqueness and search treat them alike. Every text a client gives that is compared is
/// normalised on input.
pub fn nfc(value: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    if is_nfc_quick(value.chars()) == IsNormalized::Yes {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(value.nfc().collect())
    }
}

/// Every key and string of a JSON value in NFC (custom fields are compared by `attr.<key>`
/// filters and segments).
pub fn nfc_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(n) = nfc(s) {
                *s = n;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nfc_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                nfc_json(&mut v);
                map.insert(nfc(&k).into_owned(), v);
            }
        }
        _ => {}
    }
}

/// Text a person typed: trimmed, in NFC ([`nfc`]), `min..=max` characters, and no NUL
/// character (nothing PostgreSQL cannot store). The OpenAPI schemas say the same
/// (`openapi::TEXT_PATTERN`).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let v = nfc(value.trim());
    let v = v.as_ref();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(FieldError::new(
            field,
            if min > 0 {
                format!("must be {min} to {max} characters (not only spaces)")
            } else {
                format!("must be at most {max} characters")
            },
        ));
    }
    if v.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(v.to_owned())
}

/// An email address: one `@`, a non-empty local part, a dotted domain, at most 254 chars.
/// Kept as given (case preserved) but in NFC; uniqueness is checked case-insensitively.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let v = nfc(value.trim());
    let v = v.as_ref();
    let bad = || FieldError::new(field, "is not a valid email address");
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return Err(bad());
    }
    Ok(v.to_owned())
}

/// The ISO 4217 currency codes (the `iso_currency` crate's list), for the OpenAPI schema.
pub fn currencies() -> impl Iterator<Item = &'static str> {
    use iso_currency::IntoEnumIterator;
    iso_currency::Currency::iter().map(|c| c.code())
}

/// A currency code of the ISO 4217 list (the `iso_currency` crate's), upper case, such as EUR.
pub fn currency(field: &str, value: &str) -> Result<String, FieldError> {
    match iso_currency::Currency::from_code(value) {
        Some(c) if c.code() == value => Ok(value.to_owned()),
        _ => Err(FieldError::new(field, "must be an ISO 4217 currency code such as EUR")),
    }
}

/// The 249 officially assigned ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper case.
pub fn country(field: &str, value: &str) -> Result<String, FieldError> {
    if value.len() == 2 && COUNTRIES.split(' ').any(|c| c == value) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 code in upper case, such as FR"))
    }
}

/// A phone number as people write it: 3 to 50 characters of digits, spaces and
/// `+ - ( ) . / x`, at least one digit.
pub fn phone(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = (3..=50).contains(&value.chars().count())
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_digit() || " +-().//xX".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "must be a phone number: digits, spaces and + - ( ) . /"))
    }
}

/// The IANA time zones a workspace may use (those of PostgreSQL's `pg_timezone_names` with an
/// Area/City name, and UTC).
pub const TIMEZONES: &str = include_str!("timezones.txt");

pub fn timezone(field: &str, value: &str) -> Result<String, FieldError> {
    if TIMEZONES.lines().any(|tz| tz == value) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "is not a known IANA time zone such as Europe/Paris"))
    }
}

/// The country codes, for the OpenAPI schema.
pub fn countries() -> impl Iterator<Item = &'static str> {
    COUNTRIES.split(' ')
}

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

/// A proportion from 0 to 1 exactly as the client wrote it in decimal (`0.5`, `5e-1`,
/// `0.500000000000000000000000000000000000000100000`): never rounded to a double, so a
/// threshold compared with it in SQL (`numeric`) is decided exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proportion(String);

impl Proportion {
    /// At most this many characters are read (far more digits than any use needs).
    pub const MAX_LEN: usize = 400;

    /// Parses a JSON-style decimal (`[-]digits[.digits][e[+-]digits]`) from 0 to 1.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new(field, "must be a decimal number from 0 to 1");
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(bad());
        }
        let (negative, unsigned) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(i) => {
                let e: i64 = unsigned[i + 1..].parse().map_err(|_| bad())?;
                (&unsigned[..i], e)
            }
            None => (unsigned, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits_only(int) || (mantissa.contains('.') && frac.is_empty()) || !digits_only(frac) {
            return Err(bad());
        }
        if exponent.abs() > Self::MAX_LEN as i64 {
            return Err(bad());
        }
        // Shift the decimal point by the exponent: digits, and how many of them are whole.
        let digits: String = format!("{int}{frac}");
        let point = int.len() as i64 + exponent;
        let (whole, fraction): (String, String) = if point <= 0 {
            (String::new(), format!("{}{digits}", "0".repeat((-point) as usize)))
        } else if point as usize >= digits.len() {
            (format!("{digits}{}", "0".repeat(point as usize - digits.len())), String::new())
        } else {
            (digits[..point as usize].to_owned(), digits[point as usize..].to_owned())
        };
        let whole = whole.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        let zero = whole.is_empty() && fraction.is_empty();
        if (negative && !zero) || !(whole.is_empty() || (whole == "1" && fraction.is_empty())) {
            return Err(bad());
        }
        let whole = if whole.is_empty() { "0" } else { whole };
        Ok(Proportion(if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") }))
    }

    /// The value as a plain decimal (`0.5`), for PostgreSQL's `numeric`.
    pub fn as_decimal(&self) -> &str {
        &self.0
    }
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

/// Collects field errors; `finish` turns them into one `422`.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn finish(self) -> Result<(), crate::error::ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::error::ApiError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org", "ÉLODIE@exemple.fr"] {
            assert!(email("email", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "a@", "@b.co", "a@b", "a@@b.co", "a b@c.de", "a@-b.co", "a@b..co", "a@b.co\0"] {
            assert!(email("email", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unicode_normal_form() {
        assert_eq!(email("email", "e\u{301}lodie@exemple.fr").unwrap(), "\u{e9}lodie@exemple.fr");
        assert_eq!(text("name", " Zoe\u{308} ", 1, 10).unwrap(), "Zo\u{eb}");
        // Four combining code points, one character after composition: within a max of 1.
        assert_eq!(text("t", "A\u{30a}", 1, 1).unwrap(), "\u{c5}");
        let mut v = serde_json::json!({"ve\u{301}lo": ["cafe\u{301}", 1], "k": {"n\u{303}": "a"}});
        nfc_json(&mut v);
        assert_eq!(v, serde_json::json!({"v\u{e9}lo": ["caf\u{e9}", 1], "k": {"\u{f1}": "a"}}));
    }

    #[test]
    fn texts() {
        assert_eq!(text("name", "  Ada  ", 1, 10).unwrap(), "Ada");
        assert!(text("name", "", 1, 10).is_err());
        assert!(text("name", "x".repeat(11).as_str(), 1, 10).is_err());
        assert!(text("name", "a\0b", 1, 10).is_err());
        assert!(text("name", "   ", 1, 10).is_err());
        assert!(timezone("tz", "America/Sao_Paulo").is_ok() && timezone("tz", "Mars/Base").is_err());
        assert!(text("body", "line\nline", 0, 10).is_ok());
    }

    #[test]
    fn countries_and_phones() {
        assert!(country("country", "FR").is_ok());
        assert!(country("country", "fr").is_err());
        assert!(country("country", "XX").is_err());
        assert!(phone("phone", "+33 (0)1 23-45-67").is_ok());
        assert!(phone("phone", "call me").is_err());
        assert!(past_time("t", chrono::Utc::now() + chrono::Duration::days(1)).is_err());
        assert!(past_time("t", chrono::Utc::now()).is_ok());
    }

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
    }

    #[test]
    fn proportions() {
        let p = |s: &str| Proportion::parse("p", s).map(|p| p.as_decimal().to_owned());
        assert_eq!(p("0.5").unwrap(), "0.5");
        assert_eq!(p("5e-1").unwrap(), "0.5");
        assert_eq!(p("0.01").unwrap(), "0.01");
        assert_eq!(p("1").unwrap(), "1");
        assert_eq!(p("1.000").unwrap(), "1");
        assert_eq!(p("100E-2").unwrap(), "1");
        assert_eq!(p("0").unwrap(), "0");
        assert_eq!(p("-0.0").unwrap(), "0");
        assert_eq!(
            p("0.500000000000000000000000000000000000000100000").unwrap(),
            "0.5000000000000000000000000000000000000001"
        );
        for bad in
            ["", "-0.1", "1.0000000000000000000000001", "2", "10e-1x", ".5", "5.", "NaN", "inf", "0x1", "1e999", "+0.5"]
        {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        assert_eq!(p("10e-1").unwrap(), "1");
    }

    #[test]
    fn currencies() {
        assert!(currency("currency", "EUR").is_ok());
        assert!(currency("currency", "eur").is_err());
        assert!(currency("currency", "EURO").is_err());
        assert!(currency("currency", "QQQ").is_err());
        assert!(currency("currency", "JPY").is_ok() && currency("currency", "BRL").is_ok());
    }
}
