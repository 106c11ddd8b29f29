//! `stormwatch generate`: write a realistic synthetic corpus with a planted intrusion.

use crate::Globals;
use std::path::PathBuf;
use std::process::ExitCode;
use stormwatch_scenario::{generate_to_dir, Config};

/// Generate realistic M365 audit and Entra sign-in logs for several tenants over weeks, with a
/// planted Storm-0558-style forged-token intrusion and decoys, plus `.manifest.json` (the ground
/// truth; hidden so that hunting the directory does not read it). The same seed always gives
/// the same bytes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write ual.jsonl, signins.jsonl, entra-audit.jsonl and .manifest.json into.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,

    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    #[arg(long, default_value_t = 3)]
    pub tenants: usize,

    /// Users per tenant (the intrusion and decoys need at least 8).
    #[arg(long, default_value_t = 12)]
    pub users: usize,

    #[arg(long, default_value_t = 21)]
    pub days: u32,

    /// Average mailbox reads per user and working day.
    #[arg(long, default_value_t = 8)]
    pub mail_per_day: u32,

    /// Benign activity only: no intrusion, no decoys.
    #[arg(long)]
    pub benign: bool,

    /// Write .jsonl.gz instead of .jsonl.
    #[arg(long)]
    pub gzip: bool,
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let config = Config {
        seed: args.seed,
        tenants: args.tenants,
        users_per_tenant: args.users,
        days: args.days,
        intrusion: !args.benign,
        decoys: !args.benign,
        mail_per_day: args.mail_per_day,
        ..Config::default()
    };
    match generate_to_dir(&config, &args.out, args.gzip) {
        Ok(m) => {
            if !globals.quiet {
                eprintln!(
                    "wrote {} records ({} .. {}) for {} tenants to {}; {} planted mailboxes, {} decoys",
                    m.records,
                    m.first,
                    m.last,
                    m.tenants.len(),
                    args.out.display(),
                    m.intrusion.len(),
                    m.decoys.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stormwatch: {}: {e}", args.out.display());
            ExitCode::from(2)
        }
    }
}
