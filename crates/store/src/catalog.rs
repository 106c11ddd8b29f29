//! The service's catalog: Sigma rules and IOC feeds uploaded through the API (kept as their
//! text, compiled by the server), and the listing and removal of API keys.
//!
//! Why text: the store knows nothing of Sigma or STIX (see the crate note); the server parses
//! an upload before storing it, so a stored item is one that loaded, and it is compiled again at
//! each start with the engine of that day. The SQL is shared by both backends, like the outbox's.

use crate::{ApiKey, Result, Role, StoreError};
use serde::Serialize;

/// The kind of an uploaded Sigma rule file.
pub const RULE: &str = "rule";
/// The kind of an uploaded IOC feed.
pub const FEED: &str = "feed";

/// A stored rule file or feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogItem {
    /// `rule` or `feed`.
    pub kind: String,
    /// Unique within its kind; chosen by the uploader.
    pub name: String,
    pub text: String,
    /// Who uploaded it (the API key).
    pub author: String,
    pub created_ms: i64,
}

/// Rules, feeds and keys as configuration objects.
pub trait Catalog {
    /// Stores an item, replacing the one of the same kind and name.
    fn put_item(&self, item: &CatalogItem) -> Result<()>;
    /// Removes an item; false when there was none.
    fn delete_item(&self, kind: &str, name: &str) -> Result<bool>;
    /// The items of a kind, by name.
    fn items(&self, kind: &str) -> Result<Vec<CatalogItem>>;
    /// Every API key (hashes included: callers must not show them).
    fn api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Removes a key; false when there was none.
    fn delete_api_key(&self, id: &str) -> Result<bool>;
}

pub(crate) const PUT: &str = "INSERT INTO catalog (kind, name, text, author, created_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, name) DO UPDATE SET text = excluded.text, \
     author = excluded.author, created_ms = excluded.created_ms";
pub(crate) const DELETE: &str = "DELETE FROM catalog WHERE kind = ?1 AND name = ?2";
pub(crate) const ITEMS: &str =
    "SELECT kind, name, text, author, created_ms FROM catalog WHERE kind = ?1 ORDER BY name";
pub(crate) const KEYS: &str =
    "SELECT id, name, role, tenant, hash, created_ms FROM api_keys ORDER BY id";
pub(crate) const DELETE_KEY: &str = "DELETE FROM api_keys WHERE id = ?1";

/// A key row's role, checked.
pub(crate) fn role(id: &str, name: &str) -> Result<Role> {
    Role::from_name(name).ok_or_else(|| StoreError::Corrupt(format!("key {id}: role {name:?}")))
}
