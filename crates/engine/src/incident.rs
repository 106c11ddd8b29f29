//! Incidents and campaigns: detections grouped the way a responder works them.
//!
//! * An **incident** is one actor in one tenant: detections of medium level or more are linked
//!   when they share a client address, an app id or a mailbox (union-find), so an actor
//!   rotating through proxy addresses with one client stays one incident, and a volume anomaly
//!   on a mailbox joins the intrusion into it. Lower-level detections group per
//!   rule and actor, so an informational gap never swallows an intrusion.
//! * A **campaign** is one indicator — address or app id — behind medium-or-higher detections
//!   in two or more tenants: what a provider needs to tell every affected tenant.
//!
//! Both serialise as records with `"type": "incident"` / `"campaign"` (DESIGN.md), written only
//! where asked (`--incidents`).

use crate::alert::{Alert, Level};
use crate::event::format_time;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Detections of one actor in one tenant.
#[derive(Debug, Clone)]
pub struct Incident {
    pub id: String,
    pub tenant: Option<String>,
    pub level: Level,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub ips: BTreeSet<String>,
    pub apps: BTreeSet<String>,
    pub mailboxes: BTreeSet<String>,
    pub rules: BTreeSet<String>,
    /// Indices into the detections, in time order.
    pub detections: Vec<usize>,
    pub records: usize,
}

