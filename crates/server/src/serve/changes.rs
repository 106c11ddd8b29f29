//! What an operator changes, and whom a scope covers — one implementation for the API
//! ([`super::admin`]) and the web UI ([`crate::ui`]), so both do exactly the same thing:
//! uploads of rules and feeds (stored, then the judge rebuilt), API keys issued and revoked,
//! and the configured tenants a caller's scope covers.

use super::config::TenantConfig;
use super::State;
use stormwatch_store::{keys, ApiKey, CatalogItem, Role, Scope, StoreError};

/// A fresh key whose id is the name's slug and a random suffix (`soc-ingest-3f9a0c1e`).
fn new_key(name: &str) -> stormwatch_store::Result<String> {
    let slug: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(20)
        .collect();
    let slug = if slug.is_empty() {
        "key".to_string()
    } else {
        slug.trim_end_matches('-').to_string()
    };
    let random = keys::random_hex()?;
    keys::generate(&format!("{slug}-{}", &random[..8]))
}

impl State {
    /// The configured tenants a scope covers, in configuration order.
    pub fn tenants_in<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a TenantConfig> {
        self.config
            .tenants
            .iter()
            .filter(move |t| scope.tenant().is_none_or(|s| s == t.id))
    }

    /// The ids of the configured tenants a scope covers, sorted.
    pub fn tenant_ids_in(&self, scope: &Scope) -> Vec<String> {
        let mut ids: Vec<String> = self.tenants_in(scope).map(|t| t.id.clone()).collect();
        ids.sort();
        ids
    }

    /// Stores an upload (one that loaded) and rebuilds the judge; the load warnings.
    pub fn put_upload(&self, item: &CatalogItem) -> Result<Vec<String>, StoreError> {
        self.store.put_item(item)?;
        self.reload_engine()
    }

    /// Removes an upload and, when there was one, rebuilds the judge.
    pub fn remove_upload(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
        let gone = self.store.delete_item(kind, name)?;
        if gone {
            self.reload_engine()?;
        }
        Ok(gone)
    }

    /// Issues a key (only its argon2 hash is stored); the stored key and the whole key, which
    /// is shown once.
    pub fn issue_key(
        &self,
        name: &str,
        role: Role,
        tenant: Option<String>,
    ) -> Result<(ApiKey, String), StoreError> {
        let full = new_key(name)?;
        let (id, secret) = keys::parse(&full)
            .ok_or_else(|| StoreError::Hash("a generated key does not parse".into()))?;
        let key = ApiKey {
            id: id.to_string(),
            name: name.to_string(),
            role,
            tenant,
            hash: keys::hash_secret(secret)?,
            created_ms: super::now_ms(),
        };
        self.store.put_api_key(&key)?;
        Ok((key, full))
    }

    /// Revokes a key; it stops working at once in this process (the verified-key cache is
    /// emptied whether or not the key existed).
    pub fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let gone = self.store.delete_api_key(id);
        self.key_cache.clear();
        gone
    }
}
