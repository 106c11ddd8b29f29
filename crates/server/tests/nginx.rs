//! A real nginx with `auth_request` in front of the guard, all on loopback: a forged token
//! gets 401 and never reaches the upstream; a valid one reaches it with the identity headers.
//!
//! nginx (Debian package `nginx`) must be installed: CI installs it, and a missing nginx fails
//! this test with a clear message rather than silently passing. nginx runs in the foreground
//! (`daemon off; master_process off`) with its own prefix and config in a temp dir, and is
//! killed when the test ends.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn nginx_binary() -> String {
    for candidate in [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ] {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_owned();
        }
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v nginx"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !p.is_empty() {
            return p;
        }
    }
    panic!("nginx is not installed: this integration test needs it (apt-get install -y nginx)");
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Upstream that answers every request with the request head it received, as the body.
fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = String::new();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => head.push_str(&line),
                }
            }
            let body = format!("UPSTREAM\n{head}");
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

fn wait_for_port(addr: SocketAddr, nginx: &mut Nginx, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Ok(Some(status)) = nginx.0.try_wait() {
            panic!(
                "nginx exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nginx did not start listening on {addr}");
}

#[test]
fn nginx_auth_request_refuses_forged_and_passes_valid_tokens() {
    let nginx = nginx_binary();
    let guard = start_guard("nginx");
    let upstream = echo_upstream();
    let dir = temp_dir("nginx-prefix");
    for sub in ["logs", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let port = free_port();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /_stormwatch_auth {{
            internal;
            proxy_pass http://{guard}/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
        location / {{
            auth_request /_stormwatch_auth;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            auth_request_set $auth_tenant $upstream_http_x_auth_tenant;
            auth_request_set $auth_scopes $upstream_http_x_auth_scopes;
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_set_header X-Auth-Tenant $auth_tenant;
            proxy_set_header X-Auth-Scopes $auth_scopes;
            proxy_pass http://{upstream};
        }}
    }}
}}
"#,
        dir = dir.display(),
        guard = guard.addr,
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = dir.join("logs/error.log");
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {nginx}: {e}"));
    let mut nginx = Nginx(child);
    let front: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_port(front, &mut nginx, &log);

    let forged = http_get(
        front,
        "/owa/inbox",
        &[("Authorization", &format!("Bearer {}", forged_token()))],
    );
    assert_eq!(forged.status, 401, "forged token: {}", forged.body);
    assert!(
        !forged.body.contains("UPSTREAM"),
        "a forged token reached the upstream"
    );

    let none = http_get(front, "/owa/inbox", &[]);
    assert_eq!(none.status, 401);

    let valid = http_get(
        front,
        "/owa/inbox?x=1",
        &[("Authorization", &format!("Bearer {}", valid_token()))],
    );
    assert_eq!(valid.status, 200, "valid token: {}", valid.body);
    assert!(valid.body.starts_with("UPSTREAM"), "{}", valid.body);
    for want in [
        format!("X-Auth-Tenant: {TENANT}\r\n"),
        String::from("X-Auth-Subject: AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ\r\n"),
        String::from("X-Auth-Scopes: Mail.Read User.Read\r\n"),
    ] {
        assert!(
            valid.body.contains(&want),
            "upstream did not get {want:?}: {}",
            valid.body
        );
    }

    drop(nginx);
    let records = guard.stop();
    let reasons: Vec<&str> = records
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["key_issuer_mismatch", "valid"]);
    assert_eq!(records[1]["uri"], "/owa/inbox?x=1");
    assert_eq!(records[0]["client_ip"], "127.0.0.1");
    assert_eq!(records[0]["method"], "GET");
}
