//! The witness prefilter: deciding from a JSON line's raw bytes, before parsing it, whether any
//! detector of this run could want the record.
//!
//! A run's [`Interest`] is the union of what its detectors contribute:
//! * **literals** — necessary literals (Sigma witnesses, built-in operation names, IOC values):
//!   a line containing one, ASCII-case-insensitively, is wanted;
//! * **kinds** — log kinds a detector wants whole (a Sigma rule without witnesses, the built-in
//!   sign-in analysis): a line that could be of such a kind is wanted. A kind is recognised by
//!   its own necessary literals (the keys [`crate::normalize::detect_kind`] needs: a UAL record
//!   has `Workload`, `OfficeWorkload`, `RecordType` or the `OfficeActivity` table, …); a line
//!   without any of them cannot be of that kind. The generic kind has none, so wanting it means
//!   wanting everything;
//! * **everything** — `inspect`, `dump`, or a detector that cannot say.
//!
//! [`Prefilter::wants`] runs one Aho-Corasick automaton (every literal, ASCII case-insensitive)
//! over the line, after a few checks that keep it sound:
//! * lines that are not plausibly one JSON object (not `{…}` after trimming, or cut for length)
//!   are always parsed, so they are rejected with their reason as before;
//! * **JSON escapes**: `\uXXXX` and `\/` decode to characters a witness may contain, so a line
//!   with either is parsed. Other escapes (`\\`, `\"`, `\n`, `\r`, `\t`, `\b`, `\f`) decode to
//!   characters no witness contains (witnesses are printable ASCII without `"` or `\`), so a
//!   witness in the decoded text lies between escapes, where raw and decoded text agree;
//! * **Unicode case folding**: the Kelvin sign (U+212A) and `İ` (U+0130) lower-case to ASCII
//!   `k` and `i`, which a raw ASCII scan cannot see; a line with either is parsed;
//! * **envelopes**: a line holding `"records"`, `"value"` or `"events"` may be an envelope of
//!   many records (the count of records read depends on parsing it), so it is parsed.
//!
//! Trade-off (docs/performance.md): a skipped line is counted as read and as prefiltered, never
//! parsed, so a syntactically broken line that looks like `{…}` and holds no wanted literal is
//! not reported as rejected. `records read = events + rejected + prefiltered` still holds.

use crate::event::LogKind;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use memchr::memmem;

/// What a run wants parsed. Build it from each detector's contribution, then [`compile`](Self::compile).
#[derive(Debug, Clone, Default)]
pub struct Interest {
    everything: bool,
    literals: Vec<String>,
    kinds: Vec<LogKind>,
}

impl Interest {
    /// Wants every record (no prefilter).
    pub fn everything() -> Interest {
        Interest {
            everything: true,
            ..Interest::default()
        }
    }

    /// Wants nothing yet.
    pub fn nothing() -> Interest {
        Interest::default()
    }

    /// Adds necessary literals: a line containing any of them (ASCII case-insensitively) is
    /// wanted. An empty literal means every line.
    pub fn literals<I, S>(&mut self, literals: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for l in literals {
            let l = l.as_ref();
            if l.is_empty() {
                self.everything = true;
            } else {
                self.literals.push(l.to_ascii_lowercase());
            }
        }
    }

    /// Wants every record that could be of log kind `kind`.
    pub fn kind(&mut self, kind: LogKind) {
        match kind_markers(kind) {
            Some(markers) => {
                if !self.kinds.contains(&kind) {
                    self.kinds.push(kind);
                }
                self.literals(markers.iter().copied());
            }
            None => self.everything = true,
        }
    }

    /// Wants every record.
    pub fn all(&mut self) {
        self.everything = true;
    }

    /// Adds what `other` wants.
    pub fn union(&mut self, other: Interest) {
        self.everything |= other.everything;
        self.literals.extend(other.literals);
        for k in other.kinds {
            if !self.kinds.contains(&k) {
                self.kinds.push(k);
            }
        }
    }

    /// Whether every record is wanted (no prefilter applies).
    pub fn is_everything(&self) -> bool {
        self.everything
    }

    /// The distinct literals, sorted (for reports and tests).
    pub fn literal_set(&self) -> Vec<String> {
        let mut v = self.literals.clone();
        v.sort();
        v.dedup();
        v
    }

    /// The prefilter, or `None` when every record is wanted.
    pub fn compile(&self) -> Option<Prefilter> {
        if self.everything {
            return None;
        }
        let literals = self.literal_set();
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .ok()?;
        Some(Prefilter {
            automaton,
            literals: literals.len(),
            hazards: Hazards::new(),
        })
    }
}

