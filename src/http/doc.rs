//! What the OpenAPI document says of requests and responses, declared next to the handlers
//! that use it: problem responses by status, schemas that state each validation rule, and
//! documentation-only schemas derived from others. `openapi` assembles the document.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

macro_rules! problem_responses {
    ($($name:ident => $status:literal, $description:literal;)*) => {$(
        #[doc = $description]
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([($status.to_string(), RefOr::T(problem($description)))])
            }
        }
    )*};
}

problem_responses! {
    E400 => "400", "Malformed request: not JSON, a bad parameter, cursor or header";
    E401 => "401", "Missing, invalid, expired or revoked token";
    E403 => "403", "The token's role does not allow this";
    E404 => "404", "No such resource in this workspace";
    E409 => "409", "Conflict with the current state (a duplicate, a rule, a reused Idempotency-Key)";
    E412 => "412", "If-Match does not match the current version";
    E413 => "413", "The body is too large";
    E415 => "415", "The body is not application/json";
    E422 => "422", "Validation failed; `errors` names each field";
    E429 => "429", "Too many attempts; see Retry-After";
    E503 => "503", "Not ready";
}

/// The example of a problem response of `status`: what the [`ApiError`](crate::error::ApiError)
/// that answers with it gives (`None` for a status no problem has).
pub fn problem_example(status: u16) -> Option<serde_json::Value> {
    use crate::error::{ApiError, FieldError};
    let error = match status {
        400 => ApiError::malformed_field("limit", "must be an integer from 1 to 200"),
        401 => ApiError::Unauthorized("the access token has expired".into()),
        403 => ApiError::Forbidden("this needs the admin role".into()),
        404 => ApiError::not_found("customer"),
        405 => ApiError::MethodNotAllowed { allow: ["GET", "HEAD", "PATCH", "DELETE"].map(String::from).to_vec() },
        406 => ApiError::NotAcceptable("this resource is available as application/json or text/csv".into()),
        409 => ApiError::Conflict("a customer with this email already exists".into()),
        412 => ApiError::PreconditionFailed { current: 4 },
        413 => ApiError::PayloadTooLarge { limit: 8_388_608 },
        415 => ApiError::UnsupportedMediaType("the body must be application/json".into()),
        422 => ApiError::Validation(vec![
            FieldError::new("email", "is not a valid email address"),
            FieldError::new("country", "must be an ISO 3166-1 alpha-2 code in upper case, such as FR"),
        ]),
        429 => ApiError::RateLimited { retry_after: 60 },
        500 => ApiError::internal("an example"),
        503 => ApiError::Unavailable("the database is not reachable; retry shortly".into()),
        _ => return None,
    };
    let mut problem = serde_json::to_value(error.problem()).ok()?;
    problem["request_id"] = serde_json::json!("0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11");
    Some(problem)
}

/// Schemas that say what validation checks, so a client (or a fuzzer) can tell a valid
/// request from the schema alone. Used with `#[schema(schema_with = ...)]`.
pub mod schemas {
    use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
    use utoipa::openapi::{RefOr, Schema};

    pub use crate::domain::text::{NO_NUL_PATTERN, TEXT_PATTERN};

    fn kind(nullable: bool) -> SchemaType {
        if nullable {
            SchemaType::from_iter([Type::String, Type::Null])
        } else {
            SchemaType::Type(Type::String)
        }
    }

    pub fn text(min: usize, max: usize, nullable: bool) -> Object {
        let pattern = if min > 0 { TEXT_PATTERN } else { NO_NUL_PATTERN };
        ObjectBuilder::new()
            .schema_type(kind(nullable))
            .min_length((min > 0).then_some(min))
            .max_length(Some(max))
            .pattern(Some(pattern))
            .build()
    }

