//! Reason codes and the verdict record.
//!
//! The codes and their order are a contract (DESIGN.md, "Token verdict"): the CLI, the gateway's
//! audit log and the hunting side's built-in detection all key on these exact strings, so they
//! live in one enum with one `as_str`.

use serde::Serialize;
use std::fmt;

/// Why a token was refused, or `Valid`. Declared in the order the checks run: the first failing
/// check is the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Not three dot-separated base64url parts, header/claims not (strict) JSON objects,
    /// duplicate keys, oversized header, unknown `crit`, wrongly typed claims.
    Malformed,
    /// `none`, HMAC or any algorithm that is not RS*, PS*, ES256/384 or EdDSA, or not allowed
    /// for the selected key.
    AlgNotAllowed,
    /// The `kid` is not in the configured key set (header `jku`/`x5u` are never fetched).
    UnknownKey,
    /// The key (by `kid` or certificate thumbprint) is on the revoked list.
    CompromisedKey,
    /// The signature does not verify with the selected key.
    BadSignature,
    /// The key's `issuer` (with `{tenantid}` filled from `tid`) is not the token's `iss`.
    KeyIssuerMismatch,
    /// The `tid` is not an allowed tenant (the consumer tenant needs an explicit opt-in).
    TenantNotAllowed,
    /// No `aud` value is one of the configured audiences.
    AudienceMismatch,
    /// `exp` is in the past (beyond the clock skew), or missing.
    Expired,
    /// `nbf` or `iat` is in the future (beyond the clock skew).
    NotYetValid,
    /// Every check passed.
    Valid,
}

impl Reason {
    /// Every reason, in check order.
    pub const ALL: [Reason; 11] = [
        Reason::Malformed,
        Reason::AlgNotAllowed,
        Reason::UnknownKey,
        Reason::CompromisedKey,
        Reason::BadSignature,
        Reason::KeyIssuerMismatch,
        Reason::TenantNotAllowed,
        Reason::AudienceMismatch,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::Valid,
    ];

    /// The stable wire name (`"key_issuer_mismatch"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::UnknownKey => "unknown_key",
            Reason::CompromisedKey => "compromised_key",
            Reason::BadSignature => "bad_signature",
            Reason::KeyIssuerMismatch => "key_issuer_mismatch",
            Reason::TenantNotAllowed => "tenant_not_allowed",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Valid => "valid",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of verifying one token.
///
/// Serializes to exactly the contract fields `valid, reason, detail, kid, alg, iss, tid, aud,
/// sub`. The identity fields are what the token *claims*; they are trustworthy only when
/// `valid` is true. `aud` is the token's own value (a string or an array of strings).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub valid: bool,
    pub reason: Reason,
    pub detail: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub aud: Option<serde_json::Value>,
    pub sub: Option<String>,
    /// Scopes (`scp`, space separated) and app roles (`roles`) of a valid token.
    #[serde(skip)]
    pub scopes: Vec<String>,
    /// The token's `exp` (Unix seconds), when it has one.
    #[serde(skip)]
    pub exp: Option<i64>,
}

impl Verdict {
    /// A verdict with no identity fields (used before anything could be decoded).
    pub fn bare(reason: Reason, detail: impl Into<String>) -> Verdict {
        Verdict {
            valid: reason == Reason::Valid,
            reason,
            detail: detail.into(),
            kid: None,
            alg: None,
            iss: None,
            tid: None,
            aud: None,
            sub: None,
            scopes: Vec::new(),
            exp: None,
        }
    }

    /// One compact JSON object (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serializing plain strings, bools and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
