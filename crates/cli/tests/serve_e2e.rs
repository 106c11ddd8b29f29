//! `stormwatch serve` end to end: the real binary on a loopback port with a temporary data
//! directory, a generated multi-tenant corpus ingested over HTTP with per-tenant keys, and the
//! planted intrusion checked as incidents — in the right tenant only, invisible to the other
//! tenant's key.

use flate2::write::GzEncoder;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OPS: &str = "sw_ops_0123456789abcdef0123456789";
const KEY_A: &str = "sw_tenant-a_aaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B: &str = "sw_tenant-b_bbbbbbbbbbbbbbbbbbbbbbbb";

struct Server {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Sends a request; returns the status and the JSON body (Null when not JSON).
fn call(method: &str, url: &str, key: Option<&str>, body: Option<&[u8]>) -> (u16, Value) {
    call_with(method, url, key, body, &[])
}

fn call_with(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let a = agent();
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut resp = match method {
        "GET" => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        _ => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(body.unwrap_or_default())
        }
    }
    .unwrap_or_else(|e| {
        panic!(
            "{method} {url} ({} bytes): {e}",
            body.map_or(0, <[u8]>::len)
        )
    });
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn start(dir: &Path, config: &str) -> Server {
    let path = dir.join("stormwatch.toml");
    std::fs::write(&path, config).unwrap();
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let port = config
        .lines()
        .find_map(|l| l.strip_prefix("listen = \"127.0.0.1:"))
        .and_then(|p| p.trim_end_matches('"').parse::<u16>().ok())
        .unwrap();
    let s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let t0 = Instant::now();
    loop {
        if let Ok(r) = agent().get(format!("{}/healthz", s.base)).call() {
            if r.status() == 200 {
                return s;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no /healthz:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The corpus lines of one stream that belong to `tenant`.
fn lines_of(dir: &Path, file: &str, tenant: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(tenant))
        .map(String::from)
        .collect()
}

fn config(dir: &Path, port: u16, tenants: &[&str], pg: Option<&Pg>) -> String {
    config_judging(dir, port, tenants, pg, 200)
}

fn config_judging(
    dir: &Path,
    port: u16,
    tenants: &[&str],
    pg: Option<&Pg>,
    judge_ms: u64,
) -> String {
    let mut c = format!(
        "data_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\njudge_interval_ms = {judge_ms}\nmax_body_bytes = 4194304\n",
        dir.join("data").display()
    );
    if let Some(pg) = pg {
        c += &format!(
            "store = \"{}\"\npostgres_schema = \"{}\"\n",
            pg.url, pg.schema
        );
    }
    for t in tenants {
        c += &format!("[[tenants]]\nid = \"{t}\"\nadmins = [\"soc@{t}.example\"]\n");
    }
    c += &format!("[[api_keys]]\nname = \"ops\"\nrole = \"operator\"\nkey = \"{OPS}\"\n");
    for (t, k) in tenants.iter().zip([KEY_A, KEY_B]) {
        c += &format!(
            "[[api_keys]]\nname = \"admin {t}\"\nrole = \"tenant_admin\"\ntenant = \"{t}\"\nkey = \"{k}\"\n"
        );
    }
    c
}

fn level_rank(l: &str) -> u8 {
    ["informational", "low", "medium", "high", "critical"]
        .iter()
        .position(|x| *x == l)
        .unwrap_or(0) as u8
}

/// A PostgreSQL database for the run, in a scratch schema dropped afterwards (with `psql`).
struct Pg {
    url: String,
    schema: String,
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([self.url.as_str(), "-qc"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .stderr(Stdio::null())
            .status();
    }
}

/// PostgreSQL as the store tests find it: `STORMWATCH_TEST_POSTGRES`, else
/// `postgresql://postgres@127.0.0.1:5432/test` when something listens there; `None` (a skip,
/// noted) otherwise.
fn postgres() -> Option<Pg> {
    let url = match std::env::var("STORMWATCH_TEST_POSTGRES") {
        Ok(u) => u,
        Err(_) if std::net::TcpStream::connect(("127.0.0.1", 5432)).is_ok() => {
            "postgresql://postgres@127.0.0.1:5432/test".into()
        }
        Err(_) => {
            eprintln!("note: no PostgreSQL on 127.0.0.1:5432; the PostgreSQL run is skipped");
            return None;
        }
    };
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Some(Pg {
        url,
        schema: format!("sw_e2e_{}_{ms}", std::process::id()),
    })
}

#[test]
fn serve_turns_the_planted_intrusion_into_incidents_of_the_right_tenant_only() {
    scenario(None);
}

#[test]
fn serve_on_postgres_turns_the_planted_intrusion_into_incidents_of_the_right_tenant_only() {
    if let Some(pg) = postgres() {
        scenario(Some(&pg));
    }
}

fn scenario(pg: Option<&Pg>) {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let manifest = stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants: 3,
            users_per_tenant: 8,
            days: 10,
            ..stormwatch_scenario::Config::default()
        },
        &corpus,
        false,
    )
    .unwrap();
    let (ta, tb, tc) = (
        &manifest.tenants[0],
        &manifest.tenants[1],
        &manifest.tenants[2],
    );
    let planted: Vec<(String, String)> = manifest
        .intrusion
        .iter()
        .map(|p| (p.tenant.clone(), p.mailbox.clone()))
        .collect();
    assert!(
        planted.iter().any(|(t, _)| t == ta),
        "the intrusion is planted in tenant A"
    );
    let port = free_port();
    let s = start(tmp.path(), &config(tmp.path(), port, &[ta, tb, tc], pg));
    let api = |p: &str| format!("{}/api/v1/{p}", s.base);

    // Authentication.
    assert_eq!(call("GET", &api("incidents"), None, None).0, 401);
    let wrong = format!("sw_ops_{}", "9".repeat(26));
    assert_eq!(call("GET", &api("incidents"), Some(&wrong), None).0, 401);
    assert_eq!(
        call("GET", &format!("{}/readyz", s.base), None, None).0,
        200
    );

    // A malformed batch is refused whole, naming the bad record.
    let a_ual = lines_of(&corpus, "ual.jsonl", ta);
    let bad = format!("{}\n{{\"broken\": \n", a_ual[0]);
    let (code, body) = call("POST", &api("ingest"), Some(KEY_A), Some(bad.as_bytes()));
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("body:2"), "{body}");

    // Bodies over max_body_bytes are refused.
    // (Announced, not sent: the server answers from Content-Length, before any body.)
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n\
         Content-Length: {}\r\n\r\n",
        5 << 20
    )
    .unwrap();
    let mut head = [0u8; 12];
    std::io::Read::read_exact(&mut tcp, &mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
    drop(tcp);

    // A tenant's key cannot ingest another tenant's records.
    let (code, body) = call(
        "POST",
        &api("ingest"),
        Some(KEY_B),
        Some(a_ual[0].as_bytes()),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["record"], "body:1", "{body}");

    // Tenant A: sign-ins first (JSON lines), then the audit log gzip-compressed, idempotent.
    let signins = lines_of(&corpus, "signins.jsonl", ta).join("\n");
    let (code, body) = call(
        "POST",
        &api("ingest"),
        Some(KEY_A),
        Some(signins.as_bytes()),
    );
    assert_eq!(code, 202, "{body}");
    let ual_gz = gzip(a_ual.join("\n").as_bytes());
    let idem = [("Idempotency-Key", "a-ual-1")];
    let (code, first) = call_with("POST", &api("ingest"), Some(KEY_A), Some(&ual_gz), &idem);
    assert_eq!(code, 202, "{first}");
    assert_eq!(first["accepted"], a_ual.len(), "{first}");
    let (code, again) = call_with("POST", &api("ingest"), Some(KEY_A), Some(&ual_gz), &idem);
    assert_eq!((code, &again["duplicate"]), (200, &json!(true)), "{again}");

    // Tenant B through the operator key, as one JSON array.
    let mut b_records: Vec<Value> = Vec::new();
    for f in ["signins.jsonl", "ual.jsonl"] {
        for l in lines_of(&corpus, f, tb) {
            b_records.push(serde_json::from_str(&l).unwrap());
        }
    }
    let array = serde_json::to_vec(&b_records).unwrap();
    let (code, body) = call("POST", &api("ingest"), Some(OPS), Some(&array));
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["tenants"][tb.as_str()], b_records.len(), "{body}");

    // Wait for the judge: every planted mailbox of A and B in a medium+ detection with an
    // incident.
    let t0 = Instant::now();
    let detections = loop {
        let (_, d) = call(
            "GET",
            &api("detections?min_level=medium&limit=1000"),
            Some(OPS),
            None,
        );
        let list = d["detections"].as_array().cloned().unwrap_or_default();
        let caught: HashSet<(String, String)> = list
            .iter()
            .filter(|x| !x["incident_id"].is_null())
            .map(|x| {
                let r = &x["detection"];
                (
                    r["tenant"].as_str().unwrap_or("").into(),
                    r["user"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        if planted.iter().all(|p| caught.contains(p)) {
            break list;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "planted {planted:?} not all caught; have {caught:?}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Nothing in tenant C (no data), and every detection is in its own record's tenant.
    for d in &detections {
        assert_ne!(d["detection"]["tenant"], json!(tc));
        assert!(level_rank(d["detection"]["rule"]["level"].as_str().unwrap()) >= 2);
    }
    let (_, c_inc) = call(
        "GET",
        &api(&format!("incidents?tenant={tc}")),
        Some(OPS),
        None,
    );
    assert_eq!(c_inc["incidents"], json!([]), "{c_inc}");

    // Tenant A's view: only A's incidents; the planted A mailbox is there, B's is not.
    let (code, a_inc) = call("GET", &api("incidents?limit=1000"), Some(KEY_A), None);
    assert_eq!(code, 200);
    let a_list = a_inc["incidents"].as_array().unwrap();
    assert!(!a_list.is_empty());
    assert!(a_list.iter().all(|i| i["tenant"] == json!(ta)), "{a_inc}");
    let (_, a_det) = call("GET", &api("detections?limit=1000"), Some(KEY_A), None);
    let a_users: HashSet<&str> = a_det["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["detection"]["tenant"], json!(ta));
            d["detection"]["user"].as_str().unwrap_or("")
        })
        .collect();
    for (t, mailbox) in &planted {
        assert_eq!(a_users.contains(mailbox.as_str()), t == ta, "{t} {mailbox}");
    }
    // Deduplication: one actor reading several mailboxes is one incident with several detections.
    assert!(
        a_list
            .iter()
            .any(|i| i["detections"].as_i64().unwrap() >= 2),
        "{a_inc}"
    );
    assert!(a_list.len() < a_det["detections"].as_array().unwrap().len());

    // Tenant B's key cannot see or change A's incident; A's key can.
    let a_id = a_list[0]["id"].as_i64().unwrap();
    let one = api(&format!("incidents/{a_id}"));
    assert_eq!(call("GET", &one, Some(KEY_B), None).0, 404);
    let ack = json!({"status": "acknowledged", "assignee": "alice", "comment": "on it"});
    let ack = serde_json::to_vec(&ack).unwrap();
    let status = format!("{one}/status");
    assert_eq!(call("POST", &status, Some(KEY_B), Some(&ack)).0, 404);
    let (code, got) = call("GET", &one, Some(KEY_A), None);
    assert_eq!((code, &got["status"]), (200, &json!("new")), "{got}");
    assert!(!got["detection_records"].as_array().unwrap().is_empty());
    let (code, after) = call("POST", &status, Some(KEY_A), Some(&ack));
    assert_eq!(code, 200, "{after}");
    assert_eq!(
        (&after["status"], &after["assignee"]),
        (&json!("acknowledged"), &json!("alice"))
    );
    let (_, got) = call("GET", &one, Some(OPS), None);
    let actions: Vec<&str> = got["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "status", "assign", "comment"], "{got}");
    assert_eq!(got["comments"][0]["text"], "on it");
    let bogus = serde_json::to_vec(&json!({"status": "closed"})).unwrap();
    assert_eq!(call("POST", &status, Some(KEY_A), Some(&bogus)).0, 400);

    // Graceful shutdown on SIGTERM.
    let mut s = s;
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let exit = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no exit on SIGTERM\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}\n{}", s.log());
    assert!(s.log().contains("stopped"), "{}", s.log());
    drop(s);

    // A restart on the same store keeps incidents, their history and the keys.
    let port = free_port();
    let s = start(tmp.path(), &config(tmp.path(), port, &[ta, tb, tc], pg));
    let one = format!("{}/api/v1/incidents/{a_id}", s.base);
    let (code, got) = call("GET", &one, Some(KEY_A), None);
    assert_eq!(
        (code, &got["status"]),
        (200, &json!("acknowledged")),
        "{got}"
    );
    assert_eq!(call("GET", &one, Some(KEY_B), None).0, 404);
}

#[test]
fn serve_refuses_an_invalid_configuration_listing_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    std::fs::write(
        &path,
        "data_dir = \"d\"\nlisten = \"nope\"\n[[tenants]]\nid = \"NOT-A-GUID\"\n\
         [[api_keys]]\nname = \"k\"\nrole = \"tenant_admin\"\nkey = \"short\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "listen:",
        "tenants[0].id:",
        "api_keys[0] (k).tenant:",
        "sw_<id>_<secret>",
    ] {
        assert!(err.contains(needle), "{needle:?} missing:\n{err}");
    }
}

#[test]
fn serve_loses_no_acknowledged_event_on_kill_9() {
    crash(None);
}

#[test]
fn serve_on_postgres_loses_no_acknowledged_event_on_kill_9() {
    if let Some(pg) = postgres() {
        crash(Some(&pg));
    }
}

/// Ingest, `kill -9` before any judge pass, restart: the events come back from the store and
/// the planted intrusion is found.
fn crash(pg: Option<&Pg>) {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let manifest = stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants: 2,
            users_per_tenant: 8,
            days: 10,
            ..stormwatch_scenario::Config::default()
        },
        &corpus,
        false,
    )
    .unwrap();
    let (ta, tb) = (&manifest.tenants[0], &manifest.tenants[1]);
    let tenants = [ta.as_str(), tb.as_str()];
    // The first judge tick comes at start (nothing buffered yet), the next in ten minutes.
    let mut s = start(
        tmp.path(),
        &config_judging(tmp.path(), free_port(), &tenants, pg, 600_000),
    );
    let mut sent = 0;
    for f in ["signins.jsonl", "ual.jsonl"] {
        let lines = lines_of(&corpus, f, ta);
        sent += lines.len();
        let url = format!("{}/api/v1/ingest", s.base);
        let (code, body) = call("POST", &url, Some(KEY_A), Some(lines.join("\n").as_bytes()));
        assert_eq!(code, 202, "{body}");
    }
    let (_, none) = call(
        "GET",
        &format!("{}/api/v1/incidents", s.base),
        Some(KEY_A),
        None,
    );
    assert_eq!(none["incidents"], json!([]), "not judged yet: {none}");
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    drop(s);

    let s = start(tmp.path(), &config(tmp.path(), free_port(), &tenants, pg));
    let planted: HashSet<&str> = manifest
        .intrusion
        .iter()
        .filter(|p| &p.tenant == ta)
        .map(|p| p.mailbox.as_str())
        .collect();
    assert!(!planted.is_empty());
    let url = format!("{}/api/v1/detections?min_level=medium&limit=1000", s.base);
    let t0 = Instant::now();
    loop {
        let (_, d) = call("GET", &url, Some(KEY_A), None);
        let users: HashSet<String> = d["detections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| !x["incident_id"].is_null())
            .filter_map(|x| x["detection"]["user"].as_str().map(String::from))
            .collect();
        if planted.iter().all(|m| users.contains(*m)) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{users:?}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let restored = format!("restored tenant={ta} events={sent}");
    assert!(
        s.log().contains(&restored),
        "{restored:?} not in\n{}",
        s.log()
    );
}
