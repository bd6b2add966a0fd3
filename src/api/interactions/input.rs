//! The body of `POST /interactions` (and of each batch item) and what `PATCH` merges into.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::interactions::{self, Direction, Interaction, InteractionKind};
use crate::domain::{self, AmountCents, DurationSeconds, ExternalId, Items, Metadata, Subject, Validator};
use crate::error::{ApiError, FieldError};
use crate::http::patch;

/// An interaction's `body`: at most this many bytes.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Fields a merge patch cannot remove with `null`.
const NOT_NULL: &[&str] = &["customer_id", "channel_id", "direction", "kind", "occurred_at", "items", "metadata"];

/// The writable fields of an interaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    pub customer_id: Uuid,
    pub channel_id: Uuid,
    pub direction: Direction,
    pub kind: InteractionKind,
    /// At most 500 characters.
    #[schema(schema_with = Subject::optional_schema)]
    pub subject: Option<String>,
    /// At most 64 KiB.
    #[schema(schema_with = crate::http::doc::schemas::body)]
    pub body: Option<String>,
    /// When it happened (default: now); not in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// 0 to 604,800 (a week).
    #[schema(schema_with = DurationSeconds::optional_schema)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub duration_seconds: Option<i32>,
    /// Purchases only: the amount in minor units, 0 or more.
    #[schema(schema_with = AmountCents::optional_schema)]
    #[serde(default, deserialize_with = "crate::http::patch::opt_integer")]
    pub value_cents: Option<i64>,
    /// Purchases only: the SKUs bought (1 to 64 characters each, at most 1,000).
    #[serde(default)]
    #[schema(schema_with = Items::schema)]
    pub items: Vec<String>,
    pub user_id: Option<Uuid>,
    /// The id in the source system; posting it again on the same channel returns the existing
    /// interaction (`200`). At most 255 characters.
    #[schema(schema_with = ExternalId::optional_schema)]
    pub external_id: Option<String>,
    /// A JSON object, at most 16 KiB.
    #[serde(default = "crate::http::patch::empty_object")]
    #[schema(schema_with = crate::http::doc::schemas::json_object)]
    pub metadata: Value,
    /// The support case it belongs to: a case of the same customer. The first outbound
    /// interaction by a user on a case is the case's first response.
    #[serde(default)]
    pub case_id: Option<Uuid>,
}

crate::http::doc::derived_schema!(
    /// A new interaction: a purchase (with `value_cents` and `items`) or any other kind
    /// (without them).
    NewInteraction,
    InteractionInput,
    new_interaction_schema()
);

crate::http::doc::derived_schema!(
    /// A JSON merge patch of an interaction: `value_cents` and `items` only together with
    /// `kind: "purchase"`; a patch to another kind drops them.
    InteractionPatch,
    InteractionInput,
    interaction_patch_schema()
);

fn interaction_patch_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{OneOfBuilder, Schema};
    use utoipa::openapi::RefOr;
    let RefOr::T(Schema::OneOf(new)) = new_interaction_schema() else {
        return new_interaction_schema();
    };
    let mut branches = new.items.into_iter().map(|branch| {
        crate::http::doc::schemas::merge_patch(
            branch,
            &["external_id"],
            NOT_NULL,
            "A JSON merge patch (RFC 7396) of the interaction's writable fields but external_id.",
        )
    });
    let (Some(RefOr::T(Schema::Object(mut purchase))), Some(other)) = (branches.next(), branches.next()) else {
        return new_interaction_schema();
    };
    purchase.required = vec!["kind".into()];
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(purchase).item(other).build()))
}

fn new_interaction_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::RefOr;
    let RefOr::T(Schema::Object(base)) = <InteractionInput as utoipa::PartialSchema>::schema() else {
        return <InteractionInput as utoipa::PartialSchema>::schema();
    };
    let kinds = |values: Vec<&str>| ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).build();
    let mut purchase = base.clone();
    purchase.properties.insert("kind".into(), kinds(vec!["purchase"]).into());
    purchase.title = Some("Purchase".into());
    let mut other = base;
    other.properties.remove("value_cents");
    other.properties.remove("items");
    other.properties.insert("kind".into(), kinds(vec!["message", "call", "meeting", "note", "support"]).into());
    other.title = Some("Other contact".into());
    for o in [&mut purchase, &mut other] {
        o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(purchase).item(other).build()))
}

