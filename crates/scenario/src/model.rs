//! The simulated world: tenants, their users, the mail clients they use, where they work from.
//!
//! Addresses come from the documentation ranges (RFC 5737 / RFC 3849) for benign users, so no
//! generated record points at a real network; the actor's addresses are the ones Microsoft
//! published for Storm-0558 (see [`crate::ACTOR_IPS`]), because matching them is the point.

use crate::rng::Rng;

/// A mail client as it shows in audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub name: &'static str,
    /// `AppId` in UAL, `appId` in sign-ins.
    pub app_id: &'static str,
    /// `ClientInfoString` in MailItemsAccessed.
    pub client_info: &'static str,
    pub user_agent: &'static str,
    /// `clientAppUsed` in sign-ins.
    pub client_app_used: &'static str,
    /// Reads mail with `Sync` (mobile, desktop cache) rather than `Bind` only.
    pub syncs: bool,
}

pub const OUTLOOK_DESKTOP: Client = Client {
    name: "Microsoft Office",
    app_id: "d3590ed6-52b3-4102-aeff-aad2292ab01c",
    client_info: "Client=MSExchangeRPC",
    user_agent: "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.16529; Pro)",
    client_app_used: "Mobile Apps and Desktop clients",
    syncs: true,
};

pub const OUTLOOK_MOBILE: Client = Client {
    name: "Outlook Mobile",
    app_id: "27922004-5251-4030-b22d-91ecd9a37ea4",
    client_info: "Client=REST;Client=RESTSystem;;",
    user_agent: "Outlook-iOS/2.0",
    client_app_used: "Mobile Apps and Desktop clients",
    syncs: true,
};

pub const OWA: Client = Client {
    name: "Office 365 Exchange Online",
    app_id: "00000002-0000-0ff1-ce00-000000000000",
    client_info: "Client=OWA;Action=ViaProxy",
    user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 Edg/114.0.1823.67",
    client_app_used: "Browser",
    syncs: false,
};

/// The app a decoy tenant rolls out (consented, signed in to, then reading mail).
pub const ROLLOUT_APP: Client = Client {
    name: "Contoso CRM Mail Connector",
    app_id: "6c1e6a4c-8f0e-4d35-9a0e-3b7f2d8c5e11",
    client_info: "Client=REST;Client=RESTSystem;;",
    user_agent: "ContosoCRM/3.2",
    client_app_used: "Mobile Apps and Desktop clients",
    syncs: false,
};

/// Where a user signs in from: a country and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub country: &'static str,
    pub city: &'static str,
    pub ip: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub upn: String,
    pub display: String,
    pub object_id: String,
    pub sid: String,
    pub mailbox_guid: String,
    /// Clients this user reads mail with, most used first.
    pub clients: Vec<Client>,
    pub office: Place,
    pub home: Place,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub domain: String,
    pub users: Vec<User>,
    /// Clients this tenant's users read mail with (the baseline a detector should learn).
    pub clients: Vec<Client>,
}

const FIRST: &[&str] = &[
    "alex", "blair", "casey", "dana", "eli", "frankie", "gray", "harper", "indra", "jules", "kai",
    "lee", "morgan", "noor", "oak", "parker", "quinn", "reese", "sam", "tali", "uma", "val",
    "wren", "xen", "yael", "zane",
];
const LAST: &[&str] = &[
    "adams", "baker", "chen", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jones",
    "khan", "lopez", "meyer", "nakamura", "okafor", "patel", "quist", "rossi", "silva", "tanaka",
];
const TENANT_NAMES: &[&str] = &[
    "contoso",
    "fabrikam",
    "northwind",
    "tailspin",
    "woodgrove",
    "adatum",
    "litware",
    "proseware",
];

fn doc_ip(rng: &mut Rng, net: u8) -> String {
    let prefix = match net % 3 {
        0 => "192.0.2",
        1 => "198.51.100",
        _ => "203.0.113",
    };
    format!("{prefix}.{}", 1 + rng.below(254))
}

/// Builds `count` tenants with `users` users each.
pub fn tenants(rng: &mut Rng, count: usize, users: usize) -> Vec<Tenant> {
    (0..count)
        .map(|t| {
            let name = TENANT_NAMES[t % TENANT_NAMES.len()];
            let domain = if t < TENANT_NAMES.len() {
                format!("{name}.example")
            } else {
                format!("{name}{t}.example")
            };
            // Tenant 0 (the intrusion's first target) reads mail only with Outlook desktop and
            // mobile: OWA is a client it has never used for mail. Others also use OWA.
            let clients = if t == 0 {
                vec![OUTLOOK_DESKTOP, OUTLOOK_MOBILE]
            } else {
                vec![OUTLOOK_DESKTOP, OUTLOOK_MOBILE, OWA]
            };
            let office = Place {
                country: "US",
                city: "Redmond",
                ip: doc_ip(rng, t as u8),
            };
            let users = (0..users)
                .map(|u| {
                    let first = FIRST[u % FIRST.len()];
                    let last = LAST[(u * 7 + t * 3) % LAST.len()];
                    let n = u / (FIRST.len() * LAST.len());
                    let local = if n == 0 {
                        format!("{first}.{last}")
                    } else {
                        format!("{first}.{last}{n}")
                    };
                    let mut mine: Vec<Client> = clients.clone();
                    // Each user has a favourite; a third never use a phone.
                    let rot = rng.below(mine.len() as u64) as usize;
                    mine.rotate_left(rot);
                    if rng.chance(0.33) {
                        mine.retain(|c| *c != OUTLOOK_MOBILE);
                    }
                    User {
                        upn: format!("{local}@{domain}"),
                        display: format!("{} {}", capital(first), capital(last)),
                        object_id: rng.guid(),
                        sid: format!(
                            "S-1-5-21-{}-{}-{}-{}",
                            1_000_000_000 + rng.below(1_000_000_000),
                            1_000_000_000 + rng.below(1_000_000_000),
                            1_000_000_000 + rng.below(1_000_000_000),
                            1000 + u
                        ),
                        mailbox_guid: rng.guid(),
                        clients: mine,
                        office: office.clone(),
                        home: Place {
                            country: "US",
                            city: "Seattle",
                            ip: doc_ip(rng, (t + u + 1) as u8),
                        },
                    }
                })
                .collect();
            Tenant {
                id: rng.guid(),
                domain,
                users,
                clients,
            }
        })
        .collect()
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
