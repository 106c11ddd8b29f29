//! The persisted mail-client baseline (`hunt --baseline FILE`, `--write-baseline FILE`): which
//! apps each tenant has used to read mail, and when, so a later hunt over a short window still
//! knows what is normal.
//!
//! Format (JSON, stable): `{"stormwatch_baseline": 1, "tenants": {"<tenant>": {"mail_clients":
//! {"<app id>": {"first_seen": "<RFC 3339>", "last_seen": "<RFC 3339>"}}}}}`.

use crate::event::format_time;
use crate::normalize::time;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// App id → (first, last) use.
type Clients = BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>;

/// Mail clients per tenant, with first and last use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    tenants: BTreeMap<String, Clients>,
}

/// A baseline file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct BaselineError {
    pub path: String,
    pub line: usize,
    pub reason: String,
}

impl Baseline {
    /// Whether `app` has read mail in `tenant` before.
    pub fn knows(&self, tenant: &str, app: &str) -> bool {
        self.tenants
            .get(tenant)
            .is_some_and(|c| c.contains_key(app))
    }

    pub fn clients(&self, tenant: &str) -> Vec<String> {
        self.tenants
            .get(tenant)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Records a use of `app` in `tenant` at `t`.
    pub fn add(&mut self, tenant: &str, app: &str, t: DateTime<Utc>) {
        let clients = self.tenants.entry(tenant.to_string()).or_default();
        let e = clients.entry(app.to_string()).or_insert((t, t));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
    }

    pub fn to_json(&self) -> Value {
        let tenants: Map<String, Value> = self
            .tenants
            .iter()
            .map(|(t, clients)| {
                let c: Map<String, Value> = clients
                    .iter()
                    .map(|(app, (f, l))| {
                        (
                            app.clone(),
                            json!({"first_seen": format_time(*f), "last_seen": format_time(*l)}),
                        )
                    })
                    .collect();
                (t.clone(), json!({"mail_clients": c}))
            })
            .collect();
        json!({"stormwatch_baseline": 1, "tenants": tenants})
    }

    /// Reads a baseline file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let err = |line: usize, reason: String| BaselineError {
            path: path.display().to_string(),
            line,
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(0, e.to_string()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| err(e.line(), format!("not valid JSON: {e}")))?;
        Baseline::from_json(&v).map_err(|reason| {
            // Point at the line holding the offending key where it can be found.
            let line = reason
                .split('"')
                .nth(1)
                .and_then(|key| text.lines().position(|l| l.contains(key)))
                .map_or(1, |i| i + 1);
            err(line, reason)
        })
    }

    fn from_json(v: &Value) -> Result<Baseline, String> {
        if v.get("stormwatch_baseline").and_then(Value::as_u64) != Some(1) {
            return Err("not a stormwatch baseline (\"stormwatch_baseline\": 1 missing)".into());
        }
        let mut b = Baseline::default();
        let tenants = v
            .get("tenants")
            .and_then(Value::as_object)
            .ok_or("\"tenants\" must be an object")?;
        for (tenant, t) in tenants {
            let clients = t
                .get("mail_clients")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    format!("tenant \"{tenant}\": \"mail_clients\" must be an object")
                })?;
            for (app, c) in clients {
                let when = |k: &str| {
                    c.get(k)
                        .and_then(Value::as_str)
                        .and_then(time::parse)
                        .ok_or_else(|| format!("client \"{app}\": \"{k}\" must be a time"))
                };
                let (f, l) = (when("first_seen")?, when("last_seen")?);
                b.add(&tenant.to_ascii_lowercase(), &app.to_ascii_lowercase(), f);
                b.add(&tenant.to_ascii_lowercase(), &app.to_ascii_lowercase(), l);
            }
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_lines() {
        let mut b = Baseline::default();
        let t = time::parse("2023-05-01T00:00:00Z").unwrap();
        b.add("t1", "app-a", t);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, serde_json::to_string_pretty(&b.to_json()).unwrap()).unwrap();
        assert_eq!(Baseline::load(&p).unwrap(), b);
        std::fs::write(&p, "{\"stormwatch_baseline\": 1,\n \"tenants\": {\"t1\": {\"mail_clients\": {\"x\": {\"first_seen\": \"soon\", \"last_seen\": \"later\"}}}}}").unwrap();
        let e = Baseline::load(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("b.json:2: client \"x\": \"first_seen\" must be a time"),
            "{e}"
        );
        std::fs::write(&p, "{\n,").unwrap();
        assert!(Baseline::load(&p)
            .unwrap_err()
            .to_string()
            .contains("b.json:2: not valid JSON"));
    }
}
