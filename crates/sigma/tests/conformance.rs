//! Conformance against the SigmaHQ corpus in `../shared/sigma`: every rule of the four rule
//! folders loads, and every regression sample fires its rule.

use serde_json::Value;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use stormwatch_sigma::{Config, Event, Mapping, Router, Rule, RuleSet};

const SIGMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/sigma");
const DIRS: [&str; 4] = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-placeholder",
];

fn corpus() -> (RuleSet, Vec<stormwatch_sigma::LoadError>) {
    let paths: Vec<PathBuf> = DIRS.iter().map(|d| Path::new(SIGMA).join(d)).collect();
    for p in &paths {
        assert!(p.is_dir(), "missing SigmaHQ corpus at {}", p.display());
    }
    RuleSet::load_paths(&paths, &Config::builtin())
}

#[test]
fn every_sigmahq_rule_loads() {
    let (set, errors) = corpus();
    for e in &errors {
        eprintln!("{e}");
    }
    let files: usize = DIRS
        .iter()
        .map(|d| count_yml(&Path::new(SIGMA).join(d)))
        .sum();
    eprintln!(
        "files {files}, documents {}, loaded {}, rejected {}",
        set.documents_read(),
        set.len(),
        errors.len()
    );
    assert!(errors.is_empty(), "{} rules rejected", errors.len());
    assert!(set.len() >= files, "loaded {} of {files} files", set.len());
}

fn count_yml(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += count_yml(&p);
        } else if p.extension().is_some_and(|x| x == "yml") {
            n += 1;
        }
    }
    n
}

/// A Windows event in its JSON form (`Event.System`, `Event.EventData`), with the field
/// resolution the engine's mapping will do later.
struct WinEvent(Value);

const SYSTEM_FIELDS: [&str; 10] = [
    "EventID",
    "Channel",
    "Computer",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "EventRecordID",
    "Version",
    "Security",
];

fn text(v: &Value) -> &Value {
    v.get("#text").unwrap_or(v)
}

impl Event for WinEvent {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        let ev = self.0.get("Event")?;
        let system = ev.get("System");
        if name == "Provider_Name" {
            return system?
                .pointer("/Provider/#attributes/Name")
                .map(Cow::Borrowed);
        }
        if SYSTEM_FIELDS.contains(&name) {
            if let Some(v) = system.and_then(|s| s.get(name)) {
                return Some(Cow::Borrowed(text(v)));
            }
        }
        if let Some(v) = ev.get("EventData").and_then(|d| d.get(name)) {
            return Some(Cow::Borrowed(text(v)));
        }
        // Some providers (Defender) write names with spaces: `Source Name` is Sigma's `SourceName`.
        if let Some(Value::Object(data)) = ev.get("EventData") {
            if let Some((_, v)) = data
                .iter()
                .find(|(k, _)| k.contains(' ') && k.replace(' ', "") == name)
            {
                return Some(Cow::Borrowed(text(v)));
            }
        }
        if let Some(Value::Object(ud)) = ev.get("UserData") {
            for inner in ud.values() {
                if let Some(v) = inner.get(name) {
                    return Some(Cow::Borrowed(text(v)));
                }
            }
        }
        system
            .and_then(|s| s.get(name))
            .map(|v| Cow::Borrowed(text(v)))
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.any_value(f)
    }
}

#[test]
fn every_regression_sample_fires_its_rule() {
    let (set, _) = corpus();
    regression_suite(&set, &|rule, ev| rule.matches(&WinEvent(ev.clone())));
}

/// The same suite through the built-in mapping: logsource routing (Windows channel and event id
/// conditions) and field mapping, as `hunt` will apply them.
#[test]
fn every_regression_sample_fires_through_the_builtin_mapping() {
    let (set, _) = corpus();
    let mapping = Mapping::builtin();
    regression_suite(&set, &|rule, ev| {
        let view = mapping.view("windows", ev);
        let routed = mapping
            .route(rule.logsource())
            .is_some_and(|r| r.accepts("windows", &view));
        routed && rule.matches(&view)
    });
}

/// Witnesses are sound: for every regression event a rule matches, one of the rule's witnesses
/// occurs in the event's raw JSON text (ASCII-case-insensitively).
#[test]
fn witnesses_are_sound_on_regression_samples() {
    let (set, _) = corpus();
    let with = set
        .rules()
        .iter()
        .filter(|r| r.witnesses().is_some())
        .count();
    eprintln!(
        "witnesses: {with} of {} rules have a witness set",
        set.rules().len()
    );
    assert!(
        with * 2 > set.rules().len(),
        "too few rules with witnesses: {with}"
    );
    let checked = std::cell::Cell::new(0);
    regression_suite(&set, &|rule, ev| {
        let fires = rule.matches(&WinEvent(ev.clone()));
        if fires {
            if let Some(w) = rule.witnesses() {
                let raw = serde_json::to_string(ev).unwrap().to_ascii_lowercase();
                assert!(
                    w.iter().any(|x| raw.contains(x.as_str())),
                    "rule {}: none of {w:?} in its matching sample",
                    rule.id()
                );
                checked.set(checked.get() + 1);
            }
        }
        fires
    });
    assert!(checked.get() > 150, "only {} witness checks", checked.get());
}

