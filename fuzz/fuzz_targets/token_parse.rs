//! Fuzz target: token parsing and verification must never panic, whatever the bytes.
//!
//! Every input is run through the whole pipeline (`verify` against a fixed key set with an
//! RSA and an EC key from RFC 7515's examples), the untrusted decoder used by
//! `token inspect`, and the key-set loaders (JWKS and PEM), which also read outside input.
//! A verdict of `valid` for fuzzed bytes would mean a forged signature: that is asserted too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use stormwatch_token::{jws, verify, KeySet, Options, Reason, Tenants};

const JWKS: &str = r#"{"keys":[
 {"kty":"RSA","kid":"rsa","issuer":"https://login.microsoftonline.com/{tenantid}/v2.0",
  "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
  "e":"AQAB"},
 {"kty":"EC","kid":"ec","crv":"P-256",
  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
]}"#;

fn setup() -> &'static (KeySet, Options) {
    static S: OnceLock<(KeySet, Options)> = OnceLock::new();
    S.get_or_init(|| {
        let keys = KeySet::from_jwks(JWKS.as_bytes()).expect("fixed JWKS");
        assert_eq!(keys.keys.len(), 2);
        let opts = Options {
            audiences: vec!["api://fuzz".into()],
            tenants: Tenants::Any,
            ..Options::default()
        };
        (keys, opts)
    })
}

fuzz_target!(|data: &[u8]| {
    let (keys, opts) = setup();
    let v = verify(data, keys, opts, 1_700_000_000);
    assert!(
        v.reason != Reason::Valid,
        "fuzzed bytes verified: {}",
        v.to_json()
    );
    let _ = v.to_json();
    let _ = jws::parse(data);
    let _ = jws::decode_untrusted(data);
    let _ = KeySet::from_jwks(data);
    let _ = KeySet::from_pem(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = stormwatch_token::time::parse_time(s);
    }
});
