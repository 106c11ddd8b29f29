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
//! collision; by chance one is about n / 2⁶⁴ likely, the one way this join can differ from an
//! exact one); addresses are interned, each user is one key per tenant, and a sign-in by a user
//! is 8 bytes.

use crate::event::{CoreFields, Event, LogKind};
use crate::normalize::lookup::{name, trim, Fields, JsonView};
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashSet};
use std::collections::hash_map::RandomState;
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
    /// Successful sign-ins dated outside 2000–2136, left out of the user-and-address join.
    out_of_range: u64,
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

/// 2000-01-01T00:00:00Z, the zero of a [`stamp`].
const STAMP_EPOCH: i64 = 946_684_800;

/// A sign-in time as 32-bit seconds since 2000-01-01 UTC, or `None` outside 2000–2136 (such a
/// sign-in is not used for the user-and-address join, and counted).
fn stamp(seconds: i64) -> Option<u32> {
    u32::try_from(seconds - STAMP_EPOCH).ok()
}

/// A bound of a join window as a stamp, saturating: every stored stamp is in range, so a
/// saturated bound compares with them exactly as the unsaturated time would.
fn bound(seconds: i64) -> u32 {
    (seconds.saturating_sub(STAMP_EPOCH)).clamp(0, i64::from(u32::MAX)) as u32
}

