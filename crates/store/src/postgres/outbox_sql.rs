//! The outbox on PostgreSQL: the shared SQL of [`crate::outbox`] with `$N` placeholders.

use super::{db, PgStore};
use crate::outbox::{self, pg_placeholders, Attempt, Delivery, Notification, Outbox};
use crate::{Incident, Result, Scope};
use postgres::GenericClient;
use serde_json::Value;

/// Adds a notification for `state` of `inc` inside the caller's transaction (no-op if known).
pub(super) fn enqueue(
    tx: &mut impl GenericClient,
    inc: &Incident,
    state: &str,
    detection: &Value,
    now_ms: i64,
) -> Result<()> {
    tx.execute(
        &pg_placeholders(outbox::ENQUEUE),
        &[
            &inc.tenant,
            &inc.id,
            &state,
            &outbox::payload(inc, detection).to_string(),
            &now_ms,
        ],
    )
    .map_err(db)?;
    Ok(())
}

impl PgStore {
    fn select_notifications(
        &self,
        all: bool,
        tenant: Option<&str>,
        incident_id: Option<i64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<Notification>> {
        let rows = self
            .lock()
            .query(
                &pg_placeholders(outbox::SELECT),
                &[
                    &i64::from(all),
                    &tenant,
                    &incident_id,
                    &i64::from(limit),
                    &i64::from(newest_first),
                ],
            )
            .map_err(db)?;
        let rows = rows
            .iter()
            .map(|r| outbox::Row {
                id: r.get(0),
                tenant: r.get(1),
                incident_id: r.get(2),
                state: r.get(3),
                payload: r.get(4),
                created_ms: r.get(5),
                done_ms: r.get(6),
                delivery: r.get::<_, Option<String>>(7).map(|channel| Delivery {
                    channel,
                    attempts: r.get(8),
                    next_ms: r.get(9),
                    sent_ms: r.get(10),
                    last_error: r.get(11),
                }),
            })
            .collect();
        outbox::group(rows)
    }
}

impl Outbox for PgStore {
    fn pending_notifications(&self, limit: u32) -> Result<Vec<Notification>> {
        self.select_notifications(false, None, None, limit, false)
    }

    fn pending_count(&self) -> Result<usize> {
        let n: i64 = self
            .lock()
            .query_one(outbox::PENDING_COUNT, &[])
            .map_err(db)?
            .get(0);
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
                &pg_placeholders(outbox::ATTEMPT),
                &[&id, &channel, &next_ms, &sent_ms, &error],
            )
            .map_err(db)?;
        Ok(())
    }

    fn finish_notification(&self, id: i64, now_ms: i64) -> Result<()> {
        self.lock()
            .execute(&pg_placeholders(outbox::FINISH), &[&id, &now_ms])
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
