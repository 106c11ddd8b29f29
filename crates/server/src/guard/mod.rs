//! `stormwatch guard`: a forward-auth gateway that refuses forged tokens.
//!
//! nginx `auth_request`, Traefik ForwardAuth and Envoy ext_authz (HTTP mode) all ask a side
//! service "may this request through?" with the original headers. The guard answers from the
//! `Authorization: Bearer` token alone: `200` with `X-Auth-Subject`, `X-Auth-Tenant` and
//! `X-Auth-Scopes`, or `401` with `WWW-Authenticate: Bearer error="invalid_token",
//! error_description="<reason code>"`. Every judged token becomes one JSONL audit record
//! ([`audit`]); `/healthz` and `/metrics` (Prometheus) are served beside it; every other path
//! and method is an auth check, because proxies differ in what they forward.
//!
//! Verification is `stormwatch_token`'s, in the contract order. Valid verdicts are cached by a
//! hash of the whole token for at most the token's lifetime and only for the current key-set
//! generation; cache misses verify on the blocking pool because an unknown `kid` may trigger
//! a (rate-limited) key-set fetch. SIGTERM or Ctrl-C stops accepting, drains in-flight
//! requests, and flushes the audit log.

pub mod audit;
pub mod config;
pub mod metrics;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use stormwatch_token::cache::token_hash;
use stormwatch_token::time::{format_rfc3339_millis, now_unix};
use stormwatch_token::{KeyStore, Options, Verdict, VerifiedCache};

pub use audit::{AuditSink, Record, RequestInfo};
pub use config::GuardConfig;
pub use metrics::Metrics;

/// Guard errors: all are configuration or startup problems (exit status 2 in the CLI).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    #[error("{0}")]
    Config(String),
    #[error("keys: {0}")]
    Keys(#[from] stormwatch_token::Error),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(#[source] std::io::Error),
}

/// Shared state of a running guard.
#[derive(Debug)]
pub struct Guard {
    pub keys: KeyStore,
    pub options: Options,
    pub cache: VerifiedCache,
    pub metrics: Metrics,
    pub audit: AuditSink,
}

impl Guard {
    /// Load keys and options from a configuration; returns the guard and key-loading warnings.
    pub fn from_config(cfg: &GuardConfig) -> Result<(Guard, Vec<String>), GuardError> {
        let options = cfg.options()?;
        let fetcher: Option<Box<dyn stormwatch_token::source::Fetcher>> =
            Some(Box::new(stormwatch_token::source::HttpsFetcher::default()));
        let (keys, warnings) = KeyStore::load(cfg.sources(), fetcher, cfg.min_refresh_interval())?;
        let audit = AuditSink::open(cfg.audit_path().as_deref())?;
        Ok((
            Guard {
                keys,
                options,
                cache: VerifiedCache::new(cfg.cache_capacity()),
                metrics: Metrics::default(),
                audit,
            },
            warnings,
        ))
    }

