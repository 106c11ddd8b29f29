//! Indicators of compromise: feeds, and the detector that matches events against them.
//!
//! Feeds: STIX 2.1 bundles (indicator patterns over `ipv4-addr`, `ipv6-addr`, `domain-name`,
//! `url` and HTTP `User-Agent`), CSV (`type,value,description,valid_from,valid_until`; `#`
//! comments), and plain lists (one value a line; the type inferred: address or CIDR, GUID app
//! id, 40-hex key thumbprint, domain, anything else a user-agent / client string). Validity
//! windows are respected: an indicator matches only events inside `[valid_from, valid_until]`
//! (whole UTC days when given as dates); an event without a time matches regardless, and the
//! detection says so. The built-in `storm-0558` feed holds the addresses and signing-key
//! thumbprint Microsoft published on 14 July 2023, with their first/last-seen dates.

use super::builtin_rules as rules;
use super::Detector;
use crate::alert::Alert;
use crate::event::{Event, LogKind};
use crate::normalize::{identity_sources, Identity};
use crate::normalize::{ip, time};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

const STORM_0558: &str = include_str!("../../data/storm-0558.csv");

/// What an indicator is matched against.
#[derive(Debug, Clone, PartialEq)]
pub enum IndicatorValue {
    /// An address or network (`prefix` bits).
    Network(IpAddr, u8),
    AppId(String),
    /// A signing key's `kid` or `x5t` thumbprint (lowercased hex or as written).
    Key(String),
    Domain(String),
    Url(String),
    /// A user-agent or client-info substring (case-insensitive).
    UserAgent(String),
}

/// One indicator with its provenance and validity.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub value: IndicatorValue,
    pub description: String,
    pub feed: String,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A feed file that cannot be read, naming the line.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct FeedError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

fn network(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let a = ip::canonical(addr.trim().parse::<IpAddr>().ok()?);
    let max = if a.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((a, bits))
}

fn in_network(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Parses a validity bound; a bare date means the whole UTC day (`until` → end of day).
fn bound(s: &str, until: bool) -> Result<Option<DateTime<Utc>>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let t = time::parse(s).ok_or_else(|| format!("not a time: {s:?}"))?;
    let date_only = s.len() <= 10;
    Ok(Some(if until && date_only {
        t + Duration::days(1) - Duration::milliseconds(1)
    } else {
        t
    }))
}

/// The value of a typed indicator (`type` as in CSV feeds and STIX object types).
fn typed(kind: &str, value: &str) -> Result<IndicatorValue, String> {
    let v = value.trim();
    let k = kind.trim().to_ascii_lowercase();
    Ok(match k.as_str() {
        "ipv4-addr" | "ipv6-addr" | "ip" | "cidr" | "ip-addr" => {
            let (a, b) = network(v).ok_or_else(|| format!("not an address or network: {v:?}"))?;
            IndicatorValue::Network(a, b)
        }
        "app-id" | "appid" | "app_id" | "application" => {
            IndicatorValue::AppId(v.to_ascii_lowercase())
        }
        "key-thumbprint" | "thumbprint" | "kid" | "x5t" | "key" => {
            IndicatorValue::Key(v.to_ascii_lowercase())
        }
        "domain-name" | "domain" => IndicatorValue::Domain(v.to_ascii_lowercase()),
        "url" => IndicatorValue::Url(v.to_ascii_lowercase()),
        "user-agent" | "useragent" | "client-info" => IndicatorValue::UserAgent(v.to_string()),
        other => return Err(format!("unknown indicator type {other:?}")),
    })
}

/// The type of a bare value in a plain list.
fn inferred(v: &str) -> IndicatorValue {
    let v = v.trim();
    if let Some((a, b)) = network(v) {
        return IndicatorValue::Network(a, b);
    }
    let hex40 = v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit());
    if hex40 {
        return IndicatorValue::Key(v.to_ascii_lowercase());
    }
    let guid = v.len() == 36 && v.bytes().filter(|b| *b == b'-').count() == 4;
    if guid {
        return IndicatorValue::AppId(v.to_ascii_lowercase());
    }
    if v.starts_with("http://") || v.starts_with("https://") {
        return IndicatorValue::Url(v.to_ascii_lowercase());
    }
    let domain = v.contains('.') && !v.contains(' ') && !v.contains(';') && !v.contains('/');
    if domain {
        return IndicatorValue::Domain(v.to_ascii_lowercase());
    }
    IndicatorValue::UserAgent(v.to_string())
}

