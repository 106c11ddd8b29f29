//! Field lookup that tolerates the case variants of real exports (`tenantId` / `TenantId`,
//! `Level` / `level`) and dotted paths (`AppAccessContext.UniqueTokenId`).
//!
//! Kind recognition and core-field extraction look a record's top-level fields up through
//! [`Fields`], and read their values through [`JsonView`], so they run alike on a whole record
//! (a JSON object of `serde_json::Value`s) and on the few fields the narrow reading keeps, as
//! borrowed values ([`super::narrow`]).

use serde_json::{Map, Number, Value};

/// A record's top-level fields, as kind recognition and core-field extraction look them up.
pub trait Fields {
    /// What a field's value is read as.
    type Value: JsonView;
    /// The field by exact name.
    fn exact(&self, name: &str) -> Option<&Self::Value>;
    /// The field by exact name, else the first whose name matches ignoring ASCII case.
    fn get_ci(&self, name: &str) -> Option<&Self::Value>;
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
    fn exact(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
    fn get_ci(&self, name: &str) -> Option<&Value> {
        get_ci(self, name)
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
pub fn path_ci<'a, F: Fields + ?Sized>(fields: &'a F, path: &str) -> Option<&'a F::Value> {
    // Most paths are one name: split by hand, as `str::split` costs more than the lookup.
    let (head, mut rest) = split_first(path);
    let mut current = fields.get_ci(head)?;
    while let Some(tail) = rest {
        let (segment, next) = split_first(tail);
        current = current.get_ci(segment)?;
        rest = next;
    }
    (!current.is_null()).then_some(current)
}

/// A dotted path's first segment, and the rest after its dot (if any).
fn split_first(path: &str) -> (&str, Option<&str>) {
    match path.bytes().position(|b| b == b'.') {
        Some(dot) => (&path[..dot], Some(&path[dot + 1..])),
        None => (path, None),
    }
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
