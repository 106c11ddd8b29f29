//! The PostgreSQL backend: the same schema and semantics as [`crate::sqlite`], for deployments
//! that already run PostgreSQL or need the store outside the process. One blocking connection
//! (the `postgres` crate) behind a mutex; every business step is one transaction; migrations
//! run at connect under an advisory lock, so several processes may start at once.
//!
//! The blocking client runs a small runtime of its own: call the store from plain threads or
//! tokio's `spawn_blocking`, never from async code directly. A lost connection (a restarted
//! server, a failover) fails the call that meets it with [`StoreError::Database`]; the next call
//! connects again (with the same schema).

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
use postgres::{Client, GenericClient, NoTls, Row, Transaction};
use serde_json::{json, Value};
use std::sync::{Mutex, MutexGuard};

/// The PostgreSQL store.
pub struct PgStore {
    client: Mutex<Conn>,
    /// Kept to re-connect after the connection was lost.
    url: String,
    schema: Option<String>,
}

/// The connection; `None` only while [`PgStore`] is being dropped.
struct Conn(Option<Client>);

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("connection present until drop")
    }
}

/// The blocking client closes its connection by blocking on its own runtime, which panics on a
/// thread that drives a tokio runtime; so the close happens on a thread of its own.
impl Drop for PgStore {
    fn drop(&mut self) {
        let conn = self.client.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = conn.0.take() {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

fn db(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError::Database(format!("{}: {}", d.code().code(), d.message())),
        None => StoreError::Database(e.to_string()),
    }
}

fn level_of(v: i32) -> Result<u8> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt(format!("level {v}")))
}

fn json_of(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const INCIDENT_COLS: &str = "id, tenant, rule_id, actor, title, level, status, assignee, \
     first_ms, last_ms, detections, created_ms, updated_ms";

fn incident_row(r: &Row) -> Result<Incident> {
    let status: String = r.get(6);
    Ok(Incident {
        id: r.get(0),
        tenant: r.get(1),
        rule_id: r.get(2),
        actor: r.get(3),
        title: r.get(4),
        level: level_of(r.get(5))?,
        status: Status::from_name(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        assignee: r.get(7),
        first_ms: r.get(8),
        last_ms: r.get(9),
        detections: r.get(10),
        created_ms: r.get(11),
        updated_ms: r.get(12),
    })
}

/// Whether `s` may be used as a schema name (it is spliced into `SET search_path`).
fn plain_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

impl PgStore {
    /// Connects (`postgres://…` or `host=… user=… dbname=…`) and migrates the default schema.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_in_schema(url, None)
    }

    /// Connects and works inside `schema` (created if missing; `[a-z_][a-z0-9_]*`), so several
    /// stores — test runs — can share one database.
    pub fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut client = open_client(url, schema)?;
        migrate(&mut client)?;
        Ok(PgStore {
            client: Mutex::new(Conn(Some(client))),
            url: url.to_string(),
            schema: schema.map(str::to_string),
        })
    }

    /// The server process serving this store's connection (diagnostics, tests).
    pub fn backend_pid(&self) -> Result<i32> {
        Ok(self
            .lock()
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(db)?
            .get(0))
    }

    /// Drops a schema made by [`PgStore::connect_in_schema`] (test clean-up).
    pub fn drop_schema(self, schema: &str) -> Result<()> {
        if !plain_identifier(schema) {
            return Ok(());
        }
        self.lock()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .map_err(db)
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<usize> {
        let v: Option<i32> = self
            .lock()
            .query_one("SELECT MAX(version) FROM schema_migrations", &[])
            .map_err(db)?
            .get(0);
        Ok(v.map_or(0, |v| usize::try_from(v).unwrap_or(0)))
    }

    /// The connection, re-established first when the last call found it closed (a restarted
    /// or failed-over server): the call that met the loss fails, the next one reconnects.
    fn lock(&self) -> MutexGuard<'_, Conn> {
        let mut conn = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if conn.0.as_ref().is_some_and(Client::is_closed) {
            match open_client(&self.url, self.schema.as_deref()) {
                Ok(fresh) => {
                    if let Some(old) = conn.0.replace(fresh) {
                        // Closing blocks on the client's own runtime: not on this thread.
                        std::thread::spawn(move || drop(old));
                    }
                }
                Err(e) => report_reconnect_failure(&e),
            }
        }
        conn
    }
}

/// A failed re-connect is reported on stderr; the caller's operation then fails as before.
fn report_reconnect_failure(e: &StoreError) {
    eprintln!("stormwatch store: re-connecting to PostgreSQL failed: {e}");
}

