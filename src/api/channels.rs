//! `/channels`: where contact happens.

use actix_web::{delete, get, patch, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::channels::ChannelFields;
use crate::app::{self};
use crate::auth::roles::Admin;
use crate::db::channels::{Channel, ChannelKind};
use crate::domain::{ChannelConfig, Name, Validator};
use crate::error::ApiResult;
use crate::http::doc::*;
use crate::http::{patch, Resource};

/// Fields a merge patch cannot remove with `null`.
const NOT_NULL: &[&str] = &["kind", "name", "active", "config"];

impl Resource for Channel {
    fn location(&self) -> String {
        format!("/api/v1/channels/{}", self.id)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

/// The writable fields of a channel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub kind: ChannelKind,
    #[schema(schema_with = Name::schema, example = "Support inbox")]
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// A JSON object, at most 16 KiB.
    #[serde(default = "patch::empty_object")]
    #[schema(schema_with = crate::http::doc::schemas::json_object)]
    pub config: Value,
}

derived_schema!(
    /// A JSON merge patch of a channel.
    ChannelPatch,
    ChannelInput,
    crate::http::doc::schemas::merge_patch(
        <ChannelInput as utoipa::PartialSchema>::schema(),
        &[],
        NOT_NULL,
        "A JSON merge patch (RFC 7396) of the channel's writable fields."
    )
);

fn yes() -> bool {
    true
}

impl ChannelInput {
    /// The fields, valid (`422` naming every bad one).
    fn parse(self) -> ApiResult<ChannelFields> {
        let mut v = Validator::default();
        let name = v.check(Name::parse("name", &self.name));
        let config = v.check(ChannelConfig::parse("config", &self.config));
        v.finish()?;
        match (name, config) {
            (Some(name), Some(config)) => Ok(ChannelFields { kind: self.kind, name, active: self.active, config }),
            _ => Err(crate::error::ApiError::internal("validated channel fields missing")),
        }
    }

    /// The channel's fields with a merge patch applied.
    fn patched(current: &Channel, body: &Value) -> ApiResult<ChannelFields> {
        let writable = ChannelInput {
            kind: current.kind,
            name: current.name.clone(),
            active: current.active,
            config: current.config.clone(),
        };
        patch::apply::<_, ChannelInput>(&writable, body, &[], NOT_NULL)?.parse()
    }
}

crate::list_handler! {
    /// List channels
    ///
    /// The workspace's channels, oldest first. Any role (viewer).
    ///
    /// Paginated: `limit` 1..200 (default 50); pass the page's `next_cursor` as `cursor` for the
    /// next page, until `next_cursor` is `null`.
    list_channels, role = crate::auth::roles::Viewer, tag = "channels", path = "/channels",
    sort = "channels:created_at", body = Channel, described = "A page of channels", list = app::channels::list,
    errors = [E400, E401]
}

crate::create_handler! {
    /// Create a channel
    ///
    /// Admin. `201` with the channel, its `Location` and `ETag`. `active` defaults to `true`,
    /// `config` to `{}` (a JSON object of at most 16 KiB).
    ///
    /// Honours `Idempotency-Key`: a retry with the same key and body within 24 h returns the stored
    /// response (the same key with another body is `409`).
    create_channel, role = Admin, tag = "channels", path = "/channels", request = ChannelInput, body = Channel,
    events = ["channel.created"], create = app::channels::create, errors = [E400, E401, E403, E409, E413, E415, E422]
}

crate::get_handler! {
    /// Get a channel
    ///
    /// The channel, with its `ETag`. Any role (viewer).
    get_channel, tag = "channels", path = "/channels/{id}", id = "Channel id", body = Channel,
    described = "The channel", get = app::channels::get
}

crate::patch_handler! {
    /// Update a channel
    ///
    /// Admin. A JSON merge patch (RFC 7396) of `kind`, `name`, `active`, `config`: absent fields
    /// are unchanged; none of them can be `null` (`422`). An inactive channel takes no new
    /// interactions. Send `If-Match` with the `ETag` to apply the change only to that version
    /// (`412` otherwise).
    patch_channel, role = Admin, tag = "channels", path = "/channels/{id}", id = "Channel id", patch = ChannelPatch, body = Channel,
    events = ["channel.updated"], update = app::channels::update, patched = ChannelInput::patched, errors = [E400, E401, E403, E404, E412, E413, E415, E422]
}

crate::delete_handler! {
    /// Delete a channel
    ///
    /// Admin. `204`. A channel with interactions cannot be removed (`409`): deactivate it instead
    /// (`active: false`). Send `If-Match` with the `ETag` to remove only that version (`412`
    /// otherwise).
    delete_channel, role = Admin, tag = "channels", path = "/channels/{id}", id = "Channel id",
    events = ["channel.deleted"], delete = app::channels::delete, errors = [E400, E401, E403, E404, E409, E412]
}
