//! A deterministic generator of realistic Microsoft 365 audit and Entra sign-in logs, with a
//! planted forged-token intrusion (Storm-0558's pattern) and decoys that must not be flagged.
//!
//! Why it exists: stormwatch's bundled sample, its scenario tests and its pinned benchmark
//! corpora all need logs that look like a real tenant's — users signing in, then reading mail
//! from their usual clients and places over weeks — with ground truth attached. Real customer
//! logs cannot be shipped; these are generated, and the same seed gives the same bytes.
//!
//! What is planted (see [`Manifest`]):
//! * **Intrusion**: `MailItemsAccessed` Bind and Sync on a few mailboxes in two tenants, by a
//!   client the first tenant never used for mail, from the actor's published infrastructure,
//!   with the `Client=REST;Client=RESTSystem;;` client string, and with no sign-in behind them
//!   (no matching session or token id: a forged token is never issued by Entra).
//! * **Decoys**: a traveller signing in properly from abroad; a newly consented app with real
//!   sign-ins; a throttled but legitimate mobile sync; legitimate REST access from Outlook
//!   mobile (same client string as the actor).
//!
//! Output is generated a day at a time and sorted within the day, so memory stays bounded
//! whatever the volume.

mod model;
mod plan;
mod records;
mod rng;
mod write;

pub use model::{Client, Tenant, User, OUTLOOK_DESKTOP, OUTLOOK_MOBILE, OWA, ROLLOUT_APP};
pub use plan::generate;
pub use rng::Rng;
pub use write::{file_name, generate_to_dir, MANIFEST};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;

/// Actor infrastructure: addresses Microsoft published for Storm-0558 (July 2023).
pub const ACTOR_IPS: &[&str] = &["51.89.156.153", "176.31.90.129", "137.74.181.100"];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub tenants: usize,
    pub users_per_tenant: usize,
    pub days: u32,
    pub start: DateTime<Utc>,
    /// Plant the intrusion (needs at least 2 tenants with 4 users).
    pub intrusion: bool,
    /// Plant the decoys (needs at least 1 tenant with 6 users).
    pub decoys: bool,
    /// Average mail reads per user and working day.
    pub mail_per_day: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            tenants: 3,
            users_per_tenant: 12,
            days: 21,
            start: Utc
                .with_ymd_and_hms(2023, 5, 22, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            intrusion: true,
            decoys: true,
            mail_per_day: 8,
        }
    }
}

/// Which log a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Unified Audit Log (Management Activity API JSON).
    Ual,
    /// Entra sign-ins (diagnostic-settings envelope).
    SignIns,
    /// Entra audit logs (diagnostic-settings envelope).
    EntraAudit,
}

/// Where generated records go.
pub trait Output {
    fn write(&mut self, stream: Stream, record: &Value) -> std::io::Result<()>;
}

/// A mailbox the intrusion read.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Planted {
    pub tenant: String,
    pub mailbox: String,
    /// UAL `Id`s of the actor's records for this mailbox.
    pub record_ids: Vec<String>,
}

/// A decoy that must not raise a medium-or-higher alert.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decoy {
    pub kind: &'static str,
    pub tenant: String,
    pub user: String,
    pub record_ids: Vec<String>,
}

/// Ground truth for a generated corpus.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Manifest {
    pub seed: u64,
    pub tenants: Vec<String>,
    pub first: String,
    pub last: String,
    pub records: u64,
    pub actor_ips: Vec<String>,
    pub actor_app_id: String,
    pub intrusion: Vec<Planted>,
    pub decoys: Vec<Decoy>,
}
