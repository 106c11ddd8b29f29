//! Field lookup that tolerates the case variants of real exports (`tenantId` / `TenantId`,
//! `Level` / `level`) and dotted paths (`AppAccessContext.UniqueTokenId`).

use serde_json::{Map, Value};

/// A key by exact name, else the first whose name matches ignoring ASCII case.
pub fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A dotted path, each segment matched as by [`get_ci`]; `null` counts as absent.
pub fn path_ci<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = get_ci(map, segments.next()?)?;
    for segment in segments {
        current = match current {
            Value::Object(m) => get_ci(m, segment)?,
            _ => return None,
        };
    }
    (!current.is_null()).then_some(current)
}

/// The value as text: strings as they are, numbers and booleans printed; else `None`.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
