//! Semantic test vectors: the YAML files in `tests/vectors/` read like a specification — each
//! case is a rule (or a whole multi-document rule set), events, and the expected outcome.
//!
//! Case keys:
//! - `name`: what the case shows.
//! - `detection`: a detection section (wrapped into a rule with id `r`), or `rules`: full
//!   multi-document YAML; `rule`: the id whose matches are checked (default: the first rule).
//! - `match` / `nomatch`: events that must / must not match.
//! - `error`: the load must fail with this reason (`modifier`, `condition`, ...).
//! - `witnesses`: the expected necessary literals (`~` for none).
//! - `standalone`: `{id: bool}` — whether a rule or correlation reports on its own.
//! - `stream`: `[time_seconds, event]` pairs fed through every rule and the correlator;
//!   `hits`: the expected correlation hits in order, each `{id, events: [stream indexes]}`,
//!   optionally `value` and `group`.

use serde_json::{Map, Number, Value};
use std::path::Path;
use stormwatch_sigma::{Config, Correlator, Event, RuleSet};
use yaml_rust2::{Yaml, YamlLoader};

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

fn config() -> Config {
    let mut c = Config::builtin();
    c.set_placeholder("admins", vec!["adm_*".into(), "root".into()]);
    c.set_placeholder("domain", vec!["corp.example".into()]);
    c
}

fn run_case(file: &str, case: &Yaml) -> Result<usize, String> {
    let name = case["name"].as_str().unwrap_or("?").to_string();
    let ctx = |m: String| format!("{file}: {name}: {m}");
    let text = if let Some(det) = case["detection"].as_str() {
        let body: String = det.lines().map(|l| format!("    {l}\n")).collect();
        format!("title: vector\nid: r\nlogsource:\n    product: test\ndetection:\n{body}")
    } else {
        case["rules"]
            .as_str()
            .ok_or_else(|| ctx("no detection or rules".into()))?
            .to_string()
    };
    let (set, errors) = RuleSet::from_yaml_str(&text, Path::new(file), &config());
    if let Some(reason) = case["error"].as_str() {
        return match errors.as_slice() {
            [e] if e.kind.reason() == reason => Ok(1),
            other => Err(ctx(format!("expected one '{reason}' error, got {other:?}"))),
        };
    }
    if !errors.is_empty() {
        return Err(ctx(format!(
            "load errors: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let rule = match case["rule"].as_str() {
        Some(id) => set.rules().iter().find(|r| r.id() == id),
        None => set.rules().first(),
    };
    let mut checks = 0;
    for (key, want) in [("match", true), ("nomatch", false)] {
        if let Some(events) = case[key].as_vec() {
            let rule = rule.ok_or_else(|| ctx("no rule".into()))?;
            for ev in events {
                let ev = to_json(ev);
                if rule.matches(&ev) != want {
                    return Err(ctx(format!("expected {key} for {ev}")));
                }
                // Witness soundness: a matching event contains one of the rule's witnesses.
                if want {
                    if let Some(w) = rule.witnesses() {
                        let raw = ev.to_string().to_ascii_lowercase();
                        if !w.iter().any(|x| raw.contains(x.as_str())) {
                            return Err(ctx(format!("no witness of {w:?} in matching {ev}")));
                        }
                    }
                }
                checks += 1;
            }
        }
    }
    if !case["witnesses"].is_badvalue() {
        let rule = rule.ok_or_else(|| ctx("no rule".into()))?;
        let want: Option<Vec<String>> = case["witnesses"].as_vec().map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        });
        if rule.witnesses() != want {
            return Err(ctx(format!(
                "witnesses {:?}, expected {want:?}",
                rule.witnesses()
            )));
        }
        checks += 1;
    }
    if let Some(map) = case["standalone"].as_hash() {
        for (id, want) in map {
            let id = id.as_str().unwrap_or_default();
            let got = set
                .rules()
                .iter()
                .find(|r| r.id() == id)
                .map(|r| r.is_standalone())
                .or_else(|| {
                    set.correlations()
                        .iter()
                        .find(|c| c.meta.id == id)
                        .map(|c| c.is_standalone())
                });
            if got != want.as_bool() {
                return Err(ctx(format!(
                    "standalone of {id}: {got:?}, expected {want:?}"
                )));
            }
            checks += 1;
        }
    }
    if let Some(stream) = case["stream"].as_vec() {
        let events: Vec<(i64, Value)> = stream
            .iter()
            .map(|p| {
                (
                    (p[0]
                        .as_f64()
                        .or_else(|| p[0].as_i64().map(|i| i as f64))
                        .unwrap_or(0.0)
                        * 1000.0) as i64,
                    to_json(&p[1]),
                )
            })
            .collect();
        let mut c = Correlator::new(&set);
        let mut hits = Vec::new();
        for (idx, (t, ev)) in events.iter().enumerate() {
            for (ri, r) in set.rules().iter().enumerate() {
                if c.wants(ri) && r.matches(ev as &dyn Event) {
                    hits.extend(c.feed(ri, ev, *t, idx as u64));
                }
            }
        }
        hits.extend(c.flush());
        let got: Vec<String> = hits
            .iter()
            .map(|h| {
                let corr = &set.correlations()[h.correlation];
                format!("{} {:?}", corr.meta.id, h.events)
            })
            .collect();
        let want: Vec<String> = case["hits"]
            .as_vec()
            .map(|v| {
                v.iter()
                    .map(|h| {
                        let evs: Vec<u64> = h["events"]
                            .as_vec()
                            .map(|e| {
                                e.iter()
                                    .filter_map(|x| x.as_i64().map(|i| i as u64))
                                    .collect()
                            })
                            .unwrap_or_default();
                        format!("{} {:?}", h["id"].as_str().unwrap_or("?"), evs)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if got != want {
            return Err(ctx(format!("hits {got:?}, expected {want:?}")));
        }
        for (h, w) in hits.iter().zip(case["hits"].as_vec().into_iter().flatten()) {
            if let Some(v) = w["value"]
                .as_f64()
                .or_else(|| w["value"].as_i64().map(|i| i as f64))
            {
                if (h.value - v).abs() > 1e-9 {
                    return Err(ctx(format!("hit value {}, expected {v}", h.value)));
                }
            }
            if let Some(g) = w["group"].as_hash() {
                for (k, v) in g {
                    let k = k.as_str().unwrap_or_default();
                    let got = h
                        .group
                        .iter()
                        .find(|(n, _)| n == k)
                        .and_then(|(_, v)| v.clone());
                    if got.as_deref() != v.as_str() {
                        return Err(ctx(format!("group {k} = {got:?}, expected {v:?}")));
                    }
                }
            }
        }
        checks += 1 + hits.len();
    }
    if checks == 0 {
        return Err(ctx("case checks nothing".into()));
    }
    Ok(checks)
}

#[test]
fn semantic_vectors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let (mut cases, mut checks, mut failures) = (0, 0, Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let docs =
            YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        for case in docs[0]["cases"].as_vec().expect("cases list") {
            cases += 1;
            match run_case(&name, case) {
                Ok(n) => checks += n,
                Err(e) => failures.push(e),
            }
        }
    }
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "vectors: {} files, {cases} cases, {checks} checks, {} failed",
        files.len(),
        failures.len()
    );
    assert!(cases > 50, "too few vector cases: {cases}");
    assert!(
        failures.is_empty(),
        "{} vector cases failed",
        failures.len()
    );
}
