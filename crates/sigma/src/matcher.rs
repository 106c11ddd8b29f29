//! Compiled field tests and their evaluation against an [`Event`].
//!
//! Typing (Sigma spec): rule values are strings, compared case-insensitively unless `|cased`; an
//! event number matches the string form of a rule value (`4624` ≙ `"4624"`), and a rule number
//! also matches an event value that parses to the same number. An event array means "any element
//! matches" (each value of a `|all` list may be met by a different element). `null` in a rule
//! matches an absent field or a JSON null; `''` matches only an empty string. Objects never
//! match a value test. Nothing here panics or recurses without bound.

use crate::accel::Accel;
use crate::event::Event;
use crate::pattern::Pattern;
use crate::timeparts;
use serde_json::Value;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

/// A comparison operator for numeric and time-part tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
        }
    }
}

/// A calendar part extracted by a time modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// How a field reference compares (`fieldref` combined with `contains`/`startswith`/`endswith`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefShape {
    Equal,
    Contains,
    Prefix,
    Suffix,
}

/// One value of a field test.
#[derive(Debug, Clone)]
pub(crate) enum ValueTest {
    /// A (wildcard) string; `number` is set when the rule wrote a plain number.
    Str {
        pattern: Pattern,
        number: Option<f64>,
    },
    /// A compiled regex and its necessary literals (from its prefixes), if any.
    Regex(regex::Regex, Option<Vec<String>>),
    Num(Cmp, f64),
    Cidr(IpAddr, u8),
    Time(TimePart, Cmp, f64),
    FieldRef {
        other: String,
        shape: RefShape,
        cased: bool,
    },
    /// `null`: the field is absent or null.
    Null,
}

/// A field condition: `field|modifiers: values`, or a keyword search when `field` is `None`.
#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    pub field: Option<String>,
    pub tests: Vec<ValueTest>,
    /// `|all`: every value must match (otherwise any).
    pub all: bool,
    /// `|neq`: the field must be present and match none of the values.
    pub neq: bool,
    /// `|exists: true/false`.
    pub exists: Option<bool>,
    /// Set matching for long lists (see [`Accel`]), built on first use ([`FieldTest::accel`]).
    pub accel: OnceLock<Option<Accel>>,
}

const MAX_DEPTH: usize = 64;

/// Shorter literals make poor witnesses (they occur almost everywhere).
pub(crate) const MIN_WITNESS: usize = 3;

fn scalar_str(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Calls `f` on every scalar of `v` (arrays flattened); true as soon as `f` is.
fn any_scalar(v: &Value, f: &mut dyn FnMut(&Value) -> bool, depth: usize) -> bool {
    match v {
        Value::Array(items) if depth < MAX_DEPTH => {
            items.iter().any(|i| any_scalar(i, f, depth + 1))
        }
        Value::Array(_) | Value::Object(_) => false,
        scalar => f(scalar),
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    // IPv4-mapped or zone-suffixed forms: drop a `%zone`.
    let s = s.split('%').next().unwrap_or(s);
    s.parse().ok()
}

pub(crate) fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(v4) => in_cidr(IpAddr::V4(v4), net, prefix),
            None => false,
        },
        _ => false,
    }
}

/// An event scalar prepared once for all the tests of a field: its string form and, lazily,
/// its lower-cased form.
pub(crate) struct Scalar<'a> {
    v: Cow<'a, Value>,
    s: Option<Cow<'a, str>>,
    lower: std::cell::OnceCell<Cow<'a, str>>,
}

impl<'a> Scalar<'a> {
    fn new(v: &'a Value) -> Self {
        Scalar {
            s: scalar_str(v),
            v: Cow::Borrowed(v),
            lower: std::cell::OnceCell::new(),
        }
    }

    fn from_str(s: &'a str) -> Self {
        Scalar {
            v: Cow::Owned(Value::Null),
            s: Some(Cow::Borrowed(s)),
            lower: std::cell::OnceCell::new(),
        }
    }

