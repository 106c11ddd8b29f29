//! The notification outbox: what must be told to a tenant's admins, written in the same
//! transaction as the incident change that calls for it, and delivered afterwards.
//!
//! Why an outbox: a notification sent straight from the detection path is lost when the process
//! dies between the commit and the send, and sent twice when it dies between the send and the
//! commit. Here [`crate::Store::record_detection`] adds a [`Notification`] row when it opens an
//! incident (`opened`) or raises its level (`escalated:N`), atomically with the change; a
//! unique `(incident, state)` key makes a repeat of the same incident state a no-op. A dispatcher
//! (in the server) reads [`Outbox::pending_notifications`], sends each to its channels, and
//! records each channel's [`Delivery`]: sent, or failed with the time of the next attempt (so
//! retries and backoff survive restarts). A notification whose channels are all sent is
//! finished and never read again.
//!
//! Delivery is at least once: a crash between a receiver's acceptance and the `sent` write
//! repeats that one send after the restart. Each send therefore carries a stable id (webhook
//! `X-Stormwatch-Delivery`, e-mail `Message-ID`) derived from the notification id and channel, so
//! a receiver can drop the repeat.
//!
//! The SQL here is written once with `?N` placeholders and shared by both backends (PostgreSQL
//! gets `$N` through `pg_placeholders`); the tables' DDL differs and lives in each backend's
//! migrations.

use crate::{Incident, Result, Scope};
use serde::Serialize;
use serde_json::{json, Value};

/// The incident state a notification announces: opened, or escalated to a level (`0..=4`).
pub fn state_opened() -> String {
    "opened".to_string()
}

/// See [`state_opened`].
pub fn state_escalated(level: u8) -> String {
    format!("escalated:{level}")
}

/// What a notification carries: the incident as it was at that state and the detection record
/// that brought it there.
pub fn payload(incident: &Incident, detection: &Value) -> Value {
    json!({"incident": incident, "detection": detection})
}

/// One channel's delivery of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The channel's name, e.g. `email`, `webhook:soc`, `syslog`.
    pub channel: String,
    pub attempts: i64,
    /// When the next attempt is due (Unix ms); meaningless once sent.
    pub next_ms: i64,
    pub sent_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// A notification in the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub tenant: String,
    pub incident_id: i64,
    /// `opened` or `escalated:N`.
    pub state: String,
    /// `{"incident": …, "detection": …}` as of that state.
    pub payload: Value,
    pub created_ms: i64,
    /// Set once every channel has been sent.
    pub done_ms: Option<i64>,
    /// Channels tried so far (a channel never tried has no entry).
    pub deliveries: Vec<Delivery>,
}

impl Notification {
    /// This channel's delivery so far.
    pub fn delivery(&self, channel: &str) -> Option<&Delivery> {
        self.deliveries.iter().find(|d| d.channel == channel)
    }
}

/// The result of one attempt on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt<'a> {
    Sent,
    Failed { error: &'a str, retry_at_ms: i64 },
}

/// The outbox side of a store. Every [`crate::Store`] is one.
pub trait Outbox {
    /// Unfinished notifications, oldest first, with their deliveries so far.
    fn pending_notifications(&self, limit: u32) -> Result<Vec<Notification>>;

    /// How many notifications are unfinished.
    fn pending_count(&self) -> Result<usize>;

    /// Records one attempt on one channel.
    fn record_attempt(
        &self,
        id: i64,
        channel: &str,
        attempt: Attempt<'_>,
        now_ms: i64,
    ) -> Result<()>;

    /// Marks a notification finished: every channel it needs has been sent.
    fn finish_notification(&self, id: i64, now_ms: i64) -> Result<()>;

