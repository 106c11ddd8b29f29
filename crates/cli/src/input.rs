//! Reading log inputs for any subcommand: the shared arguments, rejection messages on stderr
//! (`FILE:LINE: reason`), the progress bar, and the closing reconciliation line.

use crate::Globals;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use stormwatch_engine::decode::Layout;
use stormwatch_engine::detect::mailbox::MailRead;
use stormwatch_engine::ingest::{InputInfo, Sink};
use stormwatch_engine::prefilter::Prefilter;
use stormwatch_engine::source::{self, Input};
use stormwatch_engine::{Event, IngestOptions, IngestStats, Ingestor, Rejection};

/// Inputs, as every log-reading subcommand takes them.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Log files or directories (read recursively, in path order); `-` reads standard input.
    /// Layout, compression (gzip, zstd) and log kind are recognised from the content.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Print at most this many rejected-record messages per input (0: all). Every rejected
    /// record is counted in the summary whatever this says.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_errors: u64,

    /// Worker threads for reading JSON lines (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// What a read produced besides the events.
pub struct ReadOutcome {
    pub stats: IngestStats,
    /// Inputs that could be listed (files found); zero means nothing could be read.
    pub readable_inputs: u64,
    pub files: Vec<(Input, Layout, InputInfo)>,
}

impl ReadOutcome {
    /// Exit status 2 when no input could be read at all.
    pub fn nothing_read(&self) -> bool {
        self.readable_inputs == 0 || self.stats.inputs_failed == self.stats.inputs
    }
}

/// Reads every input, handing events to `on_event`; rejections and failures go to stderr.
pub fn read_inputs(
    args: &InputArgs,
    globals: Globals,
    on_event: &mut dyn FnMut(Event),
) -> ReadOutcome {
    read_inputs_filtered(args, globals, None, &mut |record| match record {
        Record::Event(event) => on_event(event),
        // Only read with a prefilter.
        Record::MailRead(_) => {}
    })
}

/// What [`read_inputs_filtered`] hands on: an event, or a `MailItemsAccessed` or `UserLoggedIn`
/// record read narrowly for the mail analysis alone ([`Sink::mail_read`]), lent. The event is
/// not boxed to shrink the enum: that would cost an allocation an event, for a value passed
/// once and consumed.
#[allow(clippy::large_enum_variant)]
pub enum Record<'r> {
    Event(Event),
    MailRead(&'r MailRead),
}

/// [`read_inputs`], skipping unparsed the JSON lines `prefilter` does not want (counted in
/// `stats.prefiltered`), and reading narrowly those it wants only for the mail analysis.
pub fn read_inputs_filtered(
    args: &InputArgs,
    globals: Globals,
    prefilter: Option<std::sync::Arc<Prefilter>>,
    on_record: &mut dyn FnMut(Record<'_>),
) -> ReadOutcome {
    let mut inputs = Vec::new();
    for path in &args.paths {
        match source::expand(std::slice::from_ref(path)) {
            Ok(found) => inputs.extend(found),
            Err(e) => eprintln!("stormwatch: {e}"),
        }
    }
    let total: u64 = inputs.iter().filter_map(|i| i.size).sum();
    let progress = progress_bar(globals, total);
    let mut sink = Reporter {
        on_record,
        max_errors: args.max_errors,
        shown: HashMap::new(),
        progress: &progress,
        quiet: globals.quiet,
        files: Vec::new(),
    };
    let mut options = IngestOptions {
        narrow: true,
        ..IngestOptions::default()
    };
    if let Some(n) = args.threads {
        options.threads = n.max(1);
    }
    let mut ingestor = Ingestor::with_prefilter(options, prefilter);
    ingestor.run(&inputs, &mut sink);
    let files = std::mem::take(&mut sink.files);
    drop(sink);
    progress.finish_and_clear();
    for (input, _, info) in &files {
        let shown = info.rejected.min(if args.max_errors == 0 {
            u64::MAX
        } else {
            args.max_errors
        });
        if info.rejected > shown {
            eprintln!(
                "{}: {} more rejected records not shown (--max-errors 0 shows all)",
                input.name,
                info.rejected - shown
            );
        }
    }
    ReadOutcome {
        stats: ingestor.stats,
        readable_inputs: inputs.len() as u64,
        files,
    }
}

/// The closing line on stderr: read = parsed + rejected (+ prefiltered), always.
pub fn print_reconciliation(stats: &IngestStats, extra: &str) {
    let inputs = stats.inputs - stats.inputs_failed - stats.inputs_skipped;
    let mut failed = String::new();
    if stats.inputs_failed > 0 {
        failed.push_str(&format!(" ({} could not be read)", stats.inputs_failed));
    }
    if stats.inputs_skipped > 0 {
        failed.push_str(&format!(" ({} skipped: not logs)", stats.inputs_skipped));
    }
    let prefiltered = if stats.prefiltered > 0 {
        format!(
            ", {} prefiltered (no detector's literal on the line: not parsed, not checked)",
            stats.prefiltered
        )
    } else {
        String::new()
    };
    let narrow = match stats.narrow {
        0 => String::new(),
        n => format!(" ({n} of them narrowly, for the mail analysis)"),
    };
    eprintln!(
        "{} records read from {} input{}{}: {} parsed{}, {} rejected{}{}",
        stats.records_read,
        inputs,
        if inputs == 1 { "" } else { "s" },
        failed,
        stats.events,
        narrow,
        stats.rejected,
        prefiltered,
        extra
    );
}

fn progress_bar(globals: Globals, total: u64) -> ProgressBar {
    const SHOW_ABOVE: u64 = 4 << 20;
    if globals.quiet || total < SHOW_ABOVE || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

struct Reporter<'a> {
    on_record: &'a mut dyn FnMut(Record<'_>),
    max_errors: u64,
    shown: HashMap<std::sync::Arc<str>, u64>,
    progress: &'a ProgressBar,
    quiet: bool,
    files: Vec<(Input, Layout, InputInfo)>,
}

impl Sink for Reporter<'_> {
    fn event(&mut self, event: Event) {
        (self.on_record)(Record::Event(event));
    }

    fn mail_read(&mut self, read: &MailRead) {
        (self.on_record)(Record::MailRead(read));
    }

    fn rejected(&mut self, rejection: Rejection) {
        let shown = self.shown.entry(rejection.origin.file.clone()).or_default();
        if self.max_errors == 0 || *shown < self.max_errors {
            self.progress.suspend(|| eprintln!("{rejection}"));
        }
        *shown += 1;
    }

    fn input_failed(&mut self, input: &Input, error: &str) {
        let _ = input;
        self.progress.suspend(|| eprintln!("stormwatch: {error}"));
    }

    fn input_skipped(&mut self, input: &Input, why: &str) {
        if !self.quiet {
            self.progress
                .suspend(|| eprintln!("{}: skipped: {why}", input.name));
        }
    }

    fn input_done(&mut self, input: &Input, layout: Layout, info: &InputInfo) {
        self.files.push((input.clone(), layout, info.clone()));
    }

    fn progress(&mut self, bytes: u64) {
        self.progress.set_position(bytes);
    }
}
