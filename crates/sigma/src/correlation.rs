//! Correlation rules (`correlation:` documents) and the streaming [`Correlator`].
//!
//! Semantics where the spec leaves room (documented in the crate doc too):
//! - Events are fed in time order per group; a late event counts as if it arrived at the newest
//!   time seen for its group.
//! - A window holds the events of the last `timespan`, both ends inclusive: two events exactly
//!   `timespan` apart are in the same window.
//! - **Eager** conditions (only `gt`/`gte` bounds; event_count, value_count, value_sum, temporal,
//!   temporal_ordered) are evaluated on a sliding window each time an event arrives; a hit
//!   empties the group's window, so one burst gives one hit.
//! - **At-close** conditions (any `lt`/`lte`/`eq`/`neq` bound, and every value_avg and
//!   value_percentile / value_median) are evaluated on a window anchored at the group's first event, when an
//!   event falls outside it or at [`Correlator::flush`]; the next window starts afresh.
//! - `temporal` without a condition needs every referenced rule; with one, the condition is on
//!   the number of distinct rules seen. `temporal_ordered` counts how many of the rules were seen
//!   in the listed order (greedily, earliest first); without a condition all are needed.
//! - value_percentile (as pySigma): the `percentile` (0–100, required) of the numeric values of
//!   `field` in the window, linearly interpolated between closest ranks; value_median (a pySigma
//!   extension) is the 50th percentile. Non-numeric values are ignored.
//! - `timespan` units: `s`, `m`, `h`, `d`, `w`, and pySigma's `M` (30.44 days) and `y` (365.24
//!   days).
//! - A group-by field absent from an event groups under "absent" (a value of its own).
//! - Chaining: a correlation's hit is fed to the correlations that reference it, as an event
//!   whose fields are the group-by values and whose time is the hit's last event time.

use crate::error::{CompileError, ErrorKind};
use crate::event::Event;
use crate::rule::Meta;
use crate::yaml::{Kind, Node};
use crate::RuleSet;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};

/// The seven correlation types of Sigma v2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    /// pySigma extension: the median of `field`.
    ValueMedian,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "event_count" => Self::EventCount,
            "value_count" => Self::ValueCount,
            "temporal" => Self::Temporal,
            "temporal_ordered" => Self::TemporalOrdered,
            "value_sum" => Self::ValueSum,
            "value_avg" => Self::ValueAvg,
            "value_percentile" => Self::ValuePercentile,
            "value_median" => Self::ValueMedian,
            _ => return None,
        })
    }

    /// The Sigma name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventCount => "event_count",
            Self::ValueCount => "value_count",
            Self::Temporal => "temporal",
            Self::TemporalOrdered => "temporal_ordered",
            Self::ValueSum => "value_sum",
            Self::ValueAvg => "value_avg",
            Self::ValuePercentile => "value_percentile",
            Self::ValueMedian => "value_median",
        }
    }
}

/// A correlation condition: bounds joined by AND, and the field for value_* types.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Condition {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub eq: Option<f64>,
    pub neq: Option<f64>,
    pub field: Option<String>,
    /// For value_percentile: which percentile (0–100).
    pub percentile: Option<f64>,
}

impl Condition {
    /// True if `x` satisfies every bound.
    pub fn holds(&self, x: f64) -> bool {
        bound(self.gt, |b| x > b)
            && bound(self.gte, |b| x >= b)
            && bound(self.lt, |b| x < b)
            && bound(self.lte, |b| x <= b)
            && bound(self.eq, |b| x == b)
            && bound(self.neq, |b| x != b)
    }

    fn only_lower_bounds(&self) -> bool {
        self.lt.is_none() && self.lte.is_none() && self.eq.is_none() && self.neq.is_none()
    }
}

fn bound(b: Option<f64>, ok: impl Fn(f64) -> bool) -> bool {
    match b {
        None => true,
        Some(b) => ok(b),
    }
}

/// What a correlation refers to, resolved when the rule set is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Rule(usize),
    Correlation(usize),
}

/// A compiled correlation rule.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CorrelationRule {
    pub meta: Meta,
    pub kind: CorrelationType,
    /// Referenced rules (ids or names), as written.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    pub condition: Condition,
    /// alias → (rule reference → field name).
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    pub generate: bool,
    pub(crate) targets: Vec<Target>,
    pub(crate) standalone: bool,
}

