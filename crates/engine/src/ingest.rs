//! Driving sources → decode → normalize over a set of inputs, and keeping the books.
//!
//! Every record framed from an input ends as exactly one of: an [`Event`] handed to the sink, or a
//! [`Rejection`] handed to the sink with its location and reason. So
//! `records read = events + rejected` holds by construction, and [`IngestStats`] proves it. An
//! input that cannot be opened is reported and counted separately; it never stops the run.
//!
//! With a [`Prefilter`] (hunt's witness prefilter), JSON-lines records no detector can want are
//! counted as read and as prefiltered without being parsed: then
//! `records read = events + rejected + prefiltered`. Lines it finds wanted only by the mail
//! analysis are read narrowly ([`crate::normalize::narrow`]) and handed to
//! [`Sink::mail_read`] where [`IngestOptions::narrow`] asks for it; they count as events. With
//! the prefilter's [`crate::prefilter::NarrowCheck`], mail lines are read narrowly before the
//! prefilter scans them, and only those the check gives back are scanned.

use crate::decode::chunks::{Chunk, ChunkReader};
use crate::decode::json::frame_line;
use crate::decode::{self, Framed, Layout};
use crate::detect::mailbox::MailRead;
use crate::event::{Event, Origin, Position};
use crate::normalize::{self, narrow};
use crate::prefilter::{Prefilter, Want};
use crate::source::{self, Input, Limits};
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

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
    /// A `MailItemsAccessed` or `UserLoggedIn` record read narrowly ([`Want::Narrow`],
    /// [`narrow`]): what the mail analysis reads of it, for the mail analysis alone. Only sent with
    /// [`IngestOptions::narrow`] set, which a sink must not set without handling these. Lent,
    /// not given: each layer of a sink copied the record (344 bytes) when it was moved,
    /// about 1% of hunt's time (perf).
    fn mail_read(&mut self, _read: &MailRead) {}
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
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    pub limits: Limits,
    /// Worker threads for JSON-lines input (1: read on the calling thread only).
    pub threads: usize,
    /// Read narrowly the lines the prefilter wants only for the mail analysis, handing them
    /// to [`Sink::mail_read`] (off: such lines are parsed whole, as events).
    pub narrow: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            limits: Limits::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            narrow: false,
        }
    }
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
    /// Records skipped unparsed by the prefilter (JSON lines no detector can want).
    pub prefiltered: u64,
    /// Of the events, those read narrowly for the mail analysis ([`Sink::mail_read`]).
    pub narrow: u64,
    pub bytes: u64,
}

/// Reads inputs into a [`Sink`].
#[derive(Debug)]
pub struct Ingestor {
    pub options: IngestOptions,
    pub stats: IngestStats,
    /// Skips JSON lines no detector wants, unparsed (chunked JSON-lines reading only).
    pub prefilter: Option<Arc<Prefilter>>,
}

impl Ingestor {
    pub fn new(options: IngestOptions) -> Self {
        Ingestor {
            options,
            stats: IngestStats::default(),
            prefilter: None,
        }
    }

    /// An ingestor that skips, unparsed, the JSON lines `prefilter` does not want.
    pub fn with_prefilter(options: IngestOptions, prefilter: Option<Arc<Prefilter>>) -> Self {
        Ingestor {
            prefilter,
            ..Ingestor::new(options)
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
        let mut books = Books {
            stats: &mut self.stats,
            info: InputInfo {
                compression: opened.compression,
                encoding: opened.encoding,
                ..InputInfo::default()
            },
            last: Position::Line(0),
        };
        let consumed = opened.consumed.clone();
        let progress = |sink: &mut dyn Sink| sink.progress(base + consumed.load(Ordering::Relaxed));
        let threads = self.options.threads.max(1);
        let prefilter = self.prefilter.clone();
        let result = decode::sniff(&mut opened.reader).and_then(|mut sniffed| {
            if sniffed.layout == Layout::Unknown && !input.explicit {
                return Ok(None);
            }
            if sniffed.layout == Layout::JsonLines && (threads > 1 || prefilter.is_some()) {
                let first = sniffed.first_line.take();
                let mut chunks = ChunkReader::new(&mut opened.reader, first);
                read_chunks(
                    &mut chunks,
                    threads,
                    prefilter.as_deref().map(|p| Filter {
                        prefilter: p,
                        narrow: self.options.narrow,
                    }),
                    &input.name,
                    &mut books,
                    sink,
                    &progress,
                )?;
                return Ok(Some(Layout::JsonLines));
            }
            let mut emit = |framed: Framed| {
                books.account(outcome(framed, &input.name), sink);
                if books.stats.records_read.is_multiple_of(4096) {
                    progress(sink);
                }
            };
            decode::read(sniffed, &mut opened.reader, &mut emit).map(Some)
        });
        let layout = match result {
            Ok(None) => {
                self.stats.inputs_skipped += 1;
                sink.input_skipped(input, "not a log (neither JSON nor CSV)");
                return;
            }
            Ok(Some(layout)) => layout,
            Err(e) => {
                // The input ended early (truncated stream, bomb, I/O error): what was read stands;
                // the record being read when it failed is counted as rejected.
                let position = match books.last {
                    Position::Line(l) | Position::LineRecord(l, _) => Position::Line(l + 1),
                    Position::Record(n) => Position::Record(n + 1),
                };
                let reason = describe_io(&e, opened.compression);
                let origin = Origin {
                    file: input.name.clone(),
                    position,
                };
                books.account(Outcome::Rejected(Rejection { origin, reason }), sink);
                Layout::Unknown
            }
        };
        let info = books.info;
        self.stats.bytes = base + opened.consumed.load(Ordering::Relaxed);
        sink.progress(self.stats.bytes);
        sink.input_done(input, layout, &info);
    }
}

/// A framed record after normalization. Most outcomes are events, so boxing them to shrink
/// the rare rejection would cost an allocation per record for nothing.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Event(Event),
    Rejected(Rejection),
    /// Read but not parsed: the prefilter found nothing any detector wants on the line.
    Skipped(Position),
    /// Read narrowly, for the mail analysis only ([`Want::Narrow`]).
    Mail(MailRead),
}

