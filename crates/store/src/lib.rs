//! stormwatch's persistence, behind one trait: [`Store`].
//!
//! What `stormwatch serve` keeps: detections (the detection record as JSON plus indexed columns
//! tenant, rule, level and time), incidents with a status, an assignee, comments and an audit
//! trail, per-tenant API keys (only an argon2 hash of the secret is stored, see [`keys`]), and
//! the ingested batches that make `POST /api/v1/ingest` idempotent.
//!
//! Why it is built this way:
//! * **One trait, synchronous.** Every backend is a blocking client ([`SqliteStore`] with
//!   rusqlite, the embedded default; [`PgStore`] with the `postgres` crate); the server calls it
//!   from `spawn_blocking`. The trait speaks plain data (tenant ids, rule ids, levels as `0..=4`,
//!   JSON values) and knows nothing of the engine, so the engine and the store evolve separately.
//! * **Tenant scoping in the query.** Every read or write of tenant data takes a [`Scope`]; a
//!   tenant-scoped call can never reach another tenant's rows, because the tenant is part of the
//!   `WHERE` clause, not a check done afterwards.
//! * **One transaction per business step.** [`Store::record_detection`] stores a detection and
//!   upserts its incident (deduplication by rule + tenant + actor within a window) atomically,
//!   so a crash never leaves a detection without its incident.
//! * **Bound parameters only.** No SQL text is ever built from input.
//! * **Migrations at open**, numbered, each applied once in its own transaction.
//! * **Accepted events are kept** ([`Store::put_events`], atomically with the batch's idempotency
//!   record) so a restarted service rebuilds its detection window and loses no acknowledged
//!   event; they are pruned as the window moves on.
//! * **A transactional outbox** ([`outbox`]): opening or escalating an incident adds the
//!   notification its tenant's admins must get in the same transaction, so none is lost in a
//!   crash and the same incident state is never queued twice.

pub mod catalog;
pub mod keys;
pub mod outbox;
pub mod postgres;
pub mod sqlite;

pub use catalog::{Catalog, CatalogItem};
pub use outbox::{Attempt, Delivery, Notification, Outbox};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("database: {0}")]
    Database(String),
    /// A schema migration failed at open.
    #[error("migration {version}: {message}")]
    Migration { version: usize, message: String },
    /// A stored value could not be read back (corrupt row, unknown enum name).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Hashing a key secret failed.
    #[error("key hashing: {0}")]
    Hash(String),
    /// The data directory or database file could not be opened.
    #[error("{path}: {message}")]
    Open { path: String, message: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Which tenants a call may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every tenant (operator).
    All,
    /// One tenant (tenant admin).
    Tenant(String),
}

impl Scope {
    /// What a caller of this role may see: an operator every tenant, a tenant admin its own
    /// (one without a tenant sees nothing).
    pub fn for_role(role: Role, tenant: Option<&str>) -> Scope {
        match (role, tenant) {
            (Role::Operator, _) => Scope::All,
            (Role::TenantAdmin, Some(t)) => Scope::Tenant(t.to_string()),
            (Role::TenantAdmin, None) => Scope::Tenant(String::new()),
        }
    }

    /// The tenant this scope is limited to, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Tenant(t) => Some(t),
        }
    }
}

/// An incident's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Acknowledged,
    Resolved,
    FalsePositive,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::New,
        Status::Acknowledged,
        Status::Resolved,
        Status::FalsePositive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::FalsePositive => "false_positive",
        }
    }

    pub fn from_name(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.name() == s)
    }

    /// New and acknowledged incidents are open: they absorb new detections of their actor.
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::Acknowledged)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Every tenant.
    Operator,
    /// One tenant: its own.
    TenantAdmin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::TenantAdmin => "tenant_admin",
        }
    }

    pub fn from_name(s: &str) -> Option<Role> {
        [Role::Operator, Role::TenantAdmin]
            .into_iter()
            .find(|r| r.name() == s)
    }
}

/// A detection to store.
#[derive(Debug, Clone)]
pub struct NewDetection {
    /// Identity across re-judgements: the same fingerprint updates the stored record.
    pub fingerprint: String,
    pub tenant: String,
    pub rule_id: String,
    pub rule_title: String,
    /// 0 informational … 4 critical.
    pub level: u8,
    /// Event time (Unix milliseconds).
    pub time_ms: i64,
    /// Who the incident is about (address, app id or user), for deduplication.
    pub actor: String,
    /// The detection record (DESIGN.md schema).
    pub record: Value,
}

/// How detections become incidents.
#[derive(Debug, Clone, Copy)]
pub struct DedupPolicy {
    /// An open incident of the same rule, tenant and actor whose last detection is at most this
    /// far from the new one absorbs it.
    pub window_ms: i64,
    /// Detections below this level are stored but open no incident.
    pub min_level: u8,
}

/// What [`Store::record_detection`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub detection_id: i64,
    /// False when the fingerprint was known and the stored record was updated.
    pub inserted: bool,
    pub incident_id: Option<i64>,
    /// True when this detection opened a new incident.
    pub incident_created: bool,
}

/// A stored detection.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    pub id: i64,
    pub tenant: String,
    pub rule_id: String,
    pub level: u8,
    pub time_ms: i64,
    pub incident_id: Option<i64>,
    pub record: Value,
}