    fn lowered(&self) -> &str {
        self.lower.get_or_init(|| {
            Cow::Owned(
                self.s
                    .as_deref()
                    .map(crate::pattern::lower)
                    .unwrap_or_default(),
            )
        })
    }

    /// The value as JSON (a keyword scalar is seen as a string).
    fn json(&self) -> Cow<'_, Value> {
        match (&self.v, &self.s) {
            (Cow::Owned(Value::Null), Some(s)) => Cow::Owned(Value::String(s.to_string())),
            (v, _) => Cow::Borrowed(v.as_ref()),
        }
    }
}

/// Flattens a field value into its scalars (arrays fan out; objects and nulls are skipped).
fn scalars<'a>(v: &'a Value, out: &mut Vec<Scalar<'a>>, depth: usize) {
    match v {
        Value::Array(items) if depth < MAX_DEPTH => {
            for i in items {
                scalars(i, out, depth + 1);
            }
        }
        Value::Array(_) | Value::Object(_) | Value::Null => {}
        scalar => out.push(Scalar::new(scalar)),
    }
}

impl ValueTest {
    /// Tests one prepared scalar.
    fn scalar(&self, sc: &Scalar<'_>, event: &dyn Event) -> bool {
        match self {
            ValueTest::Str { pattern, number } => {
                if let Some(s) = &sc.s {
                    if pattern.is_match_with(s, || sc.lowered()) {
                        return true;
                    }
                }
                match number {
                    Some(n) => as_f64(&sc.json()).is_some_and(|x| *n == x),
                    None => false,
                }
            }
            ValueTest::Regex(re, _) => sc.s.as_deref().is_some_and(|s| re.is_match(s)),
            ValueTest::Num(cmp, n) => as_f64(&sc.json()).is_some_and(|x| cmp.holds(x, *n)),
            ValueTest::Cidr(net, prefix) => {
                sc.s.as_deref()
                    .and_then(parse_ip)
                    .is_some_and(|ip| in_cidr(ip, *net, *prefix))
            }
            ValueTest::Time(part, cmp, n) => {
                timeparts::value_to_parts(&sc.json()).is_some_and(|p| {
                    let x = match part {
                        TimePart::Minute => p.minute,
                        TimePart::Hour => p.hour,
                        TimePart::Day => p.day,
                        TimePart::Week => p.iso_week(),
                        TimePart::Month => p.month,
                        TimePart::Year => u32::try_from(p.year).unwrap_or(0),
                    };
                    cmp.holds(f64::from(x), *n)
                })
            }
            ValueTest::FieldRef {
                other,
                shape,
                cased,
            } => {
                let Some(mine) = sc.s.as_deref() else {
                    return false;
                };
                let Some(theirs) = event.field(other) else {
                    return false;
                };
                let mine = if *cased {
                    mine.to_string()
                } else {
                    sc.lowered().to_string()
                };
                any_scalar(
                    &theirs,
                    &mut |t| {
                        let Some(t) = scalar_str(t) else { return false };
                        let t = if *cased {
                            t.into_owned()
                        } else {
                            crate::pattern::lower(&t)
                        };
                        match shape {
                            RefShape::Equal => mine == t,
                            RefShape::Contains => mine.contains(&t),
                            RefShape::Prefix => mine.starts_with(&t),
                            RefShape::Suffix => mine.ends_with(&t),
                        }
                    },
                    0,
                )
            }
            ValueTest::Null => false,
        }
    }
}

impl FieldTest {
    /// The set matching for a long list, built the first time the test runs: most rules of a
    /// large set never see an event of their logsource, and building every accelerator up
    /// front was a third of the time it took to load the whole SigmaHQ tree (perf).
    fn accel(&self) -> Option<&Accel> {
        if self.all {
            return None;
        }
        self.accel
            .get_or_init(|| Accel::build(&self.tests))
            .as_ref()
    }

