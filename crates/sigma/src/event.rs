//! The [`Event`] trait: the only view the matcher has of a log record.
//!
//! The engine knows nothing of any log format; the caller resolves Sigma field names (after its
//! own field mapping) to JSON values. A `serde_json::Value` implementation is provided so tests
//! and simple users need nothing else.

use serde_json::Value;
use std::borrow::Cow;

/// A log record as seen by Sigma rules.
pub trait Event {
    /// The value of a field, by the name the rule uses (after any field mapping the caller
    /// applies). `None` means the field is absent; `Some(Value::Null)` means present and null.
    /// An array value means "any element" for matching purposes.
    fn field(&self, name: &str) -> Option<Cow<'_, Value>>;

    /// Calls `f` for every scalar string or number value in the event (for keyword searches);
    /// stops and returns `true` as soon as `f` returns `true`.
    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool;

    /// The lower-cased form of a field whose value is a single string, if the event caches it
    /// (so that a value tested by many rules is lower-cased once). It must equal
    /// [`crate::lowercase`]`(value)`; the default
    /// caches nothing.
    fn field_lowered(&self, _name: &str) -> Option<&str> {
        None
    }

    /// Event time in Unix milliseconds, if known. Used by callers that feed the
    /// [`Correlator`](crate::Correlator) without a time of their own.
    fn timestamp_ms(&self) -> Option<i64> {
        None
    }
}

/// Field lookup on a JSON value: the exact top-level key first, then a dotted path, where an
/// array on the way means "any element" (the matching elements are gathered into an array).
impl Event for Value {
    fn field(&self, name: &str) -> Option<Cow<'_, Value>> {
        if let Some(v) = self.as_object().and_then(|o| o.get(name)) {
            return Some(Cow::Borrowed(v));
        }
        if !name.contains('.') {
            return None;
        }
        lookup_path(self, name)
    }

    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        visit_scalars(self, f, 0)
    }

    fn timestamp_ms(&self) -> Option<i64> {
        ["@timestamp", "timestamp", "time"]
            .iter()
            .filter_map(|k| self.get(*k))
            .find_map(crate::timeparts::value_to_millis)
    }
}

/// Resolves a dotted path; arrays along the way fan out.
pub fn lookup_path<'a>(root: &'a Value, path: &str) -> Option<Cow<'a, Value>> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    collect_path(root, &parts, &mut found, 0);
    match found.len() {
        0 => None,
        1 => found.pop().map(Cow::Borrowed),
        _ => Some(Cow::Owned(Value::Array(
            found.into_iter().cloned().collect(),
        ))),
    }
}

const MAX_DEPTH: usize = 128;

fn collect_path<'a>(v: &'a Value, parts: &[&str], out: &mut Vec<&'a Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some((first, rest)) = parts.split_first() else {
        out.push(v);
        return;
    };
    match v {
        Value::Object(map) => {
            if let Some(child) = map.get(*first) {
                collect_path(child, rest, out, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_path(item, parts, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn visit_scalars(v: &Value, f: &mut dyn FnMut(&str) -> bool, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match v {
        Value::String(s) => f(s),
        Value::Number(n) => f(&n.to_string()),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        Value::Null => false,
        Value::Array(items) => items.iter().any(|i| visit_scalars(i, f, depth + 1)),
        Value::Object(map) => map.values().any(|i| visit_scalars(i, f, depth + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_key_then_dotted_path_with_arrays() {
        let v = json!({"a.b": 1, "a": {"b": 2, "c": [{"d": 3}, {"d": 4}, {"e": 5}]}});
        assert_eq!(v.field("a.b").unwrap().into_owned(), json!(1));
        assert_eq!(v.field("a.c.d").unwrap().into_owned(), json!([3, 4]));
        assert_eq!(v.field("a.c.e").unwrap().into_owned(), json!(5));
        assert!(v.field("a.x").is_none());
        assert!(v.field("zz").is_none());
    }
}
