//! Pull connector for the Office 365 Management Activity API: a tenant's Unified Audit Log,
//! fetched as content blobs and ingested like any other batch.
//!
//! Per `[[o365]]` entry (one tenant, one app registration with `ActivityFeed.Read`), every
//! `poll_interval_s`:
//! 1. **Token**: OAuth 2.0 client credentials at `{login_root}/{tenant}/oauth2/v2.0/token`
//!    (scope `{api_root}/.default`), reused until a minute before it expires.
//! 2. **Subscriptions** (first poll): `GET …/subscriptions/list`, then
//!    `POST …/subscriptions/start?contentType=…` for each configured content type not enabled.
//! 3. **Content listing**: `GET …/subscriptions/content?contentType=…&startTime=…&endTime=…`, in
//!    windows of at most 24 hours (the API's limit) from the cursor to now, following the
//!    `NextPageUri` header through every page. The cursor starts `lookback_hours` back (at most
//!    the API's 7 days) and advances to each listed window's end, less 10 minutes of overlap.
//! 4. **Content blobs**: each `contentUri` not taken before is fetched and ingested with the
//!    tenant's rules (records of another tenant refuse the blob) under the idempotency key
//!    `o365:<contentId>`, stored in the transaction that keeps its events — so a blob is taken
//!    exactly once, across restarts too; a known id is skipped without being fetched.
//!
//! Every call carries `PublisherIdentifier=<tenant>` (Microsoft's quota key). **Throttling and
//! failures**: 429 and 5xx answers are retried after `Retry-After` (seconds) or 1, 2, 4 … s
//! (at most 60 s, at most 5 tries); a 401 renews the token once. A blob that still fails is left
//! for the next poll (the cursor does not pass its window), and each failure is logged.
//!
//! The bearer token is sent only to `api_root`'s origin: a `NextPageUri` or `contentUri`
//! elsewhere is refused. Answers are read up to 64 MiB; at most 10,000 listing pages are
//! followed per window, and a page address seen before stops the listing.

use super::api::Principal;
use super::ingest::ingest;
use super::State;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use stormwatch_store::Role;

/// One `[[o365]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct O365Config {
    pub tenant: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default = "default_content_types")]
    pub content_types: Vec<String>,
    #[serde(default = "default_poll")]
    pub poll_interval_s: u64,
    #[serde(default = "default_lookback")]
    pub lookback_hours: i64,
    #[serde(default = "default_api_root")]
    pub api_root: String,
    #[serde(default = "default_login_root")]
    pub login_root: String,
}

fn default_content_types() -> Vec<String> {
    CONTENT_TYPES.iter().map(|s| s.to_string()).collect()
}
fn default_poll() -> u64 {
    300
}
fn default_lookback() -> i64 {
    24
}
fn default_api_root() -> String {
    "https://manage.office.com".into()
}
fn default_login_root() -> String {
    "https://login.microsoftonline.com".into()
}

/// The content types the API serves.
pub const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// A validated connector: the entry and its resolved secret.
#[derive(Debug, Clone)]
pub struct Connector {
    pub config: O365Config,
    pub secret: String,
}

/// What one poll of one connector did.
#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origin_is_scheme_host_and_port() {
        assert_eq!(
            origin("https://manage.office.com/api/v1.0/x?y"),
            "https://manage.office.com"
        );
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_ne!(
            origin("https://manage.office.com.evil.example/x"),
            "https://manage.office.com"
        );
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    pub blobs_listed: usize,
    pub blobs_taken: usize,
    pub blobs_known: usize,
    pub records: usize,
    pub errors: Vec<String>,
}

/// Connector state between polls: tokens, subscriptions started, cursors.
#[derive(Debug, Default)]
pub struct Puller {
    inner: Mutex<HashMap<String, TenantPull>>,
}

#[derive(Debug, Default, Clone)]
pub struct TenantPull {
    token: Option<(String, Instant)>,
    subscribed: bool,
    /// Per content type: listed up to here (Unix ms).
    cursor: HashMap<String, i64>,
    last_poll: Option<Instant>,
}

const DAY_MS: i64 = 86_400_000;
/// Largest answer read (a content blob is far smaller).
const MAX_BODY: u64 = 64 << 20;
/// Most listing pages followed for one window.
const MAX_PAGES: usize = 10_000;

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..url.len() - rest.len() + host_len]
}

/// At most 300 characters of a body, for a log line.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}
const OVERLAP_MS: i64 = 600_000;

fn api_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// An answer: status, `NextPageUri`, `Retry-After` and the body.
struct Answer {
    status: u16,
    next_page: Option<String>,
    retry_after: Option<u64>,
    body: Vec<u8>,
}

