//! Log-source routing and field-name mapping, from a YAML mapping with built-in defaults.
//!
//! The engine stays format-agnostic: log kinds are plain names chosen by the caller (the
//! built-in mapping, `mapping.yml` beside this file, uses stormwatch's kinds: `ual`,
//! `entra_signin`, `entra_audit`, `windows`, ...). A [`Route`] says which kinds a rule's
//! `logsource` applies to and which field values the event must carry (UAL `Workload`, Windows
//! `Channel` / `EventID`); [`MappedEvent`] resolves Sigma field names to event paths for a kind.
//! A mapping file has the same format as the built-in one and is merged over it: its
//! `logsources` entries are added (an entry with the same `logsource` replaces the built-in
//! ones), and its `fields` entries replace those of the same kind and name.

use crate::error::ConfigError;
use crate::event::Event;
use crate::rule::LogSource;
use crate::yaml::{self, Kind, Node};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const BUILTIN: &str = include_str!("mapping.yml");

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    logsource: LogSource,
    kinds: Vec<String>,
    conditions: Vec<(String, Vec<String>)>,
}

impl Entry {
    fn keys(&self) -> usize {
        let l = &self.logsource;
        usize::from(l.product.is_some())
            + usize::from(l.category.is_some())
            + usize::from(l.service.is_some())
    }
}

/// Routing and field mapping for every log kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    entries: Vec<Entry>,
    /// kind → Sigma field (or `*`) → paths.
    fields: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// Where a rule applies: any of the alternatives (kind set plus required field values).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Route {
    alternatives: Vec<Entry>,
}

impl Route {
    /// The log kinds the rule may apply to.
    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self
            .alternatives
            .iter()
            .flat_map(|e| e.kinds.iter().map(String::as_str))
            .collect();
        k.sort_unstable();
        k.dedup();
        k
    }

    /// True if an event of `kind` (seen through the mapping) passes the route's conditions.
    pub fn accepts(&self, kind: &str, event: &dyn Event) -> bool {
        self.alternatives.iter().any(|e| {
            e.kinds.iter().any(|k| k == kind)
                && e.conditions.iter().all(|(field, values)| {
                    event.field(field).is_some_and(|v| {
                        let s = match text_node(&v) {
                            Value::String(s) => s.clone(),
                            Value::Null => return false,
                            other => other.to_string(),
                        };
                        values.iter().any(|x| x.eq_ignore_ascii_case(&s))
                    })
                })
        })
    }
}

fn text_node(v: &Value) -> &Value {
    match v {
        Value::Object(m) => m.get("#text").unwrap_or(v),
        _ => v,
    }
}

