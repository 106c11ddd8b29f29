//! `stormwatch rules check PATH…`: load Sigma rules the way `hunt` will and report every rule
//! that would be rejected, with file, line and reason, plus totals.
//!
//! Per-rule errors go to stderr as `FILE:LINE: rule ID: reason`; the totals table goes to
//! stderr too (results-only stdout), or as one JSON object on stdout with `--format json`.
//! Exit status: 0 all loaded, 1 some rejected, 2 nothing could be read or a bad `--config`.

use crate::Globals;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use stormwatch_engine::sink::table::Table;
use stormwatch_sigma::{Config, ErrorKind, Mapping, Router, RuleSet};

/// Work with Sigma rules.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Load Sigma rules (files or directories, recursively) and report rejected rules and totals.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Rule files or directories (`.yml`/`.yaml`, searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// YAML file with placeholder values for `|expand` (overrides the built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log-source routing and field mapping file merged over the built-in one; the totals then
    /// count the rules no mapping entry routes to a log kind.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,

    /// Totals as a table on stderr, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    match args.command {
        Command::Check(check) => run_check(check, globals),
    }
}

fn run_check(args: CheckArgs, globals: Globals) -> ExitCode {
    let config = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("stormwatch: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::builtin(),
    };
    let mapping = match &args.mapping {
        Some(path) => match Mapping::from_file(path) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("stormwatch: {e}");
                return ExitCode::from(2);
            }
        },
        None => Mapping::builtin(),
    };
    let (set, errors) = RuleSet::load_paths(&args.paths, &config);
    let unrouted = Router::new(&mapping, &set).unrouted().len();
    for e in &errors {
        eprintln!("{e}");
    }
    let unreadable = errors
        .iter()
        .filter(|e| matches!(e.kind, ErrorKind::Io(_)))
        .count();
    if set.documents_read() == 0 && (unreadable > 0 || errors.iter().all(|e| e.rule_id.is_none())) {
        if errors.is_empty() {
            eprintln!("stormwatch: no rules found");
        }
        return ExitCode::from(2);
    }
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &errors {
        *by_reason.entry(e.kind.reason()).or_default() += 1;
    }
    let standalone = set.rules().iter().filter(|r| r.is_standalone()).count();
    match args.format {
        Format::Json => {
            let errs: Vec<serde_json::Value> = errors
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "file": e.file.display().to_string(),
                        "line": e.line,
                        "rule": e.rule_id,
                        "reason": e.kind.reason(),
                        "message": e.kind.to_string(),
                    })
                })
                .collect();
            let out = serde_json::json!({
                "loaded": set.len(),
                "rules": set.rules().len(),
                "correlations": set.correlations().len(),
                "filters": set.filters().len(),
                "unrouted": unrouted,
                "rejected": errors.len(),
                "rejected_by_reason": by_reason,
                "errors": errs,
            });
            println!("{out}");
        }
        Format::Table if !globals.quiet => {
            let mut t = Table::new(&["", "count"]).right(1);
            t.row(vec!["loaded".into(), set.len().to_string()]);
            t.row(vec![
                "  detection rules".into(),
                set.rules().len().to_string(),
            ]);
            t.row(vec![
                "    reported on their own".into(),
                standalone.to_string(),
            ]);
            t.row(vec![
                "  correlation rules".into(),
                set.correlations().len().to_string(),
            ]);
            t.row(vec!["  filters".into(), set.filters().len().to_string()]);
            t.row(vec!["unrouted (no log kind)".into(), unrouted.to_string()]);
            t.row(vec!["rejected".into(), errors.len().to_string()]);
            for (reason, n) in &by_reason {
                t.row(vec![format!("  {reason}"), n.to_string()]);
            }
            eprint!("{}", t.render(""));
        }
        Format::Table => {}
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
