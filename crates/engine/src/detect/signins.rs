//! What the identity provider issued: sessions, tokens and successful sign-ins per tenant.
//!
//! A forged token is never issued by Entra, so mail access made with one has no sign-in behind
//! it: no matching session id, no matching unique token id, and no sign-in by that user from
//! that address shortly before. This index answers "is there a sign-in behind this access?"
//! and "are sign-in logs present for this tenant at that time at all?" (without them the
//! question cannot be answered, and the detector must say so rather than pass).
//!
//! Compact by design, because it holds every successful sign-in of the input (millions in a
//! month of a large tenant): session and token ids are kept as 64-bit fingerprints under a key
//! drawn at random for each run (an attacker who chooses a forged token's id cannot aim at a
//! collision; by chance one is about n / 2⁶⁴ likely); users and addresses
//! are interned, and a sign-in by a user is 8 bytes.

use crate::event::{Event, LogKind};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::net::IpAddr;

/// Successful sign-ins of one tenant.
#[derive(Debug, Default)]
pub struct TenantSignIns {
    /// Fingerprints of session ids (a session has many sign-ins: a set).
    sessions: HashSet<u64>,
    /// Fingerprints of unique token ids (one sign-in each: sorted by [`SignInIndex::prepare`]).
    tokens: Vec<u64>,
    /// user → (time, address id) of successful sign-ins; the time in [`stamp`] seconds.
    by_user: HashMap<Box<str>, Vec<(u32, u32)>>,
    /// Days (Unix day numbers) with any sign-in record, successful or not.
    days: HashSet<i64>,
    /// Days with Entra sign-in log records (not counting UAL `UserLoggedIn`).
    entra_days: HashSet<i64>,
    /// Apps users signed in to (app id, lowercased).
    apps: HashSet<String>,
}

/// Sign-ins of every tenant in the input.
#[derive(Debug, Default)]
pub struct SignInIndex {
    tenants: HashMap<String, TenantSignIns>,
    /// At most this many successful sign-ins are indexed (0: no cap).
    cap: u64,
    indexed: u64,
    /// Successful sign-ins past the cap, not indexed.
    over_cap: u64,
    /// Interned addresses; id 0 is "no address".
    addresses: HashMap<IpAddr, u32>,
    keys: RandomState,
    sorted: bool,
}

/// What [`SignInIndex::backing`] needs to know of an access.
pub struct Probe<'a> {
    pub tenant: &'a str,
    pub user: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub session: Option<&'a str>,
    pub token: Option<&'a str>,
    pub time: Option<DateTime<Utc>>,
}

/// How an access is backed by a sign-in, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    Session,
    Token,
    UserAndAddress,
}

impl Backing {
    pub fn name(self) -> &'static str {
        match self {
            Backing::Session => "session id of an Entra sign-in",
            Backing::Token => "unique token id of an Entra sign-in",
            Backing::UserAndAddress => "sign-in by the same user from the same address",
        }
    }
}

/// The UTC day number of a time (days since the Unix epoch).
pub(crate) fn day(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400)
}

/// A time as 32-bit seconds since 2000-01-01 UTC (through 2136), saturating outside: the
/// sign-in join compares these, and order is kept (times before 2000 all compare equal).
fn stamp(seconds: i64) -> u32 {
    (seconds - 946_684_800).clamp(0, i64::from(u32::MAX)) as u32
}

/// True for a sign-in that succeeded (Entra `status.errorCode` / `resultType` 0; UAL
/// `UserLoggedIn`). A record that does not say is taken as successful.
fn succeeded(event: &Event) -> bool {
    let r = &event.record;
    let code = r
        .pointer("/properties/status/errorCode")
        .or_else(|| r.pointer("/status/errorCode"))
        .or_else(|| r.get("resultType"))
        .or_else(|| r.get("ResultType"));
    match code {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s.trim() == "0" || s.trim().is_empty(),
        Some(_) => true,
    }
}

impl SignInIndex {
    /// An index that holds at most `cap` successful sign-ins (about 20 bytes each).
    pub fn with_cap(cap: u64) -> Self {
        SignInIndex {
            cap,
            ..SignInIndex::default()
        }
    }

    /// Successful sign-ins seen past the cap (not indexed), and the cap.
    pub fn over_cap(&self) -> (u64, u64) {
        (self.over_cap, self.cap)
    }

