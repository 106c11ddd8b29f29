//! `stormwatch hunt`: run detections over logs and print detection records.

use crate::cmd::dump::{parse_time, DumpFilters};
use crate::input::{print_reconciliation, read_inputs_filtered, InputArgs, Record};
use crate::Globals;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use stormwatch_engine::detect::baseline::Baseline;
use stormwatch_engine::detect::interest::builtin_interest;
use stormwatch_engine::detect::ioc::{self, IocDetector};
use stormwatch_engine::detect::mailbox::{MailDetector, MailOptions};
use stormwatch_engine::detect::sigma::SigmaDetector;
use stormwatch_engine::detect::verdicts::VerdictDetector;
use stormwatch_engine::detect::Detector;
use stormwatch_engine::incident;
use stormwatch_engine::prefilter::Interest;
use stormwatch_engine::sink::{self, Format, Report, ReportInfo};
use stormwatch_engine::{Alert, Level, LogKind};
use stormwatch_sigma::{Config, Mapping, RuleSet};

/// Hunt logs for intrusions: Sigma rules (`--rules`) and the built-in detections, over any mix
/// of M365 UAL, Entra sign-in and audit logs, Windows events and generic JSON. Detection records
/// go to stdout (or `--output`); progress, notes and the summary to stderr.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,

    /// Sigma rules: a file or a directory (recursive). Repeatable.
    #[arg(long, short = 'r', value_name = "DIR|FILE")]
    pub rules: Vec<PathBuf>,

    /// Turn off the built-in detections (mail access analysis, IOC feeds, token verdicts).
    #[arg(long)]
    pub no_builtin: bool,

    /// An IOC feed to match (STIX 2.1 bundle, CSV `type,value,description,valid_from,valid_until`,
    /// or a plain list). Repeatable. The built-in storm-0558 feed is always on with the built-ins.
    #[arg(long, value_name = "FILE")]
    pub ioc: Vec<PathBuf>,

    /// A persisted mail-client baseline to start from (see --write-baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the mail-client baseline after this run (what was loaded plus what was seen).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Days at the start of each tenant's data that form its mail-client baseline.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub learn_days: i64,

    /// How long before a mail access a sign-in by the same user and address still backs it.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    pub signin_window: i64,

    /// Disk cap of the mail analysis: at most this many MailItemsAccessed records are
    /// analysed (each waits for the end of input in a temporary file under $TMPDIR, about
    /// 85 bytes); past it a note says how many were not.
    #[arg(long, default_value_t = 10_000_000, value_name = "N")]
    pub max_mail_records: usize,

    /// Memory cap of the sign-in join: at most this many successful sign-ins are indexed
    /// (about 20 bytes each; 0: no cap); past it a note says how many were not.
    #[arg(long, default_value_t = 20_000_000, value_name = "N")]
    pub max_signins: u64,

    /// Also write incident and campaign records (`"type": "incident"` / `"campaign"`) in json
    /// and jsonl output. Tables and HTML always show incidents first.
    #[arg(long)]
    pub incidents: bool,

    /// Placeholder values for `|expand` (YAML), merged over the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub sigma_config: Option<PathBuf>,

    /// Log-source routing and field mapping (YAML), merged over the built-in mapping.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,

    /// Parse every record, even those no rule or built-in detection could match (turns off the
    /// witness prefilter; for measuring it, or to have every malformed line reported).
    #[arg(long)]
    pub no_prefilter: bool,

    /// Output format. `jsonl` streams one detection record a line as found; the others are
    /// reports sorted by time.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Write results to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only detections at or above this level.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub min_level: Option<Level>,

    /// Only detections of these rule ids (repeatable).
    #[arg(long, value_name = "ID")]
    pub rule_id: Vec<String>,

    /// Only detections of rules with this tag (repeatable; e.g. attack.t1114).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,

    /// Only detections of rules with this status (repeatable; stable, test, experimental…).
    #[arg(long, value_name = "STATUS")]
    pub status: Vec<String>,

    /// Only events at or after this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,

    /// Only events before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Jsonl,
    Html,
}

impl OutputFormat {
    fn sink(self) -> Format {
        match self {
            OutputFormat::Table => Format::Table,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
            OutputFormat::Jsonl => Format::Jsonl,
            OutputFormat::Html => Format::Html,
        }
    }
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::from_name(s).ok_or_else(|| {
        format!("unknown level {s:?}; one of: informational, low, medium, high, critical")
    })
}

