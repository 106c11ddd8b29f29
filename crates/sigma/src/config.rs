//! Engine configuration: placeholder values for the `|expand` modifier.
//!
//! Built-in defaults cover every placeholder SigmaHQ's `rules-placeholder` folder uses, so the
//! whole corpus loads unconfigured. Each built-in default is an **empty list** (a selection on
//! it matches no event, so an unconfigured environment-specific rule stays silent rather than
//! firing on everything), except `%userdomain%`, whose rule looks for the literal variable
//! reference on command lines. A YAML file overrides or adds values:
//!
//! ```yaml
//! placeholders:
//!   Workstations: ['WKS-*', 'LAPTOP-*']   # Sigma strings: wildcards allowed
//!   dc_ip_addresses: 10.0.0.10             # a scalar is a one-element list
//! ```
//!
//! Placeholder names are matched case-insensitively. A rule using a placeholder that is
//! neither built in nor configured is rejected.

use crate::error::ConfigError;
use crate::yaml::{self, Kind};
use std::collections::BTreeMap;
use std::path::Path;

/// Placeholder names known to SigmaHQ rules, all resolving to nothing by default.
const BUILTIN_EMPTY: &[&str] = &[
    "Administrators",
    "Admins_Workstations",
    "ApprovedUserUpn",
    "Approved_Inviters",
    "DC-MACHINE-NAME",
    "DomainControllers",
    "HomeTenantID",
    "Important_AppIds",
    "Known_Location",
    "Legitimate_Countries",
    "Legitimate_IP_Ranges",
    "ServerSystems",
    "UnApprovedDevice",
    "UnApprovedIp",
    "UnLegitCountries",
    "Workstations",
    "dc_ip_addresses",
    "dc_machine_accounts",
    "domain_controller_hostnames",
    "internal_domains",
    "known_cdcs",
    "legit_ips",
    "legtimate_identifiers",
];

/// Engine configuration (placeholders for `|expand`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    placeholders: BTreeMap<String, Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config::builtin()
    }
}

impl Config {
    /// The built-in defaults (see the module documentation).
    pub fn builtin() -> Config {
        let mut c = Config::empty();
        for name in BUILTIN_EMPTY {
            c.set_placeholder(name, Vec::new());
        }
        // The rule looks for the literal variable reference; `\%` is not an escape in Sigma.
        c.set_placeholder("userdomain", vec!["%userdomain%".to_string()]);
        c
    }

    /// No placeholders at all: every `|expand` rule is rejected until configured.
    pub fn empty() -> Config {
        Config {
            placeholders: BTreeMap::new(),
        }
    }

    /// Sets (replaces) a placeholder's values.
    pub fn set_placeholder(&mut self, name: &str, values: Vec<String>) {
        self.placeholders.insert(name.to_lowercase(), values);
    }

    /// A placeholder's values, if known.
    pub fn placeholder(&self, name: &str) -> Option<&[String]> {
        self.placeholders
            .get(&name.to_lowercase())
            .map(Vec::as_slice)
    }

    /// Applies the overrides of a YAML config text (see the module documentation) on top of
    /// `self`.
    pub fn merge_yaml_str(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |line: usize, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let docs = yaml::parse_documents(text).map_err(|e| invalid(e.line, e.message))?;
        for doc in &docs {
            let Kind::Map(entries) = &doc.kind else {
                return Err(invalid(doc.line, "expected a mapping".into()));
            };
            for (key, node) in entries {
                match key.as_str() {
                    "placeholders" => {
                        let Kind::Map(ph) = &node.kind else {
                            return Err(invalid(
                                node.line,
                                "placeholders: expected a mapping".into(),
                            ));
                        };
                        for (name, v) in ph {
                            let values = match &v.kind {
                                Kind::Null => Vec::new(),
                                Kind::Seq(items) => {
                                    let mut out = Vec::new();
                                    for i in items {
                                        out.push(i.as_scalar_string().ok_or_else(|| {
                                            invalid(
                                                i.line,
                                                format!(
                                                    "placeholder {name}: values must be scalars"
                                                ),
                                            )
                                        })?);
                                    }
                                    out
                                }
                                _ => vec![v.as_scalar_string().ok_or_else(|| {
                                    invalid(
                                        v.line,
                                        format!("placeholder {name}: expected a scalar or a list"),
                                    )
                                })?],
                            };
                            self.set_placeholder(name, values);
                        }
                    }
                    other => {
                        return Err(invalid(node.line, format!("unknown config key '{other}'")));
                    }
                }
            }
        }
        Ok(())
    }

    /// The built-in defaults overridden by a YAML config file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut c = Config::builtin();
        c.merge_yaml_str(&text, path)?;
        Ok(c)
    }
}
