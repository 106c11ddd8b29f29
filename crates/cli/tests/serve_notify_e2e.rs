//! `stormwatch serve` telling tenant admins, end to end: the real binary, a real SMTP server
//! (aiosmtpd), an HTTP webhook receiver that is down for its first requests, and a UDP syslog
//! listener, all on loopback (`tests/support/sinks.py`). Three tenants are ingested over HTTP;
//! the server is killed with SIGKILL in the middle of one tenant's ingest and restarted, the
//! client re-sending the batches it got no answer for (same Idempotency-Key).
//!
//! Checked: the planted intrusion's tenants — and only they — get e-mail, each tenant's only to
//! its own admins; every notification reaches every channel exactly once (no duplicate after
//! the crash, none lost to the webhook outage); the webhook signature verifies; no acknowledged
//! event is lost. Runs on SQLite and on PostgreSQL.

mod support;

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const SECRET: &str = "whsec-0123456789abcdef";

/// The Python sinks, killed on drop.
struct Sinks {
    child: Child,
    dir: std::path::PathBuf,
    smtp: u16,
    webhook: u16,
    syslog: u16,
}

impl Drop for Sinks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sinks {
    fn start(dir: &Path, webhook_fail: u32) -> Sinks {
        std::fs::create_dir_all(dir).unwrap();
        let (smtp, webhook, syslog) = (free_port(), free_port(), free_port());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sinks.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir)
            .args([smtp, webhook, syslog].map(|p| p.to_string()))
            .args(["--webhook-fail", &webhook_fail.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (./test.sh installs it)");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert_eq!(
            first.trim(),
            "ready",
            "sinks did not start (is aiosmtpd installed?)"
        );
        Sinks {
            child,
            dir: dir.to_path_buf(),
            smtp,
            webhook,
            syslog,
        }
    }

