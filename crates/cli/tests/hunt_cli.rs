//! End-to-end: `stormwatch hunt` with Sigma rules, every output format, filters and errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run stormwatch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

const RULE: &str = r#"
title: Mailbox read by REST client
id: 11111111-2222-3333-4444-555555555555
status: test
level: medium
tags: [attack.collection, attack.t1114.002]
logsource: {product: m365, service: exchange}
detection:
  sel:
    Operation: MailItemsAccessed
    ClientInfoString|startswith: 'Client=REST'
  condition: sel
"#;

const LOGS: &str = concat!(
    r#"{"CreationTime":"2023-06-01T01:00:00","Id":"a1","Operation":"MailItemsAccessed","OrganizationId":"T1","Workload":"Exchange","UserId":"=cmd|' /C calc'!A0","ClientInfoString":"Client=REST;Client=RESTSystem;;","ClientIPAddress":"51.89.156.153"}"#,
    "\n",
    r#"{"CreationTime":"2023-06-02T01:00:00","Id":"a2","Operation":"MailItemsAccessed","OrganizationId":"T1","Workload":"Exchange","UserId":"bob@x.example","ClientInfoString":"Client=OWA;Action=ViaProxy"}"#,
    "\n",
    r#"{"CreationTime":"2023-06-03T01:00:00","Id":"a3","Operation":"MailItemsAccessed","OrganizationId":"T2","Workload":"Exchange","UserId":"<script>alert(1)</script>@x","ClientInfoString":"Client=REST;Client=RESTSystem;;"}"#,
    "\n",
);

struct Fixture {
    _dir: tempfile::TempDir,
    rule: String,
    logs: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("rule.yml");
    std::fs::write(&rule, RULE).unwrap();
    let logs = dir.path().join("ual.jsonl");
    std::fs::write(&logs, LOGS).unwrap();
    Fixture {
        rule: rule.display().to_string(),
        logs: logs.display().to_string(),
        _dir: dir,
    }
}

#[test]
fn jsonl_records_follow_the_detection_record_contract() {
    let f = fixture();
    let out = run(&[
        "hunt",
        "--no-builtin",
        "-r",
        &f.rule,
        "--format",
        "jsonl",
        &f.logs,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 2);
    let r = &records[0];
    for key in [
        "time",
        "rule",
        "tenant",
        "user",
        "ip",
        "app_id",
        "event_ids",
        "source",
        "summary",
        "evidence",
    ] {
        assert!(r.get(key).is_some(), "missing {key}: {r}");
    }
    assert_eq!(r["time"], "2023-06-01T01:00:00Z");
    assert_eq!(r["rule"]["id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(r["rule"]["level"], "medium");
    assert_eq!(r["rule"]["kind"], "sigma");
    assert_eq!(r["rule"]["tags"][1], "attack.t1114.002");
    assert_eq!(r["tenant"], "t1");
    assert_eq!(r["ip"], "51.89.156.153");
    assert_eq!(r["event_ids"], serde_json::json!(["a1"]));
    assert_eq!(r["source"]["line"], 1);
    assert_eq!(records[1]["event_ids"], serde_json::json!(["a3"]));
}

#[test]
fn every_output_format() {
    let f = fixture();
    let table = run(&["hunt", "--no-builtin", "-r", &f.rule, &f.logs]);
    let t = text(&table.stdout);
    assert!(
        t.contains("Mailbox read by REST client") && t.contains("medium"),
        "{t}"
    );
    assert!(
        text(&table.stderr).contains("3 records read"),
        "{}",
        text(&table.stderr)
    );

    let csv = run(&[
        "hunt",
        "--no-builtin",
        "-q",
        "-r",
        &f.rule,
        "-f",
        "csv",
        &f.logs,
    ]);
    let c = text(&csv.stdout);
    assert!(c.starts_with("time,level,rule_id"), "{c}");
    assert!(c.contains("'=cmd|"), "formula neutralised: {c}");
    assert!(!c.contains(",=cmd|"), "{c}");

    let json = run(&[
        "hunt",
        "--no-builtin",
        "-q",
        "-r",
        &f.rule,
        "-f",
        "json",
        &f.logs,
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON document");
    assert_eq!(v["summary"]["detections"], 2);
    assert_eq!(v["summary"]["records_read"], 3);
    assert_eq!(v["detections"].as_array().unwrap().len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("report.html");
    let html = run(&[
        "hunt",
        "--no-builtin",
        "-q",
        "-r",
        &f.rule,
        "-f",
        "html",
        "-o",
        html_path.to_str().unwrap(),
        &f.logs,
    ]);
    assert!(html.status.success());
    assert!(html.stdout.is_empty(), "--output leaves stdout empty");
    let h = std::fs::read_to_string(&html_path).unwrap();
    assert!(h.starts_with("<!DOCTYPE html>") && h.trim_end().ends_with("</html>"));
    assert!(
        h.contains("<svg") && h.contains("class=\"bar\""),
        "timeline chart drawn"
    );
    assert!(
        !h.contains("<script"),
        "user data is escaped: no script element"
    );
    assert!(h.contains("&lt;script&gt;"));
    assert!(
        !h.contains("http://") || h.contains("xmlns=\"http://www.w3.org/2000/svg\""),
        "nothing fetched"
    );
}

#[test]
fn filters_narrow_the_detections() {
    let f = fixture();
    let count = |extra: &[&str]| {
        let mut args = vec!["hunt", "--no-builtin", "-q", "-r", &f.rule, "-f", "jsonl"];
        args.extend_from_slice(extra);
        args.push(&f.logs);
        text(&run(&args).stdout).lines().count()
    };
    assert_eq!(count(&[]), 2);
    assert_eq!(count(&["--min-level", "high"]), 0);
    assert_eq!(count(&["--tag", "attack.t1114.002"]), 2);
    assert_eq!(count(&["--tag", "attack.t9999"]), 0);
    assert_eq!(count(&["--status", "stable"]), 0);
    assert_eq!(
        count(&["--rule-id", "11111111-2222-3333-4444-555555555555"]),
        2
    );
    assert_eq!(count(&["--from", "2023-06-02T00:00:00Z"]), 1);
    assert_eq!(count(&["--to", "2023-06-02T00:00:00Z"]), 1);
}

#[test]
fn sigmahq_cloud_rules_over_the_shared_samples() {
    let rules = shared().join("sigma/rules/cloud");
    let samples = shared().join("samples");
    let out = run(&[
        "hunt",
        "--no-builtin",
        "-q",
        "-f",
        "jsonl",
        "-r",
        rules.to_str().unwrap(),
        samples.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let titles: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rule"]["title"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t == "Disabling Multi Factor Authentication"),
        "{titles:?}"
    );
    assert!(
        titles
            .iter()
            .any(|t| t == "Azure Service Principal Created"),
        "{titles:?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let f = fixture();
    let missing = run(&["hunt", "-r", "/nonexistent/rules", &f.logs]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("/nonexistent/rules"));
    let bad_level = run(&["hunt", "--min-level", "severe", &f.logs]);
    assert_eq!(bad_level.status.code(), Some(2));
    let no_input = run(&["hunt", "/nonexistent/logs.json"]);
    assert_eq!(no_input.status.code(), Some(2));
}
