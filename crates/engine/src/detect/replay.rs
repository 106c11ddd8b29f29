//! The end of input of the mail analysis: the parked accesses read back and judged.
//!
//! Each part of the spill ([`super::spill`]: a mailbox's accesses all in one part) is read
//! back on a thread of its own into [`Verdicts`], and the parts' verdicts are merged. Names
//! stay borrowed from the interned strings, so the threads share no reference counts (an
//! earlier try that cloned `Arc` names on two threads was slower than one thread). What is
//! grouped by mailbox (the verdict groups, the bulk-read days) lies within one part; what is
//! not (a token's reads across mailboxes, a tenant's first read of a day, the not-applicable
//! counts) is merged by the accesses' sequence numbers, so the verdicts are those of one pass
//! in input order, whatever the number of parts.

use super::baseline::Baseline;
use super::builtin_rules::{self as rules, Builtin};
use super::bulk::{Anomaly, BulkDay, DayKey};
use super::mailbox::MailOptions;
use super::shared::{Kind, SharedIds, SharedReads};
use super::signins::{day, Backing, Probe, SignInIndex};
use super::spill::{Access, Replay, Strings};
use crate::alert::Level;
use crate::event::Origin;
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashSet};
use rayon::prelude::*;
use std::collections::{btree_map, hash_map, BTreeMap, BTreeSet};
use std::io;
use std::net::IpAddr;

/// Accumulates the accesses of one verdict group.
pub(super) struct Group {
    pub rule: &'static Builtin,
    pub level: Level,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub origin: Origin,
    pub ids: Vec<String>,
    pub count: u64,
    pub items: u64,
    pub bind: u64,
    pub sync: u64,
    pub client_infos: BTreeSet<String>,
    pub sessions: BTreeSet<String>,
    pub tokens: BTreeSet<String>,
    pub backing: BTreeSet<&'static str>,
    pub user: Option<String>,
}

/// (rule id, tenant, mailbox, app, address).
pub(super) type GroupKey<'s> = (
    &'static str,
    &'s str,
    &'s str,
    Option<&'s str>,
    Option<IpAddr>,
);

/// The time and origin of a tenant's first mail access of a day, in input order.
pub(super) type FirstOfDay = (DateTime<Utc>, Origin);

/// What the read-back accesses are judged and gathered into.
#[derive(Default)]
pub(super) struct Verdicts<'s> {
    pub groups: BTreeMap<GroupKey<'s>, Group>,
    pub not_applicable: BTreeMap<&'s str, u64>,
    pub bulk: BTreeMap<(&'s str, &'s str, i64), BulkDay<'s>>,
    pub shared: BTreeMap<(&'s str, String), SharedReads<'s>>,
    /// (tenant id, day) → the day's first access in input order (its sequence number, time
    /// and origin).
    pub days: HashMap<(u32, i64), (u64, FirstOfDay)>,
}

impl<'s> Verdicts<'s> {
    /// Adds the verdicts of another part: as one pass over both parts' accesses in input
    /// order would have given them, provided no mailbox is in both.
    fn merge(&mut self, other: Verdicts<'s>, max_ids: usize) {
        for (key, group) in other.groups {
            let clash = self.groups.insert(key, group);
            debug_assert!(clash.is_none(), "a mailbox's groups are in one part");
        }
        for (tenant, n) in other.not_applicable {
            *self.not_applicable.entry(tenant).or_default() += n;
        }
        for (key, day) in other.bulk {
            let clash = self.bulk.insert(key, day);
            debug_assert!(clash.is_none(), "a mailbox's days are in one part");
        }
        for (key, reads) in other.shared {
            match self.shared.entry(key) {
                btree_map::Entry::Vacant(e) => {
                    e.insert(reads);
                }
                btree_map::Entry::Occupied(mut e) => e.get_mut().merge(reads, max_ids),
            }
        }
        for (key, first) in other.days {
            match self.days.entry(key) {
                hash_map::Entry::Vacant(e) => {
                    e.insert(first);
                }
                hash_map::Entry::Occupied(mut e) => {
                    if first.0 < e.get().0 {
                        e.insert(first);
                    }
                }
            }
        }
    }
}

