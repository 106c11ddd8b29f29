//! The PostgreSQL schema: numbered migrations recorded in `schema_migrations`, applied at connect
//! under an advisory lock so several processes may start at once.

use super::db;
use crate::{Result, StoreError};
use postgres::Client;

/// Schema migrations, applied in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    title TEXT NOT NULL,
    level INTEGER NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    detections BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX incidents_dedup ON incidents (tenant, rule_id, actor, last_ms);
CREATE INDEX incidents_tenant ON incidents (tenant, updated_ms);
CREATE TABLE detections (
    id BIGSERIAL PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    time_ms BIGINT NOT NULL,
    incident_id BIGINT REFERENCES incidents (id),
    record TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX detections_tenant_time ON detections (tenant, time_ms);
CREATE INDEX detections_rule ON detections (rule_id, time_ms);
CREATE INDEX detections_level ON detections (level, time_ms);
CREATE INDEX detections_incident ON detections (incident_id);
CREATE TABLE comments (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX comments_incident ON comments (incident_id);
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX audit_incident ON audit (incident_id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant TEXT,
    hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE batches (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
"#,
    r#"
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX events_tenant_time ON events (tenant, time_ms);
"#,
    r#"
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    done_ms BIGINT,
    UNIQUE (incident_id, state)
);
CREATE INDEX notifications_pending ON notifications (done_ms, id);
CREATE TABLE deliveries (
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    channel TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_ms BIGINT NOT NULL,
    sent_ms BIGINT,
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
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);
"#,
];

/// Arbitrary, fixed: the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x5707_0007;

pub(super) fn migrate(client: &mut Client) -> Result<()> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        .map_err(db)?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let fail = |e: postgres::Error| StoreError::Migration {
            version: i + 1,
            message: db(e).to_string(),
        };
        let mut tx = client.transaction().map_err(fail)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(fail)?;
        let done = tx
            .query_opt(
                "SELECT version FROM schema_migrations WHERE version = $1",
                &[&version],
            )
            .map_err(fail)?
            .is_some();
        if !done {
            tx.batch_execute(sql).map_err(fail)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
    }
    Ok(())
}
