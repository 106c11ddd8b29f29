//! Just enough DER to find a public key: SubjectPublicKeyInfo, PKCS#1 RSAPublicKey, and the
//! SPKI inside an X.509 certificate (for `x5c` and PEM certificates).
//!
//! This is structure walking, not cryptography: no signature on the certificate is checked
//! (the key set is the trust anchor, as in JWKS). Lengths are bounds-checked; indefinite
//! lengths and lengths over 4 bytes are rejected; every function returns an error, never
//! panics, on any input.

use crate::key::{Curve, KeyMaterial};

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xa0;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

type R<T> = Result<T, String>;

/// Split one TLV off `input`: (tag, content, rest).
fn tlv(input: &[u8]) -> R<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first().ok_or("DER: truncated (tag)")?;
    let (&first, rest) = rest.split_first().ok_or("DER: truncated (length)")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(String::from("DER: unsupported length encoding"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(String::from("DER: truncated (content)"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], want: u8) -> R<(&[u8], &[u8])> {
    let (tag, content, rest) = tlv(input)?;
    if tag != want {
        return Err(format!("DER: expected tag {want:#04x}, found {tag:#04x}"));
    }
    Ok((content, rest))
}

fn unsigned(int: &[u8]) -> R<Vec<u8>> {
    let trimmed: &[u8] = match int.iter().position(|&b| b != 0) {
        Some(i) => &int[i..],
        None => return Err(String::from("DER: zero integer")),
    };
    if int.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(String::from("DER: negative integer"));
    }
    Ok(trimmed.to_vec())
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub(crate) fn rsa_public_key(der: &[u8]) -> R<KeyMaterial> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (n, rest) = expect(seq, INTEGER)?;
    let (e, _) = expect(rest, INTEGER)?;
    Ok(KeyMaterial::Rsa {
        n: unsigned(n)?,
        e: unsigned(e)?,
    })
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`.
pub(crate) fn spki(der: &[u8]) -> R<KeyMaterial> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (alg, rest) = expect(seq, SEQUENCE)?;
    let (bits, _) = expect(rest, BIT_STRING)?;
    let (unused, key) = bits.split_first().ok_or("DER: empty BIT STRING")?;
    if *unused != 0 {
        return Err(String::from("DER: BIT STRING with unused bits"));
    }
    let (oid, params) = expect(alg, OID)?;
    match oid {
        OID_RSA => rsa_public_key(key),
        OID_EC => {
            let (curve, _) = expect(params, OID)?;
            let curve = match curve {
                OID_P256 => Curve::P256,
                OID_P384 => Curve::P384,
                _ => return Err(String::from("unsupported EC curve")),
            };
            Ok(KeyMaterial::Ec {
                curve,
                point: key.to_vec(),
            })
        }
        OID_ED25519 => Ok(KeyMaterial::Ed25519(key.to_vec())),
        _ => Err(String::from("unsupported public key algorithm")),
    }
}

/// The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1).
pub(crate) fn certificate_key(der: &[u8]) -> R<KeyMaterial> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&CONTEXT_0) {
        rest = tlv(rest)?.2; // version
    }
    rest = expect(rest, INTEGER)?.1; // serialNumber
    for _ in 0..4 {
        // signature, issuer, validity, subject
        rest = expect(rest, SEQUENCE)?.1;
    }
    // `spki` wants the whole SEQUENCE, header included.
    let (tag, _, after) = tlv(rest)?;
    if tag != SEQUENCE {
        return Err(String::from(
            "DER: certificate without SubjectPublicKeyInfo",
        ));
    }
    spki(&rest[..rest.len() - after.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            &[0x30],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x80],
            &[0x30, 0x05, 0x02, 0x01],
            &[0x30, 0x03, 0x02, 0x01, 0x00],
        ] {
            assert!(spki(input).is_err());
            assert!(certificate_key(input).is_err());
            assert!(rsa_public_key(input).is_err());
        }
    }

    #[test]
    fn pkcs1_integers_are_unsigned() {
        // SEQUENCE { INTEGER 0x00 0x80 0x01, INTEGER 0x03 }
        let der = [0x30, 0x08, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x01, 0x03];
        match rsa_public_key(&der).unwrap() {
            KeyMaterial::Rsa { n, e } => {
                assert_eq!(n, vec![0x80, 0x01]);
                assert_eq!(e, vec![0x03]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
