//! Borrowed JSON values for the narrow reading ([`super::narrow`]): strings and keys borrowed
//! from the line where they hold no escape, objects as lists of members.
//!
//! Building a `serde_json::Value` of each kept field (a `String` per string, a hashed map per
//! object, then the map a bag folds into) took about a quarter of the narrow reading's time.
//! A [`Lite`] value is read through [`JsonView`] as a `Value` is, so kind recognition,
//! core-field extraction and the mail analysis read both alike.
//!
//! Values are read by the narrow reading's walk ([`super::scan::Cursor::lite`]), which takes a
//! value only where a `Value` would (numbers are serde_json's own `Number`) and gives up where
//! a `Value` would differ in what is read: an object naming a key twice (a `Value` keeps the
//! last value at the first place), or of more than [`MAX_MEMBERS`] members (each key is compared
//! with those before it). [`normalize`] gives up for what it does not reshape itself. The
//! narrow reading then reads the line whole.

use super::bags;
use super::lookup::JsonView;
use serde_json::Number;
use std::borrow::Cow;

/// A JSON value whose strings and keys may borrow from the text read.
#[derive(Debug, Clone, PartialEq)]
pub enum Lite<'de> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'de, str>),
    Array(Vec<Lite<'de>>),
    /// Members in the order read; no key twice.
    Object(Vec<(Cow<'de, str>, Lite<'de>)>),
}

impl JsonView for Lite<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Lite::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<&Number> {
        match self {
            Lite::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        match self {
            Lite::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Lite::Null)
    }
    fn as_array(&self) -> Option<&[Self]> {
        match self {
            Lite::Array(items) => Some(items),
            _ => None,
        }
    }
    fn get(&self, key: &str) -> Option<&Self> {
        self.members()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    fn get_ci(&self, key: &str) -> Option<&Self> {
        self.get(key).or_else(|| {
            self.members()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }
}

impl<'de> Lite<'de> {
    /// Puts `new` in this value's place. The value written over mostly owns no memory (a
    /// borrowed string, a number, a boolean, or the null a new item starts as): it is then
    /// forgotten rather than dropped, which spares a call to the out-of-line drop of this
    /// recursive type for each value the narrow reading writes.
    #[inline]
    pub fn put(&mut self, new: Lite<'de>) {
        let old = std::mem::replace(self, new);
        if old.owns_memory() {
            drop(old);
        } else {
            std::mem::forget(old);
        }
    }

    /// Whether dropping this value may free memory.
    fn owns_memory(&self) -> bool {
        match self {
            Lite::Null | Lite::Bool(_) | Lite::Str(Cow::Borrowed(_)) => false,
            Lite::Number(_) => std::mem::needs_drop::<Number>(),
            Lite::Str(Cow::Owned(_)) | Lite::Array(_) | Lite::Object(_) => true,
        }
    }

    fn members(&self) -> Option<&[(Cow<'de, str>, Lite<'de>)]> {
        match self {
            Lite::Object(members) => Some(members),
            _ => None,
        }
    }
}

/// A `Value` as a `Lite` one (moving its strings; a map's members in its order): what the
/// tests and the `json_walk` fuzz target compare readings with.
impl From<serde_json::Value> for Lite<'_> {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Lite::Null,
            Value::Bool(b) => Lite::Bool(b),
            Value::Number(n) => Lite::Number(n),
            Value::String(s) => Lite::Str(Cow::Owned(s)),
            Value::Array(items) => Lite::Array(items.into_iter().map(Lite::from).collect()),
            Value::Object(map) => Lite::Object(
                map.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Lite::from(v)))
                    .collect(),
            ),
        }
    }
}

/// What [`bags::normalize_entry`] does to a top-level entry, done to a kept value (`bag`:
/// whether its key is a bag's, [`bags::is_bag_key`], told once for each key a reader meets);
/// `None` where it would do more than is done here: parse JSON (or a PowerShell object) held
/// in a string, or fold a bag whose entries are not each one name and one value, or that
/// names one twice.
#[inline]
pub fn normalize(value: &mut Lite, bag: bool) -> Option<()> {
    // Most kept values are strings that open no JSON, numbers and booleans, which it leaves as
    // they are (a bag is a list): told here, inline.
    let plain = match &*value {
        Lite::Str(s) => bags::holds_none(s),
        Lite::Number(_) | Lite::Bool(_) | Lite::Null => true,
        Lite::Array(_) | Lite::Object(_) => false,
    };
    if plain {
        return Some(());
    }
    normalize_held(value, bag)
}

