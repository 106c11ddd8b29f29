//! The witness prefilter: deciding from a JSON line's raw bytes, before parsing it, whether any
//! detector of this run could want the record.
//!
//! A run's [`Interest`] is the union of what its detectors contribute:
//! * **literals** — necessary literals (Sigma witnesses, built-in operation names, IOC values):
//!   a line containing one, ASCII-case-insensitively, is wanted;
//! * **kinds** — log kinds a detector wants whole (a Sigma rule without witnesses, the built-in
//!   sign-in analysis): a line that could be of such a kind is wanted. A kind is recognised by
//!   its own necessary literals, its *markers* (the keys [`crate::normalize::detect_kind`] needs:
//!   a UAL record has `Workload`, `OfficeWorkload`, `RecordType` or the `OfficeActivity` table,
//!   …); a line without any of them cannot be of that kind. The generic kind has none, so
//!   wanting it means wanting everything;
//! * **kind literals** — necessary literals that matter only for records of one kind (the
//!   witnesses of a Sigma rule routed to that kind, which is evaluated on no other): a line is
//!   wanted for them only if it also holds one of that kind's markers. So the witnesses of
//!   thousands of Windows rules do not make every audit-log line that says `false` wanted;
//! * **narrow literals** — literals of records one detector reads only a few fields of (the
//!   mail analysis and `MailItemsAccessed`, three quarters of a UAL export): a line holding one
//!   and nothing else wanted is read *narrowly* ([`Want::Narrow`],
//!   [`crate::normalize::narrow`]), not parsed whole;
//! * **everything** — `inspect`, `dump`, or a detector that cannot say.
//!
//! Literals may also say where in a UAL record they could matter ([`Interest::literals_in`],
//! [`Interest::kind_literals_in`]: the fields a Sigma rule or an IOC reads). Where all of them
//! do, a mail line is read narrowly *before* the gate, and only the values of those fields are
//! looked at for them ([`NarrowCheck`]); the gate scans the other lines, and the mail lines
//! where that check finds something.
//!
//! [`Prefilter::wants`] runs ASCII-case-insensitive Aho-Corasick automata over the line: a
//! *gate* (plain literals, kind markers, and the kind literals of every kind small enough to
//! fold in), then, for each kind with an automaton of its own whose markers the gate saw, that
//! kind's literals. A few checks keep it sound:
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

mod gate;
mod narrow_check;

