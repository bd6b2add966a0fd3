//! Query parameters read into a typed query: one reader for the query string of a request and
//! for the saved parameters of a report, so both accept and refuse exactly the same.

use serde::de::DeserializeOwned;

use crate::error::FieldError;

/// Reads a query string (`a=1&b=x`): an unknown parameter or a value of the wrong type is an
/// error naming it (`query` when it cannot be told).
pub fn parse<T: DeserializeOwned>(qs: &str) -> Result<T, FieldError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(qs.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        if path != "." && !path.is_empty() {
            return FieldError::new(path, message);
        }
        if let Some(name) = missing_field(&message) {
            return FieldError::new(name, "is required");
        }
        FieldError::new(unknown_field(&message).unwrap_or("query".into()), message)
    })
}

/// Reads parameters given as `(name, value)` pairs, as [`parse`] reads a query string.
pub fn from_pairs<'a, T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (&'a str, String)>,
) -> Result<T, FieldError> {
    let mut qs = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        qs.append_pair(name, &value);
    }
    parse(&qs.finish())
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
