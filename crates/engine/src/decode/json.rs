//! JSON layouts: JSON lines, arrays, and streams of concatenated (pretty-printed) values.

use super::{open_envelope, Contents, Framed};
use crate::event::Position;
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::io::{self, BufRead};

/// Longest line accepted in JSON-lines input; longer lines are rejected, not buffered.
pub const MAX_LINE: usize = 256 << 20;

/// Reads one line (without its `\n`) into `buf`, never holding more than `cap` bytes: the excess
/// of an over-long line is read and discarded. Returns `None` at end of input, otherwise whether
/// the line was cut.
pub fn read_line_bounded(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    append_line_bounded(reader, buf, cap)
}

/// Like [`read_line_bounded`], but appends to `buf`; `cap` bounds the appended line.
pub fn append_line_bounded(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    let start = buf.len();
    let mut seen_any = false;
    let mut cut = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(seen_any.then_some(cut));
        }
        seen_any = true;
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        let room = cap.saturating_sub(buf.len() - start);
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(cut));
        }
    }
}

/// Describes a JSON syntax error for a `FILE:LINE: reason` message.
fn describe(e: &serde_json::Error, single_line: bool) -> String {
    let what = e.to_string();
    // serde_json appends " at line L column C"; on one line only the column means anything.
    let what = match what.rfind(" at line ") {
        Some(i) => what[..i].to_string(),
        None => what,
    };
    if single_line {
        format!("invalid JSON: {what} at column {}", e.column())
    } else {
        format!("invalid JSON: {what}")
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else { return &[] };
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .unwrap_or(start);
    &bytes[start..=end]
}

/// Emits a parsed value, opening envelopes: an envelope's items are numbered within it.
/// An envelope that opens a pretty-printed file (`at_start`) numbers its items as the file's
/// records (`#N`); on a line of JSON lines, as that line's (`L#N`).
fn emit_value(value: Value, at: Position, at_start: bool, emit: &mut dyn FnMut(Framed)) {
    match open_envelope(value) {
        Contents::One(v) => emit(Framed::Record(v, at)),
        Contents::Many(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let n = i as u64 + 1;
                let pos = match at {
                    _ if at_start => Position::Record(n),
                    Position::Record(_) => Position::Record(n),
                    Position::Line(l) | Position::LineRecord(l, _) => Position::LineRecord(l, n),
                };
                emit(Framed::Record(item, pos));
            }
        }
    }
}

/// Whether a first line starting with `{` opens a multi-line (pretty-printed) value rather
/// than holding one whole value.
pub fn opens_pretty_value(first_line: &[u8], cut: bool) -> bool {
    !cut && matches!(
        serde_json::from_slice::<Value>(trim(first_line)),
        Err(e) if e.classify() == serde_json::error::Category::Eof
    )
}

/// A stream of (pretty-printed) values whose first line has been read already.
pub fn read_pretty(
    reader: &mut dyn BufRead,
    mut data: Vec<u8>,
    emit: &mut dyn FnMut(Framed),
) -> io::Result<()> {
    data.push(b'\n');
    reader.read_to_end(&mut data)?;
    read_stream(&data, emit);
    Ok(())
}

/// Frames one line of JSON lines: blank lines hold nothing, a cut line is rejected, anything
/// else must be exactly one JSON value (an envelope yields its items).
pub fn frame_line(line: &[u8], number: u64, cut: bool, emit: &mut dyn FnMut(Framed)) {
    if cut {
        let reason = format!("line longer than {} MiB", MAX_LINE >> 20);
        emit(Framed::Bad(Position::Line(number), reason));
        return;
    }
    let text = trim(line);
    if text.is_empty() {
        return;
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(v) => emit_value(v, Position::Line(number), false, emit),
        Err(e) => emit(Framed::Bad(Position::Line(number), describe(&e, true))),
    }
}

/// JSON lines, sequentially. `line` is line 1, already read.
pub fn read_lines_after(
    reader: &mut dyn BufRead,
    mut line: Vec<u8>,
    mut cut: bool,
    emit: &mut dyn FnMut(Framed),
) -> io::Result<()> {
    let mut number = 1u64;
    loop {
        frame_line(&line, number, cut, emit);
        match read_line_bounded(reader, &mut line, MAX_LINE)? {
            Some(c) => cut = c,
            None => return Ok(()),
        }
        number += 1;
    }
}

/// Counts lines up to a byte offset, incrementally (offsets only grow).
struct LineCounter<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.data.len());
        if offset > self.pos {
            self.line += memchr::memchr_iter(b'\n', &self.data[self.pos..offset]).count() as u64;
            self.pos = offset;
        }
        self.line
    }
}

/// Concatenated values; after a syntax error, resumes at the next line starting with `{`.
fn read_stream(data: &[u8], emit: &mut dyn FnMut(Framed)) {
    let mut lines = LineCounter {
        data,
        pos: 0,
        line: 1,
    };
    let mut offset = 0usize;
    while let Some(skip) = data[offset..].iter().position(|b| !b.is_ascii_whitespace()) {
        let start = offset + skip;
        let line = lines.line_at(start);
        let mut values = serde_json::Deserializer::from_slice(&data[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) => {
                offset = start + values.byte_offset();
                emit_value(v, Position::Line(line), start == 0, emit);
            }
            Some(Err(e)) => {
                let at = line + e.line() as u64 - 1;
                let reason = format!(
                    "{} (at line {at} column {})",
                    describe(&e, false),
                    e.column()
                );
                emit(Framed::Bad(Position::Line(line), reason));
                offset = match memchr::memmem::find(&data[start + 1..], b"\n{") {
                    Some(i) => start + 1 + i + 1,
                    None => data.len(),
                };
            }
            None => break,
        }
    }
}

/// A JSON array, element by element. A syntax error inside the array ends it (JSON has no
/// way to find the next element reliably); the error names the element and line.
pub fn read_array(reader: &mut dyn BufRead, emit: &mut dyn FnMut(Framed)) -> io::Result<()> {
    let mut data = Vec::new();
    reader.read_to_end(&mut data)?;
    let mut each = EachElement { emit, count: 0 };
    let mut de = serde_json::Deserializer::from_slice(&data);
    let result = (&mut de).deserialize_seq(&mut each).and_then(|()| de.end());
    if let Err(e) = result {
        let n = each.count + 1;
        let reason = format!(
            "{} (at line {} column {}); the rest of the array could not be read",
            describe(&e, false),
            e.line(),
            e.column()
        );
        (each.emit)(Framed::Bad(Position::Record(n), reason));
    }
    Ok(())
}

struct EachElement<'a> {
    emit: &'a mut dyn FnMut(Framed),
    count: u64,
}

impl<'de> Visitor<'de> for &mut EachElement<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.count += 1;
            match open_envelope(v) {
                Contents::One(v) => (self.emit)(Framed::Record(v, Position::Record(self.count))),
                Contents::Many(items) => {
                    // An envelope inside an array: its items continue the numbering.
                    let mut items = items.into_iter().peekable();
                    while let Some(item) = items.next() {
                        (self.emit)(Framed::Record(item, Position::Record(self.count)));
                        if items.peek().is_some() {
                            self.count += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
