//! Mail access as the pages show it: the `MailItemsAccessed` records of a tenant's stored
//! events, reduced to who read which mailbox, when, with which app, from where — for the
//! overview's top apps and addresses, the incident timeline and the mailbox page.

use crate::serve::{ingest, State};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use stormwatch_engine::{Event, LogKind};
use stormwatch_store::{StoreError, StoredEvent};

/// One mailbox read.
#[derive(Debug, Clone)]
pub struct Read {
    pub time_ms: i64,
    pub mailbox: String,
    pub app: String,
    pub ip: String,
    pub record_id: String,
}

/// Most stored events read for one page.
const MAX_EVENTS: u32 = 200_000;

fn read_of(e: &Event) -> Option<Read> {
    let c = &e.core;
    if e.kind != LogKind::Ual || c.operation.as_deref() != Some("MailItemsAccessed") {
        return None;
    }
    let mailbox = e
        .record
        .get("MailboxOwnerUPN")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .or_else(|| c.user.clone())?;
    Some(Read {
        time_ms: c.time?.timestamp_millis(),
        mailbox,
        app: c.app_id.clone().unwrap_or_else(|| "(no app id)".into()),
        ip: c
            .ip
            .map_or_else(|| "(no address)".into(), |i| i.to_string()),
        record_id: c.record_id.clone().unwrap_or_default(),
    })
}

/// A tenant's stored events of `[since_ms, until_ms)` (the newest, at most 200,000): read
/// once per page, then reduced by [`reads`] and [`records`].
pub fn stored(
    state: &State,
    tenant: &str,
    since_ms: i64,
    until_ms: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    state
        .store
        .events_in(tenant, since_ms, until_ms, MAX_EVENTS)
}

/// The mailbox reads among stored events, optionally of some mailboxes only.
pub fn reads(
    stored: &[StoredEvent],
    tenant: &str,
    mailboxes: Option<&HashSet<String>>,
) -> Vec<Read> {
    let candidates = stored
        .iter()
        .filter(|e| e.record.contains("MailItemsAccessed"))
        .filter(|e| {
            mailboxes.is_none_or(|m| {
                let lower = e.record.to_lowercase();
                m.iter().any(|x| lower.contains(x.as_str()))
            })
        });
    let (events, _) = ingest::events_of(candidates, tenant);
    events
        .iter()
        .filter_map(read_of)
        .filter(|r| mailboxes.is_none_or(|m| m.contains(&r.mailbox)))
        .collect()
}

/// Counts by a key, largest first, at most `n`.
pub fn top(reads: &[Read], key: impl Fn(&Read) -> &str, n: usize) -> Vec<(String, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reads {
        *m.entry(key(r)).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, c)| (k.to_string(), c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Timeline chart data: one row per app and address, each read a point; reads whose record id
/// is in `highlight` form the second dataset (the intrusion).
pub fn timeline(
    reads: &[Read],
    highlight: &HashSet<String>,
    app_name: impl Fn(&str) -> String,
) -> Value {
    let mut rows: Vec<(String, String)> = reads
        .iter()
        .map(|r| (r.app.clone(), r.ip.clone()))
        .collect();
    rows.sort();
    rows.dedup();
    let row = |r: &Read| {
        rows.binary_search(&(r.app.clone(), r.ip.clone()))
            .unwrap_or(0)
    };
    let point = |r: &Read| json!({"x": r.time_ms, "y": row(r), "mailbox": r.mailbox});
    let (hit, normal): (Vec<&Read>, Vec<&Read>) =
        reads.iter().partition(|r| highlight.contains(&r.record_id));
    json!({
        "labels": rows.iter().map(|(a, ip)| format!("{} · {ip}", app_name(a))).collect::<Vec<_>>(),
        "normal": normal.iter().map(|r| point(r)).collect::<Vec<_>>(),
        "incident": hit.iter().map(|r| point(r)).collect::<Vec<_>>(),
    })
}

/// The stored records (normalized) whose record id is in `ids`, at most `max`.
pub fn records(
    stored: &[StoredEvent],
    tenant: &str,
    ids: &HashSet<String>,
    max: usize,
) -> Vec<Value> {
    let candidates = stored
        .iter()
        .filter(|e| ids.iter().any(|id| e.record.contains(id.as_str())));
    let (events, _) = ingest::events_of(candidates, tenant);
    events
        .into_iter()
        .filter(|e| e.core.record_id.as_ref().is_some_and(|id| ids.contains(id)))
        .take(max)
        .map(|e| e.record)
        .collect()
}
