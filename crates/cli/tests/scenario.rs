//! Scenario tests: plant the Storm-0558 pattern in benign multi-tenant logs (several seeds) and
//! check both what is caught and what is not falsely flagged.

use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;

fn hunt(dir: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["hunt", "-q", "--format", "jsonl", "--incidents"];
    args.extend_from_slice(extra);
    let dir = dir.to_str().unwrap().to_string();
    args.push(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn generate(seed: u64) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args([
            "-q",
            "generate",
            "--seed",
            &seed.to_string(),
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let manifest =
        serde_json::from_slice(&std::fs::read(dir.path().join(".manifest.json")).unwrap()).unwrap();
    (dir, manifest)
}

fn level_rank(l: &str) -> u8 {
    match l {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

fn ids(v: &Value) -> HashSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

#[test]
fn planted_intrusion_caught_and_decoys_spared_over_seeds() {
    for seed in [1, 2, 3, 4] {
        let (dir, manifest) = generate(seed);
        let records = hunt(dir.path(), &[]);
        let detections: Vec<&Value> = records.iter().filter(|r| r.get("type").is_none()).collect();
        let serious: Vec<&Value> = detections
            .iter()
            .copied()
            .filter(|d| level_rank(d["rule"]["level"].as_str().unwrap()) >= 2)
            .collect();
        // Every planted mailbox: caught at medium or higher, naming the planted records.
        for planted in manifest["intrusion"].as_array().unwrap() {
            let planted_ids = ids(&planted["record_ids"]);
            let caught: HashSet<String> = serious
                .iter()
                .filter(|d| d["tenant"] == planted["tenant"])
                .flat_map(|d| ids(&d["event_ids"]))
                .filter(|id| planted_ids.contains(id))
                .collect();
            assert_eq!(
                caught, planted_ids,
                "seed {seed}: every planted record of {} is in a medium+ detection",
                planted["mailbox"]
            );
        }
        // No decoy record in any medium-or-higher detection.
        for decoy in manifest["decoys"].as_array().unwrap() {
            let decoy_ids = ids(&decoy["record_ids"]);
            for d in &serious {
                let hit: Vec<String> = ids(&d["event_ids"])
                    .intersection(&decoy_ids)
                    .cloned()
                    .collect();
                assert!(
                    hit.is_empty(),
                    "seed {seed}: decoy {} flagged by {}: {hit:?}",
                    decoy["kind"],
                    d["rule"]["id"]
                );
            }
        }
        // The top incident is the planted intrusion in the first tenant.
        let top = records
            .iter()
            .find(|r| r["type"] == "incident")
            .expect("an incident");
        assert_eq!(top["level"], "high");
        assert_eq!(top["tenant"], manifest["tenants"][0], "seed {seed}");
        assert!(top["ips"]
            .as_array()
            .unwrap()
            .iter()
            .all(|ip| manifest["actor_ips"].as_array().unwrap().contains(ip)));
        // The campaign view names the actor's indicators across both targeted tenants.
        assert!(records
            .iter()
            .any(|r| r["type"] == "campaign" && r["tenants"].as_array().unwrap().len() >= 2));
    }
}

#[test]
fn without_signin_logs_the_join_says_not_applicable() {
    let (dir, _) = generate(9);
    // Only the mail reads: no Entra sign-ins and no UAL UserLoggedIn records.
    let ual = std::fs::read_to_string(dir.path().join("ual.jsonl")).unwrap();
    let reads: String = ual
        .lines()
        .filter(|l| l.contains("\"MailItemsAccessed\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let only = tempfile::tempdir().unwrap();
    std::fs::write(only.path().join("reads.jsonl"), reads).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["hunt", "--format", "jsonl", only.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mail access without sign-in: not applicable"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("sw-mail-without-signin"),
        "nothing claimed without sign-in logs"
    );
    assert!(
        stdout.contains("sw-ioc-match"),
        "the IOC feed still catches the actor"
    );
}

#[test]
fn persisted_baseline_round_trip() {
    let (dir, _) = generate(11);
    let base = dir.path().join("baseline.json.out");
    let first = hunt(dir.path(), &["--write-baseline", base.to_str().unwrap()]);
    assert!(!first.is_empty());
    let b: Value = serde_json::from_slice(&std::fs::read(&base).unwrap()).unwrap();
    assert_eq!(b["stormwatch_baseline"], 1);
    // With the written baseline, every client of this input is known: no new-client findings.
    let second = hunt(dir.path(), &["--baseline", base.to_str().unwrap()]);
    assert!(!second.iter().any(|r| r["rule"]["id"]
        .as_str()
        .is_some_and(|i| i.contains("new-client"))));
    std::fs::write(&base, "{\"stormwatch_baseline\": 2}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args([
            "hunt",
            "--baseline",
            base.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("baseline.json.out:1:"));
}

#[test]
fn missing_signin_days_are_reported_as_visibility_gaps() {
    let (dir, manifest) = generate(5);
    let path = dir.path().join("signins.jsonl");
    let kept: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"time\":\"2023-05-26") && !l.contains("\"time\":\"2023-05-27"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    let records = hunt(dir.path(), &[]);
    let gaps: Vec<&Value> = records
        .iter()
        .filter(|r| r["rule"]["id"] == "sw-audit-source-gap")
        .collect();
    let tenants: HashSet<&str> = gaps.iter().filter_map(|g| g["tenant"].as_str()).collect();
    assert_eq!(
        tenants.len(),
        manifest["tenants"].as_array().unwrap().len(),
        "{gaps:#?}"
    );
    assert!(gaps
        .iter()
        .all(|g| g["rule"]["level"] == "informational" && g["evidence"]["days"] == 2));
}