fn send(req: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, String> {
    let mut r = req.map_err(|e| e.to_string())?;
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let next_page = header("NextPageUri");
    let retry_after = header("Retry-After").and_then(|v| v.trim().parse().ok());
    let body = r
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok(Answer {
        status: r.status().as_u16(),
        next_page,
        retry_after,
        body,
    })
}

impl Connector {
    fn feed(&self, path: &str) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed/{path}",
            self.config.api_root.trim_end_matches('/'),
            self.config.tenant
        )
    }

    fn with_publisher(&self, url: &str) -> String {
        if url.contains("PublisherIdentifier=") {
            return url.to_string();
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}PublisherIdentifier={}", self.config.tenant)
    }

    fn token(&self, a: &ureq::Agent) -> Result<(String, Instant), String> {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.config.login_root.trim_end_matches('/'),
            self.config.tenant
        );
        let scope = format!("{}/.default", self.config.api_root.trim_end_matches('/'));
        let ans = send(a.post(&url).send_form([
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.secret.as_str()),
            ("scope", scope.as_str()),
        ]))
        .map_err(|e| format!("token: {e}"))?;
        let v: Value = serde_json::from_slice(&ans.body).unwrap_or(Value::Null);
        match (ans.status, v["access_token"].as_str()) {
            (200, Some(t)) => {
                let life = v["expires_in"].as_u64().unwrap_or(3600).saturating_sub(60);
                Ok((t.to_string(), Instant::now() + Duration::from_secs(life)))
            }
            (s, _) => Err(format!(
                "token: HTTP {s}: {}",
                v["error_description"]
                    .as_str()
                    .or(v["error"].as_str())
                    .unwrap_or("")
            )),
        }
    }

    /// One call with retries: 429/5xx after Retry-After or backoff, 401 renews the token once.
    fn call(
        &self,
        a: &ureq::Agent,
        pull: &mut TenantPull,
        method: &str,
        url: &str,
    ) -> Result<Answer, String> {
        let url = self.with_publisher(url);
        // Addresses come from the API's answers (NextPageUri, contentUri): the token goes only
        // to the configured API's origin.
        if !origin(&url).eq_ignore_ascii_case(origin(&self.config.api_root)) {
            return Err(format!(
                "refusing to send the token to {}: not the configured api_root {}",
                origin(&url),
                origin(&self.config.api_root)
            ));
        }
        let mut renewed = false;
        for attempt in 0..5u32 {
            let token = match &pull.token {
                Some((t, until)) if Instant::now() < *until => t.clone(),
                _ => {
                    let t = self.token(a)?;
                    pull.token = Some(t.clone());
                    t.0
                }
            };
            let auth = format!("Bearer {token}");
            let ans = match method {
                "POST" => send(a.post(&url).header("Authorization", &auth).send_empty()),
                _ => send(a.get(&url).header("Authorization", &auth).call()),
            }?;
            match ans.status {
                401 if !renewed => {
                    renewed = true;
                    pull.token = None;
                }
                429 | 500..=599 => {
                    let wait = ans.retry_after.unwrap_or(1 << attempt).min(60);
                    std::thread::sleep(Duration::from_secs(wait));
                }
                _ => return Ok(ans),
            }
        }
        Err(format!(
            "{method} {url}: still throttled or failing after 5 tries"
        ))
    }

    fn ensure_subscriptions(&self, a: &ureq::Agent, pull: &mut TenantPull) -> Result<(), String> {
        let ans = self.call(a, pull, "GET", &self.feed("subscriptions/list"))?;
        if ans.status != 200 {
            return Err(format!("subscriptions/list: HTTP {}", ans.status));
        }
        let list: Vec<Value> = serde_json::from_slice(&ans.body).unwrap_or_default();
        for ct in &self.config.content_types {
            let enabled = list
                .iter()
                .any(|s| s["contentType"] == ct.as_str() && s["status"] == "enabled");
            if !enabled {
                let url = self.feed(&format!("subscriptions/start?contentType={ct}"));
                let ans = self.call(a, pull, "POST", &url)?;
                // AF20024: already enabled (a race with another client) is fine.
                let text = excerpt(&ans.body);
                if ans.status != 200 && !text.contains("AF20024") {
                    return Err(format!(
                        "subscriptions/start {ct}: HTTP {}: {text}",
                        ans.status
                    ));
                }
            }
        }
        pull.subscribed = true;
        Ok(())
    }

    /// Lists one content type from its cursor to `now_ms`; the blobs `(contentId, contentUri)`
    /// and how far the listing got.
    fn list(
        &self,
        a: &ureq::Agent,
        pull: &mut TenantPull,
        ct: &str,
        now_ms: i64,
    ) -> (Vec<(String, String)>, Option<i64>, Option<String>) {
        let lookback = self.config.lookback_hours.clamp(1, 168) * 3_600_000;
        let mut from = pull
            .cursor
            .get(ct)
            .map_or(now_ms - lookback, |c| c - OVERLAP_MS)
            .max(now_ms - 7 * DAY_MS + 60_000);
        let mut blobs = Vec::new();
        let mut reached = None;
        while from < now_ms {
            let to = (from + DAY_MS).min(now_ms);
            let mut url = Some(self.feed(&format!(
                "subscriptions/content?contentType={ct}&startTime={}&endTime={}",
                api_time(from),
                api_time(to)
            )));
            let mut seen = std::collections::HashSet::new();
            while let Some(u) = url.take() {
                if seen.len() >= MAX_PAGES || !seen.insert(u.clone()) {
                    let e = format!("{ct}: listing pages repeat or exceed {MAX_PAGES}; stopped");
                    return (blobs, reached, Some(e));
                }
                match self.call(a, pull, "GET", &u) {
                    Ok(ans) if ans.status == 200 => {
                        let page: Vec<Value> =
                            serde_json::from_slice(&ans.body).unwrap_or_default();
                        for b in page {
                            if let (Some(id), Some(uri)) =
                                (b["contentId"].as_str(), b["contentUri"].as_str())
                            {
                                blobs.push((id.to_string(), uri.to_string()));
                            }
                        }
                        url = ans.next_page;
                    }
                    Ok(ans) => {
                        let e = format!(
                            "{ct} content {}..{}: HTTP {}: {}",
                            api_time(from),
                            api_time(to),
                            ans.status,
                            excerpt(&ans.body)
                        );
                        return (blobs, reached, Some(e));
                    }
                    Err(e) => return (blobs, reached, Some(format!("{ct}: {e}"))),
                }
            }
            reached = Some(to);
            from = to;
        }
        (blobs, reached, None)
    }

    /// One poll: subscriptions, listing, blobs.
    pub fn poll(&self, state: &State, pull: &mut TenantPull, now_ms: i64) -> Polled {
        let a = agent();
        let mut out = Polled::default();
        if !pull.subscribed {
            if let Err(e) = self.ensure_subscriptions(&a, pull) {
                out.errors.push(e);
                return out;
            }
        }
        let who = Principal::acting_as(
            "o365".into(),
            format!("Management Activity API {}", self.config.tenant),
            Role::TenantAdmin,
            Some(self.config.tenant.clone()),
        );
        for ct in &self.config.content_types {
            let (blobs, reached, err) = self.list(&a, pull, ct, now_ms);
            out.errors.extend(err);
            out.blobs_listed += blobs.len();
            let mut all_taken = true;
            for (id, uri) in blobs {
                let key = format!("o365:{id}");
                match state.store.batch(&self.config.tenant, &key) {
                    Ok(Some(_)) => {
                        out.blobs_known += 1;
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        out.errors.push(format!("store: {e}"));
                        all_taken = false;
                        continue;
                    }
                }
                let fetched = self.call(&a, pull, "GET", &uri).and_then(|ans| {
                    if ans.status == 200 {
                        Ok(ans.body)
                    } else {
                        Err(format!("blob {id}: HTTP {}", ans.status))
                    }
                });
                let taken = fetched.and_then(|body| {
                    ingest(state, &who, body.into(), Some(&key))
                        .map_err(|e| format!("blob {id}: {e}"))
                });
                match taken {
                    Ok(v) => {
                        out.blobs_taken += 1;
                        out.records += v["accepted"].as_u64().unwrap_or(0) as usize;
                    }
                    Err(e) => {
                        out.errors.push(e);
                        all_taken = false;
                    }
                }
            }
            if let (Some(r), true) = (reached, all_taken) {
                pull.cursor.insert(ct.clone(), r);
            }
        }
        out
    }
}

impl Puller {
    /// Polls every connector whose interval has passed (all of them when `force`).
    pub fn poll_due(&self, state: &State, now_ms: i64, force: bool) -> Vec<(String, Polled)> {
        let mut out = Vec::new();
        for c in &state.config.o365 {
            let tenant = &c.config.tenant;
            let mut pull = {
                let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                m.get(tenant).cloned().unwrap_or_default()
            };
            let due = force
                || pull
                    .last_poll
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(c.config.poll_interval_s));
            if !due {
                continue;
            }
            pull.last_poll = Some(Instant::now());
            let polled = c.poll(state, &mut pull, now_ms);
            self.inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(tenant.clone(), pull);
            out.push((tenant.clone(), polled));
        }
        out
    }
}

impl State {
    /// Polls the due Management Activity API connectors, logged to stderr.
    pub fn pull_now(&self) {
        for (tenant, p) in self.puller.poll_due(self, super::now_ms(), false) {
            tracing::info!(
                tenant = %tenant,
                blobs_listed = p.blobs_listed,
                taken = p.blobs_taken,
                known = p.blobs_known,
                records = p.records,
                "o365 polled"
            );
            for e in p.errors {
                tracing::warn!(tenant = %tenant, error = %e, "o365");
            }
        }
    }
}
