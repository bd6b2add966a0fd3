//! The body of `POST /customers` and what `PATCH` merges into, read into `CustomerFields`
//! (also for each row of an import).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::customers::{CustomerFields, NewCustomer};
use crate::db::customers::{Customer, CustomerKind};
use crate::domain::{past_time, Attributes, Country, Email, Name, Phone, Tags, Validator};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::patch;

/// Fields a merge patch cannot remove with `null`.
pub const NOT_NULL: &[&str] = &["kind", "name", "tags", "attributes"];

/// The writable fields of a customer, as sent on create and patched by PATCH.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default = "person")]
    pub kind: CustomerKind,
    /// 1 to 200 characters.
    #[schema(schema_with = Name::schema, example = "Ada Lovelace")]
    pub name: String,
    /// Unique in the workspace, case-insensitive.
    #[schema(schema_with = Email::optional_schema, example = "ada@example.com")]
    pub email: Option<String>,
    #[schema(schema_with = Phone::optional_schema)]
    pub phone: Option<String>,
    #[schema(schema_with = Name::optional_schema)]
    pub company_name: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(schema_with = Country::optional_schema, example = "GB")]
    pub country: Option<String>,
    #[schema(schema_with = Name::optional_schema)]
    pub city: Option<String>,
    /// At most 50 tags of 1 to 64 characters.
    #[serde(default)]
    #[schema(schema_with = Tags::schema)]
    pub tags: Vec<String>,
    /// Custom fields: a JSON object of at most 16 KiB.
    #[serde(default = "patch::empty_object")]
    #[schema(schema_with = crate::http::doc::schemas::json_object)]
    pub attributes: Value,
    pub owner_id: Option<Uuid>,
    /// Only on create, to bring history over from another system; never in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

crate::http::doc::derived_schema!(
    /// A JSON merge patch of a customer: any writable field but `created_at`; `null` clears.
    CustomerPatch,
    CustomerInput,
    crate::http::doc::schemas::merge_patch(
        <CustomerInput as utoipa::PartialSchema>::schema(),
        &["created_at"],
        NOT_NULL,
        "A JSON merge patch (RFC 7396) of the customer's writable fields."
    )
);

fn person() -> CustomerKind {
    CustomerKind::Person
}

impl CustomerInput {
    /// Every field read and checked; every bad one reported (named with `prefix`).
    pub fn read(&self, prefix: &str) -> Result<CustomerFields, Vec<FieldError>> {
        let f = |name: &str| format!("{prefix}{name}");
        let mut v = Validator::default();
        let name = v.check(Name::parse(&f("name"), &self.name));
        let email = v.optional(self.email.as_deref(), |e| Email::parse(&f("email"), e));
        let company_name = v.optional(self.company_name.as_deref(), |c| Name::parse(&f("company_name"), c));
        let country = v.optional(self.country.as_deref(), |c| Country::parse(&f("country"), c));
        let phone = v.optional(self.phone.as_deref(), |p| Phone::parse(&f("phone"), p, country.as_ref()));
        let city = v.optional(self.city.as_deref(), |c| Name::parse(&f("city"), c));
        let tags = Tags::parse(&f("tags"), &self.tags, v.errors());
        let attributes = v.check(Attributes::parse(&f("attributes"), &self.attributes));
        if let Some(t) = self.created_at {
            v.check(past_time(&f("created_at"), t));
        }
        match (name, tags, attributes) {
            (Some(name), Some(tags), Some(attributes)) if v.is_empty() => Ok(CustomerFields {
                kind: self.kind,
                name,
                email,
                phone,
                company_name,
                country,
                city,
                tags,
                attributes,
                owner_id: self.owner_id,
            }),
            _ => Err(v.into_errors()),
        }
    }

    /// The fields, valid (`422` naming every bad one).
    pub fn fields(&self) -> ApiResult<CustomerFields> {
        self.read("").map_err(ApiError::Validation)
    }

    /// A new customer, valid.
    pub fn parse(self) -> ApiResult<NewCustomer> {
        Ok(NewCustomer { fields: self.fields()?, created_at: self.created_at })
    }

    /// The customer's fields with a merge patch applied. A phone the patch leaves alone is kept
    /// as stored (not checked again).
    pub fn patched(current: &Customer, body: &Value) -> ApiResult<CustomerFields> {
        let phone_kept = body.get("phone").is_none();
        let writable = CustomerInput {
            kind: current.kind,
            name: current.name.clone(),
            email: current.email.clone(),
            phone: if phone_kept { None } else { current.phone.clone() },
            company_name: current.company_name.clone(),
            country: current.country.clone(),
            city: current.city.clone(),
            tags: current.tags.clone(),
            attributes: current.attributes.clone(),
            owner_id: current.owner_id,
            created_at: None,
        };
        let mut fields = patch::apply::<_, CustomerInput>(&writable, body, &["created_at"], NOT_NULL)?.fields()?;
        if phone_kept {
            fields.phone = current.phone.clone().map(Phone::stored);
        }
        Ok(fields)
    }
}
