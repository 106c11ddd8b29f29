//! The revoked-key list: key ids and certificate thumbprints that must never be trusted again,
//! whatever key set still publishes them.
//!
//! The Storm-0558 signing key (thumbprint [`STORM_0558_THUMBPRINT`]) is on it by default: a
//! stolen key is not made safe by the provider rotating it, because caches, pinned files and
//! forensic re-verification of old tokens all still meet it. Entries match a key's `kid`
//! exactly, or (for 40-hex-digit or base64url SHA-1 values) its certificate thumbprint, however
//! that thumbprint is spelled in the key set or the token header.

use crate::key::{decode_thumbprint, Key};
use crate::Error;
use std::collections::HashSet;

/// The published thumbprint of the Microsoft consumer (MSA) signing key stolen in Storm-0558.
pub const STORM_0558_THUMBPRINT: &str = "d4b4cccda9228624656bff33d8110955779632aa";

/// Revoked key ids and thumbprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedList {
    ids: HashSet<String>,
    thumbprints: HashSet<[u8; 20]>,
}

impl Default for RevokedList {
    /// The built-in list: the Storm-0558 key.
    fn default() -> Self {
        let mut list = RevokedList::empty();
        list.add(STORM_0558_THUMBPRINT);
        list
    }
}

impl RevokedList {
    /// A list with nothing on it (not even Storm-0558).
    pub fn empty() -> Self {
        RevokedList {
            ids: HashSet::new(),
            thumbprints: HashSet::new(),
        }
    }

    /// Add one kid or thumbprint.
    pub fn add(&mut self, entry: &str) {
        let entry = entry.trim();
        if entry.is_empty() {
            return;
        }
        if let Some(tp) = decode_thumbprint(entry) {
            self.thumbprints.insert(tp);
        }
        self.ids.insert(entry.to_owned());
    }

    /// Add the entries of a revoked-list file: one kid or thumbprint a line, blank lines and
    /// `#` comments ignored. An entry with inner whitespace is an error (likely a pasted
    /// table, which would otherwise silently match nothing).
    pub fn add_text(&mut self, text: &str, origin: &str) -> Result<(), Error> {
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.contains(char::is_whitespace) {
                return Err(Error::Config(format!(
                    "{origin}:{}: one kid or thumbprint per line expected",
                    i + 1
                )));
            }
            self.add(line);
        }
        Ok(())
    }

    /// Is this key, or the thumbprint/kid the token names for it, revoked?
    pub fn matches(
        &self,
        key: &Key,
        header_kid: Option<&str>,
        header_x5t: Option<&str>,
    ) -> Option<String> {
        if let Some(kid) = key.kid.as_deref().or(header_kid) {
            if self.ids.contains(kid)
                || decode_thumbprint(kid).is_some_and(|t| self.thumbprints.contains(&t))
            {
                return Some(format!("key {kid} is revoked"));
            }
        }
        let tps = [key.thumbprint, header_x5t.and_then(decode_thumbprint)];
        for tp in tps.into_iter().flatten() {
            if self.thumbprints.contains(&tp) {
                let hex: String = tp.iter().map(|b| format!("{b:02x}")).collect();
                return Some(format!("key with thumbprint {hex} is revoked"));
            }
        }
        None
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
