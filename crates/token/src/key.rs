//! Verification keys: JWK / JWKS (RFC 7517, 7518), PEM (SPKI, PKCS#1, X.509), and the
//! OpenID discovery document that points at a JWKS.
//!
//! A [`Key`] carries what the verifier needs to decide whether this key may sign *this*
//! token: its algorithm family, its optional `alg`, and its optional `issuer` (Microsoft's
//! multi-tenant key sets template it as `https://login.microsoftonline.com/{tenantid}/v2.0`;
//! consumer keys name the consumer tenant). Keys are parsed once into verification-ready
//! material, and a key set never contains symmetric keys: `oct` entries are skipped with a
//! warning, which is half of the HS256 key-confusion defence (the other half is refusing
//! HMAC algorithms outright).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{Map, Value};

use crate::{der, json, Error};

/// Elliptic curves supported for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// Public key material, ready for `ring`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Big-endian modulus and exponent, no leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point (`04 || x || y`).
    Ec { curve: Curve, point: Vec<u8> },
    /// 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
}

impl KeyMaterial {
    /// Whether a token signed with `alg` can be verified with this kind of key.
    pub fn supports(&self, alg: &str) -> bool {
        match self {
            KeyMaterial::Rsa { .. } => matches!(
                alg,
                "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
            ),
            KeyMaterial::Ec {
                curve: Curve::P256, ..
            } => alg == "ES256",
            KeyMaterial::Ec {
                curve: Curve::P384, ..
            } => alg == "ES384",
            KeyMaterial::Ed25519(_) => alg == "EdDSA",
        }
    }

    fn check(&self) -> Result<(), String> {
        match self {
            KeyMaterial::Rsa { n, e } => {
                if n.len() < 256 {
                    return Err(format!("RSA modulus of {} bits is below 2048", n.len() * 8));
                }
                if e.is_empty() || e.len() > 4 {
                    return Err(String::from("RSA exponent out of range"));
                }
            }
            KeyMaterial::Ec { curve, point } => {
                let want = match curve {
                    Curve::P256 => 65,
                    Curve::P384 => 97,
                };
                if point.len() != want || point.first() != Some(&4) {
                    return Err(String::from(
                        "EC point is not an uncompressed point of the curve",
                    ));
                }
            }
            KeyMaterial::Ed25519(k) => {
                if k.len() != 32 {
                    return Err(String::from("Ed25519 key is not 32 bytes"));
                }
            }
        }
        Ok(())
    }
}

/// One verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kid: Option<String>,
    /// The key's own `alg`, which then is the only algorithm it verifies.
    pub alg: Option<String>,
    /// Issuer template this key may sign for (`{tenantid}` is filled from the token's `tid`).
    pub issuer: Option<String>,
    /// SHA-1 certificate thumbprint (from `x5t`, or computed from `x5c[0]` / a PEM certificate).
    pub thumbprint: Option<[u8; 20]>,
    pub material: KeyMaterial,
    /// False for keys marked `use: enc` or whose `key_ops` lack `verify`.
    pub signing: bool,
}

/// A set of verification keys plus the warnings produced while loading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    pub keys: Vec<Key>,
    /// Entries that were skipped, and why.
    pub warnings: Vec<String>,
}

impl KeySet {
    /// Append another set (warnings too).
    pub fn extend(&mut self, other: KeySet) {
        self.keys.extend(other.keys);
        self.warnings.extend(other.warnings);
    }

    /// Give every key without an `issuer` this one (used for discovery documents).
    pub fn default_issuer(&mut self, issuer: &str) {
        for k in &mut self.keys {
            if k.issuer.is_none() {
                k.issuer = Some(issuer.to_owned());
            }
        }
    }

