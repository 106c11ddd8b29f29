//! Sigma rules as a detector: log-source routing, field mapping, matching, correlations.
//!
//! Each rule is routed once, at construction, to the log kinds its logsource maps to; an event
//! meets only the rules of its kind (and the route's `where` conditions). Rules without a route
//! (a logsource no mapping knows) never match and are counted, not hidden. Matches of rules
//! that correlations use are fed to the [`Correlator`]; its hits become `correlation`
//! detections listing the contributing records' ids.
//!
//! The fast path ([`SigmaDetector::new`]) indexes each event once for its kind
//! ([`Mapping::index`], with the lenient lookups of `SigmaView` behind it) and asks a
//! [`Router`] for the rules whose route accepts it, checking each distinct route once. The
//! plain path ([`SigmaDetector::plain`]) resolves every field through the mapping per lookup and
//! tests every rule of the kind; it is kept as the reference the fast path is tested against
//! (`tests/fastpath.rs`). [`SigmaDetector::interest`] tells the witness prefilter
//! ([`crate::prefilter`]) which raw lines the routed rules could match.

use super::Detector;
use crate::alert::{Alert, Level, RuleKind, RuleRef};
use crate::event::{Event, LogKind};
use crate::normalize::lookup::{get_ci, path_in};
use crate::prefilter::Interest;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use stormwatch_sigma::{Correlator, IndexedEvent, Mapping, Route, Router, RuleSet};

/// An engine event as Sigma sees it: the normalized record, with the event's UTC time.
///
/// Field names resolve exactly first (the UAL uses the names SigmaHQ's m365 rules use); then,
/// ignoring ASCII case, at the top level and inside an Azure Monitor envelope's `properties` —
/// so SigmaHQ's azure rules, written against the Log Analytics schema (`ResultType`,
/// `AppDisplayName`), also match diagnostic-settings exports (`resultType`,
/// `properties.appDisplayName`).
struct SigmaView<'a>(&'a Event);

impl stormwatch_sigma::Event for SigmaView<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        let record = &self.0.record;
        if let Some(v) = stormwatch_sigma::Event::field(record, name) {
            return Some(v);
        }
        let map = record.as_object()?;
        path_in(map, name)
            .or_else(|| match self.0.kind {
                LogKind::EntraSignIn | LogKind::EntraAudit | LogKind::Generic => {
                    let props = get_ci(map, "properties")?.as_object()?;
                    path_in(props, name)
                }
                _ => None,
            })
            .map(Cow::Borrowed)
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        stormwatch_sigma::Event::any_value(&self.0.record, f)
    }

    fn timestamp_ms(&self) -> Option<i64> {
        self.0.core.time.map(|t| t.timestamp_millis())
    }
}

/// The fast path's view: fields indexed once ([`IndexedEvent`]); a name the index does not
/// hold falls back to the mapped [`SigmaView`] (case-insensitive names, envelope properties).
struct FastView<'a> {
    indexed: IndexedEvent<'a>,
    slow: stormwatch_sigma::MappedEvent<'a>,
    time_ms: Option<i64>,
}

impl stormwatch_sigma::Event for FastView<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.indexed.field(name).or_else(|| self.slow.field(name))
    }

    fn field_lowered(&self, name: &str) -> Option<&str> {
        self.indexed.field_lowered(name)
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.indexed.any_value(f)
    }

    fn timestamp_ms(&self) -> Option<i64> {
        self.time_ms
    }
}

/// What a correlation needs to name the events it saw.
#[derive(Debug, Clone)]
struct Seen {
    record_id: Option<String>,
    tenant: Option<String>,
    user: Option<String>,
    ip: Option<String>,
    app_id: Option<String>,
}

/// Sigma rules, routed and ready to evaluate.
pub struct SigmaDetector<'a> {
    set: &'a RuleSet,
    mapping: &'a Mapping,
    /// Rule indices per log kind, with their routes.
    by_kind: HashMap<LogKind, Vec<(usize, Route)>>,
    /// Rules grouped by route, for the fast path; `None` on the plain path.
    router: Option<Router>,
    correlator: Correlator<'a>,
    seen: Vec<Seen>,
    unrouted: usize,
    matches: u64,
}

/// Maps a Sigma level to a detection level (`informational` when the rule gives none).
pub fn level(l: Option<stormwatch_sigma::Level>) -> Level {
    l.and_then(|l| Level::from_name(l.as_str()))
        .unwrap_or(Level::Informational)
}

