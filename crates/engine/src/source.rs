//! Inputs: expanding paths into a deterministic list of files, and opening each as a byte stream.
//!
//! Compression is recognised by magic bytes, never by file name (exports get renamed): gzip
//! (`1f 8b`, multi-member aware) and zstd (`28 b5 2f fd`). Decompression is bounded: past
//! [`Limits::bomb_floor`] bytes of output, a stream whose output outgrows its input by more than
//! [`Limits::bomb_ratio`] is refused as a decompression bomb. Text encoding is normalised here too:
//! a UTF-8 byte-order mark is dropped, and UTF-16 (with its BOM, as PowerShell's `Out-File`
//! writes) is transcoded to UTF-8, so decoders only ever see UTF-8 bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One input to read: a file, or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The name used in messages: the path as found, or `-`.
    pub name: Arc<str>,
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    /// Size on disk, where known (for progress).
    pub size: Option<u64>,
    /// Named by the user (not found by walking a directory). A file found by walking that is
    /// not a log at all (neither JSON nor CSV) is skipped with a note; one named is read.
    pub explicit: bool,
}

/// Why an input could not be listed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}: no such file or directory")]
    NotFound(String),
}

/// Guards on decompression.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Output may exceed input by this factor…
    pub bomb_ratio: u64,
    /// …once output is past this many bytes.
    pub bomb_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // Real audit-log JSON compresses 10–40×; 250× past 256 MiB is a bomb, not a log.
        Limits {
            bomb_ratio: 250,
            bomb_floor: 256 << 20,
        }
    }
}

/// Expands paths into inputs: files as given, directories recursively in byte order of their
/// paths (so runs are reproducible), `-` as standard input. Hidden entries (`.name`) inside
/// directories are skipped; a path given explicitly is always read.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, SourceError> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Input {
                name: Arc::from("-"),
                path: None,
                size: None,
                explicit: true,
            });
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SourceError::NotFound(path.display().to_string()),
            _ => SourceError::Io {
                path: path.display().to_string(),
                source: e,
            },
        })?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.push(file_input(path, Some(meta.len()), true));
        }
    }
    Ok(out)
}

fn file_input(path: &Path, size: Option<u64>, explicit: bool) -> Input {
    Input {
        name: Arc::from(path.display().to_string()),
        path: Some(path.to_path_buf()),
        size,
        explicit,
    }
}

fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), SourceError> {
    let io_err = |e| SourceError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for path in entries {
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                return Err(SourceError::Io {
                    path: path.display().to_string(),
                    source: e,
                })
            }
        };
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            out.push(file_input(&path, Some(meta.len()), false));
        }
    }
    Ok(())
}

/// Counts bytes read through it, so progress and the bomb guard can see compressed input.
struct Counted<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Refuses output that outgrows the compressed input beyond the limits.
struct BombGuard<R> {
    inner: R,
    compressed: Arc<std::sync::atomic::AtomicU64>,
    produced: u64,
    limits: Limits,
}

impl<R: Read> Read for BombGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > self.limits.bomb_floor {
            let input = self
                .compressed
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1);
            if self.produced / input > self.limits.bomb_ratio {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "decompression bomb refused: {} bytes of output from {} compressed (more than {}x)",
                        self.produced, input, self.limits.bomb_ratio
                    ),
                ));
            }
        }
        Ok(n)
    }
}

/// An opened input: decompressed, UTF-8, with a counter of raw bytes consumed (for progress).
pub struct Opened {
    pub reader: Box<dyn BufRead + Send>,
    /// Raw (possibly compressed) bytes consumed so far.
    pub consumed: Arc<std::sync::atomic::AtomicU64>,
    /// `gzip`, `zstd` or `none`.
    pub compression: &'static str,
    /// `utf-8` or `utf-16le` / `utf-16be` (transcoded).
    pub encoding: &'static str,
}

/// Bytes of an opened input's read buffer ([`Opened::reader`]).
pub const INPUT_BUFFER: usize = 256 << 10;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Opens an input for reading (decompressing and transcoding as needed).
pub fn open(input: &Input, limits: Limits) -> Result<Opened, SourceError> {
    let io_err = |e| SourceError::Io {
        path: input.name.to_string(),
        source: e,
    };
    let raw: Box<dyn Read + Send> = match &input.path {
        Some(p) => Box::new(File::open(p).map_err(io_err)?),
        None => Box::new(io::stdin()),
    };
    open_reader(raw, limits).map_err(io_err)
}

