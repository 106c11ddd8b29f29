//! Set matching for long value lists (hash lists, `Image|endswith` lists of dozens of paths).
//!
//! A list of plain case-insensitive ASCII values is compiled once into hash sets (exact, and
//! prefix/suffix by length) and one ASCII-case-insensitive Aho-Corasick automaton (substrings),
//! so a value is tested against the whole list in time independent of its length. It only
//! answers "does any of these values match" for ASCII event values; everything else falls back
//! to the per-value tests, which stay the reference semantics.

use crate::matcher::ValueTest;
use crate::pattern::StrMatcher;
use aho_corasick::AhoCorasick;
use std::collections::{BTreeMap, HashSet};

/// Lists shorter than this are tested value by value.
const MIN_VALUES: usize = 4;

#[derive(Debug, Clone, Default)]
pub(crate) struct Accel {
    exact: HashSet<String>,
    prefix: BTreeMap<usize, HashSet<String>>,
    suffix: BTreeMap<usize, HashSet<String>>,
    contains: Option<AhoCorasick>,
    /// Indexes of the tests the accelerator covers (the others are still run one by one).
    pub covered: Vec<bool>,
}

impl Accel {
    /// Builds an accelerator if enough of `tests` are plain, case-insensitive ASCII strings.
    pub fn build(tests: &[ValueTest]) -> Option<Accel> {
        let mut a = Accel {
            covered: vec![false; tests.len()],
            ..Accel::default()
        };
        let mut needles = Vec::new();
        let mut n = 0;
        for (i, t) in tests.iter().enumerate() {
            let ValueTest::Str {
                pattern,
                number: None,
            } = t
            else {
                continue;
            };
            if pattern.cased {
                continue;
            }
            let covered = match &pattern.matcher {
                StrMatcher::Exact(s) if s.is_ascii() => {
                    a.exact.insert(s.clone());
                    true
                }
                StrMatcher::Prefix(s) if s.is_ascii() => {
                    a.prefix.entry(s.len()).or_default().insert(s.clone());
                    true
                }
                StrMatcher::Suffix(s) if s.is_ascii() => {
                    a.suffix.entry(s.len()).or_default().insert(s.clone());
                    true
                }
                StrMatcher::Contains(s) if s.is_ascii() => {
                    needles.push(s.clone());
                    true
                }
                _ => false,
            };
            if covered {
                a.covered[i] = true;
                n += 1;
            }
        }
        if n < MIN_VALUES {
            return None;
        }
        if !needles.is_empty() {
            a.contains = Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&needles)
                    .ok()?,
            );
        }
        Some(a)
    }

    /// True if any covered value matches. `lower` is the ASCII value lower-cased.
    pub fn any(&self, lower: &str) -> bool {
        if self.exact.contains(lower) {
            return true;
        }
        let b = lower.as_bytes();
        for (len, set) in &self.prefix {
            if *len > b.len() {
                break;
            }
            if lower.is_char_boundary(*len) && set.contains(&lower[..*len]) {
                return true;
            }
        }
        for (len, set) in &self.suffix {
            if *len > b.len() {
                break;
            }
            let at = b.len() - len;
            if lower.is_char_boundary(at) && set.contains(&lower[at..]) {
                return true;
            }
        }
        self.contains.as_ref().is_some_and(|ac| ac.is_match(lower))
    }
}
