//! Mail access analysis: new mail clients, mail access without sign-in, throttling gaps.
//!
//! The Storm-0558 catch, automated. Every `MailItemsAccessed` record is parked in a compact
//! binary form in a temporary file (`spill/`: memory does not grow with the input), with
//! small per-tenant, per-app and per-mailbox-day sums kept in memory; at the end of input each
//! is read back (`replay.rs`: in parts by mailbox, on all cores) and judged against two things:
//! * **the tenant's mail-client baseline** — the app ids that read mail in the tenant's first
//!   `learn_days` days of data, plus any persisted baseline (`--baseline`). A client outside it
//!   is *new*. A first-party id is not benign by itself: Storm-0558 read mail through OWA.
//! * **the sign-in behind the access** ([`SignInIndex`]) — a matching session id, unique token
//!   id, or a sign-in by the user from the same address within `signin_window`. Only where the
//!   tenant's sign-in logs cover that day; otherwise the check is *not applicable*, counted and
//!   reported in a note, never passed silently.
//!
//! Verdicts, grouped per (rule, tenant, mailbox, app, address) so an analyst sees one line per
//! actor and mailbox with every record id: no sign-in → high (and "new client" in the title
//! when it is new too); new client with a sign-in → low (a consented rollout looks like this);
//! new client where sign-ins cannot be checked → medium.

use super::baseline::Baseline;
use super::builtin_rules as rules;
use super::bulk::DailyItems;
use super::mail_read::with_record;
pub use super::mail_read::{MailFields, MailRead, Reading};
use super::replay::{FirstOfDay, Group, Judge, Verdicts};
use super::shared::{Kind, SharedIds};
use super::signins::SignInIndex;
use super::spill::{Row, Spill, Strings};
use super::Detector;
use crate::alert::{Alert, Level};
use crate::event::{format_time, CoreFields, Event, LogKind, Origin};
use chrono::{DateTime, Duration, Utc};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

/// Tuning of the mail detectors.
#[derive(Debug, Clone)]
pub struct MailOptions {
    /// Days at the start of each tenant's data that form its mail-client baseline.
    pub learn_days: i64,
    /// How long before an access a sign-in by the same user and address still backs it.
    pub signin_window_secs: i64,
    /// At most this many record ids listed per detection (the count is always complete).
    pub max_ids: usize,
    /// Disk cap: at most this many `MailItemsAccessed` records are parked for analysis (about
    /// 85 bytes each in temporary files; 10 million ≈ 0.85 GB). Later ones are counted, not
    /// analysed, and a note says so (docs/performance.md).
    pub max_accesses: usize,
    /// Memory cap: at most this many successful sign-ins are indexed for the sign-in join
    /// (about 20 bytes each; 20 million ≈ 400 MB). Past it, accesses only a later sign-in
    /// would back are reported as without sign-in, and a note says so.
    pub max_signins: u64,
    /// The parked accesses are spread over this many parts by mailbox, and at the end of input
    /// the parts are read back and judged each on a thread of its own (default: the threads of
    /// the rayon pool). The detections do not depend on it.
    pub replay_parts: usize,
}

impl Default for MailOptions {
    fn default() -> Self {
        MailOptions {
            learn_days: 7,
            signin_window_secs: 24 * 3600,
            max_ids: 1000,
            max_accesses: 10_000_000,
            max_signins: 20_000_000,
            replay_parts: rayon::current_num_threads(),
        }
    }
}

/// The mail-access detector.
pub struct MailDetector {
    options: MailOptions,
    signins: SignInIndex,
    strings: Strings,
    /// Every `MailItemsAccessed` record, parked until the end.
    spill: Spill,
    /// The last record's file name and its id.
    last_file: Option<(Arc<str>, u32)>,
    /// tenant id → its first mail access (the learning period starts there).
    tenant_first: HashMap<u32, DateTime<Utc>>,
    /// (tenant id, app id) → first and last mail access by the app.
    app_seen: HashMap<(u32, u32), (DateTime<Utc>, DateTime<Utc>)>,
    daily: DailyItems,
    shared: SharedIds,
    /// tenant → app ids an admin consented to (Entra audit).
    consents: HashMap<String, HashSet<String>>,
    baseline: Baseline,
    /// tenant → mail clients learned from this input's first days (filled at the end).
    learned: HashMap<Arc<str>, BTreeSet<String>>,
    /// `MailItemsAccessed` records past `max_accesses`, not analysed.
    over_cap: u64,
    /// The first failure of the temporary files, and the records it cost.
    failure: Option<(String, u64)>,
}