/// Reads a CSV feed (`type,value,description,valid_from,valid_until`).
pub fn parse_csv(text: &str, feed: &str) -> Result<Vec<Indicator>, FeedError> {
    let err = |line: usize, reason: String| FeedError {
        file: feed.to_string(),
        line,
        reason,
    };
    let mut out = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(t.as_bytes());
        let Some(Ok(rec)) = reader.records().next() else {
            return Err(err(n, "not a CSV row".into()));
        };
        if !header_seen && rec.get(0).is_some_and(|c| c.eq_ignore_ascii_case("type")) {
            header_seen = true;
            continue;
        }
        header_seen = true;
        let cell = |k: usize| rec.get(k).unwrap_or("");
        let value = typed(cell(0), cell(1)).map_err(|e| err(n, e))?;
        out.push(Indicator {
            value,
            description: cell(2).to_string(),
            feed: feed.to_string(),
            valid_from: bound(cell(3), false).map_err(|e| err(n, e))?,
            valid_until: bound(cell(4), true).map_err(|e| err(n, e))?,
        });
    }
    Ok(out)
}

/// Reads a plain list (one value a line).
pub fn parse_plain(text: &str, feed: &str) -> Vec<Indicator> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Indicator {
            value: inferred(l),
            description: String::new(),
            feed: feed.to_string(),
            valid_from: None,
            valid_until: None,
        })
        .collect()
}

/// Reads a STIX 2.1 bundle's indicators. Unsupported pattern parts are skipped with a note in
/// the returned list of warnings.
pub fn parse_stix(text: &str, feed: &str) -> Result<(Vec<Indicator>, Vec<String>), FeedError> {
    let err = |line: usize, reason: String| FeedError {
        file: feed.to_string(),
        line,
        reason,
    };
    let v: Value =
        serde_json::from_str(text).map_err(|e| err(e.line(), format!("not valid JSON: {e}")))?;
    let objects = v
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| err(1, "a STIX bundle needs \"objects\"".into()))?;
    let comparison =
        regex::Regex::new(r"([a-z0-9-]+):((?:[A-Za-z0-9_.-]|'[^']*')+)\s*=\s*'((?:[^'\\]|\\.)*)'")
            .map_err(|e| err(0, e.to_string()))?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for o in objects
        .iter()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("indicator"))
    {
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
        let line = text
            .find(s("id"))
            .map_or(1, |at| text[..at].lines().count().max(1));
        let pattern = s("pattern");
        let description = if s("name").is_empty() {
            s("description")
        } else {
            s("name")
        };
        let mut any = false;
        for c in comparison.captures_iter(pattern) {
            let (object, property, value) = (&c[1], &c[2], c[3].replace("\\'", "'"));
            let kind = match (object, property) {
                ("ipv4-addr" | "ipv6-addr", "value") => object,
                ("domain-name", "value") => "domain-name",
                ("url", "value") => "url",
                ("network-traffic", p) if p.to_ascii_lowercase().contains("user-agent") => {
                    "user-agent"
                }
                ("user-agent", _) => "user-agent",
                _ => {
                    warnings.push(format!(
                        "{feed}:{line}: pattern part {object}:{property} is not supported; skipped"
                    ));
                    continue;
                }
            };
            let value = typed(kind, &value).map_err(|e| err(line, e))?;
            out.push(Indicator {
                value,
                description: description.to_string(),
                feed: feed.to_string(),
                valid_from: bound(s("valid_from"), false).map_err(|e| err(line, e))?,
                valid_until: bound(s("valid_until"), true).map_err(|e| err(line, e))?,
            });
            any = true;
        }
        if !any {
            warnings.push(format!(
                "{feed}:{line}: indicator pattern {pattern:?} has nothing stormwatch can match"
            ));
        }
    }
    Ok((out, warnings))
}

/// Loads a feed file of any supported kind, decided by content.
pub fn load_feed(path: &Path) -> Result<(Vec<Indicator>, Vec<String>), FeedError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| FeedError {
        file: name.clone(),
        line: 0,
        reason: e.to_string(),
    })?;
    parse_feed(&text, &name)
}

/// Parses feed text of any supported kind (STIX 2.1 bundle, CSV with a `type,` header, or one
/// indicator a line), decided by content; `name` names the feed in errors and detections.
pub fn parse_feed(text: &str, name: &str) -> Result<(Vec<Indicator>, Vec<String>), FeedError> {
    let t = text.trim_start_matches('\u{feff}');
    if t.trim_start().starts_with('{') {
        return parse_stix(t, name);
    }
    let first = t
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    if first.is_some_and(|l| l.to_ascii_lowercase().starts_with("type,")) {
        return parse_csv(t, name).map(|i| (i, Vec::new()));
    }
    Ok((parse_plain(t, name), Vec::new()))
}

