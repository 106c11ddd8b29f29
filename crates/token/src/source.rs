//! Where keys come from: JWKS files or URLs, OpenID discovery documents, PEM files — and a
//! [`KeyStore`] that keeps the current set, refreshes it, and never loses it.
//!
//! Network access is behind the [`Fetcher`] trait so the verifier core stays I/O-free and
//! tests can inject a fake; the `https` feature provides [`HttpsFetcher`] (ureq + rustls).
//! URLs must be `https://` (plain `http://` only to loopback, for tests). Only configured URLs
//! are ever fetched — never a token's `jku`/`x5u`. A refresh that fails keeps the last good
//! keys of that source and reports the error; an unknown `kid` triggers a refresh at most once
//! per `min_refresh_interval`, so a flood of forged kids cannot turn into a flood of fetches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::key::{parse_discovery, KeySet};
use crate::verify::{verify, Options};
use crate::{Error, Reason, Verdict};

/// Largest key-set document accepted, in bytes.
pub const MAX_DOCUMENT: u64 = 1 << 20;

/// One configured origin of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS document: a file path or an `https://` URL.
    Jwks(String),
    /// An OpenID Connect discovery document (file or URL); its `jwks_uri` is fetched and its
    /// `issuer` is given to every key that has none.
    Discovery(String),
    /// A PEM file with public keys or certificates.
    Pem(String),
}

impl KeySource {
    fn location(&self) -> &str {
        match self {
            KeySource::Jwks(s) | KeySource::Discovery(s) | KeySource::Pem(s) => s,
        }
    }
}

/// Fetches a URL's body. Implementations must enforce a size limit and timeouts.
pub trait Fetcher: Send + Sync {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// Is this location a URL (as opposed to a file path)?
pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// Only `https://`, or `http://` to a loopback host.
pub fn check_url(url: &str) -> Result<(), Error> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let loopback =
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
        if loopback {
            return Ok(());
        }
    }
    Err(Error::Config(format!(
        "{url}: key sets are fetched over https:// only"
    )))
}

fn read(location: &str, fetcher: Option<&dyn Fetcher>) -> Result<Vec<u8>, Error> {
    if is_url(location) {
        check_url(location)?;
        let f = fetcher.ok_or_else(|| {
            Error::Config(format!(
                "{location}: fetching URLs is not enabled in this build"
            ))
        })?;
        f.fetch(location).map_err(|detail| Error::Fetch {
            url: location.to_owned(),
            detail,
        })
    } else {
        std::fs::read(location).map_err(|source| Error::Io {
            path: location.to_owned(),
            source,
        })
    }
}

