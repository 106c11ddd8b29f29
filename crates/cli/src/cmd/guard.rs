//! `stormwatch guard`: run the forward-auth gateway (see `stormwatch_server::guard`).
//!
//! Configuration comes from `--config FILE` (TOML) and flags; a flag given on the command line
//! replaces the file's value (list flags replace the whole list). Exit status 2 for
//! configuration or startup errors; 0 after a clean shutdown on SIGTERM or Ctrl-C.

use crate::Globals;
use std::path::PathBuf;
use std::process::ExitCode;

use stormwatch_server::guard::{self, GuardConfig};

/// Forward-auth gateway for nginx auth_request, Traefik ForwardAuth and Envoy ext_authz.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:9091).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// JWKS file or https:// URL (repeatable).
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Vec<String>,
    /// OpenID discovery document URL or file (repeatable).
    #[arg(long, value_name = "URL")]
    pub discovery: Vec<String>,
    /// PEM public key or certificate file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub pem: Vec<String>,
    /// Accepted audience (repeatable).
    #[arg(long, value_name = "A")]
    pub audience: Vec<String>,
    /// Accepted tenant id (repeatable).
    #[arg(long, value_name = "T")]
    pub tenant: Vec<String>,
    /// Accept any tenant (consumer accounts still need --allow-consumer).
    #[arg(long)]
    pub any_tenant: bool,
    /// Accept consumer (MSA) accounts.
    #[arg(long)]
    pub allow_consumer: bool,
    /// Revoked kids / thumbprints file.
    #[arg(long, value_name = "FILE")]
    pub revoked: Option<String>,
    /// Clock skew tolerance in seconds (default 300).
    #[arg(long, value_name = "SECS")]
    pub skew: Option<i64>,
    /// JSONL audit log file (`-` for stdout, the default).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<String>,
    /// Verified-token cache size (0 disables).
    #[arg(long, value_name = "N")]
    pub cache_capacity: Option<usize>,
}

fn merge(a: Args) -> Result<GuardConfig, String> {
    let mut c = match &a.config {
        Some(p) => GuardConfig::from_file(p).map_err(|e| e.to_string())?,
        None => GuardConfig::default(),
    };
    let replace = |dst: &mut Vec<String>, src: Vec<String>| {
        if !src.is_empty() {
            *dst = src;
        }
    };
    replace(&mut c.jwks, a.jwks);
    replace(&mut c.discovery, a.discovery);
    replace(&mut c.pem, a.pem);
    replace(&mut c.audiences, a.audience);
    replace(&mut c.tenants, a.tenant);
    c.any_tenant |= a.any_tenant;
    c.allow_consumer |= a.allow_consumer;
    c.listen = a.listen.or(c.listen);
    c.revoked = a.revoked.or(c.revoked);
    c.skew_secs = a.skew.or(c.skew_secs);
    c.audit_log = a.audit_log.or(c.audit_log);
    c.cache_capacity = a.cache_capacity.or(c.cache_capacity);
    Ok(c)
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let cfg = match merge(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stormwatch guard: {e}");
            return ExitCode::from(2);
        }
    };
    let result = guard::run(&cfg, |addr, warnings| {
        for w in warnings {
            eprintln!("stormwatch guard: warning: {w}");
        }
        if !globals.quiet {
            eprintln!("stormwatch guard: listening on http://{addr}");
        }
    });
    match result {
        Ok(()) => {
            if !globals.quiet {
                eprintln!("stormwatch guard: stopped");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stormwatch guard: {e}");
            ExitCode::from(2)
        }
    }
}
