//! Sigma strings with wildcards, and the compiled string matchers.
//!
//! A Sigma string is parsed once into tokens: literal characters, `*` (any run), `?` (any one
//! character) and the windash class. Escaping follows pySigma: a backslash escapes `*`, `?` and
//! itself; any other backslash is literal. Plain shapes (`x`, `x*`, `*x`, `*x*`) compile to
//! exact/prefix/suffix/substring tests; other shapes use an iterative glob matcher that is
//! O(len(value) × len(pattern)) in the worst case and never backtracks exponentially.

/// One token of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    Star,
    One,
    /// Any of `-`, `/`, `–`, `—`, `―` (the `windash` modifier).
    Dash,
}

/// The characters `windash` treats as interchangeable.
pub(crate) const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Parses a Sigma string with wildcard escaping.
pub(crate) fn parse_sigma_string(s: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push(Tok::Char(n));
                }
                _ => out.push(Tok::Char('\\')),
            },
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            c => out.push(Tok::Char(c)),
        }
    }
    out
}

/// Literal tokens of a plain string (no wildcard interpretation).
pub(crate) fn literal(s: &str) -> Vec<Tok> {
    s.chars().map(Tok::Char).collect()
}

/// The literal text if the tokens hold no wildcard.
pub(crate) fn as_literal(toks: &[Tok]) -> Option<String> {
    toks.iter()
        .map(|t| match t {
            Tok::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// The longest run of literal characters that a raw JSON text spells the same way after ASCII
/// lower-casing: printable ASCII other than `"` and `\` (which JSON escapes). Any match of the
/// pattern contains it.
pub(crate) fn longest_literal(toks: &[Tok]) -> String {
    let plain = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ';
    let mut best = String::new();
    let mut cur = String::new();
    for t in toks {
        match t {
            Tok::Char(c) if plain(*c) => cur.push(*c),
            _ => {
                if cur.len() > best.len() {
                    best = std::mem::take(&mut cur);
                }
                cur.clear();
            }
        }
    }
    if cur.len() > best.len() {
        best = cur;
    }
    best
}

/// Replaces a leading `-` or `/` of a command-line flag with the windash class, as pySigma does
/// (`\B[-/]\b`: not preceded by a word character, followed by one).
pub(crate) fn apply_windash(toks: &mut [Tok]) {
    let is_word =
        |t: Option<&Tok>| matches!(t, Some(Tok::Char(c)) if c.is_alphanumeric() || *c == '_');
    for i in 0..toks.len() {
        if let Tok::Char(c) = toks[i] {
            if WINDASH.contains(&c)
                && !is_word(i.checked_sub(1).and_then(|j| toks.get(j)))
                && is_word(toks.get(i + 1))
            {
                toks[i] = Tok::Dash;
            }
        }
    }
}

/// A compiled string test.
#[derive(Debug, Clone)]
pub(crate) enum StrMatcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Glob(Vec<Tok>),
}

/// A compiled wildcard string, with its case sensitivity.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub matcher: StrMatcher,
    /// The (lower-cased) needle is ASCII, so ASCII values can be compared without allocating.
    ascii_needle: bool,
    /// Substring search (SIMD) for `Contains`, over the lower-cased value unless cased.
    finder: Option<Box<memchr::memmem::Finder<'static>>>,
    pub cased: bool,
    /// The tokens as written (after modifiers), for witnesses and display.
    pub toks: Vec<Tok>,
}

impl Pattern {
    pub fn new(toks: Vec<Tok>, cased: bool) -> Pattern {
        let norm: Vec<Tok> = toks
            .iter()
            .map(|t| match t {
                Tok::Char(c) if !cased => Tok::Char(lower_char(*c)),
                t => t.clone(),
            })
            .collect();
        let matcher = classify(&norm);
        let ascii_needle = match &matcher {
            StrMatcher::Exact(s)
            | StrMatcher::Prefix(s)
            | StrMatcher::Suffix(s)
            | StrMatcher::Contains(s) => s.is_ascii(),
            StrMatcher::Glob(_) => false,
        };
        let finder = match &matcher {
            StrMatcher::Contains(s) if !s.is_empty() => Some(Box::new(
                memchr::memmem::Finder::new(s.as_bytes()).into_owned(),
            )),
            _ => None,
        };
        Pattern {
            matcher,
            ascii_needle,
            finder,
            cased,
            toks,
        }
    }

    /// Matches `value`; `lowered` supplies its lower-cased form (computed at most once per
    /// value by the caller) when the allocation-free ASCII path does not apply.
    pub fn is_match_with<'v>(&self, value: &'v str, lowered: impl FnOnce() -> &'v str) -> bool {
        if let Some(finder) = &self.finder {
            let hay = if self.cased { value } else { lowered() };
            return finder.find(hay.as_bytes()).is_some();
        }
        if self.cased {
            return self.matcher.is_match(value);
        }
        if self.ascii_needle {
            if let Some(r) = self.matcher.is_match_ascii_ci(value) {
                return r;
            }
        }
        self.matcher.is_match(lowered())
    }

    pub fn is_match(&self, value: &str) -> bool {
        let cell = std::cell::OnceCell::new();
        self.is_match_with(value, || cell.get_or_init(|| lower(value)).as_str())
    }
}

