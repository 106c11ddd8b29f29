//! Loading: metadata, multi-document files, errors with lines and ids, directory order.

use std::path::{Path, PathBuf};
use stormwatch_sigma::{Config, ErrorKind, Level, RuleSet};

fn load(text: &str) -> (RuleSet, Vec<stormwatch_sigma::LoadError>) {
    RuleSet::from_yaml_str(text, Path::new("t.yml"), &Config::builtin())
}

#[test]
fn metadata_is_exposed() {
    let text = "\u{feff}title: Suspicious thing\nid: 1234\nname: thing\nstatus: test\nlevel: High\n\
        description: d\nauthor: me\ndate: 2024-01-01\ntags:\n  - attack.t1059\n  - attack.execution\n\
        falsepositives:\n  - admins\nfields: [A, B]\nreferences: [https://example.org]\n\
        logsource:\n  product: windows\n  category: process_creation\n  service: sysmon\n\
        detection:\n  sel: {A: 1}\n  condition: sel\n";
    let (set, errors) = load(text);
    assert!(errors.is_empty(), "{errors:?}");
    let r = &set.rules()[0];
    assert_eq!(r.id(), "1234");
    assert_eq!(r.meta.name.as_deref(), Some("thing"));
    assert_eq!(r.title(), "Suspicious thing");
    assert_eq!(r.level(), Some(Level::High));
    assert_eq!(r.meta.status.as_deref(), Some("test"));
    assert_eq!(r.meta.tags, vec!["attack.t1059", "attack.execution"]);
    assert_eq!(r.meta.falsepositives, vec!["admins"]);
    assert_eq!(r.meta.fields, vec!["A", "B"]);
    assert_eq!(r.meta.date.as_deref(), Some("2024-01-01"));
    assert_eq!(r.logsource().product.as_deref(), Some("windows"));
    assert_eq!(r.logsource().category.as_deref(), Some("process_creation"));
    assert_eq!(r.logsource().service.as_deref(), Some("sysmon"));
    assert!(r.is_standalone());
}

#[test]
fn multi_document_errors_name_line_and_rule() {
    let text = "title: ok\nid: ok\nlogsource: {product: x}\ndetection:\n  s: {A: 1}\n  condition: s\n\
        ---\ntitle: bad modifier\nid: bad-1\nlogsource: {product: x}\ndetection:\n  s:\n    A|nope: 1\n  condition: s\n\
        ---\ntitle: bad condition\nid: bad-2\nlogsource: {product: x}\ndetection:\n  s: {A: 1}\n  condition: s and t\n\
        ---\nid: no-title\ndetection:\n  s: {A: 1}\n  condition: s\n";
    let (set, errors) = load(text);
    assert_eq!(set.rules().len(), 1);
    assert_eq!(set.documents_read(), 4);
    let summary: Vec<(usize, Option<&str>, &str)> = errors
        .iter()
        .map(|e| (e.line, e.rule_id.as_deref(), e.kind.reason()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (13, Some("bad-1"), "modifier"),
            (21, Some("bad-2"), "condition"),
            (23, Some("no-title"), "structure"),
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "t.yml:13: rule bad-1: unknown modifier 'nope' in 'A|nope'"
    );
    assert!(matches!(errors[1].kind, ErrorKind::Condition(_)));
}

#[test]
fn yaml_errors_have_lines() {
    let (_, errors) = load("title: x\ndetection:\n  s: [unclosed\n");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind.reason(), "yaml");
    assert!(errors[0].line >= 3, "{:?}", errors[0]);
    let (_, errors) = load("title: x\ntitle: y\n");
    assert_eq!(errors[0].kind.reason(), "yaml");
    assert_eq!(errors[0].line, 2);
}

