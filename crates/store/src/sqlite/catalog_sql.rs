//! The catalog on SQLite: the shared SQL of [`crate::catalog`].

use super::{db, SqliteStore};
use crate::catalog::{self, Catalog, CatalogItem};
use crate::{ApiKey, Result};
use rusqlite::params;

impl Catalog for SqliteStore {
    fn put_item(&self, i: &CatalogItem) -> Result<()> {
        self.lock()
            .execute(
                catalog::PUT,
                params![i.kind, i.name, i.text, i.author, i.created_ms],
            )
            .map_err(db)?;
        Ok(())
    }

    fn delete_item(&self, kind: &str, name: &str) -> Result<bool> {
        let n = self
            .lock()
            .execute(catalog::DELETE, params![kind, name])
            .map_err(db)?;
        Ok(n > 0)
    }

    fn items(&self, kind: &str) -> Result<Vec<CatalogItem>> {
        let c = self.lock();
        let mut stmt = c.prepare_cached(catalog::ITEMS).map_err(db)?;
        let rows = stmt
            .query_map(params![kind], |r| {
                Ok(CatalogItem {
                    kind: r.get(0)?,
                    name: r.get(1)?,
                    text: r.get(2)?,
                    author: r.get(3)?,
                    created_ms: r.get(4)?,
                })
            })
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let c = self.lock();
        let mut stmt = c.prepare_cached(catalog::KEYS).map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(id, name, role, tenant, hash, created_ms)| {
                Ok(ApiKey {
                    role: catalog::role(&id, &role)?,
                    id,
                    name,
                    tenant,
                    hash,
                    created_ms,
                })
            })
            .collect()
    }

    fn delete_api_key(&self, id: &str) -> Result<bool> {
        let n = self
            .lock()
            .execute(catalog::DELETE_KEY, params![id])
            .map_err(db)?;
        Ok(n > 0)
    }
}
