//! End-to-end tests of `stormwatch token verify|inspect`: the built binary, real key files,
//! tokens minted here for each reason code, exit statuses 0/1/2, one verdict a line.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};
use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::CONSUMER_TENANT;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUD: &str = "api://stormwatch-cli-test";
const NOW: i64 = 1_686_823_200; // 2023-06-15T10:00:00Z
const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

struct Fixture {
    dir: PathBuf,
    tenant: TestKey,
    consumer: TestKey,
}

fn fx() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("stormwatch-token-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tenant = TestKey::rsa("tenant-key");
        let consumer = TestKey::rsa("consumer-key");
        let jwks = testkit::jwks(&[
            tenant.jwk_with_issuer(TEMPLATE),
            consumer.jwk_with_issuer(&testkit::issuer(CONSUMER_TENANT)),
        ]);
        std::fs::write(dir.join("jwks.json"), jwks).unwrap();
        std::fs::write(dir.join("tenant.pem"), tenant.public_pem.as_ref().unwrap()).unwrap();
        std::fs::write(dir.join("revoked.txt"), "# incident 42\ntenant-key\n").unwrap();
        Fixture {
            dir,
            tenant,
            consumer,
        }
    })
}

fn jwks_path() -> String {
    fx().dir.join("jwks.json").to_string_lossy().into_owned()
}

fn stormwatch(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stormwatch");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn verify(token: &str, extra: &[&str]) -> Output {
    let jwks = jwks_path();
    let mut args = vec![
        "token",
        "verify",
        "--jwks",
        &jwks,
        "--audience",
        AUD,
        "--tenant",
        TENANT,
    ];
    if !extra.contains(&"--at") {
        args.extend_from_slice(&["--at", "2023-06-15T10:00:00Z"]);
    }
    args.extend_from_slice(extra);
    args.push(token);
    stormwatch(&args, None)
}

fn verdicts(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
        })
        .collect()
}

fn claims() -> Value {
    testkit::claims(TENANT, AUD, NOW)
}

#[test]
fn valid_token_exits_0_with_one_compact_verdict() {
    let out = verify(&fx().tenant.sign(&claims()), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let v = &verdicts(&out)[0];
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["valid", "reason", "detail", "kid", "alg", "iss", "tid", "aud", "sub"]
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["reason"], "valid");
    assert_eq!(v["tid"], TENANT);
}

