//! Text people type and the codes of standard lists.

use serde_json::Value;

use crate::error::FieldError;

/// Text with at least one non-space character and no NUL (as [`text`] checks), for schemas.
pub const TEXT_PATTERN: &str = r"^[^\u0000]*[^\s\u0000][^\u0000]*$";
/// Text without NUL, for schemas.
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

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

/// An ISO 3166-1 alpha-2 country code (the `isocountry` crate's list), upper case.
pub fn country(field: &str, value: &str) -> Result<String, FieldError> {
    match isocountry::CountryCode::for_alpha2(value) {
        Ok(c) if c.alpha2() == value => Ok(value.to_owned()),
        _ => Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 code in upper case, such as FR")),
    }
}

/// The country codes (ISO 3166-1 alpha-2), in order, for the OpenAPI schema.
pub fn countries() -> impl Iterator<Item = &'static str> {
    isocountry::CountryCode::iter_alpha2().map(|c| c.alpha2())
}

/// What a phone number may be written with: 3 to 50 characters of digits, spaces and
/// `+ - ( ) . /`, `x` before an extension, at least one digit (and, as stored, `;ext=<digits>`
/// after it).
pub const PHONE_PATTERN: &str = r"^[0-9 +().\/xX-]*[0-9][0-9 +().\/xX-]*(;ext=[0-9]+)?$";

static PHONE_WRITTEN: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(PHONE_PATTERN).expect("PHONE_PATTERN is a regular expression"));

/// A phone number as people write it (see [`PHONE_PATTERN`]), in international form (`+49 30
/// 901820`) or in the national form of `region` (the customer's country: `030 901820` in DE),
/// valid by the numbering plan of its country (libphonenumber's metadata, through the
/// `phonenumber` crate). Returned in E.164 (`+4930901820`), with `;ext=<digits>` after it when
/// the number has an extension (RFC 3966's parameter); what it returns it takes back as is.
pub fn phone(field: &str, value: &str, region: Option<&str>) -> Result<String, FieldError> {
    if !(3..=50).contains(&value.chars().count()) || !PHONE_WRITTEN.is_match(value) {
        return Err(FieldError::new(field, "must be a phone number: digits, spaces and + - ( ) . /"));
    }
    let written = match value.split_once(";ext=") {
        Some((number, ext)) => std::borrow::Cow::Owned(format!("{number} x{ext}")),
        None => std::borrow::Cow::Borrowed(value),
    };
    // A number written with its country code is read as such, whatever the customer's country.
    let region = region
        .filter(|_| !value.trim_start().starts_with('+'))
        .and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    match phonenumber::parse(region, written.as_ref()) {
        Ok(number) if phonenumber::is_valid(&number) => {
            let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
            Ok(match number.extension() {
                Some(ext) => format!("{e164};ext={}", ext.as_ref()),
                None => e164,
            })
        }
        _ if region.is_none() && !value.trim_start().starts_with('+') => Err(FieldError::new(
            field,
            "is not a phone number we can place: write it with its country code (+49 30 901820), or give the customer's country",
        )),
        _ => Err(FieldError::new(field, "is not a valid phone number for its country")),
    }
}

/// The IANA time zones a workspace may use: the Area/Location names of the tz database (the
/// `chrono-tz` crate's, links included, such as `America/Buenos_Aires`), and UTC; not the
/// `Etc/` zones nor the country-named aliases (`US/Eastern`, `Canada/Atlantic`, ...).
/// PostgreSQL knows each of them (a test checks).
pub fn timezones() -> impl Iterator<Item = &'static str> {
    const LEGACY: [&str; 6] = ["Etc/", "US/", "Canada/", "Brazil/", "Chile/", "Mexico/"];
    let named = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| name.contains('/') && !LEGACY.iter().any(|prefix| name.starts_with(prefix)));
    std::iter::once("UTC").chain(named)
}

