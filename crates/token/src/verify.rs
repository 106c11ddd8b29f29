//! The verification pipeline, in the contract's order (DESIGN.md "Token verdict"):
//!
//! `malformed → alg_not_allowed → unknown_key → compromised_key → bad_signature →
//! key_issuer_mismatch → tenant_not_allowed → audience_mismatch → expired → not_yet_valid`.
//!
//! Why this order: the algorithm is judged before anything about the key, so no attacker
//! choice (`none`, `HS256` with the public key as secret) ever reaches key handling; the key is
//! looked up only in the configured set (never from header `jku`/`x5u`/`jwk`); revocation comes
//! before the signature so a token really signed with a stolen key is named for what it is;
//! and the key-to-issuer binding — the check whose absence let Storm-0558's consumer-key tokens
//! into enterprise mailboxes — runs right after the signature proves which key signed.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use crate::jws::{self, Parsed};
use crate::key::{Curve, Key, KeyMaterial, KeySet};
use crate::revoked::RevokedList;
use crate::{Error, Reason, Verdict};

/// The Microsoft consumer (MSA) tenant id. Tokens from it are refused unless
/// [`Options::allow_consumer`] is set.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Algorithms a token may use: asymmetric only.
pub const ALLOWED_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Which tenants a token may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    /// Any tenant (the consumer tenant still needs `allow_consumer`).
    Any,
    /// Only these tenant ids (compared case-insensitively).
    List(Vec<String>),
}

/// What a valid token must satisfy besides a good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Accepted `aud` values; at least one is required.
    pub audiences: Vec<String>,
    pub tenants: Tenants,
    /// Accept tokens of the consumer tenant [`CONSUMER_TENANT`].
    pub allow_consumer: bool,
    /// Tolerance for `exp`, `nbf` and `iat`, in seconds.
    pub skew_secs: i64,
    pub revoked: RevokedList,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            audiences: Vec::new(),
            tenants: Tenants::List(Vec::new()),
            allow_consumer: false,
            skew_secs: 300,
            revoked: RevokedList::default(),
        }
    }
}

impl Options {
    /// Reject option sets that could never accept a token, or that are ambiguous.
    pub fn validate(&self) -> Result<(), Error> {
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(Error::Config(String::from(
                "at least one audience is required",
            )));
        }
        match &self.tenants {
            Tenants::List(l) if l.is_empty() => {
                return Err(Error::Config(String::from(
                    "at least one tenant is required (or allow any tenant)",
                )))
            }
            Tenants::List(l) if !self.allow_consumer && l.iter().any(|t| t.eq_ignore_ascii_case(CONSUMER_TENANT)) => {
                return Err(Error::Config(format!(
                    "tenant {CONSUMER_TENANT} is the consumer (MSA) tenant; allowing it needs the explicit consumer opt-in"
                )))
            }
            _ => {}
        }
        if !(0..=86_400).contains(&self.skew_secs) {
            return Err(Error::Config(String::from(
                "clock skew must be between 0 and 86400 seconds",
            )));
        }
        Ok(())
    }
}

fn claimed(
    p: Option<&jws::Header>,
    c: Option<&jws::Claims>,
    reason: Reason,
    detail: String,
) -> Verdict {
    let mut v = Verdict::bare(reason, detail);
    if let Some(h) = p {
        v.kid = h.kid.clone();
        v.alg = h.alg.clone();
    }
    if let Some(c) = c {
        v.iss = c.iss.clone();
        v.tid = c.tid.clone();
        v.aud = c.aud.clone();
        v.sub = c.sub.clone();
        v.exp = c.exp;
        if reason == Reason::Valid {
            v.scopes = c.scopes.clone();
        }
    }
    v
}

/// Verify one compact JWS against `keys` and `opts` at Unix time `now`. Never panics.
pub fn verify(token: &[u8], keys: &KeySet, opts: &Options, now: i64) -> Verdict {
    let parsed = match jws::parse(token) {
        Ok(p) => p,
        Err(m) => {
            return claimed(
                m.header.as_deref(),
                m.claims.as_deref(),
                Reason::Malformed,
                m.detail,
            )
        }
    };
    let (reason, detail) = match check(&parsed, keys, opts, now) {
        Ok(()) => (Reason::Valid, String::new()),
        Err(e) => e,
    };
    claimed(Some(&parsed.header), Some(&parsed.claims), reason, detail)
}

type Step = Result<(), (Reason, String)>;