/// App ids an Entra audit record consents to or adds (consent, service principal, grants).
fn consented_apps(event: &Event) -> Vec<String> {
    let op = event
        .core
        .operation
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let relevant = op.contains("consent to application")
        || op.contains("add service principal")
        || op.contains("add delegated permission grant")
        || op.contains("add app role assignment");
    if !relevant {
        return Vec::new();
    }
    let targets = event
        .record
        .pointer("/properties/targetResources")
        .or_else(|| event.record.get("targetResources"))
        .or_else(|| event.record.get("TargetResources"))
        .and_then(Value::as_array);
    targets
        .into_iter()
        .flatten()
        .filter_map(|t| {
            t.get("id")
                .or_else(|| t.get("appId"))
                .and_then(Value::as_str)
        })
        .map(str::to_ascii_lowercase)
        .collect()
}

impl MailDetector {
    pub fn new(options: MailOptions, baseline: Baseline) -> Self {
        MailDetector {
            signins: SignInIndex::with_cap(options.max_signins),
            spill: Spill::with_parts(options.replay_parts),
            last_file: None,
            options,
            strings: Strings::default(),
            tenant_first: HashMap::new(),
            app_seen: HashMap::new(),
            daily: DailyItems::default(),
            shared: SharedIds::default(),
            consents: HashMap::new(),
            baseline,
            learned: HashMap::new(),
            over_cap: 0,
            failure: None,
        }
    }

    /// Sees one `MailItemsAccessed` or `UserLoggedIn` record read narrowly (what
    /// [`Detector::observe`] does with the whole event).
    pub fn read(&mut self, read: &MailRead) {
        match &read.reading {
            Reading::Access(fields) => self.take(&read.core, fields, &read.origin),
            Reading::SignIn { succeeded } => self.signins.add(LogKind::Ual, &read.core, *succeeded),
        }
    }

    /// The baseline after this run: what was loaded plus every client seen now.
    pub fn updated_baseline(&self) -> Baseline {
        let mut b = self.baseline.clone();
        for ((tenant, app), (first, last)) in &self.app_seen {
            let (tenant, app) = (self.strings.name(*tenant), self.strings.name(*app));
            b.add(tenant, app, *first);
            b.add(tenant, app, *last);
        }
        b
    }
}

impl Detector for MailDetector {
    fn name(&self) -> &str {
        "mail"
    }

    fn observe(&mut self, event: &Event, _out: &mut Vec<Alert>) {
        self.signins.observe(event);
        if event.kind == LogKind::EntraAudit {
            if let Some(t) = &event.core.tenant {
                for app in consented_apps(event) {
                    self.consents.entry(t.clone()).or_default().insert(app);
                }
            }
            return;
        }
        let c = &event.core;
        if event.kind != LogKind::Ual || c.operation.as_deref() != Some("MailItemsAccessed") {
            return;
        }
        self.take(c, &with_record(event, MailFields::of), &event.origin);
    }

