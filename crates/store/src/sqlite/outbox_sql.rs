//! The outbox on SQLite: the shared SQL of [`crate::outbox`] on the one connection.

use super::{db, SqliteStore};
use crate::outbox::{self, Attempt, Delivery, Notification, Outbox};
use crate::{Incident, Result, Scope};
use rusqlite::{params, Connection};
use serde_json::Value;

/// Adds a notification for `state` of `inc` inside the caller's transaction (no-op if known).
pub(super) fn enqueue(
    tx: &Connection,
    inc: &Incident,
    state: &str,
    detection: &Value,
    now_ms: i64,
) -> Result<()> {
    tx.execute(
        outbox::ENQUEUE,
        params![
            inc.tenant,
            inc.id,
            state,
            outbox::payload(inc, detection).to_string(),
            now_ms
        ],
    )
    .map_err(db)?;
    Ok(())
}

impl SqliteStore {
    fn select_notifications(
        &self,
        all: bool,
        tenant: Option<&str>,
        incident_id: Option<i64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<Notification>> {
        let c = self.lock();
        let mut stmt = c.prepare_cached(outbox::SELECT).map_err(db)?;
        let rows = stmt
            .query_map(
                params![
                    i64::from(all),
                    tenant,
                    incident_id,
                    limit,
                    i64::from(newest_first)
                ],
                |r| {
                    let channel: Option<String> = r.get(7)?;
                    let delivery = match channel {
                        Some(channel) => Some(Delivery {
                            channel,
                            attempts: r.get(8)?,
                            next_ms: r.get(9)?,
                            sent_ms: r.get(10)?,
                            last_error: r.get(11)?,
                        }),
                        None => None,
                    };
                    Ok(outbox::Row {
                        id: r.get(0)?,
                        tenant: r.get(1)?,
                        incident_id: r.get(2)?,
                        state: r.get(3)?,
                        payload: r.get(4)?,
                        created_ms: r.get(5)?,
                        done_ms: r.get(6)?,
                        delivery,
                    })
                },
            )
            .map_err(db)?;
        outbox::group(rows.collect::<rusqlite::Result<_>>().map_err(db)?)
    }
}

impl Outbox for SqliteStore {
    fn pending_notifications(&self, limit: u32) -> Result<Vec<Notification>> {
        self.select_notifications(false, None, None, limit, false)
    }

    fn pending_count(&self) -> Result<usize> {
        let n: i64 = self
            .lock()
            .query_row(outbox::PENDING_COUNT, [], |r| r.get(0))
            .map_err(db)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn record_attempt(
        &self,
        id: i64,
        channel: &str,
        attempt: Attempt<'_>,
        now_ms: i64,
    ) -> Result<()> {
        let (next_ms, sent_ms, error) = outbox::attempt_columns(attempt, now_ms);
        self.lock()
            .execute(
                outbox::ATTEMPT,
                params![id, channel, next_ms, sent_ms, error],
            )
            .map_err(db)?;
        Ok(())
    }

    fn finish_notification(&self, id: i64, now_ms: i64) -> Result<()> {
        self.lock()
            .execute(outbox::FINISH, params![id, now_ms])
            .map_err(db)?;
        Ok(())
    }

    fn notifications(
        &self,
        scope: &Scope,
        incident_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        self.select_notifications(true, scope.tenant(), incident_id, limit, true)
    }
}
