//! Telling each tenant's admins: the dispatcher that works the store's notification outbox.
//!
//! The store queues a notification in the same transaction that opens an incident or raises
//! its level (see `stormwatch_store::outbox`). Every `notify.interval_ms` the dispatcher reads
//! the unfinished ones and, for each, every configured [`Channel`] that wants it — e-mail to the
//! tenant's `admins` ([`email`]), webhooks ([`webhook`]: signed JSON, Slack, Teams), syslog/CEF
//! ([`syslog`]) — that has not delivered it yet and is due. Each attempt is written back: sent,
//! or failed with the next attempt time (exponential backoff from 1 s, doubling, capped at
//! 10 minutes; retried until it goes through — a receiver outage delays, never loses). A
//! notification is finished when every channel that wants it has sent it or given up: a
//! permanent failure (an address the mail server refuses, a 4xx other than 408/429) gives up at
//! once, a transient one after 72 hours of retries — both logged and visible in
//! `GET /api/v1/notifications`, so a dead receiver cannot hold the outbox forever.
//!
//! Guarantees: none lost (the outbox row commits with the incident); none queued twice for the
//! same incident state (unique key); a channel that has sent is never tried again. A crash
//! between a receiver accepting and the `sent` write repeats that one send after restart, with
//! the same delivery id (`X-Stormwatch-Delivery`, e-mail `Message-ID`). One dispatcher per store:
//! two `serve` processes on one PostgreSQL would both work the outbox.

pub mod config;
pub mod email;
pub mod message;
pub mod syslog;
pub mod webhook;

use config::NotifySettings;
use message::Brief;
use std::collections::HashMap;
use stormwatch_store::{Attempt, Store, StoreError};

/// Whom a notification concerns, as a channel needs to know.
pub struct Target<'a> {
    pub tenant: &'a str,
    /// The tenant's admins (e-mail addresses).
    pub admins: &'a [String],
}

/// One way of telling.
pub trait Channel: Send + Sync {
    /// Unique among the configured channels; the outbox keys deliveries by it.
    fn name(&self) -> &str;
    /// Whether this notification goes to this channel at all.
    fn wants(&self, target: &Target<'_>) -> bool;
    /// One attempt; the failure says what failed (for the delivery record, shown to the
    /// tenant's admins: no secrets, no receiver addresses) and whether retrying can help.
    fn send(&self, brief: &Brief, target: &Target<'_>) -> Result<(), Failure>;
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// Retrying cannot help (a refused address, a 4xx other than 408/429): given up at once.
    pub permanent: bool,
}

impl Failure {
    pub fn transient(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: true,
        }
    }
}

/// How long a notification is retried before its failing channels are given up (72 hours).
pub const MAX_AGE_MS: i64 = 72 * 3_600_000;

/// `next_ms` of a delivery given up: never due again.
pub const GAVE_UP: i64 = i64::MAX;

/// A tenant as the dispatcher sees it.
#[derive(Debug, Clone, Default)]
pub struct TenantContact {
    pub name: String,
    pub admins: Vec<String>,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub sent: usize,
    pub failed: usize,
    pub finished: usize,
    /// `channel: error` of each failed attempt, for the log.
    pub errors: Vec<String>,
}

/// The delay before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff_ms(attempts: i64) -> i64 {
    const CAP_MS: i64 = 600_000;
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    1000_i64.saturating_mul(1 << exp).min(CAP_MS)
}

/// The configured channels and tenants.
pub struct Notifier {
    channels: Vec<Box<dyn Channel>>,
    tenants: HashMap<String, TenantContact>,
    min_level: u8,
    public_url: Option<String>,
}

impl Notifier {
    /// Builds the channels of `settings`; `incident_min_level` is the default `min_level`.
    pub fn new(
        settings: &NotifySettings,
        tenants: HashMap<String, TenantContact>,
        incident_min_level: u8,
    ) -> Result<Notifier, String> {
        let mut channels: Vec<Box<dyn Channel>> = Vec::new();
        if let Some(e) = &settings.email {
            channels.push(Box::new(email::Email::new(e.clone())?));
        }
        for h in &settings.webhooks {
            channels.push(Box::new(webhook::Webhook::new(h.clone())));
        }
        if let Some((address, transport)) = &settings.syslog {
            channels.push(Box::new(syslog::Syslog {
                address: address.clone(),
                transport: *transport,
            }));
        }
        Ok(Self::with_channels(
            channels,
            tenants,
            settings.min_level.unwrap_or(incident_min_level),
            settings.public_url.clone(),
        ))
    }

