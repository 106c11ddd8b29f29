//! The chunked, parallel JSON-lines path gives exactly what the sequential path gives: the
//! same events in the same order, the same rejections at the same lines.

mod common;

use common::gzip;
use stormwatch_engine::ingest::Sink;
use stormwatch_engine::{Event, IngestOptions, Ingestor, Rejection};

#[derive(Default)]
struct Seen {
    lines: Vec<String>,
}

impl Sink for Seen {
    fn event(&mut self, event: Event) {
        self.lines.push(serde_json::to_string(&event).unwrap());
    }
    fn rejected(&mut self, r: Rejection) {
        self.lines.push(format!("REJECTED {r}"));
    }
}

fn read(bytes: &[u8], threads: usize) -> (Vec<String>, stormwatch_engine::IngestStats) {
    let options = IngestOptions {
        threads,
        ..IngestOptions::default()
    };
    let mut ingestor = Ingestor::new(options);
    let mut seen = Seen::default();
    ingestor.run_reader(
        "in",
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        &mut seen,
    );
    (seen.lines, ingestor.stats)
}

fn corpus() -> Vec<u8> {
    let mut text = String::new();
    for i in 0..20_000 {
        match i % 997 {
            13 => text.push_str("{\"broken\": \n"),
            14 => text.push('\n'),
            15 => text.push_str(&format!("{{\"records\":[{{\"Workload\":\"Exchange\",\"Id\":\"e{i}a\"}},{{\"Workload\":\"Exchange\",\"Id\":\"e{i}b\"}}]}}\n")),
            _ => text.push_str(&format!(
                "{{\"CreationTime\":\"2024-02-01T16:07:34\",\"Id\":\"r{i}\",\"Operation\":\"MailItemsAccessed\",\"Workload\":\"Exchange\",\"pad\":\"{}\"}}\n",
                "x".repeat(i % 300)
            )),
        }
    }
    text.into_bytes()
}

#[test]
fn parallel_equals_sequential() {
    let bytes = corpus();
    assert!(bytes.len() > 3 << 20, "spans several chunks");
    let (one, s1) = read(&bytes, 1);
    let (four, s4) = read(&bytes, 4);
    assert_eq!(s1, s4);
    assert_eq!(one.len(), four.len());
    assert!(one == four, "outputs differ");
    assert!(one
        .iter()
        .any(|l| l.starts_with("REJECTED in:14: invalid JSON")));
    assert!(one.iter().any(|l| l.contains("\"line\":16,\"record\":2")));
}

#[test]
fn parallel_truncated_gzip_matches_sequential() {
    let full = gzip(&corpus());
    let cut = &full[..full.len() * 2 / 3];
    let (one, s1) = read(cut, 1);
    let (two, s2) = read(cut, 2);
    assert_eq!(s1, s2);
    assert!(one == two);
    let last = one.last().unwrap();
    assert!(
        last.starts_with("REJECTED in:") && last.contains("truncated"),
        "{last}"
    );
}
