//! Line-aligned chunks of JSON-lines input, so framing and normalization can run on all cores
//! while the input is read once, in order, with bounded memory.

use super::json::{frame_line, MAX_LINE};
use super::Framed;
use std::io::{self, BufRead};

/// About this many bytes of whole lines make a chunk.
pub const CHUNK_BYTES: usize = 1 << 19;

/// Whole lines, with the number of the first.
pub struct Chunk {
    /// The lines' bytes (and, past the last line, whatever an earlier chunk left there).
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
///
/// The input is read in blocks straight into the chunk, and cut into lines there: a line is
/// copied only when it runs past the end of a chunk's last block (into the next chunk). Read
/// line by line instead, through the reader's buffer, every byte was copied twice.
pub struct ChunkReader<'r> {
    reader: &'r mut dyn BufRead,
    next_line: u64,
    first: Option<(Vec<u8>, bool)>,
    /// Bytes read past the last whole line: the start of the next one.
    partial: Vec<u8>,
    /// Buffers of chunks framed already ([`ChunkReader::recycle`]).
    spare: Vec<Vec<u8>>,
    /// The next line is longer than `line_cap`: the rest of it, up to its newline, is dropped.
    cutting: bool,
    /// The most bytes of a line kept ([`MAX_LINE`]).
    line_cap: usize,
    pending: Option<io::Error>,
    done: bool,
}

/// Chunk buffers kept for reuse ([`ChunkReader::recycle`]); more than are ever in flight.
const MAX_SPARE: usize = 64;

/// Writes `bytes` at `*filled` in `data`, growing it as needed.
fn put(data: &mut Vec<u8>, filled: &mut usize, bytes: &[u8]) {
    let end = *filled + bytes.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[*filled..end].copy_from_slice(bytes);
    *filled = end;
}

/// Removes `range` from `data[..*filled]`, moving what follows it down.
fn drop_bytes(data: &mut [u8], range: std::ops::Range<usize>, filled: &mut usize) {
    data.copy_within(range.end..*filled, range.start);
    *filled -= range.len();
}

/// Bytes asked of the reader at a time: as many as the input's buffer holds, so that a
/// `BufReader` reads them straight into the chunk.
const READ_BYTES: usize = crate::source::INPUT_BUFFER;

/// The most bytes a chunk's buffer holds but for a long line carried over into it: its lines
/// stop past half a read short of [`CHUNK_BYTES`], and the read may end a read further on.
const MOST_BYTES: usize = CHUNK_BYTES + 2 * READ_BYTES;

impl<'r> ChunkReader<'r> {
    /// `first` is line 1 when it was read already (by layout sniffing).
    pub fn new(reader: &'r mut dyn BufRead, first: Option<(Vec<u8>, bool)>) -> Self {
        Self::with_line_cap(reader, first, MAX_LINE)
    }