/// True for a sign-in record that succeeded (Entra `status.errorCode` / `resultType` 0; UAL
/// `UserLoggedIn`). A record that does not say is taken as successful. Exact names, looked up
/// in the normalized record's top-level fields (a whole record's, or a narrow reading's).
pub fn succeeded<F: Fields + ?Sized>(record: &F) -> bool {
    let code = record
        .exact(name!("properties"))
        .and_then(|p| p.get("status")?.get("errorCode"))
        .or_else(|| {
            record
                .exact(name!("status"))
                .and_then(|s| s.get("errorCode"))
        })
        .or_else(|| record.exact(name!("resultType")))
        .or_else(|| record.exact(name!("ResultType")));
    let Some(code) = code else { return true };
    if let Some(n) = code.as_number() {
        return n.as_i64() == Some(0);
    }
    code.as_str().is_none_or(|s| matches!(trim(s), "0" | ""))
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

    /// Successful sign-ins dated outside 2000–2136 (not used for the user-and-address join).
    pub fn out_of_range(&self) -> u64 {
        self.out_of_range
    }

    /// Takes note of a sign-in (Entra sign-in record or UAL `UserLoggedIn`); ignores the rest.
    pub fn observe(&mut self, event: &Event) {
        let is_signin = event.kind == LogKind::EntraSignIn
            || (event.kind == LogKind::Ual
                && event.core.operation.as_deref() == Some("UserLoggedIn"));
        if is_signin {
            let succeeded = super::mail_read::with_record(event, succeeded);
            self.add(event.kind, &event.core, succeeded);
        }
    }

    /// Takes note of a sign-in record of `kind` with core fields `c`.
    pub fn add(&mut self, kind: LogKind, c: &CoreFields, succeeded: bool) {
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
            if kind == LogKind::EntraSignIn {
                t.entra_days.insert(day(time));
            }
        }
        if !succeeded {
            return;
        }
        if self.cap > 0 && self.indexed >= self.cap {
            self.over_cap += 1;
            return;
        }
        self.indexed += 1;
        self.sorted = false;
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
            let Some(time) = stamp(time.timestamp()) else {
                self.out_of_range += 1;
                return;
            };
            let next = self.addresses.len() as u32 + 1;
            let ip =
                c.ip.map_or(0, |ip| *self.addresses.entry(ip).or_insert(next));
            match t.by_user.get_mut(user.as_str()) {
                Some(v) => v.push((time, ip)),
                None => {
                    t.by_user.insert(user.as_str().into(), vec![(time, ip)]);
                }
            }
        }
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
    /// Fast after [`SignInIndex::prepare`]; correct (by linear scans) without it.
    pub fn backing(&self, access: &Probe<'_>, window_secs: i64) -> Option<Backing> {
        let t = self.tenants.get(access.tenant)?;
        let fingerprint = |id: &str| self.keys.hash_one(id);
        if access
            .session
            .is_some_and(|s| t.sessions.contains(&fingerprint(s)))
        {
            return Some(Backing::Session);
        }
        if access.token.is_some_and(|k| match self.sorted {
            true => t.tokens.binary_search(&fingerprint(k)).is_ok(),
            false => t.tokens.contains(&fingerprint(k)),
        }) {
            return Some(Backing::Token);
        }
        let (user, ip, time) = (access.user?, access.ip?, access.time?.timestamp());
        let ip = *self.addresses.get(&ip)?;
        let signins = t.by_user.get(user)?;
        let (from, to) = (
            bound(time.saturating_sub(window_secs)),
            bound(time.saturating_add(300)),
        );
        let within = |(s, sip): &(u32, u32)| (from..=to).contains(s) && *sip == ip;
        let backed = match self.sorted {
            true => {
                let first = signins.partition_point(|(s, _)| *s < from);
                signins[first..]
                    .iter()
                    .take_while(|(s, _)| *s <= to)
                    .any(within)
            }
            false => signins.iter().any(within),
        };
        backed.then_some(Backing::UserAndAddress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CoreFields, Origin, Position};

    fn signin(at: &str, ip: &str, session: &str, token: &str) -> Event {
        Event {
            kind: LogKind::EntraSignIn,
            core: CoreFields {
                time: Some(at.parse().unwrap()),
                tenant: Some("t".into()),
                user: Some("ann@x".into()),
                ip: Some(ip.parse().unwrap()),
                session_id: Some(session.into()),
                token_id: Some(token.into()),
                ..CoreFields::default()
            },
            record: serde_json::json!({}),
            origin: Origin {
                file: "s".into(),
                position: Position::Line(1),
            },
        }
    }

    fn probe<'a>(at: &str, ip: &str, session: &'a str, token: &'a str) -> Probe<'a> {
        Probe {
            tenant: "t",
            user: Some("ann@x"),
            ip: Some(ip.parse().unwrap()),
            session: Some(session),
            token: Some(token),
            time: Some(at.parse().unwrap()),
        }
    }

    #[test]
    fn answers_alike_before_and_after_prepare() {
        let mut index = SignInIndex::default();
        for (at, ip, s, t) in [
            ("2023-06-02T08:00:00Z", "192.0.2.1", "s1", "k1"),
            ("2023-06-01T08:00:00Z", "192.0.2.2", "s2", "k2"),
        ] {
            index.observe(&signin(at, ip, s, t));
        }
        let window = 24 * 3600;
        let probes = [
            (
                probe("2023-06-02T09:00:00Z", "192.0.2.9", "s2", "-"),
                Some(Backing::Session),
            ),
            (
                probe("2023-06-02T09:00:00Z", "192.0.2.9", "-", "k1"),
                Some(Backing::Token),
            ),
            // 5 minutes after the access still counts; 24 h before is the edge.
            (
                probe("2023-06-02T07:55:00Z", "192.0.2.1", "-", "-"),
                Some(Backing::UserAndAddress),
            ),
            (probe("2023-06-02T07:54:59Z", "192.0.2.1", "-", "-"), None),
            (
                probe("2023-06-02T08:00:00Z", "192.0.2.2", "-", "-"),
                Some(Backing::UserAndAddress),
            ),
            (probe("2023-06-02T08:00:01Z", "192.0.2.2", "-", "-"), None),
            (probe("2023-06-02T09:00:00Z", "192.0.2.9", "-", "-"), None),
        ];
        for (p, want) in &probes {
            assert_eq!(index.backing(p, window), *want, "unsorted, {:?}", p.time);
        }
        index.prepare();
        for (p, want) in &probes {
            assert_eq!(index.backing(p, window), *want, "sorted, {:?}", p.time);
        }
    }

    #[test]
    fn signins_outside_the_stamp_range_are_counted_not_clamped() {
        let mut index = SignInIndex::default();
        index.observe(&signin("1970-01-01T00:00:00Z", "192.0.2.1", "s", "k"));
        index.prepare();
        assert_eq!(index.out_of_range(), 1);
        // Clamped to 2000-01-01, it would have backed this access a day later.
        let p = probe("2000-01-01T01:00:00Z", "192.0.2.1", "-", "-");
        assert_eq!(index.backing(&p, 24 * 3600), None);
        // Its session and token are still known.
        let p = probe("2000-01-01T01:00:00Z", "192.0.2.1", "s", "-");
        assert_eq!(index.backing(&p, 24 * 3600), Some(Backing::Session));
    }
}