    fn read(&self, file: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn notify_toml(&self) -> String {
        format!(
            "[notify]\ninterval_ms = 100\npublic_url = \"https://sw.example\"\n\
             [notify.email]\nsmtp = \"127.0.0.1:{}\"\nsecurity = \"none\"\nfrom = \"stormwatch <alerts@sw.example>\"\n\
             [[notify.webhooks]]\nname = \"soc\"\nurl = \"http://127.0.0.1:{}/hook\"\nformat = \"json\"\nsecret = \"{SECRET}\"\n\
             [notify.syslog]\naddress = \"127.0.0.1:{}\"\ntransport = \"udp\"\n",
            self.smtp, self.webhook, self.syslog
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `batches` in order from a thread; each acknowledged (202/200) batch's index is kept.
fn send_batches(
    url: String,
    key: &'static str,
    batches: Vec<(String, String)>,
    acked: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Vec<usize>> {
    std::thread::spawn(move || {
        let mut ok = Vec::new();
        for (i, (idem, body)) in batches.iter().enumerate() {
            let sent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(20)))
                .build()
                .new_agent()
                .post(&url)
                .header("Authorization", &format!("Bearer {key}"))
                .header("Idempotency-Key", idem)
                .send(body.as_bytes());
            match sent {
                Ok(r) if r.status().as_u16() < 300 => {
                    ok.push(i);
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                _ => break, // the server is gone
            }
        }
        ok
    })
}

/// A tenant's sign-ins then audit records, in batches of `size` lines with idempotency keys.
fn batches_of(corpus: &Path, tenant: &str, size: usize) -> Vec<(String, String)> {
    let mut lines = lines_of(corpus, "signins.jsonl", tenant);
    lines.extend(lines_of(corpus, "ual.jsonl", tenant));
    lines
        .chunks(size)
        .enumerate()
        .map(|(i, c)| (format!("{tenant}-{i}"), c.join("\n")))
        .collect()
}

#[test]
fn serve_tells_each_tenants_admins_once_through_a_crash_and_a_webhook_outage() {
    notify_scenario(None);
}

#[test]
fn serve_on_postgres_tells_each_tenants_admins_once_through_a_crash_and_a_webhook_outage() {
    if let Some(pg) = postgres() {
        notify_scenario(Some(&pg));
    }
}

fn notify_scenario(pg: Option<&Pg>) {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let manifest = generate(&corpus, 3);
    let tenants: Vec<&str> = manifest.tenants.iter().map(String::as_str).collect();
    let planted_tenants: HashSet<&str> = manifest
        .intrusion
        .iter()
        .map(|p| p.tenant.as_str())
        .collect();
    let (ta, tb) = (tenants[0], tenants[1]);
    assert!(planted_tenants.contains(ta) && planted_tenants.contains(tb));
    let quiet = tenants[2];
    assert!(
        !planted_tenants.contains(quiet),
        "the third tenant has no intrusion"
    );

    let sinks = Sinks::start(&tmp.path().join("sinks"), 2);
    let conf = |port| config(tmp.path(), port, &tenants, pg) + &sinks.notify_toml();
    let s = start(tmp.path(), &conf(free_port()));
    let ingest = |s: &Server| format!("{}/api/v1/ingest", s.base);

    // Tenant A whole (its key), the quiet tenant through the operator key.
    let acked = Arc::new(AtomicUsize::new(0));
    let a = send_batches(
        ingest(&s),
        KEY_A,
        batches_of(&corpus, ta, 400),
        acked.clone(),
    );
    assert_eq!(a.join().unwrap().len(), batches_of(&corpus, ta, 400).len());
    let q = send_batches(
        ingest(&s),
        OPS,
        batches_of(&corpus, quiet, 400),
        acked.clone(),
    );
    q.join().unwrap();
    // A's incident is told before the crash.
    let t0 = Instant::now();
    while sinks.read("mail.jsonl").is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no mail\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Tenant B in small batches; SIGKILL once about half are acknowledged.
    let b_batches = batches_of(&corpus, tb, 150);
    let b_acked = Arc::new(AtomicUsize::new(0));
    let b = send_batches(ingest(&s), KEY_B, b_batches.clone(), b_acked.clone());
    while b_acked.load(Ordering::SeqCst) < b_batches.len() / 2 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut s = s;
    let kill_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    s.child.kill().unwrap(); // SIGKILL, mid-ingest
    s.child.wait().unwrap();
    let b_ok: HashSet<usize> = b.join().unwrap().into_iter().collect();
    assert!(b_ok.len() < b_batches.len(), "the kill came mid-ingest");
    let acked_lines: usize = b_ok.iter().map(|i| b_batches[*i].1.lines().count()).sum();
    drop(s);

    // Restart; the client re-sends what got no answer (a batch that was stored but not
    // answered is recognised by its Idempotency-Key).
    let s = start(tmp.path(), &conf(free_port()));
    let restored = s
        .log()
        .lines()
        .find_map(|l| {
            l.split(&format!("restored tenant={tb} events="))
                .nth(1)
                .and_then(|n| n.trim().parse::<usize>().ok())
        })
        .unwrap_or(0);
    assert!(
        restored >= acked_lines,
        "acknowledged {acked_lines} events of B, restored {restored}\n{}",
        s.log()
    );
    let rest: Vec<(String, String)> = (0..b_batches.len())
        .filter(|i| !b_ok.contains(i))
        .map(|i| b_batches[i].clone())
        .collect();
    let n_rest = rest.len();
    let again = send_batches(ingest(&s), KEY_B, rest, Arc::new(AtomicUsize::new(0)));
    assert_eq!(again.join().unwrap().len(), n_rest);

    // Quiescence: every planted mailbox in an incident, every notification finished.
    let api = |p: &str| format!("{}/api/v1/{p}", s.base);
    let planted: HashSet<(String, String)> = manifest
        .intrusion
        .iter()
        .map(|p| (p.tenant.clone(), p.mailbox.clone()))
        .collect();
    let t0 = Instant::now();
    let notifications = loop {
        let (_, d) = call(
            "GET",
            &api("detections?min_level=medium&limit=1000"),
            Some(OPS),
            None,
        );
        let caught: HashSet<(String, String)> = d["detections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| !x["incident_id"].is_null())
            .map(|x| {
                let r = &x["detection"];
                (
                    r["tenant"].as_str().unwrap_or("").into(),
                    r["user"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        let (_, n) = call("GET", &api("notifications?limit=1000"), Some(OPS), None);
        let list = n["notifications"].as_array().cloned().unwrap_or_default();
        if planted.is_subset(&caught)
            && !list.is_empty()
            && list.iter().all(|x| !x["done"].is_null())
        {
            break list;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "not quiescent: caught {caught:?}, notifications {n}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Let a last (wrong) resend surface, if there were one.
    std::thread::sleep(Duration::from_millis(500));

    // One notification per incident state, each told once on each channel.
    let states: HashSet<(i64, String)> = notifications
        .iter()
        .map(|n| {
            (
                n["incident_id"].as_i64().unwrap(),
                n["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states.len(),
        notifications.len(),
        "one notification per incident state"
    );
    let tenant_of: HashMap<String, String> = notifications
        .iter()
        .map(|n| {
            (
                format!("sw-{}", n["id"]),
                n["tenant"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let told: HashSet<&str> = tenant_of.values().map(String::as_str).collect();
    assert_eq!(told, planted_tenants, "only the intruded tenants are told");

    // Every delivery, by channel: (delivery id, arrival time relative to the kill).
    let mut arrivals: Vec<(String, f64)> = Vec::new();
    let since_kill = |v: &Value| v["at"].as_f64().unwrap() - kill_at;

    // E-mail: to that tenant's admins only.
    let mails = sinks.read("mail.jsonl");
    for m in &mails {
        let data = m["data"].as_str().unwrap();
        let id = data
            .lines()
            .find_map(|l| {
                l.strip_prefix("Message-ID: <")
                    .or(l.strip_prefix("Message-Id: <"))
            })
            .and_then(|l| l.split('@').next())
            .unwrap_or_else(|| panic!("no Message-ID in\n{data}"));
        let tenant = &tenant_of[id.trim_end_matches("-email")];
        assert_eq!(
            m["rcpt_tos"],
            json!([format!("soc@{tenant}.example")]),
            "{data}"
        );
        assert!(data.contains(tenant.as_str()), "{data}");
        arrivals.push((id.to_string(), since_kill(m)));
    }

    // Webhook: the first two attempts met the outage and were retried; every request signed.
    let hooks = sinks.read("webhook.jsonl");
    assert_eq!(hooks.iter().filter(|h| h["status"] == 503).count(), 2);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    for h in &hooks {
        let hd = &h["headers"];
        let body = h["body"].as_str().unwrap();
        let ts = hd["x-stormwatch-timestamp"].as_str().unwrap();
        let sig = hd["x-stormwatch-signature"].as_str().unwrap();
        let tag = ring::hmac::sign(&key, format!("{ts}.{body}").as_bytes());
        assert_eq!(
            sig,
            format!("v1={}", hex(tag.as_ref())),
            "signature of {body}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        let delivery = hd["x-stormwatch-delivery"].as_str().unwrap();
        assert_eq!(v["delivery"], delivery);
        assert_eq!(
            v["tenant"]["id"].as_str().unwrap(),
            tenant_of[delivery.trim_end_matches("-webhook-soc")]
        );
        if h["status"] == 200 {
            arrivals.push((delivery.to_string(), since_kill(h)));
        }
    }
    let retried = notifications.iter().any(|n| {
        n["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["channel"] == "webhook:soc" && d["attempts"].as_i64().unwrap() >= 2)
    });
    assert!(retried, "the outage shows as attempts: {notifications:?}");

    // Syslog: CEF lines, one per notification (the incident id is the CEF externalId).
    let syslog = sinks.read("syslog.jsonl");
    for l in &syslog {
        let line = l["line"].as_str().unwrap();
        assert!(line.contains(" CEF:0|stormwatch|stormwatch|"), "{line}");
        let inc = line
            .split("externalId=")
            .nth(1)
            .and_then(|x| x.split(' ').next())
            .unwrap();
        let state = line
            .split("cs2=")
            .nth(1)
            .and_then(|x| x.split(' ').next())
            .unwrap();
        arrivals.push((format!("syslog {inc} {state}"), since_kill(l)));
    }

    // Each notification reached each channel. A delivery is repeated only where the kill cut
    // its send short (the receiver had it, the outbox had not recorded it yet): at most one
    // repeat in all — the dispatcher sends one thing at a time — arriving first within a second
    // of the kill, and repeated with the same delivery id so the receiver can drop it.
    let mut first_seen: HashMap<&str, f64> = HashMap::new();
    let mut repeats = Vec::new();
    for (id, at) in &arrivals {
        if let Some(first) = first_seen.insert(id, *at) {
            repeats.push((id.clone(), first, *at));
        }
    }
    let per_channel = |prefix: &str| first_seen.keys().filter(|k| k.contains(prefix)).count();
    assert_eq!(per_channel("-email"), notifications.len(), "{first_seen:?}");
    assert_eq!(
        per_channel("-webhook-soc"),
        notifications.len(),
        "{first_seen:?}"
    );
    assert_eq!(
        per_channel("syslog "),
        notifications.len(),
        "{first_seen:?}"
    );
    assert!(repeats.len() <= 1, "repeated deliveries: {repeats:?}");
    for (id, first, _) in &repeats {
        assert!(
            first.abs() < 1.0,
            "{id} repeated, first sent {first:.3} s from the kill"
        );
    }

    // The tenant admin sees its own notifications only.
    let (_, own) = call("GET", &api("notifications"), Some(KEY_A), None);
    assert!(own["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["tenant"] == json!(ta)));
}