/// The built-in `storm-0558` feed.
pub fn storm_0558() -> Vec<Indicator> {
    parse_csv(STORM_0558, "storm-0558").unwrap_or_default()
}

/// (indicator index, tenant, user, client address).
type GroupKey = (usize, Option<String>, Option<String>, Option<String>);

/// Matches events against indicators; one detection per (indicator, tenant, user, ip).
pub struct IocDetector {
    indicators: Vec<Indicator>,
    groups: BTreeMap<GroupKey, Alert>,
    max_ids: usize,
}

impl IocDetector {
    pub fn new(indicators: Vec<Indicator>) -> Self {
        IocDetector {
            indicators,
            groups: BTreeMap::new(),
            max_ids: 1000,
        }
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }
}

/// Where a client string (user agent) is written in a record, as JSON pointers.
const TEXT_FIELDS: [&str; 6] = [
    "/ClientInfoString",
    "/UserAgent",
    "/user_agent",
    "/properties/userAgent",
    "/userAgent",
    "/ExtendedProperties/UserAgent",
];

/// Where a URL indicator is also looked for.
const URI: &str = "uri";

fn text_fields(e: &Event) -> impl Iterator<Item = &str> {
    TEXT_FIELDS
        .iter()
        .filter_map(|p| e.record.pointer(p))
        .filter_map(Value::as_str)
}

/// The top-level fields of a UAL record [`matches`] reads for an indicator of this value:
/// those the user, the address or the app ids come from, those of `TEXT_FIELDS`, `uri`.
pub fn ual_keys(value: &IndicatorValue) -> Vec<&'static str> {
    let from = |which| identity_sources(LogKind::Ual, which);
    let text = TEXT_FIELDS.iter().filter_map(|p| p.split('/').nth(1));
    match value {
        IndicatorValue::Network(..) => from(Identity::Address),
        IndicatorValue::AppId(_) => from(Identity::Apps),
        IndicatorValue::Domain(_) => from(Identity::User),
        IndicatorValue::UserAgent(_) => text.collect(),
        IndicatorValue::Url(_) => text.chain([URI]).collect(),
        IndicatorValue::Key(_) => Vec::new(),
    }
}

fn matches(ind: &Indicator, e: &Event) -> Option<String> {
    let c = &e.core;
    if let (Some(t), Some(from)) = (c.time, ind.valid_from) {
        if t < from {
            return None;
        }
    }
    if let (Some(t), Some(until)) = (c.time, ind.valid_until) {
        if t > until {
            return None;
        }
    }
    match &ind.value {
        IndicatorValue::Network(net, bits) => {
            let a = c.ip?;
            in_network(a, *net, *bits).then(|| format!("client address {a}"))
        }
        IndicatorValue::AppId(id) => [&c.app_id, &c.client_app_id]
            .into_iter()
            .flatten()
            .find(|a| *a == id)
            .map(|a| format!("app id {a}")),
        IndicatorValue::Key(k) => {
            if e.kind != LogKind::TokenVerdict {
                return None;
            }
            ["kid", "x5t"]
                .iter()
                .filter_map(|f| e.record.get(*f).and_then(Value::as_str))
                .find(|v| v.eq_ignore_ascii_case(k))
                .map(|v| format!("signing key {v}"))
        }
        IndicatorValue::UserAgent(ua) => {
            let needle = ua.to_ascii_lowercase();
            text_fields(e)
                .find(|t| t.to_ascii_lowercase().contains(&needle))
                .map(|t| format!("client string {t:?}"))
        }
        IndicatorValue::Domain(d) => {
            let user = c.user.as_deref()?;
            user.rsplit_once('@')
                .filter(|(_, dom)| dom == d || dom.ends_with(&format!(".{d}")))
                .map(|_| format!("user domain {d}"))
        }
        IndicatorValue::Url(u) => text_fields(e)
            .chain(e.record.get(URI).and_then(Value::as_str))
            .find(|t| t.to_ascii_lowercase().contains(u))
            .map(|_| format!("url {u}")),
    }
}

impl Detector for IocDetector {
    fn name(&self) -> &str {
        "ioc"
    }