fn invalid(path: &Path, line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn strings(node: &Node) -> Vec<String> {
    node.as_string_list()
}

impl Mapping {
    /// The built-in mapping.
    pub fn builtin() -> Mapping {
        let mut m = Mapping::default();
        // The built-in text is part of the crate and tested; an error here is a build defect.
        if let Err(e) = m.merge_yaml_str(BUILTIN, Path::new("builtin mapping.yml")) {
            debug_assert!(false, "{e}");
        }
        m
    }

    /// The built-in mapping with a mapping file merged over it.
    pub fn from_file(path: &Path) -> Result<Mapping, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut m = Mapping::builtin();
        m.merge_yaml_str(&text, path)?;
        Ok(m)
    }

    /// Merges a mapping text over `self` (see the module documentation).
    pub fn merge_yaml_str(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let docs = yaml::parse_documents(text).map_err(|e| invalid(path, e.line, e.message))?;
        for doc in &docs {
            let Kind::Map(top) = &doc.kind else {
                return Err(invalid(path, doc.line, "expected a mapping"));
            };
            for (key, node) in top {
                match (key.as_str(), &node.kind) {
                    ("logsources", Kind::Seq(items)) => {
                        let mut replaced: Vec<LogSource> = Vec::new();
                        for item in items {
                            let ls = item
                                .get("logsource")
                                .filter(|l| matches!(l.kind, Kind::Map(_)))
                                .ok_or_else(|| {
                                    invalid(path, item.line, "entry needs a 'logsource' mapping")
                                })?;
                            let logsource = LogSource::from_node(Some(ls));
                            let kinds = item.get("kinds").map(strings).unwrap_or_default();
                            if kinds.is_empty() {
                                return Err(invalid(path, item.line, "entry needs 'kinds'"));
                            }
                            let mut conditions = Vec::new();
                            if let Some(w) = item.get("where") {
                                let Kind::Map(ws) = &w.kind else {
                                    return Err(invalid(path, w.line, "'where' must be a mapping"));
                                };
                                for (f, v) in ws {
                                    conditions.push((f.clone(), strings(v)));
                                }
                            }
                            if !replaced.contains(&logsource) {
                                self.entries.retain(|e| e.logsource != logsource);
                                replaced.push(logsource.clone());
                            }
                            self.entries.push(Entry {
                                logsource,
                                kinds,
                                conditions,
                            });
                        }
                    }
                    ("fields", Kind::Map(kinds)) => {
                        for (kind, fields) in kinds {
                            let Kind::Map(fields) = &fields.kind else {
                                return Err(invalid(
                                    path,
                                    fields.line,
                                    "fields of a kind must be a mapping",
                                ));
                            };
                            let slot = self.fields.entry(kind.clone()).or_default();
                            for (name, paths) in fields {
                                slot.insert(name.clone(), strings(paths));
                            }
                        }
                    }
                    (other, _) => {
                        return Err(invalid(path, node.line, format!("unexpected '{other}'")));
                    }
                }
            }
        }
        Ok(())
    }

    /// The route of a rule's logsource, or `None` when no entry matches it (the caller decides
    /// what unrouted rules do; stormwatch applies them to no kind).
    pub fn route(&self, logsource: &LogSource) -> Option<Route> {
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.logsource.is_subset_of(logsource))
            .collect();
        let best = matching.iter().map(|e| e.keys()).max()?;
        Some(Route {
            alternatives: matching
                .into_iter()
                .filter(|e| e.keys() == best)
                .cloned()
                .collect(),
        })
    }

    /// The paths tried for a Sigma field in events of `kind` (the name itself when unmapped).
    pub fn field_paths(&self, kind: &str, field: &str) -> Vec<String> {
        let Some(map) = self.fields.get(kind) else {
            return vec![field.to_string()];
        };
        let paths = map.get(field).or_else(|| map.get("*"));
        match paths {
            Some(p) => p.iter().map(|p| p.replace("{field}", field)).collect(),
            None => vec![field.to_string()],
        }
    }

    /// Views `event` (of log kind `kind`) with Sigma field names resolved through the mapping.
    pub fn view<'a>(&'a self, kind: &'a str, event: &'a dyn Event) -> MappedEvent<'a> {
        MappedEvent {
            mapping: self,
            kind,
            inner: event,
        }
    }
}

/// A JSON event indexed once for one log kind: every field name the mapping's templates can
/// produce is resolved up front, so each rule's field lookup is one hash probe. Prefer it to
/// [`MappedEvent`] on hot paths; it answers exactly like `mapping.view(kind, event)`.
pub struct IndexedEvent<'a> {
    mapping: &'a Mapping,
    kind: &'a str,
    event: &'a Value,
    index: HashMap<&'a str, Slot<'a>>,
    /// Explicitly mapped names that resolved to nothing (absent, not "try the templates").
    explicit: Option<&'a BTreeMap<String, Vec<String>>>,
}

