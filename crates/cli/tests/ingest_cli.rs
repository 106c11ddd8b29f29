//! End-to-end: the `stormwatch` binary's inspect, dump and generate, as a user runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = bin();
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn stormwatch");
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const GOOD: &str = r#"{"CreationTime":"2024-02-01T16:07:34","Id":"g1","Operation":"MailItemsAccessed","OrganizationId":"T1","RecordType":50,"Workload":"Exchange","UserId":"a@b.c"}"#;
const SIGNIN: &str = r#"{"time":"2024-02-01T16:00:00Z","category":"SignInLogs","tenantId":"T1","properties":{"id":"s1","userPrincipalName":"a@b.c"}}"#;

#[test]
fn dump_prints_only_records_on_stdout_and_errors_with_locations_on_stderr() {
    let input = format!("{GOOD}\nnot json\n{SIGNIN}\n{GOOD} trailing\n");
    let out = run(&["dump", "-"], Some(input.as_bytes()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout is JSON lines"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "ual");
    assert_eq!(lines[0]["time"], "2024-02-01T16:07:34Z");
    assert_eq!(lines[0]["tenant"], "t1");
    assert_eq!(lines[0]["source"]["line"], 1);
    assert_eq!(lines[0]["record"]["Id"], "g1");
    assert_eq!(lines[1]["kind"], "entra_signin");
    let err = text(&out.stderr);
    assert!(err.contains("-:2: invalid JSON"), "{err}");
    assert!(
        err.contains("-:4: invalid JSON: trailing characters"),
        "{err}"
    );
    assert!(
        err.contains("4 records read from 1 input: 2 parsed, 2 rejected; 2 written"),
        "{err}"
    );
}

#[test]
fn dump_filters_by_kind_and_time() {
    let input = format!("{GOOD}\n{SIGNIN}\n");
    let out = run(
        &["dump", "--quiet", "--kind", "entra_signin", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(
        out.stderr.is_empty(),
        "--quiet prints no summary: {}",
        text(&out.stderr)
    );
    let out = run(
        &["dump", "-q", "--from", "2024-02-01T16:05:00Z", "-"],
        Some(input.as_bytes()),
    );
    let got = text(&out.stdout);
    assert_eq!(got.lines().count(), 1);
    assert!(got.contains("\"g1\""));
    let out = run(&["dump", "--kind", "nonsense", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown kind"));
}

#[test]
fn unreadable_input_exits_2_with_the_reason() {
    let out = run(&["inspect", "/nonexistent/x.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/x.json: no such file"));
    let out = run(&["dump"], None);
    assert_eq!(out.status.code(), Some(2), "missing PATH is a usage error");
}

#[test]
fn inspect_summarises_the_bundled_sample() {
    let sample = repo().join("samples/scenario");
    let out = run(
        &["inspect", "--format", "json", sample.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let read = v["records"]["read"].as_u64().unwrap();
    assert!(read > 5000);
    assert_eq!(v["records"]["rejected"], 0);
    assert_eq!(v["records"]["parsed"].as_u64(), Some(read));
    assert_eq!(v["tenants"].as_array().unwrap().len(), 3);
    assert!(v["kinds"]["ual"].as_u64().unwrap() > 0);
    assert!(v["kinds"]["entra_signin"].as_u64().unwrap() > 0);
    let table = run(&["inspect", sample.to_str().unwrap()], None);
    let t = text(&table.stdout);
    assert!(
        t.contains("Records: ") && t.contains("MailItemsAccessed"),
        "{t}"
    );
}

#[test]
fn inspect_reads_gzip_from_stdin() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("{GOOD}\n{SIGNIN}\n").as_bytes())
        .unwrap();
    let bytes = gz.finish().unwrap();
    let out = run(&["inspect", "--format", "json", "-"], Some(&bytes));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"]["parsed"], 2);
    assert_eq!(v["files"][0]["compression"], "gzip");
}

#[test]
fn generate_writes_a_corpus_that_reads_back_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "generate",
            "--out",
            dir.path().to_str().unwrap(),
            "--days",
            "7",
            "--users",
            "8",
            "--seed",
            "5",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join(".manifest.json").exists());
    let out = run(
        &["inspect", "--format", "json", dir.path().to_str().unwrap()],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"]["rejected"], 0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(".manifest.json")).unwrap()).unwrap();
    assert_eq!(v["records"]["read"], manifest["records"]);
}
