//! Guard configuration: a TOML file, overridable by command-line flags (the CLI merges them).
//!
//! Everything that decides whether a token is accepted is explicit here; there is no
//! "accept any audience" and no implicit consumer-tenant access. See
//! `docs/token-verification.md` for an annotated example.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use stormwatch_token::source::KeySource;
use stormwatch_token::{Options, RevokedList, Tenants};

use super::GuardError;

/// Default listen address: loopback, because the guard must only be reachable by the proxy
/// (it trusts `X-Forwarded-For` for the audit record).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9091";

/// The `[guard]`-less flat TOML file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// `host:port` to listen on.
    pub listen: Option<String>,
    /// JSONL audit log path; `-` (the default) is stdout.
    pub audit_log: Option<String>,
    /// JWKS files or `https://` URLs.
    #[serde(default)]
    pub jwks: Vec<String>,
    /// OpenID discovery documents (files or URLs).
    #[serde(default)]
    pub discovery: Vec<String>,
    /// PEM files (public keys or certificates).
    #[serde(default)]
    pub pem: Vec<String>,
    /// Accepted audiences (at least one).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accepted tenant ids.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Accept every tenant (the consumer tenant still needs `allow_consumer`).
    #[serde(default)]
    pub any_tenant: bool,
    /// Accept consumer (MSA) accounts.
    #[serde(default)]
    pub allow_consumer: bool,
    /// Revoked-key list file (added to the built-in Storm-0558 entry).
    pub revoked: Option<String>,
    /// Clock skew tolerance, seconds (default 300).
    pub skew_secs: Option<i64>,
    /// Verified-token cache size (default 10000; 0 disables).
    pub cache_capacity: Option<usize>,
    /// Periodic key-set refresh, seconds (default 3600; 0 disables).
    pub refresh_interval_secs: Option<u64>,
    /// Minimum time between refreshes triggered by unknown kids, seconds (default 300).
    pub min_refresh_interval_secs: Option<u64>,
}

impl GuardConfig {
    /// Read a TOML file.
    pub fn from_file(path: &Path) -> Result<GuardConfig, GuardError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| GuardError::Config(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| GuardError::Config(format!("{}: {e}", path.display())))
    }

    /// The listen address.
    pub fn listen(&self) -> &str {
        self.listen.as_deref().unwrap_or(DEFAULT_LISTEN)
    }

    /// Key sources in configuration order.
    pub fn sources(&self) -> Vec<KeySource> {
        let mut s: Vec<KeySource> = self.jwks.iter().cloned().map(KeySource::Jwks).collect();
        s.extend(self.discovery.iter().cloned().map(KeySource::Discovery));
        s.extend(self.pem.iter().cloned().map(KeySource::Pem));
        s
    }

    /// Verification options (validated).
    pub fn options(&self) -> Result<Options, GuardError> {
        let mut revoked = RevokedList::default();
        if let Some(path) = &self.revoked {
            let text = std::fs::read_to_string(path)
                .map_err(|e| GuardError::Config(format!("{path}: {e}")))?;
            revoked
                .add_text(&text, path)
                .map_err(|e| GuardError::Config(e.to_string()))?;
        }
        if self.any_tenant && !self.tenants.is_empty() {
            return Err(GuardError::Config(String::from(
                "give either tenants or any_tenant, not both",
            )));
        }
        let opts = Options {
            audiences: self.audiences.clone(),
            tenants: if self.any_tenant {
                Tenants::Any
            } else {
                Tenants::List(self.tenants.clone())
            },
            allow_consumer: self.allow_consumer,
            skew_secs: self.skew_secs.unwrap_or(300),
            revoked,
        };
        opts.validate()
            .map_err(|e| GuardError::Config(e.to_string()))?;
        Ok(opts)
    }

    pub(crate) fn cache_capacity(&self) -> usize {
        self.cache_capacity.unwrap_or(10_000)
    }

    pub(crate) fn refresh_interval(&self) -> Option<Duration> {
        match self.refresh_interval_secs.unwrap_or(3600) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        }
    }

    pub(crate) fn min_refresh_interval(&self) -> Duration {
        Duration::from_secs(self.min_refresh_interval_secs.unwrap_or(300))
    }

    /// Where audit records go: `None` for stdout.
    pub fn audit_path(&self) -> Option<PathBuf> {
        match self.audit_log.as_deref() {
            None | Some("-") => None,
            Some(p) => Some(PathBuf::from(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_unknown_fields() {
        let c: GuardConfig = toml::from_str(
            "listen = \"127.0.0.1:1\"\njwks = [\"keys.json\"]\naudiences = [\"api://x\"]\ntenants = [\"t\"]\n",
        )
        .unwrap();
        assert_eq!(c.listen(), "127.0.0.1:1");
        assert!(c.options().is_ok());
        assert!(toml::from_str::<GuardConfig>("audience = \"typo\"").is_err());
        let both = GuardConfig {
            any_tenant: true,
            ..c
        };
        assert!(both.options().is_err());
    }
}