/// Load one source.
pub fn load_source(src: &KeySource, fetcher: Option<&dyn Fetcher>) -> Result<KeySet, Error> {
    let with_origin = |e: Error, origin: &str| match e {
        Error::KeySet(d) => Error::KeySet(format!("{origin}: {d}")),
        other => other,
    };
    match src {
        KeySource::Jwks(loc) => {
            KeySet::from_jwks(&read(loc, fetcher)?).map_err(|e| with_origin(e, loc))
        }
        KeySource::Pem(loc) => {
            KeySet::from_pem(&read(loc, fetcher)?).map_err(|e| with_origin(e, loc))
        }
        KeySource::Discovery(loc) => {
            let (issuer, jwks_uri) =
                parse_discovery(&read(loc, fetcher)?).map_err(|e| with_origin(e, loc))?;
            let mut set = KeySet::from_jwks(&read(&jwks_uri, fetcher)?)
                .map_err(|e| with_origin(e, &jwks_uri))?;
            set.default_issuer(&issuer);
            Ok(set)
        }
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// True when the key set changed (cached verdicts were invalidated).
    pub changed: bool,
    /// Sources that failed (their last good keys were kept).
    pub errors: Vec<String>,
    /// Keys skipped while loading.
    pub warnings: Vec<String>,
}

struct State {
    per_source: Vec<KeySet>,
    merged: Arc<KeySet>,
    generation: u64,
}

/// The live key set: initial load, refresh, rate-limited refresh on unknown kid.
pub struct KeyStore {
    sources: Vec<KeySource>,
    fetcher: Option<Box<dyn Fetcher>>,
    state: RwLock<State>,
    last_refresh: Mutex<Instant>,
    min_refresh_interval: Duration,
    refresh_failures: AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

fn merge(parts: &[KeySet]) -> KeySet {
    let mut all = KeySet::default();
    for p in parts {
        all.extend(p.clone());
    }
    all
}

impl KeyStore {
    /// Load every source; any failure here is a configuration error. A store with no usable
    /// key at all is refused too.
    pub fn load(
        sources: Vec<KeySource>,
        fetcher: Option<Box<dyn Fetcher>>,
        min_refresh_interval: Duration,
    ) -> Result<(Self, Vec<String>), Error> {
        if sources.is_empty() {
            return Err(Error::Config(String::from("no key source configured")));
        }
        let mut per_source = Vec::new();
        for s in &sources {
            per_source.push(load_source(s, fetcher.as_deref())?);
        }
        let merged = merge(&per_source);
        if merged.keys.is_empty() {
            return Err(Error::KeySet(format!(
                "no usable key in {:?}: {}",
                sources,
                merged.warnings.join("; ")
            )));
        }
        let warnings = merged.warnings.clone();
        let store = KeyStore {
            sources,
            fetcher,
            state: RwLock::new(State {
                per_source,
                merged: Arc::new(merged),
                generation: 1,
            }),
            last_refresh: Mutex::new(Instant::now()),
            min_refresh_interval,
            refresh_failures: AtomicU64::new(0),
        };
        Ok((store, warnings))
    }

    /// An in-memory store over a fixed set (no refresh source).
    pub fn fixed(keys: KeySet) -> Self {
        KeyStore {
            sources: Vec::new(),
            fetcher: None,
            state: RwLock::new(State {
                per_source: vec![keys.clone()],
                merged: Arc::new(keys),
                generation: 1,
            }),
            last_refresh: Mutex::new(Instant::now()),
            min_refresh_interval: Duration::MAX,
            refresh_failures: AtomicU64::new(0),
        }
    }

    /// The current keys and their generation (bumped on every change).
    pub fn current(&self) -> (Arc<KeySet>, u64) {
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        (Arc::clone(&s.merged), s.generation)
    }

    /// How many source loads have failed since start.
    pub fn refresh_failures(&self) -> u64 {
        self.refresh_failures.load(Ordering::Relaxed)
    }

    /// Reload every source now; a failing source keeps its last good keys.
    pub fn refresh(&self) -> RefreshOutcome {
        if let Ok(mut t) = self.last_refresh.lock() {
            *t = Instant::now();
        }
        let mut out = RefreshOutcome::default();
        let mut fresh = Vec::new();
        for s in &self.sources {
            match load_source(s, self.fetcher.as_deref()) {
                Ok(set) if set.keys.is_empty() => {
                    self.refresh_failures.fetch_add(1, Ordering::Relaxed);
                    out.errors.push(format!(
                        "{}: no usable key; keeping the last good set",
                        s.location()
                    ));
                    fresh.push(None);
                }
                Ok(set) => {
                    out.warnings.extend(set.warnings.iter().cloned());
                    fresh.push(Some(set));
                }
                Err(e) => {
                    self.refresh_failures.fetch_add(1, Ordering::Relaxed);
                    out.errors.push(format!("{e}; keeping the last good set"));
                    fresh.push(None);
                }
            }
        }
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (slot, new) in st.per_source.iter_mut().zip(fresh) {
            if let Some(new) = new {
                if *slot != new {
                    *slot = new;
                    out.changed = true;
                }
            }
        }
        if out.changed {
            st.merged = Arc::new(merge(&st.per_source));
            st.generation += 1;
        }
        out
    }

    /// Refresh if the last one is older than the minimum interval.
    pub fn refresh_if_allowed(&self) -> Option<RefreshOutcome> {
        if self.sources.is_empty() {
            return None;
        }
        {
            let mut last = self.last_refresh.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() < self.min_refresh_interval {
                return None;
            }
            *last = Instant::now();
        }
        Some(self.refresh())
    }

    /// Verify; on `unknown_key`, refresh (rate-limited) and verify once more.
    pub fn verify(
        &self,
        token: &[u8],
        opts: &Options,
        now: i64,
    ) -> (Verdict, Option<RefreshOutcome>) {
        let (keys, _) = self.current();
        let v = verify(token, &keys, opts, now);
        if v.reason != Reason::UnknownKey {
            return (v, None);
        }
        match self.refresh_if_allowed() {
            Some(outcome) if outcome.changed => {
                let (keys, _) = self.current();
                (verify(token, &keys, opts, now), Some(outcome))
            }
            other => (v, other),
        }
    }
}

/// Fetches key sets over HTTPS with ureq and rustls: 10 s timeout, 1 MiB body limit, at most
/// 3 redirects, HTTP errors are errors.
#[cfg(feature = "https")]
pub struct HttpsFetcher {
    agent: ureq::Agent,
}

#[cfg(feature = "https")]
impl Default for HttpsFetcher {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .max_redirects(3)
            .build();
        HttpsFetcher {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

#[cfg(feature = "https")]
impl Fetcher for HttpsFetcher {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut resp = self.agent.get(url).call().map_err(|e| e.to_string())?;
        resp.body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| e.to_string())
    }
}