fn structure(line: usize, m: impl Into<String>) -> CompileError {
    CompileError::new(line, ErrorKind::Structure(m.into()))
}

/// Parses `30s`, `5m`, `1h`, `2d`, `1w` into milliseconds.
pub(crate) fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        'M' => 2_629_746_000,
        'y' => 31_556_952_000,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

impl CorrelationRule {
    pub(crate) fn compile(doc: &Node, meta: Meta) -> Result<CorrelationRule, CompileError> {
        let c = doc
            .get("correlation")
            .filter(|c| matches!(c.kind, Kind::Map(_)))
            .ok_or_else(|| structure(doc.line, "'correlation' must be a mapping"))?;
        let tnode = c
            .get("type")
            .ok_or_else(|| structure(c.line, "correlation has no 'type'"))?;
        let kind = tnode
            .as_scalar_string()
            .as_deref()
            .and_then(CorrelationType::parse)
            .ok_or_else(|| structure(tnode.line, "unknown correlation type"))?;
        let rules = c.get("rules").map(Node::as_string_list).unwrap_or_default();
        if rules.is_empty() {
            return Err(structure(c.line, "correlation has no 'rules'"));
        }
        let group_by = c
            .get("group-by")
            .map(Node::as_string_list)
            .unwrap_or_default();
        let ts = c.get("timespan").or_else(|| c.get("timeframe"));
        let timespan_ms = ts
            .and_then(Node::as_scalar_string)
            .as_deref()
            .and_then(parse_timespan)
            .ok_or_else(|| {
                structure(
                    ts.map_or(c.line, |n| n.line),
                    "missing or bad 'timespan' (e.g. 5m)",
                )
            })?;
        let mut condition = Condition::default();
        let mut has_bound = false;
        if let Some(cn) = c.get("condition") {
            let Kind::Map(entries) = &cn.kind else {
                return Err(structure(
                    cn.line,
                    "correlation condition must be a mapping",
                ));
            };
            for (k, v) in entries {
                if k == "field" {
                    condition.field = v.as_scalar_string();
                    continue;
                }
                if k == "percentile" {
                    condition.percentile = match &v.kind {
                        Kind::Number(n) => {
                            n.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p))
                        }
                        _ => None,
                    };
                    if condition.percentile.is_none() {
                        return Err(structure(
                            v.line,
                            "'percentile' must be a number from 0 to 100",
                        ));
                    }
                    continue;
                }
                let x = match &v.kind {
                    Kind::Number(n) => n.parse::<f64>().ok(),
                    _ => None,
                }
                .ok_or_else(|| structure(v.line, format!("condition '{k}' needs a number")))?;
                has_bound = true;
                let slot = match k.as_str() {
                    "gt" => &mut condition.gt,
                    "gte" => &mut condition.gte,
                    "lt" => &mut condition.lt,
                    "lte" => &mut condition.lte,
                    "eq" => &mut condition.eq,
                    "neq" => &mut condition.neq,
                    other => {
                        return Err(structure(
                            v.line,
                            format!("unknown condition operator '{other}'"),
                        ))
                    }
                };
                *slot = Some(x);
            }
        }
        let needs_field = matches!(
            kind,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
                | CorrelationType::ValueMedian
        );
        if needs_field && condition.field.is_none() {
            return Err(structure(
                c.line,
                format!("{} needs 'field' in its condition", kind.as_str()),
            ));
        }
        if kind == CorrelationType::ValuePercentile && condition.percentile.is_none() {
            return Err(structure(
                c.line,
                "value_percentile needs 'percentile' (0-100) in its condition",
            ));
        }
        let temporal = matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        );
        if !has_bound {
            if temporal {
                condition.gte = Some(rules.len() as f64);
            } else {
                return Err(structure(c.line, "correlation has no condition"));
            }
        }
        let mut aliases = Vec::new();
        if let Some(a) = c.get("aliases") {
            let Kind::Map(entries) = &a.kind else {
                return Err(structure(a.line, "'aliases' must be a mapping"));
            };
            for (alias, m) in entries {
                let Kind::Map(map) = &m.kind else {
                    return Err(structure(
                        m.line,
                        format!("alias '{alias}' must map rule names to fields"),
                    ));
                };
                let pairs = map
                    .iter()
                    .filter_map(|(r, f)| f.as_scalar_string().map(|f| (r.clone(), f)))
                    .collect();
                aliases.push((alias.clone(), pairs));
            }
        }
        let generate = matches!(
            c.get("generate")
                .or_else(|| doc.get("generate"))
                .map(|n| &n.kind),
            Some(Kind::Bool(true))
        );
        Ok(CorrelationRule {
            meta,
            kind,
            rules,
            group_by,
            timespan_ms,
            condition,
            aliases,
            generate,
            targets: Vec::new(),
            standalone: true,
        })
    }

    /// Whether hits are reported on their own (false when only used by other correlations
    /// without `generate: true`).
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    fn eager(&self) -> bool {
        self.condition.only_lower_bounds()
            && !matches!(
                self.kind,
                CorrelationType::ValueAvg
                    | CorrelationType::ValuePercentile
                    | CorrelationType::ValueMedian
            )
    }

    /// The field holding group-by `g` in events of the referenced rule at `pos`.
    fn group_field<'a>(&'a self, g: &'a str, pos: usize, set: &'a RuleSet) -> &'a str {
        for (alias, pairs) in &self.aliases {
            if alias == g {
                let reference = &self.rules[pos];
                let names = target_names(set, self.targets.get(pos).copied());
                for (r, f) in pairs {
                    if r == reference || names.iter().any(|n| n == r) {
                        return f;
                    }
                }
            }
        }
        g
    }
}