/// Normalizes a framed record (runs on worker threads for chunked input).
fn outcome(framed: Framed, file: &Arc<str>) -> Outcome {
    match framed {
        Framed::Record(value, position) => {
            let origin = Origin {
                file: file.clone(),
                position,
            };
            match normalize::normalize(value, origin.clone()) {
                Ok(event) => Outcome::Event(event),
                Err(reason) => Outcome::Rejected(Rejection { origin, reason }),
            }
        }
        Framed::Bad(position, reason) => Outcome::Rejected(Rejection {
            origin: Origin {
                file: file.clone(),
                position,
            },
            reason,
        }),
    }
}

/// The counts of one input, kept as outcomes reach the sink, in input order.
struct Books<'s> {
    stats: &'s mut IngestStats,
    info: InputInfo,
    last: Position,
}

impl Books<'_> {
    fn account(&mut self, outcome: Outcome, sink: &mut dyn Sink) {
        self.count_read();
        match outcome {
            Outcome::Event(event) => {
                self.last = event.origin.position;
                self.stats.events += 1;
                sink.event(event);
            }
            Outcome::Rejected(rejection) => {
                self.last = rejection.origin.position;
                self.stats.rejected += 1;
                self.info.rejected += 1;
                sink.rejected(rejection);
            }
            Outcome::Mail(read) => self.mail_read(&read, sink),
            Outcome::Skipped(position) => {
                self.last = position;
                self.stats.prefiltered += 1;
            }
        }
    }

    fn count_read(&mut self) {
        self.stats.records_read += 1;
        self.info.records += 1;
    }

    fn mail_read(&mut self, read: &MailRead, sink: &mut dyn Sink) {
        self.last = read.origin.position;
        self.stats.events += 1;
        self.stats.narrow += 1;
        sink.mail_read(read);
    }

    /// [`Books::account`] of a chunk's outcomes, in order, lending the mail reads (most of a
    /// chunk) where they lie rather than moving each out of the list.
    fn account_all(&mut self, outcomes: &mut [Outcome], sink: &mut dyn Sink) {
        for outcome in outcomes {
            match outcome {
                Outcome::Mail(read) => {
                    self.count_read();
                    self.mail_read(read, sink);
                }
                // Given away: a stand-in takes its place, dropped with the list.
                given => {
                    let stand_in = Outcome::Skipped(Position::Line(0));
                    self.account(std::mem::replace(given, stand_in), sink);
                }
            }
        }
    }
}

/// Chunks in flight a worker thread: read and waiting, being framed, or framed and waiting
/// for the sink (see [`read_chunks`]).
const CHUNKS_A_THREAD: usize = 4;

