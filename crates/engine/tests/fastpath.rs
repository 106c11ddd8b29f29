//! The fast path finds exactly what the plain path finds.
//!
//! Fast: the witness prefilter over raw lines ([`stormwatch_engine::prefilter`]) with the
//! routed, indexed Sigma detector ([`SigmaDetector::new`]). Plain: every record parsed, every
//! rule of the record's kind tested through a per-lookup mapped view ([`SigmaDetector::plain`]).
//! The fast path also reads narrowly what only the mail analysis wants
//! ([`stormwatch_engine::normalize::narrow`]). Both run with the built-in detectors: over the
//! scenario corpus (made here by the generator library) with the SigmaHQ cloud rules, with none,
//! and its UAL alone; and over SigmaHQ's regression samples (each sample as one JSON line) with
//! the whole SigmaHQ tree. Detections are compared as JSON lines.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use stormwatch_engine::detect::baseline::Baseline;
use stormwatch_engine::detect::interest::builtin_interest;
use stormwatch_engine::detect::ioc::{self, IocDetector};
use stormwatch_engine::detect::mailbox::{MailDetector, MailOptions, MailRead, Reading};
use stormwatch_engine::detect::sigma::SigmaDetector;
use stormwatch_engine::detect::verdicts::VerdictDetector;
use stormwatch_engine::detect::Detector;
use stormwatch_engine::ingest::Sink;
use stormwatch_engine::prefilter::Interest;
use stormwatch_engine::{sink, Alert, Event, IngestOptions, IngestStats, Ingestor, Rejection};
use stormwatch_scenario::{Output, Stream};
use stormwatch_sigma::{Config, Mapping, RuleSet};

fn sigma_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma")
}

/// Feeds every event to the detectors as it arrives, and mail reads read narrowly to the mail
/// analysis alone, as hunt does.
struct Detect<'d> {
    mail: &'d mut MailDetector,
    others: Vec<&'d mut dyn Detector>,
    alerts: Vec<Alert>,
    rejected: u64,
    /// UAL sign-ins (`UserLoggedIn`) read narrowly.
    sign_ins: u64,
}

impl Sink for Detect<'_> {
    fn event(&mut self, event: Event) {
        self.mail.observe(&event, &mut self.alerts);
        for d in self.others.iter_mut() {
            d.observe(&event, &mut self.alerts);
        }
    }
    fn mail_read(&mut self, read: &MailRead) {
        if matches!(read.reading, Reading::SignIn { .. }) {
            self.sign_ins += 1;
        }
        self.mail.read(read);
    }
    fn rejected(&mut self, _: Rejection) {
        self.rejected += 1;
    }
}

/// Runs sigma + built-ins over `inputs` (name, bytes); the detections as sorted JSON lines,
/// the books, and how many UAL sign-ins were read narrowly.
fn hunt(set: &RuleSet, inputs: &[(&str, &[u8])], fast: bool) -> (Vec<String>, IngestStats, u64) {
    let mapping = Mapping::builtin();
    let mut sigma = if fast {
        SigmaDetector::new(set, &mapping)
    } else {
        SigmaDetector::plain(set, &mapping)
    };
    let indicators = ioc::storm_0558();
    let mut interest = Interest::nothing();
    interest.union(sigma.interest());
    interest.union(builtin_interest(&indicators));
    let mut mail = MailDetector::new(MailOptions::default(), Baseline::default());
    let mut iocs = IocDetector::new(indicators);
    let mut verdicts = VerdictDetector;
    let prefilter = if fast {
        interest.compile().map(Arc::new)
    } else {
        None
    };
    let options = IngestOptions {
        threads: 2,
        narrow: true,
        ..IngestOptions::default()
    };
    let mut ingestor = Ingestor::with_prefilter(options, prefilter);
    let mut out = Detect {
        mail: &mut mail,
        others: vec![&mut sigma, &mut iocs, &mut verdicts],
        alerts: Vec::new(),
        rejected: 0,
        sign_ins: 0,
    };
    for (name, bytes) in inputs {
        ingestor.run_reader(name, Box::new(Cursor::new(bytes.to_vec())), &mut out);
    }
    let mut alerts = std::mem::take(&mut out.alerts);
    let mut notes = Vec::new();
    out.mail.finish(&mut alerts, &mut notes);
    for d in out.others.iter_mut() {
        d.finish(&mut alerts, &mut notes);
    }
    sink::sort(&mut alerts);
    let mut lines: Vec<String> = alerts
        .iter()
        .map(|a| {
            let mut b = Vec::new();
            sink::write_jsonl(&mut b, a).expect("serialise");
            String::from_utf8(b).expect("utf-8")
        })
        .collect();
    lines.sort();
    let s = ingestor.stats;
    assert_eq!(s.records_read, s.events + s.rejected + s.prefiltered);
    let sign_ins = out.sign_ins;
    (lines, s, sign_ins)
}

