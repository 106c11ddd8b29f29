//! Framing: deciding an input's layout from its content and cutting it into records.
//!
//! The layout is decided by the first bytes, never by the file name:
//! * `[` — a JSON array (Management Activity API content blobs, `jq -s` output); elements are
//!   streamed one by one.
//! * `{` on a first line that is a complete JSON value — JSON lines, one value a line; anything
//!   after the value on its line makes the line malformed (DESIGN.md).
//! * `{` opening a multi-line value — a stream of concatenated, pretty-printed values (`jq`,
//!   `evtx_dump`, a single pretty object); after a syntax error the reader resynchronises at
//!   the next line that starts with `{`.
//! * anything else with commas on the first line — CSV (Purview audit search, Sentinel).
//!
//! Envelopes (`{"value":[…]}`, `{"records":[…]}`, Elastic's `{"events":[…]}`) are opened here,
//! so one value may yield several records; what a record itself wraps is [`crate::normalize`]'s
//! job.

pub mod chunks;
mod csv;
pub(crate) mod json;
mod sniff;

pub use json::{read_line_bounded, MAX_LINE};
pub use sniff::{decode, read, sniff, Sniffed};

use crate::event::Position;
use serde_json::Value;

/// What the decoder hands on: a record with its position, or a rejection with the reason.
#[derive(Debug)]
pub enum Framed {
    Record(Value, Position),
    Bad(Position, String),
}

/// The layout an input was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    Empty,
    JsonLines,
    JsonArray,
    JsonStream,
    PurviewCsv,
    Csv,
    Evtx,
    Unknown,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Empty => "empty",
            Layout::JsonLines => "jsonl",
            Layout::JsonArray => "json-array",
            Layout::JsonStream => "json-stream",
            Layout::PurviewCsv => "purview-csv",
            Layout::Csv => "csv",
            Layout::Evtx => "evtx",
            Layout::Unknown => "unknown",
        }
    }
}

/// A value after [`open_envelope`]: one record, or the records an envelope held.
pub enum Contents {
    One(Value),
    Many(Vec<Value>),
}

/// Opens the envelopes a value may be: `{"value":[…]}` (Graph), `{"records":[…]}` (Azure
/// Monitor), `{"events":[…]}` (Elastic pipeline tests). Anything else is one record.
pub fn open_envelope(value: Value) -> Contents {
    let key = match &value {
        Value::Object(map) => ["records", "value", "events"]
            .into_iter()
            .find(|k| matches!(map.get(*k), Some(Value::Array(_))) && is_envelope(map, k)),
        _ => None,
    };
    match (key, value) {
        (Some(key), Value::Object(mut map)) => match map.remove(key) {
            Some(Value::Array(items)) => Contents::Many(items),
            _ => Contents::One(Value::Object(map)),
        },
        (_, value) => Contents::One(value),
    }
}

/// An envelope holds its array plus, at most, paging metadata (`@odata.*`, `nextLink`).
fn is_envelope(map: &serde_json::Map<String, Value>, key: &str) -> bool {
    map.keys().all(|k| {
        k == key || k.starts_with("@odata") || k.eq_ignore_ascii_case("nextLink") || k == "count"
    })
}
