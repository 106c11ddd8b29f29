//! Bounded, seeded mutation testing of the parser and verifier (runs in every `cargo test`;
//! the open-ended search is the `cargo fuzz` target `token_parse`).
//!
//! Properties: no input panics; a token that differs from a genuinely signed one in any byte
//! is never valid (unless the mutation reassembled another genuine token); the verdict always serializes. Mutations are the ones that matter for JWS:
//! bit flips, byte insertion/deletion, dots added or removed, truncation, part swaps between
//! two valid tokens, base64 alphabet confusion and padding, and arbitrary garbage.

use serde_json::json;
use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::{verify, KeySet, Options, Reason, Tenants};

const NOW: i64 = 1_700_000_000;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, t: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = t.to_vec();
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        let i = rng.below(v.len().max(1));
        match rng.below(10) {
            0 if !v.is_empty() => v[i] ^= 1 << rng.below(8),
            1 => v.insert(i.min(v.len()), rng.next() as u8),
            2 if !v.is_empty() => {
                v.remove(i);
            }
            3 => v.insert(i.min(v.len()), b'.'),
            4 => v.retain(|&b| b != b'.' || rng.below(3) != 0),
            5 => v.truncate(i),
            6 => {
                // Splice a part of the other token in.
                let parts: Vec<&[u8]> = other.split(|&b| b == b'.').collect();
                let mine: Vec<Vec<u8>> = v.split(|&b| b == b'.').map(<[u8]>::to_vec).collect();
                if mine.len() == 3 {
                    let k = rng.below(3);
                    let mut out = mine.clone();
                    out[k] = parts.get(k).copied().unwrap_or(b"").to_vec();
                    v = out.join(&b'.');
                }
            }
            7 if !v.is_empty() => {
                let sub = [b'+', b'/', b'=', b'-', b'_', b' ', 0, 0xff][rng.below(8)];
                v[i] = sub;
            }
            8 => v.extend_from_slice(b"=="),
            _ => {
                let n = rng.below(64);
                v = (0..n).map(|_| rng.next() as u8).collect();
            }
        }
    }
    v
}

#[test]
fn mutated_tokens_never_verify_and_never_panic() {
    let rsa = TestKey::rsa("r");
    let ec = TestKey::ec("e", "ES256");
    let ed = TestKey::ed25519("d");
    let keys = KeySet::from_jwks(
        testkit::jwks(&[rsa.jwk.clone(), ec.jwk.clone(), ed.jwk.clone()]).as_bytes(),
    )
    .unwrap();
    let opts = Options {
        audiences: vec!["a".into()],
        tenants: Tenants::Any,
        ..Options::default()
    };
    let claims = testkit::claims("72f988bf-86f1-41af-91ab-2d7cd011db47", "a", NOW);
    let originals: Vec<String> = vec![
        rsa.sign(&claims),
        rsa.sign_with_header(&json!({"alg": "PS256", "kid": "r"}), &claims),
        ec.sign(&claims),
        ed.sign(&claims),
    ];
    for t in &originals {
        assert_eq!(
            verify(t.as_bytes(), &keys, &opts, NOW).reason,
            Reason::Valid
        );
    }
    let mut rng = Rng(0x5eed_0558_d4b4_cccd);
    let mut seen = [0usize; 11];
    let iterations = 20_000;
    for n in 0..iterations {
        let t = originals[n % originals.len()].as_bytes();
        let other = originals[(n + 1) % originals.len()].as_bytes();
        let m = mutate(&mut rng, t, other);
        let v = verify(&m, &keys, &opts, NOW);
        // Splicing can reassemble another genuine token; anything else must fail.
        if !originals.iter().any(|o| o.as_bytes() == m.as_slice()) {
            assert!(
                !v.valid,
                "mutation verified:\n{}\noriginal:\n{}",
                String::from_utf8_lossy(&m),
                String::from_utf8_lossy(t)
            );
        }
        let _ = v.to_json();
        seen[Reason::ALL.iter().position(|r| *r == v.reason).unwrap()] += 1;
    }
    // The mutations must reach beyond the parser (otherwise this test proves little).
    assert!(seen[0] > 0, "no malformed outcome");
    assert!(seen[4] > 0, "no bad_signature outcome: {seen:?}");
}