    fn with_line_cap(
        reader: &'r mut dyn BufRead,
        first: Option<(Vec<u8>, bool)>,
        line_cap: usize,
    ) -> Self {
        ChunkReader {
            reader,
            next_line: 1,
            first,
            partial: Vec::new(),
            spare: Vec::new(),
            cutting: false,
            line_cap,
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
        // A new buffer is made as large as a chunk grows, so it is not copied as it grows.
        let mut chunk = Chunk {
            data: self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(MOST_BYTES)),
            lines: Vec::new(),
            first_line: self.next_line,
        };
        // `chunk.data` is written up to here; past it are bytes of an earlier chunk, or zeros.
        let mut filled = 0;
        if let Some((line, cut)) = self.first.take() {
            put(&mut chunk.data, &mut filled, &line);
            chunk.lines.push((0, line.len(), cut));
            self.next_line += 1;
        }
        // Where the line being read starts.
        let mut start = filled;
        put(&mut chunk.data, &mut filled, &self.partial);
        self.partial.clear();
        // Every whole line of the last block read joins the chunk: stopping half a block short
        // keeps chunks about `CHUNK_BYTES` long on average (what is in flight, and the records
        // framed from it, is what a read holds in memory).
        while start + READ_BYTES / 2 < CHUNK_BYTES {
            let old = filled;
            if chunk.data.len() < old + READ_BYTES {
                chunk.data.resize(old + READ_BYTES, 0);
            }
            let read = loop {
                match self.reader.read(&mut chunk.data[old..old + READ_BYTES]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    // The line being read is lost with the error (counted by the caller).
                    filled = start;
                    self.cutting = false;
                    self.pending = Some(e);
                    break;
                }
            };
            filled = old + n;
            if n == 0 {
                if start < filled || self.cutting {
                    self.end_line(&mut chunk, start, filled);
                    start = filled;
                }
                self.done = true;
                break;
            }
            (start, filled) = self.cut_lines(&mut chunk, start, old, filled);
        }
        self.partial.extend_from_slice(&chunk.data[start..filled]);
        if chunk.is_empty() {
            self.recycle(chunk);
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

    /// Takes a chunk back once its lines are framed, to read later ones into: memory the
    /// allocator would otherwise hand back to the system and fault in again, zeroed, for every
    /// chunk.
    pub fn recycle(&mut self, chunk: Chunk) {
        let usual = chunk.data.len() <= MOST_BYTES;
        if usual && self.spare.len() < MAX_SPARE {
            self.spare.push(chunk.data);
        }
    }

    /// Ends the lines in `data[from..filled]` (the line being read starts at `start`),
    /// dropping what a line holds past the cap; where the next line starts, and the new end.
    fn cut_lines(
        &mut self,
        chunk: &mut Chunk,
        mut start: usize,
        mut from: usize,
        mut filled: usize,
    ) -> (usize, usize) {
        loop {
            let newline = memchr::memchr(b'\n', &chunk.data[from..filled]).map(|at| from + at);
            let end = newline.unwrap_or(filled);
            // A line past the cap keeps its first `line_cap` bytes and its newline.
            let line_end = if self.cutting {
                drop_bytes(&mut chunk.data, from..end, &mut filled);
                from
            } else if end - start > self.line_cap {
                let kept = start + self.line_cap;
                drop_bytes(&mut chunk.data, kept..end, &mut filled);
                self.cutting = true;
                kept
            } else {
                end
            };
            if newline.is_none() {
                return (start, filled);
            }
            self.end_line(chunk, start, line_end);
            start = line_end + 1;
            from = start;
        }
    }

    /// Adds the line `data[start..end]` to the chunk.
    fn end_line(&mut self, chunk: &mut Chunk, start: usize, end: usize) {
        chunk.lines.push((start, end, self.cutting));
        self.cutting = false;
        self.next_line += 1;
    }

    /// The number the next line will have (for positioning an error after the last chunk).
    pub fn next_line(&self) -> u64 {
        self.next_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::read_line_bounded;
    use std::io::{BufReader, Read};

    /// Hands out at most `step(i)` bytes a read, then fails once `fail_at` bytes are out.
    struct Dribble<'a> {
        bytes: &'a [u8],
        at: usize,
        reads: usize,
        fail_at: Option<usize>,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            let end = self
                .fail_at
                .unwrap_or(self.bytes.len())
                .min(self.bytes.len());
            if self.at == end && self.fail_at.is_some() {
                return Err(io::Error::other("gone"));
            }
            // Short reads of varying size, and now and then an interruption.
            if self.reads.is_multiple_of(7) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let step = [1, 3, 4096, 70_000, 300_000, 17][self.reads % 6];
            let n = step.min(buf.len()).min(end - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Lines as `read_line_bounded` reads them one by one, and the error that ended them.
    fn one_by_one(
        bytes: &[u8],
        fail_at: Option<usize>,
        cap: usize,
    ) -> (Vec<(Vec<u8>, bool)>, bool) {
        let mut reader = BufReader::new(Dribble {
            bytes,
            at: 0,
            reads: 0,
            fail_at,
        });
        let (mut lines, mut line) = (Vec::new(), Vec::new());
        loop {
            match read_line_bounded(&mut reader, &mut line, cap) {
                Ok(Some(cut)) => lines.push((line.clone(), cut)),
                Ok(None) => return (lines, false),
                Err(_) => return (lines, true),
            }
        }
    }

    fn chunked(
        bytes: &[u8],
        fail_at: Option<usize>,
        cap: usize,
        buffer: usize,
    ) -> (Vec<(Vec<u8>, bool)>, bool) {
        let dribble = Dribble {
            bytes,
            at: 0,
            reads: 0,
            fail_at,
        };
        let mut reader = BufReader::with_capacity(buffer, dribble);
        let mut chunks = ChunkReader::with_line_cap(&mut reader, None, cap);
        let mut lines = Vec::new();
        loop {
            match chunks.next_chunk() {
                Ok(Some(chunk)) => {
                    for (number, line, cut) in chunk.lines() {
                        assert_eq!(number, lines.len() as u64 + 1, "lines numbered in order");
                        lines.push((line.to_vec(), cut));
                    }
                    // Later chunks are read over this one's bytes.
                    chunks.recycle(chunk);
                }
                Ok(None) => return (lines, false),
                Err(_) => {
                    assert_eq!(chunks.next_line(), lines.len() as u64 + 1);
                    return (lines, true);
                }
            }
        }
    }

    /// About 3 MB of lines of every length up to a few thousand bytes, some far past `cap`,
    /// some empty, with and without a last newline.
    fn corpus(last_newline: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        while bytes.len() < 3 << 20 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = match seed % 50 {
                0 => 0,
                1 => 600_000,
                2 => 5_000,
                3 => 4_000,
                4 => 4_001,
                _ => (seed >> 8) as usize % 3_000,
            };
            bytes.extend((0..len).map(|i| b'a' + (i % 26) as u8));
            bytes.push(b'\n');
        }
        if !last_newline {
            bytes.extend_from_slice(b"{\"no\":\"newline\"}");
        }
        bytes
    }

    #[test]
    fn chunks_hold_the_lines_read_one_by_one() {
        for last_newline in [true, false] {
            let bytes = corpus(last_newline);
            for (cap, buffer) in [
                (MAX_LINE, READ_BYTES),
                (4_000, READ_BYTES),
                (4_000, 64),
                (1, 8 << 10),
            ] {
                let (want, _) = one_by_one(&bytes, None, cap);
                let (got, failed) = chunked(&bytes, None, cap, buffer);
                assert!(!failed);
                assert_eq!(got.len(), want.len(), "cap {cap}, buffer {buffer}");
                assert!(got == want, "cap {cap}, buffer {buffer}");
                assert!(want.iter().any(|(_, cut)| *cut) == (cap < 600_000));
            }
        }
        assert_eq!(chunked(b"", None, 9, 64), (Vec::new(), false));
        let (lines, _) = chunked(b"\n\nx", None, 9, 64);
        assert_eq!(
            lines,
            vec![(vec![], false), (vec![], false), (b"x".to_vec(), false)]
        );
    }

    #[test]
    fn an_error_ends_the_lines_after_those_read_before_it() {
        let bytes = corpus(true);
        for fail_at in [0, 1, 100_000, 1 << 20, 2_000_000] {
            let (want, failed) = one_by_one(&bytes, Some(fail_at), 4_000);
            assert!(failed);
            let (got, failed) = chunked(&bytes, Some(fail_at), 4_000, READ_BYTES);
            assert!(failed, "fails at {fail_at}");
            assert!(
                got == want,
                "fails at {fail_at}: {} lines, want {}",
                got.len(),
                want.len()
            );
        }
    }
}
