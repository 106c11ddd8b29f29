//! Field lookup that tolerates the case variants of real exports (`tenantId` / `TenantId`,
//! `Level` / `level`) and dotted paths (`AppAccessContext.UniqueTokenId`).
//!
//! Kind recognition and core-field extraction look a record's top-level fields up through
//! [`Fields`], and read their values through [`JsonView`], so they run alike on a whole record
//! (a JSON object of `serde_json::Value`s) and on the few fields the narrow reading keeps, as
//! borrowed values ([`super::narrow`]).

use serde_json::{Map, Number, Value};

/// A top-level field's name as kind recognition and core-field extraction look it up, with
/// the place the narrow reading keeps that name at ([`super::narrow`]), found when the name
/// is made: at compile time for the constant names those readers use (the crate's `name!`,
/// and [`Path`]). A narrowly read record is looked up some twenty times a line, and hashing
/// and comparing each name there took about 8% of hunt's instructions.
#[derive(Clone, Copy, Debug)]
pub struct Name<'n> {
    text: &'n str,
    slot: Option<u8>,
}

impl<'n> Name<'n> {
    pub const fn new(text: &'n str) -> Self {
        let slot = match super::narrow::slot(text) {
            Some(at) => Some(at as u8),
            None => None,
        };
        Name { text, slot }
    }

    pub fn text(&self) -> &'n str {
        self.text
    }

    /// The place of the name among those the narrow reading keeps (any ASCII case), if any.
    pub(super) fn slot(&self) -> Option<usize> {
        self.slot.map(usize::from)
    }
}

/// A [`Name`] made at compile time, lent.
macro_rules! name {
    ($text:literal) => {
        &const { $crate::normalize::lookup::Name::new($text) }
    };
}
pub(crate) use name;

/// A dotted path (`AppAccessContext.UniqueTokenId`), split when it is made: its first segment,
/// a top-level [`Name`], and the rest after the dot.
#[derive(Clone, Copy, Debug)]
pub struct Path {
    head: Name<'static>,
    rest: Option<&'static str>,
}

impl Path {
    pub const fn new(path: &'static str) -> Self {
        let (head, rest) = split_first(path);
        Path {
            head: Name::new(head),
            rest,
        }
    }

    /// The top-level field the path starts at.
    pub fn head(&self) -> &'static str {
        self.head.text
    }
}

/// A record's top-level fields, as kind recognition and core-field extraction look them up.
pub trait Fields {
    /// What a field's value is read as.
    type Value: JsonView;
    /// The field by exact name.
    fn exact(&self, name: &Name) -> Option<&Self::Value>;
    /// The field by exact name, else the first whose name matches ignoring ASCII case.
    fn get_ci(&self, name: &Name) -> Option<&Self::Value>;
}

/// A JSON value as the readers of [`Fields`] look at it: `serde_json::Value`, or the narrow
/// reading's borrowed values. Each method means what `serde_json::Value`'s of that name does.
pub trait JsonView: Sized {
    fn as_str(&self) -> Option<&str>;
    fn as_number(&self) -> Option<&Number>;
    fn as_bool(&self) -> Option<bool>;
    fn is_null(&self) -> bool;
    fn as_array(&self) -> Option<&[Self]>;
    /// An object's member by exact key (`None` for anything else).
    fn get(&self, key: &str) -> Option<&Self>;
    /// An object's member by exact key, else the first whose key matches ignoring ASCII case.
    fn get_ci(&self, key: &str) -> Option<&Self>;

    fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }
}

impl JsonView for Value {
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
    fn as_array(&self) -> Option<&[Value]> {
        Value::as_array(self).map(Vec::as_slice)
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }
    fn get_ci(&self, key: &str) -> Option<&Value> {
        get_ci(self.as_object()?, key)
    }
}

impl Fields for Map<String, Value> {
    type Value = Value;
    fn exact(&self, name: &Name) -> Option<&Value> {
        self.get(name.text)
    }
    fn get_ci(&self, name: &Name) -> Option<&Value> {
        get_ci(self, name.text)
    }
}

/// A key by exact name, else the first whose name matches ignoring ASCII case.
pub fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A dotted path, each segment matched as by [`get_ci`]; `null` counts as absent.
pub fn path_ci<'a, F: Fields + ?Sized>(fields: &'a F, path: &Path) -> Option<&'a F::Value> {
    within(fields.get_ci(&path.head)?, path.rest)
}

/// [`path_ci`] of a path known only at run time (a Sigma rule's field), in a whole record.
pub fn path_in<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    // Most paths are one name: split by hand, as `str::split` costs more than the lookup.
    let (head, rest) = split_first(path);
    within(get_ci(map, head)?, rest)
}

/// The dotted `rest` of a path within `current`, each segment matched as by [`get_ci`]; `null`
/// counts as absent.
fn within<'a, V: JsonView>(mut current: &'a V, mut rest: Option<&str>) -> Option<&'a V> {
    while let Some(tail) = rest {
        let (segment, next) = split_first(tail);
        current = current.get_ci(segment)?;
        rest = next;
    }
    (!current.is_null()).then_some(current)
}

/// A dotted path's first segment, and the rest after its dot (if any); `const`, as a
/// [`Path`] is split at compile time.
const fn split_first(path: &str) -> (&str, Option<&str>) {
    let bytes = path.as_bytes();
    let mut dot = 0;
    while dot < bytes.len() && bytes[dot] != b'.' {
        dot += 1;
    }
    if dot == bytes.len() {
        return (path, None);
    }
    let (head, rest) = path.split_at(dot);
    (head, Some(rest.split_at(1).1))
}

/// `s.trim()`, told at once where both ends are printable ASCII (most values): `str::trim`
/// walks each end by `char`, and every core field of every record is trimmed.
pub fn trim(s: &str) -> &str {
    let printable = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
    let bytes = s.as_bytes();
    if printable(bytes.first()) && printable(bytes.last()) {
        s
    } else {
        s.trim()
    }
}

/// The value as text: strings as they are, numbers and booleans printed; else `None`.
pub fn as_text<V: JsonView>(v: &V) -> Option<String> {
    if let Some(s) = v.as_str() {
        let t = trim(s);
        return (!t.is_empty()).then(|| t.to_string());
    }
    v.as_number()
        .map(Number::to_string)
        .or_else(|| v.as_bool().map(|b| b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_their_first_dot() {
        let split = |path| {
            let path = Path::new(path);
            (path.head(), path.rest)
        };
        assert_eq!(split("Id"), ("Id", None));
        assert_eq!(
            split("AppAccessContext.UniqueTokenId"),
            ("AppAccessContext", Some("UniqueTokenId"))
        );
        assert_eq!(split("a.b.c"), ("a", Some("b.c")));
        assert_eq!(split("x."), ("x", Some("")));
        assert_eq!(split(".y"), ("", Some("y")));
    }

    /// The quick answer is `str::trim`'s, whatever the ends hold.
    #[test]
    fn trim_is_str_trim() {
        let ends = [
            "", "a", "~", " ", "\t", "\u{b}", "\u{85}", "\u{a0}", "\u{3000}", "é", "\0",
        ];
        for first in ends {
            for last in ends {
                for middle in ["", "x", " y ", "\u{2003}"] {
                    let s = format!("{first}{middle}{last}");
                    assert_eq!(trim(&s), s.trim(), "{s:?}");
                }
            }
        }
    }
}