fn target_names(set: &RuleSet, t: Option<Target>) -> Vec<&str> {
    let meta = match t {
        Some(Target::Rule(i)) => set.rules().get(i).map(|r| &r.meta),
        Some(Target::Correlation(i)) => set.correlations().get(i).map(|c| &c.meta),
        None => None,
    };
    meta.map(|m| {
        let mut v = vec![m.id.as_str()];
        if let Some(n) = &m.name {
            v.push(n);
        }
        v
    })
    .unwrap_or_default()
}

/// A correlation that fired.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CorrelationHit {
    /// Index into [`RuleSet::correlations`].
    pub correlation: usize,
    /// The group-by fields and their values (`None` = absent in the events).
    pub group: Vec<(String, Option<String>)>,
    /// The measured value (count, distinct count, sum, average or percentage).
    pub value: f64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The caller's references of the contributing events, in arrival order.
    pub events: Vec<u64>,
}

#[derive(Debug, Clone)]
struct Entry {
    time: i64,
    pos: usize,
    value: Option<String>,
    refs: Vec<u64>,
}

#[derive(Debug, Default)]
struct Window {
    entries: VecDeque<Entry>,
    newest: i64,
}

type GroupKey = Vec<Option<String>>;

/// Streaming correlation state over one [`RuleSet`]. Feed it every base-rule match.
pub struct Correlator<'a> {
    set: &'a RuleSet,
    state: Vec<HashMap<GroupKey, Window>>,
    by_rule: HashMap<usize, Vec<(usize, usize)>>,
    by_corr: HashMap<usize, Vec<(usize, usize)>>,
    /// At most this many open groups over all correlations (memory cap).
    max_groups: usize,
    /// Matches that would have opened a group past the cap, not kept.
    refused: u64,
}