    /// A notifier over given channels (tests bring their own).
    pub fn with_channels(
        channels: Vec<Box<dyn Channel>>,
        tenants: HashMap<String, TenantContact>,
        min_level: u8,
        public_url: Option<String>,
    ) -> Notifier {
        Notifier {
            channels,
            tenants,
            min_level,
            public_url,
        }
    }

    /// The channels' names.
    pub fn channel_names(&self) -> Vec<&str> {
        self.channels.iter().map(|c| c.name()).collect()
    }

    /// One pass over the outbox: every due delivery attempted once.
    pub fn dispatch(&self, store: &dyn Store, now_ms: i64) -> Result<Dispatched, StoreError> {
        let mut out = Dispatched::default();
        let none = TenantContact::default();
        for n in store.pending_notifications(1000)? {
            let contact = self.tenants.get(&n.tenant).unwrap_or(&none);
            let target = Target {
                tenant: &n.tenant,
                admins: &contact.admins,
            };
            let brief = Brief::new(&n, Some(&contact.name), self.public_url.as_deref());
            let mut done = true;
            if brief.level >= self.min_level {
                for ch in self.channels.iter().filter(|c| c.wants(&target)) {
                    let d = n.delivery(ch.name());
                    if d.is_some_and(|d| d.sent_ms.is_some() || d.next_ms == GAVE_UP) {
                        continue;
                    }
                    if d.is_some_and(|d| d.next_ms > now_ms) {
                        done = false;
                        continue;
                    }
                    match ch.send(&brief, &target) {
                        Ok(()) => {
                            store.record_attempt(n.id, ch.name(), Attempt::Sent, now_ms)?;
                            out.sent += 1;
                        }
                        Err(f) => {
                            let attempts = d.map_or(0, |d| d.attempts);
                            let expired = now_ms.saturating_sub(n.created_ms) > MAX_AGE_MS;
                            let give_up = f.permanent || expired;
                            let retry_at_ms = if give_up {
                                GAVE_UP
                            } else {
                                now_ms.saturating_add(backoff_ms(attempts))
                            };
                            let a = Attempt::Failed {
                                error: &f.message,
                                retry_at_ms,
                            };
                            store.record_attempt(n.id, ch.name(), a, now_ms)?;
                            out.failed += 1;
                            out.errors.push(if give_up {
                                format!(
                                    "notification {} {}: {} (attempt {}; given up{})",
                                    n.id,
                                    ch.name(),
                                    f.message,
                                    attempts + 1,
                                    if expired {
                                        " after 72 hours"
                                    } else {
                                        ": permanent"
                                    }
                                )
                            } else {
                                format!(
                                    "notification {} {}: {} (attempt {}, next in {} s)",
                                    n.id,
                                    ch.name(),
                                    f.message,
                                    attempts + 1,
                                    (retry_at_ms - now_ms) / 1000
                                )
                            });
                            done &= give_up;
                        }
                    }
                }
            }
            if done {
                store.finish_notification(n.id, now_ms)?;
                out.finished += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use stormwatch_store::{DedupPolicy, NewDetection, Outbox, SqliteStore};

    /// Fails its first `fail` attempts, then accepts; counts accepted sends.
    struct Flaky {
        name: String,
        fail: AtomicUsize,
        sent: Arc<AtomicUsize>,
    }

    impl Channel for Flaky {
        fn name(&self) -> &str {
            &self.name
        }
        fn wants(&self, t: &Target<'_>) -> bool {
            !t.admins.is_empty() || self.name != "email"
        }
        fn send(&self, _: &Brief, _: &Target<'_>) -> Result<(), Failure> {
            if self.name == "webhook:gone" {
                return Err(Failure::permanent("HTTP 410"));
            }
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Err(Failure::transient("receiver down"));
            }
            self.sent.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn incident(store: &SqliteStore, fp: &str, tenant: &str, level: u8) {
        let d = NewDetection {
            fingerprint: fp.into(),
            tenant: tenant.into(),
            rule_id: "r".into(),
            rule_title: "t".into(),
            level,
            time_ms: 0,
            actor: "1.2.3.4".into(),
            record: serde_json::json!({"summary": "s"}),
        };
        let policy = DedupPolicy {
            window_ms: 1000,
            min_level: 1,
        };
        store.record_detection(&d, &policy, 0).unwrap();
    }

    #[test]
    fn permanent_failures_and_old_notifications_are_given_up_not_retried_forever() {
        let store = SqliteStore::in_memory().unwrap();
        incident(&store, "a", "ta", 3);
        let sent = Arc::new(AtomicUsize::new(0));
        let channels: Vec<Box<dyn Channel>> = vec![
            Box::new(Flaky {
                name: "webhook:gone".into(),
                fail: AtomicUsize::new(0),
                sent: sent.clone(),
            }),
            Box::new(Flaky {
                name: "webhook:down".into(),
                fail: AtomicUsize::new(1000),
                sent: sent.clone(),
            }),
        ];
        let n = Notifier::with_channels(channels, HashMap::new(), 2, None);
        let first = n.dispatch(&store, 0).unwrap();
        assert_eq!((first.failed, first.finished), (2, 0), "{first:?}");
        // Three days later the transient one is given up too, and the notification finishes.
        let late = n.dispatch(&store, MAX_AGE_MS + 1).unwrap();
        assert_eq!((late.failed, late.finished), (1, 1), "{late:?}");
        assert!(
            late.errors[0].contains("given up after 72 hours"),
            "{late:?}"
        );
        let listed = store
            .notifications(&stormwatch_store::Scope::All, None, 10)
            .unwrap();
        assert_eq!(
            listed[0].delivery("webhook:gone").unwrap().attempts,
            1,
            "not retried"
        );
        assert_eq!(sent.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn backoff_doubles_from_a_second_and_caps_at_ten_minutes() {
        assert_eq!([0, 1, 2, 3].map(backoff_ms), [1000, 2000, 4000, 8000]);
        assert_eq!(backoff_ms(10), 600_000);
        assert_eq!(backoff_ms(i64::MAX), 600_000);
    }

    #[test]
    fn a_down_receiver_is_retried_on_its_schedule_and_others_are_not_resent() {
        let store = SqliteStore::in_memory().unwrap();
        incident(&store, "a", "ta", 3);
        incident(&store, "b", "tb", 1); // below min_level: finished without a send
        let (hook_sent, mail_sent) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let channels: Vec<Box<dyn Channel>> = vec![
            Box::new(Flaky {
                name: "webhook:x".into(),
                fail: AtomicUsize::new(2),
                sent: hook_sent.clone(),
            }),
            Box::new(Flaky {
                name: "email".into(),
                fail: AtomicUsize::new(0),
                sent: mail_sent.clone(),
            }),
        ];
        let tenants = HashMap::from([(
            "ta".to_string(),
            TenantContact {
                name: "A".into(),
                admins: vec!["soc@a.example".into()],
            },
        )]);
        let n = Notifier::with_channels(channels, tenants, 2, None);
        let first = n.dispatch(&store, 0).unwrap();
        assert_eq!(
            (first.sent, first.failed, first.finished),
            (1, 1, 1),
            "{first:?}"
        );
        // Not due yet at 0.5 s: nothing attempted.
        let early = n.dispatch(&store, 500).unwrap();
        assert_eq!((early.sent, early.failed), (0, 0));
        let second = n.dispatch(&store, 1000).unwrap();
        assert_eq!((second.sent, second.failed), (0, 1), "{second:?}");
        // Second failure: next attempt 2 s later.
        assert_eq!(n.dispatch(&store, 2999).unwrap().failed, 0);
        let third = n.dispatch(&store, 3000).unwrap();
        assert_eq!((third.sent, third.finished), (1, 1), "{third:?}");
        assert!(store.pending_notifications(10).unwrap().is_empty());
        assert_eq!(hook_sent.load(Ordering::SeqCst), 1);
        assert_eq!(
            mail_sent.load(Ordering::SeqCst),
            1,
            "e-mail sent once, not per pass"
        );
        let listed = store
            .notifications(&stormwatch_store::Scope::All, None, 10)
            .unwrap();
        let hook = listed.iter().find_map(|x| x.delivery("webhook:x")).unwrap();
        assert_eq!(hook.attempts, 3);
    }
}
