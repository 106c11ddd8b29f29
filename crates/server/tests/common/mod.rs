//! Shared helpers for guard tests: keys and tokens, a guard on a real loopback port, and a
//! minimal HTTP/1.1 client (so the tests need no HTTP client dependency).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use stormwatch_server::guard::{serve, Guard, GuardConfig};
use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::CONSUMER_TENANT;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const AUD: &str = "api://stormwatch-guard-test";
pub const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

pub struct Keys {
    pub tenant: TestKey,
    pub consumer: TestKey,
    pub jwks: String,
}

pub fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let tenant = TestKey::rsa("tenant-key");
        let consumer = TestKey::rsa("consumer-key");
        let jwks = testkit::jwks(&[
            tenant.jwk_with_issuer(TEMPLATE),
            consumer.jwk_with_issuer(&testkit::issuer(CONSUMER_TENANT)),
        ]);
        Keys {
            tenant,
            consumer,
            jwks,
        }
    })
}

pub fn now() -> i64 {
    stormwatch_token::time::now_unix()
}

/// A valid token for the test tenant and audience.
pub fn valid_token() -> String {
    keys().tenant.sign(&testkit::claims(TENANT, AUD, now()))
}

/// The Storm-0558 forgery: enterprise claims, consumer key.
pub fn forged_token() -> String {
    keys().consumer.sign(&testkit::claims(TENANT, AUD, now()))
}

pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stormwatch-guard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub struct RunningGuard {
    pub addr: SocketAddr,
    pub audit: PathBuf,
    pub guard: Arc<Guard>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningGuard {
    /// Graceful shutdown; returns the audit log lines.
    pub fn stop(mut self) -> Vec<serde_json::Value> {
        self.shutdown();
        read_jsonl(&self.audit)
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("guard thread");
        }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub fn read_jsonl(path: &PathBuf) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
        .collect()
}

/// Start a guard on 127.0.0.1 with an ephemeral port.
pub fn start_guard(name: &str) -> RunningGuard {
    start_guard_with(name, |_| {})
}

/// Start a guard after adjusting its configuration.
pub fn start_guard_with(name: &str, adjust: impl FnOnce(&mut GuardConfig)) -> RunningGuard {
    let dir = temp_dir(name);
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, &keys().jwks).unwrap();
    let audit = dir.join("audit.jsonl");
    let cfg = GuardConfig {
        listen: Some(String::from("127.0.0.1:0")),
        audit_log: Some(audit.to_string_lossy().into_owned()),
        jwks: vec![jwks.to_string_lossy().into_owned()],
        audiences: vec![AUD.into()],
        tenants: vec![TENANT.into()],
        ..GuardConfig::default()
    };
    let mut cfg = cfg;
    adjust(&mut cfg);
    let (guard, warnings) = Guard::from_config(&cfg).expect("guard config");
    assert!(warnings.is_empty(), "{warnings:?}");
    let guard = Arc::new(guard);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let g = Arc::clone(&guard);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener, g, None, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("guard started");
    RunningGuard {
        addr,
        audit,
        guard,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One `GET` with `Connection: close`.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A free loopback port (bound and released; fine for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
