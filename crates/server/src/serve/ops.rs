//! Operating the service: Prometheus metrics, the verified-key cache and per-key rate limits.
//!
//! * **Metrics** (`GET /metrics`, text exposition format, no authentication, no tenant labels):
//!   ingest requests by answer, events and bytes accepted, ingest latency histogram, judge passes
//!   and failures, new detections and incidents, notification sends and failures, outbox
//!   backlog, watched files, rate-limited requests. Rendered by hand like the guard's: a few
//!   counters do not justify a metrics framework.
//! * **Key cache.** An API key is an argon2id hash in the store, and verifying one costs tens of
//!   milliseconds by design. A key that verified is remembered for five minutes under the
//!   SHA-256 of the presented bearer value (the key itself is never kept), so a busy client pays
//!   argon2 once, not per request. Keys only change at start, so the cache cannot serve a
//!   revoked key longer than the process lives with it.
//! * **Rate limits.** A token bucket per key id: `rate_limit_per_minute` requests a minute on
//!   average with bursts of `rate_limit_burst`; over it, 429 with `Retry-After`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use stormwatch_store::ApiKey;

/// Upper bounds (seconds) of the ingest latency histogram.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The service's counters; relaxed atomics.
#[derive(Debug, Default)]
pub struct Metrics {
    pub ingest_accepted: AtomicU64,
    pub ingest_duplicate: AtomicU64,
    pub ingest_refused: AtomicU64,
    pub ingest_failed: AtomicU64,
    pub events_accepted: AtomicU64,
    pub bytes_accepted: AtomicU64,
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    pub judge_passes: AtomicU64,
    pub judge_failures: AtomicU64,
    pub detections_new: AtomicU64,
    pub incidents_new: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub notifications_failed: AtomicU64,
    pub watch_taken: AtomicU64,
    pub watch_refused: AtomicU64,
    pub rate_limited: AtomicU64,
    pub auth_failures: AtomicU64,
}

impl Metrics {
    /// Records one ingest request's duration.
    pub fn ingest_latency(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.latency[i].fetch_add(1, Relaxed);
        self.latency_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// The text exposition; `outbox` is the number of unfinished notifications, `buffered` the
    /// events held for judging.
    pub fn render(&self, outbox: Option<usize>, buffered: usize) -> String {
        let g = |a: &AtomicU64| a.load(Relaxed);
        let mut s = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: &[(String, String)]| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        };
        let one = |v: u64| vec![(String::new(), v.to_string())];
        family(
            "stormwatch_ingest_requests_total",
            "counter",
            "Ingest requests by answer.",
            &[
                ("accepted", g(&self.ingest_accepted)),
                ("duplicate", g(&self.ingest_duplicate)),
                ("refused", g(&self.ingest_refused)),
                ("failed", g(&self.ingest_failed)),
            ]
            .map(|(k, v)| (format!("{{answer=\"{k}\"}}"), v.to_string())),
        );
        for (name, help, v) in [
            (
                "stormwatch_ingest_events_total",
                "Events accepted.",
                g(&self.events_accepted),
            ),
            (
                "stormwatch_ingest_bytes_total",
                "Body bytes accepted.",
                g(&self.bytes_accepted),
            ),
            (
                "stormwatch_judge_passes_total",
                "Tenant judge passes.",
                g(&self.judge_passes),
            ),
            (
                "stormwatch_judge_failures_total",
                "Judge passes that failed.",
                g(&self.judge_failures),
            ),
            (
                "stormwatch_detections_new_total",
                "Detections stored for the first time.",
                g(&self.detections_new),
            ),
            (
                "stormwatch_incidents_new_total",
                "Incidents opened.",
                g(&self.incidents_new),
            ),
            (
                "stormwatch_notifications_sent_total",
                "Notification deliveries sent.",
                g(&self.notifications_sent),
            ),
            (
                "stormwatch_notifications_failed_total",
                "Notification delivery attempts that failed.",
                g(&self.notifications_failed),
            ),
            (
                "stormwatch_watch_files_taken_total",
                "Watched files ingested.",
                g(&self.watch_taken),
            ),
            (
                "stormwatch_watch_files_refused_total",
                "Watched files refused.",
                g(&self.watch_refused),
            ),
            (
                "stormwatch_rate_limited_total",
                "Requests refused with 429.",
                g(&self.rate_limited),
            ),
            (
                "stormwatch_auth_failures_total",
                "Requests with a missing or wrong API key.",
                g(&self.auth_failures),
            ),
        ] {
            family(name, "counter", help, &one(v));
        }
        let mut rows = Vec::new();
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += g(&self.latency[i]);
            rows.push((format!("_bucket{{le=\"{b}\"}}"), cumulative.to_string()));
        }
        cumulative += g(&self.latency[BUCKETS.len()]);
        rows.push(("_bucket{le=\"+Inf\"}".into(), cumulative.to_string()));
        rows.push((
            "_sum".into(),
            format!("{:.6}", g(&self.latency_micros) as f64 / 1e6),
        ));
        rows.push(("_count".into(), cumulative.to_string()));
        family(
            "stormwatch_ingest_duration_seconds",
            "histogram",
            "Ingest request duration (accepted batches).",
            &rows,
        );
        family(
            "stormwatch_buffered_events",
            "gauge",
            "Events held in the tenants' detection buffers.",
            &one(buffered as u64),
        );
        if let Some(n) = outbox {
            family(
                "stormwatch_outbox_pending",
                "gauge",
                "Notifications not yet delivered on every channel.",
                &one(n as u64),
            );
        }
        s
    }
}

