//! The store contract, written once against `&dyn Store` so every backend runs the same suite
//! (SQLite here; PostgreSQL adds one line per test when it lands).

use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use stormwatch_store::{
    keys, ApiKey, Attempt, Batch, Catalog, CatalogItem, DedupPolicy, DetectionQuery, IncidentQuery,
    NewDetection, Notification, Outbox, PgStore, Role, Scope, SqliteStore, Status, Store,
    StoredEvent,
};

const A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const B: &str = "bbbbbbbb-0000-0000-0000-000000000002";
const HOUR: i64 = 3_600_000;
const POLICY: DedupPolicy = DedupPolicy {
    window_ms: 24 * HOUR,
    min_level: 2,
};

fn det(fp: &str, tenant: &str, rule: &str, actor: &str, level: u8, t: i64) -> NewDetection {
    NewDetection {
        fingerprint: fp.into(),
        tenant: tenant.into(),
        rule_id: rule.into(),
        rule_title: format!("title of {rule}"),
        level,
        time_ms: t,
        actor: actor.into(),
        record: json!({"rule": {"id": rule}, "tenant": tenant, "fp": fp}),
    }
}

/// PostgreSQL for the suite: `STORMWATCH_TEST_POSTGRES` (a connection string), else the CI
/// default `host=127.0.0.1 user=postgres dbname=test`. A failure to connect fails the test when
/// the variable is set, or on CI (`CI` set) when something listens on 127.0.0.1:5432; with no
/// server there it is a skip with a note on stderr.
fn postgres() -> Option<Box<dyn Store>> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let explicit = std::env::var("STORMWATCH_TEST_POSTGRES").ok();
    let url = explicit
        .clone()
        .unwrap_or_else(|| "host=127.0.0.1 port=5432 user=postgres dbname=test".into());
    let schema = format!(
        "sw_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let ci = std::env::var_os("CI").is_some();
    let listening = std::net::TcpStream::connect(("127.0.0.1", 5432)).is_ok();
    match PgStore::connect_in_schema(&url, Some(&schema)) {
        Ok(s) => Some(Box::new(Scratch {
            store: Some(s),
            schema,
        })),
        Err(e) if explicit.is_none() && !(ci && listening) => {
            eprintln!("note: PostgreSQL not reachable ({e}); its store tests are skipped");
            None
        }
        Err(e) => panic!("PostgreSQL at {url}: {e}"),
    }
}

/// A PostgreSQL store in its own schema, dropped after the test.
struct Scratch {
    store: Option<PgStore>,
    schema: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let _ = s.drop_schema(&self.schema);
        }
    }
}

