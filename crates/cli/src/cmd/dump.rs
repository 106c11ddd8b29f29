//! `stormwatch dump`: normalized events as JSON lines, for jq and friends.

use crate::input::{print_reconciliation, read_inputs, InputArgs};
use crate::Globals;
use chrono::{DateTime, Utc};
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use stormwatch_engine::normalize::time;
use stormwatch_engine::LogKind;

/// Print normalized events as JSON lines: `kind`, core fields (time, tenant, user, ip, app_id,
/// client_app_id, session_id, token_id, record_id, operation, workload), `source` {file, line}
/// and the normalized `record`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,

    /// Only events of this kind (repeatable): ual, entra_signin, entra_audit, token_verdict,
    /// windows, generic.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub kind: Vec<LogKind>,

    /// Only events at or after this time (RFC 3339, or any form stormwatch reads in logs).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,

    /// Only events before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
}

/// The event filters `dump` and `hunt` share.
pub struct DumpFilters {
    pub kinds: Vec<LogKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl DumpFilters {
    /// Kind in the list (if any); time within `[from, to)` (if given; timeless events fail).
    pub fn keeps(&self, kind: LogKind, time: Option<DateTime<Utc>>) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return false;
        }
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let Some(t) = time else {
            return false;
        };
        !(self.from.is_some_and(|f| t < f) || self.to.is_some_and(|to| t >= to))
    }
}

pub fn parse_kind(s: &str) -> Result<LogKind, String> {
    LogKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = LogKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown kind {s:?}; one of: {}", names.join(", "))
    })
}

pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    time::parse(s).ok_or_else(|| format!("not a time: {s:?} (try 2024-02-01T16:07:34Z)"))
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut written = 0u64;
    let mut write_error: Option<std::io::Error> = None;
    let filters = DumpFilters {
        kinds: args.kind.clone(),
        from: args.from,
        to: args.to,
    };
    let outcome = read_inputs(&args.input, globals, &mut |event| {
        if write_error.is_some() || !filters.keeps(event.kind, event.core.time) {
            return;
        }
        let result = serde_json::to_writer(&mut out, &event).map_err(std::io::Error::from);
        match result.and_then(|()| out.write_all(b"\n")) {
            Ok(()) => written += 1,
            Err(e) => write_error = Some(e),
        }
    });
    let flushed = out.flush();
    if let Some(e) = write_error.or(flushed.err()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("stormwatch: writing output failed: {e}");
            return ExitCode::from(2);
        }
    }
    if !globals.quiet {
        print_reconciliation(&outcome.stats, &format!("; {written} written"));
    }
    if outcome.nothing_read() {
        eprintln!("stormwatch: no input could be read");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
