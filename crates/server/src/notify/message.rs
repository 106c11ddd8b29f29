//! What a notification says, rendered once from the outbox payload ([`Brief`]) and then shaped
//! for each channel: an e-mail subject and plain-text body, the generic JSON webhook body, Slack
//! and Microsoft Teams messages, and a CEF line for syslog. Every channel says the same facts.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};
use stormwatch_store::Notification;

/// The facts of one notification, channel-neutral.
#[derive(Debug, Clone)]
pub struct Brief {
    pub notification_id: i64,
    /// `opened` or `escalated:N`.
    pub state: String,
    pub tenant_id: String,
    /// The configured tenant name (the id where none is configured).
    pub tenant_name: String,
    pub incident_id: i64,
    pub title: String,
    pub rule_id: String,
    pub level: u8,
    pub actor: String,
    /// First and last detection time, RFC 3339 UTC.
    pub first: String,
    pub last: String,
    pub detections: i64,
    /// The triggering detection: its one-sentence summary and affected user, address, app.
    pub summary: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub app_id: Option<String>,
    /// The detection record itself (DESIGN.md schema).
    pub detection: Value,
    /// Where to look at the incident, when `notify.public_url` is set.
    pub link: Option<String>,
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

impl Brief {
    /// Reads the outbox payload (`{"incident": …, "detection": …}`).
    pub fn new(n: &Notification, tenant_name: Option<&str>, public_url: Option<&str>) -> Brief {
        let inc = &n.payload["incident"];
        let det = &n.payload["detection"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let opt = |v: &Value| v.as_str().filter(|x| !x.is_empty()).map(String::from);
        let level = inc["level"].as_u64().unwrap_or(0).min(4) as u8;
        Brief {
            notification_id: n.id,
            state: n.state.clone(),
            tenant_id: n.tenant.clone(),
            tenant_name: tenant_name
                .filter(|x| !x.is_empty())
                .unwrap_or(&n.tenant)
                .to_string(),
            incident_id: n.incident_id,
            title: s(&inc["title"]),
            rule_id: s(&inc["rule_id"]),
            level,
            actor: s(&inc["actor"]),
            first: rfc3339(inc["first_ms"].as_i64().unwrap_or(0)),
            last: rfc3339(inc["last_ms"].as_i64().unwrap_or(0)),
            detections: inc["detections"].as_i64().unwrap_or(0),
            summary: s(&det["summary"]),
            user: opt(&det["user"]),
            ip: opt(&det["ip"]),
            app_id: opt(&det["app_id"]),
            detection: det.clone(),
            link: public_url.map(|u| {
                format!(
                    "{}/api/v1/incidents/{}",
                    u.trim_end_matches('/'),
                    n.incident_id
                )
            }),
        }
    }

    pub fn level_name(&self) -> &'static str {
        crate::serve::api::level_name(self.level)
    }

    pub fn escalated(&self) -> bool {
        self.state.starts_with("escalated")
    }

    /// The stable id of this notification on one channel (receivers drop repeats by it).
    pub fn delivery_id(&self, channel: &str) -> String {
        let safe: String = channel
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("sw-{}-{safe}", self.notification_id)
    }

    /// One line: what happened, how bad, where.
    pub fn subject(&self) -> String {
        let level = self.level_name().to_uppercase();
        if self.escalated() {
            format!(
                "[stormwatch] Incident #{} in {} escalated to {level}: {}",
                self.incident_id, self.tenant_name, self.title
            )
        } else {
            format!(
                "[stormwatch] {level} incident #{} in {}: {}",
                self.incident_id, self.tenant_name, self.title
            )
        }
    }

    /// The plain-text body of the e-mail.
    pub fn text(&self) -> String {
        let verb = if self.escalated() {
            "escalated"
        } else {
            "opened"
        };
        let mut t = format!(
            "stormwatch {verb} incident #{} for tenant {} ({}).\n\n",
            self.incident_id, self.tenant_name, self.tenant_id
        );
        let rows = [
            ("What", format!("{} (rule {})", self.title, self.rule_id)),
            ("Level", self.level_name().to_string()),
            ("Actor", self.actor.clone()),
            ("When (UTC)", format!("{} to {}", self.first, self.last)),
            ("Detections", self.detections.to_string()),
            ("Latest", self.summary.clone()),
            (
                "Mailbox/user",
                self.user.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                "Client address",
                self.ip.clone().unwrap_or_else(|| "-".into()),
            ),
            ("App id", self.app_id.clone().unwrap_or_else(|| "-".into())),
        ];
        for (k, v) in rows {
            t += &format!("{k:<15} {v}\n");
        }
        if let Some(l) = &self.link {
            t += &format!("\nOpen the incident: {l}\n");
        }
        t += "\nThe detection record that triggered this message:\n";
        t += &serde_json::to_string_pretty(&self.detection).unwrap_or_default();
        t += "\n";
        t
    }

    /// The generic webhook body.
    pub fn json(&self, channel: &str) -> Value {
        json!({
            "type": "notification",
            "delivery": self.delivery_id(channel),
            "notification": self.notification_id,
            "state": self.state,
            "tenant": {"id": self.tenant_id, "name": self.tenant_name},
            "incident": {
                "id": self.incident_id,
                "title": self.title,
                "rule": self.rule_id,
                "level": self.level_name(),
                "actor": self.actor,
                "first": self.first,
                "last": self.last,
                "detections": self.detections,
                "link": self.link,
            },
            "detection": self.detection,
        })
    }

