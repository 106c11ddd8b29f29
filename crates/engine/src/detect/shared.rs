//! One unique token id or one Entra session reading three or more mailboxes.
//!
//! Both are issued to one user, so one that reads many mailboxes is being replayed (or is a
//! broad delegate: see docs/detections.md). Finding them needs every (token, mailbox) pair of
//! the input, and a month of a large tenant has millions of tokens; so, with bounded memory:
//! * as reads go by, each distinct (fingerprint of tenant + token or session, mailbox id) pair
//!   is appended to a temporary file (a small direct-mapped cache drops the immediate repeats
//!   of a token's reads);
//! * at the end the file is split, in one pass, into as many hash partitions as keep each
//!   part near a million pairs (12 MB); each part is read into memory on its own and sorted,
//!   and the fingerprints with three or more mailboxes are *flagged*;
//! * when the accesses are read back, only the reads of flagged fingerprints are gathered, by
//!   their exact ids: a fingerprint collision can flag too much, never too little, and the
//!   exact grouping then drops what the collision added.

use super::builtin_rules as rules;
use super::spill::{rewind, Access};
use crate::alert::{Alert, Level};
use crate::event::Origin;
use chrono::{DateTime, Utc};
use foldhash::fast::RandomState;
use foldhash::{HashSet, HashSetExt};
use rayon::slice::ParallelSliceMut;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, BufReader, BufWriter, Read as _, Write};
use std::net::IpAddr;

/// Pairs read into memory by one partition pass, at most about this many (below `MAX_PARTITIONS`
/// parts; the mail records are capped, `--max-mail-records`, and each gives two pairs at most).
const PAIRS_PER_PASS: u64 = 1 << 20;
const MAX_PARTITIONS: u64 = 256;
const CACHE_SLOTS: usize = 1 << 16;

/// Whether a fingerprint names a token or a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Token,
    Session,
}

/// The (fingerprint, mailbox) pairs of the input, parked in a temporary file.
#[derive(Debug, Default)]
pub struct SharedIds {
    keys: RandomState,
    out: Option<BufWriter<File>>,
    pairs: u64,
    recent: Vec<(u64, u32)>,
    /// The first failure of the temporary file; pairs are no longer written after it.
    failure: Option<io::Error>,
}

impl SharedIds {
    /// The fingerprint of a token or session id within a tenant.
    pub fn fingerprint(&self, tenant: u32, kind: Kind, id: &str) -> u64 {
        self.keys.hash_one((tenant, kind, id))
    }

    /// Notes that `fingerprint` read `mailbox`. A failure of the temporary file is kept and
    /// returned by [`SharedIds::flagged`]: only this analysis is lost with it.
    pub fn add(&mut self, fingerprint: u64, mailbox: u32) {
        if self.failure.is_none() {
            if let Err(e) = self.write(fingerprint, mailbox) {
                self.failure = Some(e);
            }
        }
    }

    fn write(&mut self, fingerprint: u64, mailbox: u32) -> io::Result<()> {
        if self.recent.is_empty() {
            self.recent = vec![(0, u32::MAX); CACHE_SLOTS];
        }
        let slot = &mut self.recent[fingerprint as usize % CACHE_SLOTS];
        if *slot == (fingerprint, mailbox) {
            return Ok(());
        }
        *slot = (fingerprint, mailbox);
        let out = match &mut self.out {
            Some(out) => out,
            None => self
                .out
                .insert(BufWriter::with_capacity(1 << 16, tempfile::tempfile()?)),
        };
        out.write_all(&fingerprint.to_le_bytes())?;
        out.write_all(&mailbox.to_le_bytes())?;
        self.pairs += 1;
        Ok(())
    }

    /// The fingerprints that read three or more distinct mailboxes.
    pub fn flagged(&mut self) -> io::Result<HashSet<u64>> {
        self.recent = Vec::new();
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let Some(out) = self.out.take() else {
            return Ok(HashSet::new());
        };
        let file = rewind(out)?;
        let partitions = self.pairs.div_ceil(PAIRS_PER_PASS).clamp(1, MAX_PARTITIONS);
        if partitions == 1 {
            return flag_part(file, self.pairs);
        }
        // One pass splits the pairs by fingerprint; then each part is read on its own.
        let mut parts = Vec::new();
        for _ in 0..partitions {
            parts.push((BufWriter::new(tempfile::tempfile()?), 0u64));
        }
        let mut input = BufReader::with_capacity(1 << 16, file);
        let mut pair = [0u8; PAIR];
        for _ in 0..self.pairs {
            input.read_exact(&mut pair)?;
            let (out, n) = &mut parts[(fingerprint_of(&pair) % partitions) as usize];
            out.write_all(&pair)?;
            *n += 1;
        }
        let mut flagged = HashSet::new();
        for (out, n) in parts {
            flagged.extend(flag_part(rewind(out)?, n)?);
        }
        Ok(flagged)
    }
}

/// Bytes of a (fingerprint, mailbox) pair in the file.
const PAIR: usize = 12;

fn fingerprint_of(pair: &[u8; PAIR]) -> u64 {
    u64::from_le_bytes(pair[..8].try_into().expect("a pair's first eight bytes"))
}

fn mailbox_of(pair: &[u8; PAIR]) -> u32 {
    u32::from_le_bytes(pair[8..].try_into().expect("a pair's last four bytes"))
}

