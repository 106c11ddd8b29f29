//! Volume anomalies in mail reads: a mailbox read far above its own baseline (one token
//! reading several mailboxes is in `shared.rs`).
//!
//! Robust statistics, so one bad day does not hide the next: per mailbox, the items read per
//! UTC day; a day is anomalous when it exceeds all of `3 × median`, `median + 10 × MAD × 1.4826`
//! (MAD scaled to a standard deviation) and an absolute floor of 100 items, and the mailbox has
//! at least 5 days of history. Many mailboxes read from one address or by one app are not
//! flagged — an office NAT does that all day — but reads without sign-in from one address join
//! one incident.

use super::builtin_rules as rules;
use super::spill::Access;
use crate::alert::Alert;
use crate::event::{format_time, Origin};
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashMapExt};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const MIN_DAYS: usize = 5;
const FLOOR: u64 = 100;

fn median(sorted: &[u64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
    }
}

/// (tenant id, mailbox id, UTC day number).
pub type DayKey = (u32, u32, i64);

/// Items read per mailbox and UTC day, summed as the reads go by (memory grows with mailboxes
/// × days, not with reads).
#[derive(Debug, Default)]
pub struct DailyItems(HashMap<DayKey, u64>);

/// A day on which a mailbox was read far above its own median.
#[derive(Debug, Clone)]
pub struct Anomaly {
    total: u64,
    median: f64,
    mad: f64,
    threshold: f64,
    days: usize,
}

impl DailyItems {
    pub fn add(&mut self, key: DayKey, items: u32) {
        *self.0.entry(key).or_default() += u64::from(items);
    }

    /// The anomalous days of every mailbox with enough history.
    pub fn anomalies(&self) -> HashMap<DayKey, Anomaly> {
        let mut per_mailbox: HashMap<(u32, u32), Vec<(i64, u64)>> = HashMap::new();
        for ((tenant, mailbox, day), total) in &self.0 {
            per_mailbox
                .entry((*tenant, *mailbox))
                .or_default()
                .push((*day, *total));
        }
        let mut out = HashMap::new();
        for ((tenant, mailbox), days) in per_mailbox {
            if days.len() < MIN_DAYS {
                continue;
            }
            let mut sorted: Vec<u64> = days.iter().map(|(_, t)| *t).collect();
            sorted.sort_unstable();
            let med = median(&sorted);
            let mut dev: Vec<u64> = sorted
                .iter()
                .map(|x| (*x as f64 - med).abs() as u64)
                .collect();
            dev.sort_unstable();
            let mad = median(&dev) * 1.4826;
            let threshold = (3.0 * med).max(med + 10.0 * mad).max(FLOOR as f64);
            for (day, total) in &days {
                if (*total as f64) > threshold {
                    let anomaly = Anomaly {
                        total: *total,
                        median: med,
                        mad,
                        threshold,
                        days: days.len(),
                    };
                    out.insert((tenant, mailbox, *day), anomaly);
                }
            }
        }
        out
    }
}

/// The reads of one anomalous day, gathered when the accesses are read back (app ids
/// borrowed from the interned names).
pub struct BulkDay<'s> {
    anomaly: Anomaly,
    first: Option<(DateTime<Utc>, Origin)>,
    ids: Vec<String>,
    ips: BTreeSet<String>,
    apps: BTreeSet<&'s str>,
}

impl<'s> BulkDay<'s> {
    pub fn new(anomaly: Anomaly) -> Self {
        BulkDay {
            anomaly,
            first: None,
            ids: Vec::new(),
            ips: BTreeSet::new(),
            apps: BTreeSet::new(),
        }
    }

    /// Adds one read of the day (`time` is the access's own).
    pub fn add(&mut self, a: &Access<'s, '_>, time: DateTime<Utc>, max_ids: usize) {
        if self.first.as_ref().is_none_or(|(t, _)| time < *t) {
            self.first = Some((time, a.origin()));
        }
        if let Some(id) = a.record_id {
            if self.ids.len() < max_ids {
                self.ids.push(id.to_string());
            }
        }
        self.ips.extend(a.ip.map(|i| i.to_string()));
        self.apps.extend(a.app);
    }
}

/// Bulk-read detections: one per anomalous (tenant, mailbox, day), in that order.
pub fn bulk_reads(days: BTreeMap<(&str, &str, i64), BulkDay<'_>>) -> Vec<Alert> {
    let mut out = Vec::new();
    for ((tenant, mailbox, _), day) in days {
        let Some((time, origin)) = day.first else {
            continue;
        };
        let a = day.anomaly;
        let (ips, apps) = (day.ips, day.apps);
        out.push(Alert {
            time: Some(time),
            rule: rules::BULK_READ.rule(),
            tenant: Some(tenant.to_string()),
            user: Some(mailbox.to_string()),
            ip: (ips.len() == 1)
                .then(|| ips.iter().next().cloned())
                .flatten(),
            app_id: (apps.len() == 1)
                .then(|| apps.iter().next().map(|a| a.to_string()))
                .flatten(),
            event_ids: day.ids,
            source: Some(origin),
            summary: format!(
                "{} items of {mailbox}'s mailbox read on {}, against a median of {:.0} a day",
                a.total,
                time.format("%Y-%m-%d"),
                a.median
            ),
            evidence: json!({"items": a.total, "median": a.median, "mad_scaled": a.mad,
                             "threshold": a.threshold, "days_of_history": a.days, "ips": ips,
                             "apps": apps, "first": format_time(time)}),
        });
    }
    out
}
