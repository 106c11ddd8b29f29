//! The HTML report: one self-contained file (inline CSS and SVG, no script, no network) that
//! opens anywhere — summary by level, rule and tenant, a timeline chart, the detections table.

use super::{level_counts, Report};
use crate::alert::{Alert, Level};
use crate::event::format_time;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn color(level: Level) -> &'static str {
    match level {
        Level::Critical => "#7b1fa2",
        Level::High => "#c62828",
        Level::Medium => "#ef6c00",
        Level::Low => "#1565c0",
        Level::Informational => "#607d8b",
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1a1a1a}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}.lvl{color:#fff;border-radius:3px;padding:0 .4rem;font-weight:600}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem}\
.card b{font-size:1.4rem;display:block}code{font-size:.8rem;word-break:break-all}";

/// Renders the whole report.
pub fn render(r: &Report<'_>) -> String {
    let (alerts, info) = (r.alerts, r.info);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>stormwatch hunt report</title><style>{STYLE}</style></head><body>\
         <h1>stormwatch hunt report</h1>"
    );
    let _ = write!(
        h,
        "<p>{} records read, {} evaluated, {} rejected; {} rules; {} detections.</p>",
        info.records_read,
        info.records_evaluated,
        info.records_rejected,
        info.rules_loaded,
        alerts.len()
    );
    for note in &info.notes {
        let _ = write!(h, "<p><em>Note: {}</em></p>", escape(note));
    }
    h.push_str("<h2>By level</h2><div class=\"cards\">");
    for (level, n) in level_counts(alerts) {
        let _ = write!(
            h,
            "<div class=\"card\"><b style=\"color:{}\">{n}</b>{}</div>",
            color(level),
            level.name()
        );
    }
    h.push_str("</div>");
    if !r.incidents.is_empty() {
        h.push_str(
            "<h2>Incidents</h2><table><thead><tr><th>incident</th><th>level</th><th>tenant</th>\
                    <th>first</th><th>last</th><th>summary</th></tr></thead><tbody>",
        );
        for i in r.incidents {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><span class=\"lvl\" style=\"background:{}\">{}</span></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&i.id),
                color(i.level),
                i.level.name(),
                escape(i.tenant.as_deref().unwrap_or("-")),
                i.first.map(format_time).unwrap_or_default(),
                i.last.map(format_time).unwrap_or_default(),
                escape(&i.summary(alerts)),
            );
        }
        h.push_str("</tbody></table>");
    }
    if !r.campaigns.is_empty() {
        h.push_str("<h2>Campaigns</h2><table><thead><tr><th>indicator</th><th>tenants</th><th>detections</th></tr></thead><tbody>");
        for c in r.campaigns {
            let tenants: Vec<&str> = c.tenants.iter().map(String::as_str).collect();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&c.indicator),
                escape(&tenants.join(", ")),
                c.detections
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str(&group_table("By rule", "rule", alerts, |a| {
        a.rule.title.clone()
    }));
    h.push_str(&group_table("By tenant", "tenant", alerts, |a| {
        a.tenant.clone().unwrap_or_else(|| "(none)".into())
    }));
    h.push_str("<h2>Timeline</h2>");
    h.push_str(&timeline(alerts));
    h.push_str("<h2>Detections</h2><table><thead><tr><th>time</th><th>level</th><th>rule</th>\
                <th>tenant</th><th>user</th><th>ip</th><th>app id</th><th>summary</th><th>records</th></tr></thead><tbody>");
    for a in alerts {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><span class=\"lvl\" style=\"background:{}\">{}</span></td><td>{}<br><code>{}</code></td>\
             <td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
            a.time.map(format_time).unwrap_or_else(|| "-".into()),
            color(a.rule.level),
            a.rule.level.name(),
            escape(&a.rule.title),
            escape(&a.rule.id),
            escape(a.tenant.as_deref().unwrap_or("-")),
            escape(a.user.as_deref().unwrap_or("-")),
            escape(a.ip.as_deref().unwrap_or("-")),
            escape(a.app_id.as_deref().unwrap_or("-")),
            escape(&a.summary),
            escape(&a.event_ids.join(" ")),
        );
    }
    h.push_str("</tbody></table></body></html>\n");
    h
}

fn group_table(
    title: &str,
    column: &str,
    alerts: &[Alert],
    key: impl Fn(&Alert) -> String,
) -> String {
    let mut groups: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    for a in alerts {
        groups.entry(key(a)).or_default()[a.rule.level as usize] += 1;
    }
    let mut rows: Vec<(String, [usize; 5])> = groups.into_iter().collect();
    rows.sort_by(|a, b| b.1.iter().rev().cmp(a.1.iter().rev()).then(a.0.cmp(&b.0)));
    let mut h = format!("<h2>{title}</h2><table><thead><tr><th>{column}</th>");
    for level in Level::ALL.iter().rev() {
        let _ = write!(h, "<th>{}</th>", level.name());
    }
    h.push_str("</tr></thead><tbody>");
    for (name, n) in rows {
        let _ = write!(h, "<tr><td>{}</td>", escape(&name));
        for i in (0..5).rev() {
            let _ = write!(h, "<td>{}</td>", n[i]);
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// Detections per day as stacked bars by level, in inline SVG.
fn timeline(alerts: &[Alert]) -> String {
    let mut days: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    for a in alerts {
        if let Some(t) = a.time {
            days.entry(t.format("%Y-%m-%d").to_string()).or_default()[a.rule.level as usize] += 1;
        }
    }
    if days.is_empty() {
        return "<p>No timed detections.</p>".into();
    }
    let max = days
        .values()
        .map(|d| d.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let bar = 18usize;
    let height = 160usize;
    let width = days.len() * (bar + 4) + 60;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"detections per day\" width=\"{width}\" height=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">",
        height + 70
    );
    let _ = write!(
        s,
        "<text x=\"0\" y=\"10\">{max}</text><text x=\"0\" y=\"{height}\">0</text>"
    );
    for (i, (day, n)) in days.iter().enumerate() {
        let x = 40 + i * (bar + 4);
        let mut y = height;
        for level in Level::ALL {
            let count = n[level as usize];
            if count == 0 {
                continue;
            }
            let h = (count * (height - 10)).div_ceil(max);
            y -= h;
            let _ = write!(
                s,
                "<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" fill=\"{}\"><title>{day}: {count} {}</title></rect>",
                color(level),
                level.name()
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" transform=\"rotate(60 {} {})\">{day}</text>",
            x + 4,
            height + 12,
            x + 4,
            height + 12
        );
    }
    s.push_str("</svg>");
    s
}