/// [`normalize`] of a value that may hold JSON or be a bag.
fn normalize_held(value: &mut Lite, bag: bool) -> Option<()> {
    let embedded = |v: &Lite| matches!(v, Lite::Str(s) if bags::embedded(s).is_some());
    let holds_json = match &*value {
        Lite::Array(items) => items.iter().any(embedded),
        v => embedded(v),
    };
    if holds_json {
        return None;
    }
    if bag {
        fold(value)?;
    }
    Some(())
}

/// [`bags::fold`] for the common bag, every entry one name and one `Value` (in either order),
/// each name once: `[{"Name":"IsThrottled","Value":"False"}]` becomes `{"IsThrottled":"False"}`.
/// A list that is not a bag is left as it is; any other bag, or one of more than
/// [`MAX_MEMBERS`] entries (each name is compared with those before it), gives `None`.
fn fold(value: &mut Lite) -> Option<()> {
    let Lite::Array(items) = value else {
        return Some(());
    };
    if items.is_empty() || !items.iter().all(|item| named(item).is_some()) {
        return Some(());
    }
    if items.len() > MAX_MEMBERS {
        return None;
    }
    let mut out: Vec<(Cow<str>, Lite)> = Vec::with_capacity(items.len());
    for item in std::mem::take(items) {
        let at = named(&item)?;
        let Lite::Object(entry) = item else {
            return None;
        };
        let [first, second]: [_; 2] = entry.try_into().ok()?;
        let ((_, name), (key, value)) = if at == 0 {
            (first, second)
        } else {
            (second, first)
        };
        let Lite::Str(name) = name else {
            return None;
        };
        if !key.eq_ignore_ascii_case("value") || out.iter().any(|(n, _)| *n == name) {
            return None;
        }
        out.push((name, value));
    }
    *value = Lite::Object(out);
    Some(())
}

/// Where in a bag entry its name is: the first `Name` (or `Key`, any case) holding a string.
fn named(item: &Lite) -> Option<usize> {
    item.members()?
        .iter()
        .position(|(k, v)| matches!(v, Lite::Str(_)) && bags::is_name_key(k))
}