use crate::event::LogKind;
use aho_corasick::{packed, AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use gate::{Gate, Role, Seen};
pub use narrow_check::NarrowCheck;
use narrow_check::NarrowScope;
use std::sync::OnceLock;

/// What a run wants parsed. Build it from each detector's contribution, then [`compile`](Self::compile).
#[derive(Debug, Clone, Default)]
pub struct Interest {
    everything: bool,
    literals: Vec<String>,
    /// Literals whose lines, wanted for nothing else, are read narrowly.
    narrow: Vec<String>,
    kinds: Vec<LogKind>,
    /// Literals that matter only in records of one kind.
    kind_literals: Vec<(LogKind, String)>,
    /// The narrow literals as written, for [`NarrowCheck::hinted`].
    narrow_hints: Vec<String>,
    /// Where literals could matter in a UAL record read narrowly ([`NarrowCheck`]).
    scope: NarrowScope,
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
    /// wanted. An empty literal means every line. They could matter anywhere in a record
    /// ([`literals_in`](Self::literals_in) says where, when that is known).
    pub fn literals<I, S>(&mut self, literals: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.gate_literals(literals);
        self.scope = NarrowScope::Anywhere;
    }

    /// [`literals`](Self::literals) that matter, in a UAL record, only in the values of the
    /// top-level fields `keys` (any ASCII case): a mail line read narrowly is looked at there
    /// alone ([`NarrowCheck`]).
    pub fn literals_in<I, S, K>(&mut self, literals: I, keys: &[K])
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        K: AsRef<str>,
    {
        if let Some(lowered) = self.gate_literals(literals) {
            self.scope.add(&lowered, keys);
        }
    }

    /// Adds literals to the gate; the lowered literals, or `None` where one is empty.
    fn gate_literals<I, S>(&mut self, literals: I) -> Option<Vec<String>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let lowered = lowered(literals);
        match &lowered {
            Some(l) => self.literals.extend(l.iter().cloned()),
            None => self.everything = true,
        }
        lowered
    }

    /// Adds necessary literals that matter only for records of log kind `kind`: a line holding
    /// one of them and one of the kind's markers is wanted. For the generic kind (no markers)
    /// they are plain [`literals`](Self::literals); an empty literal wants the whole kind.
    /// Kind literals of the UAL could matter anywhere in a record
    /// ([`kind_literals_in`](Self::kind_literals_in) says where, when that is known).
    pub fn kind_literals<I, S>(&mut self, kind: LogKind, literals: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if kind == LogKind::Ual {
            self.scope = NarrowScope::Anywhere;
        }
        self.add_kind_literals(kind, literals);
    }

    /// [`kind_literals`](Self::kind_literals) that matter, in a record of their kind, only in
    /// the values of the top-level fields `keys` (any ASCII case; see
    /// [`literals_in`](Self::literals_in)).
    pub fn kind_literals_in<I, S, K>(&mut self, kind: LogKind, literals: I, keys: &[K])
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        K: AsRef<str>,
    {
        let added = self.add_kind_literals(kind, literals);
        if kind == LogKind::Ual {
            self.scope.add(&added, keys);
        }
    }

    /// Adds kind literals to the gate; the non-empty ones, ASCII-lowercased. Those of the
    /// generic kind are plain literals there; they never matter in a UAL record (a rule routed
    /// to the generic kind never meets one). An empty one wants the whole kind.
    fn add_kind_literals<I, S>(&mut self, kind: LogKind, literals: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if kind_markers(kind).is_none() {
            return self.gate_literals(literals).unwrap_or_default();
        }
        let mut added = Vec::new();
        for l in literals {
            let l = l.as_ref();
            if l.is_empty() {
                self.kind(kind);
            } else {
                let l = l.to_ascii_lowercase();
                self.kind_literals.push((kind, l.clone()));
                added.push(l);
            }
        }
        added
    }

    /// Adds narrow literals: a line containing one of them (ASCII case-insensitively) and
    /// nothing else wanted is [`Want::Narrow`]: read through [`crate::normalize::narrow`],
    /// for the mail analysis only. A narrow literal another detector wants as a plain literal
    /// is a plain literal.
    pub fn narrow_literals<I, S>(&mut self, literals: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let literals: Vec<String> = literals.into_iter().map(|l| l.as_ref().into()).collect();
        match lowered(&literals) {
            Some(lowered) => self.narrow.extend(lowered),
            None => self.everything = true,
        }
        self.narrow_hints.extend(literals);
    }

    /// Wants every record that could be of log kind `kind`. Wanting UAL records whole means
    /// no mail line is read narrowly before it is scanned whole.
    pub fn kind(&mut self, kind: LogKind) {
        match kind_markers(kind) {
            Some(markers) => {
                if !self.kinds.contains(&kind) {
                    self.kinds.push(kind);
                }
                if kind == LogKind::Ual {
                    self.scope = NarrowScope::Anywhere;
                }
                self.gate_literals(markers.iter().copied());
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
        self.narrow.extend(other.narrow);
        self.narrow_hints.extend(other.narrow_hints);
        self.kind_literals.extend(other.kind_literals);
        self.scope.union(other.scope);
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

    /// The distinct literals, of any kind or of one, sorted (for reports and tests).
    pub fn literal_set(&self) -> Vec<String> {
        let mut v = self.literals.clone();
        v.extend(self.narrow.iter().cloned());
        v.extend(self.kind_literals.iter().map(|(_, l)| l.clone()));
        v.sort();
        v.dedup();
        v
    }

    /// The gate's literals (plain literals, the markers of kinds with kind literals, and the
    /// literals of the kinds folded into the gate), each with what finding it means; and the
    /// literals of each kind left to an automaton of its own.
    ///
    /// A kind's literals are folded into the gate, smallest kinds first, while the gate stays
    /// within [`DFA_LITERALS`]: one pass of one DFA over the line then decides it, where a
    /// separate automaton would scan the line a second time (about twice as slow on UAL lines,
    /// which all carry a marker). A kind with thousands of literals (the Windows rules of the
    /// whole SigmaHQ tree) keeps its own automaton, run only on lines with its markers.
    fn plan(&self) -> (Vec<(String, Role)>, KindLiterals) {
        let mut gate: std::collections::BTreeMap<String, Role> = Default::default();
        for l in &self.literals {
            gate.entry(l.clone()).or_default().any = true;
        }
        for l in &self.narrow {
            gate.entry(l.clone()).or_default().narrow = true;
        }
        let mut by_kind = Vec::new();
        for kind in LogKind::ALL {
            let mut literals: Vec<String> = self
                .kind_literals
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, l)| l.clone())
                .collect();
            if literals.is_empty() {
                continue;
            }
            literals.sort();
            literals.dedup();
            for m in kind_markers(kind).unwrap_or_default() {
                gate.entry(m.to_string()).or_default().markers |= kind_bit(kind);
            }
            by_kind.push((kind, literals));
        }
        by_kind.sort_by_key(|(_, literals)| literals.len());
        let mut separate = Vec::new();
        for (kind, literals) in by_kind {
            let added = literals.iter().filter(|l| !gate.contains_key(*l)).count();
            if gate.len() + added <= DFA_LITERALS {
                for l in literals {
                    gate.entry(l).or_default().kinds |= kind_bit(kind);
                }
            } else {
                separate.push((kind, literals));
            }
        }
        (gate.into_iter().collect(), separate)
    }

    /// The prefilter, or `None` when every record is wanted.
    pub fn compile(&self) -> Option<Prefilter> {
        if self.everything {
            return None;
        }
        let (gate, by_kind) = self.plan();
        let (literals, roles): (Vec<String>, Vec<Role>) = gate.into_iter().unzip();
        let kinds = by_kind
            .into_iter()
            .map(|(kind, literals)| KindAutomaton {
                bit: kind_bit(kind),
                literals,
                automaton: OnceLock::new(),
            })
            .collect();
        Some(Prefilter {
            gate: Gate::new(&literals, DFA_LITERALS)?,
            roles,
            kinds,
            hazards: Hazards::new(),
            narrow_check: NarrowCheck::new(&self.scope, &self.narrow_hints),
        })
    }
}

/// The literals, ASCII-lowercased; `None` if one is empty (found on every line).
fn lowered<I, S>(literals: I) -> Option<Vec<String>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    literals
        .into_iter()
        .map(|l| {
            let l = l.as_ref();
            (!l.is_empty()).then(|| l.to_ascii_lowercase())
        })
        .collect()
}

