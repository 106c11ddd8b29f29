//! Correlator API behaviour beyond the vectors: `advance` for long-running streams, the cap.

use serde_json::json;
use std::path::Path;
use stormwatch_sigma::{Config, Correlator, RuleSet};

const RULES: &str = "title: base\nid: b\nlogsource: {product: test}\ndetection: {s: {A: 1}, condition: s}\n---\n\
title: rare\nid: rare\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [U]\n  timespan: 10s\n  condition: {lt: 2}\n---\n\
title: many\nid: many\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [U]\n  timespan: 10s\n  condition: {gte: 3}\n";

#[test]
fn advance_closes_windows_and_frees_groups() {
    let (set, errors) = RuleSet::from_yaml_str(RULES, Path::new("c.yml"), &Config::builtin());
    assert!(errors.is_empty(), "{errors:?}");
    let mut c = Correlator::new(&set);
    assert!(c.wants(0));
    assert!(c.feed(0, &json!({"A": 1, "U": "x"}), 0, 7).is_empty());
    assert!(c.feed(0, &json!({"A": 1, "U": "y"}), 1_000, 8).is_empty());
    assert_eq!(c.open_groups(), 4);
    // Not yet: both windows are still open at 10 s.
    assert!(c.advance(10_000).is_empty());
    let hits = c.advance(11_001);
    let got: Vec<(&str, Vec<u64>)> = hits
        .iter()
        .map(|h| {
            (
                set.correlations()[h.correlation].meta.id.as_str(),
                h.events.clone(),
            )
        })
        .collect();
    assert_eq!(got, vec![("rare", vec![7]), ("rare", vec![8])]);
    assert_eq!(c.open_groups(), 0, "expired groups are dropped");
    assert!(c.flush().is_empty());
}

#[test]
fn extreme_times_do_not_overflow() {
    let (set, _) = RuleSet::from_yaml_str(RULES, Path::new("c.yml"), &Config::builtin());
    let mut c = Correlator::new(&set);
    for t in [i64::MIN, -1, 0, i64::MAX, i64::MIN] {
        let _ = c.feed(0, &json!({"A": 1, "U": "x"}), t, 1);
        let _ = c.advance(t);
    }
    let _ = c.flush();
}

#[test]
fn group_cap_refuses_new_groups_and_counts_them() {
    let (set, _) = RuleSet::from_yaml_str(RULES, Path::new("c.yml"), &Config::builtin());
    // Two correlations use the base rule: one user opens two groups.
    let mut c = Correlator::new(&set).with_max_groups(2);
    for t in [0, 1_000] {
        assert!(c.feed(0, &json!({"A": 1, "U": "x"}), t, 1).is_empty());
    }
    assert_eq!(c.open_groups(), 2);
    assert!(c.feed(0, &json!({"A": 1, "U": "y"}), 1_500, 2).is_empty());
    assert_eq!(c.open_groups(), 2);
    assert_eq!(c.refused(), (2, 2));
    // The groups within the cap still work: a third match of "x" fires `many`.
    let hits = c.feed(0, &json!({"A": 1, "U": "x"}), 2_000, 3);
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| set.correlations()[h.correlation].meta.id.as_str())
        .collect();
    assert_eq!(ids, ["many"]);
}
