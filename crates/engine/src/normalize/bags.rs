//! Reshaping values so rules can address them by name: Name/Value bags folded into objects,
//! JSON held in strings parsed, PowerShell-stringified objects read.
//!
//! Exchange and Azure AD records carry lists such as
//! `"OperationProperties":[{"Name":"MailAccessType","Value":"Bind"}]`, in either key order and
//! sometimes as a JSON string. After folding, `OperationProperties.MailAccessType` is `"Bind"`.
//! Entries with more than a value (`ModifiedProperties`: `Name`, `NewValue`, `OldValue`) fold to
//! the rest of the entry; a name given twice keeps every value, as an array. A list that is not
//! all Name/Value entries is left as it was.

use serde_json::{Map, Value};

/// Keys whose values are Name/Value bags in UAL, Sentinel and Entra records.
pub const BAG_KEYS: &[&str] = &[
    "OperationProperties",
    "ExtendedProperties",
    "DeviceProperties",
    "Parameters",
    "ModifiedProperties",
    "additionalDetails",
    "AdditionalDetails",
    "authenticationProcessingDetails",
    "AuthenticationProcessingDetails",
];

/// Normalises one object in place: JSON-in-string values parsed (one level), bags folded.
pub fn normalize_object(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        normalize_entry(key, value);
    }
}

/// Normalises one entry of an object: its value's embedded JSON parsed, a bag folded.
pub fn normalize_entry(key: &str, value: &mut Value) {
    parse_embedded(value);
    if is_bag_key(key) {
        fold(value);
    }
}

/// Whether a top-level key's value is folded as a bag: one of [`BAG_KEYS`], any ASCII case.
pub fn is_bag_key(key: &str) -> bool {
    BAG_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// A string holding a JSON object or array becomes that value; a PowerShell-stringified object
/// (`@{Name=…; Value=…}`) becomes an object. Arrays of such strings are converted element-wise.
pub fn parse_embedded(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(v) = embedded(s) {
                *value = v;
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Value::String(s) = item {
                    if let Some(v) = embedded(s) {
                        *item = v;
                    }
                }
            }
        }
        _ => {}
    }
}

/// The JSON object or array, or PowerShell object, that the string `s` holds (white space
/// around it aside); `None` for any other string.
#[inline]
pub(super) fn embedded(s: &str) -> Option<Value> {
    // Run on every string normalized, most of which start with a printable byte that opens
    // nothing (no white space to trim there): told here, without a call.
    if holds_none(s) {
        return None;
    }
    held(s)
}

/// Whether `s` starts with a printable byte that opens no value: then it holds none
/// ([`embedded`]), and there is no white space to trim.
#[inline]
pub(super) fn holds_none(s: &str) -> bool {
    s.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_graphic() && !matches!(b, b'{' | b'[' | b'@'))
}

/// [`embedded`], once the first byte could open a value or be white space.
fn held(s: &str) -> Option<Value> {
    let t = super::lookup::trim(s);
    let first = *t.as_bytes().first()?;
    let last = *t.as_bytes().last()?;
    match (first, last) {
        (b'{', b'}') | (b'[', b']') => match serde_json::from_str::<Value>(t) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => Some(v),
            _ => None,
        },
        (b'@', b'}') if t.starts_with("@{") => powershell_object(t),
        _ => None,
    }
}

/// `@{Name=MailAccessType; Value=Bind}` → `{"Name":"MailAccessType","Value":"Bind"}`.
pub fn powershell_object(t: &str) -> Option<Value> {
    let inner = t.strip_prefix("@{")?.strip_suffix('}')?;
    let mut map = Map::new();
    for part in inner.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return None;
        }
        map.insert(k.to_string(), Value::String(v.trim().to_string()));
    }
    (!map.is_empty()).then_some(Value::Object(map))
}

/// Folds a Name/Value bag into an object keyed by name, in place, moving its names and values
/// (no copies: this runs on every bag of every record); whether `value` was one (anything else
/// is left as it was).
pub fn fold(value: &mut Value) -> bool {
    let Value::Array(items) = value else {
        return false;
    };
    if items.is_empty() || !items.iter().all(|item| named(item).is_some()) {
        return false;
    }
    let mut out = Map::new();
    let mut repeated: Vec<String> = Vec::new();
    for item in std::mem::take(items) {
        let Value::Object(entry) = item else {
            continue; // every item is a named object (above)
        };
        // The first name (or key) that holds a string names the entry; the rest is its value.
        let mut name = None;
        let mut rest = Vec::with_capacity(entry.len().saturating_sub(1));
        for (k, v) in entry {
            match v {
                Value::String(s) if name.is_none() && is_name_key(&k) => name = Some(s),
                v => rest.push((k, v)),
            }
        }
        let Some(name) = name else { continue };
        let folded = match rest.len() {
            0 => Value::Null,
            1 if rest[0].0.eq_ignore_ascii_case("value") => {
                rest.pop().map_or(Value::Null, |(_, v)| v)
            }
            _ => Value::Object(rest.into_iter().collect()),
        };
        match out.get_mut(&name) {
            None => {
                out.insert(name, folded);
            }
            Some(existing) => {
                if repeated.contains(&name) {
                    if let Value::Array(values) = existing {
                        values.push(folded);
                    }
                } else {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, folded]);
                    repeated.push(name);
                }
            }
        }
    }
    *value = Value::Object(out);
    true
}