/// The most literals an automaton is built as a DFA for.
const DFA_LITERALS: usize = 1_000;

/// An ASCII-case-insensitive automaton over `literals`. A DFA where the set is small: every
/// byte of a skipped line is scanned, and a DFA scans about twice as fast as an NFA (measured
/// with the SigmaHQ cloud rules' 108 literals); thousands of literals (the Windows rules of the
/// whole SigmaHQ tree) would make a DFA slow to build and hundreds of MB large.
fn automaton(literals: &[String]) -> Option<AhoCorasick> {
    let kind = if literals.len() <= DFA_LITERALS {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    };
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(kind))
        .build(literals)
        .ok()
}

/// Each kind that has kind literals, with them (sorted, distinct).
type KindLiterals = Vec<(LogKind, Vec<String>)>;

/// A kind's bit in [`Role`] masks (the generic kind has none: it has no markers).
fn kind_bit(kind: LogKind) -> u8 {
    match kind {
        LogKind::Ual => 1,
        LogKind::EntraSignIn => 2,
        LogKind::EntraAudit => 4,
        LogKind::TokenVerdict => 8,
        LogKind::Windows => 16,
        LogKind::Generic => 0,
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
        // The key `System` itself, quoted: as written, or escaped once inside a JSON string
        // (an Elastic `event.original`). Any other spelling holds a `\u` escape, which makes
        // the line parsed anyway. (`system` alone is in a fifth of UAL mail records.)
        LogKind::Windows => &["\"system\"", "\\\"system\\\""],
        LogKind::Generic => return None,
    })
}

/// Text behind which a literal can hide from a raw ASCII scan: JSON escapes that decode to
/// characters a literal may hold (`\u0063` is `c`), and the two characters that lower-case to
/// ASCII letters (Kelvin `K`, `İ`). Both the gate ([`Hazards`]) and the narrow check (in the
/// values of covered fields, [`NarrowCheck`]) look for them.
const TEXT_HAZARDS: [&str; 4] = ["\\u", "\\/", "\u{212A}", "\u{0130}"];

/// Byte patterns that make a raw scan unsound for a line (see the module notes): the
/// [`TEXT_HAZARDS`] and envelope keys, looked for in one pass (aho-corasick's packed SIMD
/// searcher, exact bytes).
#[derive(Debug)]
struct Hazards {
    searcher: Option<packed::Searcher>,
}

