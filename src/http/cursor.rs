//! Opaque keyset cursors. A cursor carries the sort key of the last row seen, bound by an HMAC
//! to the workspace and the sort it was made for: it cannot be forged, edited, or replayed in
//! another workspace or under another sort (`400`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;

use crate::domain::WorkspaceId;
use crate::error::ApiError;

pub struct CursorKey(Vec<u8>);

impl CursorKey {
    /// Derived from the JWT secret, so every instance agrees without another setting.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        mac.update(b"rapport cursor key v1");
        CursorKey(mac.finalize().into_bytes().to_vec())
    }

    fn tag(&self, ws: WorkspaceId, sort: &str, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(ws.0.as_bytes());
        mac.update(sort.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    pub fn encode<T: Serialize>(&self, ws: WorkspaceId, sort: &str, position: &T) -> String {
        let payload = serde_json::to_vec(position).unwrap_or_default();
        let tag = self.tag(ws, sort, &payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
    }

    pub fn decode<T: DeserializeOwned>(&self, ws: WorkspaceId, sort: &str, cursor: &str) -> Result<T, ApiError> {
        let bad =
            || ApiError::malformed_field("cursor", "is not a cursor this list gave out (for this sort and filter)");
        let (payload, tag) = cursor.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let expected = self.tag(ws, sort, &payload);
        if !constant_time_eq(&tag, &expected) {
            return Err(bad());
        }
        serde_json::from_slice(&payload).map_err(|_| bad())
    }
}

impl CursorKey {
    /// The position a `?cursor=` names, if one was given.
    pub fn position<K: DeserializeOwned>(
        &self,
        ws: WorkspaceId,
        sort: &str,
        cursor: Option<&str>,
    ) -> Result<Option<K>, ApiError> {
        // An empty cursor is no cursor: the first page.
        cursor.filter(|c| !c.is_empty()).map(|c| self.decode(ws, sort, c)).transpose()
    }

    /// A page from `limit + 1` fetched rows: the extra row only tells that there is more.
    pub fn page<T, K: Serialize>(
        &self,
        ws: WorkspaceId,
        sort: &str,
        mut rows: Vec<T>,
        limit: i64,
        key: impl Fn(&T) -> K,
    ) -> crate::http::Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| self.encode(ws, sort, &key(last)))
        } else {
            None
        };
        crate::http::Page { data: rows, next_cursor }
    }
}

/// A keyset page request of one list: where it starts (`after`) and its size, with what it
/// takes to make the next cursor.
pub struct Keyset<'k, K> {
    key: &'k CursorKey,
    ws: WorkspaceId,
    sort: String,
    pub after: Option<K>,
    pub limit: i64,
}

impl CursorKey {
    /// The page a list request asks for: `cursor` decoded for this workspace and `sort`,
    /// `limit` 1..200 (default 50).
    pub fn keyset<K: DeserializeOwned>(
        &self,
        ws: WorkspaceId,
        sort: impl Into<String>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Keyset<'_, K>, ApiError> {
        let sort = sort.into();
        let limit = crate::http::PageParams { limit, cursor: None }.limit()?;
        let after = self.position(ws, &sort, cursor)?;
        Ok(Keyset { key: self, ws, sort, after, limit })
    }
}

impl<K: Serialize> Keyset<'_, K> {
    /// How many rows to fetch: one more than the page, to tell whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The page, and the cursor of the next one from the last row's position.
    pub fn page<T>(&self, rows: Vec<T>, position: impl Fn(&T) -> K) -> crate::http::Page<T> {
        self.key.page(self.ws, &self.sort, rows, self.limit, position)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn round_trip_and_tamper() {
        let k = CursorKey::derive(b"0123456789abcdef0123456789abcdef");
        let ws = WorkspaceId(Uuid::now_v7());
        let c = k.encode(ws, "created_at", &("2026-01-01T00:00:00Z", 7));
        let back: (String, i32) = k.decode(ws, "created_at", &c).unwrap();
        assert_eq!(back.1, 7);
        assert!(k.decode::<(String, i32)>(ws, "-created_at", &c).is_err(), "other sort");
        assert!(k.decode::<(String, i32)>(WorkspaceId(Uuid::now_v7()), "created_at", &c).is_err(), "other workspace");
        let mut forged = c.clone();
        forged.replace_range(0..1, if c.starts_with('W') { "X" } else { "W" });
        assert!(k.decode::<(String, i32)>(ws, "created_at", &forged).is_err());
        assert!(k.decode::<(String, i32)>(ws, "created_at", "garbage").is_err());
    }
}
