//! Continuous detection: a rolling per-tenant buffer of events, re-judged on a timer.
//!
//! # Semantics
//! * Ingested events are appended to their tenant's **buffer** in memory and the tenant is marked
//!   dirty. Every `judge_interval_ms` the judge takes each dirty tenant's buffer and runs the
//!   **same detectors as `hunt`** over all of it, in time order, from fresh detector state:
//!   Sigma rules (from `rules`), mail access analysis (new clients, mail read without a sign-in;
//!   it needs the tenant's sign-ins around each read, which is why it judges a window and not a
//!   single event), the IOC feed (built-in `storm-0558`) and token verdicts.
//! * The buffer keeps the tenant's last `buffer_days` of event time (counted back from its newest
//!   event) and at most `buffer_max_events` events; older ones drop out. The mail-client
//!   baseline is therefore the first `learn_days` of what the buffer holds.
//! * Every detection of a pass is stored under a **fingerprint** — rule, tenant, user, address,
//!   app, time and first record id. A detection already stored is updated in place (a grouped
//!   mail detection gains record ids as more records arrive); a new one is added and, at
//!   `incident_min_level` or above, joins the open incident of the same rule, tenant and actor
//!   (address, else app id, else user) within `incident_window_hours`, or opens one. A pass never
//!   deletes a detection that a later pass no longer raises (for example after the window
//!   moved).
//! * Detection is eventually consistent: an accepted event is judged within one interval (plus
//!   the time of the pass). At shutdown one last pass judges what is still dirty.
//! * Accepted events are also in the store (see `ingest`); events that fall out of the buffer by
//!   time are pruned there too. At start the buffers are rebuilt from the store (the newest
//!   `buffer_max_events` per tenant) and judged: already stored detections are recognised by
//!   fingerprint, so a restart adds only what the stopped process had not judged yet.

use super::config::ServeConfig;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use stormwatch_engine::detect::baseline::Baseline;
use stormwatch_engine::detect::ioc::{self, Indicator, IocDetector};
use stormwatch_engine::detect::mailbox::{MailDetector, MailOptions};
use stormwatch_engine::detect::sigma::SigmaDetector;
use stormwatch_engine::detect::verdicts::VerdictDetector;
use stormwatch_engine::detect::Detector;
use stormwatch_engine::{Alert, Event, Level};
use stormwatch_sigma::{Config as SigmaConfig, Mapping, RuleSet};
use stormwatch_store::{CatalogItem, DedupPolicy, NewDetection, Store};

/// What the judge runs: the loaded rules and the detector settings.
pub struct Engine {
    rules: RuleSet,
    mapping: Mapping,
    mail: MailOptions,
    indicators: Vec<Indicator>,
    buffer_ms: i64,
    buffer_max: usize,
    pub policy: DedupPolicy,
}

/// What one judge pass over a tenant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Judged {
    pub events: usize,
    pub detections: usize,
    pub new_detections: usize,
    pub new_incidents: usize,
}