impl Hazards {
    fn new() -> Hazards {
        let envelopes: [&'static [u8]; 3] = [b"\"records\"", b"\"value\"", b"\"events\""];
        let text = TEXT_HAZARDS.iter().map(|h| h.as_bytes());
        Hazards {
            searcher: packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(text.chain(envelopes))
                .build(),
        }
    }

    /// Whether the line holds a hazard (every line does, should the searcher be missing).
    fn any(&self, line: &[u8]) -> bool {
        self.searcher
            .as_ref()
            .is_none_or(|s| s.find(line).is_some())
    }
}

/// A compiled [`Interest`]: one test per raw line.
#[derive(Debug)]
pub struct Prefilter {
    /// Plain and narrow literals, kind markers and the folded-in kind literals.
    gate: Gate,
    /// What each gate pattern means, by pattern id.
    roles: Vec<Role>,
    /// The kinds whose literals have an automaton of their own.
    kinds: Vec<KindAutomaton>,
    hazards: Hazards,
    /// Where a mail line read narrowly first is looked at; `None`: scan it whole first.
    narrow_check: Option<NarrowCheck>,
}

/// A kind's literals (too many to fold into the gate) and their automaton, built the first time
/// a line shows one of the kind's markers: the Windows rules of the whole SigmaHQ tree make an
/// automaton of thousands of literals, a quarter of the time it took to load that tree (perf),
/// and a run over cloud logs never needs it.
#[derive(Debug)]
struct KindAutomaton {
    bit: u8,
    literals: Vec<String>,
    automaton: OnceLock<Option<AhoCorasick>>,
}

impl KindAutomaton {
    /// Whether one of the literals is on the line; `true` where the automaton could not be
    /// built (the line is then wanted, as every line would have been).
    fn is_match(&self, line: &[u8]) -> bool {
        self.automaton
            .get_or_init(|| automaton(&self.literals))
            .as_ref()
            .is_none_or(|a| a.is_match(line))
    }
}

/// What a run wants of one raw line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Nothing: the line is counted, not parsed.
    Skip,
    /// Only the mail analysis, which reads a few fields: the line is read narrowly
    /// ([`crate::normalize::narrow`]), falling back to a whole parse where that cannot be done.
    Narrow,
    /// The whole record is parsed.
    Whole,
}

impl Prefilter {
    /// Whether the record on this raw line (without its newline) may be wanted, so must be
    /// parsed. `false` only for a plausible JSON object line, free of hazards, holding none of
    /// the literals (and no kind literal together with a marker of its kind).
    pub fn wants(&self, line: &[u8]) -> bool {
        self.classify(line) != Want::Skip
    }

    /// What the run wants of the record on this raw line (without its newline):
    /// [`Want::Skip`] and [`Want::Narrow`] only for a plausible JSON object line free of
    /// hazards; `Narrow` when the only literals on it are narrow ones.
    pub fn classify(&self, line: &[u8]) -> Want {
        let [want] = self.classify_together([line]);
        want
    }

    /// [`classify`](Self::classify) for each line, scanning two lines at a time
    /// (the `gate` module: about 1.4 times as fast as one at a time).
    pub fn classify_all(&self, lines: &[&[u8]]) -> Vec<Want> {
        let mut wants = Vec::with_capacity(lines.len());
        let mut pairs = lines.chunks_exact(2);
        for pair in &mut pairs {
            wants.extend(self.classify_together([pair[0], pair[1]]));
        }
        for line in pairs.remainder() {
            wants.push(self.classify(line));
        }
        wants
    }

    fn classify_together<const N: usize>(&self, lines: [&[u8]; N]) -> [Want; N] {
        let lines = lines.map(trim);
        // An implausible line is wanted whole; it is scanned as an empty line.
        let plausible = lines.map(|t| t.first() == Some(&b'{') && t.last() == Some(&b'}'));
        let mut scanned = lines;
        for (t, ok) in scanned.iter_mut().zip(plausible) {
            if !ok {
                *t = &[];
            }
        }
        // The gate first: most wanted lines show it early; the kinds' own automata and the
        // hazard scans then only run on lines not already wanted whole.
        let seen = self.gate.scan(&self.roles, scanned);
        let mut wants = [Want::Whole; N];
        for k in 0..N {
            if plausible[k] {
                wants[k] = self.decide(lines[k], seen[k]);
            }
        }
        wants
    }

