//! The detection record: one schema for every detector and every sink (DESIGN.md, "Detection
//! record") — terminal table, CSV, JSON lines, the HTML report, the store, the API and
//! notifications all carry exactly this.

use crate::event::{format_time, origin_json, Event, Origin};
use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::fmt;

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn from_name(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
            .or_else(|| {
                s.trim()
                    .eq_ignore_ascii_case("info")
                    .then_some(Level::Informational)
            })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kind of detector raised a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    Sigma,
    Correlation,
    Builtin,
    Ioc,
}

impl RuleKind {
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Sigma => "sigma",
            RuleKind::Correlation => "correlation",
            RuleKind::Builtin => "builtin",
            RuleKind::Ioc => "ioc",
        }
    }
}

/// The rule a detection came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub kind: RuleKind,
    pub tags: Vec<String>,
    /// Sigma `status` (stable, test, experimental, …), where the rule has one.
    pub status: Option<String>,
}

/// One detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub time: Option<DateTime<Utc>>,
    pub rule: RuleRef,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub app_id: Option<String>,
    /// The source records' own ids (UAL `Id`, sign-in `id`) that triggered the detection.
    pub event_ids: Vec<String>,
    /// Where the triggering record is, when one record triggered it.
    pub source: Option<Origin>,
    pub summary: String,
    pub evidence: Value,
}

impl Alert {
    /// A detection on one event, with the event's core fields filled in.
    pub fn for_event(rule: RuleRef, event: &Event, summary: String, evidence: Value) -> Alert {
        let c = &event.core;
        Alert {
            time: c.time,
            rule,
            tenant: c.tenant.clone(),
            user: c.user.clone(),
            ip: c.ip.map(|i| i.to_string()),
            app_id: c.app_id.clone(),
            event_ids: c.record_id.iter().cloned().collect(),
            source: Some(event.origin.clone()),
            summary,
            evidence,
        }
    }
}

impl Serialize for RuleRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("title", &self.title)?;
        m.serialize_entry("level", self.level.name())?;
        m.serialize_entry("kind", self.kind.name())?;
        m.serialize_entry("tags", &self.tags)?;
        if let Some(s) = &self.status {
            m.serialize_entry("status", s)?;
        }
        m.end()
    }
}

/// Serialises as the detection record: `time`, `rule`, `tenant`, `user`, `ip`, `app_id`,
/// `event_ids`, `source`, `summary`, `evidence` (absent values as `null`, so every record has
/// every key).
impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(10))?;
        m.serialize_entry("time", &self.time.map(format_time))?;
        m.serialize_entry("rule", &self.rule)?;
        m.serialize_entry("tenant", &self.tenant)?;
        m.serialize_entry("user", &self.user)?;
        m.serialize_entry("ip", &self.ip)?;
        m.serialize_entry("app_id", &self.app_id)?;
        m.serialize_entry("event_ids", &self.event_ids)?;
        m.serialize_entry("source", &self.source.as_ref().map(origin_json))?;
        m.serialize_entry("summary", &self.summary)?;
        m.serialize_entry("evidence", &self.evidence)?;
        m.end()
    }
}