impl InteractionInput {
    pub fn from_interaction(i: &Interaction) -> Self {
        InteractionInput {
            customer_id: i.customer_id,
            channel_id: i.channel_id,
            direction: i.direction,
            kind: i.kind,
            subject: i.subject.clone(),
            body: i.body.clone(),
            occurred_at: Some(i.occurred_at),
            duration_seconds: i.duration_seconds,
            value_cents: i.value_cents,
            items: i.items.clone(),
            user_id: i.user_id,
            external_id: i.external_id.clone(),
            metadata: i.metadata.clone(),
            case_id: i.case_id,
        }
    }

    /// Every field read and checked, every bad one reported (named with `prefix`); `now` is
    /// the default `occurred_at`.
    pub fn validate(&self, v: &mut Validator, prefix: &str, now: DateTime<Utc>) -> Option<interactions::Fields> {
        let f = |name: &str| format!("{prefix}{name}");
        let before = v.len();
        let subject = v.optional(self.subject.as_deref(), |s| Subject::parse(&f("subject"), s));
        if let Some(body) = &self.body {
            if body.len() > BODY_MAX_BYTES {
                v.push(FieldError::new(f("body"), format!("must be at most {BODY_MAX_BYTES} bytes")));
            } else if body.contains('\0') {
                v.push(FieldError::new(f("body"), "must not contain NUL characters"));
            }
        }
        let occurred_at = match self.occurred_at {
            Some(t) => v.check(domain::past_time(&f("occurred_at"), t)),
            None => Some(now),
        };
        if let Some(d) = self.duration_seconds {
            v.check(DurationSeconds::parse(&f("duration_seconds"), d));
        }
        // Only a purchase has a value and items.
        let purchase = self.kind == InteractionKind::Purchase;
        if let Some(value) = self.value_cents {
            if !purchase {
                v.push(FieldError::new(f("value_cents"), "only a purchase has a value"));
            } else {
                v.check(AmountCents::parse(&f("value_cents"), value));
            }
        }
        if !self.items.is_empty() && !purchase {
            v.push(FieldError::new(f("items"), "only a purchase has items"));
        }
        let items = Items::parse(&f("items"), &self.items, v.errors());
        let external_id = v.optional(self.external_id.as_deref(), |e| ExternalId::parse(&f("external_id"), e));
        let metadata = v.check(Metadata::parse(&f("metadata"), &self.metadata));
        if v.len() > before {
            return None;
        }
        Some(interactions::Fields {
            customer_id: self.customer_id,
            channel_id: self.channel_id,
            direction: self.direction,
            kind: self.kind,
            subject: subject.map(Subject::into_inner),
            body: self.body.clone(),
            occurred_at: occurred_at?,
            duration_seconds: self.duration_seconds,
            value_cents: self.value_cents,
            items: items?.into_inner(),
            user_id: self.user_id,
            external_id: external_id.map(ExternalId::into_inner),
            metadata: metadata?.into_inner(),
            case_id: self.case_id,
        })
    }

    pub fn fields(&self) -> Result<interactions::Fields, ApiError> {
        let mut v = Validator::default();
        let fields = self.validate(&mut v, "", Utc::now());
        v.finish()?;
        fields.ok_or_else(|| ApiError::internal("validated fields missing"))
    }

    /// The interaction's fields with a merge patch applied. `value_cents` and `items` come with
    /// `kind: "purchase"` in the same patch; a patch that makes it another kind drops them, so
    /// a patch is valid or not on its own, whatever the row.
    pub fn patched(current: &Interaction, body: &Value) -> Result<interactions::Fields, ApiError> {
        let kind = body.get("kind").and_then(Value::as_str);
        let sets_purchase_fields = ["value_cents", "items"]
            .iter()
            .any(|f| body.get(*f).is_some_and(|v| !v.is_null() && v != &Value::Array(Vec::new())));
        if sets_purchase_fields && kind != Some("purchase") {
            return Err(ApiError::validation(
                "kind",
                "value_cents and items are patched together with kind \"purchase\"",
            ));
        }
        let mut writable = InteractionInput::from_interaction(current);
        if kind.is_some_and(|k| k != "purchase") {
            writable.value_cents = None;
            writable.items.clear();
        }
        patch::apply::<_, InteractionInput>(&writable, body, &["external_id"], NOT_NULL)?.fields()
    }
}
