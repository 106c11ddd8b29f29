//! Verification throughput: verifications per second for RS256 and ES256 (plus PS256 and
//! EdDSA), each without and with the verified-result cache.
//!
//! A plain `harness = false` benchmark (no criterion: its dependency tree would be built by
//! every `cargo test` of this crate). Each case runs 5 samples of ~0.5 s after a warm-up and
//! reports the median rate. Run: `cargo bench -p stormwatch-token --bench verify`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use stormwatch_token::cache::token_hash;
use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::{verify, KeySet, Options, Reason, Tenants, VerifiedCache};

const SAMPLES: usize = 5;
const SAMPLE_TIME: Duration = Duration::from_millis(500);

fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let mut rates = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < SAMPLE_TIME {
            for _ in 0..64 {
                f();
            }
            n += 64;
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[SAMPLES / 2]
}

fn main() {
    // `cargo test --benches` passes `--bench`-less args; run quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let now = 1_700_000_000;
    let rsa = TestKey::rsa("rsa");
    let ec = TestKey::ec("ec", "ES256");
    let ed = TestKey::ed25519("ed");
    let keys = KeySet::from_jwks(
        testkit::jwks(&[
            rsa.jwk_with_issuer("https://login.microsoftonline.com/{tenantid}/v2.0"),
            ec.jwk_with_issuer("https://login.microsoftonline.com/{tenantid}/v2.0"),
            ed.jwk_with_issuer("https://login.microsoftonline.com/{tenantid}/v2.0"),
        ])
        .as_bytes(),
    )
    .expect("keys");
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let opts = Options {
        audiences: vec!["api://bench".into()],
        tenants: Tenants::List(vec![tenant.into()]),
        ..Options::default()
    };
    let claims = testkit::claims(tenant, "api://bench", now);
    let cases = [
        ("RS256", rsa.sign(&claims)),
        (
            "PS256",
            rsa.sign_with_header(&json!({"alg": "PS256", "kid": "rsa"}), &claims),
        ),
        ("ES256", ec.sign(&claims)),
        ("EdDSA", ed.sign(&claims)),
    ];
    println!(
        "stormwatch-token verify benchmark (median of {SAMPLES} x {SAMPLE_TIME:?}, one thread)"
    );
    println!("{:<6} {:>16} {:>16}", "alg", "verify/s", "cached verify/s");
    for (alg, token) in &cases {
        let t = token.as_bytes();
        assert_eq!(verify(t, &keys, &opts, now).reason, Reason::Valid, "{alg}");
        if quick {
            continue;
        }
        let plain = rate(|| {
            black_box(verify(black_box(t), &keys, &opts, now));
        });
        let cache = VerifiedCache::new(10_000);
        let cached = rate(|| {
            let h = token_hash(black_box(t));
            let v = match cache.get(&h, now, 1) {
                Some(v) => v,
                None => {
                    let v = verify(t, &keys, &opts, now);
                    cache.put(h, &v, 300, now, 1);
                    v
                }
            };
            black_box(v);
        });
        println!("{alg:<6} {plain:>16.0} {cached:>16.0}");
    }
}