/// Members an object read here may have; a larger one is given up (the record is read whole).
pub const MAX_MEMBERS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// `text` as one [`Lite`] value, or `Err` where it is refused or given up.
    fn lite(text: &str) -> Result<Lite<'_>, ()> {
        let mut cursor = super::super::scan::Cursor::new(text);
        let read = cursor.lite().ok_or(())?;
        cursor.end().ok_or(())?;
        Ok(read)
    }

    /// Only values that own no memory are forgotten when written over ([`Lite::put`]).
    #[test]
    fn values_owning_memory_are_dropped_when_written_over() {
        let owns = [
            Lite::Str(Cow::Owned("a\"b".into())),
            Lite::Array(vec![Lite::Null]),
            Lite::Object(vec![("a".into(), Lite::Null)]),
            Lite::Array(Vec::new()),
        ];
        let owns_none = [
            Lite::Null,
            Lite::Bool(true),
            Lite::Number(7.into()),
            Lite::Str(Cow::Borrowed("a")),
        ];
        for value in owns {
            assert!(value.owns_memory(), "{value:?}");
        }
        for value in owns_none {
            assert!(!value.owns_memory(), "{value:?}");
        }
        let mut value = Lite::Array(vec![Lite::Bool(false)]);
        value.put(Lite::Str(Cow::Borrowed("x")));
        assert_eq!(value, Lite::Str(Cow::Borrowed("x")));
    }

    #[test]
    fn read_and_looked_up_as_values_are() {
        let texts = [
            r#"{"A":1,"a":2,"b":[true,null,-1.5,"x\u0041"],"c":{"D":"e"},"E":18446744073709551615}"#,
            r#"[1,"two",{"Three":3.0e0}]"#,
            r#""C:\\temp""#,
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).expect("JSON");
            let read = lite(text).expect("read");
            assert_eq!(read, Lite::from(value.clone()), "{text}");
            for key in ["A", "a", "b", "B", "c", "C", "d", "E", "e"] {
                let wanted = |v: Option<&Value>| v.cloned().map(Lite::from);
                assert_eq!(read.get(key).cloned(), wanted(value.get(key)), "{key}");
                let ci = JsonView::get_ci(&value, key);
                assert_eq!(read.get_ci(key).cloned(), wanted(ci), "{key}");
            }
        }
        let borrowed = lite(r#"{"k":"plain","l":"esc\u0061ped"}"#).expect("read");
        let Lite::Object(members) = &borrowed else {
            panic!("an object")
        };
        assert!(matches!(&members[0].1, Lite::Str(Cow::Borrowed("plain"))));
        assert!(matches!(&members[1].1, Lite::Str(Cow::Owned(s)) if s == "escaped"));
    }

    #[test]
    fn refused_where_a_value_is_or_would_differ() {
        for text in [r#"1e999"#, r#""\ud800""#, r#"{"a":1"#, "[1,]"] {
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
            assert!(lite(text).is_err(), "{text}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<Value>(&deep).is_err() && lite(&deep).is_err());
        // A key twice: a Value keeps the last value at the first place.
        assert!(lite(r#"{"a":1,"b":2,"a":3}"#).is_err());
        let members = |n: usize| {
            let list: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            format!("{{{}}}", list.join(","))
        };
        assert!(lite(&members(MAX_MEMBERS)).is_ok());
        assert!(
            lite(&members(MAX_MEMBERS + 1)).is_err(),
            "too large to compare keys"
        );
        assert!(
            lite(r#"{"a":1,"A":3}"#).is_ok(),
            "another key, in another case"
        );
    }

    /// `normalize` of `text` under `key` against `bags::normalize_entry` of the same value:
    /// the same value, or `None` (read whole).
    fn normalized(key: &str, text: &str) -> Option<Lite<'static>> {
        let mut value: Value = serde_json::from_str(text).expect("JSON");
        let mut read = Lite::from(value.clone());
        bags::normalize_entry(key, &mut value);
        normalize(&mut read, bags::is_bag_key(key))?;
        assert_eq!(read, Lite::from(value), "{key}: {text}");
        Some(read)
    }

    #[test]
    fn normalized_as_whole_records_are_or_given_up() {
        let folded = normalized(
            "OperationProperties",
            r#"[{"Name":"MailAccessType","Value":"Bind"},{"value":"False","KEY":"IsThrottled"}]"#,
        );
        assert_eq!(
            folded.as_ref().and_then(|f| f.get("IsThrottled")?.as_str()),
            Some("False")
        );
        for (key, text) in [
            ("operationproperties", r#"[{"Name":"a","Value":{"b":[1]}}]"#),
            ("OperationProperties", "[]"),
            ("OperationProperties", r#"[7,{"Name":"a","Value":1}]"#),
            ("OperationProperties", r#"{"Name":"a","Value":1}"#),
            ("Folders", r#"[{"Name":"a","Value":1}]"#),
            ("ClientInfoString", r#""Client=OWA;Action=ViaProxy""#),
            ("x", r#"["{not json", "@{unclosed"]"#),
        ] {
            assert!(normalized(key, text).is_some(), "{key}: {text}");
        }
        let entries: Vec<String> = (0..=MAX_MEMBERS)
            .map(|i| format!(r#"{{"Name":"n{i}","Value":{i}}}"#))
            .collect();
        let large_bag = format!("[{}]", entries.join(","));
        for (key, text) in [
            (
                "OperationProperties",
                r#"[{"Name":"a","Value":1},{"Name":"a","Value":2}]"#,
            ),
            ("OperationProperties", large_bag.as_str()),
            (
                "OperationProperties",
                r#"[{"Name":"a","NewValue":1,"OldValue":0}]"#,
            ),
            ("OperationProperties", r#"[{"Name":"a","Other":1}]"#),
            ("OperationProperties", r#"[{"Name":"a"}]"#),
            ("OperationProperties", r#"[{"Name":"a","Key":"b"}]"#),
            ("OperationProperties", r#""[{\"Name\":\"a\",\"Value\":1}]""#),
            ("x", r#""{\"a\":1}""#),
            ("x", r#"[1,"@{Name=a; Value=b}"]"#),
        ] {
            assert!(normalized(key, text).is_none(), "{key}: {text}");
        }
    }
}
