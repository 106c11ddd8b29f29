//! `stormwatch inspect`: what is in these logs — the summary a responder reads first.

use crate::input::{read_inputs, InputArgs};
use crate::Globals;
use std::process::ExitCode;
use stormwatch_engine::event::format_time;
use stormwatch_engine::sink::table::Table;
use stormwatch_engine::summary::{ranked, Summary};
use stormwatch_engine::LogKind;

/// Summarise log files: records per kind, per tenant, per operation, per app id and per client
/// IP, the time range, and how many records were read, parsed and rejected.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,

    /// How many entries the top lists (operations, app ids, IPs, users) show.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Output format: a table for people, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: Args, globals: Globals) -> ExitCode {
    let mut summary = Summary::default();
    let outcome = read_inputs(&args.input, globals, &mut |event| summary.add(&event));
    for (input, layout, info) in &outcome.files {
        summary.add_file(input, *layout, info);
    }
    if outcome.nothing_read() {
        eprintln!("stormwatch: no input could be read");
        return ExitCode::from(2);
    }
    match args.format {
        Format::Json => println!("{}", summary.to_json(&outcome.stats, args.top)),
        Format::Table => print!("{}", render(&summary, &outcome.stats, args.top)),
    }
    ExitCode::SUCCESS
}

fn render(s: &Summary, stats: &stormwatch_engine::IngestStats, top: usize) -> String {
    let mut out = String::new();
    let mut files = Table::new(&["input", "layout", "compression", "records", "rejected"])
        .right(3)
        .right(4);
    for f in &s.files {
        let compression = match (f.compression, f.encoding) {
            (c, "utf-8") => c.to_string(),
            (c, e) => format!("{c}, {e}"),
        };
        files.row(vec![
            f.name.clone(),
            f.layout.into(),
            compression,
            f.records.to_string(),
            f.rejected.to_string(),
        ]);
    }
    out.push_str("Inputs\n");
    out.push_str(&files.render("  "));
    out.push_str(&format!(
        "\nRecords: {} read = {} parsed + {} rejected\n",
        stats.records_read, stats.events, stats.rejected
    ));
    let first = s.first.map(format_time).unwrap_or_else(|| "-".into());
    let last = s.last.map(format_time).unwrap_or_else(|| "-".into());
    out.push_str(&format!("Time range: {first} .. {last}"));
    if s.without_time > 0 {
        out.push_str(&format!(" ({} records without a time)", s.without_time));
    }
    out.push('\n');
    let mut kinds = Table::new(&["kind", "records"]).right(1);
    for kind in LogKind::ALL {
        if let Some(n) = s.kinds.get(&kind) {
            kinds.row(vec![kind.name().into(), n.to_string()]);
        }
    }
    out.push_str("\nLog kinds\n");
    out.push_str(&kinds.render("  "));
    let sections = [
        ("Tenants", "tenant", &s.tenants, usize::MAX),
        ("Operations", "operation", &s.operations, top),
        ("App ids", "app id", &s.apps, top),
        ("Client IPs", "client ip", &s.ips, top),
        ("Users", "user", &s.users, top),
    ];
    for (title, column, map, limit) in sections {
        let all = ranked(map);
        let mut table = Table::new(&[column, "records"]).right(1);
        for (value, n) in all.iter().take(limit) {
            table.row(vec![value.to_string(), n.to_string()]);
        }
        if all.len() > limit {
            let rest: u64 = all[limit..].iter().map(|(_, n)| n).sum();
            table.row(vec![
                format!("({} others)", all.len() - limit),
                rest.to_string(),
            ]);
        }
        let heading = if limit == usize::MAX {
            title.to_string()
        } else {
            format!("{title} (top {limit} of {})", all.len())
        };
        out.push_str(&format!("\n{heading}\n"));
        out.push_str(&table.render("  "));
    }
    out
}
