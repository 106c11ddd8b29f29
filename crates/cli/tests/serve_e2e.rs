//! `stormwatch serve` end to end: the real binary on a loopback port with a temporary data
//! directory, a generated multi-tenant corpus ingested over HTTP with per-tenant keys, and the
//! planted intrusion checked as incidents — in the right tenant only, invisible to the other
//! tenant's key.

mod support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

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
    let manifest = generate(&corpus, 3);
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
    let manifest = generate(&corpus, 2);
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

#[test]
fn serve_limits_each_key_and_exposes_prometheus_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let manifest = generate(&corpus, 2);
    let tenants: Vec<&str> = manifest.tenants.iter().map(String::as_str).collect();
    let conf = config(tmp.path(), free_port(), &tenants, None).replacen(
        "\n[[tenants]]",
        "\nrate_limit_per_minute = 60\nrate_limit_burst = 4\n[[tenants]]",
        1,
    );
    let s = start(tmp.path(), &conf);
    let api = |p: &str| format!("{}/api/v1/{p}", s.base);

    let lines = lines_of(&corpus, "ual.jsonl", tenants[0]);
    let body = lines[..10].join("\n");
    let (code, out) = call("POST", &api("ingest"), Some(KEY_A), Some(body.as_bytes()));
    assert_eq!(code, 202, "{out}");
    // The burst is 4: three more requests pass, the fifth is refused with Retry-After.
    for _ in 0..3 {
        assert_eq!(call("GET", &api("incidents"), Some(KEY_A), None).0, 200);
    }
    let mut resp = agent()
        .get(api("incidents"))
        .header("Authorization", &format!("Bearer {KEY_A}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(resp
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("rate limit"));
    // Other keys have their own bucket; a wrong key is counted.
    assert_eq!(call("GET", &api("incidents"), Some(OPS), None).0, 200);
    let wrong = format!("sw_ops_{}", "9".repeat(26));
    assert_eq!(call("GET", &api("incidents"), Some(&wrong), None).0, 401);

    let text = agent()
        .get(format!("{}/metrics", s.base))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for needle in [
        "stormwatch_ingest_requests_total{answer=\"accepted\"} 1\n",
        "stormwatch_ingest_events_total 10\n",
        "stormwatch_rate_limited_total 1\n",
        "stormwatch_auth_failures_total 1\n",
        "stormwatch_ingest_duration_seconds_count 1\n",
        "# TYPE stormwatch_ingest_duration_seconds histogram\n",
        "stormwatch_outbox_pending ",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
}

#[test]
fn serve_takes_a_dropped_export_from_its_watched_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let manifest = generate(&corpus, 2);
    let tenants: Vec<&str> = manifest.tenants.iter().map(String::as_str).collect();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let conf = config(tmp.path(), free_port(), &tenants, None).replacen(
        "\n[[tenants]]",
        &format!(
            "\nwatch_interval_ms = 100\n[[watch]]\ndir = \"{}\"\n[[tenants]]",
            inbox.display()
        ),
        1,
    );
    let s = start(tmp.path(), &conf);
    let lines = lines_of(&corpus, "ual.jsonl", tenants[1]);
    // Written under a temporary name, then renamed into place, as the docs advise.
    std::fs::write(inbox.join("export.jsonl.part"), lines.join("\n")).unwrap();
    std::fs::rename(inbox.join("export.jsonl.part"), inbox.join("export.jsonl")).unwrap();
    let t0 = Instant::now();
    let metrics = loop {
        let text = agent()
            .get(format!("{}/metrics", s.base))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        if text.contains("stormwatch_watch_files_taken_total 1\n") {
            break text;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{text}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        metrics.contains(&format!("stormwatch_ingest_events_total {}\n", lines.len())),
        "{metrics}"
    );
    assert!(
        s.log()
            .contains(&format!("export.jsonl records={}", lines.len())),
        "{}",
        s.log()
    );
}
