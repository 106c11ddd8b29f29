//! Prometheus counters for the guard, rendered by hand in the text exposition format
//! (a handful of counters do not justify a metrics framework).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use stormwatch_token::Reason;

/// Counters; all updates are relaxed atomics.
#[derive(Debug, Default)]
pub struct Metrics {
    verdicts: [AtomicU64; Reason::ALL.len()],
    pub(crate) no_token: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) cache_misses: AtomicU64,
    pub(crate) key_refreshes: AtomicU64,
    pub(crate) key_refresh_errors: AtomicU64,
    pub(crate) audit_dropped: AtomicU64,
    pub(crate) verify_micros: AtomicU64,
}

fn idx(r: Reason) -> usize {
    Reason::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

impl Metrics {
    pub(crate) fn verdict(&self, r: Reason) {
        self.verdicts[idx(r)].fetch_add(1, Ordering::Relaxed);
    }

    /// Verdicts counted for a reason.
    pub fn verdicts(&self, r: Reason) -> u64 {
        self.verdicts[idx(r)].load(Ordering::Relaxed)
    }

    /// Text exposition format.
    pub fn render(&self, keys_loaded: usize, cache_entries: usize) -> String {
        let mut s = String::new();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        s.push_str("# HELP stormwatch_guard_verdicts_total Token verdicts by reason code.\n");
        s.push_str("# TYPE stormwatch_guard_verdicts_total counter\n");
        for r in Reason::ALL {
            let _ = writeln!(
                s,
                "stormwatch_guard_verdicts_total{{reason=\"{r}\"}} {}",
                self.verdicts(r)
            );
        }
        let counters = [
            (
                "stormwatch_guard_no_token_total",
                "Requests without a bearer token.",
                g(&self.no_token),
            ),
            (
                "stormwatch_guard_cache_hits_total",
                "Valid verdicts served from the verified-token cache.",
                g(&self.cache_hits),
            ),
            (
                "stormwatch_guard_cache_misses_total",
                "Tokens verified cryptographically.",
                g(&self.cache_misses),
            ),
            (
                "stormwatch_guard_key_refreshes_total",
                "Key-set refreshes attempted.",
                g(&self.key_refreshes),
            ),
            (
                "stormwatch_guard_key_refresh_errors_total",
                "Key-set sources that failed to refresh (last good keys kept).",
                g(&self.key_refresh_errors),
            ),
            (
                "stormwatch_guard_audit_dropped_total",
                "Audit records that could not be written.",
                g(&self.audit_dropped),
            ),
            (
                "stormwatch_guard_verify_seconds_total",
                "Time spent verifying tokens.",
                0,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            if name == "stormwatch_guard_verify_seconds_total" {
                let _ = writeln!(s, "{name} {:.6}", g(&self.verify_micros) as f64 / 1e6);
            } else {
                let _ = writeln!(s, "{name} {v}");
            }
        }
        let _ = writeln!(s, "# HELP stormwatch_guard_keys Verification keys loaded.\n# TYPE stormwatch_guard_keys gauge\nstormwatch_guard_keys {keys_loaded}");
        let _ = writeln!(s, "# HELP stormwatch_guard_cache_entries Tokens in the verified-token cache.\n# TYPE stormwatch_guard_cache_entries gauge\nstormwatch_guard_cache_entries {cache_entries}");
        s
    }
}
