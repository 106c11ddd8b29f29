//! `stormwatch.toml`: the service's configuration, validated as a whole at start so an operator
//! sees every problem at once, each naming the setting (`tenants[1].id: …`).
//!
//! ```toml
//! data_dir = "/var/lib/stormwatch"     # SQLite database lives here (created if missing)
//! # store = "postgres://stormwatch@db/stormwatch"   # PostgreSQL instead of SQLite
//! listen = "127.0.0.1:8480"
//! rules = ["/etc/stormwatch/sigma"]    # Sigma rule files or directories (optional)
//!
//! [[tenants]]
//! id = "b7e01822-dd4b-4007-8274-d3a249793471"
//! name = "Contoso"
//! admins = ["soc@contoso.example"]
//!
//! [[api_keys]]
//! name = "operator"
//! role = "operator"
//! key_env = "STORMWATCH_OPERATOR_KEY"  # or key = "sw_<id>_<secret>"
//!
//! [[api_keys]]
//! name = "contoso ingest"
//! role = "tenant_admin"
//! tenant = "b7e01822-dd4b-4007-8274-d3a249793471"
//! key_env = "STORMWATCH_CONTOSO_KEY"
//! ```
//! See docs/serve.md for every setting and its default.

use super::o365::{Connector, O365Config, CONTENT_TYPES};
use super::watch::WatchConfig;
use crate::notify::{self, config::NotifySettings, config::RawNotify};
use crate::ui::auth::User;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use stormwatch_store::{keys, Role};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: invalid configuration:\n  {}", .problems.join("\n  "))]
    Invalid { path: String, problems: Vec<String> },
}

/// A tenant served.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The Entra tenant id, a lowercase GUID.
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Who is told about this tenant's incidents by e-mail (`[notify.email]`).
    #[serde(default)]
    pub admins: Vec<String>,
}

/// A person who may sign in to the web UI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// `operator` or `tenant_admin`.
    pub role: String,
    pub tenant: Option<String>,
    /// An argon2id PHC string (preferred), or a password given inline or in a variable (hashed
    /// at start).
    pub password_hash: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
}

/// `[ui]`: the web UI's session settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Mark the session cookie `Secure` (only sent over HTTPS). Turn off only for plain-HTTP
    /// setups on loopback (tests).
    #[serde(default = "yes")]
    pub secure_cookies: bool,
    #[serde(default = "default_session_hours")]
    pub session_hours: u64,
}

fn yes() -> bool {
    true
}
fn default_session_hours() -> u64 {
    8
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            secure_cookies: true,
            session_hours: default_session_hours(),
        }
    }
}

/// An API key to install at start (its argon2 hash is stored; the key itself is not).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    /// `operator` or `tenant_admin`.
    pub role: String,
    /// The tenant of a `tenant_admin` key.
    pub tenant: Option<String>,
    /// The key itself (`sw_<id>_<secret>`); prefer `key_env`.
    pub key: Option<String>,
    /// An environment variable holding the key.
    pub key_env: Option<String>,
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    postgres_schema: Option<String>,
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    rules: Vec<PathBuf>,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
    #[serde(default = "default_judge_interval")]
    judge_interval_ms: u64,
    #[serde(default = "default_buffer_days")]
    buffer_days: i64,
    #[serde(default = "default_buffer_max")]
    buffer_max_events: usize,
    #[serde(default = "default_window")]
    incident_window_hours: i64,
    #[serde(default = "default_min_level")]
    incident_min_level: String,
    #[serde(default = "default_learn_days")]
    learn_days: i64,
    #[serde(default = "default_signin_window")]
    signin_window_hours: i64,
    #[serde(default)]
    tenants: Vec<TenantConfig>,
    #[serde(default)]
    api_keys: Vec<KeyConfig>,
    #[serde(default)]
    notify: Option<RawNotify>,
    #[serde(default)]
    watch: Vec<WatchConfig>,
    #[serde(default = "default_watch_interval")]
    watch_interval_ms: u64,
    #[serde(default = "default_watch_max")]
    watch_max_file_bytes: u64,
    #[serde(default)]
    o365: Vec<O365Config>,
    #[serde(default)]
    ioc_feeds: Vec<PathBuf>,
    #[serde(default)]
    users: Vec<UserConfig>,
    #[serde(default)]
    ui: UiConfig,
    #[serde(default = "default_rate")]
    rate_limit_per_minute: u32,
    #[serde(default = "default_burst")]
    rate_limit_burst: u32,
}