pub fn timezone(field: &str, value: &str) -> Result<String, FieldError> {
    if timezones().any(|tz| tz == value) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "is not a known IANA time zone such as Europe/Paris"))
    }
}

/// How deep arrays may nest directly in arrays in a JSON field (`[[[1]]]`): so deep and no
/// deeper, the OpenAPI document can state the shape without a type that holds itself through
/// an array, which TypeScript clients cannot name.
pub const JSON_ARRAY_NESTING: usize = 3;

/// The largest magnitude of a number in a JSON field (custom fields, configs, metadata).
pub const JSON_NUMBER_LIMIT: f64 = 1e300;

/// A JSON object of at most `max_bytes` serialised, with no NUL character anywhere.
pub fn json_object(field: &str, value: &Value, max_bytes: usize) -> Result<(), FieldError> {
    if !value.is_object() {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    if serde_json::to_vec(value).map_or(usize::MAX, |v| v.len()) > max_bytes {
        return Err(FieldError::new(field, format!("must be at most {max_bytes} bytes of JSON")));
    }
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    // PostgreSQL writes jsonb numbers out in full decimal: past 1e300 they would not read
    // back as a double.
    fn has_huge(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.as_f64().is_some_and(|f| f.abs() > JSON_NUMBER_LIMIT),
            Value::Array(a) => a.iter().any(has_huge),
            Value::Object(o) => o.values().any(has_huge),
            _ => false,
        }
    }
    if has_nul(value) {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    if has_huge(value) {
        return Err(FieldError::new(field, "numbers must be within ±1e300"));
    }
    fn too_nested(v: &Value, arrays: usize) -> bool {
        match v {
            Value::Array(a) => arrays == JSON_ARRAY_NESTING || a.iter().any(|x| too_nested(x, arrays + 1)),
            Value::Object(o) => o.values().any(|x| too_nested(x, 0)),
            _ => false,
        }
    }
    if too_nested(value, 0) {
        return Err(FieldError::new(
            field,
            format!(
                "arrays may hold arrays {JSON_ARRAY_NESTING} deep at most ([[[1]]]; an object inside starts afresh)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_object_rules() {
        assert!(json_object("a", &json!({"k": "v"}), 100).is_ok());
        assert!(json_object("a", &json!([1]), 100).is_err());
        assert!(json_object("a", &json!({"k": "x".repeat(200)}), 100).is_err());
        assert!(json_object("a", &json!({"k": ["a\u{0}b"]}), 100).is_err());
    }

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
        assert_eq!(phone("phone", "+33 (0)1 23-45-67-89", None).unwrap(), "+33123456789");
        assert_eq!(phone("phone", "01 23 45 67 89", Some("FR")).unwrap(), "+33123456789");
        assert_eq!(phone("phone", "+33 1 23 45 67 89", Some("VI")).unwrap(), "+33123456789", "the code given wins");
        assert_eq!(phone("phone", "+1 (212) 555-0134 x12", None).unwrap(), "+12125550134;ext=12");
        assert_eq!(phone("phone", "+12125550134;ext=12", None).unwrap(), "+12125550134;ext=12", "taken back as stored");
        assert!(phone("phone", "+12125550134;ext=", None).is_err());
        assert!(phone("phone", "01 23 45 67 89", None).is_err(), "national form without a country");
        assert!(phone("phone", "+33 1 23", None).is_err(), "too short for France");
        assert!(phone("phone", "call me", None).is_err());
        assert!(country("country", "XK").is_err(), "not an ISO 3166-1 code");
        assert_eq!(countries().count(), 249);
        assert!(timezones().any(|z| z == "America/Port-au-Prince") && !timezones().any(|z| z == "US/Eastern"));
        assert!(crate::domain::past_time("t", chrono::Utc::now() + chrono::Duration::days(1)).is_err());
        assert!(crate::domain::past_time("t", chrono::Utc::now()).is_ok());
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
