//! Field lookup that tolerates the case variants of real exports (`tenantId` / `TenantId`,
//! `Level` / `level`) and dotted paths (`AppAccessContext.UniqueTokenId`).
//!
//! Kind recognition and core-field extraction look a record's top-level fields up through
//! [`Fields`], so they run alike on a whole record (a JSON object) and on the few fields the
//! narrow reading keeps ([`super::narrow`]).

use serde_json::{Map, Value};

/// A record's top-level fields, as kind recognition and core-field extraction look them up.
pub trait Fields {
    /// The field by exact name.
    fn exact(&self, name: &str) -> Option<&Value>;
    /// The field by exact name, else the first whose name matches ignoring ASCII case.
    fn get_ci(&self, name: &str) -> Option<&Value>;
}

impl Fields for Map<String, Value> {
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
pub fn path_ci<'a, F: Fields + ?Sized>(fields: &'a F, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = fields.get_ci(segments.next()?)?;
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
