//! No rule evaluation panics on odd event shapes: arrays where scalars are expected, objects
//! everywhere, deep nesting, huge strings, odd numbers — run through every SigmaHQ rule.

use serde_json::{json, Value};
use std::path::Path;
use stormwatch_sigma::{Config, Correlator, RuleSet};

const SIGMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/sigma");

fn deep(depth: usize) -> Value {
    let mut v = json!("bottom");
    for i in 0..depth {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "Image": v })
        };
    }
    v
}

fn odd_events() -> Vec<Value> {
    let huge = "A\\".repeat(32_000) + "cmd.exe";
    let fields = [
        "Image",
        "CommandLine",
        "EventID",
        "TargetFilename",
        "ParentImage",
        "User",
        "Details",
        "TargetObject",
        "DestinationIp",
        "QueryName",
    ];
    let mut events = vec![
        json!(null),
        json!([]),
        json!("just a string"),
        json!(42),
        json!({}),
        deep(300),
    ];
    let shapes: Vec<Value> = vec![
        json!([1, "two", null, [3, [4]], {"x": 5}]),
        json!({"nested": {"deeper": [1, 2]}}),
        json!(null),
        json!(""),
        json!(true),
        json!(-1.5e300),
        json!(u64::MAX),
        json!("\u{0130}\u{212A}\u{2013}\u{0000}é"),
        json!(huge),
        deep(200),
    ];
    for shape in shapes {
        let mut obj = serde_json::Map::new();
        for f in fields {
            obj.insert(f.to_string(), shape.clone());
        }
        obj.insert(
            "Event".into(),
            json!({"System": shape.clone(), "EventData": shape.clone()}),
        );
        events.push(Value::Object(obj));
    }
    events
}

#[test]
fn no_rule_panics_on_odd_event_shapes() {
    let dirs = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-placeholder",
    ];
    let paths: Vec<_> = dirs.iter().map(|d| Path::new(SIGMA).join(d)).collect();
    let (set, _) = RuleSet::load_paths(&paths, &Config::builtin());
    assert!(set.rules().len() > 3000);
    let events = odd_events();
    let mut matched = 0usize;
    let mut correlator = Correlator::new(&set);
    for (i, ev) in events.iter().enumerate() {
        for (ri, rule) in set.rules().iter().enumerate() {
            if rule.matches(ev) {
                matched += 1;
                if correlator.wants(ri) {
                    correlator.feed(ri, ev, i as i64, i as u64);
                }
            }
        }
    }
    correlator.flush();
    // Some rules legitimately match (e.g. `Image|endswith: '\cmd.exe'` on the huge string).
    assert!(matched > 0);
}
