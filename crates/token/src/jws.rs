//! JWS compact serialization: `BASE64URL(header) . BASE64URL(claims) . BASE64URL(signature)`.
//!
//! Parsing is the attack surface, so it is strict and bounded: exactly three parts; unpadded
//! base64url with canonical trailing bits (RFC 7515 §2); header and claims are JSON objects
//! without duplicate keys; the header is capped at [`MAX_HEADER_LEN`] and the token at
//! [`MAX_TOKEN_LEN`]; `crit` is rejected because this verifier implements no extensions
//! (RFC 7515 §4.1.11); claims the verifier relies on must have the right JSON type. Nothing
//! here trusts anything: the result is just decoded data for `verify` to judge.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::json;

/// Longest accepted token, in bytes (Entra access tokens are 1–3 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;
/// Longest accepted encoded header, in bytes.
pub const MAX_HEADER_LEN: usize = 4 * 1024;

/// The JOSE header fields the verifier looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub alg: Option<String>,
    pub kid: Option<String>,
    /// Certificate thumbprint claimed by the token (base64url SHA-1).
    pub x5t: Option<String>,
    /// Present only to be reported; never fetched.
    pub jku: Option<String>,
    /// Present only to be reported; never fetched.
    pub x5u: Option<String>,
}

/// The claims the verifier looks at, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub sub: Option<String>,
    /// `aud` as it appears in the token (string or array of strings).
    pub aud: Option<Value>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    /// `scp` split on spaces, then `roles`.
    pub scopes: Vec<String>,
}

impl Claims {
    /// The audience values as a list.
    pub fn audiences(&self) -> Vec<&str> {
        match &self.aud {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// A decoded, not yet trusted token.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    pub header: Header,
    pub claims: Claims,
    /// `header.claims`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
}

/// Why a token is malformed, with whatever could be decoded before the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    pub detail: String,
    pub header: Option<Box<Header>>,
    pub claims: Option<Box<Claims>>,
}

fn fail(detail: impl Into<String>) -> Malformed {
    Malformed {
        detail: detail.into(),
        header: None,
        claims: None,
    }
}

/// Decode one compact JWS. Never panics.
pub fn parse(token: &[u8]) -> Result<Parsed<'_>, Malformed> {
    if token.is_empty() {
        return Err(fail("empty token"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(fail(format!("token longer than {MAX_TOKEN_LEN} bytes")));
    }
    let mut parts = token.split(|&b| b == b'.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(fail("not three dot-separated parts"));
    };
    if h.len() > MAX_HEADER_LEN {
        return Err(fail(format!("header longer than {MAX_HEADER_LEN} bytes")));
    }
    let signing_input = &token[..h.len() + 1 + c.len()];
    let header_bytes = b64("header", h).map_err(fail)?;
    let header_obj = json::parse_object(&header_bytes).map_err(|e| fail(format!("header: {e}")))?;
    let header = read_header(&header_obj).map_err(|e| fail(format!("header: {e}")))?;
    let with_header = |detail: String| Malformed {
        detail,
        header: Some(Box::new(header.clone())),
        claims: None,
    };
    if let Some(crit) = header_obj.get("crit") {
        return Err(with_header(format!(
            "header: unsupported critical extension(s) {crit}"
        )));
    }
    if header.alg.is_none() {
        return Err(with_header(String::from("header: no \"alg\"")));
    }
    let claims_bytes = b64("claims", c).map_err(with_header)?;
    let claims_obj =
        json::parse_object(&claims_bytes).map_err(|e| with_header(format!("claims: {e}")))?;
    let claims = read_claims(&claims_obj).map_err(|e| with_header(format!("claims: {e}")))?;
    let signature = b64("signature", s).map_err(|detail| Malformed {
        detail,
        header: Some(Box::new(header.clone())),
        claims: Some(Box::new(claims.clone())),
    })?;
    Ok(Parsed {
        header,
        claims,
        signing_input,
        signature,
    })
}

fn b64(what: &str, part: &[u8]) -> Result<Vec<u8>, String> {
    if part.is_empty() && what != "signature" {
        return Err(format!("{what}: empty part"));
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| format!("{what}: not unpadded base64url ({e})"))
}

fn opt_str(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

fn opt_time(obj: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                // NumericDate may be fractional; `as` saturates out-of-range values.
                Ok(Some(f.floor() as i64))
            } else {
                Err(format!("\"{name}\" is not a NumericDate"))
            }
        }
        Some(_) => Err(format!("\"{name}\" is not a NumericDate")),
    }
}