    fn observe(&mut self, event: &Event, _out: &mut Vec<Alert>) {
        for (i, ind) in self.indicators.iter().enumerate() {
            let Some(what) = matches(ind, event) else {
                continue;
            };
            let c = &event.core;
            let key = (
                i,
                c.tenant.clone(),
                c.user.clone(),
                c.ip.map(|a| a.to_string()),
            );
            let max_ids = self.max_ids;
            let alert = self.groups.entry(key).or_insert_with(|| {
                let summary = format!(
                    "{what} matches {} indicator{}{}",
                    ind.feed,
                    if ind.description.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", ind.description)
                    },
                    if c.time.is_none() {
                        "; the event has no time, so the validity window was not checked"
                    } else {
                        ""
                    },
                );
                let mut a = Alert::for_event(rules::IOC_MATCH.rule(), event, summary, json!({}));
                a.event_ids.clear();
                a.evidence = json!({"feed": ind.feed, "indicator": format!("{:?}", ind.value),
                                    "description": ind.description, "matched": what, "events": 0,
                                    "valid_from": ind.valid_from.map(crate::event::format_time),
                                    "valid_until": ind.valid_until.map(crate::event::format_time)});
                a
            });
            if let Some(id) = &c.record_id {
                if alert.event_ids.len() < max_ids {
                    alert.event_ids.push(id.clone());
                }
            }
            if let Some(n) = alert.evidence.get_mut("events") {
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
            if c.time.is_some() && (alert.time.is_none() || c.time < alert.time) {
                alert.time = c.time;
                alert.source = Some(event.origin.clone());
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Alert>, _notes: &mut Vec<String>) {
        out.extend(std::mem::take(&mut self.groups).into_values());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_feed_has_the_published_indicators() {
        let feed = storm_0558();
        assert_eq!(
            feed.len(),
            39,
            "8 token web panel + 30 SoftEther addresses + 1 thumbprint"
        );
        assert!(feed
            .iter()
            .any(|i| i.value
                == IndicatorValue::Key("d4b4cccda9228624656bff33d8110955779632aa".into())));
        let first = feed
            .iter()
            .find(|i| i.value == IndicatorValue::Network("51.89.156.153".parse().unwrap(), 32))
            .unwrap();
        assert_eq!(
            first.valid_from.unwrap().to_rfc3339(),
            "2023-03-09T00:00:00+00:00"
        );
        assert_eq!(
            first.valid_until.unwrap().to_rfc3339(),
            "2023-07-10T23:59:59.999+00:00"
        );
    }

    #[test]
    fn cidr_v4_v6_and_inference() {
        assert!(in_network(
            "10.1.2.3".parse().unwrap(),
            "10.1.0.0".parse().unwrap(),
            16
        ));
        assert!(!in_network(
            "10.2.2.3".parse().unwrap(),
            "10.1.0.0".parse().unwrap(),
            16
        ));
        assert!(in_network(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            32
        ));
        assert!(!in_network(
            "2001:db9::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            32
        ));
        assert_eq!(
            inferred("Client=REST;Client=RESTSystem;;"),
            IndicatorValue::UserAgent("Client=REST;Client=RESTSystem;;".into())
        );
        assert!(matches!(
            inferred("192.0.2.0/24"),
            IndicatorValue::Network(_, 24)
        ));
        assert!(matches!(
            inferred("00000002-0000-0ff1-ce00-000000000000"),
            IndicatorValue::AppId(_)
        ));
        assert!(matches!(
            inferred("evil.example"),
            IndicatorValue::Domain(_)
        ));
    }

    #[test]
    fn stix_bundle_and_errors_name_lines() {
        let bundle = r#"{"type":"bundle","id":"bundle--1","objects":[
 {"type":"indicator","id":"indicator--a","name":"proxy","pattern":"[ipv4-addr:value = '198.51.100.7'] OR [ipv6-addr:value = '2001:db8::/32']","valid_from":"2023-05-01T00:00:00Z"},
 {"type":"indicator","id":"indicator--b","pattern":"[file:hashes.'SHA-256' = 'abc']","valid_from":"2023-05-01T00:00:00Z"}
]}"#;
        let (inds, warnings) = parse_stix(bundle, "f.json").unwrap();
        assert_eq!(inds.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("f.json:3:"), "{warnings:?}");
        let bad = "type,value,description,valid_from,valid_until\nipv4-addr,1.2.3.4,x,,\nipv4-addr,not-an-ip,x,,\n";
        let e = parse_csv(bad, "feed.csv").unwrap_err().to_string();
        assert!(e.starts_with("feed.csv:3: not an address"), "{e}");
    }
}