/// Verified keys by the SHA-256 of the presented bearer value.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], (ApiKey, Instant)>>,
    /// Bumped by [`KeyCache::clear`]: a verification that began before a revocation does not
    /// put its (possibly revoked) key back afterwards.
    generation: AtomicU64,
}

const KEY_TTL: Duration = Duration::from_secs(300);
const KEY_CACHE_MAX: usize = 10_000;

fn digest(bearer: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bearer.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl KeyCache {
    /// The key this bearer value verified as, if within its time.
    pub fn get(&self, bearer: &str) -> Option<ApiKey> {
        let m = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&digest(bearer))
            .filter(|(_, at)| at.elapsed() < KEY_TTL)
            .map(|(k, _)| k.clone())
    }

    /// Forgets every key (after a key was deleted).
    pub fn clear(&self) {
        let mut m = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Relaxed);
        m.clear();
    }

    /// The generation to pass to [`KeyCache::put`]: read it before verifying a key.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Remembers a verified key (the cache is emptied when full), unless the cache was cleared
    /// since `generation` was read.
    pub fn put(&self, generation: u64, bearer: &str, key: &ApiKey) {
        let mut m = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Relaxed) != generation {
            return;
        }
        if m.len() >= KEY_CACHE_MAX {
            m.clear();
        }
        m.insert(digest(bearer), (key.clone(), Instant::now()));
    }
}

/// Token buckets per key id.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token; `Err(seconds to wait)` when the bucket is empty.
    pub fn take(&self, key_id: &str, now: Instant) -> Result<(), u64> {
        let mut m = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = m.entry(key_id.to_string()).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if self.per_second <= 0.0 {
            Err(60)
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let r = RateLimiter::new(60, 3); // one a second, bursts of three
        let t0 = Instant::now();
        assert!((0..3).all(|_| r.take("k", t0).is_ok()));
        assert_eq!(r.take("k", t0), Err(1));
        assert!(r.take("other", t0).is_ok(), "buckets are per key");
        assert!(r.take("k", t0 + Duration::from_millis(1000)).is_ok());
        assert!(r.take("k", t0 + Duration::from_millis(1100)).is_err());
    }

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        for ms in [1, 7, 7, 300, 20_000] {
            m.ingest_latency(Duration::from_millis(ms));
        }
        let text = m.render(Some(2), 9);
        assert!(text.contains("stormwatch_ingest_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("stormwatch_ingest_duration_seconds_bucket{le=\"0.01\"} 3"));
        assert!(text.contains("stormwatch_ingest_duration_seconds_bucket{le=\"0.5\"} 4"));
        assert!(text.contains("stormwatch_ingest_duration_seconds_bucket{le=\"+Inf\"} 5"));
        assert!(text.contains("stormwatch_ingest_duration_seconds_count 5"));
        assert!(text.contains("stormwatch_outbox_pending 2"));
        assert!(text.contains("stormwatch_buffered_events 9"));
    }

    #[test]
    fn cache_keys_by_digest_and_expires() {
        let c = KeyCache::default();
        let k = ApiKey {
            id: "a".into(),
            name: "a".into(),
            role: stormwatch_store::Role::Operator,
            tenant: None,
            hash: String::new(),
            created_ms: 0,
        };
        c.put(c.generation(), "sw_a_secret", &k);
        assert_eq!(c.get("sw_a_secret"), Some(k.clone()));
        assert_eq!(c.get("sw_a_other"), None);
        // A verification that straddles a revocation does not re-add its key.
        let before = c.generation();
        c.clear();
        c.put(before, "sw_a_secret", &k);
        assert_eq!(c.get("sw_a_secret"), None);
    }
}
