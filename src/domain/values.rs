//! Typed values: each is a newtype with a private field, made only by `parse(field, raw)`,
//! which states its bounds once, and which gives the OpenAPI schema from the same declaration
//! (so the document says exactly what is checked). A command holding these values is valid by
//! construction.

use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type};

use super::text::{self, NO_NUL_PATTERN, TEXT_PATTERN};
use crate::error::FieldError;

fn string_type(nullable: bool) -> SchemaType {
    if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    }
}

/// The schema of text of `min..=max` characters (see [`text::text`]).
pub fn text_schema(min: usize, max: usize, nullable: bool) -> Object {
    let pattern = if min > 0 { TEXT_PATTERN } else { NO_NUL_PATTERN };
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .build()
}

/// Declares a text value of `MIN..=MAX` characters, trimmed and in NFC.
macro_rules! text_value {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MIN: usize = $min;
            pub const MAX: usize = $max;

            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                text::text(field, raw, $min, $max).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }

            pub fn schema() -> Object {
                text_schema($min, $max, false)
            }

            pub fn optional_schema() -> Object {
                text_schema($min, $max, true)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_value!(
    /// A name: of a customer, a company, a city, a user, a channel, a pipeline, a stage, a
    /// workspace, an API token; a deal's title.
    Name,
    1,
    200
);
text_value!(
    /// An interaction's subject.
    Subject,
    0,
    500
);
text_value!(
    /// A customer's tag.
    Tag,
    1,
    64
);
text_value!(
    /// An item bought (SKU).
    Sku,
    1,
    64
);
text_value!(
    /// The id of an interaction in the system it came from.
    ExternalId,
    1,
    255
);

/// An email address (see [`text::email`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        text::email(field, raw).map(Email)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
    fn schema_of(nullable: bool) -> Object {
        ObjectBuilder::new()
            .schema_type(string_type(nullable))
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Email)))
            .max_length(Some(Self::MAX))
            .build()
    }
    pub fn schema() -> Object {
        Self::schema_of(false)
    }
    pub fn optional_schema() -> Object {
        Self::schema_of(true)
    }
}

/// Declares a code of a standard list, checked by `check` (see [`text`]), with its schema.
macro_rules! code_value {
    ($(#[$meta:meta])* $name:ident, $check:path, $schema:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                $check(field, raw).map($name)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
            pub fn schema() -> Object {
                $schema(false)
            }
            pub fn optional_schema() -> Object {
                $schema(true)
            }
        }
    };
}

