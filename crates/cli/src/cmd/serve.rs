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
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let config = match ServeConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stormwatch serve: {e}");
            return ExitCode::from(2);
        }
    };
    let result = serve::run(config, |addr, warnings| {
        for w in warnings {
            eprintln!("stormwatch serve: warning: {w}");
        }
        if !globals.quiet {
            eprintln!("stormwatch serve: listening on http://{addr}");
        }
    });
    match result {
        Ok(()) => {
            if !globals.quiet {
                eprintln!("stormwatch serve: stopped");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stormwatch serve: {e}");
            ExitCode::from(2)
        }
    }
}