    /// Judge one token (cache first), count it and audit it.
    pub fn judge(&self, token: &[u8], request: &RequestInfo) -> Verdict {
        let now = now_unix();
        let hash = token_hash(token);
        let (_, generation) = self.keys.current();
        let (verdict, cached) = match self.cache.get(&hash, now, generation) {
            Some(v) => {
                self.metrics
                    .cache_hits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (v, true)
            }
            None => {
                self.metrics
                    .cache_misses
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let started = Instant::now();
                let (v, refresh) = self.keys.verify(token, &self.options, now);
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.metrics
                    .verify_micros
                    .fetch_add(micros, std::sync::atomic::Ordering::Relaxed);
                if let Some(r) = refresh {
                    self.note_refresh(&r);
                }
                let (_, generation) = self.keys.current();
                self.cache
                    .put(hash, &v, self.options.skew_secs, now, generation);
                (v, false)
            }
        };
        self.metrics.verdict(verdict.reason);
        let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
        let record = Record {
            time: format_rfc3339_millis(std::time::SystemTime::now()),
            kind: "token_verdict",
            verdict: &verdict,
            scopes: &verdict.scopes,
            request,
            token_sha256: hex,
            cached,
            source: "stormwatch-guard",
        };
        if !self.audit.write(&record) {
            self.metrics
                .audit_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        verdict
    }

    /// Count and log (stderr) a key-set refresh.
    pub fn note_refresh(&self, r: &stormwatch_token::source::RefreshOutcome) {
        use std::sync::atomic::Ordering::Relaxed;
        self.metrics.key_refreshes.fetch_add(1, Relaxed);
        self.metrics
            .key_refresh_errors
            .fetch_add(r.errors.len() as u64, Relaxed);
        for e in &r.errors {
            eprintln!("stormwatch guard: key refresh: {e}");
        }
    }
}

/// The HTTP application.
pub fn app(guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .fallback(check)
        .with_state(guard)
}

async fn healthz(State(g): State<Arc<Guard>>) -> Response {
    let (keys, _) = g.keys.current();
    if keys.keys.is_empty() {
        (StatusCode::SERVICE_UNAVAILABLE, "no keys\n").into_response()
    } else {
        (StatusCode::OK, format!("ok {} keys\n", keys.keys.len())).into_response()
    }
}

async fn metrics_text(State(g): State<Arc<Guard>>) -> Response {
    let (keys, _) = g.keys.current();
    let body = g.metrics.render(keys.keys.len(), g.cache.len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn request_info(
    h: &HeaderMap,
    method: &Method,
    uri: &Uri,
    peer: Option<SocketAddr>,
) -> RequestInfo {
    let client_ip = header_str(h, "x-forwarded-for")
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_owned())
        .or_else(|| header_str(h, "x-real-ip").map(str::to_owned))
        .or_else(|| peer.map(|p| p.ip().to_string()));
    let cap = |s: &str| s.chars().take(2048).collect::<String>();
    RequestInfo {
        client_ip,
        method: header_str(h, "x-original-method")
            .or_else(|| header_str(h, "x-forwarded-method"))
            .map(cap)
            .or_else(|| Some(method.to_string())),
        host: header_str(h, "x-forwarded-host")
            .or_else(|| header_str(h, "host"))
            .map(cap),
        uri: header_str(h, "x-original-uri")
            .or_else(|| header_str(h, "x-forwarded-uri"))
            .map(cap)
            .or_else(|| Some(cap(&uri.to_string()))),
        user_agent: header_str(h, "user-agent").map(cap),
    }
}

/// The bearer token of an `Authorization` header (scheme case-insensitive).
fn bearer(h: &HeaderMap) -> Option<Vec<u8>> {
    let v = h.get(header::AUTHORIZATION)?.as_bytes();
    if v.len() < 7 || !v[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let t = v[7..].trim_ascii();
    (!t.is_empty()).then(|| t.to_vec())
}

async fn check(State(g): State<Arc<Guard>>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (method, uri, headers) = (req.method(), req.uri(), req.headers());
    let Some(token) = bearer(headers) else {
        g.metrics
            .no_token
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response();
    };
    let info = request_info(headers, method, uri, peer);
    let g2 = Arc::clone(&g);
    let verdict = match tokio::task::spawn_blocking(move || g2.judge(&token, &info)).await {
        Ok(v) => v,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    respond(&verdict)
}

fn respond(v: &Verdict) -> Response {
    if v.valid {
        let mut h = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                h.insert(name, value);
            }
        };
        put("x-auth-subject", v.sub.as_deref().unwrap_or(""));
        put("x-auth-tenant", v.tid.as_deref().unwrap_or(""));
        put("x-auth-scopes", &v.scopes.join(" "));
        (StatusCode::OK, h).into_response()
    } else {
        let challenge = format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            v.reason
        );
        let value = HeaderValue::from_str(&challenge)
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"invalid_token\""));
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, value)],
        )
            .into_response()
    }
}

/// Serve on an already bound listener until `shutdown` resolves; then drain and flush.
pub async fn serve(
    listener: tokio::net::TcpListener,
    guard: Arc<Guard>,
    refresh_every: Option<std::time::Duration>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GuardError> {
    let refresher = refresh_every.map(|every| {
        let g = Arc::clone(&guard);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await; // the first tick is immediate; keys were just loaded
            loop {
                tick.tick().await;
                let g2 = Arc::clone(&g);
                if let Ok(r) = tokio::task::spawn_blocking(move || g2.keys.refresh()).await {
                    g.note_refresh(&r);
                }
            }
        })
    });
    let result = axum::serve(
        listener,
        app(Arc::clone(&guard)).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(GuardError::Serve);
    if let Some(r) = refresher {
        r.abort();
    }
    guard.audit.close();
    result
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Build everything from `cfg` and serve until SIGTERM/Ctrl-C (the CLI entry point).
/// `on_ready` is called with the bound address once listening.
pub fn run(
    cfg: &GuardConfig,
    on_ready: impl FnOnce(SocketAddr, &[String]),
) -> Result<(), GuardError> {
    let (guard, warnings) = Guard::from_config(cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(GuardError::Serve)?;
    rt.block_on(async {
        let addr = cfg.listen().to_owned();
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| GuardError::Listen {
                addr: addr.clone(),
                source,
            })?;
        let local = listener.local_addr().map_err(GuardError::Serve)?;
        on_ready(local, &warnings);
        serve(
            listener,
            Arc::new(guard),
            cfg.refresh_interval(),
            shutdown_signal(),
        )
        .await
    })
}
