//! `stormwatch serve`: run the multi-tenant detection service (see `stormwatch_server::serve`
//! and docs/serve.md). Exit status 2 for configuration or startup errors (every configuration
//! problem is listed); 0 after a clean shutdown on SIGTERM or Ctrl-C.

use crate::Globals;
use std::path::PathBuf;
use std::process::ExitCode;
use stormwatch_server::serve::{self, config::ServeConfig};

/// Continuous detection for many tenants: HTTP ingest, the hunt detectors on a rolling window,
/// detections and incidents in an embedded store, a REST API with per-tenant keys.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// TOML configuration file (see docs/serve.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Log lines on stderr: `text` (`TIME LEVEL target: message key=value …`) or `json` (one
    /// object a line, for log shippers). Filter with STORMWATCH_LOG (default `info`; e.g.
    /// `warn`, `stormwatch_server=debug`).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Installs the process's log subscriber (stderr; `--quiet` keeps warnings and errors only).
fn init_logs(format: &str, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { "info" };
    let filter =
        EnvFilter::try_from_env("STORMWATCH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter);
    let installed = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(e) = installed {
        eprintln!("stormwatch serve: logging: {e}");
    }
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let config = match ServeConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stormwatch serve: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(&args.log_format, globals.quiet);
    let result = serve::run(config, |addr, warnings| {
        for w in warnings {
            tracing::warn!(warning = %w, "startup");
        }
        tracing::info!(address = %format!("http://{addr}"), "listening");
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "serve failed");
            eprintln!("stormwatch serve: {e}");
            ExitCode::from(2)
        }
    }
}
