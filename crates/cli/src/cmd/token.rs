//! `stormwatch token verify` and `stormwatch token inspect`.
//!
//! `verify` judges tokens with `stormwatch_token` and prints one verdict a line: compact JSON
//! with exactly `valid, reason, detail, kid, alg, iss, tid, aud, sub` (`--format json`, the
//! default) or one human line (`--format text`). With `-` it reads one token a line from stdin
//! (blank lines skipped, an optional `Bearer ` prefix dropped). Exit status: 0 when every token
//! is valid, 1 when any is rejected, 2 for usage or configuration errors. `inspect` decodes
//! without verifying and says so on every label.

use crate::Globals;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use stormwatch_token::source::{load_source, Fetcher, HttpsFetcher, KeySource};
use stormwatch_token::time::{format_rfc3339, now_unix, parse_time};
use stormwatch_token::{verify, KeySet, Options, RevokedList, Tenants, Verdict};

/// Verify bearer tokens strictly, or decode one without trusting it.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Verify tokens: signature, key-to-issuer binding, tenant, audience, lifetime.
    Verify(VerifyArgs),
    /// Decode a token's header and claims WITHOUT verifying anything (labelled UNTRUSTED).
    Inspect(InspectArgs),
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// JWKS file or https:// URL (repeatable).
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Vec<String>,
    /// OpenID discovery document URL or file (repeatable); its issuer binds keys without one.
    #[arg(long, value_name = "URL")]
    pub discovery: Vec<String>,
    /// PEM public key or certificate file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub pem: Vec<String>,
    /// Accepted audience (repeatable; at least one).
    #[arg(long, value_name = "A", required = true)]
    pub audience: Vec<String>,
    /// Accepted tenant id (repeatable), or --any-tenant.
    #[arg(long, value_name = "T", required_unless_present = "any_tenant")]
    pub tenant: Vec<String>,
    /// Accept any tenant (consumer accounts still need --allow-consumer).
    #[arg(long, conflicts_with = "tenant")]
    pub any_tenant: bool,
    /// Accept consumer (MSA) accounts, tenant 9188040d-6c67-4c5b-b112-36a304b66dad.
    #[arg(long)]
    pub allow_consumer: bool,
    /// Revoked kids / thumbprints, one a line (added to the built-in Storm-0558 key).
    #[arg(long, value_name = "FILE")]
    pub revoked: Option<PathBuf>,
    /// Evaluate at this time instead of now (RFC 3339 or Unix seconds), for old tokens.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Clock skew tolerance in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub skew: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// The token, or `-` for one token a line on stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Output format (json: `{"untrusted":true,"header":…,"claims":…}`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    match args.command {
        TokenCommand::Verify(a) => run_verify(a, globals),
        TokenCommand::Inspect(a) => run_inspect(a),
    }
}

fn config_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("stormwatch token: {msg}");
    ExitCode::from(2)
}

fn load_keys(a: &VerifyArgs) -> Result<KeySet, String> {
    let mut sources: Vec<KeySource> = a.jwks.iter().cloned().map(KeySource::Jwks).collect();
    sources.extend(a.discovery.iter().cloned().map(KeySource::Discovery));
    sources.extend(a.pem.iter().cloned().map(KeySource::Pem));
    if sources.is_empty() {
        return Err(String::from(
            "give at least one key source: --jwks, --discovery or --pem",
        ));
    }
    let fetcher = HttpsFetcher::default();
    let mut keys = KeySet::default();
    for s in &sources {
        keys.extend(load_source(s, Some(&fetcher as &dyn Fetcher)).map_err(|e| e.to_string())?);
    }
    for w in &keys.warnings {
        eprintln!("stormwatch token: warning: {w}");
    }
    if keys.keys.is_empty() {
        return Err(String::from("no usable verification key was loaded"));
    }
    Ok(keys)
}