impl Args {
    fn wanted(&self, a: &Alert) -> bool {
        self.min_level.is_none_or(|m| a.rule.level >= m)
            && (self.rule_id.is_empty() || self.rule_id.contains(&a.rule.id))
            && (self.tag.is_empty()
                || self
                    .tag
                    .iter()
                    .any(|t| a.rule.tags.iter().any(|x| x.eq_ignore_ascii_case(t))))
            && (self.status.is_empty()
                || a.rule
                    .status
                    .as_deref()
                    .is_some_and(|s| self.status.iter().any(|x| x.eq_ignore_ascii_case(s))))
    }
}

fn load_rules(args: &Args, quiet: bool) -> Result<(RuleSet, Mapping), String> {
    let mut config = Config::builtin();
    if let Some(path) = &args.sigma_config {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        config
            .merge_yaml_str(&text, path)
            .map_err(|e| e.to_string())?;
    }
    let mut mapping = Mapping::builtin();
    if let Some(path) = &args.mapping {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        mapping
            .merge_yaml_str(&text, path)
            .map_err(|e| e.to_string())?;
    }
    for path in &args.rules {
        if !path.exists() {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    let (set, errors) = RuleSet::load_paths(&args.rules, &config);
    for e in &errors {
        eprintln!("{e}");
    }
    if !quiet && !args.rules.is_empty() {
        eprintln!(
            "{} Sigma rules loaded ({} correlations, {} filters), {} rejected",
            set.rules().len(),
            set.correlations().len(),
            set.filters().len(),
            errors.len()
        );
    }
    Ok((set, mapping))
}

type Builtins = (MailDetector, IocDetector, VerdictDetector, Interest);

/// The built-in detectors, configured from the arguments (`None` with `--no-builtin`).
fn builtins(args: &Args, notes: &mut Vec<String>) -> Result<Option<Builtins>, String> {
    if args.no_builtin {
        if !args.ioc.is_empty() || args.baseline.is_some() {
            return Err(
                "--ioc and --baseline need the built-in detections (drop --no-builtin)".into(),
            );
        }
        return Ok(None);
    }
    let baseline = match &args.baseline {
        Some(path) => Baseline::load(path).map_err(|e| e.to_string())?,
        None => Baseline::default(),
    };
    let options = MailOptions {
        learn_days: args.learn_days,
        signin_window_secs: args.signin_window * 3600,
        max_accesses: args.max_mail_records,
        max_signins: args.max_signins,
        ..MailOptions::default()
    };
    let mut indicators = ioc::storm_0558();
    for path in &args.ioc {
        let (found, warnings) = ioc::load_feed(path).map_err(|e| e.to_string())?;
        notes.extend(warnings);
        indicators.extend(found);
    }
    let interest = builtin_interest(&indicators);
    Ok(Some((
        MailDetector::new(options, baseline),
        IocDetector::new(indicators),
        VerdictDetector,
        interest,
    )))
}

/// Every active detector, in a fixed order.
fn detectors<'s, 'r>(
    sigma: &'s mut Option<SigmaDetector<'r>>,
    mail: &'s mut Option<MailDetector>,
    ioc: &'s mut Option<IocDetector>,
    verdicts: &'s mut Option<VerdictDetector>,
) -> Vec<&'s mut dyn Detector> {
    let mut v: Vec<&'s mut dyn Detector> = Vec::new();
    if let Some(d) = sigma {
        v.push(d);
    }
    if let Some(d) = mail {
        v.push(d);
    }
    if let Some(d) = ioc {
        v.push(d);
    }
    if let Some(d) = verdicts {
        v.push(d);
    }
    v
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let (set, mapping) = match load_rules(&args, globals.quiet) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("stormwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => match File::create(path) {
            Ok(f) => Box::new(BufWriter::new(f)),
            Err(e) => {
                eprintln!("stormwatch: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut notes = Vec::new();
    let mut sigma = (!args.rules.is_empty()).then(|| SigmaDetector::new(&set, &mapping));
    let builtins = match builtins(&args, &mut notes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("stormwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let mut interest = Interest::nothing();
    if let Some(s) = &sigma {
        interest.union(s.interest());
    }
    let (mut mail, mut ioc, mut verdicts) = match builtins {
        Some((m, i, v, wants)) => {
            interest.union(wants);
            (Some(m), Some(i), Some(v))
        }
        None => (None, None, None),
    };
    let prefilter = if args.no_prefilter {
        None
    } else {
        interest.compile().map(std::sync::Arc::new)
    };
    let streaming = args.format == OutputFormat::Jsonl;
    let filters = DumpFilters {
        kinds: Vec::new(),
        from: args.from,
        to: args.to,
    };
    let mut kept: Vec<Alert> = Vec::new();
    let mut fresh: Vec<Alert> = Vec::new();
    let mut evaluated = 0u64;
    let mut write_error: Option<std::io::Error> = None;
    let mut emit = |alerts: &mut Vec<Alert>, kept: &mut Vec<Alert>, out: &mut dyn Write| {
        for a in alerts.drain(..).filter(|a| args.wanted(a)) {
            if streaming {
                if let Err(e) = sink::write_jsonl(out, &a) {
                    write_error.get_or_insert(e);
                }
                if !args.incidents {
                    continue;
                }
            }
            kept.push(a);
        }
    };
    let outcome = read_inputs_filtered(&args.input, globals, prefilter, &mut |record| {
        match record {
            Record::Event(event) => {
                if !filters.keeps(event.kind, event.core.time) {
                    return;
                }
                for d in detectors(&mut sigma, &mut mail, &mut ioc, &mut verdicts) {
                    d.observe(&event, &mut fresh);
                }
            }
            // Read narrowly: for the mail analysis alone (no other detector's literal is on
            // the line).
            Record::MailRead(read) => {
                if !filters.keeps(LogKind::Ual, read.core.time) {
                    return;
                }
                if let Some(m) = &mut mail {
                    m.read(read);
                }
            }
        }
        evaluated += 1;
        emit(&mut fresh, &mut kept, &mut *out);
    });
    for d in detectors(&mut sigma, &mut mail, &mut ioc, &mut verdicts) {
        d.finish(&mut fresh, &mut notes);
    }
    if let (Some(path), Some(m)) = (&args.write_baseline, &mail) {
        let text =
            serde_json::to_string_pretty(&m.updated_baseline().to_json()).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("stormwatch: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    emit(&mut fresh, &mut kept, &mut *out);
    // A prefiltered record was evaluated, cheaply: no detector's literal is on its line.
    let in_range = evaluated;
    let evaluated = in_range + outcome.stats.prefiltered;
    let info = ReportInfo {
        records_read: outcome.stats.records_read,
        records_evaluated: evaluated,
        records_rejected: outcome.stats.rejected,
        rules_loaded: set.len(),
        inputs: outcome
            .files
            .iter()
            .map(|(i, _, _)| i.name.to_string())
            .collect(),
        notes: notes.clone(),
    };
    let count = if streaming { None } else { Some(kept.len()) };
    sink::sort(&mut kept);
    let incidents = incident::incidents(&kept);
    let campaigns = incident::campaigns(&kept);
    let report = Report {
        alerts: &kept,
        incidents: &incidents,
        campaigns: &campaigns,
        info: &info,
        incident_records: args.incidents,
    };
    let written = if streaming {
        sink::write_group_records(&mut *out, &report)
    } else {
        sink::write_report(args.format.sink(), &mut *out, &report)
    };
    if let Err(e) = written {
        write_error.get_or_insert(e);
    }
    if let Some(e) = write_error.or_else(|| out.flush().err()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("stormwatch: writing results failed: {e}");
            return ExitCode::from(2);
        }
    }
    if !globals.quiet {
        for note in &notes {
            eprintln!("note: {note}");
        }
        let skipped = outcome.stats.events - in_range;
        let by_prefilter = match outcome.stats.prefiltered {
            0 => String::new(),
            n => format!("{n} by the prefilter alone, "),
        };
        let extra = match count {
            Some(n) => format!(
                "; {evaluated} evaluated ({by_prefilter}{skipped} outside --from/--to); {n} detections"
            ),
            None => format!(
                "; {evaluated} evaluated ({by_prefilter}{skipped} outside --from/--to)"
            ),
        };
        print_reconciliation(&outcome.stats, &extra);
        if let Some(n) = count {
            let by_level: Vec<String> = sink::level_counts(&kept)
                .iter()
                .map(|(l, n)| format!("{n} {l}"))
                .collect();
            if n > 0 {
                eprintln!("detections by level: {}", by_level.join(", "));
            }
        }
    }
    if outcome.nothing_read() {
        eprintln!("stormwatch: no input could be read");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