    /// A Slack incoming-webhook message. Ingested text is escaped (`&`, `<`, `>`), so a
    /// crafted record cannot add links or mentions.
    pub fn slack(&self) -> Value {
        let mut text = format!(
            "*{}*\n{}",
            slack_escape(&self.subject()),
            slack_escape(&self.summary)
        );
        if let Some(l) = &self.link {
            text += &format!("\n<{l}|Open the incident>");
        }
        json!({
            "text": slack_escape(&self.subject()),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        })
    }

    /// A Microsoft Teams message (an Adaptive Card, as Teams workflows webhooks take it).
    pub fn teams(&self) -> Value {
        let facts: Vec<Value> = [
            ("Tenant", self.tenant_name.clone()),
            ("Level", self.level_name().to_string()),
            ("Actor", self.actor.clone()),
            ("When (UTC)", format!("{} to {}", self.first, self.last)),
            ("Detections", self.detections.to_string()),
        ]
        .into_iter()
        .map(|(t, v)| json!({"title": t, "value": v}))
        .collect();
        let mut body = vec![
            json!({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": self.subject()}),
            json!({"type": "TextBlock", "wrap": true, "text": self.summary}),
            json!({"type": "FactSet", "facts": facts}),
        ];
        if let Some(l) = &self.link {
            body.push(json!({"type": "TextBlock", "text": format!("[Open the incident]({l})")}));
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }],
        })
    }

    /// An ArcSight CEF line (header fields `|`-escaped, extension values `=`-escaped).
    pub fn cef(&self) -> String {
        let severity = [1, 3, 5, 8, 10][usize::from(self.level)];
        let mut ext = vec![
            ("externalId", self.incident_id.to_string()),
            ("cs1Label", "tenant".into()),
            ("cs1", self.tenant_id.clone()),
            ("cs2Label", "state".into()),
            ("cs2", self.state.clone()),
            ("cs3Label", "actor".into()),
            ("cs3", self.actor.clone()),
            ("cnt", self.detections.to_string()),
            ("msg", self.summary.clone()),
        ];
        if let Some(u) = &self.user {
            ext.push(("suser", u.clone()));
        }
        if let Some(ip) = &self.ip {
            ext.push(("src", ip.clone()));
        }
        if let Some(a) = &self.app_id {
            ext.push(("cs4Label", "appId".into()));
            ext.push(("cs4", a.clone()));
        }
        let ext: Vec<String> = ext
            .into_iter()
            .map(|(k, v)| format!("{k}={}", cef_value(&v)))
            .collect();
        format!(
            "CEF:0|stormwatch|stormwatch|{}|{}|{}|{severity}|{}",
            env!("CARGO_PKG_VERSION"),
            cef_header(&self.rule_id),
            cef_header(&self.title),
            ext.join(" ")
        )
    }
}

fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief() -> Brief {
        let n = Notification {
            id: 7,
            tenant: "t-1".into(),
            incident_id: 12,
            state: "escalated:3".into(),
            payload: json!({
                "incident": {"title": "Mail read | no sign-in", "rule_id": "sw-mail", "level": 3,
                             "actor": "203.0.113.9", "first_ms": 0, "last_ms": 60_000, "detections": 2},
                "detection": {"summary": "a=b\nnext", "user": "ann@contoso.example", "ip": "203.0.113.9", "app_id": ""},
            }),
            created_ms: 0,
            done_ms: None,
            deliveries: vec![],
        };
        Brief::new(&n, Some("Contoso"), Some("https://sw.example/"))
    }

    #[test]
    fn every_format_says_the_same_facts() {
        let b = brief();
        assert_eq!(
            b.subject(),
            "[stormwatch] Incident #12 in Contoso escalated to HIGH: Mail read | no sign-in"
        );
        let text = b.text();
        assert!(text.contains("1970-01-01T00:01:00Z"), "{text}");
        assert!(text.contains("https://sw.example/api/v1/incidents/12"));
        assert_eq!(b.app_id, None, "an empty app id is no app id");
        let j = b.json("webhook:soc");
        assert_eq!(j["delivery"], "sw-7-webhook-soc");
        assert_eq!(j["incident"]["level"], "high");
        assert!(b.slack()["text"].as_str().unwrap().contains("HIGH"));
        let mut evil = b.clone();
        evil.summary = "<https://evil.example|reset your password> <!channel>".into();
        let slack = evil.slack().to_string();
        assert!(
            !slack.contains("<https://evil") && !slack.contains("<!channel>"),
            "{slack}"
        );
        assert_eq!(
            b.teams()["attachments"][0]["content"]["type"],
            "AdaptiveCard"
        );
    }

    #[test]
    fn cef_escapes_header_pipes_and_extension_equals_and_newlines() {
        let cef = brief().cef();
        assert!(cef.starts_with("CEF:0|stormwatch|stormwatch|"), "{cef}");
        assert!(
            cef.contains("|sw-mail|Mail read \\| no sign-in|8|"),
            "{cef}"
        );
        assert!(cef.contains("msg=a\\=b\\nnext"), "{cef}");
        assert!(cef.contains("suser=ann@contoso.example src=203.0.113.9"));
        assert!(!cef.contains('\n'));
    }
}