fn lower_char(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// Lower-cases char by char with single-char mappings, so patterns and values stay aligned.
pub(crate) fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.chars().map(lower_char).collect()
    }
}

fn classify(toks: &[Tok]) -> StrMatcher {
    let n = toks.len();
    let star_at_start = toks.first() == Some(&Tok::Star);
    let star_at_end = n > 1 && toks.last() == Some(&Tok::Star);
    let lo = usize::from(star_at_start);
    let hi = n - usize::from(star_at_end);
    if lo <= hi {
        if let Some(mid) = as_literal(&toks[lo..hi]) {
            return match (star_at_start, star_at_end) {
                (false, false) => StrMatcher::Exact(mid),
                (false, true) => StrMatcher::Prefix(mid),
                (true, false) => StrMatcher::Suffix(mid),
                (true, true) => StrMatcher::Contains(mid),
            };
        }
    }
    StrMatcher::Glob(toks.to_vec())
}

/// ASCII case-insensitive substring search; `needle` is lower-case ASCII.
fn contains_ascii_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let upper = first.to_ascii_uppercase();
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start]
            .iter()
            .position(|&b| b == first || b == upper)
        {
            None => return false,
            Some(off) => {
                let at = i + off;
                if hay[at + 1..at + needle.len()].eq_ignore_ascii_case(rest) {
                    return true;
                }
                i = at + 1;
            }
        }
    }
    false
}

impl StrMatcher {
    /// Case-insensitive match without allocating, for an ASCII value and a plain shape.
    /// `None` when this fast path does not apply.
    fn is_match_ascii_ci(&self, v: &str) -> Option<bool> {
        if !v.is_ascii() {
            return None;
        }
        let h = v.as_bytes();
        Some(match self {
            StrMatcher::Exact(s) => h.eq_ignore_ascii_case(s.as_bytes()),
            StrMatcher::Prefix(s) => {
                h.len() >= s.len() && h[..s.len()].eq_ignore_ascii_case(s.as_bytes())
            }
            StrMatcher::Suffix(s) => {
                h.len() >= s.len() && h[h.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
            }
            StrMatcher::Contains(s) => contains_ascii_ci(h, s.as_bytes()),
            StrMatcher::Glob(_) => return None,
        })
    }

    fn is_match(&self, v: &str) -> bool {
        match self {
            StrMatcher::Exact(s) => v == s,
            StrMatcher::Prefix(s) => v.starts_with(s.as_str()),
            StrMatcher::Suffix(s) => v.ends_with(s.as_str()),
            StrMatcher::Contains(s) => v.contains(s.as_str()),
            StrMatcher::Glob(toks) => glob(toks, v),
        }
    }
}

fn tok_matches(t: &Tok, c: char) -> bool {
    match t {
        Tok::Char(x) => *x == c,
        Tok::One => true,
        Tok::Dash => WINDASH.contains(&c),
        Tok::Star => false,
    }
}

/// Iterative wildcard matching with single-star backtracking (linear memory, no recursion).
fn glob(toks: &[Tok], v: &str) -> bool {
    let chars: Vec<char> = v.chars().collect();
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < chars.len() {
        if p < toks.len() && toks[p] == Tok::Star {
            star = Some((p, s));
            p += 1;
        } else if p < toks.len() && tok_matches(&toks[p], chars[s]) {
            p += 1;
            s += 1;
        } else if let Some((sp, ss)) = star {
            p = sp + 1;
            s = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Pattern::new(parse_sigma_string(p), false).is_match(v)
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(m("abc", "ABC"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*\\*", "x*"));
        assert!(!m("*\\*", "xy"));
        assert!(m("a\\?", "a?"));
        assert!(!m("a\\?", "ab"));
        assert!(m("c:\\windows\\\\*", "C:\\Windows\\x"));
        assert!(!m("c:\\windows\\*", "C:\\Windows\\x"));
        assert!(m("a\\\\*", "a\\zzz"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c", "xxaxxbxxcxx"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("*", ""));
    }

    #[test]
    fn ascii_fast_path_agrees() {
        for (p, v) in [
            ("*abc*", "xxABcxx"),
            ("*abc*", "ab"),
            ("*abc*", "aabc"),
            ("*aab*", "aaab"),
            ("abc*", "ABCdef"),
            ("*def", "abcDEF"),
            ("abc", "ABC"),
            ("*k*", "\u{212A}"),
            ("*é*", "É"),
            ("**", ""),
        ] {
            let pat = Pattern::new(parse_sigma_string(p), false);
            let slow = pat.matcher.is_match(&lower(v));
            assert_eq!(pat.is_match(v), slow, "{p} on {v}");
        }
    }

    #[test]
    fn windash_positions() {
        let mut t = parse_sigma_string("cmd -nop /c a-b");
        apply_windash(&mut t);
        let p = Pattern::new(t, false);
        assert!(p.is_match("cmd \u{2013}nop \u{2015}c a-b"));
        assert!(!p.is_match("cmd -nop /c a/b"));
    }
}
