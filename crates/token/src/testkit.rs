//! Key and token minting for tests, benchmarks and fuzz seeds — never for production.
//!
//! ECDSA and Ed25519 keys come from `ring`; RSA keys (which `ring` cannot generate) from the
//! `openssl` command-line tool, which must be installed where tests run (a missing `openssl`
//! is a clear panic, not a skipped test). Tokens are signed with `ring`, including the
//! deliberately wrong ones the tests need: `alg: none`, HS256 keyed with a public key,
//! tampered payloads.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key with its public JWK.
pub struct TestKey {
    pub kid: String,
    /// Default algorithm for [`TestKey::sign`].
    pub alg: &'static str,
    signer: Signer,
    /// The public JWK (with `kid`, `kty`, `use: sig`).
    pub jwk: Value,
    /// SPKI public key PEM (RSA keys only).
    pub public_pem: Option<String>,
    /// A self-signed certificate for the key, DER (RSA keys made with [`TestKey::rsa_with_cert`]).
    pub cert_der: Option<Vec<u8>>,
}

fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn temp_path(name: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "stormwatch-testkit-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("the `openssl` command is needed to make RSA test keys: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn pem_body(pem: &str) -> Vec<u8> {
    let b: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b).expect("PEM from openssl")
}

impl TestKey {
    /// A fresh 2048-bit RSA key (RS256 by default).
    pub fn rsa(kid: &str) -> TestKey {
        Self::rsa_inner(kid, false)
    }

    /// A fresh RSA key with a self-signed certificate, published as `x5c` and `x5t`.
    pub fn rsa_with_cert(kid: &str) -> TestKey {
        Self::rsa_inner(kid, true)
    }

    fn rsa_inner(kid: &str, cert: bool) -> TestKey {
        let key_path = temp_path("key.pem");
        let key_str = key_path.to_string_lossy().into_owned();
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key_str,
        ]);
        let private_pem = std::fs::read_to_string(&key_path).expect("openssl wrote the key");
        let public_pem =
            String::from_utf8(openssl(&["pkey", "-in", &key_str, "-pubout"])).expect("PEM is text");
        let cert_der = cert.then(|| {
            openssl(&[
                "req",
                "-new",
                "-x509",
                "-key",
                &key_str,
                "-subj",
                "/CN=stormwatch test",
                "-days",
                "2",
                "-outform",
                "DER",
            ])
        });
        let _ = std::fs::remove_file(&key_path);
        let pair = RsaKeyPair::from_pkcs8(&pem_body(&private_pem)).expect("PKCS#8 RSA key");
        let public: signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let mut jwk = json!({"kty": "RSA", "use": "sig", "kid": kid, "n": b64(&public.n), "e": b64(&public.e)});
        if let Some(der) = &cert_der {
            let tp = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
            jwk["x5c"] = json!([STANDARD.encode(der)]);
            jwk["x5t"] = json!(b64(tp.as_ref()));
        }
        TestKey {
            kid: kid.to_owned(),
            alg: "RS256",
            signer: Signer::Rsa(pair),
            jwk,
            public_pem: Some(public_pem),
            cert_der,
        }
    }

    /// A fresh ECDSA key: `"ES256"` (P-256) or `"ES384"` (P-384).
    pub fn ec(kid: &str, alg: &'static str) -> TestKey {
        let (signing, crv, size) = match alg {
            "ES384" => (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48),
            _ => (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32),
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("ECDSA key generation");
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).expect("ECDSA key");
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "use": "sig", "kid": kid, "crv": crv,
            "x": b64(&point[1..1 + size]), "y": b64(&point[1 + size..])});
        TestKey {
            kid: kid.to_owned(),
            alg,
            signer: Signer::Ec(pair),
            jwk,
            public_pem: None,
            cert_der: None,
        }
    }

    /// A fresh Ed25519 key (EdDSA).
    pub fn ed25519(kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key generation");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 key");
        let jwk = json!({"kty": "OKP", "use": "sig", "kid": kid, "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
        TestKey {
            kid: kid.to_owned(),
            alg: "EdDSA",
            signer: Signer::Ed(pair),
            jwk,
            public_pem: None,
            cert_der: None,
        }
    }

    /// The public JWK with an `issuer` added (Microsoft's multi-tenant key sets).
    pub fn jwk_with_issuer(&self, issuer: &str) -> Value {
        let mut j = self.jwk.clone();
        j["issuer"] = json!(issuer);
        j
    }

    /// Sign with the key's default algorithm and a standard header (`alg`, `kid`, `typ`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(
            &json!({"typ": "JWT", "alg": self.alg, "kid": self.kid}),
            claims,
        )
    }

    /// Sign arbitrary header and claims; the header's `alg` picks the RSA variant.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        self.sign_input(header["alg"].as_str().unwrap_or(self.alg), input)
    }

    /// Sign an already encoded `header.claims` string.
    pub fn sign_input(&self, alg: &str, input: String) -> String {
        let rng = SystemRandom::new();
        let sig = match &self.signer {
            Signer::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(padding, &rng, input.as_bytes(), &mut sig)
                    .expect("RSA signing");
                sig
            }
            Signer::Ec(pair) => pair
                .sign(&rng, input.as_bytes())
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Signer::Ed(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(sig))
    }
}

/// `{"keys":[…]}` for these JWKs.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// An HS256 token keyed with `secret` (e.g. a public key's bytes: the key-confusion attack).
pub fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An unsigned token (`alg: none`, empty signature).
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"}).to_string()),
        b64(claims.to_string())
    )
}

/// Encode raw header and claims text (for duplicate-key and other malformed cases).
pub fn raw(header: &str, claims: &str, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(claims), b64(signature))
}

/// Microsoft v2.0 issuer for a tenant.
pub fn issuer(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

/// Entra-like access-token claims for `tid` and `aud`, valid from `now - 60` for an hour.
pub fn claims(tid: &str, aud: &str, now: i64) -> Value {
    json!({
        "aud": aud, "iss": issuer(tid), "tid": tid,
        "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "oid": "00000000-0000-0000-0000-00000000beef",
        "scp": "Mail.Read User.Read", "ver": "2.0"
    })
}
