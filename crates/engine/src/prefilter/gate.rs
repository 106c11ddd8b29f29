//! The prefilter's gate: one automaton over every literal a line is first scanned for, walked
//! by hand so that two lines are scanned at once.
//!
//! A DFA walk waits on each transition's table load before it can take the next, so the scan
//! is bound by load latency, not by work: interleaving the walks of two lines keeps the core
//! busy while either waits. Measured on the 100k corpus's lines with the cloud rules and the
//! built-ins' literals (one thread): aho-corasick's own overlapping search 356–406 MB/s, one
//! walk by hand 422–432 MB/s, two interleaved 550–606 MB/s, four 452–589 MB/s. The automaton
//! is aho-corasick's, built as usual; only the loop over the bytes is here
//! ([`aho_corasick::automaton::Automaton`] is the crate's public interface for exactly this).

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous;
use aho_corasick::{dfa, Anchored, MatchKind};

/// What finding a gate literal on a line means: the line is wanted (`any`), wanted narrowly
/// unless something else wants it (`narrow`), may be of the kinds in `markers`, or is wanted
/// if it is of one of the kinds in `kinds`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Role {
    pub any: bool,
    pub narrow: bool,
    pub markers: u8,
    pub kinds: u8,
}

/// What the gate found on one line: the union of the roles of the literals on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub narrow: bool,
    pub markers: u8,
    /// A plain literal, or a kind literal with a marker of its kind: wanted whole.
    pub whole: bool,
    kinds: u8,
}

impl Seen {
    fn add(&mut self, role: Role) {
        self.narrow |= role.narrow;
        self.markers |= role.markers;
        self.kinds |= role.kinds;
        self.whole |= role.any || self.markers & self.kinds != 0;
    }
}

/// The gate automaton: a DFA for up to `dfa_limit` literals (twice as fast to walk), else a
/// contiguous NFA (a DFA of thousands of literals is slow to build and hundreds of MB large).
#[derive(Debug)]
pub enum Gate {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
}

impl Gate {
    /// An ASCII-case-insensitive gate over `literals`, whose pattern ids are their indices.
    pub fn new(literals: &[String], dfa_limit: usize) -> Option<Gate> {
        if literals.len() <= dfa_limit {
            dfa::Builder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(literals)
                .ok()
                .map(Gate::Dfa)
        } else {
            contiguous::Builder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(literals)
                .ok()
                .map(Gate::Nfa)
        }
    }

    pub fn patterns_len(&self) -> usize {
        match self {
            Gate::Dfa(a) => a.patterns_len(),
            Gate::Nfa(a) => a.patterns_len(),
        }
    }

    /// What the gate finds on each of `lines`, scanned together; `roles[pattern id]`.
    pub fn scan<const N: usize>(&self, roles: &[Role], lines: [&[u8]; N]) -> [Seen; N] {
        match self {
            Gate::Dfa(a) => walk(a, roles, lines),
            Gate::Nfa(a) => walk(a, roles, lines),
        }
    }
}

/// Walks `a` over the `N` lines in lock step while all are long enough, then over what is
/// left of each; a line stops being walked once it is wanted whole.
fn walk<A: Automaton, const N: usize>(a: &A, roles: &[Role], lines: [&[u8]; N]) -> [Seen; N] {
    let mut seen = [Seen::default(); N];
    let Ok(start) = a.start_state(Anchored::No) else {
        // Unanchored searches are what these automata are built for; should one refuse, the
        // lines are parsed whole rather than judged without it.
        return [Seen {
            whole: true,
            ..Seen::default()
        }; N];
    };
    let mut sid = [start; N];
    let common = lines.iter().map(|l| l.len()).min().unwrap_or(0);
    let mut at = 0;
    while at < common {
        // Check now and then whether every line is decided, not at every byte.
        if at % 64 == 0 && seen.iter().all(|s| s.whole) {
            return seen;
        }
        for k in 0..N {
            sid[k] = a.next_state(Anchored::No, sid[k], lines[k][at]);
        }
        for k in 0..N {
            if a.is_special(sid[k]) {
                note(a, roles, sid[k], &mut seen[k]);
            }
        }
        at += 1;
    }
    for k in 0..N {
        for &byte in &lines[k][at..] {
            if seen[k].whole {
                break;
            }
            sid[k] = a.next_state(Anchored::No, sid[k], byte);
            if a.is_special(sid[k]) {
                note(a, roles, sid[k], &mut seen[k]);
            }
        }
    }
    seen
}

/// Adds the roles of every literal that ends at a match state (all of them: overlapping).
fn note<A: Automaton>(a: &A, roles: &[Role], sid: StateID, seen: &mut Seen) {
    if a.is_match(sid) {
        for i in 0..a.match_len(sid) {
            seen.add(roles[a.match_pattern(sid, i).as_usize()]);
        }
    }
}
