//! Parameters read into a typed query (the analytics endpoints' `…Query` types): from a
//! request's query string, or from a saved report's JSON object; errors name the parameter the
//! same way in both.

use serde::de::DeserializeOwned;

use crate::error::FieldError;

/// Reads a query string (`a=1&b=x`): an unknown parameter or a value of the wrong type is an
/// error naming it (`query` when it cannot be told).
pub fn parse<T: DeserializeOwned>(qs: &str) -> Result<T, FieldError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(qs.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        field_error("query", path, message)
    })
}

/// Reads parameters given as a JSON object, each value of the JSON type its schema states:
/// an error names the parameter (see [`field_error`]; the object itself is `root`).
pub fn from_json<T: DeserializeOwned>(root: &str, mut value: serde_json::Value) -> Result<T, FieldError> {
    integral(&mut value);
    serde_path_to_error::deserialize(super::strict::Strict(value))
        .map_err(|err| field_error(root, err.path().to_string(), err.into_inner().to_string()))
}

/// A field error from a serde path (`.` for the root) and message: a missing field is named
/// itself ("is required"), an unknown one too ("is not a known field"); another error at the
/// root is `root`'s.
pub fn field_error(root: &str, path: String, message: String) -> FieldError {
    let at_root = path == "." || path.is_empty();
    if let Some(name) = missing_field(&message) {
        let field = if at_root { name.to_owned() } else { format!("{path}.{name}") };
        return FieldError::new(field, "is required");
    }
    if let Some(name) = unknown_field(&message) {
        let named = path == name || path.ends_with(&format!(".{name}"));
        let field = if at_root {
            name
        } else if named {
            path
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "is not a known field");
    }
    FieldError::new(if at_root { root.to_owned() } else { path }, plain_message(message, None))
}

/// What a field that takes an id says of a value that is not one.
pub const NOT_AN_ID: &str = "is not an id: ids are UUIDs, such as 0192f3a0-6b1c-7d2e-9f4a-3b5c6d7e8f90";

/// What a field that takes a date says of a value that is not one.
pub const DATE_EXPECTED: &str = "must be a date, YYYY-MM-DD";

/// What a date or timestamp field says when the value sent tells neither which of the two the
/// field takes (its schema does).
pub const DATE_OR_TIMESTAMP_EXPECTED: &str = "is not a valid date or timestamp: dates are YYYY-MM-DD, \
     timestamps RFC 3339 with Z or an offset, such as 2026-03-01T10:00:00Z";

/// chrono's parse errors, as a date or timestamp field gets them from serde.
const CHRONO_ERRORS: [&str; 6] = [
    "input is out of range",
    "no possible date and time matching input",
    "input is not enough for unique date and time",
    "input contains invalid characters",
    "premature end of input",
    "trailing input",
];

/// A field error's message in the API's words: what the field takes, not the words of the
/// parser that refused the value (uuid's, chrono's). With the value sent (`value`), a date or
/// timestamp field's message names the one form it takes: a value that reads as a timestamp was
/// refused by a date field, one that reads as a date by a timestamp field.
pub fn plain_message(message: String, value: Option<&serde_json::Value>) -> String {
    if message.starts_with("UUID parsing failed") {
        return NOT_AN_ID.to_owned();
    }
    if !CHRONO_ERRORS.contains(&message.as_str()) {
        return message;
    }
    let text = value.and_then(serde_json::Value::as_str).unwrap_or("");
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        DATE_EXPECTED.to_owned()
    } else if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        super::time::TIMESTAMP_EXPECTED.to_owned()
    } else {
        DATE_OR_TIMESTAMP_EXPECTED.to_owned()
    }
}

/// The name in serde's "unknown field `x`" message.
pub fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// The name in serde's "missing field `x`" message.
pub fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// Makes every number written with a zero fraction (`4.0`) an integer, as JSON Schema counts it
/// (an `integer` field takes `4.0`).
pub fn integral(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integral),
        _ => {}
    }
}