fn check(p: &Parsed<'_>, keys: &KeySet, opts: &Options, now: i64) -> Step {
    let (h, c) = (&p.header, &p.claims);
    let alg = h.alg.as_deref().unwrap_or("");
    if !ALLOWED_ALGS.contains(&alg) {
        return Err((
            Reason::AlgNotAllowed,
            format!("algorithm {alg:?} is not allowed (asymmetric signatures only)"),
        ));
    }
    let key = find_key(keys, h)?;
    if !key.material.supports(alg) || key.alg.as_deref().is_some_and(|a| a != alg) {
        return Err((
            Reason::AlgNotAllowed,
            format!("algorithm {alg} is not allowed for this key"),
        ));
    }
    if let Some(why) = opts
        .revoked
        .matches(key, h.kid.as_deref(), h.x5t.as_deref())
    {
        return Err((Reason::CompromisedKey, why));
    }
    if !signature_ok(&key.material, alg, p.signing_input, &p.signature) {
        return Err((
            Reason::BadSignature,
            String::from("signature does not verify"),
        ));
    }
    if let Some(template) = &key.issuer {
        let expected = expand_issuer(template, c.tid.as_deref());
        let Some(expected) = expected else {
            return Err((
                Reason::KeyIssuerMismatch,
                format!("key issuer {template} needs a tid claim"),
            ));
        };
        if c.iss.as_deref() != Some(expected.as_str()) {
            return Err((
                Reason::KeyIssuerMismatch,
                format!(
                    "key may sign only for issuer {expected}, token claims {}",
                    c.iss.as_deref().unwrap_or("no issuer")
                ),
            ));
        }
    }
    check_tenant(c.tid.as_deref(), opts)?;
    let auds = c.audiences();
    if !auds.iter().any(|a| opts.audiences.iter().any(|o| o == a)) {
        return Err((
            Reason::AudienceMismatch,
            format!("audience {auds:?} not accepted"),
        ));
    }
    let skew = opts.skew_secs;
    match c.exp {
        None => return Err((Reason::Expired, String::from("token has no exp claim"))),
        Some(exp) if now > exp.saturating_add(skew) => {
            return Err((
                Reason::Expired,
                format!("expired at {}", crate::time::format_rfc3339(exp)),
            ))
        }
        Some(_) => {}
    }
    for (name, t) in [("nbf", c.nbf), ("iat", c.iat)] {
        if let Some(t) = t {
            if now.saturating_add(skew) < t {
                return Err((
                    Reason::NotYetValid,
                    format!("{name} {} is in the future", crate::time::format_rfc3339(t)),
                ));
            }
        }
    }
    Ok(())
}

fn find_key<'k>(keys: &'k KeySet, h: &jws::Header) -> Result<&'k Key, (Reason, String)> {
    let key = keys
        .find(h.kid.as_deref(), h.x5t.as_deref())
        .ok_or_else(|| {
            let mut detail = match &h.kid {
                Some(kid) => format!("kid {kid} is not in the key set"),
                None => String::from("no kid and no single key to use"),
            };
            if let Some(u) = h.jku.as_ref().or(h.x5u.as_ref()) {
                detail.push_str(&format!(" (header key URL {u} ignored: never fetched)"));
            }
            (Reason::UnknownKey, detail)
        })?;
    if !key.signing {
        return Err((
            Reason::UnknownKey,
            String::from("key is not a signature key"),
        ));
    }
    Ok(key)
}

/// Fill `{tenantid}` from `tid`; `None` when the template needs a tid the token lacks.
fn expand_issuer(template: &str, tid: Option<&str>) -> Option<String> {
    if template.contains("{tenantid}") {
        Some(template.replace("{tenantid}", tid?))
    } else {
        Some(template.to_owned())
    }
}

fn check_tenant(tid: Option<&str>, opts: &Options) -> Step {
    let Some(tid) = tid else {
        return Err((
            Reason::TenantNotAllowed,
            String::from("token has no tid claim"),
        ));
    };
    if tid.eq_ignore_ascii_case(CONSUMER_TENANT) && !opts.allow_consumer {
        return Err((
            Reason::TenantNotAllowed,
            String::from("consumer (MSA) tenant not allowed"),
        ));
    }
    let ok = match &opts.tenants {
        Tenants::Any => true,
        Tenants::List(l) => l.iter().any(|t| t.eq_ignore_ascii_case(tid)),
    };
    if ok {
        Ok(())
    } else {
        Err((
            Reason::TenantNotAllowed,
            format!("tenant {tid} not allowed"),
        ))
    }
}

fn signature_ok(m: &KeyMaterial, alg: &str, msg: &[u8], sig: &[u8]) -> bool {
    let rsa: Option<&'static signature::RsaParameters> = match alg {
        "RS256" => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
        "PS384" => Some(&signature::RSA_PSS_2048_8192_SHA384),
        "PS512" => Some(&signature::RSA_PSS_2048_8192_SHA512),
        _ => None,
    };
    match (m, rsa) {
        (KeyMaterial::Rsa { n, e }, Some(params)) => RsaPublicKeyComponents { n, e }
            .verify(params, msg, sig)
            .is_ok(),
        (
            KeyMaterial::Ec {
                curve: Curve::P256,
                point,
            },
            None,
        ) if alg == "ES256" => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(msg, sig)
            .is_ok(),
        (
            KeyMaterial::Ec {
                curve: Curve::P384,
                point,
            },
            None,
        ) if alg == "ES384" => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
            .verify(msg, sig)
            .is_ok(),
        (KeyMaterial::Ed25519(k), None) if alg == "EdDSA" => {
            UnparsedPublicKey::new(&signature::ED25519, k)
                .verify(msg, sig)
                .is_ok()
        }
        _ => false,
    }
}
