//! A strict walk over the text of one JSON value, for the narrow reading ([`super::narrow`]):
//! it finds where each value lies and checks it on the way, building only the values asked
//! for ([`Cursor::lite`]).
//!
//! Most of a mail line's bytes are in values the mail analysis never reads. serde_json checked
//! them through a visitor (`deserialize_any` and a call per value); here they are skipped by a
//! loop over the bytes, where a string's end is looked up in the line's marks of special bytes
//! ([`Specials`], made when the cursor is). On its own that was no faster than
//! serde_json; what it allowed was a reader that remembers the keys of the lines before
//! ([`super::narrow::Reader`]), as a key's bytes can be compared where they lie.
//!
//! Strict means that whatever is accepted here serde_json also parses into a `Value`: the same
//! grammar (RFC 8259: no trailing commas, no leading zeros, JSON whitespace only, no control
//! characters in strings, valid escapes), and the text is UTF-8 already (a `&str`). Where a
//! `Value` could fail on what the grammar allows, the walk gives up (`None`) instead: a number
//! with an exponent or with 300 digits or more before its point (a `Value` refuses one that
//! overflows an `f64`), a `\u` escape of a surrogate (a `Value` refuses a lone one), and
//! nesting deeper than [`MAX_DEPTH`] (a `Value` stops at 128). The narrow reading then reads
//! the line whole, so giving up costs time, never a detection; it also gives up on what a
//! `Value` accepts but the walk does not take (a surrogate pair, say). The `json_walk` fuzz
//! target holds the walk to serde_json value for value, and `narrow_read` the narrow reading to
//! the whole one.

use super::lite::{Lite, MAX_MEMBERS};
use super::specials::Specials;
use std::borrow::Cow;

/// Levels of arrays and objects one value skipped or read may hold, its own included (a
/// top-level object's members are values: 101 levels in all, where a `Value` allows 128).
pub const MAX_DEPTH: usize = 100;

/// Integer digits a number may have here: an `f64` overflows only past 308.
const MAX_INTEGER_DIGITS: usize = 300;

/// What the walk knows of a number's range.
enum Number {
    /// Without an exponent, and of fewer than [`MAX_INTEGER_DIGITS`] integer digits: in range.
    Plain,
    /// One that a `Value` may refuse as out of range.
    MayOverflow,
}

/// A place in a JSON text; each method reads one thing there and moves past it, or gives
/// `None` (and is left anywhere) where the text is not what it reads or is given up.
pub struct Cursor<'a> {
    text: &'a str,
    at: usize,
    /// Where the bytes that end a string's plain run are.
    specials: Specials,
}

/// A string as written, quotes included, and whether it holds an escape.
pub struct Raw<'a> {
    quoted: &'a str,
    escaped: bool,
}

