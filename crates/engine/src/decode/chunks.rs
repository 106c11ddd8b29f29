//! Line-aligned chunks of JSON-lines input, so framing and normalization can run on all cores
//! while the input is read once, in order, with bounded memory.

use super::json::{append_line_bounded, frame_line, MAX_LINE};
use super::Framed;
use std::io::{self, BufRead};

/// About this many bytes of whole lines make a chunk.
pub const CHUNK_BYTES: usize = 1 << 19;

/// Whole lines, with the number of the first.
pub struct Chunk {
    data: Vec<u8>,
    /// (start, end, cut) of each line in `data`.
    lines: Vec<(usize, usize, bool)>,
    first_line: u64,
}

impl Chunk {
    /// Frames every line of the chunk, in order.
    pub fn frame(&self, emit: &mut dyn FnMut(Framed)) {
        for (number, line, cut) in self.lines() {
            frame_line(line, number, cut, emit);
        }
    }

    /// Each line: its number, its bytes (without the newline), and whether it was cut for
    /// length.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8], bool)> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, &(start, end, cut))| {
                (self.first_line + i as u64, &self.data[start..end], cut)
            })
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Cuts a reader into chunks. An I/O error is returned after the lines read before it.
pub struct ChunkReader<'r> {
    reader: &'r mut dyn BufRead,
    next_line: u64,
    first: Option<(Vec<u8>, bool)>,
    pending: Option<io::Error>,
    done: bool,
}

impl<'r> ChunkReader<'r> {
    /// `first` is line 1 when it was read already (by layout sniffing).
    pub fn new(reader: &'r mut dyn BufRead, first: Option<(Vec<u8>, bool)>) -> Self {
        ChunkReader {
            reader,
            next_line: 1,
            first,
            pending: None,
            done: false,
        }
    }

    /// The next chunk; `Ok(None)` at the end of input.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut chunk = Chunk {
            data: Vec::with_capacity(CHUNK_BYTES + (64 << 10)),
            lines: Vec::new(),
            first_line: self.next_line,
        };
        if let Some((line, cut)) = self.first.take() {
            chunk.data.extend_from_slice(&line);
            chunk.lines.push((0, line.len(), cut));
            self.next_line += 1;
        }
        while chunk.data.len() < CHUNK_BYTES {
            let start = chunk.data.len();
            match append_line_bounded(self.reader, &mut chunk.data, MAX_LINE) {
                Ok(Some(cut)) => {
                    chunk.lines.push((start, chunk.data.len(), cut));
                    self.next_line += 1;
                }
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    chunk.data.truncate(start);
                    self.pending = Some(e);
                    break;
                }
            }
        }
        if chunk.is_empty() {
            return match self.pending.take() {
                Some(e) => {
                    self.done = true;
                    Err(e)
                }
                None => Ok(None),
            };
        }
        Ok(Some(chunk))
    }

    /// The number the next line will have (for positioning an error after the last chunk).
    pub fn next_line(&self) -> u64 {
        self.next_line
    }
}
