//! Reading a mail line narrowly without scanning it whole first: which literals could still
//! matter in a UAL `MailItemsAccessed` or `UserLoggedIn` record, and in which of its fields.
//!
//! The gate ([`super::Prefilter::classify`]) scans every byte of a line for every literal of
//! the run, and a mail line is read narrowly only when it holds none but the narrow ones. Yet
//! once a line has been read narrowly as a UAL record, most of those literals cannot matter
//! in it: the kind markers of other kinds and the witnesses of rules routed to other kinds do
//! not apply to a UAL record, and a Sigma rule routed to the UAL, or an IOC, matches only
//! through the values of the fields it reads. Each contributor says which top-level fields
//! those are ([`super::Interest::literals_in`], [`super::Interest::kind_literals_in`]); one
//! that cannot say (a keyword search, [`super::Interest::literals`]) leaves the run
//! [`NarrowScope::Anywhere`], and every mail line is then scanned whole first, as before.
//!
//! So a line that shows a narrow literal as written ([`NarrowCheck::hinted`], exact bytes,
//! one SIMD pass) is read narrowly first ([`crate::normalize::narrow::mail_read`] with this
//! check): the values of the covered fields are parsed and their strings, numbers (in the
//! string form Sigma tests) and keys looked at for the literals; a hit, a field covered but
//! read only in part (`Folders`), or a hazard in a string (an escape a nested JSON text may
//! still hold, a character that lower-cases to ASCII) gives the line back to the gate. The
//! rest of the line is parsed and checked as before, not scanned.

use super::gate::{Gate, Role};
use super::{DFA_LITERALS, TEXT_HAZARDS};
use crate::normalize::lite::Lite;
use aho_corasick::packed;
use std::collections::BTreeSet;

/// Where, in a UAL record read narrowly, the literals of a run could matter.
#[derive(Debug, Clone)]
pub(super) enum NarrowScope {
    /// Only in the values of these top-level fields (ASCII-lowercased names).
    Fields {
        keys: BTreeSet<String>,
        literals: Vec<String>,
    },
    /// Anywhere in the line (or UAL records are wanted whole): scan it whole first.
    Anywhere,
}

impl Default for NarrowScope {
    fn default() -> Self {
        NarrowScope::Fields {
            keys: BTreeSet::new(),
            literals: Vec::new(),
        }
    }
}

impl NarrowScope {
    /// Adds literals that matter only in the values of `keys`; an empty key set, or a key no
    /// top-level name can be (`*`, a template), means anywhere.
    pub(super) fn add<K: AsRef<str>>(&mut self, literals: &[String], keys: &[K]) {
        let NarrowScope::Fields {
            keys: mine,
            literals: lits,
        } = self
        else {
            return;
        };
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        if keys.is_empty() || keys.iter().any(|k| k.contains(['*', '{'])) {
            *self = NarrowScope::Anywhere;
            return;
        }
        mine.extend(keys.iter().map(|k| k.to_ascii_lowercase()));
        lits.extend(literals.iter().cloned());
    }

    /// Adds what `other` scopes.
    pub(super) fn union(&mut self, other: NarrowScope) {
        match (&mut *self, other) {
            (NarrowScope::Anywhere, _) => {}
            (_, NarrowScope::Anywhere) => *self = NarrowScope::Anywhere,
            (
                NarrowScope::Fields { keys, literals },
                NarrowScope::Fields {
                    keys: more_keys,
                    literals: more,
                },
            ) => {
                keys.extend(more_keys);
                literals.extend(more);
            }
        }
    }
}

/// A compiled `NarrowScope`: where in a UAL record the run's literals could matter, with the
/// narrow literals as written for the first look.
#[derive(Debug)]
pub struct NarrowCheck {
    /// The narrow literals as written (`MailItemsAccessed`), exact bytes.
    hints: packed::Searcher,
    /// Covered top-level names, ASCII-lowercased, by length.
    keys: Vec<Vec<Box<[u8]>>>,
    /// The literals, ASCII-case-insensitively, in an automaton walked by hand like the gate's
    /// (the values looked at are short: a search's set-up would cost more than the walk), each
    /// meaning "found"; `None` when there are none.
    literals: Option<(Gate, Vec<Role>)>,
}

impl NarrowCheck {
    /// The check for `scope`, or `None` where every mail line must be scanned whole first.
    pub(super) fn new(scope: &NarrowScope, hints: &[String]) -> Option<NarrowCheck> {
        let NarrowScope::Fields { keys, literals } = scope else {
            return None;
        };
        if hints.is_empty() {
            return None;
        }
        let hints = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(hints)
            .build()?;
        let mut by_len: Vec<Vec<Box<[u8]>>> = Vec::new();
        for k in keys {
            if by_len.len() <= k.len() {
                by_len.resize(k.len() + 1, Vec::new());
            }
            by_len[k.len()].push(k.as_bytes().into());
        }
        let literals = match literals.is_empty() {
            true => None,
            false => {
                let found = Role {
                    any: true,
                    ..Role::default()
                };
                Some((
                    Gate::new(literals, DFA_LITERALS)?,
                    vec![found; literals.len()],
                ))
            }
        };
        Some(NarrowCheck {
            hints,
            keys: by_len,
            literals,
        })
    }

    /// Whether the line shows a narrow literal as written: worth reading narrowly first.
    pub fn hinted(&self, line: &[u8]) -> bool {
        self.hints.find(line).is_some()
    }

    /// Whether a top-level field named `key` (any ASCII case) is one whose values are looked at.
    pub fn covers(&self, key: &str) -> bool {
        self.keys.get(key.len()).is_some_and(|same| {
            same.iter().any(|k| {
                k.iter()
                    .zip(key.bytes())
                    .all(|(a, b)| *a == b.to_ascii_lowercase())
            })
        })
    }