/// What every access is judged against: read-only, shared by the parts' threads.
pub(super) struct Judge<'a> {
    pub options: &'a MailOptions,
    pub baseline: &'a Baseline,
    pub signins: &'a SignInIndex,
    pub shared: &'a SharedIds,
    /// Per tenant id: the end of its learning period.
    pub learn_end: &'a HashMap<u32, DateTime<Utc>>,
    /// Per (tenant id, app id): when the app first read mail in this input.
    pub first_seen: &'a HashMap<(u32, u32), DateTime<Utc>>,
    pub anomalies: &'a HashMap<DayKey, Anomaly>,
    /// Fingerprints of the tokens and sessions that read three or more mailboxes.
    pub flagged: &'a HashSet<u64>,
}

impl Judge<'_> {
    /// Reads every part back, each on a thread of its own, and merges their verdicts.
    pub fn parts<'s>(&self, parts: Vec<Replay>, strings: &'s Strings) -> io::Result<Verdicts<'s>> {
        let judged: Vec<io::Result<Verdicts<'s>>> = parts
            .into_par_iter()
            .map(|part| {
                let mut v = Verdicts::default();
                part.each(strings, |a| self.access(&a, &mut v))?;
                Ok(v)
            })
            .collect();
        let mut all = Verdicts::default();
        for v in judged {
            all.merge(v?, self.options.max_ids);
        }
        Ok(all)
    }

    /// Judges one access and gathers it where it belongs.
    fn access<'s>(&self, a: &Access<'s, '_>, v: &mut Verdicts<'s>) {
        self.verdict(a, v);
        let Some(time) = a.time else { return };
        let day = day(time);
        if let Some(anomaly) = self.anomalies.get(&(a.tenant_id, a.mailbox_id, day)) {
            v.bulk
                .entry((a.tenant, a.mailbox, day))
                .or_insert_with(|| BulkDay::new(anomaly.clone()))
                .add(a, time, self.options.max_ids);
        }
        for (kind, label, id) in [
            (Kind::Token, "token", a.token),
            (Kind::Session, "session", a.session),
        ] {
            let Some(id) = id else { continue };
            if self
                .flagged
                .contains(&self.shared.fingerprint(a.tenant_id, kind, id))
            {
                v.shared
                    .entry((a.tenant, format!("{label} {id}")))
                    .or_default()
                    .add(a, time, self.options.max_ids);
            }
        }
        v.days
            .entry((a.tenant_id, day))
            .or_insert_with(|| (a.seq, (time, a.origin())));
    }

    /// The verdict on one access, added to its group.
    fn verdict<'s>(&self, a: &Access<'s, '_>, v: &mut Verdicts<'s>) {
        // A record without a time is judged on what it has: its session and token ids
        // against the tenant's sign-ins; "new" needs a time, so it is never new.
        let learn_end = self.learn_end.get(&a.tenant_id).copied();
        let known = a.app_id.zip(a.app).is_none_or(|(app_id, app)| {
            self.baseline.knows(a.tenant, app)
                || self
                    .first_seen
                    .get(&(a.tenant_id, app_id))
                    .is_some_and(|f| Some(*f) < learn_end)
        });
        let learning = match a.time {
            Some(time) => learn_end.is_some_and(|end| time < end),
            None => true,
        };
        let new = !known && !learning;
        let applicable = match a.time {
            Some(time) => self.signins.covers(a.tenant, time),
            None => (a.session.is_some() || a.token.is_some()) && self.signins.has_tenant(a.tenant),
        };
        let backing = if applicable {
            let probe = Probe {
                tenant: a.tenant,
                user: a.user,
                ip: a.ip,
                session: a.session,
                token: a.token,
                time: a.time,
            };
            self.signins
                .backing(&probe, self.options.signin_window_secs)
        } else {
            None
        };
        let verdict = match (applicable, backing, new) {
            (true, None, true) => Some((&rules::NEW_CLIENT_NO_SIGNIN, Level::High)),
            (true, None, false) => Some((&rules::NO_SIGNIN, Level::High)),
            (true, Some(_), true) => Some((&rules::NEW_CLIENT, Level::Low)),
            (false, _, true) => Some((&rules::NEW_CLIENT, Level::Medium)),
            (false, _, false) => {
                *v.not_applicable.entry(a.tenant).or_default() += 1;
                None
            }
            (true, Some(_), false) => None,
        };
        if a.throttled {
            self.add(
                &mut v.groups,
                &rules::THROTTLED,
                Level::Informational,
                a,
                None,
            );
        }
        if let Some((rule, level)) = verdict {
            self.add(&mut v.groups, rule, level, a, backing);
        }
    }

    fn add<'s>(
        &self,
        groups: &mut BTreeMap<GroupKey<'s>, Group>,
        rule: &'static Builtin,
        level: Level,
        a: &Access<'s, '_>,
        backing: Option<Backing>,
    ) {
        let key = (rule.id, a.tenant, a.mailbox, a.app, a.ip);
        let g = groups.entry(key).or_insert_with(|| Group {
            rule,
            level,
            first: a.time,
            last: a.time,
            origin: a.origin(),
            ids: Vec::new(),
            count: 0,
            items: 0,
            bind: 0,
            sync: 0,
            client_infos: BTreeSet::new(),
            sessions: BTreeSet::new(),
            tokens: BTreeSet::new(),
            backing: BTreeSet::new(),
            user: a.user.map(str::to_string),
        });
        if a.time < g.first {
            g.first = a.time;
            g.origin = a.origin();
        }
        g.last = g.last.max(a.time);
        g.level = g.level.max(level);
        g.count += 1;
        g.items += u64::from(a.items);
        if a.sync {
            g.sync += 1;
        } else {
            g.bind += 1;
        }
        if let Some(id) = a.record_id {
            if g.ids.len() < self.options.max_ids {
                g.ids.push(id.to_string());
            }
        }
        insert_text(&mut g.client_infos, a.client_info);
        insert_text(&mut g.sessions, a.session);
        insert_text(&mut g.tokens, a.token);
        if let Some(b) = backing {
            g.backing.insert(b.name());
        }
    }
}