    fn finish(&mut self, out: &mut Vec<Alert>, notes: &mut Vec<String>) {
        if self.over_cap > 0 {
            notes.push(format!(
                "mail detectors: cap reached: {} MailItemsAccessed records after the first {} \
                 were not analysed (raise --max-mail-records, or hunt each tenant's logs \
                 separately)",
                self.over_cap, self.options.max_accesses
            ));
        }
        let outside = self.signins.out_of_range();
        if outside > 0 {
            notes.push(format!(
                "mail detectors: {outside} successful sign-ins dated outside 2000–2136 were not \
                 used to match mail reads by user and address (session and token ids were)"
            ));
        }
        let (over, cap) = self.signins.over_cap();
        if over > 0 {
            notes.push(format!(
                "mail detectors: cap reached: {over} successful sign-ins after the first {cap} \
                 were not indexed, so mail reads they back may be reported as without sign-in \
                 (raise --max-signins, or hunt each tenant's logs separately)"
            ));
        }
        if self.spill.rows() == 0 && self.failure.is_none() {
            notes.push(
                "mail detectors: no MailItemsAccessed records in the input; nothing to judge"
                    .into(),
            );
            return;
        }
        if let Err(e) = self.judge(out, notes) {
            let rows = self.spill.rows();
            match &mut self.failure {
                Some((_, lost)) => *lost += rows,
                None => self.failure = Some((e.to_string(), rows)),
            }
        }
        if let Some((e, lost)) = &self.failure {
            notes.push(format!(
                "mail detectors: the temporary file under {} failed ({e}): {lost} \
                 MailItemsAccessed records were not analysed",
                std::env::temp_dir().display()
            ));
        }
    }
}

/// `s` lower-cased, copied only where that changes it (owner addresses mostly come lower-case).
fn lowercase(s: &str) -> Cow<'_, str> {
    if !s.is_ascii() {
        Cow::Owned(s.to_lowercase())
    } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

impl MailDetector {
    /// Parks one `MailItemsAccessed` record and updates the sums kept in memory, unless past
    /// the cap or after a failure of the temporary files.
    fn take(&mut self, core: &CoreFields, fields: &MailFields, origin: &Origin) {
        if self.spill.rows() >= self.options.max_accesses as u64 {
            self.over_cap += 1;
            return;
        }
        if let Some((_, lost)) = &mut self.failure {
            *lost += 1;
            return;
        }
        if let Err(e) = self.park(core, fields, origin) {
            self.failure = Some((e.to_string(), 1));
        }
    }

    fn park(
        &mut self,
        c: &CoreFields,
        fields: &MailFields,
        origin: &Origin,
    ) -> std::io::Result<()> {
        let mailbox = match (&fields.owner, &c.user) {
            (Some(o), _) => self.strings.id(&lowercase(o)),
            (None, Some(u)) => self.strings.id(u),
            (None, None) => self.strings.id("(unknown mailbox)"),
        };
        let tenant = self
            .strings
            .id(c.tenant.as_deref().unwrap_or("(unknown tenant)"));
        let app = c.app_id.as_deref().map(|a| self.strings.id(a));
        let items = fields.items;
        let row = Row {
            time: c.time,
            tenant,
            mailbox,
            user: c.user.as_deref().map(|u| self.strings.id(u)),
            app,
            ip: c.ip,
            session: c.session_id.as_deref(),
            token: c.token_id.as_deref(),
            record_id: c.record_id.as_deref(),
            file: self.file_id(&origin.file),
            position: origin.position,
            client_info: fields.client_info.as_deref().map(|s| self.strings.id(s)),
            sync: fields.sync,
            throttled: fields.throttled,
            items,
        };
        self.spill.push(&row)?;
        for (kind, id) in [(Kind::Token, row.token), (Kind::Session, row.session)] {
            if let Some(id) = id {
                let fp = self.shared.fingerprint(tenant, kind, id);
                self.shared.add(fp, mailbox);
            }
        }
        if let Some(t) = c.time {
            let first = self.tenant_first.entry(tenant).or_insert(t);
            *first = (*first).min(t);
            if let Some(app) = app {
                let seen = self.app_seen.entry((tenant, app)).or_insert((t, t));
                *seen = (seen.0.min(t), seen.1.max(t));
            }
            self.daily
                .add((tenant, mailbox, super::signins::day(t)), items);
        }
        Ok(())
    }

    /// The id of a record's file name: the last one's again where it is the same name (the
    /// records of one chunk of input share theirs), without hashing it.
    fn file_id(&mut self, file: &Arc<str>) -> u32 {
        match &self.last_file {
            Some((last, id)) if Arc::ptr_eq(last, file) => *id,
            _ => {
                let id = self.strings.id(file);
                self.last_file = Some((file.clone(), id));
                id
            }
        }
    }

