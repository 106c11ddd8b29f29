//! `serve` below HTTP: ingest semantics (all or nothing, tenant binding, idempotency) and the
//! judge (re-judging the same buffer adds nothing), on a generated corpus and a temp data dir.

use axum::body::Bytes;
use serde_json::json;
use std::path::Path;
use stormwatch_server::serve::api::Principal;
use stormwatch_server::serve::config::ServeConfig;
use stormwatch_server::serve::ingest::{ingest, IngestError};
use stormwatch_server::serve::State;
use stormwatch_store::{keys, IncidentQuery, Scope};

const OPS: &str = "sw_ops_0123456789abcdef0123456789";
const KEY_A: &str = "sw_a_aaaaaaaaaaaaaaaaaaaaaaaa";

fn setup(dir: &Path) -> (State, Vec<String>, stormwatch_scenario::Manifest) {
    let corpus = dir.join("corpus");
    let manifest = stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants: 2,
            users_per_tenant: 8,
            days: 10,
            ..stormwatch_scenario::Config::default()
        },
        &corpus,
        false,
    )
    .unwrap();
    let (a, b) = (&manifest.tenants[0], &manifest.tenants[1]);
    let text = format!(
        "data_dir = \"data\"\n[[tenants]]\nid = \"{a}\"\n[[tenants]]\nid = \"{b}\"\n\
         [[api_keys]]\nname = \"ops\"\nrole = \"operator\"\nkey = \"{OPS}\"\n\
         [[api_keys]]\nname = \"a\"\nrole = \"tenant_admin\"\ntenant = \"{a}\"\nkey = \"{KEY_A}\"\n"
    );
    let config = ServeConfig::from_toml(&text, "t.toml", dir, &|_| None).unwrap();
    let (state, warnings) = State::open(config).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut lines = Vec::new();
    for f in ["signins.jsonl", "ual.jsonl"] {
        lines.extend(
            std::fs::read_to_string(corpus.join(f))
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    (state, lines, manifest)
}

fn who(state: &State, key: &str) -> Principal {
    Principal {
        key: keys::authenticate(state.store.as_ref(), key)
            .unwrap()
            .unwrap(),
    }
}

fn of(lines: &[String], tenant: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(tenant))
        .cloned()
        .collect()
}

#[test]
fn a_batch_is_taken_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let (state, lines, m) = setup(dir.path());
    let (a, b) = (&m.tenants[0], &m.tenants[1]);
    let ka = who(&state, KEY_A);
    let good = of(&lines, a);

    let bad = format!("{}\n{}\nnot json\n", good[0], good[1]);
    match ingest(&state, &ka, Bytes::from(bad), None) {
        Err(IngestError::Malformed { rejected, count }) => {
            assert_eq!(count, 1);
            assert!(rejected[0].starts_with("body:3:"), "{rejected:?}");
        }
        other => panic!("{other:?}"),
    }
    let foreign = format!("{}\n{}\n", good[0], of(&lines, b)[0]);
    match ingest(&state, &ka, Bytes::from(foreign), None) {
        Err(IngestError::Tenant { record, .. }) => assert_eq!(record, "body:2"),
        other => panic!("{other:?}"),
    }
    let ops = who(&state, OPS);
    let anonymous = json!({"Operation": "MailItemsAccessed"}).to_string();
    assert!(matches!(
        ingest(&state, &ops, Bytes::from(anonymous.clone()), None),
        Err(IngestError::Tenant { .. })
    ));
    assert_eq!(
        state.buffers.len(a) + state.buffers.len(b),
        0,
        "nothing kept"
    );

    // A tenant-admin key's records without a tenant are its tenant's.
    let out = ingest(&state, &ka, Bytes::from(anonymous), None).unwrap();
    assert_eq!(out["tenants"][a.as_str()], 1, "{out}");
    assert_eq!(state.buffers.len(a), 1);
}

#[test]
fn an_idempotency_key_takes_a_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    let (state, lines, m) = setup(dir.path());
    let a = &m.tenants[0];
    let ka = who(&state, KEY_A);
    let body = Bytes::from(of(&lines, a)[..10].join("\n"));
    let first = ingest(&state, &ka, body.clone(), Some("k1")).unwrap();
    assert_eq!(first["accepted"], 10);
    let again = ingest(&state, &ka, body.clone(), Some("k1")).unwrap();
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(state.buffers.len(a), 10);
    // Keys are per tenant: the operator's "k1" is another batch.
    let ops = who(&state, OPS);
    assert!(ingest(&state, &ops, body, Some("k1")).unwrap()["duplicate"].is_null());
    assert_eq!(state.buffers.len(a), 20);
}

#[test]
fn rejudging_the_same_buffer_adds_no_detection_or_incident() {
    let dir = tempfile::tempdir().unwrap();
    let (state, lines, m) = setup(dir.path());
    let ops = who(&state, OPS);
    ingest(&state, &ops, Bytes::from(lines.join("\n")), None).unwrap();
    let store = state.store.as_ref();
    let count = || {
        let q = IncidentQuery {
            scope: Scope::All,
            status: None,
            limit: 1000,
        };
        let mut dq = stormwatch_store::DetectionQuery::new(Scope::All);
        dq.limit = 1000;
        (
            store.incidents(&q).unwrap().len(),
            store.detections(&dq).unwrap().len(),
        )
    };
    let first = state.buffers.judge_dirty(&state.engine(), store, 1_000);
    assert_eq!(first.len(), 2, "both tenants judged");
    let (incidents, detections) = count();
    assert!(
        incidents > 0 && detections > incidents,
        "{incidents} {detections}"
    );
    for p in &m.intrusion {
        let mut q = stormwatch_store::DetectionQuery::new(Scope::Tenant(p.tenant.clone()));
        q.min_level = Some(2);
        q.limit = 1000;
        let hit = store
            .detections(&q)
            .unwrap()
            .into_iter()
            .any(|d| d.incident_id.is_some() && d.record["user"] == json!(p.mailbox));
        assert!(
            hit,
            "planted {} / {} not in an incident",
            p.tenant, p.mailbox
        );
    }
    // Nothing dirty: no pass. Dirty again with nothing new: a pass that changes nothing.
    assert!(state
        .buffers
        .judge_dirty(&state.engine(), store, 2_000)
        .is_empty());
    for t in &m.tenants {
        state.buffers.push(t, Vec::new());
    }
    let second = state.buffers.judge_dirty(&state.engine(), store, 3_000);
    for (tenant, outcome, _) in &second {
        let j = outcome.as_ref().unwrap();
        assert_eq!((j.new_detections, j.new_incidents), (0, 0), "{tenant}");
        assert!(j.detections > 0);
    }
    assert_eq!(count(), (incidents, detections));
}