    /// Takes note of a sign-in (Entra sign-in record or UAL `UserLoggedIn`); ignores the rest.
    pub fn observe(&mut self, event: &Event) {
        let c = &event.core;
        let is_signin = event.kind == LogKind::EntraSignIn
            || (event.kind == LogKind::Ual && c.operation.as_deref() == Some("UserLoggedIn"));
        if !is_signin {
            return;
        }
        let Some(tenant) = &c.tenant else { return };
        if !self.tenants.contains_key(tenant) {
            self.tenants
                .insert(tenant.clone(), TenantSignIns::default());
        }
        let Some(t) = self.tenants.get_mut(tenant) else {
            return;
        };
        if let Some(time) = c.time {
            t.days.insert(day(time));
            if event.kind == LogKind::EntraSignIn {
                t.entra_days.insert(day(time));
            }
        }
        if !succeeded(event) {
            return;
        }
        if self.cap > 0 && self.indexed >= self.cap {
            self.over_cap += 1;
            return;
        }
        self.indexed += 1;
        if let Some(s) = &c.session_id {
            t.sessions.insert(self.keys.hash_one(s.as_str()));
        }
        if let Some(tok) = &c.token_id {
            t.tokens.push(self.keys.hash_one(tok.as_str()));
        }
        if let Some(app) = &c.app_id {
            if !t.apps.contains(app) {
                t.apps.insert(app.clone());
            }
        }
        if let (Some(user), Some(time)) = (&c.user, c.time) {
            let next = self.addresses.len() as u32 + 1;
            let ip =
                c.ip.map_or(0, |ip| *self.addresses.entry(ip).or_insert(next));
            match t.by_user.get_mut(user.as_str()) {
                Some(v) => v.push((stamp(time.timestamp()), ip)),
                None => {
                    let first = vec![(stamp(time.timestamp()), ip)];
                    t.by_user.insert(user.as_str().into(), first);
                }
            }
        }
        self.sorted = false;
    }

    /// Sorts what was gathered; [`SignInIndex::backing`] needs it after the last `observe`.
    pub fn prepare(&mut self) {
        if !self.sorted {
            for t in self.tenants.values_mut() {
                t.tokens.sort_unstable();
                t.tokens.dedup();
                t.tokens.shrink_to_fit();
                for v in t.by_user.values_mut() {
                    v.sort_unstable();
                }
            }
            self.sorted = true;
        }
    }

    /// Whether sign-in logs of `tenant` cover the day of `time` (or the day before).
    pub fn covers(&self, tenant: &str, time: DateTime<Utc>) -> bool {
        self.tenants
            .get(tenant)
            .is_some_and(|t| t.days.contains(&day(time)) || t.days.contains(&(day(time) - 1)))
    }

    /// Whether the tenant's Entra sign-in log is present at all, and on the day of `time`.
    pub fn entra_log(&self, tenant: &str, time: DateTime<Utc>) -> (bool, bool) {
        match self.tenants.get(tenant) {
            Some(t) if !t.entra_days.is_empty() => (true, t.entra_days.contains(&day(time))),
            _ => (false, false),
        }
    }

    /// Whether the tenant has any sign-in records at all.
    pub fn has_tenant(&self, tenant: &str) -> bool {
        self.tenants.contains_key(tenant)
    }

    /// Whether users of `tenant` signed in to `app`.
    pub fn app_signed_in(&self, tenant: &str, app: &str) -> bool {
        self.tenants
            .get(tenant)
            .is_some_and(|t| t.apps.contains(app))
    }

    /// The sign-in behind an access, if any: its session, its token, or a sign-in by the user
    /// from the same address within `window_secs` before it (or 5 minutes after: clocks and
    /// aggregation differ between the two logs).
    /// Call [`SignInIndex::prepare`] first.
    pub fn backing(&self, access: &Probe<'_>, window_secs: i64) -> Option<Backing> {
        debug_assert!(self.sorted, "SignInIndex::prepare was not called");
        let t = self.tenants.get(access.tenant)?;
        let fingerprint = |id: &str| self.keys.hash_one(id);
        if access
            .session
            .is_some_and(|s| t.sessions.contains(&fingerprint(s)))
        {
            return Some(Backing::Session);
        }
        if access
            .token
            .is_some_and(|k| t.tokens.binary_search(&fingerprint(k)).is_ok())
        {
            return Some(Backing::Token);
        }
        let (user, ip, time) = (access.user?, access.ip?, access.time?.timestamp());
        let ip = *self.addresses.get(&ip)?;
        let signins = t.by_user.get(user)?;
        let (from, to) = (stamp(time - window_secs), stamp(time + 300));
        let from = signins.partition_point(|(s, _)| *s < from);
        signins[from..]
            .iter()
            .take_while(|(s, _)| *s <= to)
            .any(|(_, sip)| *sip == ip)
            .then_some(Backing::UserAndAddress)
    }
}