#[test]
fn storm_0558_forgery_exits_1() {
    let out = verify(&fx().consumer.sign(&claims()), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(verdicts(&out)[0]["reason"], "key_issuer_mismatch");
}

#[test]
fn stdin_one_token_a_line_one_verdict_a_line() {
    let k = &fx().tenant;
    let tokens = [
        k.sign(&claims()),
        testkit::unsigned(&claims()),
        testkit::hs256(
            k.public_pem.as_ref().unwrap().as_bytes(),
            &json!({"alg": "HS256", "kid": "tenant-key"}),
            &claims(),
        ),
        String::from("garbage"),
        TestKey::ec("evil", "ES256").sign_with_header(
            &json!({"alg": "ES256", "kid": "evil", "jku": "https://evil.invalid/k"}),
            &claims(),
        ),
        {
            let mut c = claims();
            c["iss"] = json!(testkit::issuer("00000000-0000-0000-0000-000000000001"));
            k.sign(&c)
        },
        format!(
            "Bearer {}",
            k.sign(&testkit::claims(
                "00000000-0000-0000-0000-000000000002",
                AUD,
                NOW
            ))
        ),
        k.sign(&testkit::claims(TENANT, "api://other", NOW)),
    ];
    let input = tokens.join("\n") + "\n\n";
    let jwks = jwks_path();
    let out = stormwatch(
        &[
            "token",
            "verify",
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--tenant",
            TENANT,
            "--at",
            &NOW.to_string(),
            "-",
        ],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(1));
    let reasons: Vec<String> = verdicts(&out)
        .iter()
        .map(|v| v["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        reasons,
        [
            "valid",
            "alg_not_allowed",
            "alg_not_allowed",
            "malformed",
            "unknown_key",
            "key_issuer_mismatch",
            "tenant_not_allowed",
            "audience_mismatch"
        ]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("8 tokens: 1 valid, 7 rejected"));
    // --quiet: no summary.
    let out = stormwatch(
        &[
            "--quiet",
            "token",
            "verify",
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--tenant",
            TENANT,
            "-",
        ],
        Some(&input),
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn expired_and_not_yet_valid_with_at() {
    let t = fx().tenant.sign(&claims());
    let late = verify(&t, &["--at", "2023-06-15T11:05:01Z"]);
    assert_eq!(late.status.code(), Some(1));
    assert_eq!(verdicts(&late)[0]["reason"], "expired");
    let early = verify(&t, &["--at", "2023-06-15T09:53:59Z"]);
    assert_eq!(verdicts(&early)[0]["reason"], "not_yet_valid");
    let in_skew = verify(&t, &["--at", "2023-06-15T11:05:00Z"]);
    assert_eq!(in_skew.status.code(), Some(0));
    let no_skew = verify(&t, &["--at", "2023-06-15T11:00:01Z", "--skew", "0"]);
    assert_eq!(verdicts(&no_skew)[0]["reason"], "expired");
}

#[test]
fn revoked_file_and_tampered_payload() {
    let t = fx().tenant.sign(&claims());
    let revoked = fx().dir.join("revoked.txt");
    let out = verify(&t, &["--revoked", revoked.to_str().unwrap()]);
    assert_eq!(verdicts(&out)[0]["reason"], "compromised_key");
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("attacker");
    let body = testkit::raw("{}", &c.to_string(), b"");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        body.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(
        verdicts(&verify(&tampered, &[]))[0]["reason"],
        "bad_signature"
    );
}

#[test]
fn pem_key_and_text_format() {
    let pem = fx().dir.join("tenant.pem");
    let out = stormwatch(
        &[
            "token",
            "verify",
            "--pem",
            pem.to_str().unwrap(),
            "--audience",
            AUD,
            "--any-tenant",
            "--at",
            &NOW.to_string(),
            "--format",
            "text",
            &fx().tenant.sign(&claims()),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("VALID (kid=tenant-key alg=RS256"));
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let t = fx().tenant.sign(&claims());
    let jwks = jwks_path();
    let cases: Vec<Vec<&str>> = vec![
        vec!["token", "verify", "--jwks", &jwks, "--tenant", TENANT, &t],
        vec!["token", "verify", "--jwks", &jwks, "--audience", AUD, &t],
        vec!["token", "verify", "--audience", AUD, "--tenant", TENANT, &t],
        vec![
            "token",
            "verify",
            "--jwks",
            "/nonexistent/jwks.json",
            "--audience",
            AUD,
            "--tenant",
            TENANT,
            &t,
        ],
        vec![
            "token",
            "verify",
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--tenant",
            TENANT,
            "--at",
            "yesterday",
            &t,
        ],
        vec![
            "token",
            "verify",
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--tenant",
            CONSUMER_TENANT,
            &t,
        ],
        vec![
            "token",
            "verify",
            "--jwks",
            "http://example.com/keys",
            "--audience",
            AUD,
            "--tenant",
            TENANT,
            &t,
        ],
    ];
    for args in cases {
        let out = stormwatch(&args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "nothing on stdout for {args:?}");
    }
}

#[test]
fn inspect_is_labelled_untrusted() {
    let out = stormwatch(&["token", "inspect", &fx().consumer.sign(&claims())], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("UNTRUSTED"), "{text}");
    assert!(text.contains("header (UNTRUSTED)") && text.contains("claims (UNTRUSTED)"));
    assert!(text.contains("\"kid\": \"consumer-key\""));
    assert!(
        text.contains("exp (UNTRUSTED): 2023-06-15T11:00:00Z"),
        "{text}"
    );
    let json_out = stormwatch(
        &[
            "token",
            "inspect",
            "--format",
            "json",
            &fx().tenant.sign(&claims()),
        ],
        None,
    );
    let v: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(v["untrusted"], true);
    assert_eq!(v["claims"]["tid"], TENANT);
    let bad = stormwatch(&["token", "inspect", "not-a-token"], None);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn storm_0558_key_is_revoked_by_default() {
    // A key set that still publishes the stolen key (thumbprint d4b4cccd…): tokens it signed
    // are refused as compromised, even with a genuine signature and correct issuer binding.
    let stolen = TestKey::rsa("msa-2016");
    let mut jwk = stolen.jwk_with_issuer(TEMPLATE);
    jwk["x5t"] = json!("1LTMzakihiRla_8z2BEJVXeWMqo");
    let path = fx().dir.join("storm-0558.json");
    std::fs::write(&path, testkit::jwks(&[jwk])).unwrap();
    let out = stormwatch(
        &[
            "token",
            "verify",
            "--jwks",
            path.to_str().unwrap(),
            "--audience",
            AUD,
            "--tenant",
            TENANT,
            "--at",
            &NOW.to_string(),
            &stolen.sign(&claims()),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = &verdicts(&out)[0];
    assert_eq!(v["reason"], "compromised_key");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("d4b4cccda9228624656bff33d8110955779632aa"),
        "{v}"
    );
}
