//! The normalized event: the record as it was (after unwrapping), plus core fields extracted once.
//!
//! Rules address raw field paths in [`Event::record`]; behavioural detectors use [`CoreFields`],
//! which map the many field-name variants of the Unified Audit Log, the Management Activity API,
//! Sentinel tables, Microsoft Graph and Azure Monitor diagnostic settings onto one name each.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// What kind of log a record is, recognised from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LogKind {
    /// A Microsoft 365 Unified Audit Log record (any workload), including Sentinel `OfficeActivity`.
    Ual,
    /// An Entra ID sign-in (interactive, non-interactive, service principal, managed identity, ADFS).
    EntraSignIn,
    /// An Entra ID directory audit record.
    EntraAudit,
    /// A verdict written by `stormwatch guard` / `token verify`.
    TokenVerdict,
    /// A Windows event (EVTX in its JSON form, `Event.System` / `Event.EventData`).
    Windows,
    /// Any other JSON object.
    Generic,
}

impl LogKind {
    /// Every kind, in display order.
    pub const ALL: [LogKind; 6] = [
        LogKind::Ual,
        LogKind::EntraSignIn,
        LogKind::EntraAudit,
        LogKind::TokenVerdict,
        LogKind::Windows,
        LogKind::Generic,
    ];

    /// The stable name used on the command line and in output.
    pub fn name(self) -> &'static str {
        match self {
            LogKind::Ual => "ual",
            LogKind::EntraSignIn => "entra_signin",
            LogKind::EntraAudit => "entra_audit",
            LogKind::TokenVerdict => "token_verdict",
            LogKind::Windows => "windows",
            LogKind::Generic => "generic",
        }
    }

    /// Parses a name as printed by [`LogKind::name`] (also accepts a few obvious aliases).
    pub fn from_name(name: &str) -> Option<LogKind> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "ual" | "m365" | "o365" | "office" | "officeactivity" => LogKind::Ual,
            "entra_signin" | "signin" | "signinlogs" | "signin_logs" => LogKind::EntraSignIn,
            "entra_audit" | "audit" | "auditlogs" | "audit_logs" => LogKind::EntraAudit,
            "token_verdict" | "token" => LogKind::TokenVerdict,
            "windows" | "evtx" => LogKind::Windows,
            "generic" | "json" => LogKind::Generic,
            _ => return None,
        })
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in its input a record was: a line of line-oriented input, or the N-th record of a JSON
/// array, CSV file or envelope. Always 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// Line-delimited input (JSON lines, pretty-printed values): the line the record starts on.
    Line(u64),
    /// The N-th record of a JSON array or CSV file.
    Record(u64),
    /// The N-th record inside an envelope that starts on line L (`{"records":[…]}` on one line).
    LineRecord(u64, u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(l) => write!(f, "{l}"),
            Position::Record(n) => write!(f, "#{n}"),
            Position::LineRecord(l, n) => write!(f, "{l}#{n}"),
        }
    }
}

impl Position {
    /// The line number, where the position has one.
    pub fn line(self) -> Option<u64> {
        match self {
            Position::Line(l) | Position::LineRecord(l, _) => Some(l),
            Position::Record(_) => None,
        }
    }

    /// The record index within an array, CSV file or envelope, where the position has one.
    pub fn record(self) -> Option<u64> {
        match self {
            Position::Record(n) | Position::LineRecord(_, n) => Some(n),
            Position::Line(_) => None,
        }
    }
}

/// The input a record came from and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The input's name as given (path, or `-` for stdin).
    pub file: Arc<str>,
    pub position: Position,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.position)
    }
}

/// Core fields extracted once per event. `None` where the record does not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoreFields {
    /// When the audited action happened, in UTC.
    pub time: Option<DateTime<Utc>>,
    /// The tenant (directory) id, lowercased; a GUID for well-formed records.
    pub tenant: Option<String>,
    /// The acting user's UPN (for mail access by a delegate, see the record for the owner).
    pub user: Option<String>,
    /// The client IP, without port or brackets; IPv4-mapped IPv6 shown as IPv4.
    pub ip: Option<IpAddr>,
    /// The application (API) id the access was made with.
    pub app_id: Option<String>,
    /// The client application id (the app the user ran).
    pub client_app_id: Option<String>,
    /// The Entra session id (`AADSessionId`, `SessionId`, `sessionId`).
    pub session_id: Option<String>,
    /// The unique token identifier (`UniqueTokenId`, `uniqueTokenIdentifier`).
    pub token_id: Option<String>,
    /// The record's own id (UAL `Id`, sign-in `id`).
    pub record_id: Option<String>,
    /// The operation or activity name.
    pub operation: Option<String>,
    /// The M365 workload (Exchange, SharePoint, AzureActiveDirectory, …).
    pub workload: Option<String>,
}

/// One normalized record.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: LogKind,
    pub core: CoreFields,
    /// The record after unwrapping and normalization (Name/Value bags folded, JSON strings parsed).
    pub record: Value,
    pub origin: Origin,
}

impl Event {
    /// The event as the JSON object `stormwatch dump` prints: core fields, source, record.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Serialises as `stormwatch dump` prints: `kind`, the core fields that are present, `source`,
/// and the normalized `record` — without copying the record.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = &self.core;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("kind", self.kind.name())?;
        if let Some(t) = c.time {
            m.serialize_entry("time", &format_time(t))?;
        }
        let ip = c.ip.map(|ip| ip.to_string());
        let text_fields = [
            ("tenant", &c.tenant),
            ("user", &c.user),
            ("ip", &ip),
            ("app_id", &c.app_id),
            ("client_app_id", &c.client_app_id),
            ("session_id", &c.session_id),
            ("token_id", &c.token_id),
            ("record_id", &c.record_id),
            ("operation", &c.operation),
            ("workload", &c.workload),
        ];
        for (name, value) in text_fields {
            if let Some(v) = value {
                m.serialize_entry(name, v)?;
            }
        }
        m.serialize_entry("source", &origin_json(&self.origin))?;
        m.serialize_entry("record", &self.record)?;
        m.end()
    }
}

/// `{"file": …, "line": …}` (and `"record": N` for array, CSV and envelope positions).
pub fn origin_json(origin: &Origin) -> Value {
    let mut m = Map::new();
    m.insert("file".into(), Value::from(&*origin.file));
    if let Some(l) = origin.position.line() {
        m.insert("line".into(), Value::from(l));
    }
    if let Some(n) = origin.position.record() {
        m.insert("record".into(), Value::from(n));
    }
    Value::Object(m)
}

/// RFC 3339 in UTC with a `Z`, keeping sub-second digits only where there are any.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
