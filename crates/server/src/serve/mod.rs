//! `stormwatch serve`: continuous multi-tenant detection over HTTP.
//!
//! One process: an axum server ([`api`]) that takes audit records over `POST /api/v1/ingest`
//! ([`ingest`]), a judge task that runs the `hunt` detectors over each tenant's rolling buffer
//! on a timer ([`detect`], which documents the detection semantics), and a [`Store`] (SQLite in
//! the data directory, or PostgreSQL with `store = "postgres://…"`) for detections, incidents
//! and API keys. Configuration: [`config`]. Store calls run on `spawn_blocking` threads.
//! Incidents are told to each tenant's admins through the store's outbox by a dispatcher task
//! ([`crate::notify`]).
//!
//! Shutdown on SIGTERM or Ctrl-C: stop accepting connections, finish the requests in flight,
//! run a last judge pass over every tenant with unjudged events, work the outbox once more,
//! then exit.

pub mod admin;
pub mod api;
pub mod changes;
pub mod config;
pub mod detect;
pub mod ingest;
pub mod o365;
pub mod openapi;
pub mod ops;
pub mod watch;

use crate::notify::{Notifier, TenantContact};
use config::ServeConfig;
use detect::{Buffers, Engine};
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use stormwatch_store::{catalog, keys, ApiKey, PgStore, SqliteStore, Store, StoreError};

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("notify: {0}")]
    Notify(String),
}

/// Everything the handlers and the judge share.
pub struct State {
    pub config: ServeConfig,
    pub store: Arc<dyn Store>,
    /// The judge; replaced whole when rules or feeds change (see [`State::reload_engine`]).
    engine: RwLock<Arc<Engine>>,
    pub buffers: Buffers,
    /// Configured tenant ids.
    pub tenants: HashSet<String>,
    pub notifier: Notifier,
    pub watcher: watch::Watcher,
    pub puller: o365::Puller,
    pub metrics: ops::Metrics,
    pub key_cache: ops::KeyCache,
    pub limiter: ops::RateLimiter,
    pub ui_auth: crate::ui::auth::Auth,
    /// Held by a dispatch pass, so two passes never send the same delivery at once.
    dispatching: Mutex<()>,
    stopping: AtomicBool,
}

impl State {
    /// Opens the store, installs the configured keys, loads the rules and rebuilds the tenants'
    /// buffers from the stored events.
    pub fn open(config: ServeConfig) -> Result<(State, Vec<String>), ServeError> {
        let store: Arc<dyn Store> = match &config.store {
            Some(url) => Arc::new(PgStore::connect_in_schema(
                url,
                config.postgres_schema.as_deref(),
            )?),
            None => Arc::new(SqliteStore::open_dir(&config.data_dir)?),
        };
        install_keys(store.as_ref(), &config)?;
        let (engine, mut warnings) = build_engine(&config, store.as_ref())?;
        let tenants = config.tenants.iter().map(|t| t.id.clone()).collect();
        let contacts = config
            .tenants
            .iter()
            .map(|t| {
                let c = TenantContact {
                    name: t.name.clone(),
                    admins: t.admins.clone(),
                };
                (t.id.clone(), c)
            })
            .collect();
        let notifier = Notifier::new(&config.notify, contacts, config.incident_min_level)
            .map_err(ServeError::Notify)?;
        if config.notify.email.is_none() && config.tenants.iter().any(|t| !t.admins.is_empty()) {
            warnings.push(
                "tenants list admins but [notify.email] is not configured: no e-mail is sent"
                    .into(),
            );
        }
        let ui_auth = crate::ui::auth::Auth::new(config.users.clone(), config.ui.session_hours);
        let limiter = ops::RateLimiter::new(config.rate_limit_per_minute, config.rate_limit_burst);
        let state = State {
            config,
            store,
            engine: RwLock::new(Arc::new(engine)),
            buffers: Buffers::default(),
            tenants,
            notifier,
            watcher: watch::Watcher::default(),
            puller: o365::Puller::default(),
            metrics: ops::Metrics::default(),
            key_cache: ops::KeyCache::default(),
            limiter,
            ui_auth,
            dispatching: Mutex::new(()),
            stopping: AtomicBool::new(false),
        };
        for (tenant, events, unreadable) in ingest::restore(&state)? {
            tracing::info!(tenant = %tenant, events, "restored");
            if unreadable > 0 {
                warnings.push(format!(
                    "tenant {tenant}: {unreadable} stored record(s) no longer read; left out"
                ));
            }
        }
        Ok((state, warnings))
    }

    /// The judge as it is now.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Rebuilds the judge from the configuration and the stored rules and feeds, and marks
    /// every tenant dirty so the next pass re-judges its buffer with it (the automatic part of
    /// a retro-hunt). Returns the load warnings.
    pub fn reload_engine(&self) -> Result<Vec<String>, StoreError> {
        let (engine, warnings) = build_engine(&self.config, self.store.as_ref())?;
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(engine);
        self.buffers.mark_all_dirty();
        Ok(warnings)
    }

