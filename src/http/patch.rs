//! JSON merge patch (RFC 7396) and the checks shared by JSON fields.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// Applies `patch` to `target` as RFC 7396 says: objects merge key by key, `null` removes
/// a key, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The writable fields of `current` with `patch` merged in, read back as `T` (`422` naming
/// the field when the result is not a valid `T`). Fields in `frozen` cannot be patched;
/// fields in `not_null` cannot be removed with `null`.
pub fn apply<W: Serialize, T: DeserializeOwned>(
    current: &W,
    patch: &Value,
    frozen: &[&str],
    not_null: &[&str],
) -> Result<T, ApiError> {
    let Value::Object(fields) = patch else {
        return Err(ApiError::validation("body", "a merge patch must be a JSON object"));
    };
    let mut merged = serde_json::to_value(current).map_err(|e| ApiError::internal(e.to_string()))?;
    let known = |k: &str| frozen.contains(&k) || merged.get(k).is_some();
    let mut errors: Vec<FieldError> = Vec::new();
    for (key, value) in fields {
        if !known(key) {
            errors.push(FieldError::new(key.clone(), "is not a known field"));
        } else if frozen.contains(&key.as_str()) {
            errors.push(FieldError::new(key.clone(), "cannot be changed"));
        } else if value.is_null() && not_null.contains(&key.as_str()) {
            errors.push(FieldError::new(key.clone(), "cannot be null"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    merge(&mut merged, patch);
    from_value(merged)
}

/// Reads `T` from a JSON value; errors name the field.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        ApiError::Validation(vec![crate::http::extract::field_error(path, message)])
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7396_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1, 2]});
        merge(&mut t, &json!({"a": [3]}));
        assert_eq!(t, json!({"a": [3]}));
        let mut t = json!({"a": "b"});
        merge(&mut t, &json!({"b": {"c": null}}));
        assert_eq!(t, json!({"a": "b", "b": {}}));
    }

    #[test]
    fn json_object_rules() {
        assert!(json_object("a", &json!({"k": "v"}), 100).is_ok());
        assert!(json_object("a", &json!([1]), 100).is_err());
        assert!(json_object("a", &json!({"k": "x".repeat(200)}), 100).is_err());
        assert!(json_object("a", &json!({"k": ["a\u{0}b"]}), 100).is_err());
    }
}