/// Default cap on open correlation groups: a group holds the matches within one timespan.
pub const MAX_GROUPS: usize = 1_000_000;

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'a> Correlator<'a> {
    pub fn new(set: &'a RuleSet) -> Self {
        let mut by_rule: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        let mut by_corr: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        for (ci, c) in set.correlations().iter().enumerate() {
            for (pos, t) in c.targets.iter().enumerate() {
                match t {
                    Target::Rule(r) => by_rule.entry(*r).or_default().push((ci, pos)),
                    Target::Correlation(k) => by_corr.entry(*k).or_default().push((ci, pos)),
                }
            }
        }
        Correlator {
            set,
            state: set.correlations().iter().map(|_| HashMap::new()).collect(),
            by_rule,
            by_corr,
            max_groups: MAX_GROUPS,
            refused: 0,
        }
    }

    /// Caps the open groups (memory): a match that would open one more is counted in
    /// [`Correlator::refused`] instead.
    pub fn with_max_groups(mut self, max_groups: usize) -> Self {
        self.max_groups = max_groups;
        self
    }

    /// Matches not kept because the group cap was reached (one per correlation the match
    /// would have opened a group of, chained hits included), and the cap. Groups are freed
    /// only by [`Correlator::advance`] and [`Correlator::flush`].
    pub fn refused(&self) -> (u64, usize) {
        (self.refused, self.max_groups)
    }

    /// True if some correlation uses matches of the rule at `rule_index`.
    pub fn wants(&self, rule_index: usize) -> bool {
        self.by_rule.contains_key(&rule_index)
    }

    /// Feeds a match of the rule at `rule_index` (into [`RuleSet::rules`]) on `event` at
    /// `time_ms`; `event_ref` is the caller's handle for the event (index, record number...).
    /// Returns the correlations that fired, chained ones included.
    pub fn feed(
        &mut self,
        rule_index: usize,
        event: &dyn Event,
        time_ms: i64,
        event_ref: u64,
    ) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        let targets = self.by_rule.get(&rule_index).cloned().unwrap_or_default();
        for (ci, pos) in targets {
            self.feed_one(ci, pos, event, time_ms, vec![event_ref], &mut hits, 0);
        }
        hits
    }

    /// Tells the correlator that time has reached `now_ms` (for long-running streams): expires
    /// sliding-window events older than the timespan, closes at-close windows that ended, and
    /// drops empty groups. Returns the at-close hits. Events fed later must not be older.
    pub fn advance(&mut self, now_ms: i64) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        for ci in 0..self.state.len() {
            let Some(corr) = self.set.correlations().get(ci) else {
                continue;
            };
            let span = corr.timespan_ms;
            let eager = corr.eager();
            let mut keys: Vec<GroupKey> = self.state[ci].keys().cloned().collect();
            keys.sort();
            for key in keys {
                let Some(mut w) = self.state[ci].remove(&key) else {
                    continue;
                };
                let mut produced = Vec::new();
                if eager {
                    while w
                        .entries
                        .front()
                        .is_some_and(|e| e.time < now_ms.saturating_sub(span))
                    {
                        w.entries.pop_front();
                    }
                } else if w
                    .entries
                    .front()
                    .is_some_and(|e| now_ms > e.time.saturating_add(span))
                {
                    self.close(ci, &key, &mut w, &mut produced);
                }
                if !w.entries.is_empty() {
                    self.state[ci].insert(key, w);
                }
                for h in produced {
                    self.chain(h, &mut hits, 0);
                }
            }
        }
        hits
    }

    /// Number of open groups over all correlations (memory held by the correlator).
    pub fn open_groups(&self) -> usize {
        self.state.iter().map(HashMap::len).sum()
    }

    /// Closes every open window (end of input) and returns the at-close hits.
    pub fn flush(&mut self) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        for ci in 0..self.state.len() {
            let mut keys: Vec<GroupKey> = self.state[ci].keys().cloned().collect();
            keys.sort();
            for key in keys {
                let Some(mut w) = self.state[ci].remove(&key) else {
                    continue;
                };
                let mut produced = Vec::new();
                self.close(ci, &key, &mut w, &mut produced);
                for h in produced {
                    self.chain(h, &mut hits, 0);
                }
            }
        }
        hits
    }

    #[allow(clippy::too_many_arguments)]
    fn feed_one(
        &mut self,
        ci: usize,
        pos: usize,
        event: &dyn Event,
        time_ms: i64,
        refs: Vec<u64>,
        hits: &mut Vec<CorrelationHit>,
        depth: usize,
    ) {
        let set = self.set;
        let Some(corr) = set.correlations().get(ci) else {
            return;
        };
        let key: GroupKey = corr
            .group_by
            .iter()
            .map(|g| {
                event
                    .field(corr.group_field(g, pos, set))
                    .map(|v| scalar_string(&v))
            })
            .collect();
        let value = corr
            .condition
            .field
            .as_deref()
            .and_then(|f| event.field(f))
            .filter(|v| !v.is_null())
            .map(|v| scalar_string(&v));
        let mut produced = Vec::new();
        let mut w = match self.state[ci].remove(&key) {
            Some(w) => w,
            None if self.open_groups() >= self.max_groups => {
                self.refused += 1;
                return;
            }
            None => Window::default(),
        };
        let now = time_ms.max(w.newest);
        let entry = Entry {
            time: now,
            pos,
            value,
            refs,
        };
        if corr.eager() {
            w.newest = now;
            w.entries.push_back(entry);
            while w
                .entries
                .front()
                .is_some_and(|e| e.time < now.saturating_sub(corr.timespan_ms))
            {
                w.entries.pop_front();
            }
            if let Some(m) = metric(corr, &w.entries) {
                if corr.condition.holds(m) {
                    produced.push(make_hit(ci, corr, &key, m, &w.entries));
                    w.entries.clear();
                }
            }
        } else {
            if w.entries
                .front()
                .is_some_and(|e| now > e.time.saturating_add(corr.timespan_ms))
            {
                self.close(ci, &key, &mut w, &mut produced);
            }
            w.newest = now;
            w.entries.push_back(entry);
        }
        if !w.entries.is_empty() {
            self.state[ci].insert(key, w);
        }
        for h in produced {
            self.chain_from(h, hits, depth);
        }
    }

    fn chain_from(&mut self, h: CorrelationHit, hits: &mut Vec<CorrelationHit>, depth: usize) {
        self.chain(h, hits, depth);
    }

    /// Records a hit and feeds it to the correlations that reference its correlation.
    fn chain(&mut self, h: CorrelationHit, hits: &mut Vec<CorrelationHit>, depth: usize) {
        let next = self
            .by_corr
            .get(&h.correlation)
            .cloned()
            .unwrap_or_default();
        if depth < 16 && !next.is_empty() {
            let mut obj = serde_json::Map::new();
            for (k, v) in &h.group {
                if let Some(v) = v {
                    obj.insert(k.clone(), Value::String(v.clone()));
                }
            }
            let ev = Value::Object(obj);
            for (ci, pos) in next {
                self.feed_one(ci, pos, &ev, h.last_ms, h.events.clone(), hits, depth + 1);
            }
        }
        hits.push(h);
    }

    fn close(&self, ci: usize, key: &GroupKey, w: &mut Window, out: &mut Vec<CorrelationHit>) {
        let Some(corr) = self.set.correlations().get(ci) else {
            return;
        };
        if w.entries.is_empty() {
            return;
        }
        if let Some(m) = metric(corr, &w.entries) {
            if corr.condition.holds(m) {
                out.push(make_hit(ci, corr, key, m, &w.entries));
            }
        }
        w.entries.clear();
    }
}