    /// True if any value test matches one of the prepared scalars.
    fn any_of(&self, prepared: &[Scalar<'_>], is_null: bool, event: &dyn Event) -> bool {
        let Some(acc) = self.accel() else {
            return self.tests.iter().any(|t| match t {
                ValueTest::Null => is_null,
                t => prepared.iter().any(|sc| t.scalar(sc, event)),
            });
        };
        let ascii = |sc: &Scalar<'_>| sc.s.as_deref().is_some_and(str::is_ascii);
        if prepared.iter().any(|sc| ascii(sc) && acc.any(sc.lowered())) {
            return true;
        }
        self.tests.iter().enumerate().any(|(i, t)| match t {
            ValueTest::Null => is_null,
            t if acc.covered[i] => prepared.iter().any(|sc| !ascii(sc) && t.scalar(sc, event)),
            t => prepared.iter().any(|sc| t.scalar(sc, event)),
        })
    }

    pub fn matches(&self, event: &dyn Event) -> bool {
        let Some(name) = &self.field else {
            return self.keywords(event);
        };
        let value = event.field(name);
        if let Some(want) = self.exists {
            return value.is_some() == want;
        }
        let mut prepared = Vec::new();
        if let Some(v) = value.as_deref() {
            scalars(v, &mut prepared, 0);
            // A single string: the event may have its lower-cased form cached for all rules.
            if let ([one], Value::String(_)) = (prepared.as_slice(), v) {
                if let Some(l) = event.field_lowered(name) {
                    let _ = one.lower.set(Cow::Borrowed(l));
                }
            }
        }
        let is_null = match value.as_deref() {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        let test = |t: &ValueTest| match t {
            ValueTest::Null => is_null,
            t => prepared.iter().any(|sc| t.scalar(sc, event)),
        };
        if self.neq {
            return !matches!(value.as_deref(), None | Some(Value::Null))
                && !self.any_of(&prepared, is_null, event);
        }
        if self.all {
            !self.tests.is_empty() && self.tests.iter().all(test)
        } else {
            self.any_of(&prepared, is_null, event)
        }
    }

    fn keywords(&self, event: &dyn Event) -> bool {
        if self.all {
            !self.tests.is_empty()
                && self
                    .tests
                    .iter()
                    .all(|t| event.any_value(&mut |s| t.scalar(&Scalar::from_str(s), event)))
        } else {
            event.any_value(&mut |s| {
                let sc = Scalar::from_str(s);
                self.any_of(std::slice::from_ref(&sc), false, event)
            })
        }
    }

    /// Necessary literals (lower-cased): at least one occurs in any event this test matches.
    pub fn witnesses(&self) -> Option<Vec<String>> {
        if self.neq || self.exists.is_some() || self.tests.is_empty() {
            return None;
        }
        let lits: Vec<Option<Vec<String>>> = self
            .tests
            .iter()
            .map(|t| match t {
                // A number also matches equal numbers written otherwise (`10.0`): only a
                // canonical integer is a safe witness then.
                ValueTest::Str {
                    number: Some(n),
                    pattern,
                } if n.fract() != 0.0
                    || n.abs() > 1e15
                    || crate::pattern::as_literal(&pattern.toks)
                        != Some((*n as i64).to_string()) =>
                {
                    None
                }
                ValueTest::Str { pattern, .. } => {
                    let l = crate::pattern::longest_literal(&pattern.toks);
                    (l.len() >= MIN_WITNESS).then(|| vec![l.to_ascii_lowercase()])
                }
                ValueTest::Regex(_, w) => w.clone(),
                _ => None,
            })
            .collect();
        if self.all {
            lits.into_iter()
                .flatten()
                .max_by_key(|set| set.iter().map(String::len).min().unwrap_or(0))
        } else {
            let sets: Option<Vec<Vec<String>>> = lits.into_iter().collect();
            sets.map(|v| v.concat())
        }
    }
}
