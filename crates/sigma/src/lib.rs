//! Sigma v2.1 rules: parsing, compilation, matching, correlations and filters — log-source
//! agnostic.
//!
//! The crate knows nothing of any log format. A caller implements [`Event`] (field lookup by
//! the name a rule uses, after the caller's own field mapping; a walk over all values for
//! keyword searches) — `serde_json::Value` implements it already — loads a [`RuleSet`], asks
//! each [`Rule`] whether it [`matches`](Rule::matches), and feeds the matches of rules that
//! correlations use to a [`Correlator`].
//!
//! ```
//! use stormwatch_sigma::{Config, RuleSet};
//! let yaml = "title: t\nid: r1\nlogsource: {product: windows}\n\
//!             detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n";
//! let (set, errors) = RuleSet::from_yaml_str(yaml, "inline.yml".as_ref(), &Config::builtin());
//! assert!(errors.is_empty());
//! let event = serde_json::json!({"Image": "C:\\Windows\\System32\\CMD.EXE"});
//! assert!(set.rules()[0].matches(&event));
//! ```
//!
//! # Design
//! - **Compiled once.** Every value is compiled at load time into an exact/prefix/suffix/
//!   substring test, a linear glob, a `regex` (linear time; `re|i|m|s` flags), a CIDR, a
//!   numeric or time-part comparison, or a field reference. Evaluation allocates little and
//!   never panics, whatever the event shape (arrays, deep nesting, huge strings).
//! - **YAML with lines.** `yaml-rust2`'s event parser builds a small tree that keeps lines and
//!   scalar styles (`serde_yaml` is archived and loses positions), so every [`LoadError`] reads
//!   `FILE:LINE: rule ID: reason`.
//! - **Witnesses.** [`Rule::witnesses`] gives necessary literals for a byte-scan prefilter,
//!   and [`Rule::fields`] the fields whose values they can be found in.
//! - **Event trait.** [`Event::field`] answers a `Cow` so a dotted path that fans out over
//!   arrays can return the gathered elements; [`Event::field_lowered`] lets an event cache the
//!   lower-cased form of a string field for every rule that tests it.
//! - **Hot path.** [`Router`] checks each distinct logsource route once per event;
//!   [`Mapping::index`] resolves an event's fields once and caches lower-cased values
//!   ([`IndexedEvent`]); substrings are found with SIMD (`memchr`); long value lists are
//!   matched as sets (hash sets, Aho-Corasick).
//!
//! Typical use (`hunt`): `RuleSet::load_paths` → `Mapping::builtin` → `Router::new`; per event
//! `mapping.index(kind, &value)`, `router.candidates(kind, &ev)`, `rule.matches(&ev)`, and
//! `Correlator::feed` for rules a correlation [`wants`](Correlator::wants); `flush` at the end.
//!
//! # Semantics (where the spec leaves room, the choice made here)
//! - Strings compare case-insensitively unless `|cased`; `re` is case-sensitive unless `|i`.
//!   Wildcards `*`/`?`; a backslash escapes `*`, `?` and `\`, other backslashes are literal.
//! - An event number matches the string form of a rule value; a rule number also matches an
//!   event value parsing to the same number. Booleans match `true`/`false`.
//! - An event array means any element; with `|all` each value may match a different element.
//! - `null` matches an absent field or JSON null; `''` matches only the empty string;
//!   `|exists` tests presence only. `|neq` needs the field present and different from every
//!   value. `|fieldref` compares with another field's value (also with `contains`,
//!   `startswith`, `endswith`, `neq`, `cased`).
//! - Keywords (plain lists or `'|mod': [...]` with an empty field) match as substrings of any
//!   string or number value of the event.
//! - `windash` turns a `-` or `/` (or any of `–`, `—`, `―`) that starts a flag (not preceded by
//!   a word character, followed by one: pySigma's `\B[-/]\b`) into the class of all five.
//! - `base64offset` follows pySigma: three variants, cut to the position-independent part.
//! - Time modifiers read ISO 8601 strings (clock fields as written, no zone conversion) or Unix
//!   epochs (seconds, or milliseconds above 10^11); `week` is the ISO week. They combine with
//!   `lt`/`lte`/`gt`/`gte`.
//! - `cidr` accepts IPv4 and IPv6 networks; an IPv4-mapped IPv6 event address matches IPv4.
//! - Conditions: `or` < `and` < `not` precedence; `them` excludes `_` identifiers; a list of
//!   conditions is their OR.
//! - Filters (`filter:` documents) apply as `rule AND NOT filter` to the rules they name (all
//!   rules when they name none or say `any`/`all`) whose logsource includes the filter's
//!   logsource: the filter condition says what to suppress, as in the specification's example
//!   (pySigma appends `AND filter` and writes its filters as `not selection`).
//! - Correlations: see [`correlation`] for windows, eager vs at-close evaluation, chaining and
//!   `generate`.
//! - Placeholders (`|expand`): see [`Config`].
//! - Log-source routing and field mapping: see [`mapping`] ([`Mapping::builtin`], overridable
//!   from a file).

mod accel;
mod condition;
pub mod config;
pub mod correlation;
mod detection;
mod error;
mod event;
pub mod mapping;
mod matcher;
mod modifiers;
mod pattern;
mod rule;
mod ruleset;
mod timeparts;
mod yaml;

/// Lower-cases a value the way case-insensitive matching does (character by character, keeping
/// characters whose lower case is several characters), for [`Event::field_lowered`] caches.
pub fn lowercase(s: &str) -> String {
    pattern::lower(s)
}

pub use config::Config;
pub use correlation::{Condition, CorrelationHit, CorrelationRule, CorrelationType, Correlator};
pub use error::{ConfigError, ErrorKind, LoadError};
pub use event::{lookup_path, Event};
pub use mapping::{IndexedEvent, MappedEvent, Mapping, Route, Router};
pub use rule::{Level, LogSource, Meta, Rule};
pub use ruleset::{FilterRule, RuleSet};
