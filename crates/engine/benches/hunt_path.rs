//! Microbenchmarks of hunt's hot path, so regressions show in review: the witness prefilter
//! over raw lines, the decoder (framing + normalization of JSON lines), mail reads read whole
//! and narrowly ([`narrow`]), after the gate's scan or checked first, Sigma matching (fast
//! routed/indexed path against the plain path) with the SigmaHQ cloud rules, and loading the
//! whole SigmaHQ tree, when `../shared/sigma` is present.
//!
//! Input: 2,000 records of the scenario generator (seed 11). Run:
//! `cargo bench -p stormwatch-engine --bench hunt_path`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;
use stormwatch_engine::detect::interest::builtin_interest;
use stormwatch_engine::detect::ioc;
use stormwatch_engine::detect::sigma::SigmaDetector;
use stormwatch_engine::detect::Detector;
use stormwatch_engine::event::{Origin, Position};
use stormwatch_engine::ingest::Sink;
use stormwatch_engine::normalize::{self, narrow};
use stormwatch_engine::prefilter::Want;
use stormwatch_engine::{Event, IngestOptions, Ingestor, Rejection};
use stormwatch_scenario::{Output, Stream};
use stormwatch_sigma::{Config, Mapping, RuleSet};

const RECORDS: usize = 2_000;

/// The first UAL lines of a generated corpus.
struct Lines(Vec<Vec<u8>>);

impl Output for Lines {
    fn write(&mut self, stream: Stream, record: &serde_json::Value) -> std::io::Result<()> {
        if stream == Stream::Ual && self.0.len() < RECORDS {
            self.0.push(serde_json::to_vec(record)?);
        }
        Ok(())
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let mut lines = Lines(Vec::new());
    let config = stormwatch_scenario::Config {
        seed: 11,
        ..stormwatch_scenario::Config::default()
    };
    stormwatch_scenario::generate(&config, &mut lines).expect("generate");
    lines.0
}

#[derive(Default)]
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn event(&mut self, event: Event) {
        self.0.push(event);
    }
    fn rejected(&mut self, _: Rejection) {}
}

fn decode(bytes: &[u8], threads: usize) -> Vec<Event> {
    let mut ingestor = Ingestor::new(IngestOptions {
        threads,
        ..IngestOptions::default()
    });
    let mut sink = Collect::default();
    ingestor.run_reader("bench", Box::new(Cursor::new(bytes.to_vec())), &mut sink);
    sink.0
}

fn benches(c: &mut Criterion) {
    let lines = corpus();
    let mut jsonl = Vec::new();
    for l in &lines {
        jsonl.extend_from_slice(l);
        jsonl.push(b'\n');
    }
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma/rules/cloud");
    let (set, _) = RuleSet::load_paths(&[rules], &Config::builtin());
    let mapping = Mapping::builtin();

    let mut g = c.benchmark_group("prefilter");
    g.throughput(Throughput::Bytes(jsonl.len() as u64));
    let mut interest = SigmaDetector::new(&set, &mapping).interest();
    interest.union(builtin_interest(&ioc::storm_0558()));
    let prefilter = interest.compile().expect("a prefilter");
    g.bench_function("wants/cloud+builtins", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| prefilter.wants(black_box(l)))
                .count()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("jsonl/1-thread", |b| {
        b.iter(|| decode(black_box(&jsonl), 1).len())
    });
    g.finish();

    // The mail reads, whole (parse + normalize) and narrow (what the mail analysis reads).
    let mail: Vec<&Vec<u8>> = lines
        .iter()
        .filter(|l| prefilter.classify(l) == Want::Narrow)
        .collect();
    let origin = || Origin {
        file: "bench".into(),
        position: Position::Line(1),
    };
    let mut g = c.benchmark_group("mail-read");
    g.throughput(Throughput::Elements(mail.len() as u64));
    g.bench_function("whole", |b| {
        b.iter(|| {
            mail.iter()
                .filter_map(|l| serde_json::from_slice(black_box(l)).ok())
                .filter_map(|v| normalize::normalize(v, origin()).ok())
                .count()
        })
    });
    // One reader over all the lines, as hunt reads a chunk (it remembers their keys).
    g.bench_function("narrow", |b| {
        b.iter(|| {
            let mut reader = narrow::Reader::new(None);
            mail.iter()
                .filter_map(|l| reader.read(black_box(l), origin()))
                .count()
        })
    });
    // What hunt does per mail line with the cloud rules and the built-ins: the gate's scan
    // and the narrow reading, or (with the prefilter's narrow check) the reading first,
    // looking at the covered fields only.
    g.bench_function("gate+narrow", |b| {
        b.iter(|| {
            mail.iter()
                .filter(|l| prefilter.classify(black_box(l)) == Want::Narrow)
                .filter_map(|l| narrow::mail_read(l, origin()))
                .count()
        })
    });
    let check = prefilter.narrow_check();
    assert!(
        check.is_some(),
        "the cloud rules and the built-ins leave a check"
    );
    g.bench_function("checked", |b| {
        b.iter(|| {
            let mut reader = narrow::Reader::new(check);
            mail.iter()
                .filter(|l| check.is_some_and(|c| c.hinted(black_box(l))))
                .filter_map(|l| reader.read(l, origin()))
                .count()
        })
    });
    g.finish();

    let events = decode(&jsonl, 1);
    let mut g = c.benchmark_group("sigma");
    g.throughput(Throughput::Elements(events.len() as u64));
    for (name, fast) in [("fast", true), ("plain", false)] {
        g.bench_function(format!("cloud-rules/{name}"), |b| {
            b.iter(|| {
                let mut d = if fast {
                    SigmaDetector::new(&set, &mapping)
                } else {
                    SigmaDetector::plain(&set, &mapping)
                };
                let mut out = Vec::new();
                for e in &events {
                    d.observe(e, &mut out);
                }
                out.len()
            })
        });
    }
    g.finish();

    // Startup with the whole SigmaHQ tree: loading and compiling the rules, the Sigma
    // detector's routes and index, and the prefilter (docs/performance.md §2).
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma/rules");
    let mut g = c.benchmark_group("load");
    g.bench_function("whole-tree+prefilter", |b| {
        b.iter(|| {
            let (set, _) =
                RuleSet::load_paths(black_box(std::slice::from_ref(&tree)), &Config::builtin());
            let mut interest = SigmaDetector::new(&set, &mapping).interest();
            interest.union(builtin_interest(&ioc::storm_0558()));
            interest.compile().map(|p| p.literal_count())
        })
    });
    g.finish();
}

criterion_group! {
    name = hunt_path;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(hunt_path);