impl Engine {
    /// Builds the judge from the configuration (`rules`, `ioc_feeds`) plus rules and feeds
    /// uploaded through the API (named `api:rules/NAME`, `api:feeds/NAME` in messages); load
    /// problems come back as warnings, the rest loads. The built-in `storm-0558` feed is
    /// always on.
    pub fn build(
        c: &ServeConfig,
        rules: &[CatalogItem],
        feeds: &[CatalogItem],
    ) -> (Engine, Vec<String>) {
        let texts: Vec<(PathBuf, String)> = rules
            .iter()
            .map(|r| {
                (
                    PathBuf::from(format!("api:rules/{}", r.name)),
                    r.text.clone(),
                )
            })
            .collect();
        let (rules, errors) = RuleSet::load_sources(&c.rules, &texts, &SigmaConfig::builtin());
        let mut warnings: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let mut indicators = ioc::storm_0558();
        let loaded = c.ioc_feeds.iter().map(|p| ioc::load_feed(p)).chain(
            feeds
                .iter()
                .map(|f| ioc::parse_feed(&f.text, &format!("api:feeds/{}", f.name))),
        );
        for feed in loaded {
            match feed {
                Ok((list, notes)) => {
                    indicators.extend(list);
                    warnings.extend(notes);
                }
                Err(e) => warnings.push(e.to_string()),
            }
        }
        let engine = Engine {
            rules,
            mapping: Mapping::builtin(),
            mail: MailOptions {
                learn_days: c.learn_days,
                signin_window_secs: c.signin_window_hours * 3600,
                ..MailOptions::default()
            },
            indicators,
            buffer_ms: c.buffer_days.saturating_mul(86_400_000),
            buffer_max: c.buffer_max_events,
            policy: DedupPolicy {
                window_ms: c.incident_window_hours.saturating_mul(3_600_000),
                min_level: c.incident_min_level,
            },
        };
        (engine, warnings)
    }

    /// Number of indicators loaded (built-in feed included).
    pub fn indicator_count(&self) -> usize {
        self.indicators.len()
    }

    /// Number of Sigma rules loaded.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Runs every detector over `events` (in order) and returns detections and notes.
    pub fn detect(&self, events: &[Event]) -> (Vec<Alert>, Vec<String>) {
        let mut sigma =
            (!self.rules.is_empty()).then(|| SigmaDetector::new(&self.rules, &self.mapping));
        let mut mail = MailDetector::new(self.mail.clone(), Baseline::default());
        let mut ioc = IocDetector::new(self.indicators.clone());
        let mut verdicts = VerdictDetector;
        let mut detectors: Vec<&mut dyn Detector> = vec![&mut mail, &mut ioc, &mut verdicts];
        if let Some(s) = sigma.as_mut() {
            detectors.insert(0, s);
        }
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for e in events {
            for d in detectors.iter_mut() {
                d.observe(e, &mut out);
            }
        }
        for d in detectors.iter_mut() {
            d.finish(&mut out, &mut notes);
        }
        (out, notes)
    }

    /// Judges one tenant's events and stores what was found.
    pub fn judge(
        &self,
        tenant: &str,
        events: &[Event],
        store: &dyn Store,
        now_ms: i64,
    ) -> Result<(Judged, Vec<String>), stormwatch_store::StoreError> {
        let (alerts, notes) = self.detect(events);
        let mut j = Judged {
            events: events.len(),
            detections: alerts.len(),
            ..Judged::default()
        };
        for mut a in alerts {
            a.tenant = Some(tenant.to_string());
            let d = new_detection(&a, tenant, now_ms);
            let r = store.record_detection(&d, &self.policy, now_ms)?;
            j.new_detections += usize::from(r.inserted);
            j.new_incidents += usize::from(r.incident_created);
        }
        Ok((j, notes))
    }
}

/// Severity as the store keeps it: 0 informational … 4 critical.
pub fn level_number(l: Level) -> u8 {
    Level::ALL.iter().position(|x| *x == l).unwrap_or(0) as u8
}

/// The actor an incident is about: the client address, else the app id, else the user.
pub fn actor(a: &Alert) -> String {
    a.ip.as_deref()
        .or(a.app_id.as_deref())
        .or(a.user.as_deref())
        .unwrap_or("-")
        .to_string()
}

fn new_detection(a: &Alert, tenant: &str, now_ms: i64) -> NewDetection {
    let time_ms = a.time.map_or(now_ms, |t| t.timestamp_millis());
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let fingerprint = [
        a.rule.id.clone(),
        tenant.to_string(),
        opt(&a.user),
        opt(&a.ip),
        opt(&a.app_id),
        time_ms.to_string(),
        a.event_ids.first().cloned().unwrap_or_default(),
    ]
    .join("\u{1f}");
    NewDetection {
        fingerprint,
        tenant: tenant.to_string(),
        rule_id: a.rule.id.clone(),
        rule_title: a.rule.title.clone(),
        level: level_number(a.rule.level),
        time_ms,
        actor: actor(a),
        record: serde_json::to_value(a).unwrap_or_default(),
    }
}