    /// Reads every parked access back and raises the detections.
    fn judge(&mut self, out: &mut Vec<Alert>, notes: &mut Vec<String>) -> std::io::Result<()> {
        self.signins.prepare();
        // Per tenant id: the end of its learning period (first mail access + `learn_days`).
        let learn_end: HashMap<u32, DateTime<Utc>> = self
            .tenant_first
            .iter()
            .map(|(t, first)| (*t, *first + Duration::days(self.options.learn_days)))
            .collect();
        // Per (tenant id, app id): when the app first read mail in this input.
        let first_seen: HashMap<(u32, u32), DateTime<Utc>> = self
            .app_seen
            .iter()
            .map(|(key, (first, _))| (*key, *first))
            .collect();
        for ((tenant, app), first) in &first_seen {
            if learn_end.get(tenant).is_some_and(|end| first < end) {
                self.learned
                    .entry(self.strings.name(*tenant).clone())
                    .or_default()
                    .insert(self.strings.name(*app).to_string());
            }
        }
        let anomalies = self.daily.anomalies();
        let flagged = self.shared.flagged().unwrap_or_else(|e| {
            notes.push(format!(
                "mail detectors: one token or session reading three or more mailboxes was not \
                 checked: its temporary file under {} failed ({e})",
                std::env::temp_dir().display()
            ));
            HashSet::new()
        });
        let judge = Judge {
            options: &self.options,
            baseline: &self.baseline,
            signins: &self.signins,
            shared: &self.shared,
            learn_end: &learn_end,
            first_seen: &first_seen,
            anomalies: &anomalies,
            flagged: &flagged,
        };
        // The rows stay counted (for the notes) though the files are gone.
        let Verdicts {
            groups,
            not_applicable,
            bulk,
            shared,
            days,
        } = judge.parts(self.spill.take_parts()?, &self.strings)?;
        for ((_, tenant, mailbox, app, ip), g) in groups {
            out.push(self.alert(tenant, mailbox, app, ip, g));
        }
        out.extend(super::bulk::bulk_reads(bulk));
        out.extend(super::shared::shared_tokens(shared));
        let mut days_by_tenant: BTreeMap<Arc<str>, BTreeMap<i64, FirstOfDay>> = BTreeMap::new();
        for ((tenant, day), (_, first)) in days {
            days_by_tenant
                .entry(self.strings.name(tenant).clone())
                .or_default()
                .insert(day, first);
        }
        out.extend(self.source_gaps(days_by_tenant));
        for (tenant, n) in not_applicable {
            let reason = if self.signins.has_tenant(tenant) {
                "its sign-in logs do not cover those days"
            } else {
                "no sign-in logs for this tenant in the input"
            };
            notes.push(format!(
                "mail access without sign-in: not applicable to {n} MailItemsAccessed records of tenant {tenant} ({reason}); add Entra sign-in logs for that period to check them"
            ));
        }
        Ok(())
    }

    /// Days on which a tenant's mailbox reads are logged but its sign-in logs are missing, while
    /// they exist for other days: a visibility gap, one detection per run of missing days.
    fn source_gaps(&self, days: BTreeMap<Arc<str>, BTreeMap<i64, FirstOfDay>>) -> Vec<Alert> {
        let mut out = Vec::new();
        for (tenant, by_day) in days {
            let missing = by_day
                .iter()
                .filter(|(_, (t, _))| self.signins.entra_log(&tenant, *t) == (true, false));
            let mut runs: Vec<Vec<(&i64, &FirstOfDay)>> = Vec::new();
            for m in missing {
                match runs.last_mut() {
                    Some(run) if run.last().is_some_and(|(d, _)| **d + 1 == *m.0) => run.push(m),
                    _ => runs.push(vec![m]),
                }
            }
            for run in runs {
                let ((from, origin), (to, _)) = (run[0].1, run[run.len() - 1].1);
                let (from, to) = (*from, *to);
                out.push(Alert {
                    time: Some(from),
                    rule: rules::SOURCE_GAP.rule(),
                    tenant: Some(tenant.to_string()),
                    user: None,
                    ip: None,
                    app_id: None,
                    event_ids: Vec::new(),
                    source: Some(origin.clone()),
                    summary: format!(
                        "tenant {tenant}: mailbox reads logged on {} day(s) from {} to {} with no Entra sign-in logs; those reads could not be checked for a sign-in",
                        run.len(),
                        from.format("%Y-%m-%d"),
                        to.format("%Y-%m-%d")
                    ),
                    evidence: json!({"missing_source": "entra_signin", "days": run.len(),
                                     "from": format_time(from), "to": format_time(to)}),
                });
            }
        }
        out
    }