fn metric(corr: &CorrelationRule, entries: &VecDeque<Entry>) -> Option<f64> {
    let nums = || {
        entries
            .iter()
            .filter_map(|e| e.value.as_deref()?.trim().parse::<f64>().ok())
    };
    Some(match corr.kind {
        CorrelationType::EventCount => entries.len() as f64,
        CorrelationType::ValueCount => entries
            .iter()
            .filter_map(|e| e.value.as_deref())
            .collect::<HashSet<_>>()
            .len() as f64,
        CorrelationType::Temporal => {
            entries.iter().map(|e| e.pos).collect::<HashSet<_>>().len() as f64
        }
        CorrelationType::TemporalOrdered => {
            let mut k = 0;
            for e in entries {
                if e.pos == k {
                    k += 1;
                }
            }
            k as f64
        }
        CorrelationType::ValueSum => nums().sum(),
        CorrelationType::ValueAvg => {
            let (s, n) = nums().fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
            if n == 0 {
                return None;
            }
            s / n as f64
        }
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            let mut xs: Vec<f64> = nums().filter(|x| x.is_finite()).collect();
            if xs.is_empty() {
                return None;
            }
            xs.sort_by(f64::total_cmp);
            let p = match corr.kind {
                CorrelationType::ValueMedian => 50.0,
                _ => corr.condition.percentile.unwrap_or(50.0),
            };
            let rank = p / 100.0 * (xs.len() - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            let (a, b) = (xs[lo.min(xs.len() - 1)], xs[hi.min(xs.len() - 1)]);
            a + (b - a) * (rank - lo as f64)
        }
    })
}

fn make_hit(
    ci: usize,
    corr: &CorrelationRule,
    key: &GroupKey,
    value: f64,
    entries: &VecDeque<Entry>,
) -> CorrelationHit {
    // For temporal_ordered, events before the first event of the first rule cannot contribute.
    let skip = if corr.kind == CorrelationType::TemporalOrdered {
        entries.iter().position(|e| e.pos == 0).unwrap_or(0)
    } else {
        0
    };
    let entries: Vec<&Entry> = entries.iter().skip(skip).collect();
    CorrelationHit {
        correlation: ci,
        group: corr
            .group_by
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect(),
        value,
        first_ms: entries.first().map_or(0, |e| e.time),
        last_ms: entries.last().map_or(0, |e| e.time),
        events: entries
            .iter()
            .flat_map(|e| e.refs.iter().copied())
            .collect(),
    }
}