    /// What a plausible line is wanted for, given what the gate found on it.
    fn decide(&self, t: &[u8], seen: Seen) -> Want {
        if seen.whole {
            return Want::Whole;
        }
        let wanted_for_kind = self
            .kinds
            .iter()
            .any(|k| seen.markers & k.bit != 0 && k.is_match(t));
        if wanted_for_kind || self.hazards.any(t) {
            Want::Whole
        } else if seen.narrow {
            Want::Narrow
        } else {
            Want::Skip
        }
    }

    /// The check that lets a mail line be read narrowly before the gate scans it
    /// ([`NarrowCheck`]); `None` where a literal could matter anywhere in a UAL record.
    pub fn narrow_check(&self) -> Option<&NarrowCheck> {
        self.narrow_check.as_ref()
    }

    /// How many literals the automata hold.
    pub fn literal_count(&self) -> usize {
        let kinds: usize = self.kinds.iter().map(|k| k.literals.len()).sum();
        self.gate.patterns_len() + kinds
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

    #[test]
    fn kind_literals_count_only_on_lines_of_their_kind() {
        let mut i = Interest::nothing();
        i.kind_literals(LogKind::Windows, ["false"]);
        i.kind_literals(LogKind::Ual, ["new-inboxrule"]);
        i.literals(["mailitemsaccessed"]);
        let p = i.compile().expect("a prefilter");
        // A UAL line saying `false`: no Windows marker, so the Windows witness does not count.
        assert!(!p.wants(br#"{"Workload":"Exchange","ExternalAccess":false}"#));
        assert!(p.wants(br#"{"Event":{"System":{"EventID":1}},"x":false}"#));
        // The marker may come before or after the witness.
        assert!(p.wants(br#"{"x":false,"Event":{"System":{}}}"#));
        assert!(p.wants(br#"{"Workload":"Exchange","Operation":"New-InboxRule"}"#));
        assert!(!p.wants(br#"{"Operation":"New-InboxRule"}"#));
        // Plain literals count on any line.
        assert!(p.wants(br#"{"Operation":"MailItemsAccessed"}"#));
        // The generic kind has no markers: its literals are plain ones.
        let mut i = Interest::nothing();
        i.kind_literals(LogKind::Generic, ["zzz"]);
        assert!(i.compile().expect("a prefilter").wants(br#"{"a":"zzz"}"#));
        // An empty kind literal wants the whole kind.
        let mut i = Interest::nothing();
        i.kind_literals(LogKind::TokenVerdict, [""]);
        let p = i.compile().expect("a prefilter");
        assert!(p.wants(br#"{"type":"token_verdict"}"#));
        assert!(!p.wants(br#"{"Workload":"Exchange"}"#));
    }

    #[test]
    fn a_kind_too_large_to_fold_into_the_gate_keeps_its_own_automaton() {
        let mut i = Interest::nothing();
        i.kind_literals(LogKind::Ual, ["new-inboxrule"]);
        i.kind_literals(
            LogKind::Windows,
            (0..DFA_LITERALS).map(|n| format!("w{n:04}x")),
        );
        let p = i.compile().expect("a prefilter");
        assert_eq!(
            p.kinds.len(),
            1,
            "the Windows literals have their own automaton"
        );
        assert_eq!(p.literal_count(), 1 + DFA_LITERALS + 5);
        assert!(p.wants(br#"{"Event":{"System":{}},"x":"w0999x"}"#));
        assert!(!p.wants(br#"{"Workload":"Exchange","x":"w0999x"}"#));
        assert!(p.wants(br#"{"Workload":"Exchange","Operation":"New-InboxRule"}"#));
        assert!(!p.wants(br#"{"Event":{"System":{}},"Operation":"New-InboxRule"}"#));
    }

    #[test]
    fn lines_classified_together_are_classified_as_alone() {
        let mut i = Interest::nothing();
        i.narrow_literals(["mailitemsaccessed"]);
        i.literals(["new-inboxrule"]);
        i.kind_literals(LogKind::Ual, ["bind"]);
        let p = i.compile().expect("a prefilter");
        let lines: [&[u8]; 9] = [
            br#"{"Workload":"Exchange","Operation":"MailItemsAccessed"}"#,
            br#"{"Operation":"Send"}"#,
            br#"{"Operation":"New-InboxRule","Workload":"Exchange","Padding":"xxxxxxxxxxxxxxxxxxxx"}"#,
            b"",
            br#"{"Workload":"Exchange","T":"Bind"}"#,
            b"[1]",
            br#"{"Operation":"MailItemsAccessed","X":"\u0041"}"#,
            br#"  {"Operation":"NEW-INBOXRULE"}  "#,
            br#"{"Workload":"Exchange","Operation":"MailItemsAccessed","Long":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}"#,
        ];
        let alone: Vec<Want> = lines.iter().map(|l| p.classify(l)).collect();
        assert_eq!(
            alone,
            [
                Want::Narrow,
                Want::Skip,
                Want::Whole,
                Want::Whole,
                Want::Whole,
                Want::Whole,
                Want::Whole,
                Want::Whole,
                Want::Narrow
            ]
        );
        for start in 0..lines.len() {
            assert_eq!(
                p.classify_all(&lines[start..]),
                alone[start..],
                "from {start}"
            );
        }
        let mut reversed = lines;
        reversed.reverse();
        let mut expected = alone.clone();
        expected.reverse();
        assert_eq!(p.classify_all(&reversed), expected);
    }

    #[test]
    fn literals_ending_at_the_same_byte_are_all_seen() {
        // The gate walks its automaton by hand: every literal ending at a match state counts,
        // not only the longest.
        let mut i = Interest::nothing();
        i.narrow_literals(["mailitemsaccessed"]);
        i.literals(["itemsaccessed"]);
        let p = i.compile().expect("a prefilter");
        let line: &[u8] = br#"{"Operation":"MailItemsAccessed"}"#;
        assert_eq!(p.classify(line), Want::Whole);
        assert_eq!(p.classify_all(&[line, line]), [Want::Whole, Want::Whole]);
        let mut i = Interest::nothing();
        i.narrow_literals(["itemsaccessed"]);
        i.kind_literals(LogKind::Ual, ["mailitemsaccessed"]);
        let p = i.compile().expect("a prefilter");
        let ual: &[u8] = br#"{"Workload":"Exchange","Operation":"MailItemsAccessed"}"#;
        assert_eq!(p.classify(ual), Want::Whole);
        assert_eq!(p.classify(line), Want::Narrow);
    }

    #[test]
    fn narrow_literals_alone_make_a_line_narrow() {
        let mut i = Interest::nothing();
        i.narrow_literals(["mailitemsaccessed"]);
        i.literals(["new-inboxrule"]);
        i.kind_literals(LogKind::Ual, ["bind"]);
        let p = i.compile().expect("a prefilter");
        let line = br#"{"Workload":"Exchange","Operation":"MailItemsAccessed"}"#;
        assert_eq!(p.classify(line), Want::Narrow);
        assert!(p.wants(line));
        // Anything else wanted on the line makes it whole: a plain literal, a kind literal
        // with its kind's marker, a hazard.
        let also = br#"{"Operation":"MailItemsAccessed","X":"New-InboxRule"}"#;
        assert_eq!(p.classify(also), Want::Whole);
        let bind = br#"{"Workload":"Exchange","Operation":"MailItemsAccessed","T":"Bind"}"#;
        assert_eq!(p.classify(bind), Want::Whole);
        let escaped = br#"{"Operation":"MailItemsAccessed","X":"\u0041"}"#;
        assert_eq!(p.classify(escaped), Want::Whole);
        assert_eq!(p.classify(br#"{"Operation":"Send"}"#), Want::Skip);
        // A narrow literal someone wants plainly is plain.
        i.literals(["mailitemsaccessed"]);
        let p = i.compile().expect("a prefilter");
        assert_eq!(p.classify(line), Want::Whole);
    }

    #[test]
    fn the_windows_marker_is_the_quoted_key() {
        let mut i = Interest::nothing();
        i.kind_literals(LogKind::Windows, ["false"]);
        let p = i.compile().expect("a prefilter");
        assert!(!p.wants(br#"{"ClientInfoString":"Client=RESTSystem","ExternalAccess":false}"#));
        assert!(p.wants(br#"{"Event":{"System":{"EventID":1}},"x":false}"#));
        let wrapped = br#"{"event":{"original":"{\"Event\":{\"System\":{}},\"x\":false}"}}"#;
        assert!(p.wants(wrapped));
    }
}