/// Connects and, with a schema, creates it if missing and works inside it.
fn open_client(url: &str, schema: Option<&str>) -> Result<Client> {
    let mut client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
        path: url.split('@').next_back().unwrap_or(url).to_string(),
        message: e.to_string(),
    })?;
    if let Some(s) = schema {
        if !plain_identifier(s) {
            return Err(StoreError::Open {
                path: s.to_string(),
                message: "schema name must match [a-z_][a-z0-9_]*".into(),
            });
        }
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {s}; SET search_path TO {s}"
            ))
            .map_err(db)?;
    }
    Ok(client)
}

fn scoped_incident(c: &mut impl GenericClient, scope: &Scope, id: i64) -> Result<Option<Incident>> {
    c.query_opt(
        &format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)"
        ),
        &[&id, &scope.tenant()],
    )
    .map_err(db)?
    .map(|r| incident_row(&r))
    .transpose()
}

fn audit(
    tx: &mut Transaction<'_>,
    inc: &Incident,
    actor: &str,
    action: &str,
    detail: &Value,
    now_ms: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit (incident_id, tenant, actor, action, detail, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &inc.id,
            &inc.tenant,
            &actor,
            &action,
            &detail.to_string(),
            &now_ms,
        ],
    )
    .map_err(db)?;
    Ok(())
}

impl Store for PgStore {
    fn record_detection(
        &self,
        d: &NewDetection,
        policy: &DedupPolicy,
        now_ms: i64,
    ) -> Result<Recorded> {
        let mut c = self.lock();
        let mut tx = c.transaction().map_err(db)?;
        let record = d.record.to_string();
        let level = i32::from(d.level);
        let known = tx
            .query_opt(
                "SELECT id, incident_id FROM detections WHERE fingerprint = $1 FOR UPDATE",
                &[&d.fingerprint],
            )
            .map_err(db)?;
        if let Some(row) = known {
            let id: i64 = row.get(0);
            tx.execute(
                "UPDATE detections SET record = $2, level = $3, updated_ms = $4 WHERE id = $1",
                &[&id, &record, &level, &now_ms],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            return Ok(Recorded {
                detection_id: id,
                inserted: false,
                incident_id: row.get(1),
                incident_created: false,
            });
        }
        let mut incident_id = None;
        let mut incident_created = false;
        if d.level >= policy.min_level {
            let open = tx
                .query_opt(
                    &format!(
                        "SELECT {INCIDENT_COLS} FROM incidents WHERE tenant = $1 AND rule_id = $2 \
                         AND actor = $3 AND status IN ('new', 'acknowledged') \
                         AND last_ms >= $4 AND first_ms <= $5 ORDER BY last_ms DESC LIMIT 1 \
                         FOR UPDATE"
                    ),
                    &[
                        &d.tenant,
                        &d.rule_id,
                        &d.actor,
                        &d.time_ms.saturating_sub(policy.window_ms),
                        &d.time_ms.saturating_add(policy.window_ms),
                    ],
                )
                .map_err(db)?;
            match open {
                Some(row) => {
                    let inc = incident_row(&row)?;
                    tx.execute(
                        "UPDATE incidents SET level = GREATEST(level, $2), \
                         first_ms = LEAST(first_ms, $3), last_ms = GREATEST(last_ms, $3), \
                         detections = detections + 1, updated_ms = $4 WHERE id = $1",
                        &[&inc.id, &level, &d.time_ms, &now_ms],
                    )
                    .map_err(db)?;
                    if d.level > inc.level {
                        if let Some(now) = scoped_incident(&mut tx, &Scope::All, inc.id)? {
                            let state = outbox::state_escalated(d.level);
                            outbox_sql::enqueue(&mut tx, &now, &state, &d.record, now_ms)?;
                        }
                    }
                    incident_id = Some(inc.id);
                }
                None => {
                    let row = tx
                        .query_one(
                            "INSERT INTO incidents (tenant, rule_id, actor, title, level, status, \
                             first_ms, last_ms, detections, created_ms, updated_ms) \
                             VALUES ($1, $2, $3, $4, $5, 'new', $6, $6, 1, $7, $7) RETURNING id",
                            &[
                                &d.tenant,
                                &d.rule_id,
                                &d.actor,
                                &d.rule_title,
                                &level,
                                &d.time_ms,
                                &now_ms,
                            ],
                        )
                        .map_err(db)?;
                    let id: i64 = row.get(0);
                    if let Some(inc) = scoped_incident(&mut tx, &Scope::All, id)? {
                        let detail = json!({"rule": d.rule_id, "actor": d.actor});
                        audit(&mut tx, &inc, "stormwatch", "created", &detail, now_ms)?;
                        let state = outbox::state_opened();
                        outbox_sql::enqueue(&mut tx, &inc, &state, &d.record, now_ms)?;
                    }
                    incident_id = Some(id);
                    incident_created = true;
                }
            }
        }
        let row = tx
            .query_one(
                "INSERT INTO detections (fingerprint, tenant, rule_id, level, time_ms, incident_id, \
                 record, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 RETURNING id",
                &[
                    &d.fingerprint,
                    &d.tenant,
                    &d.rule_id,
                    &level,
                    &d.time_ms,
                    &incident_id,
                    &record,
                    &now_ms,
                ],
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Recorded {
            detection_id: row.get(0),
            inserted: true,
            incident_id,
            incident_created,
        })
    }

    fn detections(&self, q: &DetectionQuery) -> Result<Vec<Detection>> {
        let rows = self
            .lock()
            .query(
                "SELECT id, tenant, rule_id, level, time_ms, incident_id, record FROM detections \
                 WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR rule_id = $2) \
                 AND ($3::int IS NULL OR level >= $3) AND ($4::bigint IS NULL OR time_ms >= $4) \
                 AND ($5::bigint IS NULL OR time_ms < $5) \
                 AND ($6::bigint IS NULL OR incident_id = $6) \
                 ORDER BY time_ms DESC, id DESC LIMIT $7",
                &[
                    &q.scope.tenant(),
                    &q.rule_id,
                    &q.min_level.map(i32::from),
                    &q.since_ms,
                    &q.until_ms,
                    &q.incident_id,
                    &i64::from(q.limit),
                ],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let record: String = r.get(6);
                Ok(Detection {
                    id: r.get(0),
                    tenant: r.get(1),
                    rule_id: r.get(2),
                    level: level_of(r.get(3))?,
                    time_ms: r.get(4),
                    incident_id: r.get(5),
                    record: json_of(&record)?,
                })
            })
            .collect()
    }