impl<'a> SigmaDetector<'a> {
    /// The fast path: indexed events, routed rules.
    pub fn new(set: &'a RuleSet, mapping: &'a Mapping) -> Self {
        let mut d = SigmaDetector::plain(set, mapping);
        d.router = Some(Router::new(mapping, set));
        d
    }

    /// The plain path: every rule of the event's kind tested through a per-lookup mapped view
    /// (the reference for the fast path's equivalence test).
    pub fn plain(set: &'a RuleSet, mapping: &'a Mapping) -> Self {
        let mut by_kind: HashMap<LogKind, Vec<(usize, Route)>> = HashMap::new();
        let mut unrouted = 0;
        for (i, rule) in set.rules().iter().enumerate() {
            let Some(route) = mapping.route(rule.logsource()) else {
                unrouted += 1;
                continue;
            };
            let mut any = false;
            for kind in route.kinds() {
                if let Some(k) = LogKind::ALL.into_iter().find(|k| k.name() == kind) {
                    by_kind.entry(k).or_default().push((i, route.clone()));
                    any = true;
                }
            }
            if !any {
                unrouted += 1;
            }
        }
        SigmaDetector {
            set,
            mapping,
            by_kind,
            router: None,
            correlator: Correlator::new(set),
            seen: Vec::new(),
            unrouted,
            matches: 0,
        }
    }

    /// The raw lines the routed rules could match, for the witness prefilter: every routed
    /// rule's witnesses; a routed rule without witnesses makes its log kinds wanted whole.
    pub fn interest(&self) -> Interest {
        let mut interest = Interest::nothing();
        for (kind, rules) in &self.by_kind {
            for (index, _) in rules {
                let rule = &self.set.rules()[*index];
                match (rule.witnesses(), self.read_keys(*kind, rule)) {
                    (Some(w), Some(keys)) => interest.kind_literals_in(*kind, w, &keys),
                    (Some(w), None) => interest.kind_literals(*kind, w),
                    (None, _) => interest.kind(*kind),
                }
            }
        }
        interest
    }

    /// The top-level fields of an event of `kind` whose values `rule` reads: for each field
    /// it tests, the field name and each path the mapping gives it for the kind, whole (a key
    /// may hold a dot) and up to the first dot. `None` for a keyword search (every value).
    fn read_keys(&self, kind: LogKind, rule: &stormwatch_sigma::Rule) -> Option<Vec<String>> {
        let mut keys = Vec::new();
        for field in rule.fields()? {
            let paths = self.mapping.field_paths(kind.name(), field);
            for path in std::iter::once(field.to_string()).chain(paths) {
                if let Some((first, _)) = path.split_once('.') {
                    keys.push(first.to_string());
                }
                keys.push(path);
            }
        }
        Some(keys)
    }

    /// Rules whose logsource maps to no log kind stormwatch reads.
    pub fn unrouted(&self) -> usize {
        self.unrouted
    }

    /// Tests rule `index` on an event; reports a match and feeds it to correlations.
    fn evaluate(
        &mut self,
        index: usize,
        event: &Event,
        sigma: &dyn stormwatch_sigma::Event,
        hits: &mut Vec<stormwatch_sigma::CorrelationHit>,
        out: &mut Vec<Alert>,
    ) {
        let rule = &self.set.rules()[index];
        if !rule.matches(sigma) {
            return;
        }
        self.matches += 1;
        if rule.is_standalone() {
            let summary = format!("{} ({})", rule.title(), describe(event));
            let evidence = json!({"logsource": format!("{:?}", rule.logsource())});
            out.push(Alert::for_event(
                self.rule_ref(index),
                event,
                summary,
                evidence,
            ));
        }
        if self.correlator.wants(index) {
            if let Some(t) = event.core.time {
                let reference = self.seen.len() as u64;
                let c = &event.core;
                self.seen.push(Seen {
                    record_id: c.record_id.clone(),
                    tenant: c.tenant.clone(),
                    user: c.user.clone(),
                    ip: c.ip.map(|i| i.to_string()),
                    app_id: c.app_id.clone(),
                });
                hits.extend(
                    self.correlator
                        .feed(index, sigma, t.timestamp_millis(), reference),
                );
            }
        }
    }

