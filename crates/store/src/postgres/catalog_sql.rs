//! The catalog on PostgreSQL: the shared SQL of [`crate::catalog`] with `$N` placeholders.

use super::{db, PgStore};
use crate::catalog::{self, Catalog, CatalogItem};
use crate::outbox::pg_placeholders;
use crate::{ApiKey, Result};

impl Catalog for PgStore {
    fn put_item(&self, i: &CatalogItem) -> Result<()> {
        self.lock()
            .execute(
                &pg_placeholders(catalog::PUT),
                &[&i.kind, &i.name, &i.text, &i.author, &i.created_ms],
            )
            .map_err(db)?;
        Ok(())
    }

    fn delete_item(&self, kind: &str, name: &str) -> Result<bool> {
        let n = self
            .lock()
            .execute(&pg_placeholders(catalog::DELETE), &[&kind, &name])
            .map_err(db)?;
        Ok(n > 0)
    }

    fn items(&self, kind: &str) -> Result<Vec<CatalogItem>> {
        let rows = self
            .lock()
            .query(&pg_placeholders(catalog::ITEMS), &[&kind])
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| CatalogItem {
                kind: r.get(0),
                name: r.get(1),
                text: r.get(2),
                author: r.get(3),
                created_ms: r.get(4),
            })
            .collect())
    }

    fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = self.lock().query(catalog::KEYS, &[]).map_err(db)?;
        rows.iter()
            .map(|r| {
                let id: String = r.get(0);
                let role: String = r.get(2);
                Ok(ApiKey {
                    role: catalog::role(&id, &role)?,
                    id,
                    name: r.get(1),
                    tenant: r.get(3),
                    hash: r.get(4),
                    created_ms: r.get(5),
                })
            })
            .collect()
    }

    fn delete_api_key(&self, id: &str) -> Result<bool> {
        let n = self
            .lock()
            .execute(&pg_placeholders(catalog::DELETE_KEY), &[&id])
            .map_err(db)?;
        Ok(n > 0)
    }
}
