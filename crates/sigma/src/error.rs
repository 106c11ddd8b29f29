//! Load errors: every rejected rule is reported with its file, YAML line and rule id, and a
//! reason from a small closed set so tools can total rejections by reason.

use std::fmt;
use std::path::PathBuf;

/// Why a rule (or a whole file) could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// The YAML is malformed.
    #[error("YAML syntax: {0}")]
    Yaml(String),
    /// A required attribute is missing or has the wrong shape.
    #[error("{0}")]
    Structure(String),
    /// A field modifier is unknown or used in a way Sigma does not allow.
    #[error("{0}")]
    Modifier(String),
    /// A value cannot be used with its modifiers (bad number, CIDR, time part...).
    #[error("{0}")]
    Value(String),
    /// A regular expression does not compile (the engine uses linear-time regexes only).
    #[error("regex: {0}")]
    Regex(String),
    /// The condition does not parse or names an unknown search identifier.
    #[error("condition: {0}")]
    Condition(String),
    /// A `|expand` placeholder has no value in the configuration.
    #[error("unresolved placeholder %{0}%: add it to the placeholder config")]
    Placeholder(String),
    /// A correlation or filter names a rule that was not loaded, or a correlation is malformed.
    #[error("{0}")]
    Reference(String),
}

impl ErrorKind {
    /// A short stable name for totals (`io`, `yaml`, `structure`, `modifier`, `value`, `regex`,
    /// `condition`, `placeholder`, `reference`).
    pub fn reason(&self) -> &'static str {
        match self {
            ErrorKind::Io(_) => "io",
            ErrorKind::Yaml(_) => "yaml",
            ErrorKind::Structure(_) => "structure",
            ErrorKind::Modifier(_) => "modifier",
            ErrorKind::Value(_) => "value",
            ErrorKind::Regex(_) => "regex",
            ErrorKind::Condition(_) => "condition",
            ErrorKind::Placeholder(_) => "placeholder",
            ErrorKind::Reference(_) => "reference",
        }
    }
}

/// A rejected rule or unreadable file. Displays as `FILE:LINE: rule ID: reason` (`FILE: reason`
/// when no line applies).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based line of the offending YAML node (0 when the whole file is concerned).
    pub line: usize,
    /// The rule's `id` (or `title` when it has none); `None` when no rule could be identified.
    pub rule_id: Option<String>,
    pub kind: ErrorKind,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file.display())?;
        } else {
            write!(f, "{}:{}: ", self.file.display(), self.line)?;
        }
        if let Some(id) = &self.rule_id {
            write!(f, "rule {id}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for LoadError {}

/// An error inside one document, before the file and rule id are attached.
#[derive(Debug, Clone)]
pub(crate) struct CompileError {
    pub line: usize,
    pub kind: ErrorKind,
}

impl CompileError {
    pub fn new(line: usize, kind: ErrorKind) -> Self {
        CompileError { line, kind }
    }
}

/// A configuration file problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}
