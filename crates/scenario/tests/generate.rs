//! The generator: deterministic, self-consistent ground truth, and the bundled sample is its
//! output (so the sample in the repository is honest and can be remade).

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;
use stormwatch_scenario::{generate, generate_to_dir, Config, Output, Stream};

struct Memory(Vec<(Stream, serde_json::Value)>);

impl Output for Memory {
    fn write(&mut self, stream: Stream, record: &serde_json::Value) -> std::io::Result<()> {
        self.0.push((stream, record.clone()));
        Ok(())
    }
}

fn run(
    config: &Config,
) -> (
    stormwatch_scenario::Manifest,
    Vec<(Stream, serde_json::Value)>,
) {
    let mut out = Memory(Vec::new());
    let m = generate(config, &mut out).expect("generate");
    (m, out.0)
}

#[test]
fn same_seed_same_records_other_seed_other_records() {
    let small = Config {
        days: 8,
        users_per_tenant: 8,
        ..Config::default()
    };
    let (_, a) = run(&small);
    let (_, b) = run(&small);
    assert_eq!(a, b);
    let (_, c) = run(&Config { seed: 2, ..small });
    assert_ne!(a, c);
}

#[test]
fn manifest_matches_the_records() {
    let (m, records) = run(&Config::default());
    assert_eq!(m.records as usize, records.len());
    assert_eq!(m.intrusion.len(), 4);
    let ual_ids: std::collections::HashMap<&str, &serde_json::Value> = records
        .iter()
        .filter(|(s, _)| *s == Stream::Ual)
        .filter_map(|(_, r)| Some((r["Id"].as_str()?, r)))
        .collect();
    let signin_sessions: std::collections::HashSet<&str> = records
        .iter()
        .filter(|(s, _)| *s == Stream::SignIns)
        .filter_map(|(_, r)| r["properties"]["sessionId"].as_str())
        .collect();
    for planted in &m.intrusion {
        assert!(planted.record_ids.len() >= 10, "{planted:?}");
        for id in &planted.record_ids {
            let r = ual_ids[id.as_str()];
            assert_eq!(r["Operation"], "MailItemsAccessed");
            assert_eq!(r["MailboxOwnerUPN"], planted.mailbox.as_str());
            assert!(m.actor_ips.iter().any(|ip| r["ClientIP"] == ip.as_str()));
            assert!(
                r.get("SessionId").is_none(),
                "a forged token has no Entra session"
            );
        }
    }
    let kinds: std::collections::HashSet<&str> = m.decoys.iter().map(|d| d.kind).collect();
    for kind in [
        "traveller",
        "new_app_rollout",
        "throttled_mobile_sync",
        "legitimate_rest",
    ] {
        assert!(kinds.contains(kind), "decoy {kind} missing: {kinds:?}");
    }
    for decoy in &m.decoys {
        for id in &decoy.record_ids {
            let r = ual_ids[id.as_str()];
            let session = r["SessionId"].as_str().expect("decoys have real sessions");
            assert!(
                signin_sessions.contains(session),
                "decoy {} has a sign-in",
                decoy.kind
            );
        }
    }
    let throttled = records.iter().any(|(_, r)| {
        r["OperationProperties"][1]["Value"] == "True"
            && r["OperationProperties"][1]["Name"] == "IsThrottled"
    });
    assert!(throttled);
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gzip");
    text
}

#[test]
fn bundled_sample_is_the_generator_output_for_its_defaults() {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/scenario");
    let dir = tempfile::tempdir().expect("tempdir");
    generate_to_dir(&Config::default(), dir.path(), true).expect("generate");
    for name in ["ual.jsonl.gz", "signins.jsonl.gz", "entra-audit.jsonl.gz"] {
        assert!(
            gunzip(&bundled.join(name)) == gunzip(&dir.path().join(name)),
            "samples/scenario/{name} differs from `stormwatch generate --out samples/scenario --gzip`; regenerate it"
        );
    }
}
