//! Every reason code, produced by tokens these tests mint themselves — including the real
//! attacks: the Storm-0558 forgery (enterprise claims signed with the consumer key), HS256 key
//! confusion, `alg: none`, tampering, `jku` injection, and revoked keys.

use serde_json::{json, Value};
use std::sync::OnceLock;
use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::{
    verify, KeySet, Options, Reason, RevokedList, Tenants, Verdict, CONSUMER_TENANT,
};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "11111111-2222-3333-4444-555555555555";
const AUD: &str = "api://stormwatch-test";
const NOW: i64 = 1_700_000_000;
const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

struct World {
    tenant_key: TestKey,
    consumer_key: TestKey,
    ec_key: TestKey,
    keys: KeySet,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let tenant_key = TestKey::rsa("tenant-key");
        let consumer_key = TestKey::rsa("consumer-key");
        let ec_key = TestKey::ec("ec-key", "ES256");
        let jwks = testkit::jwks(&[
            tenant_key.jwk_with_issuer(TEMPLATE),
            consumer_key.jwk_with_issuer(&testkit::issuer(CONSUMER_TENANT)),
            ec_key.jwk_with_issuer(TEMPLATE),
        ]);
        let keys = KeySet::from_jwks(jwks.as_bytes()).expect("test JWKS loads");
        assert_eq!(keys.keys.len(), 3, "{:?}", keys.warnings);
        World {
            tenant_key,
            consumer_key,
            ec_key,
            keys,
        }
    })
}

fn opts() -> Options {
    Options {
        audiences: vec![AUD.into()],
        tenants: Tenants::List(vec![TENANT.into()]),
        ..Options::default()
    }
}

fn check(token: &str) -> Verdict {
    verify(token.as_bytes(), &world().keys, &opts(), NOW)
}

fn good_claims() -> Value {
    testkit::claims(TENANT, AUD, NOW)
}

fn assert_reason(v: &Verdict, want: Reason) {
    assert_eq!(v.reason, want, "verdict: {}", v.to_json());
    assert_eq!(v.valid, want == Reason::Valid);
}

#[test]
fn valid_rs256_and_es256() {
    let v = check(&world().tenant_key.sign(&good_claims()));
    assert_reason(&v, Reason::Valid);
    assert_eq!(v.tid.as_deref(), Some(TENANT));
    assert_eq!(v.scopes, vec!["Mail.Read", "User.Read"]);
    assert_reason(&check(&world().ec_key.sign(&good_claims())), Reason::Valid);
}

#[test]
fn verdict_json_has_exactly_the_contract_fields() {
    let v = check(&world().tenant_key.sign(&good_claims()));
    let obj: Value = serde_json::from_str(&v.to_json()).unwrap();
    let keys: Vec<&str> = obj
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["valid", "reason", "detail", "kid", "alg", "iss", "tid", "aud", "sub"]
    );
    assert_eq!(obj["reason"], "valid");
}

#[test]
fn malformed_inputs() {
    for bad in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!.??.",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "\u{00e9}.x.y",
    ] {
        assert_reason(&check(bad), Reason::Malformed);
    }
    let v = verify(b"\xff\xfe.\x00.\x80", &world().keys, &opts(), NOW);
    assert_reason(&v, Reason::Malformed);
}