    pub fn name() -> Object {
        text(1, 200, false)
    }
    pub fn body() -> Object {
        ObjectBuilder::new()
            .schema_type(kind(true))
            .max_length(Some(65536))
            .pattern(Some(NO_NUL_PATTERN))
            .description(Some("At most 64 KiB (UTF-8)."))
            .build()
    }
    pub fn password() -> Object {
        ObjectBuilder::new()
            .schema_type(kind(false))
            .min_length(Some(8))
            .max_length(Some(256))
            .pattern(Some(NO_NUL_PATTERN))
            .build()
    }
    pub fn optional_password() -> Object {
        ObjectBuilder::new()
            .schema_type(kind(true))
            .min_length(Some(8))
            .max_length(Some(256))
            .pattern(Some(NO_NUL_PATTERN))
            .build()
    }
    fn email_of(nullable: bool) -> Object {
        ObjectBuilder::new()
            .schema_type(kind(nullable))
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Email)))
            .max_length(Some(254))
            .build()
    }
    pub fn email() -> Object {
        email_of(false)
    }
    fn currency_of(nullable: bool) -> Object {
        let mut values: Vec<serde_json::Value> = crate::domain::currencies().map(serde_json::Value::from).collect();
        if nullable {
            values.push(serde_json::Value::Null);
        }
        ObjectBuilder::new()
            .schema_type(kind(nullable))
            .enum_values(Some(values))
            .description(Some("ISO 4217 currency code."))
            .examples(["EUR"])
            .build()
    }
    pub fn optional_currency() -> Object {
        currency_of(true)
    }
    /// An optional `domain::calendar_date`.
    pub fn calendar_date() -> Object {
        ObjectBuilder::new()
            .schema_type(kind(true))
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date)))
            .pattern(Some(crate::domain::CALENDAR_DATE_PATTERN))
            .description(Some("A date from 1900-01-01 to 9999-12-31."))
            .build()
    }

    pub use crate::domain::time::time_bound;

    pub fn search_text() -> Object {
        text(1, 200, false)
    }
    pub fn search_email() -> Object {
        text(1, 254, false)
    }
    /// The custom-field filter: an object of field → text (`attr[<key>]=<text>`, deepObject).
    pub fn attribute_filter() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(text(1, 200, false)))
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::RefOr(RefOr::T(
                Schema::Object(text(0, 1000, false)),
            ))))
            .build()
    }
    pub fn tag_filter() -> Schema {
        Schema::Array(ArrayBuilder::new().items(text(1, 64, false)).build())
    }

    /// A JSON object whose keys and strings hold no NUL character (PostgreSQL's jsonb cannot
    /// store one), at any depth: `JsonObject` and the recursive `JsonValue` components.
    pub fn json_object() -> RefOr<Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name("JsonObject"))
    }

    pub fn json_components() -> Vec<(String, RefOr<Schema>)> {
        use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder};
        let value = RefOr::<Schema>::Ref(utoipa::openapi::Ref::from_schema_name("JsonValue"));
        let key = ObjectBuilder::new().schema_type(Type::String).pattern(Some(NO_NUL_PATTERN)).build();
        let object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(key))
            .additional_properties(Some(AdditionalProperties::RefOr(value.clone())))
            .build();
        let with_scalars = |one_of: OneOfBuilder| {
            one_of
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .item(ObjectBuilder::new().schema_type(Type::Boolean))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Number)
                        .minimum(Some(-crate::domain::text::JSON_NUMBER_LIMIT))
                        .maximum(Some(crate::domain::text::JSON_NUMBER_LIMIT)),
                )
                .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(NO_NUL_PATTERN)))
        };
        let object_ref = || RefOr::Ref(utoipa::openapi::Ref::from_schema_name("JsonObject"));
        // Arrays in arrays, as deep as `JSON_ARRAY_NESTING` allows, each level its own schema:
        // a type that holds itself through an array is one TypeScript cannot name.
        let mut items: Option<RefOr<Schema>> = None;
        for _ in 0..crate::domain::text::JSON_ARRAY_NESTING {
            let mut one_of = with_scalars(OneOfBuilder::new()).item(object_ref());
            if let Some(inner) = items.take() {
                one_of = one_of.item(ArrayBuilder::new().items(inner));
            }
            items = Some(RefOr::T(Schema::OneOf(one_of.build())));
        }
        let mut json_value = with_scalars(OneOfBuilder::new()).item(object_ref());
        if let Some(items) = items {
            json_value = json_value.item(ArrayBuilder::new().items(items));
        }
        let json_value = json_value.build();
        vec![
            ("JsonObject".into(), RefOr::T(Schema::Object(object))),
            ("JsonValue".into(), RefOr::T(Schema::OneOf(json_value))),
        ]
    }

    /// A merge patch of `input`: no field required, unknown fields refused, `frozen` left out,
    /// and `null` (which removes) only for fields that may be empty.
    pub fn merge_patch(input: RefOr<Schema>, frozen: &[&str], not_null: &[&str], description: &str) -> RefOr<Schema> {
        let RefOr::T(Schema::Object(mut object)) = input else {
            return input;
        };
        for name in not_null {
            if let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(*name) {
                if let SchemaType::Array(types) = &field.schema_type {
                    let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                    field.schema_type = SchemaType::from_iter(kept);
                }
            }
        }
        object.required.clear();
        for field in frozen {
            object.properties.remove(*field);
        }
        object.additional_properties = Some(Box::new(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
        object.description = Some(description.to_owned());
        RefOr::T(Schema::Object(object))
    }
}

/// Declares a documentation-only schema computed from another (`schema`), with its name.
macro_rules! derived_schema {
    ($(#[$meta:meta])* $name:ident, schema $schema:expr) => {
        $(#[$meta])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema
            }
        }
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, $source:ty, $schema:expr) => {
        $(#[$meta])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema
            }
        }
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
            fn schemas(out: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
                out.push((
                    <$source as utoipa::ToSchema>::name().into_owned(),
                    <$source as utoipa::PartialSchema>::schema(),
                ));
                <$source as utoipa::ToSchema>::schemas(out);
            }
        }
    };
}
pub(crate) use derived_schema;
