//! Numbers that must stay exact: sums of money, proportions given in decimal.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

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

/// Reads a decimal given as text (a query string) or as a JSON number, keeping its text: for
/// fields whose exact decimal matters (`Proportion`). A JSON number is written as serde_json
/// reads it (the shortest text of the nearest double).
pub fn decimal_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match <Option<Given> as serde::Deserialize>::deserialize(d)? {
        None => None,
        Some(Given::Text(t)) => Some(t),
        Some(Given::Number(n)) => Some(n.to_string()),
    })
}

/// An integer that JSON may write as `5` or `5.0` (JSON Schema's "integer").
pub fn integer<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    opt_integer(d)?.ok_or_else(|| D::Error::custom("an integer is required"))
}

/// An optional integer that JSON may write as `5` or `5.0` (JSON Schema's "integer").
pub fn opt_integer<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
        _ => return Err(D::Error::custom(format!("{n} is not an integer in range"))),
    };
    T::try_from(whole).map(Some).map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
