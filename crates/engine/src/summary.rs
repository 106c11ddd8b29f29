//! The summary a responder reads first (`stormwatch inspect`): what is in these logs.
//!
//! Counts records per kind, tenant, operation, app id and client IP, the time range, and how
//! every input was read. Memory grows with the number of distinct values, not with records.

use crate::decode::Layout;
use crate::event::{format_time, Event, LogKind};
use crate::ingest::{IngestStats, InputInfo};
use crate::source::Input;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Running counts over events.
#[derive(Debug, Default)]
pub struct Summary {
    pub kinds: HashMap<LogKind, u64>,
    pub tenants: HashMap<String, u64>,
    pub operations: HashMap<String, u64>,
    pub apps: HashMap<String, u64>,
    pub ips: HashMap<String, u64>,
    pub users: HashMap<String, u64>,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub without_time: u64,
    pub files: Vec<FileLine>,
}

/// How one input was read.
#[derive(Debug, Clone)]
pub struct FileLine {
    pub name: String,
    pub layout: &'static str,
    pub compression: &'static str,
    pub encoding: &'static str,
    pub records: u64,
    pub rejected: u64,
}

fn bump(map: &mut HashMap<String, u64>, key: Option<&str>) {
    let key = key.unwrap_or("(none)");
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

impl Summary {
    pub fn add(&mut self, e: &Event) {
        *self.kinds.entry(e.kind).or_default() += 1;
        let c = &e.core;
        bump(&mut self.tenants, c.tenant.as_deref());
        bump(&mut self.operations, c.operation.as_deref());
        bump(&mut self.apps, c.app_id.as_deref());
        bump(&mut self.users, c.user.as_deref());
        let ip = c.ip.map(|i| i.to_string());
        bump(&mut self.ips, ip.as_deref());
        match c.time {
            Some(t) => {
                self.first = Some(self.first.map_or(t, |f| f.min(t)));
                self.last = Some(self.last.map_or(t, |l| l.max(t)));
            }
            None => self.without_time += 1,
        }
    }

    pub fn add_file(&mut self, input: &Input, layout: Layout, info: &InputInfo) {
        self.files.push(FileLine {
            name: input.name.to_string(),
            layout: layout.name(),
            compression: info.compression,
            encoding: info.encoding,
            records: info.records,
            rejected: info.rejected,
        });
    }

    /// The whole summary as JSON (`inspect --format json`), top lists cut at `top`.
    pub fn to_json(&self, stats: &IngestStats, top: usize) -> Value {
        let mut kinds = Map::new();
        for kind in LogKind::ALL {
            if let Some(n) = self.kinds.get(&kind) {
                kinds.insert(kind.name().into(), json!(n));
            }
        }
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                json!({"file": f.name, "layout": f.layout, "compression": f.compression,
                       "encoding": f.encoding, "records": f.records, "rejected": f.rejected})
            })
            .collect();
        json!({
            "records": {"read": stats.records_read, "parsed": stats.events, "rejected": stats.rejected},
            "inputs": {"read": stats.inputs - stats.inputs_failed, "failed": stats.inputs_failed, "bytes": stats.bytes},
            "time_range": {"first": self.first.map(format_time), "last": self.last.map(format_time),
                           "records_without_time": self.without_time},
            "kinds": kinds,
            "tenants": top_list(&self.tenants, usize::MAX),
            "operations": top_list(&self.operations, top),
            "app_ids": top_list(&self.apps, top),
            "client_ips": top_list(&self.ips, top),
            "users": top_list(&self.users, top),
            "files": files,
        })
    }
}

/// `[{"value": …, "count": …}, …]`, most frequent first, ties by value; the rest summed up.
pub fn top_list(map: &HashMap<String, u64>, top: usize) -> Value {
    let ranked = ranked(map);
    let mut out: Vec<Value> = ranked
        .iter()
        .take(top)
        .map(|(k, n)| json!({"value": k, "count": n}))
        .collect();
    if ranked.len() > top {
        let rest: u64 = ranked[top..].iter().map(|(_, n)| *n).sum();
        out.push(json!({"value": format!("({} others)", ranked.len() - top), "count": rest}));
    }
    Value::Array(out)
}

/// Entries most frequent first, ties by value.
pub fn ranked(map: &HashMap<String, u64>) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = map.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}