/// Literals one of which any record of `kind` contains (the keys or values
/// [`crate::normalize::detect_kind`] recognises it by); `None` for the generic kind.
pub fn kind_markers(kind: LogKind) -> Option<&'static [&'static str]> {
    Some(match kind {
        LogKind::Ual => &["workload", "recordtype", "officeactivity"],
        LogKind::EntraSignIn => &["signin", "createddatetime", "resulttype"],
        LogKind::EntraAudit => &["auditlogs", "activitydatetime", "loggedbyservice"],
        LogKind::TokenVerdict => &["token_verdict"],
        LogKind::Windows => &["system"],
        LogKind::Generic => return None,
    })
}

/// Byte patterns that make a raw scan unsound for a line (see the module notes).
#[derive(Debug)]
struct Hazards {
    finders: Vec<memmem::Finder<'static>>,
}

impl Hazards {
    fn new() -> Hazards {
        let patterns: [&'static [u8]; 7] = [
            b"\\u",
            b"\\/",
            "\u{212A}".as_bytes(),
            "\u{0130}".as_bytes(),
            b"\"records\"",
            b"\"value\"",
            b"\"events\"",
        ];
        Hazards {
            finders: patterns.iter().map(|p| memmem::Finder::new(*p)).collect(),
        }
    }

    fn any(&self, line: &[u8]) -> bool {
        // The escape and Unicode hazards start with `\`, 0xE2 or 0xC4: look for those bytes once.
        let suspicious = memchr::memchr3(b'\\', 0xE2, 0xC4, line).is_some();
        let envelope = self.finders[4..].iter().any(|f| f.find(line).is_some());
        envelope || (suspicious && self.finders[..4].iter().any(|f| f.find(line).is_some()))
    }
}

/// A compiled [`Interest`]: one test per raw line.
#[derive(Debug)]
pub struct Prefilter {
    automaton: AhoCorasick,
    literals: usize,
    hazards: Hazards,
}

impl Prefilter {
    /// Whether the record on this raw line (without its newline) may be wanted, so must be
    /// parsed. `false` only for a plausible JSON object line, free of hazards, holding none of
    /// the literals.
    pub fn wants(&self, line: &[u8]) -> bool {
        let t = trim(line);
        if t.first() != Some(&b'{') || t.last() != Some(&b'}') {
            return true;
        }
        // The automaton first: it stops at the first literal, and most wanted lines have one
        // early; the hazard scans then only run on lines about to be skipped.
        self.automaton.is_match(t) || self.hazards.any(t)
    }

    /// How many distinct literals the automaton holds.
    pub fn literal_count(&self) -> usize {
        self.literals
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(literals: &[&str]) -> Prefilter {
        let mut i = Interest::nothing();
        i.literals(literals.iter().copied());
        i.compile().expect("a prefilter")
    }

    #[test]
    fn skips_lines_without_literals_and_keeps_those_with() {
        let p = pf(&["mailitemsaccessed", "new-inboxrule"]);
        assert!(!p.wants(br#"{"Operation":"Send","Workload":"Exchange"}"#));
        assert!(p.wants(br#"{"Operation":"MailItemsAccessed"}"#));
        assert!(p.wants(br#"  {"Operation":"NEW-INBOXRULE"}  "#));
    }

    #[test]
    fn escapes_that_could_hide_a_witness_force_parsing() {
        let p = pf(&["new-inboxrule"]);
        assert!(p.wants(br#"{"Operation":"New-Inbox\u0052ule"}"#));
        assert!(p.wants(br#"{"Path":"a\/b"}"#));
        // `\\` and `\"` decode to characters no witness holds: still skippable.
        assert!(!p.wants(br#"{"Path":"\\Inbox","Q":"say \"hi\""}"#));
    }

    #[test]
    fn unicode_case_folding_to_ascii_forces_parsing() {
        let p = pf(&["kill"]);
        assert!(p.wants("{\"a\":\"\u{212A}ILL\"}".as_bytes()));
        assert!(p.wants("{\"a\":\"\u{0130}\"}".as_bytes()));
        assert!(!p.wants("{\"a\":\"é\"}".as_bytes()));
    }

    #[test]
    fn implausible_lines_and_envelopes_are_parsed() {
        let p = pf(&["zzz"]);
        assert!(p.wants(b"{\"a\":1"));
        assert!(p.wants(b"[1,2]"));
        assert!(p.wants(b""));
        assert!(p.wants(br#"{"records":[{"a":1},{"a":2}]}"#));
        assert!(p.wants(br#"{"value":[{"a":1}]}"#));
    }

    #[test]
    fn kinds_and_everything() {
        let mut i = Interest::nothing();
        i.kind(LogKind::TokenVerdict);
        let p = i.compile().expect("a prefilter");
        assert!(p.wants(br#"{"type":"token_verdict","reason":"x"}"#));
        assert!(!p.wants(br#"{"Workload":"Exchange"}"#));
        let mut i = Interest::nothing();
        i.kind(LogKind::Generic);
        assert!(i.is_everything() && i.compile().is_none());
        let mut i = Interest::nothing();
        i.literals([""]);
        assert!(i.compile().is_none());
    }
}
