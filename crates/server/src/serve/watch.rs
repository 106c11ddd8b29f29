//! Watched directories: export files dropped into a directory are ingested, each exactly once,
//! also across restarts.
//!
//! Every `watch_interval_ms` each `[[watch]]` directory is listed (one level; hidden files and
//! names ending `.tmp` or `.part` are passed over — write there, then rename). A file is read
//! only once it is **stable**: the same size and modification time as at the previous look, so a
//! file still being written is not read half-way. Its bytes go through the same path as
//! `POST /api/v1/ingest` (every layout and compression `hunt` reads; all or nothing; tenant
//! rules of an operator key, or of a tenant key when the watch names a `tenant`), with the
//! idempotency key `file:<SHA-256 of the content>`. The store keeps that key in the same
//! transaction as the file's events, so a file is taken exactly once — renamed, copied again or
//! seen again after a restart, the same content is recognised and skipped. A refused file
//! (malformed records, a record of another tenant, over `watch_max_file_bytes`) is reported
//! once on stderr with the reason and left alone until it changes.

use super::api::Principal;
use super::ingest::{ingest, IngestError};
use super::State;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::SystemTime;
use stormwatch_store::Role;

/// One `[[watch]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    pub dir: PathBuf,
    /// Records without a tenant are this tenant's; records of other tenants refuse the file.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// What was last seen of a file: size and modification time, and whether it is settled
/// (taken, or refused and reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
    settled: bool,
}

/// What one look at the directories did, per file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken: this many records.
    Taken(PathBuf, usize),
    /// Seen before (same content): nothing added.
    Duplicate(PathBuf),
    /// Refused, with the reason.
    Refused(PathBuf, String),
}

/// The watcher's memory between looks (not persisted: the store's idempotency keys are what
/// make "exactly once" hold across restarts).
#[derive(Debug, Default)]
pub struct Watcher {
    seen: Mutex<HashMap<PathBuf, Seen>>,
}

fn candidate(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".tmp")
        && !name.ends_with(".part")
}

/// The SHA-256 of `bytes`, hex.
fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Watcher {
    /// One look at every watched directory; stable, unsettled files are ingested.
    pub fn look(&self, state: &State) -> Vec<Outcome> {
        let mut out = Vec::new();
        for w in &state.config.watch {
            let entries = match std::fs::read_dir(&w.dir) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(dir = %w.dir.display(), error = %e, "watch");
                    continue;
                }
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                // Regular files only: a link could bring in any file the service may read.
                .filter(|p| {
                    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
                        && candidate(p)
                })
                .collect();
            files.sort();
            for path in files {
                if let Some(o) = self.consider(state, w, &path) {
                    out.push(o);
                }
            }
        }
        out
    }

    fn consider(&self, state: &State, w: &WatchConfig, path: &Path) -> Option<Outcome> {
        let meta = std::fs::metadata(path).ok()?;
        let now = Seen {
            len: meta.len(),
            modified: meta.modified().ok(),
            settled: false,
        };
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let before = seen.insert(path.to_path_buf(), now);
            match before {
                // Unchanged and settled: nothing to do. Unchanged and not settled: stable now.
                Some(b) if b.len == now.len && b.modified == now.modified => {
                    if b.settled {
                        seen.insert(path.to_path_buf(), b);
                        return None;
                    }
                }
                // New or changed: look again next time.
                _ => return None,
            }
        }
        let (outcome, settled) = self.take(state, w, path, now.len);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(path.to_path_buf(), Seen { settled, ..now });
        Some(outcome)
    }

    /// Reads and ingests one file; whether the outcome is final for this content (a store or
    /// read failure is not: the file is tried again at the next look).
    fn take(&self, state: &State, w: &WatchConfig, path: &Path, len: u64) -> (Outcome, bool) {
        let p = path.to_path_buf();
        let max = state.config.watch_max_file_bytes;
        if len > max {
            let why = format!("{len} bytes, over watch_max_file_bytes ({max})");
            return (Outcome::Refused(p, why), true);
        }
        let mut bytes = Vec::new();
        let read = std::fs::File::open(path).and_then(|f| {
            std::io::Read::read_to_end(&mut std::io::Read::take(f, max + 1), &mut bytes)
        });
        if let Err(e) = read {
            let why = format!("{e} (tried again at the next look)");
            return (Outcome::Refused(p, why), false);
        }
        if bytes.len() as u64 > max {
            let why = format!("grew past watch_max_file_bytes ({max})");
            return (Outcome::Refused(p, why), true);
        }
        let key = format!("file:{}", sha256(&bytes));
        let role = if w.tenant.is_some() {
            Role::TenantAdmin
        } else {
            Role::Operator
        };
        let name = format!("watched directory {}", w.dir.display());
        let who = Principal::acting_as("watch".into(), name, role, w.tenant.clone());
        match ingest(state, &who, bytes.into(), Some(&key)) {
            Ok(v) if v.get("duplicate").is_some() => (Outcome::Duplicate(p), true),
            Ok(v) => {
                let n = v["accepted"].as_u64().unwrap_or(0) as usize;
                (Outcome::Taken(p, n), true)
            }
            Err(IngestError::Malformed { rejected, count }) => {
                // The reader names the body "body"; here it is the file.
                let first = rejected.first().map_or(String::new(), |r| {
                    r.replacen("body", &path.display().to_string(), 1)
                });
                let why = format!("{count} malformed record(s), first: {first}");
                (Outcome::Refused(p, why), true)
            }
            Err(IngestError::Store(e)) => {
                let why = format!("store: {e} (tried again at the next look)");
                (Outcome::Refused(p, why), false)
            }
            Err(e) => (Outcome::Refused(p, e.to_string()), true),
        }
    }
}

impl State {
    /// One look at the watched directories, logged to stderr.
    pub fn watch_now(&self) {
        for o in self.watcher.look(self) {
            let m = &self.metrics;
            match o {
                Outcome::Taken(p, n) => {
                    m.watch_taken.fetch_add(1, Relaxed);
                    tracing::info!(path = %p.display(), records = n, "watch took")
                }
                Outcome::Duplicate(p) => tracing::info!(
                    path = %p.display(),
                    "watch: taken before (same content); skipped"
                ),
                Outcome::Refused(p, why) => {
                    m.watch_refused.fetch_add(1, Relaxed);
                    tracing::warn!(
                        path = %p.display(),
                        reason = %why,
                        "watch refused the file; fix or replace it"
                    )
                }
            }
        }
    }
}