    fn incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>> {
        let rows = self
            .lock()
            .query(
                &format!(
                    "SELECT {INCIDENT_COLS} FROM incidents WHERE ($1::text IS NULL OR tenant = $1) \
                     AND ($2::text IS NULL OR status = $2) ORDER BY last_ms DESC, id DESC LIMIT $3"
                ),
                &[
                    &q.scope.tenant(),
                    &q.status.map(Status::name),
                    &i64::from(q.limit),
                ],
            )
            .map_err(db)?;
        rows.iter().map(incident_row).collect()
    }

    fn incident(&self, scope: &Scope, id: i64) -> Result<Option<Incident>> {
        scoped_incident(&mut **self.lock(), scope, id)
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
        let mut tx = c.transaction().map_err(db)?;
        let Some(inc) = scoped_incident(&mut tx, scope, id)? else {
            return Ok(None);
        };
        let row = tx
            .query_one(
                "INSERT INTO comments (incident_id, author, text, at_ms) VALUES ($1, $2, $3, $4) \
                 RETURNING id",
                &[&id, &author, &text, &now_ms],
            )
            .map_err(db)?;
        let comment = Comment {
            id: row.get(0),
            incident_id: id,
            author: author.to_string(),
            text: text.to_string(),
            at_ms: now_ms,
        };
        let detail = json!({"comment": comment.id});
        audit(&mut tx, &inc, author, "comment", &detail, now_ms)?;
        tx.commit().map_err(db)?;
        Ok(Some(comment))
    }