    /// Select the key for a token header: by `kid`; with no `kid`, by `x5t`; a key without
    /// a `kid` (a PEM key) is used only when it is the only key in the set.
    pub fn find(&self, kid: Option<&str>, x5t: Option<&str>) -> Option<&Key> {
        if let Some(kid) = kid {
            if let Some(k) = self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                return Some(k);
            }
        } else if let Some(tp) = x5t.and_then(decode_thumbprint) {
            if let Some(k) = self.keys.iter().find(|k| k.thumbprint == Some(tp)) {
                return Some(k);
            }
        }
        match self.keys.as_slice() {
            [only] if only.kid.is_none() => Some(only),
            _ => None,
        }
    }

    /// Parse a JWKS document (`{"keys":[…]}`) or a single JWK object.
    pub fn from_jwks(bytes: &[u8]) -> Result<KeySet, Error> {
        let doc = json::parse_value(bytes).map_err(|e| Error::KeySet(format!("JWKS: {e}")))?;
        let entries: Vec<&Value> = match &doc {
            Value::Object(o) => match o.get("keys") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(_) => {
                    return Err(Error::KeySet(String::from(
                        "JWKS: \"keys\" is not an array",
                    )))
                }
                None if o.contains_key("kty") => vec![&doc],
                None => return Err(Error::KeySet(String::from("JWKS: no \"keys\""))),
            },
            _ => return Err(Error::KeySet(String::from("JWKS: not a JSON object"))),
        };
        let mut set = KeySet::default();
        for (i, entry) in entries.into_iter().enumerate() {
            match entry
                .as_object()
                .ok_or_else(|| String::from("not an object"))
                .and_then(jwk)
            {
                Ok(key) => set.keys.push(key),
                Err(e) => {
                    let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("?");
                    set.warnings
                        .push(format!("JWKS key #{i} (kid {kid}) skipped: {e}"));
                }
            }
        }
        Ok(set)
    }

    /// Parse PEM text with one or more `PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE` blocks.
    pub fn from_pem(text: &[u8]) -> Result<KeySet, Error> {
        let text =
            std::str::from_utf8(text).map_err(|_| Error::KeySet(String::from("PEM: not UTF-8")))?;
        let mut set = KeySet::default();
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            let Some(label) = line
                .strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
            else {
                continue;
            };
            let end = format!("-----END {label}-----");
            let mut b64 = String::new();
            let mut closed = false;
            for l in lines.by_ref() {
                if l == end {
                    closed = true;
                    break;
                }
                b64.push_str(l);
            }
            if !closed {
                return Err(Error::KeySet(format!("PEM: unterminated {label} block")));
            }
            let der = STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| Error::KeySet(format!("PEM {label}: {e}")))?;
            let (material, thumbprint) = match label {
                "PUBLIC KEY" => (der::spki(&der), None),
                "RSA PUBLIC KEY" => (der::rsa_public_key(&der), None),
                "CERTIFICATE" => (der::certificate_key(&der), Some(sha1(&der))),
                other => {
                    set.warnings.push(format!("PEM: {other} block ignored"));
                    continue;
                }
            };
            let material = material.map_err(|e| Error::KeySet(format!("PEM {label}: {e}")))?;
            material
                .check()
                .map_err(|e| Error::KeySet(format!("PEM {label}: {e}")))?;
            set.keys.push(Key {
                kid: None,
                alg: None,
                issuer: None,
                thumbprint,
                material,
                signing: true,
            });
        }
        if set.keys.is_empty() {
            return Err(Error::KeySet(String::from(
                "PEM: no public key or certificate found",
            )));
        }
        Ok(set)
    }
}

/// `(issuer, jwks_uri)` from an OpenID Connect discovery document.
pub fn parse_discovery(bytes: &[u8]) -> Result<(String, String), Error> {
    let doc = json::parse_value(bytes).map_err(|e| Error::KeySet(format!("discovery: {e}")))?;
    let get = |name: &str| {
        doc.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::KeySet(format!("discovery: no \"{name}\"")))
    };
    Ok((get("issuer")?, get("jwks_uri")?))
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// A base64url (or hex) SHA-1 thumbprint as bytes.
pub(crate) fn decode_thumbprint(s: &str) -> Option<[u8; 20]> {
    let bytes = if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..20)
            .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?
    };
    bytes.try_into().ok()
}

fn field<'a>(o: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

fn b64field(o: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let s = field(o, name)?.ok_or_else(|| format!("no \"{name}\""))?;
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("\"{name}\": {e}"))
}

fn strip_zeros(v: Vec<u8>) -> Vec<u8> {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    v[i..].to_vec()
}

