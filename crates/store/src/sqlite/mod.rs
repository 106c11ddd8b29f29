//! The embedded backend: one SQLite file in the data directory (WAL journal), one connection
//! behind a mutex. Writes are short transactions; SQLite serialises them anyway, and one
//! connection keeps the backend free of pool tuning.

mod catalog_sql;
mod outbox_sql;
mod schema;

use schema::migrate;

use crate::outbox;
use crate::Change;
use crate::{
    ApiKey, AuditEntry, Batch, Comment, DedupPolicy, Detection, DetectionQuery, Incident,
    IncidentQuery, NewDetection, Recorded, Result, Role, Scope, Status, Store, StoreError,
    StoredEvent,
};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

const INCIDENT_COLS: &str = "id, tenant, rule_id, actor, title, level, status, assignee, \
     first_ms, last_ms, detections, created_ms, updated_ms";

fn incident_row(r: &Row<'_>) -> rusqlite::Result<Incident> {
    let status: String = r.get(6)?;
    Ok(Incident {
        id: r.get(0)?,
        tenant: r.get(1)?,
        rule_id: r.get(2)?,
        actor: r.get(3)?,
        title: r.get(4)?,
        level: r.get(5)?,
        status: Status::from_name(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                6,
                rusqlite::types::Type::Text,
                format!("unknown status {status:?}").into(),
            )
        })?,
        assignee: r.get(7)?,
        first_ms: r.get(8)?,
        last_ms: r.get(9)?,
        detections: r.get(10)?,
        created_ms: r.get(11)?,
        updated_ms: r.get(12)?,
    })
}

fn json_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Value> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

impl SqliteStore {
    /// Opens (creating if needed) `stormwatch.db` in `dir` and migrates it.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        Self::open(&dir.join("stormwatch.db"))
    }

    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        Self::setup(conn)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory().map_err(db)?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<usize> {
        let c = self.lock();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        Ok(usize::try_from(v).unwrap_or(0))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (rusqlite rolls
        // back on drop), so a poisoned lock is still a usable connection.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn scoped_incident(tx: &Connection, scope: &Scope, id: i64) -> Result<Option<Incident>> {
    tx.query_row(
        &format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
        ),
        params![id, scope.tenant()],
        incident_row,
    )
    .optional()
    .map_err(db)
}

fn audit(
    tx: &Transaction<'_>,
    inc: &Incident,
    actor: &str,
    action: &str,
    detail: &Value,
    now_ms: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit (incident_id, tenant, actor, action, detail, at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            inc.id,
            inc.tenant,
            actor,
            action,
            detail.to_string(),
            now_ms
        ],
    )
    .map_err(db)?;
    Ok(())
}