/// Opens any byte stream the way [`open`] opens a file.
pub fn open_reader(raw: Box<dyn Read + Send>, limits: Limits) -> io::Result<Opened> {
    let consumed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted: Box<dyn Read + Send> = Box::new(Counted {
        inner: raw,
        count: consumed.clone(),
    });
    let (head, stream) = peek(counted, 4)?;
    let (decompressed, compression): (Box<dyn Read + Send>, _) = if head.starts_with(GZIP_MAGIC) {
        let d = flate2::read::MultiGzDecoder::new(stream);
        (Box::new(guard(d, &consumed, limits)), "gzip")
    } else if head.starts_with(ZSTD_MAGIC) {
        let d = zstd::stream::read::Decoder::new(stream)?;
        (Box::new(guard(d, &consumed, limits)), "zstd")
    } else {
        (stream, "none")
    };
    let (head, text) = peek(decompressed, 3)?;
    let (text, encoding): (Box<dyn Read + Send>, _) = if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        (skip(text, 3)?, "utf-8")
    } else if head.starts_with(&[0xff, 0xfe]) {
        (
            Box::new(Utf16ToUtf8::new(skip(text, 2)?, false)),
            "utf-16le",
        )
    } else if head.starts_with(&[0xfe, 0xff]) {
        (Box::new(Utf16ToUtf8::new(skip(text, 2)?, true)), "utf-16be")
    } else {
        (text, "utf-8")
    };
    Ok(Opened {
        reader: Box::new(BufReader::with_capacity(INPUT_BUFFER, text)),
        consumed,
        compression,
        encoding,
    })
}

fn guard<R: Read>(
    inner: R,
    consumed: &Arc<std::sync::atomic::AtomicU64>,
    limits: Limits,
) -> BombGuard<R> {
    BombGuard {
        inner,
        compressed: consumed.clone(),
        produced: 0,
        limits,
    }
}

type Stream = Box<dyn Read + Send>;

/// Reads up to `n` bytes and hands back a stream that still starts with them.
fn peek(mut reader: Stream, n: usize) -> io::Result<(Vec<u8>, Stream)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    let again = io::Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(again)))
}

/// Drops the first `n` bytes (a byte-order mark already seen by [`peek`]).
fn skip(mut reader: Stream, n: u64) -> io::Result<Stream> {
    io::copy(&mut (&mut reader).take(n), &mut io::sink())?;
    Ok(reader)
}

/// Transcodes UTF-16 (either byte order) to UTF-8; unpaired surrogates become U+FFFD.
struct Utf16ToUtf8<R> {
    inner: R,
    big_endian: bool,
    out: Vec<u8>,
    pos: usize,
    pending_high: Option<u16>,
    odd: Option<u8>,
}

impl<R: Read> Utf16ToUtf8<R> {
    fn new(inner: R, big_endian: bool) -> Self {
        Utf16ToUtf8 {
            inner,
            big_endian,
            out: Vec::new(),
            pos: 0,
            pending_high: None,
            odd: None,
        }
    }

    fn push_unit(&mut self, unit: u16) {
        let mut buf = [0u8; 4];
        if let Some(high) = self.pending_high.take() {
            if (0xdc00..0xe000).contains(&unit) {
                let c = 0x10000 + (((high as u32) - 0xd800) << 10) + ((unit as u32) - 0xdc00);
                let c = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                self.out
                    .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                return;
            }
            let r = char::REPLACEMENT_CHARACTER;
            self.out
                .extend_from_slice(r.encode_utf8(&mut buf).as_bytes());
        }
        if (0xd800..0xdc00).contains(&unit) {
            self.pending_high = Some(unit);
            return;
        }
        let c = char::from_u32(unit as u32).unwrap_or(char::REPLACEMENT_CHARACTER);
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
}

impl<R: Read> Read for Utf16ToUtf8<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            self.out.clear();
            self.pos = 0;
            let mut raw = [0u8; 16 << 10];
            let n = self.inner.read(&mut raw)?;
            if n == 0 {
                if self.pending_high.take().is_some() || self.odd.take().is_some() {
                    let mut b = [0u8; 4];
                    let r = char::REPLACEMENT_CHARACTER.encode_utf8(&mut b);
                    self.out.extend_from_slice(r.as_bytes());
                    continue;
                }
                return Ok(0);
            }
            let mut bytes: Vec<u8> = Vec::with_capacity(n + 1);
            if let Some(b) = self.odd.take() {
                bytes.push(b);
            }
            bytes.extend_from_slice(&raw[..n]);
            let mut chunks = bytes.chunks_exact(2);
            for pair in &mut chunks {
                let unit = if self.big_endian {
                    u16::from_be_bytes([pair[0], pair[1]])
                } else {
                    u16::from_le_bytes([pair[0], pair[1]])
                };
                self.push_unit(unit);
            }
            if let [b] = chunks.remainder() {
                self.odd = Some(*b);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