#[derive(Default)]
struct Memory {
    ual: Vec<u8>,
    signins: Vec<u8>,
    audit: Vec<u8>,
}

impl Output for Memory {
    fn write(&mut self, stream: Stream, record: &serde_json::Value) -> std::io::Result<()> {
        let buf = match stream {
            Stream::Ual => &mut self.ual,
            Stream::SignIns => &mut self.signins,
            Stream::EntraAudit => &mut self.audit,
        };
        serde_json::to_writer(&mut *buf, record)?;
        buf.push(b'\n');
        Ok(())
    }
}

fn scenario() -> Memory {
    let mut corpus = Memory::default();
    let config = stormwatch_scenario::Config {
        seed: 7,
        ..stormwatch_scenario::Config::default()
    };
    stormwatch_scenario::generate(&config, &mut corpus).expect("generate");
    corpus
}

/// Compares the paths on the scenario corpus; the fast path's counts.
fn same_on_scenario(set: &RuleSet) -> (IngestStats, u64) {
    let corpus = scenario();
    let inputs = [
        ("ual.jsonl", corpus.ual.as_slice()),
        ("signins.jsonl", corpus.signins.as_slice()),
        ("entra-audit.jsonl", corpus.audit.as_slice()),
    ];
    let (fast, fs, sign_ins) = hunt(set, &inputs, true);
    let (plain, ps, _) = hunt(set, &inputs, false);
    assert!(!plain.is_empty(), "the scenario raises detections");
    assert!(fs.prefiltered > 0, "the prefilter skipped nothing: {fs:?}");
    assert_eq!(ps.prefiltered, 0);
    assert_eq!(fs.records_read, ps.records_read);
    assert_eq!(fast, plain);
    (fs, sign_ins)
}

#[test]
fn fast_path_equals_plain_path_on_the_scenario_corpus() {
    let root = sigma_root();
    let (set, _) = RuleSet::load_paths(&[root.join("rules/cloud")], &Config::builtin());
    assert!(set.rules().len() > 100, "SigmaHQ cloud rules not found");
    same_on_scenario(&set);
}

/// Without Sigma rules only the built-ins' interest keeps records: the test of that interest.
#[test]
fn fast_path_equals_plain_path_with_the_builtins_alone() {
    let (set, _) = RuleSet::load_paths(&[], &Config::builtin());
    assert!(set.rules().is_empty());
    let (stats, sign_ins) = same_on_scenario(&set);
    assert!(
        stats.narrow > sign_ins && sign_ins > 0,
        "mail accesses and UAL sign-ins were not both read narrowly: {stats:?}, {sign_ins} sign-ins"
    );
}

/// The UAL alone: its `UserLoggedIn` records are then the only sign-ins the mail analysis's
/// join has, so reading them narrowly is what this compares.
#[test]
fn fast_path_equals_plain_path_on_the_ual_alone() {
    let (set, _) = RuleSet::load_paths(&[], &Config::builtin());
    let corpus = scenario();
    let inputs = [("ual.jsonl", corpus.ual.as_slice())];
    let (fast, stats, sign_ins) = hunt(&set, &inputs, true);
    let (plain, _, _) = hunt(&set, &inputs, false);
    assert!(sign_ins > 0, "no UAL sign-in was read narrowly: {stats:?}");
    assert!(!plain.is_empty(), "the UAL alone raises detections");
    assert_eq!(fast, plain);
}