    /// Whether a value of a covered field could hold a literal: in the string form of one of
    /// its scalars, in one of its keys, or behind a hazard of one of its strings.
    pub fn hit(&self, value: &Lite) -> bool {
        match value {
            Lite::Str(s) => self.hit_text(s),
            Lite::Number(n) => self.hit_text(&n.to_string()),
            Lite::Bool(b) => self.hit_text(if *b { "true" } else { "false" }),
            Lite::Null => self.hit_text("null"),
            Lite::Array(items) => items.iter().any(|v| self.hit(v)),
            Lite::Object(members) => members.iter().any(|(k, v)| self.hit_text(k) || self.hit(v)),
        }
    }

    fn hit_text(&self, s: &str) -> bool {
        // A string may hold JSON text that normalization parses, or a character that
        // lower-cases to an ASCII letter: the literal could hide there. Every hazard holds a
        // backslash or a non-ASCII character, so most strings are passed over at once.
        let hazard =
            (s.contains('\\') || !s.is_ascii()) && TEXT_HAZARDS.iter().any(|h| s.contains(h));
        hazard
            || self
                .literals
                .as_ref()
                .is_some_and(|(gate, roles)| gate.scan(roles, [s.as_bytes()])[0].whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn lite(v: Value) -> Lite<'static> {
        Lite::from(v)
    }

    fn check(literals: &[&str], keys: &[&str]) -> NarrowCheck {
        let mut scope = NarrowScope::default();
        let literals: Vec<String> = literals.iter().map(|l| l.to_ascii_lowercase()).collect();
        scope.add(&literals, keys);
        NarrowCheck::new(&scope, &["MailItemsAccessed".to_string()]).expect("a check")
    }

    #[test]
    fn covers_names_in_any_case() {
        let c = check(&["new-inboxrule"], &["Operation", "ClientIP"]);
        assert!(c.covers("operation") && c.covers("OPERATION") && c.covers("ClientIp"));
        assert!(!c.covers("Operations") && !c.covers("Folders") && !c.covers(""));
    }

    #[test]
    fn hits_literals_in_scalars_keys_and_hazards() {
        let c = check(&["evil", "4242"], &["x"]);
        assert!(c.hit(&lite(json!("an EVIL app"))));
        assert!(c.hit(&lite(json!([1, {"a": 4242}]))));
        assert!(c.hit(&lite(json!({"EvilKey": 1}))));
        assert!(
            c.hit(&lite(json!("{\"a\":\"\\u0065vil\"}"))),
            "an escape inside nested JSON"
        );
        assert!(c.hit(&lite(json!("\u{212A}"))), "the Kelvin sign");
        assert!(!c.hit(&lite(json!({"a": ["good", 4241, true, null]}))));
        assert!(
            !c.hit(&lite(json!("C:\\temp"))),
            "a plain backslash hides nothing"
        );
    }

    #[test]
    fn hints_are_exact_bytes() {
        let c = check(&[], &["x"]);
        assert!(c.hinted(br#"{"Operation":"MailItemsAccessed"}"#));
        assert!(!c.hinted(br#"{"Operation":"mailitemsaccessed"}"#));
        assert!(
            !c.hit(&lite(json!("anything"))),
            "no literals: nothing hits"
        );
    }

    /// What leaves a run without a check: a literal that could matter anywhere, or UAL
    /// records wanted whole. Other kinds' literals and markers do not.
    #[test]
    fn interests_that_leave_no_check() {
        use super::super::Interest;
        use crate::event::LogKind;
        let compiled = |add: &dyn Fn(&mut Interest)| {
            let mut i = Interest::nothing();
            i.narrow_literals(["MailItemsAccessed"]);
            add(&mut i);
            i.compile().expect("a prefilter").narrow_check().is_some()
        };
        assert!(compiled(&|_| {}));
        assert!(compiled(&|i| i.literals_in(["x1"], &["ClientIP"])));
        assert!(compiled(&|i| i.kind_literals_in(
            LogKind::Ual,
            ["x1"],
            &["Operation"]
        )));
        assert!(compiled(&|i| i.kind_literals(LogKind::EntraSignIn, ["x1"])));
        assert!(compiled(&|i| i.kind_literals(LogKind::Generic, ["x1"])));
        assert!(compiled(&|i| i.kind(LogKind::EntraSignIn)));
        assert!(!compiled(&|i| i.literals(["x1"])));
        assert!(!compiled(&|i| i.kind_literals(LogKind::Ual, ["x1"])));
        assert!(!compiled(&|i| i.kind(LogKind::Ual)));
        assert!(!compiled(&|i| i.kind_literals_in(
            LogKind::Ual,
            [""],
            &["Operation"]
        )));
        assert!(!compiled(&|i| i.literals_in(["x1"], &[] as &[&str])));
    }

    #[test]
    fn an_unscoped_contribution_means_anywhere() {
        let mut scope = NarrowScope::default();
        scope.add(&["a".to_string()], &["x"]);
        let mut other = NarrowScope::default();
        other.add::<&str>(&["b".to_string()], &[]);
        scope.union(other);
        assert!(matches!(scope, NarrowScope::Anywhere));
        let mut templated = NarrowScope::default();
        templated.add(&["a".to_string()], &["Event.{field}"]);
        assert!(matches!(templated, NarrowScope::Anywhere));
        assert!(NarrowCheck::new(&scope, &["MailItemsAccessed".to_string()]).is_none());
    }
}
