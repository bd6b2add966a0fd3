//! Validated values of the domain: parse, don't validate.

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

/// A new time-ordered id (UUID v7).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Text a person typed: trimmed, `min..=max` characters, and no NUL character (nothing
/// PostgreSQL cannot store). The OpenAPI schemas say the same (`openapi::TEXT_PATTERN`).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
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
/// Kept as given (case preserved); uniqueness is checked case-insensitively.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
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

/// An ISO 4217 currency code: three upper-case letters.
pub fn currency(field: &str, value: &str) -> Result<String, FieldError> {
    if value.len() == 3 && value.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "must be an ISO 4217 code such as EUR"))
    }
}

/// The 249 officially assigned ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper case.
pub fn country(field: &str, value: &str) -> Result<String, FieldError> {
    if value.len() == 2 && COUNTRIES.split(' ').any(|c| c == value) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 code in upper case, such as FR"))
    }
}

/// A phone number as people write it: 3 to 50 characters of digits, spaces and
/// `+ - ( ) . / x`, at least one digit.
pub fn phone(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = (3..=50).contains(&value.chars().count())
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_digit() || " +-().//xX".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "must be a phone number: digits, spaces and + - ( ) . /"))
    }
}

/// The IANA time zones a workspace may use (those of PostgreSQL's `pg_timezone_names` with an
/// Area/City name, and UTC).
pub const TIMEZONES: &str = include_str!("timezones.txt");

pub fn timezone(field: &str, value: &str) -> Result<String, FieldError> {
    if TIMEZONES.lines().any(|tz| tz == value) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "is not a known IANA time zone such as Europe/Paris"))
    }
}

/// The country codes, for the OpenAPI schema.
pub fn countries() -> impl Iterator<Item = &'static str> {
    COUNTRIES.split(' ')
}

/// A timestamp given by a client for something that already happened: not in the future
/// (a minute of clock skew allowed) and not before 1900.
pub fn past_time(field: &str, t: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, FieldError> {
    let now = chrono::Utc::now();
    if t > now + chrono::Duration::seconds(60) {
        return Err(FieldError::new(field, "must not be in the future"));
    }
    if t.timestamp() < -2_208_988_800 {
        return Err(FieldError::new(field, "must not be before 1900-01-01"));
    }
    Ok(t)
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

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(phone("phone", "+33 (0)1 23-45-67").is_ok());
        assert!(phone("phone", "call me").is_err());
        assert!(past_time("t", chrono::Utc::now() + chrono::Duration::days(1)).is_err());
        assert!(past_time("t", chrono::Utc::now()).is_ok());
    }

    #[test]
    fn currencies() {
        assert!(currency("currency", "EUR").is_ok());
        assert!(currency("currency", "eur").is_err());
        assert!(currency("currency", "EURO").is_err());
    }
}