    /// Notifications in the scope (optionally of one incident), newest first.
    fn notifications(
        &self,
        scope: &Scope,
        incident_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Notification>>;
}

/// Adds the notification unless its incident already has one for this state.
pub(crate) const ENQUEUE: &str = "INSERT INTO notifications (tenant, incident_id, state, payload, \
     created_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (incident_id, state) DO NOTHING";

/// Notifications with their deliveries (one row per delivery, or one with NULLs), by id.
/// `?1` finished too (0/1), `?2` tenant or NULL, `?3` incident or NULL, `?4` limit, `?5` 1 for
/// newest first.
pub(crate) const SELECT: &str = "SELECT n.id, n.tenant, n.incident_id, n.state, n.payload, \
     n.created_ms, n.done_ms, d.channel, d.attempts, d.next_ms, d.sent_ms, d.last_error \
     FROM (SELECT * FROM notifications WHERE (CAST(?1 AS BIGINT) = 1 OR done_ms IS NULL) \
     AND (CAST(?2 AS TEXT) IS NULL OR tenant = ?2) AND (CAST(?3 AS BIGINT) IS NULL OR incident_id = ?3) \
     ORDER BY CASE WHEN CAST(?5 AS BIGINT) = 1 THEN -id ELSE id END LIMIT ?4) n \
     LEFT JOIN deliveries d ON d.notification_id = n.id \
     ORDER BY CASE WHEN CAST(?5 AS BIGINT) = 1 THEN -n.id ELSE n.id END, d.channel";

/// Upserts one channel's delivery after an attempt.
pub(crate) const ATTEMPT: &str = "INSERT INTO deliveries (notification_id, channel, attempts, \
     next_ms, sent_ms, last_error) VALUES (?1, ?2, 1, ?3, ?4, ?5) \
     ON CONFLICT (notification_id, channel) DO UPDATE SET attempts = deliveries.attempts + 1, \
     next_ms = excluded.next_ms, sent_ms = excluded.sent_ms, last_error = excluded.last_error";

pub(crate) const PENDING_COUNT: &str = "SELECT COUNT(*) FROM notifications WHERE done_ms IS NULL";

pub(crate) const FINISH: &str =
    "UPDATE notifications SET done_ms = ?2 WHERE id = ?1 AND done_ms IS NULL";

/// The columns of an attempt: next attempt time, sent time, error.
pub(crate) fn attempt_columns<'a>(
    a: Attempt<'a>,
    now_ms: i64,
) -> (i64, Option<i64>, Option<&'a str>) {
    match a {
        Attempt::Sent => (now_ms, Some(now_ms), None),
        Attempt::Failed { error, retry_at_ms } => (retry_at_ms, None, Some(error)),
    }
}

/// One row of [`SELECT`], as the backends read it.
pub(crate) struct Row {
    pub id: i64,
    pub tenant: String,
    pub incident_id: i64,
    pub state: String,
    pub payload: String,
    pub created_ms: i64,
    pub done_ms: Option<i64>,
    pub delivery: Option<Delivery>,
}

/// Folds the joined rows (ordered by notification) into notifications.
pub(crate) fn group(rows: Vec<Row>) -> Result<Vec<Notification>> {
    let mut out: Vec<Notification> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|n| n.id != r.id) {
            out.push(Notification {
                id: r.id,
                tenant: r.tenant,
                incident_id: r.incident_id,
                state: r.state,
                payload: serde_json::from_str(&r.payload).map_err(|e| {
                    crate::StoreError::Corrupt(format!("notification {}: {e}", r.id))
                })?,
                created_ms: r.created_ms,
                done_ms: r.done_ms,
                deliveries: Vec::new(),
            });
        }
        if let (Some(d), Some(n)) = (r.delivery, out.last_mut()) {
            n.deliveries.push(d);
        }
    }
    Ok(out)
}

/// `?N` → `$N` for PostgreSQL (the shared SQL holds no `?` elsewhere).
pub(crate) fn pg_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_translate_and_no_literal_question_marks_exist() {
        for sql in [ENQUEUE, SELECT, ATTEMPT, FINISH, PENDING_COUNT] {
            let pg = pg_placeholders(sql);
            assert!(!pg.contains('?'));
            assert_eq!(pg.matches('$').count(), sql.matches('?').count());
        }
        assert!(pg_placeholders(FINISH).contains("id = $1"));
    }

    #[test]
    fn states_name_the_level() {
        assert_eq!(state_opened(), "opened");
        assert_eq!(state_escalated(3), "escalated:3");
    }
}
