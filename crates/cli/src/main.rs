//! The `stormwatch` binary: argument parsing and wiring only.
//!
//! Every subcommand lives in its own module under `cmd/` and returns an exit status; the
//! libraries do the work. Conventions (DESIGN.md): results on stdout, one compact JSON object a
//! line where machine-readable; progress, summaries and warnings on stderr; `--quiet` silences
//! progress and summaries.

mod cmd;
mod input;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// hunt parses records on worker threads and frees them on the detector thread; glibc's
/// allocator spent about half of hunt's time there (benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Catch forged-token intrusions into cloud mail.
///
/// stormwatch reads Microsoft 365 Unified Audit Log, Entra ID sign-in and audit logs (and any
/// JSON), hunts them with Sigma rules, built-in detections and IOC feeds, verifies bearer
/// tokens strictly, and serves continuous multi-tenant detection.
#[derive(Parser, Debug)]
#[command(name = "stormwatch", version, propagate_version = true)]
pub struct Cli {
    /// No progress bar, no summary: only results (and errors) are printed.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Summarise log files: records per kind, tenant, operation, app and IP; time range; counts.
    Inspect(cmd::inspect::Args),
    /// Print normalized events as JSON lines (core fields plus the normalized record).
    Dump(cmd::dump::Args),
    /// Hunt logs with Sigma rules and the built-in detections; print detection records.
    Hunt(cmd::hunt::Args),
    /// Write a synthetic multi-tenant corpus with a planted forged-token intrusion and decoys.
    Generate(cmd::generate::Args),
    /// Verify bearer tokens strictly (verify), or decode one without trusting it (inspect).
    Token(cmd::token::Args),
    /// Forward-auth gateway: refuse forged tokens in front of nginx, Traefik or Envoy.
    Guard(cmd::guard::Args),
    /// Run continuously for many tenants: HTTP ingest, detection, incidents, REST API.
    Serve(cmd::serve::Args),
    /// Check Sigma rules: load them and report rejected rules with file, line and reason.
    Rules(cmd::rules::Args),
}

/// Options every subcommand sees.
#[derive(Debug, Clone, Copy)]
pub struct Globals {
    pub quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let globals = Globals { quiet: cli.quiet };
    match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args, globals),
        Command::Dump(args) => cmd::dump::run(args, globals),
        Command::Generate(args) => cmd::generate::run(args, globals),
        Command::Hunt(args) => cmd::hunt::run(args, globals),
        Command::Token(args) => cmd::token::run(args, globals),
        Command::Guard(args) => cmd::guard::run(args, globals),
        Command::Serve(args) => cmd::serve::run(args, globals),
        Command::Rules(args) => cmd::rules::run(args, globals),
    }
}
