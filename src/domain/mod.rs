//! The domain: validated values (parse, don't validate) and the rules of the business, with
//! no HTTP and no SQL in them.
//!
//! - [`text`]: text people type (NFC, bounds), emails, phones, countries, currencies, time zones;
//! - [`time`]: instants in queries, times of past events, calendar dates;
//! - [`numbers`]: exact sums of money, exact proportions;
//! - [`events`]: the types of the event log.

pub mod business_hours;
pub mod events;
pub mod numbers;
pub mod query;
pub mod rules;
pub mod schedule;
pub mod strict;
pub mod support;
pub mod text;
pub mod time;
pub mod values;

pub use numbers::{Proportion, SumCents};
pub use rules::{DealStatus, StageKind};
pub use text::*;
pub use time::{calendar_date, past_time, Bound, CALENDAR_DATE_PATTERN};
pub use values::*;

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

crate::text_enum! {
    /// A user's or a token's role, ordered `viewer < member < admin < owner`: declared from
    /// least to most powerful, so the derived order is the role order.
    #[derive(PartialOrd, Ord)]
    pub enum Role {
        Viewer => "viewer",
        Member => "member",
        Admin => "admin",
        Owner => "owner",
    }
}

tokio::task_local! {
    static PRESET_IDS: std::cell::RefCell<std::collections::VecDeque<Uuid>>;
}

/// A new time-ordered id (UUID v7); inside [`with_ids`], the next of its ids first.
pub fn new_id() -> Uuid {
    PRESET_IDS.try_with(|ids| ids.borrow_mut().pop_front()).ok().flatten().unwrap_or_else(Uuid::now_v7)
}

/// Runs `work` with `ids` handed out, in order, by its first calls of [`new_id`] (the rest are
/// new as usual). The demo workspace gives its showcase rows the ids the OpenAPI examples name
/// this way; nothing else uses it.
pub async fn with_ids<F: std::future::Future>(ids: impl IntoIterator<Item = Uuid>, work: F) -> F::Output {
    PRESET_IDS.scope(std::cell::RefCell::new(ids.into_iter().collect()), work).await
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

    /// As [`Validator::check`], for a value that reports every error it has at once.
    pub fn check_all<T>(&mut self, result: Result<T, Vec<FieldError>>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.extend(e);
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

    /// `Some(value)` when `raw` is given and valid; `None` when absent (or invalid: then its
    /// error is recorded).
    pub fn optional<T>(&mut self, raw: Option<&str>, parse: impl FnOnce(&str) -> Result<T, FieldError>) -> Option<T> {
        raw.and_then(|r| self.check(parse(r)))
    }

    /// Where a value that reports several errors at once (`Tags::parse`) adds them.
    pub fn errors(&mut self) -> &mut Vec<FieldError> {
        &mut self.errors
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
