//! Writing a generated corpus to a directory: one JSON-lines file per log, optionally gzipped,
//! plus [`MANIFEST`] with the ground truth.

use crate::{generate, Config, Manifest, Output, Stream};
use flate2::write::GzEncoder;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The ground truth's file name in the output directory: hidden, so that reading the directory
/// as logs does not read it.
pub const MANIFEST: &str = ".manifest.json";

/// The file each stream is written to (without `.gz`).
pub fn file_name(stream: Stream) -> &'static str {
    match stream {
        Stream::Ual => "ual.jsonl",
        Stream::SignIns => "signins.jsonl",
        Stream::EntraAudit => "entra-audit.jsonl",
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn inner(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
        }
    }

    /// Flushes everything, writing the gzip trailer (dropping would hide its errors).
    fn finish(self) -> io::Result<()> {
        let mut file = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
        };
        file.flush()
    }
}

struct DirOutput {
    writers: Vec<(Stream, Sink)>,
    dir: PathBuf,
    gzip: bool,
}

impl DirOutput {
    fn writer(&mut self, stream: Stream) -> io::Result<&mut dyn Write> {
        if let Some(i) = self.writers.iter().position(|(s, _)| *s == stream) {
            return Ok(self.writers[i].1.inner());
        }
        let mut path = self.dir.join(file_name(stream));
        let file = if self.gzip {
            path.as_mut_os_string().push(".gz");
            let f = BufWriter::new(File::create(&path)?);
            Sink::Gzip(GzEncoder::new(f, flate2::Compression::new(6)))
        } else {
            Sink::Plain(BufWriter::new(File::create(&path)?))
        };
        self.writers.push((stream, file));
        let last = self.writers.len() - 1;
        Ok(self.writers[last].1.inner())
    }
}

impl Output for DirOutput {
    fn write(&mut self, stream: Stream, record: &Value) -> io::Result<()> {
        let w = self.writer(stream)?;
        serde_json::to_writer(&mut *w, record)?;
        w.write_all(b"\n")
    }
}

/// Generates `config` into `dir` (created if needed) and writes [`MANIFEST`] beside it.
pub fn generate_to_dir(config: &Config, dir: &Path, gzip: bool) -> io::Result<Manifest> {
    std::fs::create_dir_all(dir)?;
    let mut out = DirOutput {
        writers: Vec::new(),
        dir: dir.to_path_buf(),
        gzip,
    };
    let manifest = generate(config, &mut out)?;
    for (_, w) in out.writers.drain(..) {
        w.finish()?;
    }
    let text = serde_json::to_string_pretty(&manifest)?;
    std::fs::write(dir.join(MANIFEST), text + "\n")?;
    Ok(manifest)
}
