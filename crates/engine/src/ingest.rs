//! Driving sources → decode → normalize over a set of inputs, and keeping the books.
//!
//! Every record framed from an input ends as exactly one of: an [`Event`] handed to the sink, or a
//! [`Rejection`] handed to the sink with its location and reason. So
//! `records read = events + rejected` holds by construction, and [`IngestStats`] proves it. An
//! input that cannot be opened is reported and counted separately; it never stops the run.

use crate::decode::{self, Framed, Layout};
use crate::event::{Event, Origin, Position};
use crate::normalize;
use crate::source::{self, Input, Limits};
use std::fmt;
use std::sync::atomic::Ordering;

/// A record that could not be read, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub origin: Origin,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.reason)
    }
}

/// Where events, rejections and progress go.
pub trait Sink {
    fn event(&mut self, event: Event);
    fn rejected(&mut self, rejection: Rejection);
    /// An input could not be opened or read at all.
    fn input_failed(&mut self, _input: &Input, _error: &str) {}
    /// A file found in a directory was not a log (neither JSON nor CSV) and was skipped.
    fn input_skipped(&mut self, _input: &Input, _why: &str) {}
    /// An input was read; its layout and encoding, for summaries.
    fn input_done(&mut self, _input: &Input, _layout: Layout, _how: &InputInfo) {}
    /// Raw bytes consumed so far across all inputs (for a progress bar).
    fn progress(&mut self, _bytes: u64) {}
}

/// How an input was read.
#[derive(Debug, Clone, Default)]
pub struct InputInfo {
    pub compression: &'static str,
    pub encoding: &'static str,
    pub records: u64,
    pub rejected: u64,
}

/// Options for a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    pub limits: Limits,
}

/// Counts kept over a run. `records_read == events + rejected` always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub inputs: u64,
    pub inputs_failed: u64,
    /// Files found in directories that were not logs (skipped with a note).
    pub inputs_skipped: u64,
    pub records_read: u64,
    pub events: u64,
    pub rejected: u64,
    pub bytes: u64,
}

/// Reads inputs into a [`Sink`].
#[derive(Debug, Default)]
pub struct Ingestor {
    pub options: IngestOptions,
    pub stats: IngestStats,
}

impl Ingestor {
    pub fn new(options: IngestOptions) -> Self {
        Ingestor {
            options,
            stats: IngestStats::default(),
        }
    }

    /// Reads every input in order.
    pub fn run(&mut self, inputs: &[Input], sink: &mut dyn Sink) {
        for input in inputs {
            self.run_one(input, sink);
        }
    }

    /// Reads one input.
    pub fn run_one(&mut self, input: &Input, sink: &mut dyn Sink) {
        self.stats.inputs += 1;
        let opened = match source::open(input, self.options.limits) {
            Ok(o) => o,
            Err(e) => {
                self.stats.inputs_failed += 1;
                sink.input_failed(input, &e.to_string());
                return;
            }
        };
        self.read_opened(input, opened, sink);
    }

    /// Reads any byte stream as an input named `name` (tests, fuzzing, HTTP bodies).
    pub fn run_reader(
        &mut self,
        name: &str,
        reader: Box<dyn std::io::Read + Send>,
        sink: &mut dyn Sink,
    ) {
        let input = Input {
            name: name.into(),
            path: None,
            size: None,
            explicit: true,
        };
        self.stats.inputs += 1;
        match source::open_reader(reader, self.options.limits) {
            Ok(opened) => self.read_opened(&input, opened, sink),
            Err(e) => {
                self.stats.inputs_failed += 1;
                sink.input_failed(&input, &format!("{name}: {e}"));
            }
        }
    }

    fn read_opened(&mut self, input: &Input, mut opened: source::Opened, sink: &mut dyn Sink) {
        let base = self.stats.bytes;
        let mut info = InputInfo {
            compression: opened.compression,
            encoding: opened.encoding,
            ..InputInfo::default()
        };
        let mut last = Position::Line(0);
        let stats = &mut self.stats;
        let consumed = opened.consumed.clone();
        let mut emit = |framed: Framed| {
            stats.records_read += 1;
            info.records += 1;
            match framed {
                Framed::Record(value, position) => {
                    last = position;
                    let origin = Origin {
                        file: input.name.clone(),
                        position,
                    };
                    match normalize::normalize(value, origin.clone()) {
                        Ok(event) => {
                            stats.events += 1;
                            sink.event(event);
                        }
                        Err(reason) => {
                            stats.rejected += 1;
                            info.rejected += 1;
                            sink.rejected(Rejection { origin, reason });
                        }
                    }
                }
                Framed::Bad(position, reason) => {
                    last = position;
                    stats.rejected += 1;
                    info.rejected += 1;
                    let origin = Origin {
                        file: input.name.clone(),
                        position,
                    };
                    sink.rejected(Rejection { origin, reason });
                }
            }
            if stats.records_read.is_multiple_of(4096) {
                sink.progress(base + consumed.load(Ordering::Relaxed));
            }
        };
        let result = decode::sniff(&mut opened.reader).and_then(|sniffed| {
            if sniffed.layout == Layout::Unknown && !input.explicit {
                return Ok(None);
            }
            decode::read(sniffed, &mut opened.reader, &mut emit).map(Some)
        });
        if let Ok(None) = result {
            self.stats.inputs_skipped += 1;
            sink.input_skipped(input, "not a log (neither JSON nor CSV)");
            return;
        }
        let result = result.map(|layout| layout.unwrap_or(Layout::Unknown));
        let layout = match result {
            Ok(layout) => layout,
            Err(e) => {
                // The input ended early (truncated stream, bomb, I/O error): what was read stands;
                // the record being read when it failed is counted as rejected.
                self.stats.records_read += 1;
                self.stats.rejected += 1;
                info.records += 1;
                info.rejected += 1;
                let position = match last {
                    Position::Line(l) | Position::LineRecord(l, _) => Position::Line(l + 1),
                    Position::Record(n) => Position::Record(n + 1),
                };
                let reason = describe_io(&e, opened.compression);
                sink.rejected(Rejection {
                    origin: Origin {
                        file: input.name.clone(),
                        position,
                    },
                    reason,
                });
                Layout::Unknown
            }
        };
        self.stats.bytes = base + opened.consumed.load(Ordering::Relaxed);
        sink.progress(self.stats.bytes);
        sink.input_done(input, layout, &info);
    }
}

fn describe_io(e: &std::io::Error, compression: &str) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof if compression != "none" => {
            format!("input ends early: the {compression} stream is truncated; the rest is lost")
        }
        _ => format!("read failed, the rest of this input is lost: {e}"),
    }
}
