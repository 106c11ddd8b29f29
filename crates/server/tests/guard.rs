//! The guard over real loopback HTTP: verdict responses, identity headers, audit records,
//! metrics, the verified-token cache and graceful shutdown.

mod common;

use common::*;

#[test]
fn healthz_and_metrics() {
    let g = start_guard("health");
    let r = http_get(g.addr, "/healthz", &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("ok 2 keys"), "{}", r.body);
    let m = http_get(g.addr, "/metrics", &[]);
    assert_eq!(m.status, 200);
    assert!(
        m.body
            .contains("stormwatch_guard_verdicts_total{reason=\"key_issuer_mismatch\"} 0"),
        "{}",
        m.body
    );
    assert!(m.body.contains("stormwatch_guard_keys 2"));
}

#[test]
fn valid_token_gets_identity_headers_and_an_audit_record() {
    let g = start_guard("valid");
    let auth = format!("Bearer {}", valid_token());
    let r = http_get(
        g.addr,
        "/auth",
        &[
            ("Authorization", &auth),
            ("X-Forwarded-For", "203.0.113.7, 10.0.0.1"),
            ("X-Original-URI", "/owa/?ae=Item"),
            ("User-Agent", "test-agent"),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("x-auth-tenant"), Some(TENANT));
    assert_eq!(
        r.header("x-auth-subject"),
        Some("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ")
    );
    assert_eq!(r.header("x-auth-scopes"), Some("Mail.Read User.Read"));
    let records = g.stop();
    assert_eq!(records.len(), 1);
    let rec = &records[0];
    assert_eq!(rec["kind"], "token_verdict");
    assert_eq!(rec["valid"], true);
    assert_eq!(rec["reason"], "valid");
    assert_eq!(rec["client_ip"], "203.0.113.7");
    assert_eq!(rec["uri"], "/owa/?ae=Item");
    assert_eq!(rec["user_agent"], "test-agent");
    assert_eq!(rec["tid"], TENANT);
    assert!(rec["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(rec["token_sha256"].as_str().unwrap().len(), 16);
}

#[test]
fn forged_token_is_refused_with_the_reason() {
    let g = start_guard("forged");
    let auth = format!("Bearer {}", forged_token());
    let r = http_get(
        g.addr,
        "/",
        &[("Authorization", &auth), ("X-Real-IP", "198.51.100.9")],
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\", error_description=\"key_issuer_mismatch\"")
    );
    assert!(r.header("x-auth-subject").is_none());
    let m = http_get(g.addr, "/metrics", &[]);
    assert!(
        m.body
            .contains("stormwatch_guard_verdicts_total{reason=\"key_issuer_mismatch\"} 1"),
        "{}",
        m.body
    );
    let records = g.stop();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["reason"], "key_issuer_mismatch");
    assert_eq!(records[0]["valid"], false);
    assert_eq!(records[0]["client_ip"], "198.51.100.9");
}

#[test]
fn missing_or_garbage_credentials() {
    let g = start_guard("missing");
    let r = http_get(g.addr, "/", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = http_get(g.addr, "/", &[("Authorization", "Basic dXNlcjpwYXNz")]);
    assert_eq!(r.status, 401);
    let r = http_get(g.addr, "/", &[("Authorization", "Bearer not.a.token")]);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("malformed"));
    let records = g.stop();
    assert_eq!(
        records.len(),
        1,
        "only the judged token is audited: {records:?}"
    );
}

#[test]
fn repeated_valid_token_is_served_from_cache_and_still_audited() {
    let g = start_guard("cache");
    let auth = format!("Bearer {}", valid_token());
    for _ in 0..3 {
        assert_eq!(
            http_get(g.addr, "/", &[("Authorization", &auth)]).status,
            200
        );
    }
    let m = http_get(g.addr, "/metrics", &[]);
    assert!(
        m.body.contains("stormwatch_guard_cache_hits_total 2"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("stormwatch_guard_cache_misses_total 1"),
        "{}",
        m.body
    );
    let records = g.stop();
    let cached: Vec<bool> = records
        .iter()
        .map(|r| r["cached"].as_bool().unwrap())
        .collect();
    assert_eq!(cached, [false, true, true]);
}

#[test]
fn forged_tokens_are_never_cached() {
    let g = start_guard("nocache");
    let auth = format!("Bearer {}", forged_token());
    for _ in 0..2 {
        assert_eq!(
            http_get(g.addr, "/", &[("Authorization", &auth)]).status,
            401
        );
    }
    assert_eq!(g.guard.cache.len(), 0);
    assert!(g.stop().iter().all(|r| r["cached"] == false));
}

#[test]
fn traefik_forwarded_headers_are_audited() {
    let g = start_guard("traefik");
    let auth = format!("Bearer {}", forged_token());
    let r = http_get(
        g.addr,
        "/",
        &[
            ("Authorization", &auth),
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Host", "mail.example.com"),
            ("X-Forwarded-Uri", "/EWS/Exchange.asmx"),
            ("X-Forwarded-For", "192.0.2.44"),
        ],
    );
    assert_eq!(r.status, 401);
    let rec = &g.stop()[0];
    assert_eq!(rec["method"], "POST");
    assert_eq!(rec["host"], "mail.example.com");
    assert_eq!(rec["uri"], "/EWS/Exchange.asmx");
    assert_eq!(rec["client_ip"], "192.0.2.44");
}

#[test]
fn rotated_key_is_picked_up_on_first_unknown_kid() {
    let g = start_guard_with("rotate", |c| c.min_refresh_interval_secs = Some(0));
    let rotated = stormwatch_token::testkit::TestKey::ec("rotated-key", "ES256");
    let token = rotated.sign(&stormwatch_token::testkit::claims(TENANT, AUD, now()));
    let auth = format!("Bearer {token}");
    let r = http_get(g.addr, "/", &[("Authorization", &auth)]);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("unknown_key"));
    // The identity provider publishes the new key (the guard reads the same JWKS file).
    let jwks_file = g.audit.parent().unwrap().join("jwks.json");
    let mut doc: serde_json::Value = serde_json::from_str(&keys().jwks).unwrap();
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .push(rotated.jwk_with_issuer(TEMPLATE));
    std::fs::write(&jwks_file, doc.to_string()).unwrap();
    let r = http_get(g.addr, "/", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    let m = http_get(g.addr, "/metrics", &[]);
    assert!(m.body.contains("stormwatch_guard_keys 3"), "{}", m.body);
    let reasons: Vec<String> = g
        .stop()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["unknown_key", "valid"]);
}
