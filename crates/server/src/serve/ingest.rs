//! `POST /api/v1/ingest`: a body of records (JSON lines, a JSON array, `{"value": […]}` or
//! `{"records": […]}` envelopes, gzip or zstd — recognised from the content, as `hunt` does) read
//! through the engine's ingest pipeline, checked, and appended to the tenants' buffers.
//!
//! # Semantics
//! * **All or nothing.** A batch with any malformed record is refused whole with 400, naming
//!   each bad record as `body:LINE: reason` (`body:#N` for the N-th element of an array); none of
//!   its records is kept, so a client can fix and resend the same batch without duplicating the
//!   good part.
//! * **Tenants.** A tenant-admin key ingests for its tenant: a record naming another tenant
//!   refuses the batch (403, naming the record); a record naming none is taken as the key's
//!   tenant's. An operator key ingests for any configured tenant, and each record must name one.
//! * **Idempotency.** With an `Idempotency-Key` header, a batch is taken once per key and
//!   tenant: a repeat answers 200 with the first answer and `"duplicate": true`, and adds
//!   nothing.
//! * **Acknowledgement.** 202 means the records are stored (in one transaction with the batch's
//!   idempotency record) and in the tenant's buffer, and will be judged within one judge
//!   interval (see `detect`). A process killed after the 202 loses nothing: at start the
//!   buffers are rebuilt from the stored events ([`restore`]) and judged again.

use super::api::Principal;
use super::State;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use stormwatch_engine::ingest::{Rejection, Sink};
use stormwatch_engine::source::{Input, Limits};
use stormwatch_engine::{Event, IngestOptions, Ingestor};
use stormwatch_store::{Batch, Role, StoreError, StoredEvent};

/// Most rejections listed in one answer (the count is complete).
const MAX_LISTED: usize = 50;

/// Why a batch was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("{count} malformed record(s)")]
    Malformed { rejected: Vec<String>, count: usize },
    #[error("{record}: {message}")]
    Tenant { record: String, message: String },
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What reading a body gave.
#[derive(Default)]
pub struct Collect {
    pub events: Vec<Event>,
    pub rejected: Vec<String>,
    pub rejected_count: usize,
    pub failed: Option<String>,
}

/// Reads a body (or stored records) through the engine's pipeline on this thread.
pub fn read(bytes: axum::body::Bytes, max_body_bytes: usize) -> Collect {
    let mut ingestor = Ingestor::new(IngestOptions {
        limits: Limits {
            bomb_ratio: 250,
            bomb_floor: (max_body_bytes as u64).saturating_mul(16),
        },
        threads: 1,
        narrow: false,
    });
    let mut sink = Collect::default();
    ingestor.run_reader("body", Box::new(std::io::Cursor::new(bytes)), &mut sink);
    sink
}

impl Sink for Collect {
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    fn rejected(&mut self, rejection: Rejection) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(rejection.to_string());
        }
    }

    fn input_failed(&mut self, _input: &Input, error: &str) {
        self.failed = Some(error.to_string());
    }
}

