//! stormwatch's pipeline, one direction: sources → decode → [`Event`] → detectors → alerts → sinks.
//!
//! This crate owns everything between a path on disk and a normalized event, so every later stage
//! (Sigma rules, behavioural detectors, `inspect`, `dump`, the service) sees logs the same way:
//!
//! * [`source`] expands paths (files, directories, `-` for stdin) and opens them, undoing gzip and
//!   zstd by their magic bytes with a guard against decompression bombs.
//! * [`decode`] decides the layout from the content (JSON lines, arrays, concatenated or
//!   pretty-printed values, envelopes, Purview and Sentinel CSV) and frames records, each with its
//!   location, or a rejection naming the location and the reason.
//! * [`normalize`] recognises the log kind, unwraps what exports wrap (`AuditData`, Elastic's
//!   `o365audit`), folds Name/Value bags into objects, parses JSON-in-strings and extracts the core
//!   fields once.
//! * [`ingest`] drives the three over a set of inputs and keeps the books: every record read is
//!   either an event or a rejection, never silently dropped.
//! * [`prefilter`] decides from raw line bytes whether any detector of a run could want a
//!   record, so `hunt` parses only those (the witness prefilter).
//! * [`alert`] is the detection record every detector produces; [`sink`] writes detections as a
//!   table, CSV, JSON, JSON lines or a standalone HTML report.

pub mod alert;
pub mod decode;
pub mod detect;
pub mod event;
pub mod incident;
pub mod ingest;
pub mod normalize;
pub mod prefilter;
pub mod sink;
pub mod source;
pub mod summary;

pub use alert::{Alert, Level, RuleKind, RuleRef};
pub use event::{CoreFields, Event, LogKind, Origin, Position};
pub use ingest::{IngestOptions, IngestStats, Ingestor, Rejection};