    /// The tenant's mail-client baseline: persisted plus learned from this input.
    fn known_clients(&self, tenant: &str) -> BTreeSet<String> {
        let mut known: BTreeSet<String> = self.baseline.clients(tenant).into_iter().collect();
        if let Some(l) = self.learned.get(tenant) {
            known.extend(l.iter().cloned());
        }
        known
    }

    fn alert(
        &self,
        tenant: &str,
        mailbox: &str,
        app: Option<&str>,
        ip: Option<IpAddr>,
        g: Group,
    ) -> Alert {
        let first_party = app.and_then(super::apps::first_party);
        let app_text = match (app, first_party) {
            (Some(a), Some(fp)) => format!("{} ({a})", fp.name),
            (Some(a), None) => a.to_string(),
            (None, _) => "an unidentified app".to_string(),
        };
        let from = ip.map(|i| format!(" from {i}")).unwrap_or_default();
        let consented =
            app.is_some_and(|a| self.consents.get(tenant).is_some_and(|c| c.contains(a)));
        let summary = match g.rule.id {
            id if id == rules::NEW_CLIENT_NO_SIGNIN.id => format!(
                "{} reads of {mailbox}'s mailbox by {app_text}{from}, a client this tenant never used for mail, with no Entra sign-in behind them",
                g.count
            ),
            id if id == rules::NO_SIGNIN.id => format!(
                "{} reads of {mailbox}'s mailbox by {app_text}{from} with no Entra sign-in behind them (no matching session, token, or sign-in from that address)",
                g.count
            ),
            id if id == rules::THROTTLED.id => format!(
                "mail-access auditing of {mailbox} throttled: Exchange may not record its reads for 24 h"
            ),
            _ if g.level == Level::Medium => format!(
                "{} reads of {mailbox}'s mailbox by {app_text}{from}, a client new to this tenant; no sign-in logs to check them against",
                g.count
            ),
            _ => format!(
                "{} reads of {mailbox}'s mailbox by {app_text}{from}, a client new to this tenant, with sign-ins behind them{}",
                g.count,
                if consented { " and admin consent" } else { "" }
            ),
        };
        let evidence = json!({
            "mailbox": mailbox,
            "accesses": g.count,
            "items": g.items,
            "bind": g.bind,
            "sync": g.sync,
            "first": g.first.map(format_time),
            "last": g.last.map(format_time),
            "client_info": g.client_infos,
            "session_ids": g.sessions,
            "token_ids": g.tokens.iter().take(20).collect::<Vec<_>>(),
            "signin_backing": g.backing,
            "app_consented": consented,
            "app_name": first_party.map(|f| f.name),
            "first_party_app": first_party.is_some(),
            "app_signed_in": app.is_some_and(|a| self.signins.app_signed_in(tenant, a)),
            "known_mail_clients": self.known_clients(tenant),
            "accessing_user": g.user,
            "record_ids_listed": g.ids.len(),
        });
        Alert {
            time: g.first,
            rule: g.rule.at(g.level),
            tenant: Some(tenant.to_string()),
            user: Some(mailbox.to_string()),
            ip: ip.map(|i| i.to_string()),
            app_id: app.map(str::to_string),
            event_ids: g.ids,
            source: Some(g.origin),
            summary,
            evidence,
        }
    }
}