#[test]
fn duplicate_keys_in_header_or_claims_are_malformed() {
    let t = testkit::raw(
        r#"{"alg":"RS256","kid":"tenant-key","alg":"none"}"#,
        "{}",
        b"sig",
    );
    assert_reason(&check(&t), Reason::Malformed);
    let claims = format!(r#"{{"tid":"{TENANT}","tid":"{OTHER_TENANT}"}}"#);
    let input = testkit::raw(r#"{"alg":"RS256","kid":"tenant-key"}"#, &claims, b"");
    let signed = world()
        .tenant_key
        .sign_input("RS256", input.trim_end_matches('.').to_owned());
    let v = check(&signed);
    assert_reason(&v, Reason::Malformed);
    assert!(v.detail.contains("duplicate"), "{}", v.detail);
}

#[test]
fn unknown_crit_is_malformed() {
    let h =
        json!({"alg": "RS256", "kid": "tenant-key", "crit": ["urn:example:x"], "urn:example:x": 1});
    let v = check(&world().tenant_key.sign_with_header(&h, &good_claims()));
    assert_reason(&v, Reason::Malformed);
    assert_eq!(
        v.kid.as_deref(),
        Some("tenant-key"),
        "partial fields are reported"
    );
}

#[test]
fn padded_base64_is_malformed() {
    let t = world().tenant_key.sign(&good_claims());
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    parts[1].push('=');
    assert_reason(&check(&parts.join(".")), Reason::Malformed);
}

#[test]
fn alg_none_is_not_allowed() {
    let v = check(&testkit::unsigned(&good_claims()));
    assert_reason(&v, Reason::AlgNotAllowed);
    assert_eq!(v.alg.as_deref(), Some("none"));
}

#[test]
fn hs256_with_the_public_key_as_secret_is_not_allowed() {
    let k = &world().tenant_key;
    let header = json!({"alg": "HS256", "kid": k.kid});
    // Both common spellings of "the public key": the PEM text and the raw modulus.
    for secret in [
        k.public_pem.clone().unwrap().into_bytes(),
        k.jwk["n"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        assert_reason(
            &check(&testkit::hs256(&secret, &header, &good_claims())),
            Reason::AlgNotAllowed,
        );
    }
}

#[test]
fn alg_that_does_not_fit_the_key_is_not_allowed() {
    // An ES256 header naming an RSA key.
    let h = json!({"alg": "ES256", "kid": "tenant-key"});
    assert_reason(
        &check(&world().ec_key.sign_with_header(&h, &good_claims())),
        Reason::AlgNotAllowed,
    );
}

#[test]
fn jku_injection_is_never_fetched() {
    let attacker = TestKey::ec("attacker-key", "ES256");
    let h =
        json!({"alg": "ES256", "kid": "attacker-key", "jku": "https://attacker.invalid/jwks.json"});
    let v = check(&attacker.sign_with_header(&h, &good_claims()));
    assert_reason(&v, Reason::UnknownKey);
    assert!(v.detail.contains("never fetched"), "{}", v.detail);
}

#[test]
fn embedded_jwk_header_is_ignored() {
    let attacker = TestKey::ec("x", "ES256");
    let h = json!({"alg": "ES256", "jwk": attacker.jwk});
    assert_reason(
        &check(&attacker.sign_with_header(&h, &good_claims())),
        Reason::UnknownKey,
    );
}

#[test]
fn storm_0558_thumbprint_is_revoked_by_default() {
    let stolen = TestKey::rsa("msa-2016");
    let mut jwk = stolen.jwk_with_issuer(TEMPLATE);
    jwk["x5t"] = json!("1LTMzakihiRla_8z2BEJVXeWMqo"); // base64url of d4b4cccd…
    let keys = KeySet::from_jwks(testkit::jwks(&[jwk]).as_bytes()).unwrap();
    let token = stolen.sign(&good_claims());
    let v = verify(token.as_bytes(), &keys, &opts(), NOW);
    assert_reason(&v, Reason::CompromisedKey);
    // With an empty revoked list the same token is valid: the revocation is what stops it.
    let open = Options {
        revoked: RevokedList::empty(),
        ..opts()
    };
    assert_reason(&verify(token.as_bytes(), &keys, &open, NOW), Reason::Valid);
}

#[test]
fn revoked_list_file_by_kid() {
    let mut revoked = RevokedList::default();
    revoked
        .add_text("# rotated after incident\n\ntenant-key\n", "revoked.txt")
        .unwrap();
    let o = Options { revoked, ..opts() };
    let v = verify(
        world().tenant_key.sign(&good_claims()).as_bytes(),
        &world().keys,
        &o,
        NOW,
    );
    assert_reason(&v, Reason::CompromisedKey);
    assert!(RevokedList::default().add_text("a b\n", "f").is_err());
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let t = world().tenant_key.sign(&good_claims());
    let parts: Vec<&str> = t.split('.').collect();
    let mut claims = good_claims();
    claims["scp"] = json!("Mail.ReadWrite Directory.ReadWrite.All");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        testkit::raw("{}", &claims.to_string(), b"")
            .split('.')
            .nth(1)
            .unwrap(),
        parts[2]
    );
    assert_reason(&check(&forged), Reason::BadSignature);
}

#[test]
fn signature_by_another_key_with_a_known_kid_is_bad() {
    let attacker = TestKey::rsa("tenant-key");
    assert_reason(&check(&attacker.sign(&good_claims())), Reason::BadSignature);
    // Empty signature part: well-formed, but no signature.
    let t = world().tenant_key.sign(&good_claims());
    let stripped = &t[..t.rfind('.').unwrap() + 1];
    assert_reason(&check(stripped), Reason::BadSignature);
}

#[test]
fn storm_0558_forgery_enterprise_claims_signed_by_consumer_key() {
    // The consumer key is published in the same key set, and the signature is genuine.
    let v = check(&world().consumer_key.sign(&good_claims()));
    assert_reason(&v, Reason::KeyIssuerMismatch);
    assert!(v.detail.contains(CONSUMER_TENANT), "{}", v.detail);
}

#[test]
fn tid_iss_mismatch() {
    let mut c = good_claims();
    c["iss"] = json!(testkit::issuer(OTHER_TENANT));
    assert_reason(
        &check(&world().tenant_key.sign(&c)),
        Reason::KeyIssuerMismatch,
    );
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("tid");
    assert_reason(
        &check(&world().tenant_key.sign(&c)),
        Reason::KeyIssuerMismatch,
    );
}

#[test]
fn tenant_not_allowed() {
    let c = testkit::claims(OTHER_TENANT, AUD, NOW);
    assert_reason(
        &check(&world().tenant_key.sign(&c)),
        Reason::TenantNotAllowed,
    );
    let any = Options {
        tenants: Tenants::Any,
        ..opts()
    };
    let t = world().tenant_key.sign(&c);
    assert_reason(
        &verify(t.as_bytes(), &world().keys, &any, NOW),
        Reason::Valid,
    );
}

#[test]
fn consumer_tenant_needs_opt_in_even_with_any_tenant() {
    let c = testkit::claims(CONSUMER_TENANT, AUD, NOW);
    let t = world().consumer_key.sign(&c);
    let any = Options {
        tenants: Tenants::Any,
        ..opts()
    };
    assert_reason(
        &verify(t.as_bytes(), &world().keys, &any, NOW),
        Reason::TenantNotAllowed,
    );
    let opted = Options {
        allow_consumer: true,
        ..any
    };
    assert_reason(
        &verify(t.as_bytes(), &world().keys, &opted, NOW),
        Reason::Valid,
    );
    let listed = Options {
        tenants: Tenants::List(vec![CONSUMER_TENANT.into()]),
        ..opts()
    };
    assert!(
        listed.validate().is_err(),
        "listing the consumer tenant without the opt-in is a config error"
    );
}

#[test]
fn audience_mismatch() {
    let c = testkit::claims(TENANT, "api://someone-else", NOW);
    assert_reason(
        &check(&world().tenant_key.sign(&c)),
        Reason::AudienceMismatch,
    );
    let mut c = good_claims();
    c["aud"] = json!(["x", AUD]);
    assert_reason(&check(&world().tenant_key.sign(&c)), Reason::Valid);
}

#[test]
fn expired_and_not_yet_valid_against_evaluation_time() {
    let t = world().tenant_key.sign(&good_claims());
    let o = opts();
    let keys = &world().keys;
    assert_reason(
        &verify(t.as_bytes(), keys, &o, NOW + 3600 + 300),
        Reason::Valid,
    );
    assert_reason(
        &verify(t.as_bytes(), keys, &o, NOW + 3600 + 301),
        Reason::Expired,
    );
    assert_reason(
        &verify(t.as_bytes(), keys, &o, NOW - 60 - 300),
        Reason::Valid,
    );
    assert_reason(
        &verify(t.as_bytes(), keys, &o, NOW - 60 - 301),
        Reason::NotYetValid,
    );
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_reason(&check(&world().tenant_key.sign(&c)), Reason::Expired);
}

#[test]
fn first_failure_wins() {
    // Expired AND wrong audience AND wrong tenant AND consumer-signed: the issuer binding is
    // checked first among those.
    let mut c = testkit::claims(OTHER_TENANT, "api://else", NOW - 100_000);
    c["iss"] = json!(testkit::issuer(OTHER_TENANT));
    assert_reason(
        &check(&world().consumer_key.sign(&c)),
        Reason::KeyIssuerMismatch,
    );
    assert_reason(
        &check(&world().tenant_key.sign(&c)),
        Reason::TenantNotAllowed,
    );
}

#[test]
fn every_algorithm_verifies() {
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let k = &world().tenant_key;
        let t = k.sign_with_header(&json!({"alg": alg, "kid": k.kid}), &good_claims());
        assert_reason(&check(&t), Reason::Valid);
    }
    let es384 = TestKey::ec("es384", "ES384");
    let ed = TestKey::ed25519("ed");
    let keys =
        KeySet::from_jwks(testkit::jwks(&[es384.jwk.clone(), ed.jwk.clone()]).as_bytes()).unwrap();
    for k in [&es384, &ed] {
        assert_reason(
            &verify(k.sign(&good_claims()).as_bytes(), &keys, &opts(), NOW),
            Reason::Valid,
        );
    }
}

#[test]
fn key_alg_restricts_the_token_alg() {
    let k = TestKey::rsa("only-ps256");
    let mut jwk = k.jwk.clone();
    jwk["alg"] = json!("PS256");
    let keys = KeySet::from_jwks(testkit::jwks(&[jwk]).as_bytes()).unwrap();
    let rs = k.sign(&good_claims());
    assert_reason(
        &verify(rs.as_bytes(), &keys, &opts(), NOW),
        Reason::AlgNotAllowed,
    );
    let ps = k.sign_with_header(&json!({"alg": "PS256", "kid": k.kid}), &good_claims());
    assert_reason(&verify(ps.as_bytes(), &keys, &opts(), NOW), Reason::Valid);
}

#[test]
fn x5c_certificate_keys_and_pem() {
    let k = TestKey::rsa_with_cert("cert-key");
    let mut jwk = k.jwk.clone();
    let obj = jwk.as_object_mut().unwrap();
    obj.remove("n");
    obj.remove("e");
    let keys = KeySet::from_jwks(testkit::jwks(&[jwk]).as_bytes()).unwrap();
    assert_eq!(keys.keys.len(), 1, "{:?}", keys.warnings);
    assert_reason(
        &verify(k.sign(&good_claims()).as_bytes(), &keys, &opts(), NOW),
        Reason::Valid,
    );

    // A JWK whose n/e disagree with its certificate is refused.
    let other = TestKey::rsa("x");
    let mut bad = k.jwk.clone();
    bad["n"] = other.jwk["n"].clone();
    assert!(KeySet::from_jwks(testkit::jwks(&[bad]).as_bytes())
        .unwrap()
        .keys
        .is_empty());

    // PEM public key (no kid: used as the single key).
    let pem_keys = KeySet::from_pem(k.public_pem.as_ref().unwrap().as_bytes()).unwrap();
    assert_reason(
        &verify(k.sign(&good_claims()).as_bytes(), &pem_keys, &opts(), NOW),
        Reason::Valid,
    );
    // PEM certificate.
    let cert_pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64_std(k.cert_der.as_ref().unwrap())
    );
    let cert_keys = KeySet::from_pem(cert_pem.as_bytes()).unwrap();
    assert!(cert_keys.keys[0].thumbprint.is_some());
    assert_reason(
        &verify(k.sign(&good_claims()).as_bytes(), &cert_keys, &opts(), NOW),
        Reason::Valid,
    );
}

fn base64_std(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[test]
fn encryption_keys_are_not_signature_keys() {
    let k = TestKey::ec("enc", "ES256");
    let mut jwk = k.jwk.clone();
    jwk["use"] = json!("enc");
    let keys = KeySet::from_jwks(testkit::jwks(&[jwk]).as_bytes()).unwrap();
    assert_reason(
        &verify(k.sign(&good_claims()).as_bytes(), &keys, &opts(), NOW),
        Reason::UnknownKey,
    );
}

#[test]
fn every_reason_code_is_covered_here() {
    // Guard against a new reason code being added without a test in this file.
    assert_eq!(Reason::ALL.len(), 11);
}
