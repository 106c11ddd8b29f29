//! Test helpers: read bytes or files through the whole ingest pipeline and collect what comes out.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use stormwatch_engine::decode::Layout;
use stormwatch_engine::ingest::{InputInfo, Sink};
use stormwatch_engine::source::{self, Input};
use stormwatch_engine::{Event, IngestOptions, IngestStats, Ingestor, Rejection};

#[derive(Default)]
pub struct Collected {
    pub events: Vec<Event>,
    pub rejections: Vec<Rejection>,
    pub failures: Vec<String>,
    pub layouts: Vec<Layout>,
    pub infos: Vec<InputInfo>,
    pub stats: IngestStats,
}

impl Collected {
    /// Rejections as `FILE:POS: reason` lines with the file name cut to its base name.
    pub fn messages(&self) -> Vec<String> {
        self.rejections
            .iter()
            .map(|r| {
                let base = Path::new(&*r.origin.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                format!("{base}:{}: {}", r.origin.position, r.reason)
            })
            .collect()
    }

    pub fn layout(&self) -> Layout {
        self.layouts[0]
    }
}

impl Sink for Collected {
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
    fn rejected(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }
    fn input_failed(&mut self, _input: &Input, error: &str) {
        self.failures.push(error.to_string());
    }
    fn input_done(&mut self, _input: &Input, layout: Layout, info: &InputInfo) {
        self.layouts.push(layout);
        self.infos.push(info.clone());
    }
}

pub fn read_paths(paths: &[PathBuf]) -> Collected {
    let inputs = source::expand(paths).expect("inputs");
    read_inputs(&inputs)
}

pub fn read_inputs(inputs: &[Input]) -> Collected {
    let mut c = Collected::default();
    let mut ingestor = Ingestor::new(IngestOptions::default());
    ingestor.run(inputs, &mut c);
    c.stats = ingestor.stats;
    assert_eq!(
        c.stats.records_read,
        c.stats.events + c.stats.rejected,
        "books must balance"
    );
    assert_eq!(c.stats.events, c.events.len() as u64);
    assert_eq!(c.stats.rejected, c.rejections.len() as u64);
    c
}

/// Writes `bytes` to a file named `name` in a fresh temp dir and reads it.
pub fn read_bytes(name: &str, bytes: &[u8]) -> Collected {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    read_paths(&[path])
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).expect("zstd")
}

pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples")
}