impl<'a> Raw<'a> {
    /// The string as written, quotes included.
    pub fn quoted(&self) -> &'a str {
        self.quoted
    }

    /// The string, its escapes decoded (by serde_json).
    #[inline]
    pub fn decoded(&self) -> Option<Cow<'a, str>> {
        if !self.escaped {
            return Some(Cow::Borrowed(&self.quoted[1..self.quoted.len() - 1]));
        }
        self.unescaped().map(Cow::Owned)
    }

    /// The string, its escapes decoded; kept out of line, as few strings have escapes.
    #[inline(never)]
    fn unescaped(&self) -> Option<String> {
        serde_json::from_str(self.quoted).ok()
    }
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Self::reusing(text, Specials::default())
    }

    /// A cursor at the start of `text`, marking its special bytes in `specials` (what
    /// [`Cursor::into_specials`] gave back, so that lines read in a row allocate once).
    pub fn reusing(text: &'a str, mut specials: Specials) -> Self {
        specials.index(text.as_bytes());
        Cursor {
            text,
            at: 0,
            specials,
        }
    }

    /// The marks' memory, for [`Cursor::reusing`].
    pub fn into_specials(self) -> Specials {
        self.specials
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte past whitespace, not taken.
    pub fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.at) {
            // JSON's white space is all at or below b' ': one compare for most bytes.
            if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Takes `byte`, past whitespace.
    pub fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Takes `byte` past whitespace where it is next; whether it was.
    pub fn eat_if(&mut self, byte: u8) -> bool {
        self.eat(byte).is_some()
    }

    /// Takes `text` past whitespace where it is next, byte for byte; whether it was.
    pub fn eat_text(&mut self, text: &str) -> bool {
        let found = self.next_is(text);
        if found {
            self.at += text.len();
        }
        found
    }

    /// Whether `text` is next past whitespace, byte for byte (it is not taken).
    pub fn next_is(&mut self, text: &str) -> bool {
        self.peek().is_some()
            && (self.bytes().get(self.at..self.at + text.len()))
                .is_some_and(|here| same_words(here, text.as_bytes()))
    }

    /// The place of the next byte past whitespace, for [`since`](Self::since).
    pub fn here(&mut self) -> usize {
        self.peek();
        self.at
    }

    /// The text from `start` (a place [`here`](Self::here) gave) to the cursor.
    pub fn since(&self, start: usize) -> &'a str {
        &self.text[start..self.at]
    }

    /// Nothing but whitespace is left.
    pub fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// The string next, as written.
    pub fn raw_string(&mut self) -> Option<Raw<'a>> {
        self.eat(b'"')?;
        let start = self.at - 1;
        let mut escaped = false;
        loop {
            self.at = self.specials.first_from(self.at)?;
            match self.bytes()[self.at] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                _ => return None, // a control character
            }
        }
        self.at += 1;
        let quoted = &self.text[start..self.at];
        Some(Raw { quoted, escaped })
    }

    /// The escape at the cursor's backslash; `\u` escapes of surrogates are given up.
    fn escape(&mut self) -> Option<()> {
        match self.bytes().get(self.at + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
            b'u' => {
                let hex = self.text.get(self.at + 2..self.at + 6)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                let unit = u16::from_str_radix(hex, 16).ok()?;
                if (0xd800..0xe000).contains(&unit) {
                    return None;
                }
                self.at += 6;
            }
            _ => return None,
        }
        Some(())
    }

    /// The string next, its escapes decoded.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        self.raw_string()?.decoded()
    }

    /// Checks the value next and moves past it.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_within(MAX_DEPTH)
    }

    fn skip_within(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.raw_string().map(drop),
            b'{' => {
                let depth = depth.checked_sub(1)?;
                self.members(|cursor, _| cursor.skip_within(depth))
            }
            b'[' => {
                let depth = depth.checked_sub(1)?;
                self.items(|cursor| cursor.skip_within(depth))
            }
            b't' => self.word("true"),
            b'f' => self.word("false"),
            b'n' => self.word("null"),
            _ => match self.number()? {
                Number::Plain => Some(()),
                Number::MayOverflow => None,
            },
        }
    }

    /// Walks the object next, giving each member's key to `member`, which must take the value.
    pub fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, Raw<'a>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat_if(b'}') {
            return Some(());
        }
        loop {
            let key = self.raw_string()?;
            self.eat(b':')?;
            member(self, key)?;
            if !self.member_end()? {
                return Some(());
            }
        }
    }

    /// After a member of an object: takes the `,` before another (`true`) or the closing `}`
    /// (`false`).
    pub fn member_end(&mut self) -> Option<bool> {
        if self.eat_if(b',') {
            return Some(true);
        }
        self.eat(b'}').map(|()| false)
    }

    /// Walks the array next, calling `item` at each item, which must take it.
    pub fn items(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat_if(b']') {
            return Some(());
        }
        loop {
            item(self)?;
            if !self.eat_if(b',') {
                return self.eat(b']');
            }
        }
    }

    fn word(&mut self, word: &str) -> Option<()> {
        self.text[self.at..].starts_with(word).then(|| {
            self.at += word.len();
        })
    }

    /// The number next; whether a `Value` could refuse it as out of range.
    fn number(&mut self) -> Option<Number> {
        let bytes = self.bytes();
        let digits = |from: usize| {
            from + bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let start = self.at + usize::from(bytes[self.at] == b'-');
        let mut at = digits(start);
        let integer = at - start;
        if integer == 0 || (integer > 1 && bytes[start] == b'0') {
            return None;
        }
        if bytes.get(at) == Some(&b'.') {
            let end = digits(at + 1);
            if end == at + 1 {
                return None;
            }
            at = end;
        }
        let mut plain = integer < MAX_INTEGER_DIGITS;
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
            let end = digits(at + 1 + sign);
            if end == at + 1 + sign {
                return None;
            }
            (at, plain) = (end, false);
        }
        self.at = at;
        Some(if plain {
            Number::Plain
        } else {
            Number::MayOverflow
        })
    }

    /// The value next as a [`Lite`] value, as a `Value` reads it: strings borrowed where they
    /// hold no escape, numbers as serde_json reads them. An object naming a key twice (a
    /// `Value` keeps the last value at the first place) or of more than [`MAX_MEMBERS`] members
    /// (each key is compared with those before it) is given up.
    pub fn lite(&mut self) -> Option<Lite<'a>> {
        let mut value = Lite::Null;
        self.lite_into(&mut value)?;
        Some(value)
    }

    /// [`Cursor::lite`] into `value`, where the value is to stay: a `Lite` value moved right
    /// after it is made is read back from memory before its bytes have settled there, which
    /// cost more than making it.
    pub fn lite_into(&mut self, value: &mut Lite<'a>) -> Option<()> {
        self.lite_within(value, MAX_DEPTH)
    }

    fn lite_within(&mut self, value: &mut Lite<'a>, depth: usize) -> Option<()> {
        value.put(match self.peek()? {
            b'"' => Lite::Str(self.string()?),
            b't' => self.word("true").map(|()| Lite::Bool(true))?,
            b'f' => self.word("false").map(|()| Lite::Bool(false))?,
            b'n' => self.word("null").map(|()| Lite::Null)?,
            b'[' => {
                let depth = depth.checked_sub(1)?;
                let mut items = Vec::new();
                self.items(|cursor| {
                    items.push(Lite::Null);
                    cursor.lite_within(items.last_mut().expect("just pushed"), depth)
                })?;
                Lite::Array(items)
            }
            b'{' => {
                let depth = depth.checked_sub(1)?;
                // A top-level field's object starts with room for eight members: a list grown
                // from four was reallocated on every mail line (`AppAccessContext` has five).
                // Deeper ones, mostly a bag's entries of two members, grow as they need.
                let room = if depth + 1 == MAX_DEPTH { 8 } else { 0 };
                let mut members: Vec<(Cow<'a, str>, Lite<'a>)> = Vec::with_capacity(room);
                self.members(|cursor, key| {
                    let key = key.decoded()?;
                    if members.len() == MAX_MEMBERS || members.iter().any(|(k, _)| *k == key) {
                        return None;
                    }
                    members.push((key, Lite::Null));
                    let (_, value) = members.last_mut().expect("just pushed");
                    cursor.lite_within(value, depth)
                })?;
                Lite::Object(members)
            }
            _ => {
                let start = self.at;
                self.number()?;
                let text = &self.text[start..self.at];
                if text.len() < 20 && text.bytes().all(|b| b.is_ascii_digit()) {
                    Lite::Number(text.parse::<u64>().ok()?.into())
                } else {
                    Lite::Number(serde_json::from_str(text).ok()?)
                }
            }
        });
        Some(())
    }
}