fn options(a: &VerifyArgs) -> Result<Options, String> {
    let mut revoked = RevokedList::default();
    if let Some(path) = &a.revoked {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        revoked
            .add_text(&text, &path.display().to_string())
            .map_err(|e| e.to_string())?;
    }
    let opts = Options {
        audiences: a.audience.clone(),
        tenants: if a.any_tenant {
            Tenants::Any
        } else {
            Tenants::List(a.tenant.clone())
        },
        allow_consumer: a.allow_consumer,
        skew_secs: a.skew,
        revoked,
    };
    opts.validate().map_err(|e| {
        let m = e.to_string();
        if m.contains("consumer") {
            format!("{m} (pass --allow-consumer)")
        } else {
            m
        }
    })?;
    Ok(opts)
}

fn render(v: &Verdict, format: Format) -> String {
    match format {
        Format::Json => v.to_json(),
        Format::Text => {
            let f = |o: &Option<String>| o.clone().unwrap_or_else(|| String::from("-"));
            let head = if v.valid {
                String::from("VALID")
            } else {
                format!("REJECTED {}", v.reason)
            };
            let detail = if v.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", v.detail)
            };
            format!(
                "{head}{detail} (kid={} alg={} iss={} tid={} sub={})",
                f(&v.kid),
                f(&v.alg),
                f(&v.iss),
                f(&v.tid),
                f(&v.sub)
            )
        }
    }
}

fn clean(line: &[u8]) -> &[u8] {
    let t = line.trim_ascii();
    if t.len() > 7 && t[..7].eq_ignore_ascii_case(b"bearer ") {
        t[7..].trim_ascii()
    } else {
        t
    }
}

fn run_verify(a: VerifyArgs, globals: Globals) -> ExitCode {
    let now = match a.at.as_deref().map(parse_time).transpose() {
        Ok(t) => t.unwrap_or_else(now_unix),
        Err(e) => return config_error(format!("--at: {e}")),
    };
    let opts = match options(&a) {
        Ok(o) => o,
        Err(e) => return config_error(e),
    };
    let keys = match load_keys(&a) {
        Ok(k) => k,
        Err(e) => return config_error(e),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut valid, mut rejected) = (0u64, 0u64);
    let mut judge = |token: &[u8], out: &mut dyn Write| -> bool {
        let v = verify(clean(token), &keys, &opts, now);
        if v.valid {
            valid += 1;
        } else {
            rejected += 1;
        }
        writeln!(out, "{}", render(&v, a.format)).is_ok()
    };
    if a.token == "-" {
        let stdin = std::io::stdin();
        let mut reader = stdin.lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return config_error(format!("reading stdin: {e}")),
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            if !judge(&line, &mut out) {
                break;
            }
        }
    } else {
        judge(a.token.as_bytes(), &mut out);
    }
    let _ = out.flush();
    drop(out);
    if a.token == "-" && !globals.quiet {
        eprintln!(
            "stormwatch token: {} tokens: {valid} valid, {rejected} rejected (evaluated at {})",
            valid + rejected,
            format_rfc3339(now)
        );
    }
    if rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_inspect(a: InspectArgs) -> ExitCode {
    let token = if a.token == "-" {
        let mut s = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut s) {
            return config_error(format!("reading stdin: {e}"));
        }
        s
    } else {
        a.token.into_bytes()
    };
    let (header, claims) = match stormwatch_token::jws::decode_untrusted(clean(&token)) {
        Ok(hc) => hc,
        Err(e) => {
            eprintln!("stormwatch token inspect: cannot decode: {e}");
            return ExitCode::from(1);
        }
    };
    let text = match a.format {
        Format::Json => {
            serde_json::json!({"untrusted": true, "header": header, "claims": claims}).to_string()
        }
        Format::Text => {
            let pretty =
                |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
            let mut s = String::from("UNTRUSTED: decoded WITHOUT verification — nothing below is proven; use `stormwatch token verify`.\n");
            s.push_str(&format!(
                "header (UNTRUSTED):\n{}\nclaims (UNTRUSTED):\n{}\n",
                pretty(&header),
                pretty(&claims)
            ));
            for name in ["iat", "nbf", "exp"] {
                if let Some(t) = claims.get(name).and_then(serde_json::Value::as_i64) {
                    s.push_str(&format!("{name} (UNTRUSTED): {}\n", format_rfc3339(t)));
                }
            }
            s.trim_end().to_owned()
        }
    };
    println!("{text}");
    ExitCode::SUCCESS
}