#[test]
fn directories_load_recursively_in_sorted_order() {
    let dir = std::env::temp_dir().join(format!("stormwatch-sigma-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b/c")).unwrap();
    let rule = |id: &str| {
        format!("title: {id}\nid: {id}\nlogsource: {{product: x}}\ndetection:\n  s: {{A: 1}}\n  condition: s\n")
    };
    std::fs::write(dir.join("b/c/z.yml"), rule("3")).unwrap();
    std::fs::write(dir.join("b/a.yaml"), rule("2")).unwrap();
    std::fs::write(dir.join("a.yml"), rule("1")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a rule").unwrap();
    let paths: Vec<PathBuf> = vec![dir.clone()];
    let (set, errors) = RuleSet::load_paths(&paths, &Config::builtin());
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id()).collect();
    assert_eq!(ids, vec!["1", "2", "3"]);
    // Files are compiled on all cores; rules and errors still come in the files' order.
    for i in 10..40 {
        std::fs::write(dir.join(format!("m{i}.yml")), rule(&i.to_string())).unwrap();
    }
    std::fs::write(dir.join("m15b.yml"), "title: [unclosed\n").unwrap();
    std::fs::write(dir.join("m30b.yml"), "title: no detection\nid: x\n").unwrap();
    let (set, errors) = RuleSet::load_paths(&paths, &Config::builtin());
    let ids: Vec<String> = set.rules().iter().map(|r| r.id().to_string()).collect();
    let mut wanted: Vec<String> = (10..40).map(|i| i.to_string()).collect();
    wanted.sort_by_key(|id| format!("m{id}.yml"));
    wanted.splice(0..0, ["1", "2", "3"].map(String::from));
    assert_eq!(ids, wanted, "a.yml, b/, then the m files by name");
    let failed: Vec<String> = errors
        .iter()
        .map(|e| e.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(failed, ["m15b.yml", "m30b.yml"], "{errors:?}");
    let (_, errors) = RuleSet::load_paths(&[dir.join("missing.yml")], &Config::builtin());
    assert_eq!(errors[0].kind.reason(), "io");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn placeholder_config_file() {
    let dir = std::env::temp_dir().join(format!("stormwatch-sigma-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("c.yml");
    std::fs::write(
        &cfg,
        "placeholders:\n  Workstations: ['WKS-*']\n  extra: one\n",
    )
    .unwrap();
    let config = Config::from_file(&cfg).unwrap();
    assert_eq!(
        config.placeholder("workstations"),
        Some(&["WKS-*".to_string()][..])
    );
    assert_eq!(config.placeholder("EXTRA"), Some(&["one".to_string()][..]));
    assert_eq!(config.placeholder("dc_ip_addresses"), Some(&[][..]));
    std::fs::write(&cfg, "placeholders: [1]\n").unwrap();
    assert!(Config::from_file(&cfg).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hunt` shares one rule set across worker threads.
#[test]
fn rule_set_mapping_and_router_are_thread_safe() {
    fn shared<T: Send + Sync>() {}
    shared::<RuleSet>();
    shared::<stormwatch_sigma::Mapping>();
    shared::<stormwatch_sigma::Router>();
    shared::<Config>();
    shared::<stormwatch_sigma::LoadError>();
}

/// `Rule::fields`: every field a detection tests or compares with, sorted; none known for a
/// keyword search.
#[test]
fn fields_a_rule_reads() {
    let rule = |detection: &str| {
        let text = format!("title: t\nlogsource: {{product: m365}}\ndetection:\n{detection}");
        let (set, errors) = load(&text);
        assert!(errors.is_empty(), "{errors:?}");
        set.rules()[0].fields().map(|f| f.join(","))
    };
    assert_eq!(
        rule("  a: {Operation: x, Payload|contains: y}\n  b: {ClientIP|fieldref: UserId}\n  filter: {Workload: z}\n  condition: a and b and not filter\n"),
        Some("ClientIP,Operation,Payload,UserId,Workload".into())
    );
    assert_eq!(
        rule("  k: [evil]\n  s: {A: 1}\n  condition: k or s\n"),
        None
    );
}