/// Whether `a` and `b` are the same bytes, compared eight at a time (as little-endian words;
/// a shorter text is one word): whole words, then the last eight bytes, overlapping the word
/// before where the length is not a multiple of eight. Inline, not `memcmp`: a reader's keys
/// ([`Cursor::eat_text`]) are compared so at every place of every line, and most are short.
fn same_words(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len < 8 {
        let packed = |s: &[u8]| s.iter().rev().fold(0, |w, &byte| w << 8 | u64::from(byte));
        return packed(a) == packed(b);
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let same = |at| word(a, at) == word(b, at);
    (0..len / 8).all(|i| same(i * 8)) && same(len - 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The walk's verdict on `text` as one whole value.
    fn skips(text: &str) -> bool {
        let mut cursor = Cursor::new(text);
        cursor.skip().is_some() && cursor.end().is_some()
    }

    /// Values in every shape the grammar has, each taken: a `Value` takes them too.
    #[test]
    fn takes_what_a_value_takes() {
        let deep = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let long = format!("\"{}\"", "abcdefg\\\"é".repeat(40));
        let taken = [
            "0",
            "-0",
            "12",
            "-12.5",
            "0.25",
            "3.000",
            "18446744073709551616",
            "\"\"",
            "\"a\"",
            "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
            "\"\\u00e9\\u0041x\"",
            "\"日本\"",
            "true",
            "false",
            "null",
            "[]",
            "{}",
            " [ 1 , \"x\" , { } ] ",
            "{\"a\":{\"b\":[null]}}",
            "{\"a\":1,\"a\":2}",
            "\t\r\n{ \"k\" : [ ] }\n",
            &deep,
            &long,
        ];
        for text in taken {
            assert!(skips(text), "taken: {text}");
            assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
        }
    }

    /// Text a `Value` refuses, and text it may take but the walk gives up: never taken.
    #[test]
    fn refuses_what_a_value_refuses_and_gives_up_on_doubt() {
        let too_deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let huge = "9".repeat(MAX_INTEGER_DIGITS);
        let refused = [
            "",
            " ",
            "01",
            "-",
            "-01",
            "1.",
            ".5",
            "+1",
            "1e5",
            "1E-2",
            "1e400",
            "0x10",
            "NaN",
            "tru",
            "nul",
            "True",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"\\ud83d\"",
            "\"\\ud83d\\ude00\"",
            "\"a\tb\"",
            "\"\u{1f}\"",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\"}",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\" 1}",
            "[1}",
            "{\"a\":1]",
            "1 2",
            "[1]]",
            "\u{a0}1",
            &too_deep,
            &huge,
        ];
        for text in refused {
            assert!(!skips(text), "refused: {text:?}");
        }
    }

    /// Every value of a real line is skipped, and kept values read as serde_json reads them.
    #[test]
    fn kept_values_read_as_serde_json_reads_them() {
        let values = [
            "\"plain\"",
            "\"esc\\\"aped\\u00e9\"",
            "7",
            "-7",
            "2.5",
            "1.5e3",
            "12345678901234567890",
            "true",
            "null",
            "[1,{\"a\":\"b\"}]",
            "{\"Name\":\"x\",\"Value\":[]}",
        ];
        for text in values {
            let mut cursor = Cursor::new(text);
            let lite = cursor.lite().expect(text);
            assert!(cursor.end().is_some(), "{text}");
            let value: Value = serde_json::from_str(text).expect(text);
            assert_eq!(lite, Lite::from(value), "{text}");
        }
        // Overflow is refused where a kept number is read, as a `Value` refuses it.
        assert!(Cursor::new("1e400").lite().is_none());
    }
}
