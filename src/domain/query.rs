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
    FieldError::new(if at_root { root.to_owned() } else { path }, message)
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