fn default_rate() -> u32 {
    1200
}
fn default_burst() -> u32 {
    200
}

fn default_watch_interval() -> u64 {
    2000
}
fn default_watch_max() -> u64 {
    256 << 20
}

fn default_listen() -> String {
    "127.0.0.1:8480".into()
}
fn default_max_body() -> usize {
    32 << 20
}
fn default_judge_interval() -> u64 {
    1000
}
fn default_buffer_days() -> i64 {
    30
}
fn default_buffer_max() -> usize {
    2_000_000
}
fn default_window() -> i64 {
    24
}
fn default_min_level() -> String {
    "medium".into()
}
fn default_learn_days() -> i64 {
    7
}
fn default_signin_window() -> i64 {
    24
}

/// A key resolved from the configuration.
#[derive(Debug, Clone)]
pub struct BootstrapKey {
    pub name: String,
    pub role: Role,
    pub tenant: Option<String>,
    /// The whole key, `sw_<id>_<secret>`.
    pub key: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    /// A PostgreSQL connection string; `None` for SQLite in `data_dir`.
    pub store: Option<String>,
    /// The PostgreSQL schema to work in (default: the connection's search path).
    pub postgres_schema: Option<String>,
    pub listen: SocketAddr,
    pub rules: Vec<PathBuf>,
    pub max_body_bytes: usize,
    pub judge_interval_ms: u64,
    pub buffer_days: i64,
    pub buffer_max_events: usize,
    pub incident_window_hours: i64,
    /// 0 informational … 4 critical.
    pub incident_min_level: u8,
    pub learn_days: i64,
    pub signin_window_hours: i64,
    pub tenants: Vec<TenantConfig>,
    pub keys: Vec<BootstrapKey>,
    /// Where incidents are told (`[notify]`; empty when absent).
    pub notify: NotifySettings,
    /// Directories whose files are ingested once each (`[[watch]]`).
    pub watch: Vec<WatchConfig>,
    pub watch_interval_ms: u64,
    pub watch_max_file_bytes: u64,
    /// Web UI users, passwords hashed.
    pub users: Vec<User>,
    pub ui: UiConfig,
    /// IOC feed files (STIX 2.1, CSV, plain), beside the built-in `storm-0558` feed.
    pub ioc_feeds: Vec<PathBuf>,
    /// Management Activity API connectors (`[[o365]]`).
    pub o365: Vec<Connector>,
    /// Requests a minute per API key on average, and the burst allowed above it.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
}

pub(crate) const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// A level name (any case) as the store's number, or a problem named by `at` (and medium).
pub(crate) fn level_number(at: &str, name: &str, p: &mut Vec<String>) -> u8 {
    match LEVELS.iter().position(|l| l.eq_ignore_ascii_case(name)) {
        Some(i) => i as u8,
        None => {
            p.push(format!(
                "{at}: {name:?} is not one of {}",
                LEVELS.join(", ")
            ));
            2
        }
    }
}

/// A secret given inline (`X`) or in an environment variable (`X_env`): exactly one, and the
/// variable set. `at` names the inline setting (`….key`); problems go to `p`.
pub(crate) fn resolve_secret(
    at: &str,
    inline: &Option<String>,
    var: &Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Vec<String>,
) -> Option<String> {
    match (inline, var) {
        (Some(v), None) => Some(v.clone()),
        (None, Some(var)) => {
            let v = env(var);
            if v.is_none() {
                p.push(format!("{at}_env: environment variable {var} is not set"));
            }
            v
        }
        _ => {
            let leaf = at.rsplit('.').next().unwrap_or(at);
            p.push(format!("{at}: give exactly one of {leaf} and {leaf}_env"));
            None
        }
    }
}

/// Whether `s` is a GUID in lowercase canonical form.
pub fn is_lower_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