/// The fingerprints with three or more distinct mailboxes among the `pairs` pairs of `file`
/// (about [`PAIRS_PER_PASS`] at most). The pairs are read into memory, 12 bytes
/// each, sorted by fingerprint and mailbox on all cores, and counted in one pass over the runs
/// of each fingerprint. A hash table of the fingerprints, on the detector thread, ran alone at
/// the end of the input (about 4% of a 1M hunt's wall time, perf); two tables, one a core,
/// raised the peak memory over 5M events by up to 45 MB.
fn flag_part(file: File, pairs: u64) -> io::Result<HashSet<u64>> {
    let too_many = || io::Error::other("too many token and session ids for this machine");
    let mut all = vec![[0u8; PAIR]; usize::try_from(pairs).map_err(|_| too_many())?];
    BufReader::new(file).read_exact(all.as_flattened_mut())?;
    all.par_sort_unstable_by_key(|pair| (fingerprint_of(pair), mailbox_of(pair)));
    let mut flagged = HashSet::new();
    for run in all.chunk_by(|a, b| fingerprint_of(a) == fingerprint_of(b)) {
        let changes = run
            .windows(2)
            .filter(|w| mailbox_of(&w[0]) != mailbox_of(&w[1]));
        if 1 + changes.count() >= 3 {
            flagged.insert(fingerprint_of(&run[0]));
        }
    }
    Ok(flagged)
}

/// The earliest read: time, sequence number, origin, address, app.
type FirstRead<'s> = (DateTime<Utc>, u64, Origin, Option<IpAddr>, Option<&'s str>);

/// The reads of one flagged token or session, gathered when the accesses are read back (names
/// borrowed from the interned strings).
#[derive(Default)]
pub struct SharedReads<'s> {
    mailboxes: BTreeSet<&'s str>,
    first: Option<FirstRead<'s>>,
    /// The first record ids listed, with their sequence numbers, in input order.
    ids: Vec<(u64, String)>,
}

impl<'s> SharedReads<'s> {
    /// Adds one read by the token or session (`time` is the access's own).
    pub fn add(&mut self, a: &Access<'s, '_>, time: DateTime<Utc>, max_ids: usize) {
        self.mailboxes.insert(a.mailbox);
        if self.first.as_ref().is_none_or(|f| time < f.0) {
            self.first = Some((time, a.seq, a.origin(), a.ip, a.app));
        }
        if let Some(id) = a.record_id {
            if self.ids.len() < max_ids {
                self.ids.push((a.seq, id.to_string()));
            }
        }
    }

    /// Adds the reads gathered from another part of the input, as if every read had been
    /// added in input order: the earliest read is the earliest in time, then in input order.
    pub fn merge(&mut self, other: SharedReads<'s>, max_ids: usize) {
        self.mailboxes.extend(other.mailboxes);
        if let Some(f) = other.first {
            if self.first.as_ref().is_none_or(|s| (f.0, f.1) < (s.0, s.1)) {
                self.first = Some(f);
            }
        }
        self.ids.extend(other.ids);
        self.ids.sort_unstable_by_key(|(seq, _)| *seq);
        self.ids.truncate(max_ids);
    }
}

/// Detections for the gathered tokens and sessions (tenant, "token …" / "session …") that
/// did read three or more mailboxes.
pub fn shared_tokens(gathered: BTreeMap<(&str, String), SharedReads<'_>>) -> Vec<Alert> {
    let mut out = Vec::new();
    for ((tenant, token), reads) in gathered {
        if reads.mailboxes.len() < 3 {
            continue;
        }
        let Some((time, _, origin, ip, app)) = reads.first else {
            continue;
        };
        out.push(Alert {
            time: Some(time),
            rule: rules::MANY_MAILBOXES.at(Level::Medium),
            tenant: Some(tenant.to_string()),
            user: None,
            ip: ip.map(|i| i.to_string()),
            app_id: app.map(str::to_string),
            event_ids: reads.ids.into_iter().map(|(_, id)| id).collect(),
            source: Some(origin),
            summary: format!("one {token} read {} mailboxes", reads.mailboxes.len()),
            evidence: json!({"shared": token, "mailboxes": reads.mailboxes}),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_exactly_the_ids_with_three_mailboxes() {
        let mut ids = SharedIds::default();
        let (a, b, c) = (
            ids.fingerprint(0, Kind::Token, "a"),
            ids.fingerprint(0, Kind::Token, "b"),
            ids.fingerprint(1, Kind::Token, "a"),
        );
        assert_ne!(a, c, "the tenant is part of the fingerprint");
        assert_ne!(a, ids.fingerprint(0, Kind::Session, "a"));
        for (fp, mailbox) in [
            (a, 1),
            (a, 1),
            (a, 2),
            (b, 1),
            (b, 2),
            (b, 1),
            (c, 5),
            (a, 2),
        ] {
            ids.add(fp, mailbox);
        }
        assert!(ids.flagged().unwrap().is_empty());
        let mut ids2 = SharedIds::default();
        let d = ids2.fingerprint(0, Kind::Token, "d");
        for mailbox in [1, 2, 1, 2, 3, 4] {
            ids2.add(d, mailbox);
        }
        ids2.add(ids2.fingerprint(0, Kind::Token, "e"), 9);
        assert_eq!(ids2.flagged().unwrap(), HashSet::from_iter([d]));
    }

    #[test]
    fn partitions_cover_every_key() {
        let mut ids = SharedIds::default();
        let n = PAIRS_PER_PASS + 10;
        for k in 0..n {
            ids.add(k, 1);
        }
        // Far past one pass's pairs: the last key's three mailboxes are still found, and
        // those of two keys that sort next to each other.
        for mailbox in [2, 3] {
            ids.add(n - 1, mailbox);
            ids.add(3, mailbox);
            ids.add(4, mailbox);
        }
        assert_eq!(ids.flagged().unwrap(), HashSet::from_iter([n - 1, 3, 4]));
    }
}
