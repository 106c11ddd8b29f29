//! The SQLite schema: numbered migrations, applied once each at open (`PRAGMA user_version`
//! holds how many), each in its own transaction.

use super::{db, StoreError};
use crate::Result;
use rusqlite::Connection;

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    title TEXT NOT NULL,
    level INTEGER NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    detections INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX incidents_dedup ON incidents (tenant, rule_id, actor, last_ms);
CREATE INDEX incidents_tenant ON incidents (tenant, updated_ms);
CREATE TABLE detections (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    incident_id INTEGER REFERENCES incidents (id),
    record TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX detections_tenant_time ON detections (tenant, time_ms);
CREATE INDEX detections_rule ON detections (rule_id, time_ms);
CREATE INDEX detections_level ON detections (level, time_ms);
CREATE INDEX detections_incident ON detections (incident_id);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX comments_incident ON comments (incident_id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX audit_incident ON audit (incident_id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant TEXT,
    hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE batches (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
"#,
    r#"
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX events_tenant_time ON events (tenant, time_ms);
"#,
    r#"
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    done_ms INTEGER,
    UNIQUE (incident_id, state)
);
CREATE INDEX notifications_pending ON notifications (done_ms, id);
CREATE TABLE deliveries (
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    channel TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    last_error TEXT,
    PRIMARY KEY (notification_id, channel)
);
"#,
    r#"
CREATE TABLE catalog (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
"#,
];

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    let current = usize::try_from(current).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i + 1;
        let fail = |e: rusqlite::Error| StoreError::Migration {
            version,
            message: e.to_string(),
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        // PRAGMA takes no bound parameters; the version is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}
