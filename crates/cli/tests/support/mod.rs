//! Helpers shared by the `serve` end-to-end tests: the real binary started on a loopback port
//! with a temporary data directory, HTTP calls with ureq, configuration text, corpus slices,
//! and a scratch PostgreSQL schema. Each test binary uses a part of it.
#![allow(dead_code)]

use flate2::write::GzEncoder;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const OPS: &str = "sw_ops_0123456789abcdef0123456789";
pub const KEY_A: &str = "sw_tenant-a_aaaaaaaaaaaaaaaaaaaaaaaa";
pub const KEY_B: &str = "sw_tenant-b_bbbbbbbbbbbbbbbbbbbbbbbb";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Server {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Sends a request; returns the status and the JSON body (Null when not JSON).
pub fn call(method: &str, url: &str, key: Option<&str>, body: Option<&[u8]>) -> (u16, Value) {
    call_with(method, url, key, body, &[])
}

pub fn call_with(
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

pub fn start(dir: &Path, config: &str) -> Server {
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

/// The scenario corpus for `tenants` tenants (8 users, 10 days) in `dir`.
pub fn generate(dir: &Path, tenants: usize) -> stormwatch_scenario::Manifest {
    stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants,
            users_per_tenant: 8,
            days: 10,
            ..stormwatch_scenario::Config::default()
        },
        dir,
        false,
    )
    .unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The corpus lines of one stream that belong to `tenant`.
pub fn lines_of(dir: &Path, file: &str, tenant: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(tenant))
        .map(String::from)
        .collect()
}

pub fn config(dir: &Path, port: u16, tenants: &[&str], pg: Option<&Pg>) -> String {
    config_judging(dir, port, tenants, pg, 200)
}

pub fn config_judging(
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

pub fn level_rank(l: &str) -> u8 {
    ["informational", "low", "medium", "high", "critical"]
        .iter()
        .position(|x| *x == l)
        .unwrap_or(0) as u8
}

/// A PostgreSQL database for the run, in a scratch schema dropped afterwards (with `psql`).
pub struct Pg {
    pub url: String,
    pub schema: String,
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
pub fn postgres() -> Option<Pg> {
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
