//! `stormwatch guard` as a real process: flags, health endpoint, a forged and a valid token,
//! graceful shutdown on SIGTERM (exit 0, audit log flushed), and the audit log read back by
//! `stormwatch hunt` (the forged attempt is one high detection).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::CONSUMER_TENANT;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUD: &str = "api://stormwatch-guard-cli";

fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn guard_process_answers_and_shuts_down_gracefully_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("stormwatch-guard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tenant = TestKey::rsa("tenant-key");
    let consumer = TestKey::rsa("consumer-key");
    let jwks = dir.join("jwks.json");
    std::fs::write(
        &jwks,
        testkit::jwks(&[
            tenant.jwk_with_issuer("https://login.microsoftonline.com/{tenantid}/v2.0"),
            consumer.jwk_with_issuer(&testkit::issuer(CONSUMER_TENANT)),
        ]),
    )
    .unwrap();
    let config = dir.join("guard.toml");
    std::fs::write(
        &config,
        format!("audiences = [\"{AUD}\"]\ntenants = [\"{TENANT}\"]\nskew_secs = 60\n"),
    )
    .unwrap();
    let audit = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["guard", "--config"])
        .arg(&config)
        .arg("--jwks")
        .arg(&jwks)
        .args(["--listen", &addr.to_string(), "--audit-log"])
        .arg(&audit)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start guard");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "guard did not start");
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("guard exited early with {status}: {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(addr, "/healthz", None).0, 200);
    let now = stormwatch_token::time::now_unix();
    let forged = consumer.sign(&testkit::claims(TENANT, AUD, now));
    let (status, raw) = get(addr, "/auth", Some(&forged));
    assert_eq!(status, 401);
    assert!(
        raw.contains("error_description=\"key_issuer_mismatch\""),
        "{raw}"
    );
    let (status, raw) = get(
        addr,
        "/auth",
        Some(&tenant.sign(&testkit::claims(TENANT, AUD, now))),
    );
    assert_eq!(status, 200, "{raw}");
    assert!(raw
        .to_ascii_lowercase()
        .contains(&format!("x-auth-tenant: {TENANT}")));

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "clean exit after SIGTERM");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<&str> = records
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["key_issuer_mismatch", "valid"]);

    // The audit log is a hunt input: the forged attempt becomes one high detection.
    let hunt = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["--quiet", "hunt", "--format", "jsonl"])
        .arg(&audit)
        .output()
        .unwrap();
    assert_eq!(
        hunt.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&hunt.stderr)
    );
    let detections: Vec<serde_json::Value> = String::from_utf8(hunt.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(detections[0]["rule"]["level"], "high");
    assert_eq!(detections[0]["tenant"], TENANT);
    assert_eq!(detections[0]["evidence"]["reason"], "key_issuer_mismatch");
}

#[test]
fn guard_configuration_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args([
            "guard",
            "--jwks",
            "/nonexistent.json",
            "--audience",
            "a",
            "--tenant",
            TENANT,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["guard", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
