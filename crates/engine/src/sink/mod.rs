//! Sinks: where detections go — a terminal table, CSV, JSON, JSON lines, a standalone HTML report.
//!
//! JSON lines stream (one detection record a line, as produced: bounded memory); the other
//! formats are reports over the whole run and sort detections by time, then rule.

pub mod html;
pub mod table;

use crate::alert::{Alert, Level};
use crate::event::format_time;
use crate::incident::{Campaign, Incident};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{self, Write};
use table::Table;

/// Output formats of `hunt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Jsonl,
    Html,
}

/// A whole run's results.
pub struct Report<'a> {
    pub alerts: &'a [Alert],
    pub incidents: &'a [Incident],
    pub campaigns: &'a [Campaign],
    pub info: &'a ReportInfo,
    /// Write incident and campaign records in machine formats (`--incidents`).
    pub incident_records: bool,
}

/// What a report says besides the detections.
#[derive(Debug, Clone, Default)]
pub struct ReportInfo {
    pub records_read: u64,
    pub records_evaluated: u64,
    pub records_rejected: u64,
    pub rules_loaded: usize,
    pub inputs: Vec<String>,
    /// Notes for the reader ("detector not applicable: …").
    pub notes: Vec<String>,
}

/// Writes one detection record as a JSON line.
pub fn write_jsonl(out: &mut dyn Write, alert: &Alert) -> io::Result<()> {
    serde_json::to_writer(&mut *out, alert)?;
    out.write_all(b"\n")
}

/// Detections in report order: by time (timeless last), then rule id.
pub fn sort(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| {
        (a.time.is_none(), a.time, &a.rule.id).cmp(&(b.time.is_none(), b.time, &b.rule.id))
    });
}

/// Writes a whole report in a non-streaming format (JSON lines: the detections, then the
/// incident and campaign records when asked).
pub fn write_report(format: Format, out: &mut dyn Write, r: &Report<'_>) -> io::Result<()> {
    let (alerts, info) = (r.alerts, r.info);
    match format {
        Format::Jsonl => {
            alerts.iter().try_for_each(|a| write_jsonl(out, a))?;
            write_group_records(out, r)
        }
        Format::Json => {
            let mut v = json!({
                "summary": {
                    "records_read": info.records_read,
                    "records_evaluated": info.records_evaluated,
                    "records_rejected": info.records_rejected,
                    "rules_loaded": info.rules_loaded,
                    "detections": alerts.len(),
                    "incidents": r.incidents.len(),
                    "by_level": counts(alerts.iter().map(|a| a.rule.level.name())),
                    "notes": info.notes,
                },
                "detections": alerts,
            });
            if r.incident_records {
                v["incidents"] = r.incidents.iter().map(|i| i.to_json(alerts)).collect();
                v["campaigns"] = r.campaigns.iter().map(Campaign::to_json).collect();
            }
            serde_json::to_writer_pretty(&mut *out, &v)?;
            out.write_all(b"\n")
        }
        Format::Csv => write_csv(out, alerts),
        Format::Table => out.write_all(render_tables(r).as_bytes()),
        Format::Html => out.write_all(html::render(r).as_bytes()),
    }
}

/// Incident and campaign records as JSON lines, when asked.
pub fn write_group_records(out: &mut dyn Write, r: &Report<'_>) -> io::Result<()> {
    if !r.incident_records {
        return Ok(());
    }
    for i in r.incidents {
        serde_json::to_writer(&mut *out, &i.to_json(r.alerts))?;
        out.write_all(b"\n")?;
    }
    for c in r.campaigns {
        serde_json::to_writer(&mut *out, &c.to_json())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Incidents first, then campaigns, then every detection.
pub fn render_tables(r: &Report<'_>) -> String {
    let mut s = String::new();
    if !r.incidents.is_empty() {
        let mut t = Table::new(&["incident", "level", "tenant", "first", "last", "summary"]);
        for i in r.incidents {
            t.row(vec![
                i.id.clone(),
                i.level.name().into(),
                i.tenant.clone().unwrap_or_else(|| "-".into()),
                i.first.map(format_time).unwrap_or_else(|| "-".into()),
                i.last.map(format_time).unwrap_or_else(|| "-".into()),
                i.summary(r.alerts),
            ]);
        }
        s.push_str(&format!("Incidents ({})\n", r.incidents.len()));
        s.push_str(&t.render(""));
        s.push('\n');
    }
    if !r.campaigns.is_empty() {
        let mut t = Table::new(&["indicator", "tenants", "first", "last", "detections"]).right(4);
        for c in r.campaigns {
            t.row(vec![
                c.indicator.clone(),
                c.tenants.len().to_string(),
                c.first.map(format_time).unwrap_or_else(|| "-".into()),
                c.last.map(format_time).unwrap_or_else(|| "-".into()),
                c.detections.to_string(),
            ]);
        }
        s.push_str(&format!(
            "Campaigns: indicators seen in several tenants ({})\n",
            r.campaigns.len()
        ));
        s.push_str(&t.render(""));
        s.push('\n');
    }
    s.push_str(&format!("Detections ({})\n", r.alerts.len()));
    s.push_str(&render_table(r.alerts));
    s
}

fn counts<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, u64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    m
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

/// The terminal table: one row a detection.
pub fn render_table(alerts: &[Alert]) -> String {
    let mut t = Table::new(&[
        "time", "level", "rule", "tenant", "user", "ip", "app id", "summary",
    ]);
    for a in alerts {
        t.row(vec![
            a.time.map(format_time).unwrap_or_else(|| "-".into()),
            a.rule.level.name().into(),
            a.rule.title.clone(),
            opt(&a.tenant).into(),
            opt(&a.user).into(),
            opt(&a.ip).into(),
            opt(&a.app_id).into(),
            a.summary.clone(),
        ]);
    }
    t.render("")
}

/// A cell a spreadsheet would run as a formula is prefixed with `'` (CSV injection).
pub fn csv_safe(cell: &str) -> String {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn write_csv(out: &mut dyn Write, alerts: &[Alert]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "time",
        "level",
        "rule_id",
        "rule_title",
        "rule_kind",
        "tags",
        "tenant",
        "user",
        "ip",
        "app_id",
        "event_ids",
        "file",
        "line",
        "summary",
        "evidence",
    ])?;
    for a in alerts {
        let (file, line) = match &a.source {
            Some(o) => (o.file.to_string(), o.position.to_string()),
            None => (String::new(), String::new()),
        };
        let row = [
            a.time.map(format_time).unwrap_or_default(),
            a.rule.level.name().to_string(),
            a.rule.id.clone(),
            a.rule.title.clone(),
            a.rule.kind.name().to_string(),
            a.rule.tags.join(" "),
            a.tenant.clone().unwrap_or_default(),
            a.user.clone().unwrap_or_default(),
            a.ip.clone().unwrap_or_default(),
            a.app_id.clone().unwrap_or_default(),
            a.event_ids.join(" "),
            file,
            line,
            a.summary.clone(),
            a.evidence.to_string(),
        ];
        w.write_record(row.iter().map(|c| csv_safe(c)))?;
    }
    w.flush()
}

/// Counts by level, most severe first, for summaries.
pub fn level_counts(alerts: &[Alert]) -> Vec<(Level, usize)> {
    Level::ALL
        .iter()
        .rev()
        .map(|l| (*l, alerts.iter().filter(|a| a.rule.level == *l).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}