/// JSON lines on all cores: each line-aligned chunk is framed and normalized as a task of its
/// own on the worker threads, while the calling thread reads the next chunks and hands the
/// framed ones to the sink (the detectors) in input order, as they come. Up to
/// [`CHUNKS_A_THREAD`] chunks a thread are in flight, so a worker finds the next chunk waiting
/// and never waits for a slower one to finish a batch (benches/RESULTS.md). Memory: those
/// chunks (512 KiB of lines each) and what they become.
fn read_chunks(
    chunks: &mut ChunkReader<'_>,
    threads: usize,
    filter: Option<Filter<'_>>,
    file: &Arc<str>,
    books: &mut Books<'_>,
    sink: &mut dyn Sink,
    progress: &dyn Fn(&mut dyn Sink),
) -> std::io::Result<()> {
    let window = (threads * CHUNKS_A_THREAD) as u64;
    type Done = std::thread::Result<Vec<Outcome>>;
    let (done, finished) = mpsc::channel::<(u64, Done, Chunk)>();
    // Framed chunks that came before an earlier one, by number.
    let mut early: BTreeMap<u64, Vec<Outcome>> = BTreeMap::new();
    let (mut sent, mut handed) = (0u64, 0u64);
    let (mut failure, mut end) = (None, false);
    rayon::in_place_scope(|s| loop {
        while !end && failure.is_none() && sent - handed < window {
            match chunks.next_chunk() {
                Ok(Some(chunk)) => {
                    let (done, number) = (done.clone(), sent);
                    s.spawn(move |_| {
                        // A panic is handed over, to be raised on the calling thread, so
                        // that the calling thread never waits for a chunk that will not come.
                        let framed = panic::catch_unwind(AssertUnwindSafe(|| {
                            frame_chunk(&chunk, filter, file)
                        }));
                        // The receiver lives until every chunk sent is handed over.
                        let _ = done.send((number, framed, chunk));
                    });
                    sent += 1;
                }
                Ok(None) => end = true,
                Err(e) => failure = Some(e),
            }
        }
        if handed == sent {
            break;
        }
        let (number, framed, chunk) = finished
            .recv()
            .expect("each chunk sent is sent back framed");
        chunks.recycle(chunk);
        early.insert(number, framed.unwrap_or_else(|p| panic::resume_unwind(p)));
        while let Some(mut outcomes) = early.remove(&handed) {
            books.account_all(&mut outcomes, sink);
            // Freed on a worker thread, where the records' strings were allocated: freed here,
            // each went back to its thread through the allocator's cross-thread list.
            s.spawn(move |_| drop(outcomes));
            handed += 1;
        }
        progress(sink);
    });
    match failure {
        Some(e) => {
            books.last = Position::Line(chunks.next_line().saturating_sub(1));
            Err(e)
        }
        None => Ok(()),
    }
}

/// The prefilter of a chunked read, and whether lines it wants only for the mail analysis are
/// read narrowly.
#[derive(Clone, Copy)]
struct Filter<'p> {
    prefilter: &'p Prefilter,
    narrow: bool,
}

/// Frames and normalizes one chunk (on a worker thread).
fn frame_chunk(chunk: &Chunk, filter: Option<Filter<'_>>, file: &Arc<str>) -> Vec<Outcome> {
    // The chunk's records name their file through a copy of its name of their own: every
    // record holds a reference, and counting them up here and down on the detector thread in
    // one count shared by all chunks moved its cache line between the cores at every record.
    let file: &Arc<str> = &Arc::from(&**file);
    let Some(f) = filter else {
        let mut out = Vec::new();
        chunk.frame(&mut |framed| out.push(outcome(framed, file)));
        return out;
    };
    let lines: Vec<(u64, &[u8], bool)> = chunk.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    let origin = |number| Origin {
        file: file.clone(),
        position: Position::Line(number),
    };
    // Mail lines are read narrowly first where the prefilter's check allows it
    // (`prefilter::NarrowCheck`); the gate scans the rest.
    // One reader for each way of reading, over the whole chunk: it remembers the lines' keys.
    let check = f.prefilter.narrow_check().filter(|_| f.narrow);
    let mut checked = narrow::Reader::new(check);
    let read_first: Vec<Option<MailRead>> = lines
        .iter()
        .map(|&(number, line, cut)| {
            check.filter(|c| !cut && c.hinted(line))?;
            checked.read(line, origin(number))
        })
        .collect();
    // A line cut for length is scanned as an empty one: wanted whole (rejected).
    let texts: Vec<&[u8]> = lines
        .iter()
        .zip(&read_first)
        .filter(|(_, first)| first.is_none())
        .map(|(&(_, line, cut), _)| if cut { &[][..] } else { line })
        .collect();
    let mut wants = f.prefilter.classify_all(&texts).into_iter();
    let mut unchecked = narrow::Reader::new(None);
    for (&(number, line, cut), first) in lines.iter().zip(read_first) {
        if let Some(read) = first {
            out.push(Outcome::Mail(read));
            continue;
        }
        let position = Position::Line(number);
        let read = match wants.next().unwrap_or(Want::Whole) {
            Want::Skip => {
                out.push(Outcome::Skipped(position));
                continue;
            }
            Want::Narrow if f.narrow => unchecked.read(line, origin(number)),
            // Wanted whole, or narrowly where this read does not ask for it.
            Want::Narrow | Want::Whole => None,
        };
        match read {
            Some(read) => out.push(Outcome::Mail(read)),
            None => frame_line(line, number, cut, &mut |framed| {
                out.push(outcome(framed, file))
            }),
        }
    }
    out
}

fn describe_io(e: &std::io::Error, compression: &str) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof if compression != "none" => {
            format!("input ends early: the {compression} stream is truncated; the rest is lost")
        }
        _ => format!("read failed, the rest of this input is lost: {e}"),
    }
}