    fn rule_ref(&self, index: usize) -> RuleRef {
        let r = &self.set.rules()[index];
        RuleRef {
            id: r.id().to_string(),
            title: r.title().to_string(),
            level: level(r.level()),
            kind: RuleKind::Sigma,
            tags: r.meta.tags.clone(),
            status: r.meta.status.clone(),
        }
    }

    fn correlation_alert(&self, hit: &stormwatch_sigma::CorrelationHit) -> Alert {
        let c = &self.set.correlations()[hit.correlation];
        let seen: Vec<&Seen> = hit
            .events
            .iter()
            .filter_map(|r| self.seen.get(*r as usize))
            .collect();
        let common = |f: fn(&Seen) -> &Option<String>| {
            let first = seen.first().and_then(|s| f(s).clone())?;
            seen.iter()
                .all(|s| f(s).as_deref() == Some(first.as_str()))
                .then_some(first)
        };
        let group: serde_json::Map<String, Value> = hit
            .group
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let time = chrono::DateTime::from_timestamp_millis(hit.last_ms);
        Alert {
            time,
            rule: RuleRef {
                id: c.meta.id.clone(),
                title: c.meta.title.clone(),
                level: level(c.meta.level),
                kind: RuleKind::Correlation,
                tags: c.meta.tags.clone(),
                status: c.meta.status.clone(),
            },
            tenant: common(|s| &s.tenant),
            user: common(|s| &s.user),
            ip: common(|s| &s.ip),
            app_id: common(|s| &s.app_id),
            event_ids: seen.iter().filter_map(|s| s.record_id.clone()).collect(),
            source: None,
            summary: format!(
                "{} ({}: {} over {} events)",
                c.meta.title,
                c.kind.as_str(),
                hit.value,
                hit.events.len()
            ),
            evidence: json!({
                "correlation_type": c.kind.as_str(),
                "value": hit.value,
                "group": group,
                "first": chrono::DateTime::from_timestamp_millis(hit.first_ms).map(crate::event::format_time),
                "last": time.map(crate::event::format_time),
            }),
        }
    }
}

impl Detector for SigmaDetector<'_> {
    fn name(&self) -> &str {
        "sigma"
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let Some(rules) = self.by_kind.get(&event.kind) else {
            return;
        };
        let view = SigmaView(event);
        let kind = event.kind.name();
        let mut hits = Vec::new();
        match &self.router {
            Some(router) => {
                let fast = FastView {
                    indexed: self.mapping.index(kind, &event.record),
                    slow: self.mapping.view(kind, &view),
                    time_ms: event.core.time.map(|t| t.timestamp_millis()),
                };
                for index in router.candidates(kind, &fast) {
                    self.evaluate(index, event, &fast, &mut hits, out);
                }
            }
            None => {
                let mapped = self.mapping.view(kind, &view);
                let candidates: Vec<usize> = rules
                    .iter()
                    .filter(|(_, route)| route.accepts(kind, &mapped))
                    .map(|(i, _)| *i)
                    .collect();
                for index in candidates {
                    self.evaluate(index, event, &mapped, &mut hits, out);
                }
            }
        }
        for hit in hits {
            if self.set.correlations()[hit.correlation].is_standalone() {
                out.push(self.correlation_alert(&hit));
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Alert>, notes: &mut Vec<String>) {
        for hit in self.correlator.flush() {
            if self.set.correlations()[hit.correlation].is_standalone() {
                out.push(self.correlation_alert(&hit));
            }
        }
        let (refused, cap) = self.correlator.refused();
        if refused > 0 {
            notes.push(format!(
                "Sigma correlations: cap reached: {refused} times a match would have opened a \
                 correlation group past the first {cap}; those matches were not correlated"
            ));
        }
        if self.unrouted > 0 {
            notes.push(format!(
                "{} Sigma rules have a logsource no log kind maps to; they were not evaluated",
                self.unrouted
            ));
        }
    }
}

/// `user from ip via app` — the who/where of an event for a one-line summary.
fn describe(e: &Event) -> String {
    let c = &e.core;
    let mut parts = Vec::new();
    if let Some(op) = &c.operation {
        parts.push(op.clone());
    }
    if let Some(u) = &c.user {
        parts.push(format!("by {u}"));
    }
    if let Some(ip) = c.ip {
        parts.push(format!("from {ip}"));
    }
    if let Some(a) = &c.app_id {
        parts.push(format!("with app {a}"));
    }
    if parts.is_empty() {
        e.kind.name().to_string()
    } else {
        parts.join(" ")
    }
}
