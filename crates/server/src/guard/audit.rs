//! The JSONL audit log: one `token_verdict` record per judged token, written by a dedicated
//! thread so request handling does not wait on the disk. The queue is bounded
//! ([`QUEUE_CAPACITY`]): if the disk falls behind, writers block (on the blocking pool) rather
//! than grow memory without limit or drop records — a flood of forged tokens is exactly what
//! must be recorded.
//!
//! The record schema is documented in `docs/token-verdict-log.md`; `stormwatch hunt` reads it
//! as the log kind "token verdict". The token itself is never logged — only a SHA-256 prefix
//! to correlate repeated use.

use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use stormwatch_token::Verdict;

use super::GuardError;

/// What the proxy told us about the original request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestInfo {
    pub client_ip: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    pub uri: Option<String>,
    pub user_agent: Option<String>,
}

/// One audit record (field order is the documented order).
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub kind: &'static str,
    #[serde(flatten)]
    pub verdict: &'a Verdict,
    pub scopes: &'a [String],
    #[serde(flatten)]
    pub request: &'a RequestInfo,
    pub token_sha256: String,
    pub cached: bool,
    pub source: &'static str,
}

/// Records queued for the writer thread before writers wait.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Background JSONL writer.
pub struct AuditSink {
    tx: Mutex<Option<mpsc::SyncSender<String>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSink")
    }
}

impl AuditSink {
    /// Append to `path`, or write to stdout when `None`.
    pub fn open(path: Option<&Path>) -> Result<AuditSink, GuardError> {
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| GuardError::Config(format!("audit log {}: {e}", p.display())))?,
            ),
            None => Box::new(std::io::stdout()),
        };
        let (tx, rx) = mpsc::sync_channel::<String>(QUEUE_CAPACITY);
        let worker = std::thread::Builder::new()
            .name(String::from("guard-audit"))
            .spawn(move || {
                let mut out = std::io::BufWriter::new(out);
                while let Ok(line) = rx.recv() {
                    let mut ok = writeln!(out, "{line}").is_ok();
                    // Drain what is queued, then flush once.
                    while let Ok(line) = rx.try_recv() {
                        ok &= writeln!(out, "{line}").is_ok();
                    }
                    if !(ok && out.flush().is_ok()) {
                        eprintln!("stormwatch guard: writing the audit log failed");
                    }
                }
                let _ = out.flush();
            })
            .map_err(|e| GuardError::Config(format!("audit writer thread: {e}")))?;
        Ok(AuditSink {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queue one record; false if the sink is closed.
    pub fn write(&self, record: &Record<'_>) -> bool {
        let line = match serde_json::to_string(record) {
            Ok(l) => l,
            Err(_) => return false,
        };
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        tx.is_some_and(|tx| tx.send(line).is_ok())
    }

    /// Flush everything queued and stop the writer.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = w.join();
        }
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        self.close();
    }
}