fn read_header(obj: &Map<String, Value>) -> Result<Header, String> {
    Ok(Header {
        alg: opt_str(obj, "alg")?,
        kid: opt_str(obj, "kid")?,
        x5t: opt_str(obj, "x5t")?,
        jku: opt_str(obj, "jku")?,
        x5u: opt_str(obj, "x5u")?,
    })
}

fn read_claims(obj: &Map<String, Value>) -> Result<Claims, String> {
    let aud = match obj.get("aud") {
        None => None,
        Some(v @ Value::String(_)) => Some(v.clone()),
        Some(v @ Value::Array(a)) if a.iter().all(Value::is_string) => Some(v.clone()),
        Some(_) => return Err(String::from("\"aud\" is not a string or array of strings")),
    };
    let mut scopes: Vec<String> = Vec::new();
    if let Some(Value::String(scp)) = obj.get("scp") {
        scopes.extend(scp.split_whitespace().map(str::to_owned));
    }
    if let Some(Value::Array(roles)) = obj.get("roles") {
        scopes.extend(roles.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    Ok(Claims {
        iss: opt_str(obj, "iss")?,
        tid: opt_str(obj, "tid")?,
        sub: opt_str(obj, "sub")?,
        aud,
        exp: opt_time(obj, "exp")?,
        nbf: opt_time(obj, "nbf")?,
        iat: opt_time(obj, "iat")?,
        scopes,
    })
}

/// Decode header and claims without any check beyond well-formedness, for `token inspect`.
/// Returns the raw JSON objects (duplicate keys still rejected: an ambiguous token is shown as
/// an error, not one arbitrary reading of it).
pub fn decode_untrusted(token: &[u8]) -> Result<(Value, Value), String> {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(h), Some(c)) = (parts.next(), parts.next()) else {
        return Err(String::from("not a JWS compact token"));
    };
    let h = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|e| format!("header: not base64url ({e})"))?;
    let c = URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|e| format!("claims: not base64url ({e})"))?;
    let h = json::parse_object(&h).map_err(|e| format!("header: {e}"))?;
    let c = json::parse_object(&c).map_err(|e| format!("claims: {e}"))?;
    Ok((Value::Object(h), Value::Object(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn three_parts_required() {
        assert!(parse(b"a.b").is_err());
        assert!(parse(b"a.b.c.d").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn empty_signature_is_well_formed() {
        let t = format!("{}.{}.", enc(r#"{"alg":"none"}"#), enc("{}"));
        let p = parse(t.as_bytes()).expect("well-formed");
        assert!(p.signature.is_empty());
        assert_eq!(p.header.alg.as_deref(), Some("none"));
    }

    #[test]
    fn padding_and_standard_alphabet_rejected() {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        let t = format!("{h}==.{}.", enc("{}"));
        assert!(parse(t.as_bytes()).is_err());
        let t = format!("{h}.{}.ab+/", enc("{}"));
        assert!(parse(t.as_bytes()).is_err());
    }

    #[test]
    fn crit_and_duplicates_rejected() {
        let t = format!(
            "{}.{}.",
            enc(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#),
            enc("{}")
        );
        let m = parse(t.as_bytes()).unwrap_err();
        assert!(m.detail.contains("critical"), "{}", m.detail);
        let t = format!(
            "{}.{}.",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"tid":"a","tid":"b"}"#)
        );
        assert!(parse(t.as_bytes())
            .unwrap_err()
            .detail
            .contains("duplicate"));
    }

    #[test]
    fn typed_claims() {
        let t = format!(
            "{}.{}.",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"exp":"soon"}"#)
        );
        assert!(parse(t.as_bytes()).is_err());
        let t = format!(
            "{}.{}.",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"exp":1.5e9,"aud":["a","b"],"scp":"x y"}"#)
        );
        let p = parse(t.as_bytes()).unwrap();
        assert_eq!(p.claims.exp, Some(1_500_000_000));
        assert_eq!(p.claims.audiences(), vec!["a", "b"]);
        assert_eq!(p.claims.scopes, vec!["x", "y"]);
    }

    #[test]
    fn oversized_header_capped() {
        let big = format!(r#"{{"alg":"RS256","x":"{}"}}"#, "a".repeat(MAX_HEADER_LEN));
        let t = format!("{}.{}.", enc(&big), enc("{}"));
        assert!(parse(t.as_bytes())
            .unwrap_err()
            .detail
            .contains("header longer"));
    }
}