/// Reads, checks and buffers one batch; the answer's JSON on success.
pub fn ingest(
    state: &State,
    who: &Principal,
    body: axum::body::Bytes,
    idempotency_key: Option<&str>,
) -> Result<Value, IngestError> {
    let batch_tenant = who.key.tenant.clone().unwrap_or_else(|| "*".into());
    if let Some(k) = idempotency_key {
        if let Some(b) = state.store.batch(&batch_tenant, k)? {
            return Ok(duplicate(b.summary));
        }
    }
    let bytes = body.len();
    let sink = read(body, state.config.max_body_bytes);
    if let Some(f) = sink.failed {
        return Err(IngestError::Unreadable(f));
    }
    if sink.rejected_count > 0 {
        return Err(IngestError::Malformed {
            rejected: sink.rejected,
            count: sink.rejected_count,
        });
    }
    let mut by_tenant: HashMap<String, Vec<Event>> = HashMap::new();
    for mut e in sink.events {
        let named = e.core.tenant.as_deref().map(str::to_ascii_lowercase);
        let tenant = match (who.key.role, &who.key.tenant, named) {
            (Role::TenantAdmin, Some(own), None) => own.clone(),
            (Role::TenantAdmin, Some(own), Some(t)) if &t == own => t,
            (Role::TenantAdmin, _, Some(t)) => {
                return Err(IngestError::Tenant {
                    record: e.origin.to_string(),
                    message: format!("record of tenant {t}, but the key is not for that tenant"),
                })
            }
            (Role::TenantAdmin, None, None) => {
                return Err(IngestError::Tenant {
                    record: e.origin.to_string(),
                    message: "the key has no tenant".into(),
                })
            }
            (Role::Operator, _, Some(t)) if state.tenants.contains(&t) => t,
            (Role::Operator, _, Some(t)) => {
                return Err(IngestError::Tenant {
                    record: e.origin.to_string(),
                    message: format!("tenant {t} is not served here"),
                })
            }
            (Role::Operator, _, None) => {
                return Err(IngestError::Tenant {
                    record: e.origin.to_string(),
                    message: "record names no tenant (an operator key needs records that do)"
                        .into(),
                })
            }
        };
        e.core.tenant = Some(tenant.clone());
        by_tenant.entry(tenant).or_default().push(e);
    }
    let counts: BTreeMap<&String, usize> = by_tenant.iter().map(|(t, v)| (t, v.len())).collect();
    let accepted: usize = counts.values().sum();
    let summary = json!({
        "accepted": accepted,
        "bytes": bytes,
        "tenants": counts,
        "idempotency_key": idempotency_key,
    });
    let now = super::now_ms();
    let stored: Vec<(String, Vec<StoredEvent>)> = by_tenant
        .iter()
        .map(|(t, list)| {
            let kept = list
                .iter()
                .map(|e| StoredEvent {
                    time_ms: e.core.time.map_or(now, |t| t.timestamp_millis()),
                    record: e.record.to_string(),
                })
                .collect();
            (t.clone(), kept)
        })
        .collect();
    let batch = idempotency_key.map(|k| Batch {
        tenant: batch_tenant.clone(),
        key: k.to_string(),
        received_ms: now,
        summary: summary.clone(),
    });
    if !state.store.put_events(&stored, batch.as_ref())? {
        // A concurrent request with the same key won the race.
        let first = match idempotency_key {
            Some(k) => state.store.batch(&batch_tenant, k)?,
            None => None,
        };
        return Ok(duplicate(first.map_or(summary, |b| b.summary)));
    }
    for (tenant, events) in by_tenant {
        state.buffers.push(&tenant, events);
    }
    let m = &state.metrics;
    m.events_accepted.fetch_add(accepted as u64, Relaxed);
    m.bytes_accepted.fetch_add(bytes as u64, Relaxed);
    Ok(summary)
}

fn duplicate(mut summary: Value) -> Value {
    summary["duplicate"] = Value::Bool(true);
    summary
}

/// Rebuilds each configured tenant's buffer from its stored events (the newest
/// `buffer_max_events`; the judge trims to `buffer_days`). Returns per tenant the events restored
/// and the stored records that no longer read (reported, not fatal).
pub fn restore(state: &State) -> Result<Vec<(String, usize, usize)>, StoreError> {
    let limit = u32::try_from(state.config.buffer_max_events).unwrap_or(u32::MAX);
    let mut out = Vec::new();
    for tenant in &state.tenants {
        let stored = state.store.events(tenant, i64::MIN, limit)?;
        if stored.is_empty() {
            continue;
        }
        let (events, rejected) = events_of(&stored, tenant);
        out.push((tenant.clone(), events.len(), rejected));
        state.buffers.push(tenant, events);
    }
    Ok(out)
}

/// Stored records read back as a tenant's events, and how many no longer read.
pub fn events_of<'a>(
    stored: impl IntoIterator<Item = &'a StoredEvent>,
    tenant: &str,
) -> (Vec<Event>, usize) {
    let mut text = String::new();
    for e in stored {
        text.push_str(&e.record);
        text.push('\n');
    }
    let got = read(axum::body::Bytes::from(text), usize::MAX / 32);
    let mut events = got.events;
    for e in &mut events {
        e.core.tenant = Some(tenant.to_string());
    }
    (events, got.rejected_count)
}