macro_rules! delegate {
    ($($name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        $(fn $name(&self $(, $arg: $ty)*) -> $ret {
            self.store.as_ref().expect("store").$name($($arg),*)
        })*
    };
}

impl Store for Scratch {
    delegate! {
        record_detection(&self, d: &NewDetection, p: &DedupPolicy, now: i64) -> stormwatch_store::Result<stormwatch_store::Recorded>;
        detections(&self, q: &DetectionQuery) -> stormwatch_store::Result<Vec<stormwatch_store::Detection>>;
        incidents(&self, q: &IncidentQuery) -> stormwatch_store::Result<Vec<stormwatch_store::Incident>>;
        incident(&self, s: &Scope, id: i64) -> stormwatch_store::Result<Option<stormwatch_store::Incident>>;
        set_status(&self, s: &Scope, id: i64, st: Status, by: &str, now: i64) -> stormwatch_store::Result<Option<stormwatch_store::Incident>>;
        assign(&self, s: &Scope, id: i64, a: Option<&str>, by: &str, now: i64) -> stormwatch_store::Result<Option<stormwatch_store::Incident>>;
        add_comment(&self, s: &Scope, id: i64, a: &str, t: &str, now: i64) -> stormwatch_store::Result<Option<stormwatch_store::Comment>>;
        comments(&self, s: &Scope, id: i64) -> stormwatch_store::Result<Vec<stormwatch_store::Comment>>;
        audit_trail(&self, s: &Scope, id: i64) -> stormwatch_store::Result<Vec<stormwatch_store::AuditEntry>>;
        put_api_key(&self, k: &ApiKey) -> stormwatch_store::Result<()>;
        api_key(&self, id: &str) -> stormwatch_store::Result<Option<ApiKey>>;
        put_batch(&self, b: &Batch) -> stormwatch_store::Result<bool>;
        batch(&self, t: &str, k: &str) -> stormwatch_store::Result<Option<Batch>>;
        put_events(&self, e: &[(String, Vec<StoredEvent>)], b: Option<&Batch>) -> stormwatch_store::Result<bool>;
        events_in(&self, t: &str, since: i64, until: i64, limit: u32) -> stormwatch_store::Result<Vec<StoredEvent>>;
        prune_events(&self, t: &str, before: i64) -> stormwatch_store::Result<u64>;
    }
}

impl Outbox for Scratch {
    delegate! {
        pending_notifications(&self, limit: u32) -> stormwatch_store::Result<Vec<Notification>>;
        pending_count(&self) -> stormwatch_store::Result<usize>;
        record_attempt(&self, id: i64, c: &str, a: Attempt<'_>, now: i64) -> stormwatch_store::Result<()>;
        finish_notification(&self, id: i64, now: i64) -> stormwatch_store::Result<()>;
        notifications(&self, s: &Scope, i: Option<i64>, limit: u32) -> stormwatch_store::Result<Vec<Notification>>;
    }
}

impl Catalog for Scratch {
    delegate! {
        put_item(&self, i: &CatalogItem) -> stormwatch_store::Result<()>;
        delete_item(&self, k: &str, n: &str) -> stormwatch_store::Result<bool>;
        items(&self, k: &str) -> stormwatch_store::Result<Vec<CatalogItem>>;
        api_keys(&self) -> stormwatch_store::Result<Vec<ApiKey>>;
        delete_api_key(&self, id: &str) -> stormwatch_store::Result<bool>;
    }
}

fn stores() -> Vec<(&'static str, Box<dyn Store>)> {
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteStore::open_dir(dir.path()).unwrap();
    // Keep the directory alive for the test run.
    std::mem::forget(dir);
    let mut v: Vec<(&'static str, Box<dyn Store>)> = vec![
        ("sqlite-memory", Box::new(SqliteStore::in_memory().unwrap())),
        ("sqlite-file", Box::new(file)),
    ];
    if let Some(pg) = postgres() {
        v.push(("postgres", pg));
    }
    v
}

#[test]
fn dedup_same_rule_tenant_actor_within_window_updates_one_incident() {
    for (name, s) in stores() {
        let r1 = s
            .record_detection(&det("f1", A, "r1", "1.2.3.4", 3, 0), &POLICY, 10)
            .unwrap();
        assert!(r1.inserted && r1.incident_created, "{name}");
        let r2 = s
            .record_detection(&det("f2", A, "r1", "1.2.3.4", 4, 5 * HOUR), &POLICY, 11)
            .unwrap();
        assert!(r2.inserted && !r2.incident_created, "{name}");
        assert_eq!(r1.incident_id, r2.incident_id, "{name}");
        // Other actor, other rule, other tenant, outside the window: each its own incident.
        for d in [
            det("f3", A, "r1", "5.6.7.8", 3, HOUR),
            det("f4", A, "r2", "1.2.3.4", 3, HOUR),
            det("f5", B, "r1", "1.2.3.4", 3, HOUR),
            det("f6", A, "r1", "1.2.3.4", 3, 40 * HOUR),
        ] {
            let r = s.record_detection(&d, &POLICY, 12).unwrap();
            assert!(r.incident_created, "{name}: {}", d.fingerprint);
        }
        let inc = s
            .incident(&Scope::All, r1.incident_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            (inc.detections, inc.level, inc.last_ms),
            (2, 4, 5 * HOUR),
            "{name}"
        );
        assert_eq!(inc.status, Status::New);
        assert_eq!(inc.title, "title of r1");
        let all = s.incidents(&IncidentQuery {
            scope: Scope::All,
            status: None,
            limit: 100,
        });
        assert_eq!(all.unwrap().len(), 5, "{name}");
    }
}

#[test]
fn refingerprinted_detection_updates_record_not_incident() {
    for (name, s) in stores() {
        let r1 = s
            .record_detection(&det("f1", A, "r1", "x", 3, 0), &POLICY, 1)
            .unwrap();
        let mut again = det("f1", A, "r1", "x", 3, 0);
        again.record = json!({"updated": true});
        let r2 = s.record_detection(&again, &POLICY, 2).unwrap();
        assert!(!r2.inserted && !r2.incident_created, "{name}");
        assert_eq!(r1.detection_id, r2.detection_id);
        let inc = s
            .incident(&Scope::All, r1.incident_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(inc.detections, 1, "{name}");
        let ds = s.detections(&DetectionQuery::new(Scope::All)).unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].record, json!({"updated": true}), "{name}");
    }
}

#[test]
fn low_detections_are_stored_without_incident() {
    for (name, s) in stores() {
        let r = s
            .record_detection(&det("f1", A, "r1", "x", 1, 0), &POLICY, 1)
            .unwrap();
        assert!(r.inserted && r.incident_id.is_none(), "{name}");
        let q = IncidentQuery {
            scope: Scope::All,
            status: None,
            limit: 10,
        };
        assert!(s.incidents(&q).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn closed_incident_does_not_absorb_new_detections() {
    for (name, s) in stores() {
        let r1 = s
            .record_detection(&det("f1", A, "r1", "x", 3, 0), &POLICY, 1)
            .unwrap();
        let id = r1.incident_id.unwrap();
        s.set_status(&Scope::All, id, Status::Resolved, "op", 2)
            .unwrap()
            .unwrap();
        let r2 = s
            .record_detection(&det("f2", A, "r1", "x", 3, HOUR), &POLICY, 3)
            .unwrap();
        assert!(r2.incident_created, "{name}");
        assert_ne!(r2.incident_id, Some(id), "{name}");
    }
}

#[test]
fn tenant_scope_hides_other_tenants() {
    for (name, s) in stores() {
        let a = s
            .record_detection(&det("fa", A, "r", "x", 3, 0), &POLICY, 1)
            .unwrap();
        s.record_detection(&det("fb", B, "r", "x", 3, 0), &POLICY, 1)
            .unwrap();
        let ida = a.incident_id.unwrap();
        let sb = Scope::Tenant(B.into());
        assert!(s.incident(&sb, ida).unwrap().is_none(), "{name}");
        assert!(s
            .set_status(&sb, ida, Status::FalsePositive, "b", 2)
            .unwrap()
            .is_none());
        assert!(s
            .assign(&sb, ida, Some("mallory"), "b", 2)
            .unwrap()
            .is_none());
        assert!(s.add_comment(&sb, ida, "b", "hi", 2).unwrap().is_none());
        assert!(s.audit_trail(&sb, ida).unwrap().is_empty(), "{name}");
        let inc = s.incident(&Scope::All, ida).unwrap().unwrap();
        assert_eq!((inc.status, inc.assignee), (Status::New, None), "{name}");
        let q = IncidentQuery {
            scope: sb.clone(),
            status: None,
            limit: 10,
        };
        let listed = s.incidents(&q).unwrap();
        assert!(
            listed.iter().all(|i| i.tenant == B) && listed.len() == 1,
            "{name}"
        );
        let ds = s.detections(&DetectionQuery::new(sb)).unwrap();
        assert!(ds.iter().all(|d| d.tenant == B) && ds.len() == 1, "{name}");
    }
}

#[test]
fn status_assignee_comments_and_audit_trail() {
    for (name, s) in stores() {
        let id = s
            .record_detection(&det("f", A, "r", "x", 3, 0), &POLICY, 1)
            .unwrap()
            .incident_id
            .unwrap();
        let sa = Scope::Tenant(A.into());
        let inc = s
            .set_status(&sa, id, Status::Acknowledged, "alice", 2)
            .unwrap()
            .unwrap();
        assert_eq!(inc.status, Status::Acknowledged);
        let inc = s.assign(&sa, id, Some("bob"), "alice", 3).unwrap().unwrap();
        assert_eq!(inc.assignee.as_deref(), Some("bob"), "{name}");
        let c = s
            .add_comment(&sa, id, "bob", "looking; it's 'quoted\"", 4)
            .unwrap()
            .unwrap();
        assert_eq!(s.comments(&sa, id).unwrap()[0].text, c.text);
        let trail = s.audit_trail(&sa, id).unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["created", "status", "assign", "comment"],
            "{name}"
        );
        assert_eq!(
            trail[1].detail,
            json!({"from": "new", "to": "acknowledged"})
        );
        assert_eq!(trail[1].actor, "alice");
        let q = IncidentQuery {
            scope: Scope::All,
            status: Some(Status::Acknowledged),
            limit: 5,
        };
        assert_eq!(s.incidents(&q).unwrap().len(), 1, "{name}");
    }
}

#[test]
fn detection_filters() {
    for (name, s) in stores() {
        for (i, lvl) in [0u8, 1, 2, 3, 4].into_iter().enumerate() {
            let t = i as i64 * HOUR;
            let rule = if i % 2 == 0 { "even" } else { "odd" };
            s.record_detection(&det(&format!("f{i}"), A, rule, "x", lvl, t), &POLICY, 1)
                .unwrap();
        }
        let q = |f: &dyn Fn(&mut DetectionQuery)| {
            let mut q = DetectionQuery::new(Scope::All);
            f(&mut q);
            s.detections(&q).unwrap().len()
        };
        assert_eq!(q(&|_| {}), 5, "{name}");
        assert_eq!(q(&|q| q.min_level = Some(3)), 2);
        assert_eq!(q(&|q| q.rule_id = Some("even".into())), 3);
        assert_eq!(q(&|q| q.since_ms = Some(HOUR)), 4);
        assert_eq!(q(&|q| q.until_ms = Some(HOUR)), 1);
        assert_eq!(q(&|q| q.limit = 2), 2);
        let newest = s.detections(&DetectionQuery::new(Scope::All)).unwrap();
        assert_eq!(newest[0].time_ms, 4 * HOUR, "{name}: newest first");
    }
}

#[test]
fn api_keys_are_stored_hashed_and_authenticate() {
    for (name, s) in stores() {
        let key = keys::generate("contoso").unwrap();
        let (id, secret) = keys::parse(&key).unwrap();
        s.put_api_key(&ApiKey {
            id: id.into(),
            name: "contoso admin".into(),
            role: Role::TenantAdmin,
            tenant: Some(A.into()),
            hash: keys::hash_secret(secret).unwrap(),
            created_ms: 1,
        })
        .unwrap();
        let stored = s.api_key(id).unwrap().unwrap();
        assert!(!stored.hash.contains(secret), "{name}");
        let got = keys::authenticate(s.as_ref(), &key).unwrap().unwrap();
        assert_eq!(
            (got.role, got.tenant.as_deref()),
            (Role::TenantAdmin, Some(A))
        );
        let wrong = format!("sw_contoso_{}", "0".repeat(64));
        assert!(
            keys::authenticate(s.as_ref(), &wrong).unwrap().is_none(),
            "{name}"
        );
        assert!(keys::authenticate(s.as_ref(), "garbage").unwrap().is_none());
        assert!(s.api_key("nobody").unwrap().is_none());
    }
}

#[test]
fn batches_are_idempotent() {
    for (name, s) in stores() {
        let b = Batch {
            tenant: A.into(),
            key: "k1".into(),
            received_ms: 5,
            summary: json!({"n": 1}),
        };
        assert!(s.put_batch(&b).unwrap(), "{name}");
        let again = Batch {
            summary: json!({"n": 2}),
            ..b.clone()
        };
        assert!(!s.put_batch(&again).unwrap(), "{name}");
        assert_eq!(s.batch(A, "k1").unwrap(), Some(b));
        assert!(
            s.batch(B, "k1").unwrap().is_none(),
            "{name}: keys are per tenant"
        );
    }
}

#[test]
fn reopening_a_file_keeps_data_and_does_not_remigrate() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(s.schema_version().unwrap(), 4);
        s.record_detection(&det("f", A, "r", "x", 3, 0), &POLICY, 1)
            .unwrap()
            .incident_id
            .unwrap()
    };
    let s = SqliteStore::open_dir(dir.path()).unwrap();
    assert_eq!(s.schema_version().unwrap(), 4);
    assert!(s.incident(&Scope::All, id).unwrap().is_some());
}

#[test]
fn hostile_strings_are_data_not_sql() {
    for (_, s) in stores() {
        let evil = "x'); DROP TABLE incidents; --";
        let r = s
            .record_detection(&det(evil, evil, evil, evil, 3, 0), &POLICY, 1)
            .unwrap();
        let inc = s
            .incident(&Scope::Tenant(evil.into()), r.incident_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(inc.actor, evil);
        assert_eq!(
            s.incidents(&IncidentQuery {
                scope: Scope::All,
                status: None,
                limit: 9
            })
            .unwrap()
            .len(),
            1
        );
    }
}

#[test]
fn events_are_kept_with_their_batch_once_and_pruned() {
    for (name, s) in stores() {
        let ev = |t: i64| StoredEvent {
            time_ms: t,
            record: format!("{{\"t\":{t}}}"),
        };
        let batch = Batch {
            tenant: A.into(),
            key: "k".into(),
            received_ms: 1,
            summary: json!({}),
        };
        let a = vec![(A.to_string(), vec![ev(3), ev(1), ev(2)])];
        assert!(s.put_events(&a, Some(&batch)).unwrap(), "{name}");
        assert!(
            !s.put_events(&a, Some(&batch)).unwrap(),
            "{name}: seen batch"
        );
        let b = vec![(B.to_string(), vec![ev(5)])];
        assert!(s.put_events(&b, None).unwrap());
        assert!(s.put_events(&b, None).unwrap(), "{name}: no key, no dedupe");
        let times = |t: &str, since: i64, limit: u32| -> Vec<i64> {
            s.events(t, since, limit)
                .unwrap()
                .iter()
                .map(|e| e.time_ms)
                .collect()
        };
        assert_eq!(
            times(A, i64::MIN, 100),
            [1, 2, 3],
            "{name}: oldest first, once"
        );
        assert_eq!(times(A, i64::MIN, 2), [2, 3], "{name}: the newest");
        assert_eq!(times(A, 2, 100), [2, 3], "{name}");
        assert_eq!(times(B, i64::MIN, 100), [5, 5], "{name}");
        assert_eq!(s.events(A, 0, 1).unwrap()[0].record, "{\"t\":3}");
        let early = s.events_in(A, 0, 3, 10).unwrap();
        assert!(
            early.iter().all(|e| e.time_ms < 3) && !early.is_empty(),
            "until is exclusive"
        );
        assert_eq!(s.prune_events(A, 3).unwrap(), 2, "{name}");
        assert_eq!(times(A, i64::MIN, 100), [3], "{name}");
        assert_eq!(
            times(B, i64::MIN, 100),
            [5, 5],
            "{name}: other tenant untouched"
        );
    }
}

#[test]
fn opening_and_escalating_an_incident_queue_one_notification_per_state() {
    for (name, s) in stores() {
        let r = s
            .record_detection(&det("n1", A, "r1", "1.2.3.4", 2, 0), &POLICY, 10)
            .unwrap();
        let inc = r.incident_id.unwrap();
        // Absorbed at the same level: no new state, nothing queued.
        s.record_detection(&det("n2", A, "r1", "1.2.3.4", 2, HOUR), &POLICY, 11)
            .unwrap();
        // Escalated to high: queued once; a second high detection adds nothing.
        s.record_detection(&det("n3", A, "r1", "1.2.3.4", 3, 2 * HOUR), &POLICY, 12)
            .unwrap();
        s.record_detection(&det("n4", A, "r1", "1.2.3.4", 3, 3 * HOUR), &POLICY, 13)
            .unwrap();
        // Re-judging a known fingerprint queues nothing either; low detections open nothing.
        s.record_detection(&det("n1", A, "r1", "1.2.3.4", 2, 0), &POLICY, 14)
            .unwrap();
        s.record_detection(&det("n5", B, "r9", "9.9.9.9", 1, 0), &POLICY, 15)
            .unwrap();
        let pending = s.pending_notifications(100).unwrap();
        let states: Vec<(&str, i64)> = pending
            .iter()
            .map(|n| (n.state.as_str(), n.incident_id))
            .collect();
        assert_eq!(states, [("opened", inc), ("escalated:3", inc)], "{name}");
        assert_eq!(s.pending_count().unwrap(), 2, "{name}");
        let (opened, escalated) = (&pending[0], &pending[1]);
        assert_eq!(opened.tenant, A);
        assert_eq!(opened.payload["incident"]["level"], 2, "{name}");
        assert_eq!(opened.payload["detection"]["fp"], "n1", "{name}");
        assert_eq!(escalated.payload["incident"]["level"], 3, "{name}");
        assert_eq!(escalated.payload["incident"]["detections"], 3, "{name}");
        assert_eq!(escalated.payload["detection"]["fp"], "n3", "{name}");

        // Attempts: a failure keeps it pending with its retry time; a success is recorded.
        let fail = Attempt::Failed {
            error: "connection refused",
            retry_at_ms: 5_000,
        };
        s.record_attempt(opened.id, "webhook:soc", fail, 100)
            .unwrap();
        s.record_attempt(opened.id, "webhook:soc", fail, 200)
            .unwrap();
        s.record_attempt(opened.id, "email", Attempt::Sent, 300)
            .unwrap();
        let again = s.pending_notifications(100).unwrap();
        let d = again[0].delivery("webhook:soc").unwrap();
        assert_eq!(
            (d.attempts, d.next_ms, d.sent_ms, d.last_error.as_deref()),
            (2, 5_000, None, Some("connection refused")),
            "{name}"
        );
        assert_eq!(again[0].delivery("email").unwrap().sent_ms, Some(300));
        s.record_attempt(opened.id, "webhook:soc", Attempt::Sent, 6_000)
            .unwrap();
        s.finish_notification(opened.id, 6_001).unwrap();
        let left = s.pending_notifications(100).unwrap();
        assert_eq!(left.len(), 1, "{name}");
        assert_eq!(left[0].id, escalated.id);

        // The listing keeps finished ones, newest first, scoped by tenant.
        let all = s.notifications(&Scope::All, Some(inc), 10).unwrap();
        assert_eq!(all.len(), 2, "{name}");
        assert_eq!(all[0].id, escalated.id);
        assert_eq!(all[1].done_ms, Some(6_001));
        assert_eq!(all[1].deliveries.len(), 2);
        let other = Scope::Tenant(B.into());
        assert!(
            s.notifications(&other, None, 10).unwrap().is_empty(),
            "{name}"
        );
    }
}

#[test]
fn catalog_items_replace_by_kind_and_name_and_keys_list_and_delete() {
    for (name, s) in stores() {
        let item = |kind: &str, n: &str, text: &str| CatalogItem {
            kind: kind.into(),
            name: n.into(),
            text: text.into(),
            author: "key:ops".into(),
            created_ms: 5,
        };
        s.put_item(&item("rule", "b.yml", "title: b")).unwrap();
        s.put_item(&item("rule", "a.yml", "title: a")).unwrap();
        s.put_item(&item("feed", "a.yml", "1.2.3.4")).unwrap();
        s.put_item(&item("rule", "a.yml", "title: a2")).unwrap();
        let rules = s.items("rule").unwrap();
        let names: Vec<(&str, &str)> = rules
            .iter()
            .map(|i| (i.name.as_str(), i.text.as_str()))
            .collect();
        assert_eq!(
            names,
            [("a.yml", "title: a2"), ("b.yml", "title: b")],
            "{name}"
        );
        assert_eq!(s.items("feed").unwrap().len(), 1);
        assert!(s.delete_item("rule", "a.yml").unwrap());
        assert!(!s.delete_item("rule", "a.yml").unwrap(), "{name}");
        assert_eq!(s.items("rule").unwrap().len(), 1);

        for id in ["k1", "k2"] {
            let key = ApiKey {
                id: id.into(),
                name: format!("{id} name"),
                role: Role::TenantAdmin,
                tenant: Some(A.into()),
                hash: keys::hash_secret("0123456789abcdef").unwrap(),
                created_ms: 1,
            };
            s.put_api_key(&key).unwrap();
        }
        let ids: Vec<String> = s.api_keys().unwrap().into_iter().map(|k| k.id).collect();
        assert_eq!(ids, ["k1", "k2"], "{name}");
        assert!(s.delete_api_key("k1").unwrap());
        assert!(s.api_key("k1").unwrap().is_none(), "{name}");
        assert!(!s.delete_api_key("k1").unwrap());
    }
}

#[test]
fn postgres_connects_again_after_the_server_dropped_the_connection() {
    let explicit = std::env::var("STORMWATCH_TEST_POSTGRES").ok();
    let url = explicit
        .clone()
        .unwrap_or_else(|| "host=127.0.0.1 port=5432 user=postgres dbname=test".into());
    let schema = format!("sw_reconnect_{}", std::process::id());
    let s = match PgStore::connect_in_schema(&url, Some(&schema)) {
        Ok(s) => s,
        Err(e) if explicit.is_none() => {
            eprintln!("note: PostgreSQL not reachable ({e}); the reconnect test is skipped");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    s.record_detection(&det("r1", A, "r", "x", 3, 0), &POLICY, 1)
        .unwrap();
    let pid = s.backend_pid().unwrap();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let q = IncidentQuery {
        scope: Scope::All,
        status: None,
        limit: 10,
    };
    // The call that meets the dropped connection may fail; the next one connects again, in the
    // same schema, and sees the data.
    let first = s.incidents(&q);
    let found = match first {
        Ok(v) => v,
        Err(_) => s.incidents(&q).expect("second call reconnects"),
    };
    assert_eq!(found.len(), 1);
    assert_ne!(s.backend_pid().unwrap(), pid, "a new server process");
    drop(admin);
    s.drop_schema(&schema).unwrap();
}
