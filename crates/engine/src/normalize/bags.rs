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
    if BAG_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        if let Some(folded) = fold(value) {
            *value = folded;
        }
    }
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

fn embedded(s: &str) -> Option<Value> {
    let t = s.trim();
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

/// Folds a Name/Value bag into an object keyed by name; `None` if `value` is not one.
pub fn fold(value: &Value) -> Option<Value> {
    let Value::Array(items) = value else {
        return None;
    };
    if items.is_empty() {
        return None;
    }
    let mut out = Map::new();
    let mut repeated: Vec<String> = Vec::new();
    for item in items {
        let Value::Object(entry) = item else {
            return None;
        };
        let (name_key, name) = entry.iter().find(|(k, v)| {
            (k.eq_ignore_ascii_case("name") || k.eq_ignore_ascii_case("key")) && v.is_string()
        })?;
        let name = name.as_str()?.to_string();
        let rest: Map<String, Value> = entry
            .iter()
            .filter(|(k, _)| *k != name_key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let folded = match rest.len() {
            0 => Value::Null,
            1 if rest.keys().all(|k| k.eq_ignore_ascii_case("value")) => rest
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or(Value::Null),
            _ => Value::Object(rest),
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
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folds_either_key_order() {
        let v = json!([{"Value":"Bind","Name":"MailAccessType"},{"Name":"IsThrottled","Value":"False"}]);
        assert_eq!(
            fold(&v),
            Some(json!({"MailAccessType":"Bind","IsThrottled":"False"}))
        );
    }

    #[test]
    fn folds_modified_properties_and_key_value() {
        let v = json!([{"Name":"Rule","NewValue":"a","OldValue":""}]);
        assert_eq!(
            fold(&v),
            Some(json!({"Rule":{"NewValue":"a","OldValue":""}}))
        );
        let v = json!([{"key":"Is CAE Token","value":"False"}]);
        assert_eq!(fold(&v), Some(json!({"Is CAE Token":"False"})));
    }

    #[test]
    fn leaves_non_bags_alone() {
        assert_eq!(fold(&json!(["a", "b"])), None);
        assert_eq!(fold(&json!([{"Value":"x"}])), None);
        assert_eq!(fold(&json!([])), None);
    }

    #[test]
    fn keeps_every_value_of_a_repeated_name() {
        let v = json!([{"Name":"A","Value":"1"},{"Name":"A","Value":"2"},{"Name":"A","Value":"3"}]);
        assert_eq!(fold(&v), Some(json!({"A":["1","2","3"]})));
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
}