impl ServeConfig {
    /// Reads and validates a file. Relative paths in it are taken relative to the file.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, &path.display().to_string(), base, &|k| {
            std::env::var(k).ok()
        })
    }

    /// Parses and validates TOML text; `env` resolves `key_env`.
    pub fn from_toml(
        text: &str,
        name: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServeConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.into(),
            message: e.to_string(),
        })?;
        let mut p: Vec<String> = Vec::new();
        let listen = raw.listen.parse::<SocketAddr>().unwrap_or_else(|e| {
            p.push(format!("listen: {:?} is not HOST:PORT ({e})", raw.listen));
            SocketAddr::from(([127, 0, 0, 1], 0))
        });
        let rel = |x: &Path| {
            if x.is_absolute() {
                x.to_path_buf()
            } else {
                base.join(x)
            }
        };
        let data_dir = rel(&raw.data_dir);
        if data_dir.exists() && !data_dir.is_dir() {
            p.push(format!(
                "data_dir: {} is not a directory",
                data_dir.display()
            ));
        }
        if let Some(url) = &raw.store {
            let pg = ["postgres://", "postgresql://", "host="]
                .iter()
                .any(|p| url.starts_with(p));
            if !pg {
                p.push(
                    "store: a PostgreSQL connection string (postgres://… or host=… dbname=…); \
                        leave it out for SQLite in data_dir"
                        .into(),
                );
            }
        }
        if let Some(schema) = &raw.postgres_schema {
            let ok = !schema.is_empty()
                && schema.len() <= 63
                && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok || raw.store.is_none() {
                p.push("postgres_schema: [a-z_][a-z0-9_]*, and only with store".into());
            }
        }
        let rules: Vec<PathBuf> = raw.rules.iter().map(|r| rel(r)).collect();
        for (i, r) in rules.iter().enumerate() {
            if !r.exists() {
                p.push(format!(
                    "rules[{i}]: {}: no such file or directory",
                    r.display()
                ));
            }
        }
        if raw.max_body_bytes < 1024 {
            p.push("max_body_bytes: must be at least 1024".into());
        }
        if raw.judge_interval_ms < 10 {
            p.push("judge_interval_ms: must be at least 10".into());
        }
        if raw.buffer_days < 1 {
            p.push("buffer_days: must be at least 1".into());
        }
        if raw.buffer_max_events < 1 {
            p.push("buffer_max_events: must be at least 1".into());
        }
        if raw.incident_window_hours < 1 {
            p.push("incident_window_hours: must be at least 1".into());
        }
        if raw.learn_days < 0 || raw.signin_window_hours < 0 {
            p.push("learn_days and signin_window_hours: must not be negative".into());
        }
        let min_level = level_number("incident_min_level", &raw.incident_min_level, &mut p);
        let mut seen = HashSet::new();
        for (i, t) in raw.tenants.iter().enumerate() {
            if !is_lower_guid(&t.id) {
                p.push(format!(
                    "tenants[{i}].id: {:?} is not a lowercase GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                    t.id
                ));
            }
            if !seen.insert(t.id.as_str()) {
                p.push(format!("tenants[{i}].id: {} is listed twice", t.id));
            }
            for (j, a) in t.admins.iter().enumerate() {
                // The same parser the mailer uses, so a configured address is one it can send to.
                let ok = a.parse::<lettre::Address>().is_ok() && a.contains('.');
                if !ok {
                    p.push(format!(
                        "tenants[{i}].admins[{j}]: {a:?} is not an e-mail address"
                    ));
                }
            }
        }
        let mut keys_out = Vec::new();
        let mut key_ids = HashSet::new();
        for (i, k) in raw.api_keys.iter().enumerate() {
            let at = format!("api_keys[{i}] ({})", k.name);
            let role = Role::from_name(&k.role);
            if role.is_none() {
                p.push(format!(
                    "{at}.role: {:?} is not operator or tenant_admin",
                    k.role
                ));
            }
            match (role, &k.tenant) {
                (Some(Role::TenantAdmin), None) => {
                    p.push(format!("{at}.tenant: a tenant_admin key needs its tenant"))
                }
                (Some(Role::TenantAdmin), Some(t)) if !seen.contains(t.as_str()) => {
                    p.push(format!("{at}.tenant: {t} is not in [[tenants]]"))
                }
                (Some(Role::Operator), Some(_)) => p.push(format!(
                    "{at}.tenant: an operator key sees every tenant; drop tenant"
                )),
                _ => {}
            }
            let value = resolve_secret(&format!("{at}.key"), &k.key, &k.key_env, env, &mut p);
            if let Some(v) = value {
                match keys::parse(v.trim()) {
                    Some((id, _)) => {
                        if !key_ids.insert(id.to_string()) {
                            p.push(format!("{at}: key id {id} is used by another key"));
                        }
                        if let Some(role) = role {
                            keys_out.push(BootstrapKey {
                                name: k.name.clone(),
                                role,
                                tenant: k.tenant.clone(),
                                key: v.trim().to_string(),
                            });
                        }
                    }
                    None => p.push(format!(
                        "{at}: the key is not of the form sw_<id>_<secret> (id: 1-32 of a-z 0-9 -; \
                         secret: at least {} of A-Z a-z 0-9 -)",
                        keys::MIN_SECRET
                    )),
                }
            }
        }
        let notify = raw
            .notify
            .as_ref()
            .map(|n| notify::config::validate(n, &seen, env, &mut p))
            .unwrap_or_default();
        let watch: Vec<WatchConfig> = raw
            .watch
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let dir = rel(&w.dir);
                if !dir.is_dir() {
                    p.push(format!(
                        "watch[{i}].dir: {} is not a directory",
                        dir.display()
                    ));
                }
                if let Some(t) = w.tenant.as_deref().filter(|t| !seen.contains(t)) {
                    p.push(format!("watch[{i}].tenant: {t} is not in [[tenants]]"));
                }
                WatchConfig {
                    dir,
                    tenant: w.tenant.clone(),
                }
            })
            .collect();
        let mut users = Vec::new();
        for (i, u) in raw.users.iter().enumerate() {
            let at = format!("users[{i}] ({})", u.name);
            if u.name.trim().is_empty() || raw.users[..i].iter().any(|x| x.name == u.name) {
                p.push(format!("{at}.name: empty or used twice"));
            }
            let role = Role::from_name(&u.role);
            match (role, &u.tenant) {
                (None, _) => p.push(format!(
                    "{at}.role: {:?} is not operator or tenant_admin",
                    u.role
                )),
                (Some(Role::TenantAdmin), Some(t)) if seen.contains(t.as_str()) => {}
                (Some(Role::TenantAdmin), _) => p.push(format!(
                    "{at}.tenant: a tenant_admin needs a configured tenant"
                )),
                (Some(Role::Operator), Some(_)) => p.push(format!(
                    "{at}.tenant: an operator sees every tenant; drop tenant"
                )),
                (Some(Role::Operator), None) => {}
            }
            let hash = match (&u.password_hash, &u.password, &u.password_env) {
                (Some(h), None, None) if h.starts_with("$argon2") => Some(h.clone()),
                (Some(_), None, None) => {
                    p.push(format!(
                        "{at}.password_hash: an argon2 PHC string ($argon2id$…)"
                    ));
                    None
                }
                (None, pw, var) => resolve_secret(&format!("{at}.password"), pw, var, env, &mut p)
                    .and_then(|pw| {
                        if pw.len() < 12 {
                            p.push(format!("{at}.password: at least 12 characters"));
                            return None;
                        }
                        keys::hash_secret(&pw).ok()
                    }),
                _ => {
                    p.push(format!(
                        "{at}: give one of password_hash, password, password_env"
                    ));
                    None
                }
            };
            if let (Some(role), Some(hash)) = (role, hash) {
                users.push(User {
                    name: u.name.clone(),
                    role,
                    tenant: u.tenant.clone(),
                    hash,
                });
            }
        }
        if raw.ui.session_hours < 1 {
            p.push("ui.session_hours: at least 1".into());
        }
        let ioc_feeds: Vec<PathBuf> = raw.ioc_feeds.iter().map(|f| rel(f)).collect();
        for (i, f) in ioc_feeds.iter().enumerate() {
            if !f.is_file() {
                p.push(format!("ioc_feeds[{i}]: {}: no such file", f.display()));
            }
        }
        let mut o365 = Vec::new();
        for (i, c) in raw.o365.iter().enumerate() {
            let at = format!("o365[{i}]");
            if !seen.contains(c.tenant.as_str()) {
                p.push(format!("{at}.tenant: {} is not in [[tenants]]", c.tenant));
            }
            if raw.o365[..i].iter().any(|x| x.tenant == c.tenant) {
                p.push(format!("{at}.tenant: {} has another connector", c.tenant));
            }
            for ct in &c.content_types {
                if !CONTENT_TYPES.contains(&ct.as_str()) {
                    p.push(format!(
                        "{at}.content_types: {ct:?} is not one of {}",
                        CONTENT_TYPES.join(", ")
                    ));
                }
            }
            if !(1..=168).contains(&c.lookback_hours) {
                p.push(format!(
                    "{at}.lookback_hours: 1 to 168 (the API keeps 7 days)"
                ));
            }
            if c.poll_interval_s < 1 {
                p.push(format!("{at}.poll_interval_s: at least 1"));
            }
            for (name, root) in [("api_root", &c.api_root), ("login_root", &c.login_root)] {
                if !(root.starts_with("https://") || root.starts_with("http://")) {
                    p.push(format!("{at}.{name}: {root:?} is not an http(s) URL"));
                }
            }
            let secret = resolve_secret(
                &format!("{at}.client_secret"),
                &c.client_secret,
                &c.client_secret_env,
                env,
                &mut p,
            );
            if let Some(secret) = secret {
                o365.push(Connector {
                    config: c.clone(),
                    secret,
                });
            }
        }
        if raw.rate_limit_per_minute < 1 || raw.rate_limit_burst < 1 {
            p.push("rate_limit_per_minute and rate_limit_burst: at least 1".into());
        }
        if raw.watch_interval_ms < 10 {
            p.push("watch_interval_ms: must be at least 10".into());
        }
        if raw.api_keys.is_empty() {
            p.push("api_keys: no key configured; nothing could use the API".into());
        }
        if !p.is_empty() {
            return Err(ConfigError::Invalid {
                path: name.into(),
                problems: p,
            });
        }
        Ok(ServeConfig {
            data_dir,
            store: raw.store,
            postgres_schema: raw.postgres_schema,
            listen,
            rules,
            max_body_bytes: raw.max_body_bytes,
            judge_interval_ms: raw.judge_interval_ms,
            buffer_days: raw.buffer_days,
            buffer_max_events: raw.buffer_max_events,
            incident_window_hours: raw.incident_window_hours,
            incident_min_level: min_level,
            learn_days: raw.learn_days,
            signin_window_hours: raw.signin_window_hours,
            tenants: raw.tenants,
            keys: keys_out,
            notify,
            watch,
            watch_interval_ms: raw.watch_interval_ms,
            watch_max_file_bytes: raw.watch_max_file_bytes,
            o365,
            users,
            ui: raw.ui,
            ioc_feeds,
            rate_limit_per_minute: raw.rate_limit_per_minute,
            rate_limit_burst: raw.rate_limit_burst,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "b7e01822-dd4b-4007-8274-d3a249793471";

    fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
        ServeConfig::from_toml(text, "test.toml", Path::new("/tmp"), &|k| {
            (k == "OPS").then(|| "sw_ops_0123456789abcdef0123".to_string())
        })
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&format!(
            "data_dir = \"d\"\n[[tenants]]\nid = \"{T}\"\nadmins = [\"soc@contoso.example\"]\n\
             [[api_keys]]\nname = \"ops\"\nrole = \"operator\"\nkey_env = \"OPS\"\n"
        ))
        .unwrap();
        assert_eq!(c.data_dir, Path::new("/tmp/d"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8480");
        assert_eq!((c.incident_min_level, c.max_body_bytes), (2, 32 << 20));
        assert_eq!(c.keys[0].key, "sw_ops_0123456789abcdef0123");
    }

    #[test]
    fn every_problem_is_reported_with_its_setting() {
        let e = parse(
            "data_dir = \"d\"\nlisten = \"nowhere\"\nincident_min_level = \"severe\"\n\
             store = \"mysql://db\"\npostgres_schema = \"Bad-Name\"\n\
             rules = [\"/nonexistent/rules\"]\n\
             [[tenants]]\nid = \"B7E01822-DD4B-4007-8274-D3A249793471\"\nadmins = [\"nobody\"]\n\
             [[api_keys]]\nname = \"x\"\nrole = \"tenant_admin\"\ntenant = \"other\"\nkey = \"weak\"\n\
             [[api_keys]]\nname = \"y\"\nrole = \"root\"\nkey_env = \"UNSET\"\n",
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "listen:",
            "store: a PostgreSQL connection string",
            "postgres_schema:",
            "incident_min_level:",
            "rules[0]:",
            "tenants[0].id:",
            "tenants[0].admins[0]:",
            "api_keys[0] (x).tenant: other is not in [[tenants]]",
            "api_keys[0] (x): the key is not of the form",
            "api_keys[1] (y).role:",
            "api_keys[1] (y).key_env: environment variable UNSET is not set",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
        }
    }

    #[test]
    fn unknown_settings_are_refused() {
        let e = parse("data_dir = \"d\"\nlisten_addr = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen_addr"), "{e}");
    }
}
