//! From a framed JSON value to an [`Event`]: unwrap, recognise the kind, normalise, extract.
//!
//! Unwrapping: Elastic's pipeline-test wrapper (`{"o365audit":{…}}`, or `event.original` as a
//! JSON string), and an `AuditData` column or field (object or JSON string) become the record
//! itself. Kinds are recognised from content alone (see [`detect_kind`]). Normalising parses
//! JSON held in strings and folds Name/Value bags ([`bags`]) at the top level of the record and
//! of a diagnostic-settings envelope's `properties`. The record is otherwise kept as it came.

pub mod bags;
mod core;
pub mod ip;
pub mod lite;
pub mod lookup;
pub mod narrow;
pub mod scan;
pub mod specials;
pub mod time;

use crate::event::{Event, LogKind, Origin};
use lookup::{name, Fields, JsonView, Name};
use serde_json::{Map, Value};

pub use self::core::{extract, extract_mail_read, identity_sources, ual_operation, Identity};

/// Why a framed value is not an event.
pub fn normalize(value: Value, origin: Origin) -> Result<Event, String> {
    let mut map = match unwrap(value)? {
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "record is a JSON {}, not an object",
                json_type(&other)
            ))
        }
    };
    bags::normalize_object(&mut map);
    if let Some(Value::Object(props)) = get_ci_mut(&mut map, "properties") {
        bags::normalize_object(props);
    }
    let kind = detect_kind(&map);
    let core = extract(kind, &map);
    Ok(Event {
        kind,
        core,
        record: Value::Object(map),
        origin,
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    map.get_mut(&key)
}

/// Removes wrappers that exports put around a record.
fn unwrap(value: Value) -> Result<Value, String> {
    let Value::Object(mut map) = value else {
        return Ok(value);
    };
    // Elastic pipeline tests: {"o365audit": {...}, "event": {"original": "<json>"}}.
    if let Some(inner @ Value::Object(_)) = map.remove("o365audit") {
        return Ok(inner);
    }
    if map.len() <= 2 {
        if let Some(Value::String(original)) = map.get("event").and_then(|e| e.get("original")) {
            return serde_json::from_str::<Value>(original)
                .map_err(|e| format!("event.original is not valid JSON: {e}"));
        }
    }
    // Search-UnifiedAuditLog output and Purview JSON: the record is in AuditData.
    let audit_key = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case("AuditData"))
        .cloned();
    if let Some(key) = audit_key {
        let is_wrapper = map.keys().any(|k| {
            ["CreationDate", "Operations", "RecordId", "UserIds"]
                .iter()
                .any(|w| k.eq_ignore_ascii_case(w))
        });
        if is_wrapper {
            return match map.remove(&key) {
                Some(Value::String(s)) => serde_json::from_str::<Value>(&s)
                    .map_err(|e| format!("AuditData is not valid JSON: {e}")),
                Some(inner) => Ok(inner),
                None => Ok(Value::Object(map)),
            };
        }
    }
    Ok(Value::Object(map))
}

const SIGNIN_CATEGORIES: &[&str] = &[
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "MicrosoftServicePrincipalSignInLogs",
    "ADFSSignInLogs",
];

const SIGNIN_TABLES: &[&str] = &[
    "SigninLogs",
    "AADNonInteractiveUserSignInLogs",
    "AADServicePrincipalSignInLogs",
    "AADManagedIdentitySignInLogs",
    "ADFSSignInLogs",
];

fn str_ci<'a, F: Fields + ?Sized>(map: &'a F, name: &Name) -> Option<&'a str> {
    map.get_ci(name).and_then(|v| v.as_str())
}

fn has<F: Fields + ?Sized>(map: &F, name: &Name) -> bool {
    map.get_ci(name).is_some()
}

fn is_one_of(s: Option<&str>, set: &[&str]) -> bool {
    s.is_some_and(|s| set.iter().any(|c| c.eq_ignore_ascii_case(s)))
}

/// Recognises the log kind from the record's own fields.
pub fn detect_kind<F: Fields + ?Sized>(map: &F) -> LogKind {
    if map
        .exact(name!("Event"))
        .is_some_and(|e| e.get("System").is_some())
    {
        return LogKind::Windows;
    }
    let marker = map
        .exact(name!("type"))
        .or_else(|| map.exact(name!("kind")))
        .and_then(|v| v.as_str());
    if marker == Some("token_verdict") {
        return LogKind::TokenVerdict;
    }
    // Sentinel (Log Analytics) rows name their table in `Type`.
    let table = map.exact(name!("Type")).and_then(|v| v.as_str());
    if table == Some("OfficeActivity") {
        return LogKind::Ual;
    }
    if is_one_of(table, SIGNIN_TABLES) {
        return LogKind::EntraSignIn;
    }
    if table == Some("AuditLogs") {
        return LogKind::EntraAudit;
    }
    // Azure Monitor diagnostic settings / Event Hub envelope.
    let category = str_ci(map, name!("category"));
    if is_one_of(category, SIGNIN_CATEGORIES) {
        return LogKind::EntraSignIn;
    }
    if category.is_some_and(|c| c.eq_ignore_ascii_case("AuditLogs"))
        && (has(map, name!("properties"))
            || has(map, name!("time"))
            || has(map, name!("operationName")))
    {
        return LogKind::EntraAudit;
    }
    // Unified Audit Log, from the Management API, Purview, or a Sentinel OfficeActivity export.
    if has(map, name!("Workload"))
        || has(map, name!("OfficeWorkload"))
        || (has(map, name!("RecordType"))
            && (has(map, name!("Operation")) || has(map, name!("CreationTime"))))
    {
        return LogKind::Ual;
    }
    // Graph signIn resource, or a Sentinel SigninLogs row without its Type column.
    if has(map, name!("createdDateTime"))
        && (has(map, name!("appId")) || has(map, name!("userPrincipalName")))
        && (has(map, name!("status"))
            || has(map, name!("ipAddress"))
            || has(map, name!("Status_dynamic")))
    {
        return LogKind::EntraSignIn;
    }
    if has(map, name!("ResultType"))
        && has(map, name!("AppId"))
        && (has(map, name!("ConditionalAccessStatus"))
            || has(map, name!("AuthenticationRequirement")))
    {
        return LogKind::EntraSignIn;
    }
    // Graph directoryAudit resource, or a Sentinel AuditLogs row.
    if (has(map, name!("activityDateTime")) && has(map, name!("activityDisplayName")))
        || (has(map, name!("LoggedByService"))
            && (has(map, name!("ActivityDisplayName")) || has(map, name!("OperationName"))))
    {
        return LogKind::EntraAudit;
    }
    LogKind::Generic
}
