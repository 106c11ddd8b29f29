//! End-to-end tests of `stormwatch rules check`: the SigmaHQ corpus loads with nothing
//! rejected, and a broken rule is reported with its file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

const SIGMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/sigma");

fn stormwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "stormwatch-rules-cli-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn sigmahq_corpus_loads_with_nothing_rejected() {
    let dirs = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-placeholder",
    ];
    let out = stormwatch()
        .args(["rules", "check", "--format", "json"])
        .args(dirs.iter().map(|d| Path::new(SIGMA).join(d)))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}: {stderr}",
        out.status.code()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rejected"], 0, "{stderr}");
    assert!(v["loaded"].as_u64().unwrap() > 3700, "{v}");
    // Linux, macOS, network... rules have no log kind in the built-in mapping.
    let unrouted = v["unrouted"].as_u64().unwrap();
    assert!(unrouted > 0 && unrouted < 1500, "{v}");
    // The table goes to stderr and stdout stays clean.
    let out = stormwatch()
        .args(["rules", "check"])
        .arg(Path::new(SIGMA).join("rules-placeholder"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected"));
}

#[test]
fn broken_rule_is_reported_with_file_and_line() {
    let dir = tmpdir("broken");
    let good = "title: good\nid: good-1\nlogsource: {product: windows}\ndetection:\n  sel: {A: 1}\n  condition: sel\n";
    let bad = "title: bad\nid: bad-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|notamodifier: x\n  condition: sel\n";
    std::fs::write(dir.join("good.yml"), good).unwrap();
    std::fs::write(dir.join("bad.yml"), bad).unwrap();
    let out = stormwatch()
        .args(["rules", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "{}:6: rule bad-1: unknown modifier 'notamodifier'",
        dir.join("bad.yml").display()
    );
    assert!(
        stderr.contains(&expected),
        "missing `{expected}` in:\n{stderr}"
    );

    let out = stormwatch()
        .args(["rules", "check", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["loaded"], 1);
    assert_eq!(v["rejected"], 1);
    assert_eq!(v["rejected_by_reason"]["modifier"], 1);
    assert_eq!(v["errors"][0]["line"], 6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn yaml_syntax_error_and_unreadable_paths() {
    let dir = tmpdir("syntax");
    std::fs::write(dir.join("x.yml"), "title: x\ndetection: [\n").unwrap();
    let out = stormwatch()
        .args(["rules", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a file with no readable rule: nothing loaded"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("x.yml:"));
    let out = stormwatch()
        .args(["rules", "check", "/nonexistent/stormwatch/rules"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn placeholder_config_overrides_and_is_validated() {
    let dir = tmpdir("config");
    let rule = "title: p\nid: p-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    User|expand: '%my_admins%'\n  condition: sel\n";
    std::fs::write(dir.join("p.yml"), rule).unwrap();
    let out = stormwatch()
        .args(["rules", "check"])
        .arg(dir.join("p.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("%my_admins%"));
    std::fs::write(
        dir.join("cfg.yaml"),
        "placeholders:\n  my_admins: [adm_*]\n",
    )
    .unwrap();
    let out = stormwatch()
        .args(["rules", "check", "--config"])
        .arg(dir.join("cfg.yaml"))
        .arg(dir.join("p.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.join("map.yaml"),
        "logsources:\n  - logsource: {product: windows}\n    kinds: [win]\n",
    )
    .unwrap();
    let out = stormwatch()
        .args(["rules", "check", "--format", "json", "--config"])
        .arg(dir.join("cfg.yaml"))
        .arg("--mapping")
        .arg(dir.join("map.yaml"))
        .arg(dir.join("p.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["unrouted"], 0);
    std::fs::write(dir.join("bad.yaml"), "nonsense: 1\n").unwrap();
    let out = stormwatch()
        .args(["rules", "check", "--mapping"])
        .arg(dir.join("bad.yaml"))
        .arg(dir.join("p.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = stormwatch()
        .args(["rules", "check", "--config"])
        .arg(dir.join("bad.yaml"))
        .arg(dir.join("p.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
