//! Compiled detection rules and the metadata every Sigma document shares.

use crate::detection::Detection;
use crate::error::{CompileError, ErrorKind};
use crate::event::Event;
use crate::yaml::{Kind, Node};
use crate::Config;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Severity, ordered from `Informational` to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// Parses a Sigma level name (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The Sigma name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
}

impl LogSource {
    /// True if every attribute set in `self` is equal (case-insensitively) in `other`.
    pub fn is_subset_of(&self, other: &LogSource) -> bool {
        let ok = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (None, _) => true,
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            (Some(_), None) => false,
        };
        ok(&self.product, &other.product)
            && ok(&self.category, &other.category)
            && ok(&self.service, &other.service)
    }

    pub(crate) fn from_node(node: Option<&Node>) -> LogSource {
        let get = |k: &str| node.and_then(|n| n.get(k)).and_then(Node::as_scalar_string);
        LogSource {
            product: get("product"),
            category: get("category"),
            service: get("service"),
            definition: get("definition"),
        }
    }
}

/// Metadata shared by detection, correlation and filter documents.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Meta {
    /// `id`, or empty when the document has none.
    pub id: String,
    /// `name` (used by correlations to refer to rules).
    pub name: Option<String>,
    pub title: String,
    pub status: Option<String>,
    pub level: Option<Level>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub fields: Vec<String>,
    pub logsource: LogSource,
    /// The file the document came from, and the line its document starts on.
    pub file: PathBuf,
    pub line: usize,
}

impl Meta {
    pub(crate) fn from_node(doc: &Node, file: PathBuf) -> Result<Meta, CompileError> {
        let s = |k: &str| doc.get(k).and_then(Node::as_scalar_string);
        let list = |k: &str| doc.get(k).map(Node::as_string_list).unwrap_or_default();
        let title = s("title").ok_or_else(|| {
            CompileError::new(doc.line, ErrorKind::Structure("missing 'title'".into()))
        })?;
        let level = match doc.get("level") {
            None => None,
            Some(n) => match n.as_scalar_string().as_deref().map(Level::parse) {
                Some(Some(l)) => Some(l),
                _ => {
                    return Err(CompileError::new(
                        n.line,
                        ErrorKind::Structure("unknown 'level'".into()),
                    ))
                }
            },
        };
        Ok(Meta {
            id: s("id").unwrap_or_default(),
            name: s("name"),
            title,
            status: s("status"),
            level,
            description: s("description"),
            author: s("author"),
            date: s("date"),
            modified: s("modified"),
            tags: list("tags"),
            references: list("references"),
            falsepositives: list("falsepositives"),
            fields: list("fields"),
            logsource: LogSource::from_node(doc.get("logsource")),
            file,
            line: doc.line,
        })
    }

    /// The id, or the title when the document has no id (for messages and references).
    pub fn display_id(&self) -> &str {
        if self.id.is_empty() {
            &self.title
        } else {
            &self.id
        }
    }

    /// True if `reference` (from a correlation or filter) names this document.
    pub fn is_named(&self, reference: &str) -> bool {
        (!self.id.is_empty() && self.id == reference) || self.name.as_deref() == Some(reference)
    }
}

/// A compiled Sigma detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: Meta,
    detection: Detection,
    filters: Vec<Arc<Detection>>,
    standalone: bool,
}

impl Rule {
    pub(crate) fn compile(doc: &Node, meta: Meta, config: &Config) -> Result<Rule, CompileError> {
        let det = doc.get("detection").ok_or_else(|| {
            CompileError::new(doc.line, ErrorKind::Structure("missing 'detection'".into()))
        })?;
        if doc
            .get("logsource")
            .is_some_and(|l| !matches!(l.kind, Kind::Map(_)))
        {
            return Err(CompileError::new(
                doc.line,
                ErrorKind::Structure("'logsource' must be a mapping".into()),
            ));
        }
        Ok(Rule {
            meta,
            detection: Detection::compile(det, config, &[])?,
            filters: Vec::new(),
            standalone: true,
        })
    }

    /// The rule's id (empty if it has none).
    pub fn id(&self) -> &str {
        &self.meta.id
    }

    pub fn title(&self) -> &str {
        &self.meta.title
    }

    pub fn level(&self) -> Option<Level> {
        self.meta.level
    }

    pub fn logsource(&self) -> &LogSource {
        &self.meta.logsource
    }

    /// True if the event satisfies the detection and none of the filters applied to the rule.
    pub fn matches(&self, event: &dyn Event) -> bool {
        self.detection.matches(event) && !self.filters.iter().any(|f| f.matches(event))
    }

    /// Whether matches of this rule are reported on their own. False when the rule is only
    /// referenced by correlations that do not set `generate: true`.
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    /// Necessary literals (lower-cased): if `Some`, any event this rule matches contains at
    /// least one of them in the string form of one of its values, ASCII-case-insensitively.
    /// `None` means no such set is known (the rule must be evaluated on every event).
    /// Witnesses hold only printable ASCII other than `"` and `\`, so they read the same in raw
    /// JSON text unless the writer escaped plain characters (`\u0063`); a rule number is a
    /// witness only in canonical integer form (an event writing it as `4.624e3` is not covered).
    pub fn witnesses(&self) -> Option<Vec<String>> {
        let mut w = self.detection.witnesses()?;
        if w.is_empty() {
            return None;
        }
        w.sort();
        w.dedup();
        Some(w)
    }

    /// The fields whose values [`witnesses`](Self::witnesses) can be found in: every field
    /// the detection reads (sorted, distinct; an event's value of one of them, in the string
    /// form of one of its scalars, holds the witness). `None` where the detection has a
    /// keyword search, which reads every value of the event.
    pub fn fields(&self) -> Option<Vec<&str>> {
        let mut f = self.detection.fields()?;
        f.sort_unstable();
        f.dedup();
        Some(f)
    }

    /// Number of filter documents applied to this rule.
    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }

    pub(crate) fn add_filter(&mut self, f: Arc<Detection>) {
        self.filters.push(f);
    }

    pub(crate) fn set_standalone(&mut self, v: bool) {
        self.standalone = v;
    }
}
