//! The `[notify]` section of `stormwatch.toml`: where incidents are told, validated with the rest
//! of the configuration (every problem named by its setting).
//!
//! ```toml
//! [notify]
//! public_url = "https://stormwatch.example"   # links in messages (optional)
//! min_level = "medium"                        # default: incident_min_level
//! interval_ms = 1000                          # how often the outbox is worked
//!
//! [notify.email]                              # to each tenant's [[tenants]].admins
//! smtp = "smtp.example.org:587"
//! security = "starttls"                       # starttls (default) | tls | none
//! from = "stormwatch <stormwatch@example.org>"
//! username = "stormwatch"
//! password_env = "STORMWATCH_SMTP_PASSWORD"   # or password = "…"
//!
//! [[notify.webhooks]]
//! name = "soc"
//! url = "https://hooks.example.org/stormwatch"
//! format = "json"                             # json (signed) | slack | teams
//! secret_env = "STORMWATCH_WEBHOOK_SECRET"    # required for json; or secret = "…"
//! tenants = []                                # only these tenants; empty = all
//!
//! [notify.syslog]
//! address = "siem.example.org:514"
//! transport = "udp"                           # udp | tcp
//! ```

use super::email::{EmailSettings, Security};
use super::syslog::Transport;
use super::webhook::{Format, HookSettings};
use crate::serve::config::{level_number, resolve_secret};
use serde::Deserialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    #[serde(default = "default_interval")]
    interval_ms: u64,
    #[serde(default)]
    min_level: Option<String>,
    #[serde(default)]
    public_url: Option<String>,
    #[serde(default)]
    email: Option<RawEmail>,
    #[serde(default)]
    webhooks: Vec<RawHook>,
    #[serde(default)]
    syslog: Option<RawSyslog>,
}

fn default_interval() -> u64 {
    1000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    smtp: String,
    #[serde(default)]
    security: Option<String>,
    from: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    name: String,
    url: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secret_env: Option<String>,
    #[serde(default)]
    tenants: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSyslog {
    address: String,
    #[serde(default)]
    transport: Option<String>,
}

/// The validated `[notify]` section.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub interval_ms: u64,
    /// Incidents below this level are not told (`None`: the incident level).
    pub min_level: Option<u8>,
    pub public_url: Option<String>,
    pub email: Option<EmailSettings>,
    pub webhooks: Vec<HookSettings>,
    pub syslog: Option<(String, Transport)>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            interval_ms: default_interval(),
            min_level: None,
            public_url: None,
            email: None,
            webhooks: Vec::new(),
            syslog: None,
        }
    }
}

impl NotifySettings {
    /// True when no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.webhooks.is_empty() && self.syslog.is_none()
    }
}

/// Validates `[notify]`, adding each problem to `p`.
pub fn validate(
    raw: &RawNotify,
    tenants: &HashSet<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Vec<String>,
) -> NotifySettings {
    if raw.interval_ms < 10 {
        p.push("notify.interval_ms: must be at least 10".into());
    }
    let min_level = raw
        .min_level
        .as_deref()
        .map(|l| level_number("notify.min_level", l, p));
    if let Some(u) = &raw.public_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            p.push(format!("notify.public_url: {u:?} is not an http(s) URL"));
        }
    }
    let email = raw.email.as_ref().and_then(|e| email(e, env, p));
    let mut names = HashSet::new();
    let webhooks = raw
        .webhooks
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let at = format!("notify.webhooks[{i}] ({})", h.name);
            if !names.insert(h.name.as_str()) {
                p.push(format!("{at}.name: used by another webhook"));
            }
            hook(&at, h, tenants, env, p)
        })
        .collect();
    let syslog = raw.syslog.as_ref().and_then(|s| {
        let transport = match s.transport.as_deref().unwrap_or("udp") {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            other => {
                p.push(format!(
                    "notify.syslog.transport: {other:?} is not udp or tcp"
                ));
                return None;
            }
        };
        if host_port(&s.address).is_none() {
            p.push(format!(
                "notify.syslog.address: {:?} is not HOST:PORT",
                s.address
            ));
            return None;
        }
        Some((s.address.clone(), transport))
    });
    NotifySettings {
        interval_ms: raw.interval_ms,
        min_level,
        public_url: raw.public_url.clone(),
        email,
        webhooks,
        syslog,
    }
}

/// `HOST:PORT` (an IPv6 host in brackets) as host and port.
fn host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_matches(['[', ']']);
    (!host.is_empty()).then_some((host, port.parse().ok()?))
}

fn email(
    e: &RawEmail,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Vec<String>,
) -> Option<EmailSettings> {
    let security = match e.security.as_deref().unwrap_or("starttls") {
        "starttls" => Security::StartTls,
        "tls" => Security::Tls,
        "none" => Security::None,
        other => {
            p.push(format!(
                "notify.email.security: {other:?} is not starttls, tls or none"
            ));
            return None;
        }
    };
    let Some((host, port)) = host_port(&e.smtp) else {
        p.push(format!("notify.email.smtp: {:?} is not HOST:PORT", e.smtp));
        return None;
    };
    let from = match e.from.parse() {
        Ok(f) => f,
        Err(err) => {
            p.push(format!("notify.email.from: {:?}: {err}", e.from));
            return None;
        }
    };
    let password = match (&e.password, &e.password_env) {
        (None, None) => None,
        (pw, var) => resolve_secret("notify.email.password", pw, var, env, p),
    };
    let credentials = match (&e.username, password) {
        (Some(u), Some(pw)) => Some((u.clone(), pw)),
        (None, None) => None,
        _ => {
            p.push("notify.email: give username and a password together, or neither".into());
            None
        }
    };
    Some(EmailSettings {
        host: host.to_string(),
        port,
        security,
        from,
        credentials,
    })
}

fn hook(
    at: &str,
    h: &RawHook,
    tenants: &HashSet<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Vec<String>,
) -> Option<HookSettings> {
    let format = match h.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "slack" => Format::Slack,
        "teams" => Format::Teams,
        other => {
            p.push(format!(
                "{at}.format: {other:?} is not json, slack or teams"
            ));
            return None;
        }
    };
    if !(h.url.starts_with("https://") || h.url.starts_with("http://")) {
        p.push(format!("{at}.url: {:?} is not an http(s) URL", h.url));
    }
    let secret = match (&h.secret, &h.secret_env) {
        (None, None) if format == Format::Json => {
            p.push(format!(
                "{at}: a json webhook is signed; give secret or secret_env"
            ));
            None
        }
        (None, None) => None,
        (s, var) => resolve_secret(&format!("{at}.secret"), s, var, env, p),
    };
    if secret.as_ref().is_some_and(|s| s.len() < 16) {
        p.push(format!("{at}.secret: at least 16 characters"));
    }
    for t in &h.tenants {
        if !tenants.contains(t.as_str()) {
            p.push(format!("{at}.tenants: {t} is not in [[tenants]]"));
        }
    }
    Some(HookSettings {
        name: h.name.clone(),
        url: h.url.clone(),
        format,
        secret,
        tenants: h.tenants.iter().cloned().collect(),
    })
}