/// Adds `text` to `set`, copied only where the set does not hold it yet.
fn insert_text(set: &mut BTreeSet<String>, text: Option<&str>) {
    if let Some(t) = text.filter(|t| !set.contains(*t)) {
        set.insert(t.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::super::mailbox::{MailDetector, MailFields, MailOptions, MailRead, Reading};
    use super::super::Detector;
    use super::*;
    use crate::alert::Alert;
    use crate::event::{CoreFields, Event, LogKind, Position};
    use chrono::Duration;
    use std::sync::Arc;

    const DAY0: i64 = 1_690_000_000 - 1_690_000_000 % 86_400;

    fn at(day: i64, minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(DAY0, 0).unwrap() + Duration::days(day) + Duration::minutes(minute)
    }

    struct Input {
        reads: Vec<MailRead>,
        line: u64,
    }

    impl Input {
        #[allow(clippy::too_many_arguments)]
        fn read(
            &mut self,
            time: DateTime<Utc>,
            mailbox: usize,
            app: &str,
            token: Option<&str>,
            items: u32,
            throttled: bool,
        ) {
            self.line += 1;
            let owner = format!("m{mailbox}@t.example");
            self.reads.push(MailRead {
                core: CoreFields {
                    time: Some(time),
                    tenant: Some("t".into()),
                    user: Some(owner.clone()),
                    ip: Some(IpAddr::from([192, 0, 2, mailbox as u8])),
                    app_id: Some(app.into()),
                    token_id: token.map(str::to_string),
                    session_id: Some(format!("s-{mailbox}")),
                    record_id: Some(format!("r{}", self.line)),
                    operation: Some("MailItemsAccessed".into()),
                    ..CoreFields::default()
                },
                reading: Reading::Access(MailFields {
                    owner: Some(owner),
                    client_info: Some(format!("Client=REST;{app}")),
                    sync: mailbox.is_multiple_of(2),
                    throttled,
                    items,
                }),
                origin: Origin {
                    file: Arc::from("ual.jsonl"),
                    position: Position::Line(self.line),
                },
            });
        }
    }

    /// Six mailboxes over twelve days: a bulk-read day, a client new after the learning
    /// period, a throttled mailbox, a token reading five mailboxes whose earliest reads tie
    /// in time and come late in the input, days without sign-in logs; the input order within
    /// a day differs from the time order.
    fn input() -> Vec<MailRead> {
        let mut input = Input {
            reads: Vec::new(),
            line: 0,
        };
        for day in 0..12 {
            for mailbox in (0..6).rev() {
                let minute = (mailbox as i64 * 7 + day * 3) % 60;
                let items = if (mailbox, day) == (2, 6) { 400 } else { 10 };
                input.read(at(day, minute), mailbox, "app-old", None, items, false);
            }
            if day >= 9 {
                input.read(at(day, 30), 1, "app-new", None, 3, false);
            }
        }
        input.read(at(3, 1), 5, "app-old", None, 1, true);
        for (mailbox, minute) in [(4, 10), (3, 5), (2, 5), (0, 20), (1, 5), (5, 5)] {
            input.read(at(8, minute), mailbox, "app-old", Some("tok"), 1, false);
        }
        input.reads
    }

    fn judged(parts: usize) -> (Vec<Alert>, Vec<String>) {
        let options = MailOptions {
            replay_parts: parts,
            max_ids: 3,
            ..MailOptions::default()
        };
        let mut detector = MailDetector::new(options, Default::default());
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        for day in (0..5).chain(7..12) {
            let signin = Event {
                kind: LogKind::EntraSignIn,
                core: CoreFields {
                    time: Some(at(day, 0)),
                    tenant: Some("t".into()),
                    // Mailbox 1's own sign-in backs its reads of day 10 and 11.
                    user: Some(
                        if day == 10 {
                            "m1@t.example"
                        } else {
                            "x@t.example"
                        }
                        .into(),
                    ),
                    ip: Some(IpAddr::from([192, 0, 2, if day == 10 { 1 } else { 99 }])),
                    ..CoreFields::default()
                },
                record: serde_json::json!({}),
                origin: Origin {
                    file: Arc::from("signins.jsonl"),
                    position: Position::Line(day as u64 + 1),
                },
            };
            detector.observe(&signin, &mut out);
        }
        for read in input() {
            detector.read(&read);
        }
        detector.finish(&mut out, &mut notes);
        (out, notes)
    }

    #[test]
    fn parts_judge_as_one_pass_in_input_order() {
        let (one, notes) = judged(1);
        let rules: BTreeSet<&str> = one.iter().map(|a| a.rule.id.as_str()).collect();
        for rule in [
            rules::BULK_READ.id,
            rules::MANY_MAILBOXES.id,
            rules::NEW_CLIENT.id,
            rules::NEW_CLIENT_NO_SIGNIN.id,
            rules::NO_SIGNIN.id,
            rules::THROTTLED.id,
            rules::SOURCE_GAP.id,
        ] {
            assert!(rules.contains(rule), "{rule} in {rules:?}");
        }
        assert!(notes.iter().any(|n| n.contains("not applicable to")));
        let shared = one
            .iter()
            .find(|a| a.rule.id == rules::MANY_MAILBOXES.id)
            .unwrap();
        // The earliest reads tie at minute 5: the first of them in the input is mailbox 3's.
        assert_eq!(shared.ip.as_deref(), Some("192.0.2.3"));
        assert_eq!(shared.event_ids.len(), 3, "the first three in input order");
        let gap = one
            .iter()
            .find(|a| a.rule.id == rules::SOURCE_GAP.id)
            .unwrap();
        // Day 5 (no sign-in log) is first read by mailbox 5 at 00:50, first in time by
        // mailbox 0 at 00:15: a gap is dated by its first read in input order.
        assert_eq!(gap.time, Some(at(5, 50)));
        for parts in 2..=6 {
            assert_eq!(judged(parts), (one.clone(), notes.clone()), "{parts} parts");
        }
    }
}