/// One JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037).
fn jwk(o: &Map<String, Value>) -> Result<Key, String> {
    let kty = field(o, "kty")?.ok_or("no \"kty\"")?;
    let cert = match o.get("x5c") {
        None => None,
        Some(Value::Array(chain)) => {
            let first = chain
                .first()
                .and_then(Value::as_str)
                .ok_or("\"x5c\" is empty")?;
            Some(
                STANDARD
                    .decode(first)
                    .map_err(|e| format!("\"x5c\": {e}"))?,
            )
        }
        Some(_) => return Err(String::from("\"x5c\" is not an array")),
    };
    let cert_key = cert.as_deref().map(der::certificate_key).transpose()?;
    let explicit = match kty {
        "RSA" if o.contains_key("n") => Some(KeyMaterial::Rsa {
            n: strip_zeros(b64field(o, "n")?),
            e: strip_zeros(b64field(o, "e")?),
        }),
        "EC" if o.contains_key("x") => {
            let curve = match field(o, "crv")? {
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                other => return Err(format!("unsupported EC curve {other:?}")),
            };
            let (x, y) = (b64field(o, "x")?, b64field(o, "y")?);
            let size = if curve == Curve::P256 { 32 } else { 48 };
            if x.len() != size || y.len() != size {
                return Err(String::from("EC coordinates have the wrong length"));
            }
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            Some(KeyMaterial::Ec { curve, point })
        }
        "OKP" => match field(o, "crv")? {
            Some("Ed25519") => Some(KeyMaterial::Ed25519(b64field(o, "x")?)),
            other => return Err(format!("unsupported OKP curve {other:?}")),
        },
        "RSA" | "EC" => None,
        "oct" => return Err(String::from("symmetric (oct) keys are never used")),
        other => return Err(format!("unsupported kty {other:?}")),
    };
    let material = match (explicit, cert_key) {
        (Some(m), Some(c)) if m != c => {
            return Err(String::from(
                "key parameters do not match the x5c certificate",
            ))
        }
        (Some(m), _) => m,
        (None, Some(c)) => c,
        (None, None) => return Err(String::from("no key parameters and no x5c")),
    };
    let kty_ok = matches!(
        (&material, kty),
        (KeyMaterial::Rsa { .. }, "RSA")
            | (KeyMaterial::Ec { .. }, "EC")
            | (KeyMaterial::Ed25519(_), "OKP")
    );
    if !kty_ok {
        return Err(format!("x5c certificate key is not of kty {kty}"));
    }
    material.check()?;
    let computed = cert.as_deref().map(sha1);
    let thumbprint = match field(o, "x5t")? {
        Some(t) => {
            let t = decode_thumbprint(t).ok_or("\"x5t\" is not a SHA-1 thumbprint")?;
            if computed.is_some_and(|c| c != t) {
                return Err(String::from("\"x5t\" does not match the x5c certificate"));
            }
            Some(t)
        }
        None => computed,
    };
    let alg = field(o, "alg")?.map(str::to_owned);
    if let Some(a) = &alg {
        if !material.supports(a) {
            return Err(format!("alg {a} does not fit kty {kty}"));
        }
    }
    let signing = field(o, "use")?.is_none_or(|u| u == "sig")
        && match o.get("key_ops") {
            None => true,
            Some(Value::Array(ops)) => ops.iter().any(|op| op == "verify"),
            Some(_) => false,
        };
    Ok(Key {
        kid: field(o, "kid")?.map(str::to_owned),
        alg,
        issuer: field(o, "issuer")?.map(str::to_owned),
        thumbprint,
        material,
        signing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oct_and_bad_keys_are_skipped_with_warnings() {
        let set = KeySet::from_jwks(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},{"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},7]}"#).unwrap();
        assert!(set.keys.is_empty());
        assert_eq!(set.warnings.len(), 3, "{:?}", set.warnings);
    }

    #[test]
    fn thumbprints_decode_from_hex_and_base64url() {
        let hex = decode_thumbprint("d4b4cccda9228624656bff33d8110955779632aa").unwrap();
        let b64 = URL_SAFE_NO_PAD.encode(hex);
        assert_eq!(decode_thumbprint(&b64), Some(hex));
        assert_eq!(decode_thumbprint("zz"), None);
    }

    #[test]
    fn jwks_documents_must_have_keys() {
        assert!(KeySet::from_jwks(b"[]").is_err());
        assert!(KeySet::from_jwks(br#"{"keys":{}}"#).is_err());
        assert!(KeySet::from_pem(b"nothing here").is_err());
    }
}