/// A stored incident.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub tenant: String,
    pub rule_id: String,
    pub actor: String,
    pub title: String,
    pub level: u8,
    pub status: Status,
    pub assignee: Option<String>,
    pub first_ms: i64,
    pub last_ms: i64,
    pub detections: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A comment on an incident.
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: i64,
    pub incident_id: i64,
    pub author: String,
    pub text: String,
    pub at_ms: i64,
}

/// One line of the audit trail: who did what to which incident, when.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub incident_id: i64,
    pub tenant: String,
    pub actor: String,
    pub action: String,
    pub detail: Value,
    pub at_ms: i64,
}

/// An API key as stored: the secret only as an argon2 PHC hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The public part of the key (`sw_<id>_<secret>`), unique.
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The tenant of a tenant-admin key; `None` for operators.
    pub tenant: Option<String>,
    pub hash: String,
    pub created_ms: i64,
}

/// An accepted event as kept for restarts: its time and its normalized record (JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Event time (Unix milliseconds; the time received where the record has none).
    pub time_ms: i64,
    pub record: String,
}

/// An ingested batch, remembered by its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The tenant of the key that sent it, or `*` for an operator key.
    pub tenant: String,
    pub key: String,
    pub received_ms: i64,
    /// The response given the first time (replayed for a duplicate).
    pub summary: Value,
}

/// Filters for [`Store::detections`].
#[derive(Debug, Clone)]
pub struct DetectionQuery {
    pub scope: Scope,
    pub rule_id: Option<String>,
    pub min_level: Option<u8>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub incident_id: Option<i64>,
    pub limit: u32,
}

impl DetectionQuery {
    pub fn new(scope: Scope) -> Self {
        DetectionQuery {
            scope,
            rule_id: None,
            min_level: None,
            since_ms: None,
            until_ms: None,
            incident_id: None,
            limit: 100,
        }
    }
}

/// Filters for [`Store::incidents`].
#[derive(Debug, Clone)]
pub struct IncidentQuery {
    pub scope: Scope,
    pub status: Option<Status>,
    pub limit: u32,
}

/// Persistence for `stormwatch serve`. Implementations are safe to share between threads.
pub trait Store: Outbox + Catalog + Send + Sync {
    /// Stores a detection (or updates the one with its fingerprint) and, when new and at or
    /// above the policy's level, adds it to the open incident of its rule, tenant and actor
    /// within the window, or opens one. Opening an incident, or raising its level, queues a
    /// notification in the [`outbox`] (once per incident and state). One transaction.
    fn record_detection(
        &self,
        d: &NewDetection,
        policy: &DedupPolicy,
        now_ms: i64,
    ) -> Result<Recorded>;

    /// Detections, newest first.
    fn detections(&self, q: &DetectionQuery) -> Result<Vec<Detection>>;

    /// Incidents, most recently active first.
    fn incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>>;

    /// One incident, if it exists in the scope.
    fn incident(&self, scope: &Scope, id: i64) -> Result<Option<Incident>>;

    /// Changes an incident's status (audited). `None` when not in the scope.
    fn set_status(
        &self,
        scope: &Scope,
        id: i64,
        status: Status,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Incident>>;

    /// Sets or clears the assignee (audited). `None` when not in the scope.
    fn assign(
        &self,
        scope: &Scope,
        id: i64,
        assignee: Option<&str>,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Incident>>;

    /// Adds a comment (audited). `None` when the incident is not in the scope.
    fn add_comment(
        &self,
        scope: &Scope,
        id: i64,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<Option<Comment>>;

    /// An incident's comments, oldest first.
    fn comments(&self, scope: &Scope, id: i64) -> Result<Vec<Comment>>;

    /// An incident's audit trail, oldest first.
    fn audit_trail(&self, scope: &Scope, id: i64) -> Result<Vec<AuditEntry>>;

    /// Stores a key, replacing one with the same id.
    fn put_api_key(&self, key: &ApiKey) -> Result<()>;

    /// The key with this id.
    fn api_key(&self, id: &str) -> Result<Option<ApiKey>>;

    /// Remembers a batch; false (and nothing changed) when its tenant and key were seen.
    fn put_batch(&self, batch: &Batch) -> Result<bool>;

    /// A remembered batch.
    fn batch(&self, tenant: &str, key: &str) -> Result<Option<Batch>>;

    /// Keeps accepted events, per tenant, in one transaction together with the batch (when it
    /// has an idempotency key). False, and nothing kept, when the batch was seen before.
    fn put_events(
        &self,
        events: &[(String, Vec<StoredEvent>)],
        batch: Option<&Batch>,
    ) -> Result<bool>;

    /// A tenant's newest `limit` events at or after `since_ms`, oldest first.
    fn events(&self, tenant: &str, since_ms: i64, limit: u32) -> Result<Vec<StoredEvent>> {
        self.events_in(tenant, since_ms, i64::MAX, limit)
    }

    /// A tenant's newest `limit` events in `[since_ms, until_ms)`, oldest first.
    fn events_in(
        &self,
        tenant: &str,
        since_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>>;

    /// Forgets a tenant's events before `before_ms`; how many.
    fn prune_events(&self, tenant: &str, before_ms: i64) -> Result<u64>;
}

/// One column of an incident set by a user: the column (a fixed name, never input), its new
/// value, and the audit entry's action, author and time.
pub(crate) struct Change<'a> {
    pub(crate) column: &'static str,
    pub(crate) value: Option<&'a str>,
    pub(crate) action: &'static str,
    pub(crate) by: &'a str,
    pub(crate) now_ms: i64,
}