impl Mapping {
    /// Indexes a JSON event of log kind `kind` (see [`IndexedEvent`]).
    pub fn index<'a>(&'a self, kind: &'a str, event: &'a Value) -> IndexedEvent<'a> {
        let mut index: HashMap<&'a str, Slot<'a>> = HashMap::new();
        let explicit = self.fields.get(kind);
        if let Some(map) = explicit {
            for (name, paths) in map {
                if name == "*" {
                    continue;
                }
                for path in paths {
                    let parts: Vec<&str> = path.split('.').collect();
                    let mut found = Vec::new();
                    walk(event, &parts, &mut found, 0);
                    if let [one] = found.as_slice() {
                        index.insert(name.as_str(), Slot::new(text_node(one)));
                        break;
                    }
                    if found.len() > 1 {
                        break;
                    }
                }
            }
            for template in map.get("*").into_iter().flatten() {
                let Some(prefix) = template.strip_suffix("{field}") else {
                    continue;
                };
                let parts: Vec<&str> = prefix.split('.').filter(|p| !p.is_empty()).collect();
                let mut parents = Vec::new();
                walk(event, &parts, &mut parents, 0);
                for parent in parents {
                    if let Value::Object(obj) = parent {
                        for (k, v) in obj {
                            if !map.contains_key(k.as_str()) {
                                index
                                    .entry(k.as_str())
                                    .or_insert_with(|| Slot::new(text_node(v)));
                            }
                        }
                    }
                }
            }
        }
        IndexedEvent {
            mapping: self,
            kind,
            event,
            index,
            explicit,
        }
    }
}

impl Event for IndexedEvent<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        if let Some(slot) = self.index.get(name) {
            return Some(Cow::Borrowed(slot.value));
        }
        match self.explicit {
            // Unmapped kind: the event's own lookup.
            None => self.event.field(name),
            // Single names were all indexed; dotted names and fan-outs take the slow path.
            Some(map) if !name.contains('.') && !map.contains_key(name) => None,
            Some(_) => self
                .mapping
                .view(self.kind, self.event)
                .field(name)
                .map(|v| Cow::Owned(v.into_owned())),
        }
    }

    fn field_lowered(&self, name: &str) -> Option<&str> {
        let slot = self.index.get(name)?;
        match slot.value {
            Value::String(s) => Some(slot.lower.get_or_init(|| crate::pattern::lower(s))),
            _ => None,
        }
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.event.any_value(f)
    }

    fn timestamp_ms(&self) -> Option<i64> {
        self.event.timestamp_ms()
    }
}

/// An indexed field: its value and, once asked for, its lower-cased string form.
struct Slot<'a> {
    value: &'a Value,
    lower: std::cell::OnceCell<String>,
}

impl<'a> Slot<'a> {
    fn new(value: &'a Value) -> Self {
        Slot {
            value,
            lower: std::cell::OnceCell::new(),
        }
    }
}

/// Rules grouped by route, so each distinct route is checked once per event.
#[derive(Debug, Clone, Default)]
pub struct Router {
    groups: Vec<(Route, Vec<usize>)>,
    unrouted: Vec<usize>,
}

impl Router {
    /// Routes every rule of `set` through `mapping`.
    pub fn new(mapping: &Mapping, set: &crate::RuleSet) -> Router {
        let mut r = Router::default();
        for (i, rule) in set.rules().iter().enumerate() {
            match mapping.route(rule.logsource()) {
                None => r.unrouted.push(i),
                Some(route) => match r.groups.iter_mut().find(|(x, _)| *x == route) {
                    Some((_, ids)) => ids.push(i),
                    None => r.groups.push((route, vec![i])),
                },
            }
        }
        r
    }

    /// Indexes (into [`crate::RuleSet::rules`]) of the rules whose route accepts this event of
    /// log kind `kind`, in ascending order.
    pub fn candidates(&self, kind: &str, event: &dyn Event) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .groups
            .iter()
            .filter(|(route, _)| route.accepts(kind, event))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        out.sort_unstable();
        out
    }

    /// Rules whose logsource no mapping entry covers.
    pub fn unrouted(&self) -> &[usize] {
        &self.unrouted
    }
}

/// An event seen through a [`Mapping`] for one log kind.
pub struct MappedEvent<'a> {
    mapping: &'a Mapping,
    kind: &'a str,
    inner: &'a dyn Event,
}

