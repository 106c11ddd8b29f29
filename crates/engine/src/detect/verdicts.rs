//! Token verdicts from `stormwatch guard`: a refused token that no honest client produces.
//!
//! `key_issuer_mismatch` (a key used for an issuer it may not sign for — the Storm-0558 root
//! cause), `compromised_key` (a revoked key) and `alg_not_allowed` (`none`, HMAC key confusion)
//! are attempts to get in with a forged token: high, one detection per verdict record.

use super::builtin_rules as rules;
use super::Detector;
use crate::alert::Alert;
use crate::event::{Event, LogKind};
use serde_json::{json, Value};

const FORGED: &[&str] = &["key_issuer_mismatch", "compromised_key", "alg_not_allowed"];

/// Raises on forged-token verdicts.
#[derive(Debug, Default)]
pub struct VerdictDetector;

impl Detector for VerdictDetector {
    fn name(&self) -> &str {
        "token verdicts"
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if event.kind != LogKind::TokenVerdict {
            return;
        }
        let r = &event.record;
        let reason = r.get("reason").and_then(Value::as_str).unwrap_or_default();
        if !FORGED.contains(&reason) {
            return;
        }
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
        let summary = format!(
            "gateway refused a token ({reason}): kid {} alg {} claiming tenant {} from {}",
            s("kid"),
            s("alg"),
            s("tid"),
            s("client_ip")
        );
        let evidence = json!({"reason": reason, "detail": r.get("detail"), "kid": r.get("kid"),
                              "alg": r.get("alg"), "iss": r.get("iss"), "aud": r.get("aud"),
                              "uri": r.get("uri"), "user_agent": r.get("user_agent"),
                              "token_sha256": r.get("token_sha256")});
        let mut alert = Alert::for_event(rules::FORGED_TOKEN.rule(), event, summary, evidence);
        if alert.event_ids.is_empty() {
            if let Some(h) = r.get("token_sha256").and_then(Value::as_str) {
                alert.event_ids.push(format!("token:{h}"));
            }
        }
        out.push(alert);
    }

    fn finish(&mut self, _out: &mut Vec<Alert>, _notes: &mut Vec<String>) {}
}