    /// Re-judges the stored events of `[since_ms, until_ms)` of each tenant with the current
    /// rules and feeds, storing what is found (known detections are recognised by fingerprint).
    pub fn retro_hunt(
        &self,
        tenants: &[String],
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(String, detect::Judged)>, StoreError> {
        let engine = self.engine();
        // At most a buffer's worth of events a tenant: the newest of the window.
        let retro_cap = u32::try_from(self.config.buffer_max_events).unwrap_or(u32::MAX);
        let mut out = Vec::new();
        for t in tenants {
            let stored = self.store.events_in(t, since_ms, until_ms, retro_cap)?;
            let (mut events, _) = ingest::events_of(&stored, t);
            events.sort_by_key(|e| e.core.time);
            let (j, _notes) = engine.judge(t, &events, self.store.as_ref(), now_ms())?;
            out.push((t.clone(), j));
        }
        Ok(out)
    }

    /// True once shutdown began (readiness answers 503).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// One judge pass over the dirty tenants, logged to stderr.
    pub fn judge_now(&self) {
        for (tenant, outcome, notes) in
            self.buffers
                .judge_dirty(&self.engine(), self.store.as_ref(), now_ms())
        {
            let m = &self.metrics;
            m.judge_passes.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(j) => {
                    m.detections_new
                        .fetch_add(j.new_detections as u64, Ordering::Relaxed);
                    m.incidents_new
                        .fetch_add(j.new_incidents as u64, Ordering::Relaxed);
                    tracing::info!(
                        tenant = %tenant,
                        events = j.events,
                        detections = j.detections,
                        new_detections = j.new_detections,
                        new_incidents = j.new_incidents,
                        "judged"
                    )
                }
                Err(e) => {
                    m.judge_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(tenant = %tenant, error = %e, "judging failed")
                }
            }
            for n in notes {
                tracing::info!(tenant = %tenant, note = %n, "detector note");
            }
        }
    }

    /// One pass over the notification outbox, logged to stderr.
    pub fn notify_now(&self) {
        let _one = self.dispatching.lock().unwrap_or_else(|p| p.into_inner());
        match self.notifier.dispatch(self.store.as_ref(), now_ms()) {
            Ok(d) => {
                let m = &self.metrics;
                m.notifications_sent
                    .fetch_add(d.sent as u64, Ordering::Relaxed);
                m.notifications_failed
                    .fetch_add(d.failed as u64, Ordering::Relaxed);
                if d.sent + d.failed > 0 {
                    tracing::info!(
                        sent = d.sent,
                        failed = d.failed,
                        finished = d.finished,
                        "notified"
                    );
                }
                for e in d.errors {
                    tracing::warn!(error = %e, "notification failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "working the outbox failed"),
        }
    }
}

/// The judge from the configuration and the rules and feeds uploaded to the store.
fn build_engine(
    config: &ServeConfig,
    store: &dyn Store,
) -> Result<(Engine, Vec<String>), StoreError> {
    Ok(Engine::build(
        config,
        &store.items(catalog::RULE)?,
        &store.items(catalog::FEED)?,
    ))
}

/// Runs `pass` on a blocking thread every `every`, until aborted.
fn repeat(every: Duration, state: &Arc<State>, pass: fn(&State)) -> tokio::task::JoinHandle<()> {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = Arc::clone(&state);
            if tokio::task::spawn_blocking(move || pass(&s)).await.is_err() {
                tracing::error!("a background pass panicked; continuing");
            }
        }
    })
}

/// Stores each configured key (hashed) unless the stored one already matches it.
fn install_keys(store: &dyn Store, config: &ServeConfig) -> Result<(), ServeError> {
    for k in &config.keys {
        let Some((id, secret)) = keys::parse(&k.key) else {
            continue; // validated already
        };
        let current = store.api_key(id)?;
        let same = current.as_ref().is_some_and(|c| {
            c.role == k.role
                && c.tenant == k.tenant
                && c.name == k.name
                && keys::verify_secret(secret, &c.hash)
        });
        if !same {
            store.put_api_key(&ApiKey {
                id: id.to_string(),
                name: k.name.clone(),
                role: k.role,
                tenant: k.tenant.clone(),
                hash: keys::hash_secret(secret)?,
                created_ms: now_ms(),
            })?;
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Serves on a bound listener until `shutdown` resolves, then drains, judges and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let judge = repeat(
        Duration::from_millis(state.config.judge_interval_ms),
        &state,
        State::judge_now,
    );
    let notify = repeat(
        Duration::from_millis(state.config.notify.interval_ms),
        &state,
        State::notify_now,
    );
    let watch = (!state.config.watch.is_empty()).then(|| {
        repeat(
            Duration::from_millis(state.config.watch_interval_ms),
            &state,
            State::watch_now,
        )
    });
    let pull = (!state.config.o365.is_empty())
        .then(|| repeat(Duration::from_secs(1), &state, State::pull_now));
    let flag = Arc::clone(&state);
    let result = axum::serve(listener, api::router(Arc::clone(&state)))
        .with_graceful_shutdown(async move {
            shutdown.await;
            flag.stopping.store(true, Ordering::Relaxed);
        })
        .await;
    for task in [judge, notify].into_iter().chain(watch).chain(pull) {
        task.abort();
        let _ = task.await;
    }
    // What was accepted but not judged yet is judged now, and what that found is told.
    let last = Arc::clone(&state);
    let _ = tokio::task::spawn_blocking(move || {
        last.judge_now();
        last.notify_now();
    })
    .await;
    result.map_err(ServeError::Io)
}

/// The CLI entry point: validate, open, bind, serve until SIGTERM or Ctrl-C.
/// `on_ready` gets the bound address and the startup warnings.
pub fn run(
    config: ServeConfig,
    on_ready: impl FnOnce(SocketAddr, &[String]),
) -> Result<(), ServeError> {
    let (state, warnings) = State::open(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let addr = state.config.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        on_ready(listener.local_addr()?, &warnings);
        serve(listener, Arc::new(state), crate::guard::shutdown_signal()).await
    })
}
