//! JSON merge patch (RFC 7396) and the checks shared by JSON fields.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// An empty JSON object: the default of object fields.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

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
    serde_path_to_error::deserialize(crate::domain::strict::Strict(value)).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        ApiError::Validation(vec![crate::http::extract::field_error(path, message)])
    })
}

pub use crate::domain::numbers::{integer, opt_integer};

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
}
