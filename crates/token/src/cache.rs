//! A cache of *valid* verdicts, keyed by the SHA-256 of the whole token.
//!
//! A gateway sees the same bearer token on every request of a session; re-verifying an RSA
//! signature each time is wasted work. An entry is reused only while the token is still
//! within its lifetime (`exp` + skew), only for the key-set generation it was verified
//! against (a refresh or revocation invalidates everything), and only for the exact token
//! bytes. Rejections are not cached: a not-yet-valid token may become valid, and a refused
//! token must be judged again so each attempt is audited with its true reason.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Verdict;

const SHARDS: usize = 8;

struct Entry {
    verdict: Verdict,
    /// Unix seconds after which the entry must not be used.
    until: i64,
    generation: u64,
}

/// Bounded, sharded cache of valid verdicts.
pub struct VerifiedCache {
    shards: Vec<Mutex<HashMap<[u8; 32], Entry>>>,
    per_shard: usize,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish()
    }
}

/// SHA-256 of a token, the cache key.
pub fn token_hash(token: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl VerifiedCache {
    /// A cache holding at most about `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        VerifiedCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, hash: &[u8; 32]) -> &Mutex<HashMap<[u8; 32], Entry>> {
        &self.shards[usize::from(hash[0]) % SHARDS]
    }

    /// A cached valid verdict for this token, if it is still usable at `now`.
    pub fn get(&self, hash: &[u8; 32], now: i64, generation: u64) -> Option<Verdict> {
        if self.per_shard == 0 {
            return None;
        }
        let mut map = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        match map.get(hash) {
            Some(e) if e.generation == generation && now <= e.until => Some(e.verdict.clone()),
            Some(_) => {
                map.remove(hash);
                None
            }
            None => None,
        }
    }

    /// Remember a verdict; only valid verdicts with an `exp` are kept, until `exp + skew`.
    pub fn put(
        &self,
        hash: [u8; 32],
        verdict: &Verdict,
        skew_secs: i64,
        now: i64,
        generation: u64,
    ) {
        let Some(exp) = verdict.exp.filter(|_| verdict.valid && self.per_shard > 0) else {
            return;
        };
        let until = exp.saturating_add(skew_secs);
        if until < now {
            return;
        }
        let mut map = self.shard(&hash).lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard {
            map.retain(|_, e| e.until >= now && e.generation == generation);
            if map.len() >= self.per_shard {
                // Still full of live entries: drop everything rather than track recency; a
                // miss costs one signature check.
                map.clear();
            }
        }
        map.insert(
            hash,
            Entry {
                verdict: verdict.clone(),
                until,
                generation,
            },
        );
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