/// The fields of a rule hold its witnesses: for every regression event a rule matches through
/// the built-in mapping, one witness is in the value of one of the fields the rule reads
/// (`Rule::fields`), as the mapped view gives it.
#[test]
fn fields_hold_the_witnesses_on_regression_samples() {
    let (set, _) = corpus();
    let mapping = Mapping::builtin();
    let checked = std::cell::Cell::new(0);
    regression_suite(&set, &|rule, ev| {
        let view = mapping.view("windows", ev);
        let fires = rule.matches(&view);
        if let (true, Some(w), Some(fields)) = (fires, rule.witnesses(), rule.fields()) {
            let texts: Vec<String> = fields
                .iter()
                .filter_map(|f| view.field(f))
                .map(|v| v.to_string().to_ascii_lowercase())
                .collect();
            assert!(
                w.iter()
                    .any(|x| texts.iter().any(|t| t.contains(x.as_str()))),
                "rule {}: none of {w:?} in its fields {fields:?} of its matching sample",
                rule.id()
            );
            checked.set(checked.get() + 1);
        }
        fires
    });
    assert!(checked.get() > 150, "only {} checks", checked.get());
}

/// The hot-path API `hunt` uses: a [`Router`] checks each distinct route once per event, and an
/// [`IndexedEvent`] resolves fields with one hash probe.
#[test]
fn every_regression_sample_fires_through_router_and_index() {
    let (set, _) = corpus();
    let mapping = Mapping::builtin();
    let router = Router::new(&mapping, &set);
    let index_of = |rule: &Rule| set.rules().iter().position(|r| std::ptr::eq(r, rule));
    regression_suite(&set, &|rule, ev| {
        let ix = mapping.index("windows", ev);
        let candidates = router.candidates("windows", &ix);
        index_of(rule).is_some_and(|i| candidates.binary_search(&i).is_ok()) && rule.matches(&ix)
    });
}

fn regression_suite(set: &RuleSet, fire: &dyn Fn(&Rule, &Value) -> bool) {
    let mut infos = Vec::new();
    find_infos(&Path::new(SIGMA).join("regression_data"), &mut infos);
    infos.sort();
    assert!(!infos.is_empty());
    let (mut pass, mut fail, mut skipped, mut count_differs) = (0, Vec::new(), 0, Vec::new());
    for info in &infos {
        let text = std::fs::read_to_string(info).unwrap();
        if !text
            .lines()
            .any(|l| l.starts_with("regression_tests_info:"))
        {
            skipped += 1;
            continue;
        }
        let id = field_after(&text, "rule_metadata:", "id:").expect("rule id in info.yml");
        let match_count: Option<usize> = text
            .lines()
            .find(|l| l.trim_start().starts_with("match_count:"))
            .and_then(|l| l.split(':').nth(1)?.trim().parse().ok());
        let json = info.with_file_name(format!("{id}.json"));
        let Ok(data) = std::fs::read_to_string(&json) else {
            fail.push(format!("{}: no sample {}", info.display(), json.display()));
            continue;
        };
        let Some(rule) = set.rules().iter().find(|r| r.id() == id) else {
            fail.push(format!("{}: rule {id} not loaded", info.display()));
            continue;
        };
        let product = rule.logsource().product.as_deref();
        if product.is_some_and(|p| p != "windows") {
            fail.push(format!(
                "{}: rule {id} is not routed to windows events",
                info.display()
            ));
            continue;
        }
        let events: Vec<Value> = serde_json::Deserializer::from_str(&data)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .unwrap();
        let hits = events.iter().filter(|e| fire(rule, e)).count();
        // SigmaHQ's `match_count` was taken on the .evtx with their checker; a few JSON twins
        // hold more (duplicate, genuinely matching) records, so at least that many must match.
        let ok = hits >= match_count.unwrap_or(1).max(1);
        if ok && match_count.is_some_and(|n| n != hits) {
            count_differs.push(format!("{id}: {hits} matches, match_count {match_count:?}"));
        }
        if ok {
            pass += 1;
        } else {
            fail.push(format!(
                "{}: rule {id} matched {hits} events, expected {match_count:?}",
                info.display()
            ));
        }
    }
    for f in &fail {
        eprintln!("FAIL {f}");
    }
    for c in &count_differs {
        eprintln!("note: {c}");
    }
    eprintln!(
        "regression: {pass} passed, {} failed, {skipped} without an evtx test; {} match more events than match_count",
        fail.len(),
        count_differs.len()
    );
    assert!(
        fail.is_empty(),
        "{} of {} regression samples failed",
        fail.len(),
        infos.len() - skipped
    );
    assert!(pass >= 200, "only {pass} regression samples ran");
}

fn field_after(text: &str, section: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(section)? + section.len()..];
    let line = rest
        .lines()
        .find(|l| l.trim_start().trim_start_matches("- ").starts_with(key))?;
    let v = line.trim_start().trim_start_matches("- ")[key.len()..].trim();
    Some(v.trim_matches(['\'', '"']).to_string())
}

fn find_infos(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            find_infos(&p, out);
        } else if p.file_name().is_some_and(|n| n == "info.yml") {
            out.push(p);
        }
    }
}