fn walk<'v>(v: &'v Value, parts: &[&str], out: &mut Vec<&'v Value>, depth: usize) {
    if depth > 64 {
        return;
    }
    let Some((first, rest)) = parts.split_first() else {
        out.push(v);
        return;
    };
    match v {
        Value::Object(map) if *first == "*" => {
            for child in map.values() {
                walk(child, rest, out, depth + 1);
            }
        }
        Value::Object(map) => {
            if let Some(child) = map.get(*first) {
                walk(child, rest, out, depth + 1);
            }
        }
        Value::Array(items) => {
            for i in items {
                walk(i, parts, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn unwrap_text(v: Cow<'_, Value>) -> Cow<'_, Value> {
    match v {
        Cow::Borrowed(b) => Cow::Borrowed(text_node(b)),
        Cow::Owned(o) => Cow::Owned(text_node(&o).clone()),
    }
}

impl Event for MappedEvent<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        for path in self.mapping.field_paths(self.kind, name) {
            if !path.contains('*') {
                if let Some(v) = self.inner.field(&path) {
                    return Some(unwrap_text(v));
                }
                continue;
            }
            let parts: Vec<&str> = path.split('.').collect();
            let Some((first, rest)) = parts.split_first() else {
                continue;
            };
            let Some(root) = self.inner.field(first) else {
                continue;
            };
            let mut found = Vec::new();
            walk(&root, rest, &mut found, 0);
            let found: Vec<Value> = found.into_iter().map(|v| text_node(v).clone()).collect();
            match found.len() {
                0 => {}
                1 => return found.into_iter().next().map(Cow::Owned),
                _ => return Some(Cow::Owned(Value::Array(found))),
            }
        }
        None
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.inner.any_value(f)
    }

    fn timestamp_ms(&self) -> Option<i64> {
        self.inner.timestamp_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_parses_and_routes() {
        let m = Mapping::builtin();
        assert!(!m.entries.is_empty());
        let ls = LogSource {
            product: Some("m365".into()),
            service: Some("exchange".into()),
            ..LogSource::default()
        };
        let r = m.route(&ls).unwrap();
        assert_eq!(r.kinds(), vec!["ual"]);
        assert!(r.accepts("ual", &json!({"Workload": "Exchange"})));
        assert!(!r.accepts("ual", &json!({"Workload": "SharePoint"})));
        assert!(!r.accepts("windows", &json!({"Workload": "Exchange"})));
        let unknown = LogSource {
            product: Some("zzz".into()),
            ..LogSource::default()
        };
        assert!(m.route(&unknown).is_none());
    }

    #[test]
    fn windows_fields_and_text_nodes() {
        let m = Mapping::builtin();
        let ev = json!({"Event": {"System": {"EventID": {"#text": 4624}, "Channel": "Security"},
            "EventData": {"TargetUserName": "bob", "Source Name": "x"},
            "UserData": {"Ev": {"Param": "p"}}}});
        let v = m.view("windows", &ev);
        assert_eq!(v.field("EventID").unwrap().into_owned(), json!(4624));
        assert_eq!(
            v.field("TargetUserName").unwrap().into_owned(),
            json!("bob")
        );
        assert_eq!(v.field("SourceName").unwrap().into_owned(), json!("x"));
        assert_eq!(v.field("Param").unwrap().into_owned(), json!("p"));
        assert!(v.field("Nope").is_none());
        let ix = m.index("windows", &ev);
        for name in [
            "EventID",
            "TargetUserName",
            "SourceName",
            "Param",
            "Nope",
            "Channel",
            "Event.System.Channel",
        ] {
            assert_eq!(
                ix.field(name).map(|c| c.into_owned()),
                v.field(name).map(|c| c.into_owned()),
                "{name}"
            );
        }
        let ual = json!({"Workload": "Exchange", "a": {"b": 1}});
        let ix = m.index("ual", &ual);
        assert_eq!(ix.field("a.b").unwrap().into_owned(), json!(1));
    }

    #[test]
    fn merge_overrides() {
        let mut m = Mapping::builtin();
        let text = "logsources:\n  - logsource: {product: m365, service: exchange}\n    kinds: [mail]\nfields:\n  mail:\n    User: [actor.upn]\n";
        m.merge_yaml_str(text, Path::new("x")).unwrap();
        let ls = LogSource {
            product: Some("m365".into()),
            service: Some("exchange".into()),
            ..LogSource::default()
        };
        assert_eq!(m.route(&ls).unwrap().kinds(), vec!["mail"]);
        assert_eq!(m.field_paths("mail", "User"), vec!["actor.upn"]);
        assert!(m.merge_yaml_str("bogus: 1\n", Path::new("x")).is_err());
    }
}