fn samples(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            samples(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn fast_path_equals_plain_path_on_sigma_regression_samples() {
    let root = sigma_root();
    let (set, _) = RuleSet::load_paths(&[root.join("rules")], &Config::builtin());
    assert!(set.rules().len() > 1000, "SigmaHQ rules not found");
    let mut files = Vec::new();
    samples(&root.join("regression_data"), &mut files);
    files.sort();
    assert!(files.len() > 100, "regression samples not found");
    // Each sample event (pretty-printed, one or several a file) becomes one JSON line, so the
    // prefilter sees it.
    let mut lines = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read sample");
        let stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
        for value in stream {
            let v = value.expect("sample is JSON");
            serde_json::to_writer(&mut lines, &v).expect("serialise");
            lines.push(b'\n');
        }
    }
    let inputs = [("samples.jsonl", lines.as_slice())];
    let (fast, fs, _) = hunt(&set, &inputs, true);
    let (plain, _, _) = hunt(&set, &inputs, false);
    assert!(
        plain.len() >= files.len() / 2,
        "samples fire their rules: {} detections for {} samples",
        plain.len(),
        files.len()
    );
    assert_eq!(fs.events + fs.prefiltered, fs.records_read);
    assert_eq!(fast, plain);
}

/// A mail line is read narrowly before the gate scans it (`prefilter::NarrowCheck`): a UAL
/// rule's witness in a field the rule reads must still keep the line whole, and one in a field
/// no detector reads must not.
#[test]
fn a_witness_counts_in_the_fields_its_rule_reads() {
    let rule = "title: Evil client\nid: 2f3c5a55-0a7e-4c3a-9d7b-111111111111\nstatus: test\n\
        logsource: {product: m365, service: exchange}\n\
        detection:\n  selection:\n    ClientInfoString|contains: 'EvilTool'\n  condition: selection\n\
        level: high\n";
    let (set, errors) = RuleSet::from_yaml_str(rule, Path::new("evil.yml"), &Config::builtin());
    assert!(errors.is_empty() && set.rules().len() == 1, "{errors:?}");
    let corpus = scenario();
    let text = String::from_utf8(corpus.ual.clone()).expect("utf-8");
    let mail = text
        .lines()
        .find(|l| l.contains("\"MailItemsAccessed\"") && l.contains("\"ClientInfoString\""))
        .expect("a mail line with a client string");
    let mut record: serde_json::Value = serde_json::from_str(mail).expect("json");
    let mut read_by_rule = record.clone();
    read_by_rule["ClientInfoString"] = "Client=EvilTool;".into();
    read_by_rule["Id"] = "evil-1".into();
    record["OriginatingServer"] = "EvilTool (15.20.0.0)".into();
    record["Id"] = "evil-2".into();
    let base = hunt(&set, &[("ual.jsonl", corpus.ual.as_slice())], true).1;
    let mut ual = corpus.ual.clone();
    for r in [&read_by_rule, &record] {
        ual.extend(serde_json::to_vec(r).expect("json"));
        ual.push(b'\n');
    }
    let inputs = [("ual.jsonl", ual.as_slice())];
    let (fast, stats, _) = hunt(&set, &inputs, true);
    let (plain, _, _) = hunt(&set, &inputs, false);
    assert_eq!(fast, plain);
    let evil: Vec<&String> = fast.iter().filter(|l| l.contains("Evil client")).collect();
    assert_eq!(evil.len(), 1, "{evil:?}");
    assert!(evil[0].contains("evil-1") && !evil[0].contains("evil-2"));
    assert_eq!(
        stats.narrow,
        base.narrow + 1,
        "the line with the witness where the rule does not read it is read narrowly, the other whole"
    );
}