/// One tenant's buffer.
#[derive(Default)]
struct TenantBuffer {
    events: Vec<Event>,
    dirty: bool,
}

/// Every tenant's buffer. Shared between the ingest handlers and the judge.
#[derive(Default, Clone)]
pub struct Buffers {
    inner: Arc<Mutex<HashMap<String, TenantBuffer>>>,
}

impl Buffers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, TenantBuffer>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends accepted events to their tenant's buffer and marks it dirty.
    pub fn push(&self, tenant: &str, events: Vec<Event>) {
        let mut all = self.lock();
        let b = all.entry(tenant.to_string()).or_default();
        b.events.extend(events);
        b.dirty = true;
    }

    /// Events held for a tenant.
    pub fn len(&self, tenant: &str) -> usize {
        self.lock().get(tenant).map_or(0, |b| b.events.len())
    }

    /// Marks every tenant with events dirty, so the next pass re-judges all of them (after the
    /// rules or feeds changed).
    pub fn mark_all_dirty(&self) {
        for b in self.lock().values_mut() {
            b.dirty = !b.events.is_empty() || b.dirty;
        }
    }

    /// Events held for every tenant.
    pub fn total(&self) -> usize {
        self.lock().values().map(|b| b.events.len()).sum()
    }

    /// Judges every dirty tenant once. Ingest goes on while a tenant is judged: its new events
    /// land in the buffer and mark it dirty for the next pass.
    pub fn judge_dirty(
        &self,
        engine: &Engine,
        store: &dyn Store,
        now_ms: i64,
    ) -> Vec<(String, Result<Judged, String>, Vec<String>)> {
        let dirty: Vec<(String, Vec<Event>)> = {
            let mut all = self.lock();
            all.iter_mut()
                .filter(|(_, b)| b.dirty)
                .map(|(t, b)| {
                    b.dirty = false;
                    (t.clone(), std::mem::take(&mut b.events))
                })
                .collect()
        };
        let mut report = Vec::new();
        for (tenant, mut events) in dirty {
            events.sort_by_key(|e| e.core.time);
            if let Some(cutoff) = trim(&mut events, engine.buffer_ms, engine.buffer_max) {
                if let Err(e) = store.prune_events(&tenant, cutoff) {
                    tracing::error!(tenant = %tenant, error = %e, "pruning events failed");
                }
            }
            let outcome = engine.judge(&tenant, &events, store, now_ms);
            {
                let mut all = self.lock();
                let b = all.entry(tenant.clone()).or_default();
                let newer = std::mem::replace(&mut b.events, events);
                b.events.extend(newer);
                if outcome.is_err() {
                    b.dirty = true; // try again next pass
                }
            }
            match outcome {
                Ok((j, notes)) => report.push((tenant, Ok(j), notes)),
                Err(e) => report.push((tenant, Err(e.to_string()), Vec::new())),
            }
        }
        report
    }
}

/// Drops events older than `keep_ms` before the newest, then the oldest beyond `max`; the time
/// cut (Unix ms), for pruning the stored events the same way.
fn trim(events: &mut Vec<Event>, keep_ms: i64, max: usize) -> Option<i64> {
    let cutoff = events
        .iter()
        .rev()
        .find_map(|e| e.core.time)
        .map(|newest| newest.timestamp_millis().saturating_sub(keep_ms));
    if let Some(cutoff) = cutoff {
        events.retain(|e| e.core.time.is_none_or(|t| t.timestamp_millis() >= cutoff));
    }
    if events.len() > max {
        let excess = events.len() - max;
        events.drain(..excess);
    }
    cutoff
}
