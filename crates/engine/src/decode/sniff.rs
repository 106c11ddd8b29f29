//! Deciding the layout ([`sniff`]) and dispatching to the reader for it ([`read`]).
//!
//! Split in two so a caller can look before it reads: a directory walk skips files that are not
//! logs at all (documentation beside the exports) instead of rejecting every line of them.

use super::{csv, json, Framed, Layout};
use crate::event::Position;
use std::io::{self, BufRead, Read};

const EVTX_MAGIC: &[u8] = b"ElfFile\0";
const EVTX_REASON: &str =
    "binary EVTX file: not read directly yet; convert it to JSON first (evtx_dump -o jsonl)";

/// The first look at an input: its layout, and the bytes read to decide it.
pub struct Sniffed {
    pub layout: Layout,
    /// The first line (and whether it was cut), where it had to be read to decide.
    pub first_line: Option<(Vec<u8>, bool)>,
}

/// Decides the layout from the first bytes (see the module doc of [`super`]). Leading
/// whitespace is consumed; for `{` and for anything that is not an array, the first line is
/// read (and kept for [`read`]).
pub fn sniff(reader: &mut dyn BufRead) -> io::Result<Sniffed> {
    let first = loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(Sniffed {
                layout: Layout::Empty,
                first_line: None,
            });
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let first = buf[i];
                reader.consume(i);
                break first;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    let layout = match first {
        b'[' => Layout::JsonArray,
        b'{' => {
            let mut line = Vec::new();
            let cut = json::read_line_bounded(reader, &mut line, json::MAX_LINE)?.unwrap_or(false);
            let layout = if json::opens_pretty_value(&line, cut) {
                Layout::JsonStream
            } else {
                Layout::JsonLines
            };
            return Ok(Sniffed {
                layout,
                first_line: Some((line, cut)),
            });
        }
        _ => {
            let mut line = Vec::new();
            let cut = json::read_line_bounded(reader, &mut line, json::MAX_LINE)?.unwrap_or(false);
            let layout = if line.starts_with(EVTX_MAGIC) {
                Layout::Evtx
            } else if !line.starts_with(b"#") && memchr::memchr(b',', &line).is_some() {
                Layout::Csv
            } else {
                Layout::Unknown
            };
            return Ok(Sniffed {
                layout,
                first_line: Some((line, cut)),
            });
        }
    };
    Ok(Sniffed {
        layout,
        first_line: None,
    })
}

/// Reads everything after [`sniff`], calling `emit` for each record or rejection, in input
/// order, and returns the layout as read. An I/O error (a truncated gzip stream, a bomb, a
/// vanished file) ends the input; what was framed before it has been emitted already.
pub fn read(
    sniffed: Sniffed,
    reader: &mut dyn BufRead,
    emit: &mut dyn FnMut(Framed),
) -> io::Result<Layout> {
    match (sniffed.layout, sniffed.first_line) {
        (Layout::Empty, _) => Ok(Layout::Empty),
        (Layout::JsonArray, _) => json::read_array(reader, emit).map(|()| Layout::JsonArray),
        (Layout::Evtx, _) => {
            emit(Framed::Bad(Position::Line(1), EVTX_REASON.into()));
            Ok(Layout::Evtx)
        }
        (Layout::Csv, Some((mut line, _))) => {
            line.push(b'\n');
            let mut rest = io::Cursor::new(line).chain(reader);
            csv::read_csv(&mut rest, emit)
        }
        (Layout::JsonStream, Some((line, _))) => {
            json::read_pretty(reader, line, emit).map(|()| Layout::JsonStream)
        }
        (layout, Some((line, cut))) => {
            // JSON lines; or neither JSON nor CSV, when every line is reported as the
            // malformed record it is.
            json::read_lines_after(reader, line, cut, emit).map(|()| layout)
        }
        (layout, None) => Ok(layout),
    }
}

/// [`sniff`] then [`read`].
pub fn decode(reader: &mut dyn BufRead, emit: &mut dyn FnMut(Framed)) -> io::Result<Layout> {
    let sniffed = sniff(reader)?;
    read(sniffed, reader, emit)
}