pub(super) fn is_name_key(k: &str) -> bool {
    k.eq_ignore_ascii_case("name") || k.eq_ignore_ascii_case("key")
}

/// The name of a bag entry: an object's first `Name` (or `Key`, any case) holding a string.
fn named(item: &Value) -> Option<&str> {
    let Value::Object(entry) = item else {
        return None;
    };
    entry
        .iter()
        .find_map(|(k, v)| v.as_str().filter(|_| is_name_key(k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The folded bag, or `None` where `v` is not one (and was left as it was).
    fn fold(mut v: Value) -> Option<Value> {
        let before = v.clone();
        let folded = super::fold(&mut v);
        assert!(
            folded || v == before,
            "a value that is not a bag is left alone"
        );
        folded.then_some(v)
    }

    #[test]
    fn folds_either_key_order() {
        let v = json!([{"Value":"Bind","Name":"MailAccessType"},{"Name":"IsThrottled","Value":"False"}]);
        assert_eq!(
            fold(v),
            Some(json!({"MailAccessType":"Bind","IsThrottled":"False"}))
        );
    }

    #[test]
    fn folds_modified_properties_and_key_value() {
        let v = json!([{"Name":"Rule","NewValue":"a","OldValue":""}]);
        assert_eq!(
            fold(v),
            Some(json!({"Rule":{"NewValue":"a","OldValue":""}}))
        );
        let v = json!([{"key":"Is CAE Token","value":"False"}]);
        assert_eq!(fold(v), Some(json!({"Is CAE Token":"False"})));
    }

    #[test]
    fn leaves_non_bags_alone() {
        assert_eq!(fold(json!(["a", "b"])), None);
        assert_eq!(fold(json!([{"Value":"x"}])), None);
        assert_eq!(fold(json!([])), None);
    }

    #[test]
    fn names_values_and_the_rest_of_an_entry() {
        // The first name-like key holding a string names the entry, in any case; a name-like
        // key holding something else stays in the rest.
        let v = json!([{"Name":7,"KEY":"K","value":"v"},{"NAME":"Only"},{"Name":"R","b":1,"a":2}]);
        assert_eq!(
            fold(v),
            Some(json!({"K":{"Name":7,"value":"v"},"Only":null,"R":{"b":1,"a":2}}))
        );
        let order = fold(json!([{"Name":"R","b":1,"a":2}])).expect("a bag");
        let keys: Vec<&String> = order["R"].as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["b", "a"], "the rest keeps its order");
        assert_eq!(
            fold(json!([{"Name":"A","Value":"1"},{"Value":"2","Name":"A"}])),
            Some(json!({"A":["1","2"]}))
        );
        // One entry that is not a named object: the list is left as it was.
        for v in [
            json!([{"Name":"A","Value":"1"},"x"]),
            json!([{"Name":"A","Value":"1"},{"Name":1,"Value":"2"}]),
            json!({"Name":"A","Value":"1"}),
        ] {
            assert_eq!(fold(v), None);
        }
    }

    #[test]
    fn keeps_every_value_of_a_repeated_name() {
        let v = json!([{"Name":"A","Value":"1"},{"Name":"A","Value":"2"},{"Name":"A","Value":"3"}]);
        assert_eq!(fold(v), Some(json!({"A":["1","2","3"]})));
    }

    #[test]
    fn parses_json_and_powershell_strings() {
        let mut v = json!("[{\"Name\":\"A\",\"Value\":\"1\"}]");
        parse_embedded(&mut v);
        assert_eq!(v, json!([{"Name":"A","Value":"1"}]));
        let mut v = json!("@{Name=MailAccessType; Value=Bind}");
        parse_embedded(&mut v);
        assert_eq!(v, json!({"Name":"MailAccessType","Value":"Bind"}));
        let mut v = json!("[Inbox]");
        parse_embedded(&mut v);
        assert_eq!(v, json!("[Inbox]"));
    }

    /// White space around an embedded value, of any kind `str::trim` takes (the ASCII vertical
    /// tab and Unicode spaces too), still lets it be parsed; a printable first byte that opens
    /// no value does not.
    #[test]
    fn embedded_values_are_found_past_any_white_space() {
        for space in [" ", "\t", "\r\n", "\u{b}", "\u{a0}", "\u{3000}"] {
            for (text, parsed) in [
                ("{\"a\":1}", json!({"a":1})),
                ("[1]", json!([1])),
                ("@{A=1}", json!({"A":"1"})),
            ] {
                assert_eq!(
                    embedded(&format!("{space}{text}{space}")),
                    Some(parsed),
                    "{space:?}"
                );
            }
        }
        for s in ["x{\"a\":1}", "\"[1]\"", "1", "", " ", "é[1]"] {
            assert_eq!(embedded(s), None, "{s:?}");
        }
    }
}