fn enum_schema(values: Vec<&'static str>, description: &str, nullable: bool) -> Object {
    let mut values: Vec<serde_json::Value> = values.into_iter().map(serde_json::Value::from).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

code_value!(
    /// An ISO 4217 currency code, such as EUR.
    Currency,
    text::currency,
    |nullable| enum_schema(text::currencies().collect(), "ISO 4217 currency code.", nullable)
);
code_value!(
    /// An ISO 3166-1 alpha-2 country code, upper case, such as FR.
    Country,
    text::country,
    |nullable| enum_schema(text::countries().collect(), "ISO 3166-1 alpha-2, upper case.", nullable)
);
code_value!(
    /// An IANA time zone, such as Europe/Paris.
    Timezone,
    text::timezone,
    |nullable| enum_schema(text::timezones().collect(), "IANA time zone.", nullable)
);
/// A phone number, in E.164 (see [`text::phone`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// `raw` as people write it, international or national to `country` (the customer's).
    pub fn parse(field: &str, raw: &str, country: Option<&Country>) -> Result<Self, FieldError> {
        text::phone(field, raw, country.map(Country::as_str)).map(Phone)
    }
    /// A phone as stored, kept as it is: one written before phones were checked against
    /// numbering plans stays (unchecked) until it is written again.
    pub fn stored(phone: String) -> Self {
        Phone(phone)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
    fn schema_of(nullable: bool) -> Object {
        ObjectBuilder::new()
            .schema_type(string_type(nullable))
            .min_length(Some(3))
            .max_length(Some(50))
            .pattern(Some(text::PHONE_PATTERN))
            .description(Some(
                "Written as people write it: international (`+49 30 901820`) or national to the customer's `country` \
                 (`030 901820`), `x` before an extension; checked against the country's numbering plan and stored \
                 in E.164 (`+4930901820`, `;ext=12` after it for an extension).",
            ))
            .examples(["+49 30 901820"])
            .build()
    }
    pub fn schema() -> Object {
        Self::schema_of(false)
    }
    pub fn optional_schema() -> Object {
        Self::schema_of(true)
    }
}

/// A set of tags: at most [`Tags::MAX`] distinct [`Tag`]s, in the order first given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    pub const MAX: usize = 50;

    /// Every bad tag is reported (`tags[3]`), each on its own.
    pub fn parse(field: &str, raw: &[String], errors: &mut Vec<FieldError>) -> Option<Self> {
        let before = errors.len();
        if raw.len() > Self::MAX {
            errors.push(FieldError::new(field, format!("at most {} tags", Self::MAX)));
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for (i, t) in raw.iter().enumerate() {
            match Tag::parse(&format!("{field}[{i}]"), t) {
                Ok(t) if !tags.contains(&t.0) => tags.push(t.0),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        (errors.len() == before).then_some(Tags(tags))
    }
    /// Tags as stored: they were parsed when they were written.
    pub fn stored(tags: Vec<String>) -> Self {
        Tags(tags)
    }
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
    pub fn schema() -> Schema {
        Schema::Array(ArrayBuilder::new().items(Tag::schema()).max_items(Some(Self::MAX)).build())
    }
}

/// The items of a purchase: at most [`Items::MAX`] [`Sku`]s (repeats kept: a basket counts an
/// item once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Items(Vec<String>);

impl Items {
    pub const MAX: usize = 1000;

    pub fn parse(field: &str, raw: &[String], errors: &mut Vec<FieldError>) -> Option<Self> {
        let before = errors.len();
        if raw.len() > Self::MAX {
            errors.push(FieldError::new(field, format!("at most {} items", Self::MAX)));
        }
        let mut items = Vec::with_capacity(raw.len());
        for (i, sku) in raw.iter().enumerate() {
            match Sku::parse(&format!("{field}[{i}]"), sku) {
                Ok(s) => items.push(s.0),
                Err(e) => errors.push(e),
            }
        }
        (errors.len() == before).then_some(Items(items))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
    pub fn schema() -> Schema {
        Schema::Array(ArrayBuilder::new().items(Sku::schema()).max_items(Some(Self::MAX)).build())
    }
}

/// A JSON object of at most `MAX` bytes serialised, no NUL anywhere, numbers within ±1e300,
/// keys and strings in NFC: custom fields (`attributes`), an interaction's `metadata`, a
/// channel's `config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct JsonObject<const MAX: usize>(serde_json::Value);

/// A customer's custom fields.
pub type Attributes = JsonObject<{ 16 * 1024 }>;
/// An interaction's metadata.
pub type Metadata = JsonObject<{ 16 * 1024 }>;
/// A channel's configuration.
pub type ChannelConfig = JsonObject<{ 16 * 1024 }>;

impl<const MAX: usize> JsonObject<MAX> {
    pub const MAX_BYTES: usize = MAX;

    pub fn parse(field: &str, raw: &serde_json::Value) -> Result<Self, FieldError> {
        text::json_object(field, raw, MAX)?;
        let mut value = raw.clone();
        text::nfc_json(&mut value);
        Ok(JsonObject(value))
    }
    pub fn empty() -> Self {
        JsonObject(serde_json::Value::Object(Default::default()))
    }
    pub fn as_value(&self) -> &serde_json::Value {
        &self.0
    }
    pub fn into_inner(self) -> serde_json::Value {
        self.0
    }
}

/// Declares an integer value of `MIN..=MAX`.
macro_rules! int_value {
    ($(#[$meta:meta])* $name:ident($int:ty), $min:expr, $max:expr, $message:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name($int);

        impl $name {
            pub const MIN: $int = $min;
            pub const MAX: $int = $max;

            pub fn parse(field: &str, raw: $int) -> Result<Self, FieldError> {
                if (Self::MIN..=Self::MAX).contains(&raw) {
                    Ok($name(raw))
                } else {
                    Err(FieldError::new(field, $message))
                }
            }
            pub fn get(self) -> $int {
                self.0
            }
            pub fn schema() -> Object {
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(Self::MIN as i64))
                    .maximum(Some(Self::MAX as i64))
                    .build()
            }
            pub fn optional_schema() -> Object {
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                    .minimum(Some(Self::MIN as i64))
                    .maximum(Some(Self::MAX as i64))
                    .build()
            }
        }
    };
}

int_value!(
    /// An amount in minor units of the workspace's currency: a deal's amount, a purchase's
    /// value.
    AmountCents(i64),
    0,
    1_000_000_000_000_000,
    "must be 0 to 10^15"
);
int_value!(
    /// A stage's probability of winning, in percent.
    Probability(i32),
    0,
    100,
    "must be 0 to 100"
);
int_value!(
    /// How long a contact lasted, in seconds (at most a week).
    DurationSeconds(i32),
    0,
    604_800,
    "must be 0 to 604800"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_state_their_bounds_once() {
        assert_eq!(Name::parse("name", "  Ada ").unwrap().as_str(), "Ada");
        assert!(Name::parse("name", &"x".repeat(Name::MAX + 1)).is_err());
        assert_eq!(Name::schema().max_length, Some(Name::MAX));
        assert!(Subject::parse("subject", "").is_ok());
        let mut errors = Vec::new();
        let tags = Tags::parse("tags", &["a".into(), "a".into(), "b".into()], &mut errors).unwrap();
        assert_eq!(tags.as_slice(), ["a", "b"]);
        assert!(Tags::parse("tags", &["".into(), "x".repeat(65)], &mut errors).is_none());
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["tags[0]", "tags[1]"]);
        assert!(AmountCents::parse("amount_cents", -1).is_err());
        assert!(AmountCents::parse("amount_cents", AmountCents::MAX).is_ok());
        assert_eq!(serde_json::to_value(AmountCents::schema()).unwrap()["maximum"], 1_000_000_000_000_000_i64);
        assert!(Probability::parse("probability", 101).is_err());
        assert!(Attributes::parse("attributes", &serde_json::json!([1])).is_err());
        assert!(Attributes::parse("attributes", &serde_json::json!({"k": "x".repeat(Attributes::MAX_BYTES)})).is_err());
    }
}