impl Store for SqliteStore {
    fn record_detection(
        &self,
        d: &NewDetection,
        policy: &DedupPolicy,
        now_ms: i64,
    ) -> Result<Recorded> {
        let mut c = self.lock();
        let tx = c.transaction().map_err(db)?;
        let record = d.record.to_string();
        let known: Option<(i64, Option<i64>)> = tx
            .query_row(
                "SELECT id, incident_id FROM detections WHERE fingerprint = ?1",
                params![d.fingerprint],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        if let Some((id, incident_id)) = known {
            tx.execute(
                "UPDATE detections SET record = ?2, level = ?3, updated_ms = ?4 WHERE id = ?1",
                params![id, record, d.level, now_ms],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            return Ok(Recorded {
                detection_id: id,
                inserted: false,
                incident_id,
                incident_created: false,
            });
        }
        let mut incident_id = None;
        let mut incident_created = false;
        if d.level >= policy.min_level {
            let open: Option<Incident> = tx
                .query_row(
                    &format!(
                        "SELECT {INCIDENT_COLS} FROM incidents WHERE tenant = ?1 AND rule_id = ?2 \
                         AND actor = ?3 AND status IN ('new', 'acknowledged') \
                         AND last_ms >= ?4 AND first_ms <= ?5 ORDER BY last_ms DESC LIMIT 1"
                    ),
                    params![
                        d.tenant,
                        d.rule_id,
                        d.actor,
                        d.time_ms.saturating_sub(policy.window_ms),
                        d.time_ms.saturating_add(policy.window_ms)
                    ],
                    incident_row,
                )
                .optional()
                .map_err(db)?;
            match open {
                Some(inc) => {
                    tx.execute(
                        "UPDATE incidents SET level = MAX(level, ?2), first_ms = MIN(first_ms, ?3), \
                         last_ms = MAX(last_ms, ?3), detections = detections + 1, updated_ms = ?4 \
                         WHERE id = ?1",
                        params![inc.id, d.level, d.time_ms, now_ms],
                    )
                    .map_err(db)?;
                    if d.level > inc.level {
                        if let Some(now) = scoped_incident(&tx, &Scope::All, inc.id)? {
                            let state = outbox::state_escalated(d.level);
                            outbox_sql::enqueue(&tx, &now, &state, &d.record, now_ms)?;
                        }
                    }
                    incident_id = Some(inc.id);
                }
                None => {
                    tx.execute(
                        "INSERT INTO incidents (tenant, rule_id, actor, title, level, status, \
                         first_ms, last_ms, detections, created_ms, updated_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5, 'new', ?6, ?6, 1, ?7, ?7)",
                        params![
                            d.tenant,
                            d.rule_id,
                            d.actor,
                            d.rule_title,
                            d.level,
                            d.time_ms,
                            now_ms
                        ],
                    )
                    .map_err(db)?;
                    let id = tx.last_insert_rowid();
                    if let Some(inc) = scoped_incident(&tx, &Scope::All, id)? {
                        audit(
                            &tx,
                            &inc,
                            "stormwatch",
                            "created",
                            &json!({"rule": d.rule_id, "actor": d.actor}),
                            now_ms,
                        )?;
                        let state = outbox::state_opened();
                        outbox_sql::enqueue(&tx, &inc, &state, &d.record, now_ms)?;
                    }
                    incident_id = Some(id);
                    incident_created = true;
                }
            }
        }
        tx.execute(
            "INSERT INTO detections (fingerprint, tenant, rule_id, level, time_ms, incident_id, \
             record, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                d.fingerprint,
                d.tenant,
                d.rule_id,
                d.level,
                d.time_ms,
                incident_id,
                record,
                now_ms
            ],
        )
        .map_err(db)?;
        let detection_id = tx.last_insert_rowid();
        tx.commit().map_err(db)?;
        Ok(Recorded {
            detection_id,
            inserted: true,
            incident_id,
            incident_created,
        })
    }

    fn detections(&self, q: &DetectionQuery) -> Result<Vec<Detection>> {
        let c = self.lock();
        let mut stmt = c
            .prepare_cached(
                "SELECT id, tenant, rule_id, level, time_ms, incident_id, record FROM detections \
                 WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR rule_id = ?2) \
                 AND (?3 IS NULL OR level >= ?3) AND (?4 IS NULL OR time_ms >= ?4) \
                 AND (?5 IS NULL OR time_ms < ?5) AND (?6 IS NULL OR incident_id = ?6) \
                 ORDER BY time_ms DESC, id DESC LIMIT ?7",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(
                params![
                    q.scope.tenant(),
                    q.rule_id,
                    q.min_level,
                    q.since_ms,
                    q.until_ms,
                    q.incident_id,
                    q.limit
                ],
                |r| {
                    Ok(Detection {
                        id: r.get(0)?,
                        tenant: r.get(1)?,
                        rule_id: r.get(2)?,
                        level: r.get(3)?,
                        time_ms: r.get(4)?,
                        incident_id: r.get(5)?,
                        record: json_col(r, 6)?,
                    })
                },
            )
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    fn incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>> {
        let c = self.lock();
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE (?1 IS NULL OR tenant = ?1) \
                 AND (?2 IS NULL OR status = ?2) ORDER BY last_ms DESC, id DESC LIMIT ?3"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(
                params![q.scope.tenant(), q.status.map(Status::name), q.limit],
                incident_row,
            )
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    fn incident(&self, scope: &Scope, id: i64) -> Result<Option<Incident>> {
        scoped_incident(&self.lock(), scope, id)
    }

    fn set_status(
        &self,
        scope: &Scope,
        id: i64,
        status: Status,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Incident>> {
        let change = Change {
            column: "status",
            value: Some(status.name()),
            action: "status",
            by,
            now_ms,
        };
        self.change_incident(
            scope,
            id,
            change,
            |before| json!({"from": before.status.name(), "to": status.name()}),
        )
    }

    fn assign(
        &self,
        scope: &Scope,
        id: i64,
        assignee: Option<&str>,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Incident>> {
        let change = Change {
            column: "assignee",
            value: assignee,
            action: "assign",
            by,
            now_ms,
        };
        self.change_incident(
            scope,
            id,
            change,
            |before| json!({"from": before.assignee, "to": assignee}),
        )
    }

    fn add_comment(
        &self,
        scope: &Scope,
        id: i64,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<Option<Comment>> {
        let mut c = self.lock();
        let tx = c.transaction().map_err(db)?;
        let Some(inc) = scoped_incident(&tx, scope, id)? else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO comments (incident_id, author, text, at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![id, author, text, now_ms],
        )
        .map_err(db)?;
        let comment = Comment {
            id: tx.last_insert_rowid(),
            incident_id: id,
            author: author.to_string(),
            text: text.to_string(),
            at_ms: now_ms,
        };
        audit(
            &tx,
            &inc,
            author,
            "comment",
            &json!({"comment": comment.id}),
            now_ms,
        )?;
        tx.commit().map_err(db)?;
        Ok(Some(comment))
    }

    fn comments(&self, scope: &Scope, id: i64) -> Result<Vec<Comment>> {
        let c = self.lock();
        let mut stmt = c
            .prepare_cached(
                "SELECT c.id, c.incident_id, c.author, c.text, c.at_ms FROM comments c \
                 JOIN incidents i ON i.id = c.incident_id \
                 WHERE c.incident_id = ?1 AND (?2 IS NULL OR i.tenant = ?2) ORDER BY c.id",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![id, scope.tenant()], |r| {
                Ok(Comment {
                    id: r.get(0)?,
                    incident_id: r.get(1)?,
                    author: r.get(2)?,
                    text: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    fn audit_trail(&self, scope: &Scope, id: i64) -> Result<Vec<AuditEntry>> {
        let c = self.lock();
        let mut stmt = c
            .prepare_cached(
                "SELECT id, incident_id, tenant, actor, action, detail, at_ms FROM audit \
                 WHERE incident_id = ?1 AND (?2 IS NULL OR tenant = ?2) ORDER BY id",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![id, scope.tenant()], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    incident_id: r.get(1)?,
                    tenant: r.get(2)?,
                    actor: r.get(3)?,
                    action: r.get(4)?,
                    detail: json_col(r, 5)?,
                    at_ms: r.get(6)?,
                })
            })
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        self.lock()
            .execute(
                "INSERT INTO api_keys (id, name, role, tenant, hash, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET \
                 name = excluded.name, role = excluded.role, tenant = excluded.tenant, \
                 hash = excluded.hash",
                params![
                    key.id,
                    key.name,
                    key.role.name(),
                    key.tenant,
                    key.hash,
                    key.created_ms
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let row: Option<(String, String, String, Option<String>, String, i64)> = self
            .lock()
            .query_row(
                "SELECT id, name, role, tenant, hash, created_ms FROM api_keys WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()
            .map_err(db)?;
        row.map(|(id, name, role, tenant, hash, created_ms)| {
            let role = Role::from_name(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("key {id}: role {role:?}")))?;
            Ok(ApiKey {
                id,
                name,
                role,
                tenant,
                hash,
                created_ms,
            })
        })
        .transpose()
    }

    fn put_batch(&self, batch: &Batch) -> Result<bool> {
        let n = self
            .lock()
            .execute(
                "INSERT INTO batches (tenant, key, received_ms, summary) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (tenant, key) DO NOTHING",
                params![
                    batch.tenant,
                    batch.key,
                    batch.received_ms,
                    batch.summary.to_string()
                ],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn batch(&self, tenant: &str, key: &str) -> Result<Option<Batch>> {
        self.lock()
            .query_row(
                "SELECT tenant, key, received_ms, summary FROM batches \
                 WHERE tenant = ?1 AND key = ?2",
                params![tenant, key],
                |r| {
                    Ok(Batch {
                        tenant: r.get(0)?,
                        key: r.get(1)?,
                        received_ms: r.get(2)?,
                        summary: json_col(r, 3)?,
                    })
                },
            )
            .optional()
            .map_err(db)
    }

    fn put_events(
        &self,
        events: &[(String, Vec<StoredEvent>)],
        batch: Option<&Batch>,
    ) -> Result<bool> {
        let mut c = self.lock();
        let tx = c.transaction().map_err(db)?;
        if let Some(b) = batch {
            let n = tx
                .execute(
                    "INSERT INTO batches (tenant, key, received_ms, summary) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, key) DO NOTHING",
                    params![b.tenant, b.key, b.received_ms, b.summary.to_string()],
                )
                .map_err(db)?;
            if n == 0 {
                return Ok(false);
            }
        }
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO events (tenant, time_ms, record) VALUES (?1, ?2, ?3)")
                .map_err(db)?;
            for (tenant, list) in events {
                for e in list {
                    stmt.execute(params![tenant, e.time_ms, e.record])
                        .map_err(db)?;
                }
            }
        }
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn events_in(
        &self,
        tenant: &str,
        since_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        let c = self.lock();
        let mut stmt = c
            .prepare_cached(
                "SELECT time_ms, record FROM events WHERE tenant = ?1 AND time_ms >= ?2 \
                 AND time_ms < ?4 ORDER BY time_ms DESC, id DESC LIMIT ?3",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![tenant, since_ms, limit, until_ms], |r| {
                Ok(StoredEvent {
                    time_ms: r.get(0)?,
                    record: r.get(1)?,
                })
            })
            .map_err(db)?;
        let mut v: Vec<StoredEvent> = rows.collect::<rusqlite::Result<_>>().map_err(db)?;
        v.reverse();
        Ok(v)
    }

    fn prune_events(&self, tenant: &str, before_ms: i64) -> Result<u64> {
        let n = self
            .lock()
            .execute(
                "DELETE FROM events WHERE tenant = ?1 AND time_ms < ?2",
                params![tenant, before_ms],
            )
            .map_err(db)?;
        Ok(n as u64)
    }
}

impl SqliteStore {
    /// Applies a [`Change`] to a scoped incident and audits it (detail from the incident as it
    /// was), in one transaction; `None` when the incident is not in scope.
    fn change_incident(
        &self,
        scope: &Scope,
        id: i64,
        change: Change<'_>,
        detail: impl FnOnce(&Incident) -> serde_json::Value,
    ) -> Result<Option<Incident>> {
        let mut c = self.lock();
        let tx = c.transaction().map_err(db)?;
        let Some(before) = scoped_incident(&tx, scope, id)? else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE incidents SET {} = ?2, updated_ms = ?3 WHERE id = ?1",
            change.column
        );
        tx.execute(&sql, params![id, change.value, change.now_ms])
            .map_err(db)?;
        let detail = detail(&before);
        audit(
            &tx,
            &before,
            change.by,
            change.action,
            &detail,
            change.now_ms,
        )?;
        let after = scoped_incident(&tx, scope, id)?;
        tx.commit().map_err(db)?;
        Ok(after)
    }
}
