//! Volume anomalies in mail reads: a mailbox read far above its own baseline, and one token
//! reading several mailboxes.
//!
//! Robust statistics, so one bad day does not hide the next: per mailbox, the items read per
//! UTC day; a day is anomalous when it exceeds all of `3 × median`, `median + 10 × MAD × 1.4826`
//! (MAD scaled to a standard deviation) and an absolute floor of 100 items, and the mailbox has
//! at least 5 days of history. A token and an Entra session are issued to one user; one unique
//! token id or session id reading three or more mailboxes is being replayed (or is a broad
//! delegate: see docs/detections.md). Many mailboxes read from one address or by one app are
//! not flagged here — an office NAT does that all day — but reads without sign-in from one
//! address join one incident.

use super::builtin_rules as rules;
use crate::alert::{Alert, Level};
use crate::event::{format_time, Origin};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

/// One mail read, as the volume analysis needs it.
pub struct Read {
    pub time: DateTime<Utc>,
    pub tenant: Arc<str>,
    pub mailbox: Arc<str>,
    pub items: u32,
    pub record_id: Option<String>,
    pub origin: Origin,
    pub ip: Option<IpAddr>,
    pub app: Option<Arc<str>>,
    pub token: Option<String>,
    pub session: Option<String>,
}

/// A mailbox's reads by UTC day number.
type Days<'a> = BTreeMap<i64, Vec<&'a Read>>;

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

/// Bulk-read detections over all reads of the input.
pub fn bulk_reads(reads: &[Read], max_ids: usize) -> Vec<Alert> {
    let mut per_day: BTreeMap<(Arc<str>, Arc<str>), Days<'_>> = BTreeMap::new();
    for r in reads {
        let day = super::signins::day(r.time);
        per_day
            .entry((r.tenant.clone(), r.mailbox.clone()))
            .or_default()
            .entry(day)
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for ((tenant, mailbox), days) in per_day {
        if days.len() < MIN_DAYS {
            continue;
        }
        let totals: Vec<u64> = days
            .values()
            .map(|rs| rs.iter().map(|r| u64::from(r.items)).sum())
            .collect();
        let mut sorted = totals.clone();
        sorted.sort_unstable();
        let med = median(&sorted);
        let mut dev: Vec<u64> = sorted
            .iter()
            .map(|x| (*x as f64 - med).abs() as u64)
            .collect();
        dev.sort_unstable();
        let mad = median(&dev) * 1.4826;
        let threshold = (3.0 * med).max(med + 10.0 * mad).max(FLOOR as f64);
        for (rs, total) in days.values().zip(totals) {
            if (total as f64) <= threshold {
                continue;
            }
            let first = rs
                .iter()
                .min_by_key(|r| r.time)
                .map(|r| (r.time, r.origin.clone()));
            let Some((time, origin)) = first else {
                continue;
            };
            let ids: Vec<String> = rs
                .iter()
                .filter_map(|r| r.record_id.clone())
                .take(max_ids)
                .collect();
            let ips: BTreeSet<String> = rs
                .iter()
                .filter_map(|r| r.ip.map(|i| i.to_string()))
                .collect();
            let apps: BTreeSet<&str> = rs.iter().filter_map(|r| r.app.as_deref()).collect();
            out.push(Alert {
                time: Some(time),
                rule: rules::BULK_READ.rule(),
                tenant: Some(tenant.to_string()),
                user: Some(mailbox.to_string()),
                ip: (ips.len() == 1).then(|| ips.iter().next().cloned()).flatten(),
                app_id: (apps.len() == 1).then(|| apps.iter().next().map(|a| a.to_string())).flatten(),
                event_ids: ids,
                source: Some(origin),
                summary: format!(
                    "{total} items of {mailbox}'s mailbox read on {}, against a median of {med:.0} a day",
                    time.format("%Y-%m-%d")
                ),
                evidence: json!({"items": total, "median": med, "mad_scaled": mad, "threshold": threshold,
                                 "days_of_history": days.len(), "ips": ips, "apps": apps,
                                 "first": format_time(time)}),
            });
        }
    }
    out
}

/// One token id or one Entra session reading three or more mailboxes (both are issued to
/// one user).
pub fn shared_tokens(reads: &[Read], max_ids: usize) -> Vec<Alert> {
    let mut by_token: BTreeMap<(Arc<str>, String), Vec<&Read>> = BTreeMap::new();
    for r in reads {
        if let Some(t) = &r.token {
            let key = (r.tenant.clone(), format!("token {t}"));
            by_token.entry(key).or_default().push(r);
        }
        if let Some(s) = &r.session {
            let key = (r.tenant.clone(), format!("session {s}"));
            by_token.entry(key).or_default().push(r);
        }
    }
    let mut out = Vec::new();
    for ((tenant, token), rs) in by_token {
        let mailboxes: BTreeSet<&str> = rs.iter().map(|r| &*r.mailbox).collect();
        if mailboxes.len() < 3 {
            continue;
        }
        let Some(first) = rs.iter().min_by_key(|r| r.time) else {
            continue;
        };
        out.push(Alert {
            time: Some(first.time),
            rule: rules::MANY_MAILBOXES.at(Level::Medium),
            tenant: Some(tenant.to_string()),
            user: None,
            ip: first.ip.map(|i| i.to_string()),
            app_id: first.app.as_deref().map(str::to_string),
            event_ids: rs
                .iter()
                .filter_map(|r| r.record_id.clone())
                .take(max_ids)
                .collect(),
            source: Some(first.origin.clone()),
            summary: format!("one {token} read {} mailboxes", mailboxes.len()),
            evidence: json!({"shared": token, "mailboxes": mailboxes}),
        });
    }
    out
}