    fn comments(&self, scope: &Scope, id: i64) -> Result<Vec<Comment>> {
        let rows = self
            .lock()
            .query(
                "SELECT c.id, c.incident_id, c.author, c.text, c.at_ms FROM comments c \
                 JOIN incidents i ON i.id = c.incident_id \
                 WHERE c.incident_id = $1 AND ($2::text IS NULL OR i.tenant = $2) ORDER BY c.id",
                &[&id, &scope.tenant()],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| Comment {
                id: r.get(0),
                incident_id: r.get(1),
                author: r.get(2),
                text: r.get(3),
                at_ms: r.get(4),
            })
            .collect())
    }

    fn audit_trail(&self, scope: &Scope, id: i64) -> Result<Vec<AuditEntry>> {
        let rows = self
            .lock()
            .query(
                "SELECT id, incident_id, tenant, actor, action, detail, at_ms FROM audit \
                 WHERE incident_id = $1 AND ($2::text IS NULL OR tenant = $2) ORDER BY id",
                &[&id, &scope.tenant()],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let detail: String = r.get(5);
                Ok(AuditEntry {
                    id: r.get(0),
                    incident_id: r.get(1),
                    tenant: r.get(2),
                    actor: r.get(3),
                    action: r.get(4),
                    detail: json_of(&detail)?,
                    at_ms: r.get(6),
                })
            })
            .collect()
    }

    fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        self.lock()
            .execute(
                "INSERT INTO api_keys (id, name, role, tenant, hash, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                 name = EXCLUDED.name, role = EXCLUDED.role, tenant = EXCLUDED.tenant, \
                 hash = EXCLUDED.hash",
                &[
                    &key.id,
                    &key.name,
                    &key.role.name(),
                    &key.tenant,
                    &key.hash,
                    &key.created_ms,
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let row = self
            .lock()
            .query_opt(
                "SELECT id, name, role, tenant, hash, created_ms FROM api_keys WHERE id = $1",
                &[&id],
            )
            .map_err(db)?;
        row.map(|r| {
            let role: String = r.get(2);
            let id: String = r.get(0);
            let role = Role::from_name(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("key {id}: role {role:?}")))?;
            Ok(ApiKey {
                id,
                name: r.get(1),
                role,
                tenant: r.get(3),
                hash: r.get(4),
                created_ms: r.get(5),
            })
        })
        .transpose()
    }

    fn put_batch(&self, batch: &Batch) -> Result<bool> {
        let n = self
            .lock()
            .execute(
                "INSERT INTO batches (tenant, key, received_ms, summary) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant, key) DO NOTHING",
                &[
                    &batch.tenant,
                    &batch.key,
                    &batch.received_ms,
                    &batch.summary.to_string(),
                ],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn batch(&self, tenant: &str, key: &str) -> Result<Option<Batch>> {
        let row = self
            .lock()
            .query_opt(
                "SELECT tenant, key, received_ms, summary FROM batches \
                 WHERE tenant = $1 AND key = $2",
                &[&tenant, &key],
            )
            .map_err(db)?;
        row.map(|r| {
            let summary: String = r.get(3);
            Ok(Batch {
                tenant: r.get(0),
                key: r.get(1),
                received_ms: r.get(2),
                summary: json_of(&summary)?,
            })
        })
        .transpose()
    }

    fn put_events(
        &self,
        events: &[(String, Vec<StoredEvent>)],
        batch: Option<&Batch>,
    ) -> Result<bool> {
        let mut c = self.lock();
        let mut tx = c.transaction().map_err(db)?;
        if let Some(b) = batch {
            let n = tx
                .execute(
                    "INSERT INTO batches (tenant, key, received_ms, summary) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, key) DO NOTHING",
                    &[&b.tenant, &b.key, &b.received_ms, &b.summary.to_string()],
                )
                .map_err(db)?;
            if n == 0 {
                return Ok(false);
            }
        }
        // One round trip per tenant: the rows travel as three arrays.
        for (tenant, list) in events {
            let times: Vec<i64> = list.iter().map(|e| e.time_ms).collect();
            let records: Vec<&str> = list.iter().map(|e| e.record.as_str()).collect();
            tx.execute(
                "INSERT INTO events (tenant, time_ms, record) \
                 SELECT $1, t, r FROM UNNEST($2::BIGINT[], $3::TEXT[]) AS x (t, r)",
                &[tenant, &times, &records],
            )
            .map_err(db)?;
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
        let rows = self
            .lock()
            .query(
                "SELECT time_ms, record FROM events WHERE tenant = $1 AND time_ms >= $2 \
                 AND time_ms < $4 ORDER BY time_ms DESC, id DESC LIMIT $3",
                &[&tenant, &since_ms, &i64::from(limit), &until_ms],
            )
            .map_err(db)?;
        let mut v: Vec<StoredEvent> = rows
            .iter()
            .map(|r| StoredEvent {
                time_ms: r.get(0),
                record: r.get(1),
            })
            .collect();
        v.reverse();
        Ok(v)
    }

    fn prune_events(&self, tenant: &str, before_ms: i64) -> Result<u64> {
        self.lock()
            .execute(
                "DELETE FROM events WHERE tenant = $1 AND time_ms < $2",
                &[&tenant, &before_ms],
            )
            .map_err(db)
    }
}

impl PgStore {
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
        let mut tx = c.transaction().map_err(db)?;
        let Some(before) = scoped_incident(&mut tx, scope, id)? else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE incidents SET {} = $2, updated_ms = $3 WHERE id = $1",
            change.column
        );
        tx.execute(&sql, &[&id, &change.value, &change.now_ms])
            .map_err(db)?;
        let detail = detail(&before);
        audit(
            &mut tx,
            &before,
            change.by,
            change.action,
            &detail,
            change.now_ms,
        )?;
        let after = scoped_incident(&mut tx, scope, id)?;
        tx.commit().map_err(db)?;
        Ok(after)
    }
}