/// One indicator across tenants.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub indicator: String,
    pub tenants: BTreeSet<String>,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub detections: usize,
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, i: usize) -> usize {
        let mut r = i;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut i = i;
        while self.0[i] != r {
            let next = self.0[i];
            self.0[i] = r;
            i = next;
        }
        r
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Groups detections into incidents, most severe first (then most detections, earliest).
pub fn incidents(alerts: &[Alert]) -> Vec<Incident> {
    let mut uf = UnionFind((0..alerts.len()).collect());
    let mut owner: HashMap<(Option<&str>, String), usize> = HashMap::new();
    for (i, a) in alerts.iter().enumerate() {
        let tenant = a.tenant.as_deref();
        let mut keys: Vec<String> = Vec::new();
        if a.rule.level >= Level::Medium {
            keys.extend(a.ip.iter().map(|ip| format!("ip {ip}")));
            keys.extend(a.app_id.iter().map(|app| format!("app {app}")));
            keys.extend(a.user.iter().map(|u| format!("user {u}")));
            if keys.is_empty() {
                keys.push(format!("rule {}", a.rule.id));
            }
        } else {
            let actor =
                a.ip.as_deref()
                    .or(a.app_id.as_deref())
                    .or(a.user.as_deref())
                    .unwrap_or("-");
            keys.push(format!("{} {actor}", a.rule.id));
        }
        for k in keys {
            match owner.get(&(tenant, k.clone())) {
                Some(&j) => uf.union(i, j),
                None => {
                    owner.insert((tenant, k), i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..alerts.len() {
        groups.entry(uf.find(i)).or_default().push(i);
    }
    let mut out: Vec<Incident> = groups
        .into_values()
        .map(|mut members| {
            members.sort_by_key(|&i| (alerts[i].time.is_none(), alerts[i].time));
            let m = |f: fn(&Alert) -> Option<&String>| -> BTreeSet<String> {
                members
                    .iter()
                    .filter_map(|&i| f(&alerts[i]).cloned())
                    .collect()
            };
            Incident {
                id: String::new(),
                tenant: alerts[members[0]].tenant.clone(),
                level: members
                    .iter()
                    .map(|&i| alerts[i].rule.level)
                    .max()
                    .unwrap_or(Level::Informational),
                first: members.iter().filter_map(|&i| alerts[i].time).min(),
                last: members.iter().filter_map(|&i| alerts[i].time).max(),
                ips: m(|a| a.ip.as_ref()),
                apps: m(|a| a.app_id.as_ref()),
                mailboxes: m(|a| a.user.as_ref()),
                rules: members
                    .iter()
                    .map(|&i| alerts[i].rule.title.clone())
                    .collect(),
                records: members.iter().map(|&i| alerts[i].event_ids.len()).sum(),
                detections: members,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.records.cmp(&a.records))
            .then(b.detections.len().cmp(&a.detections.len()))
            .then(a.first.cmp(&b.first))
    });
    for (n, inc) in out.iter_mut().enumerate() {
        inc.id = format!("INC-{:04}", n + 1);
    }
    out
}

/// Indicators (addresses, app ids) behind medium-or-higher detections in two or more tenants.
pub fn campaigns(alerts: &[Alert]) -> Vec<Campaign> {
    let mut by: BTreeMap<String, Campaign> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.rule.level >= Level::Medium) {
        let Some(tenant) = &a.tenant else { continue };
        let keys =
            a.ip.iter()
                .map(|ip| format!("ip {ip}"))
                .chain(a.app_id.iter().map(|app| format!("app {app}")));
        for k in keys {
            let c = by.entry(k.clone()).or_insert_with(|| Campaign {
                indicator: k,
                tenants: BTreeSet::new(),
                first: None,
                last: None,
                detections: 0,
            });
            c.tenants.insert(tenant.clone());
            c.detections += 1;
            if let Some(t) = a.time {
                c.first = Some(c.first.map_or(t, |f| f.min(t)));
                c.last = Some(c.last.map_or(t, |l| l.max(t)));
            }
        }
    }
    by.into_values().filter(|c| c.tenants.len() >= 2).collect()
}

impl Incident {
    /// A one-line description for tables.
    pub fn summary(&self, alerts: &[Alert]) -> String {
        let mailboxes = self.mailboxes.len();
        let from = if self.ips.is_empty() {
            String::new()
        } else {
            format!(" from {}", join(&self.ips, 3))
        };
        let apps = if self.apps.is_empty() {
            String::new()
        } else {
            format!(" via {}", join(&self.apps, 2))
        };
        let head = alerts
            .get(self.detections[0])
            .map(|a| a.rule.title.as_str())
            .unwrap_or("");
        format!(
            "{} detection{} over {mailboxes} account{}{from}{apps}: {head}",
            self.detections.len(),
            if self.detections.len() == 1 { "" } else { "s" },
            if mailboxes == 1 { "" } else { "s" }
        )
    }

    /// The `"type": "incident"` record, with a timeline of its detections.
    pub fn to_json(&self, alerts: &[Alert]) -> Value {
        let timeline: Vec<Value> = self
            .detections
            .iter()
            .map(|&i| {
                let a = &alerts[i];
                json!({"time": a.time.map(format_time), "rule": a.rule.id, "level": a.rule.level.name(),
                       "summary": a.summary, "event_ids": a.event_ids.len()})
            })
            .collect();
        json!({
            "type": "incident", "id": self.id, "tenant": self.tenant, "level": self.level.name(),
            "first": self.first.map(format_time), "last": self.last.map(format_time),
            "ips": self.ips, "app_ids": self.apps, "mailboxes": self.mailboxes, "rules": self.rules,
            "detections": self.detections.len(), "records": self.records,
            "summary": self.summary(alerts), "timeline": timeline,
        })
    }
}

impl Campaign {
    pub fn to_json(&self) -> Value {
        json!({"type": "campaign", "indicator": self.indicator, "tenants": self.tenants,
               "first": self.first.map(format_time), "last": self.last.map(format_time),
               "detections": self.detections,
               "summary": format!("{} behind detections in {} tenants", self.indicator, self.tenants.len())})
    }
}

fn join(set: &BTreeSet<String>, max: usize) -> String {
    let mut parts: Vec<&str> = set.iter().take(max).map(String::as_str).collect();
    let more = set.len().saturating_sub(max);
    let more_text = format!("+{more} more");
    if more > 0 {
        parts.push(&more_text);
    }
    parts.join(", ")
}
