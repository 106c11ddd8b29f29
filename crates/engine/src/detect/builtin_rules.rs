//! The built-in rules' identities: stable ids, titles, levels and ATT&CK tags. Documented for
//! analysts in `docs/detections.md`; ids never change meaning.

use crate::alert::{Level, RuleKind, RuleRef};

/// A built-in rule's fixed description.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub id: &'static str,
    pub title: &'static str,
    pub level: Level,
    pub tags: &'static [&'static str],
}

impl Builtin {
    pub fn rule(&self) -> RuleRef {
        self.at(self.level)
    }

    /// The rule at another level (a finding whose confidence depends on what logs are present).
    pub fn at(&self, level: Level) -> RuleRef {
        RuleRef {
            id: self.id.to_string(),
            title: self.title.to_string(),
            level,
            kind: RuleKind::Builtin,
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
            status: Some("stable".to_string()),
        }
    }
}

const MAIL_TAGS: &[&str] = &[
    "attack.collection",
    "attack.t1114.002",
    "attack.defense-evasion",
    "attack.t1550.001",
];

pub const NEW_CLIENT_NO_SIGNIN: Builtin = Builtin {
    id: "sw-mail-new-client-without-signin",
    title: "Mailbox read by a client new to the tenant, with no sign-in behind it",
    level: Level::High,
    tags: &[
        "attack.collection",
        "attack.t1114.002",
        "attack.defense-evasion",
        "attack.t1550.001",
        "attack.credential-access",
        "attack.t1606",
    ],
};

pub const NO_SIGNIN: Builtin = Builtin {
    id: "sw-mail-without-signin",
    title: "Mailbox read with no sign-in behind it",
    level: Level::High,
    tags: &[
        "attack.collection",
        "attack.t1114.002",
        "attack.credential-access",
        "attack.t1606",
    ],
};

pub const NEW_CLIENT: Builtin = Builtin {
    id: "sw-mail-new-client",
    title: "Mailbox read by a client new to the tenant",
    level: Level::Low,
    tags: MAIL_TAGS,
};

pub const BULK_READ: Builtin = Builtin {
    id: "sw-mail-bulk-read",
    title: "Mailbox read far above its own baseline",
    level: Level::Medium,
    tags: &[
        "attack.collection",
        "attack.t1114.002",
        "attack.exfiltration",
    ],
};

pub const MANY_MAILBOXES: Builtin = Builtin {
    id: "sw-mail-one-source-many-mailboxes",
    title: "One address or token reading many mailboxes without sign-ins",
    level: Level::High,
    tags: &["attack.collection", "attack.t1114.002"],
};

pub const THROTTLED: Builtin = Builtin {
    id: "sw-audit-mail-throttled",
    title: "Mail-access auditing throttled (visibility gap)",
    level: Level::Informational,
    tags: &["stormwatch.visibility"],
};

pub const SOURCE_GAP: Builtin = Builtin {
    id: "sw-audit-source-gap",
    title: "Expected log source missing for part of the time range (visibility gap)",
    level: Level::Informational,
    tags: &["stormwatch.visibility"],
};

pub const IOC_MATCH: Builtin = Builtin {
    id: "sw-ioc-match",
    title: "Indicator of compromise matched",
    level: Level::High,
    tags: &["attack.command-and-control", "attack.t1090"],
};

pub const FORGED_TOKEN: Builtin = Builtin {
    id: "sw-token-forged-attempt",
    title: "Forged or misused token refused by the gateway",
    level: Level::High,
    tags: &[
        "attack.credential-access",
        "attack.t1606",
        "attack.defense-evasion",
        "attack.t1550.001",
    ],
};
