//! The REST API: routes, authentication and roles, JSON in and out.
//!
//! Every `/api/v1` route needs `Authorization: Bearer sw_<id>_<secret>`. An operator key sees
//! every tenant; a tenant-admin key sees its own tenant only — enforced by handing the store a
//! [`Scope`], so another tenant's incident is simply not found (404, never 403, so ids of other
//! tenants are not confirmed). Errors are one JSON shape: `{"error": "…"}` plus details.

use super::ingest::{self, IngestError};
use super::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use stormwatch_engine::event::format_time;
use stormwatch_store::{
    keys, ApiKey, DetectionQuery, Incident, IncidentQuery, Role, Scope, Status, Store,
};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({"error": message.into()}),
            retry_after: None,
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    pub(crate) fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "no such incident")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        r
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Malformed { rejected, count } => ApiError {
                status: StatusCode::BAD_REQUEST,
                body: json!({
                    "error": format!(
                        "{count} malformed record(s), first: {}; the batch was not accepted",
                        rejected.first().map_or("", |r| r.as_str())
                    ),
                    "rejected": rejected,
                }),
                retry_after: None,
            },
            IngestError::Tenant { record, message } => ApiError {
                status: StatusCode::FORBIDDEN,
                body: json!({
                    "error": format!("{record}: {message}; the batch was not accepted"),
                    "record": record,
                }),
                retry_after: None,
            },
            IngestError::Unreadable(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            IngestError::Store(e) => ApiError::internal(e),
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The caller, authenticated.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: ApiKey,
}

impl Principal {
    /// A caller acting for the service itself (a watched directory, a connector) or for a
    /// signed-in browser: the key it acts as holds no secret.
    pub fn acting_as(id: String, name: String, role: Role, tenant: Option<String>) -> Principal {
        Principal {
            key: ApiKey {
                id,
                name,
                role,
                tenant,
                hash: String::new(),
                created_ms: 0,
            },
        }
    }

    pub fn scope(&self) -> Scope {
        Scope::for_role(self.key.role, self.key.tenant.as_deref())
    }

    /// How the caller appears in the audit trail.
    pub fn who(&self) -> String {
        format!("key:{} ({})", self.key.id, self.key.name)
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

/// Checks the bearer key (argon2, off the executor).
pub async fn authenticate(state: &Arc<State>, headers: &HeaderMap) -> ApiResult<Principal> {
    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
        if let Some(p) = session_principal(state, headers) {
            limit(state, &p.key.id)?;
            return Ok(p);
        }
    }
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing Authorization: Bearer <api key>",
            )
        })?;
    let key = match state.key_cache.get(&bearer) {
        Some(k) => k,
        None => {
            let generation = state.key_cache.generation();
            let store = Arc::clone(&state.store);
            let presented = bearer.clone();
            let found = blocking(move || keys::authenticate(store.as_ref(), &presented))
                .await?
                .map_err(ApiError::internal)?;
            let Some(k) = found else {
                state.metrics.auth_failures.fetch_add(1, Relaxed);
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unknown or wrong API key",
                ));
            };
            state.key_cache.put(generation, &bearer, &k);
            k
        }
    };
    limit(state, &key.id)?;
    Ok(Principal { key })
}

/// Takes one request from the caller's bucket (a key id, or `user:NAME` for a session).
fn limit(state: &State, id: &str) -> ApiResult<()> {
    match state.limiter.take(id, std::time::Instant::now()) {
        Ok(()) => Ok(()),
        Err(wait) => {
            state.metrics.rate_limited.fetch_add(1, Relaxed);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit of {id} reached; retry in {wait} s"),
            );
            e.retry_after = Some(wait);
            Err(e)
        }
    }
}

/// A signed-in browser calling the API with its session cookie. A state-changing call must
/// also present the session's CSRF token in `X-CSRF-Token`.
fn session_principal(state: &State, headers: &HeaderMap) -> Option<Principal> {
    let token = crate::ui::cookie_token(headers)?;
    let s = state.ui_auth.session(&token, std::time::Instant::now())?;
    Some(Principal::acting_as(
        format!("user:{}", s.user),
        s.user,
        s.role,
        s.tenant,
    ))
}

/// A level's name (store levels are `0..=4`; anything above is critical).
pub(crate) fn level_name(l: u8) -> &'static str {
    super::config::LEVELS
        .get(usize::from(l))
        .copied()
        .unwrap_or("critical")
}

pub(crate) fn time_ms(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms).map_or(Value::Null, |t| json!(format_time(t)))
}

pub(crate) fn parse_time(s: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("time {s:?}: {e} (RFC 3339)"),
            )
        })
}

/// An incident as the API shows it.
pub fn incident_json(i: &Incident) -> Value {
    json!({
        "type": "incident",
        "id": i.id,
        "tenant": i.tenant,
        "rule": i.rule_id,
        "title": i.title,
        "actor": i.actor,
        "level": level_name(i.level),
        "status": i.status.name(),
        "assignee": i.assignee,
        "first": time_ms(i.first_ms),
        "last": time_ms(i.last_ms),
        "detections": i.detections,
        "created": time_ms(i.created_ms),
        "updated": time_ms(i.updated_ms),
    })
}

/// The routes. Ingest applies `max_body_bytes` itself (after authentication); the other routes
/// keep axum's default limit.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route(
            "/api/v1/ingest",
            post(ingest_handler).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/v1/incidents", get(list_incidents))
        .route("/api/v1/incidents/{id}", get(get_incident))
        .route("/api/v1/incidents/{id}/status", post(set_status))
        .route("/api/v1/detections", get(list_detections))
        .route("/api/v1/notifications", get(list_notifications))
        .merge(super::admin::routes())
        .merge(crate::ui::routes())
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            session_csrf,
        ))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// A state-changing `/api` call made with a session cookie (and no API key) must carry the
/// session's CSRF token in `X-CSRF-Token`: a cookie alone is what a forged cross-site request
/// would have.
async fn session_csrf(
    AxState(state): AxState<Arc<State>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let h = req.headers();
    let unsafe_method = !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    if unsafe_method
        && req.uri().path().starts_with("/api/")
        && !h.contains_key(axum::http::header::AUTHORIZATION)
    {
        if let Some(token) = crate::ui::cookie_token(h) {
            if let Some(s) = state.ui_auth.session(&token, std::time::Instant::now()) {
                let presented = h
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !crate::ui::auth::same(presented, &s.csrf) {
                    return ApiError::new(
                        StatusCode::FORBIDDEN,
                        "a session's state-changing call needs its X-CSRF-Token",
                    )
                    .into_response();
                }
            }
        }
    }
    next.run(req).await
}

/// One debug line per request: method, path (no query: it may name tenants), status, time.
async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

async fn openapi_json() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::openapi::json(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process runs", body = Object)))]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
async fn metrics(AxState(state): AxState<Arc<State>>) -> Response {
    let st = Arc::clone(&state);
    let pending = blocking(move || st.store.pending_count())
        .await
        .ok()
        .and_then(Result::ok);
    let body = state.metrics.render(pending, state.buffers.total());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "The store answers", body = Object), (status = 503, description = "The store does not answer, or shutdown began", body = Object)))]
async fn readyz(AxState(state): AxState<Arc<State>>) -> Response {
    let store = Arc::clone(&state.store);
    let probe = blocking(move || {
        store.incidents(&IncidentQuery {
            scope: Scope::All,
            status: None,
            limit: 1,
        })
    })
    .await;
    match probe {
        Ok(Ok(_)) if !state.stopping() => Json(json!({"status": "ready"})).into_response(),
        Ok(Ok(_)) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
        }
        Ok(Err(e)) => {
            // The detail (hosts, schemas) goes to the log, not to an unauthenticated caller.
            tracing::warn!(error = %e, "readiness: store does not answer");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store does not answer").into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(post, path = "/api/v1/ingest", tag = "ingest", security(("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1-200 characters: the batch is taken once per key and tenant")),
    request_body(description = "JSON lines, a JSON array, {\"value\"|\"records\": [...]} envelopes or Purview CSV; gzip or zstd allowed", content_type = "application/json"),
    responses((status = 202, description = "Stored and buffered: {accepted, bytes, tenants, idempotency_key}", body = Object),
              (status = 200, description = "A repeat of an idempotent batch (duplicate: true)", body = Object),
              (status = 400, description = "Malformed records (body:LINE: reason); nothing kept", body = Object),
              (status = 401, description = "Missing or wrong API key", body = Object),
              (status = 403, description = "A record of a tenant the key may not write", body = Object),
              (status = 413, description = "Body over max_body_bytes", body = Object),
              (status = 429, description = "Rate limit of the key; see Retry-After", body = Object)))]
async fn ingest_handler(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    // The key before the body: an unknown caller never makes the server buffer a body.
    let who = authenticate(&state, &headers).await?;
    let limit = state.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body over max_body_bytes ({limit} bytes); split the batch"),
        )
    };
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if idem.as_ref().is_some_and(|k| k.is_empty() || k.len() > 200) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key: 1 to 200 characters",
        ));
    }
    let st = Arc::clone(&state);
    let started = std::time::Instant::now();
    let out = blocking(move || ingest::ingest(&st, &who, body, idem.as_deref())).await?;
    let m = &state.metrics;
    let out = match out {
        Ok(v) => v,
        Err(e) => {
            let counter = match e {
                IngestError::Store(_) => &m.ingest_failed,
                _ => &m.ingest_refused,
            };
            counter.fetch_add(1, Relaxed);
            return Err(e.into());
        }
    };
    let code = if out.get("duplicate") == Some(&Value::Bool(true)) {
        m.ingest_duplicate.fetch_add(1, Relaxed);
        StatusCode::OK
    } else {
        m.ingest_accepted.fetch_add(1, Relaxed);
        m.ingest_latency(started.elapsed());
        StatusCode::ACCEPTED
    };
    Ok((code, Json(out)).into_response())
}

#[derive(Deserialize)]
struct IncidentParams {
    status: Option<String>,
    tenant: Option<String>,
    limit: Option<u32>,
}

/// Narrows the caller's scope by a `tenant` parameter (a tenant admin cannot widen it).
pub(crate) fn narrow(scope: Scope, tenant: Option<String>) -> Scope {
    match (scope, tenant) {
        (Scope::All, Some(t)) => Scope::Tenant(t),
        (Scope::Tenant(own), Some(t)) if t != own => Scope::Tenant(String::new()),
        (s, _) => s,
    }
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", security(("api_key" = [])),
    params(("status" = Option<String>, Query, description = "new, acknowledged, resolved or false_positive"),
           ("tenant" = Option<String>, Query, description = "narrow to one tenant"),
           ("limit" = Option<u32>, Query, description = "1-1000, default 100")),
    responses((status = 200, description = "{incidents: [...]}, most recently active first", body = Object), (status = 401, description = "Missing or wrong API key", body = Object)))]
async fn list_incidents(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(p): Query<IncidentParams>,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(Status::from_name(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("status {s:?}: new, acknowledged, resolved or false_positive"),
            )
        })?),
    };
    let q = IncidentQuery {
        scope: narrow(who.scope(), p.tenant),
        status,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
    };
    let store = Arc::clone(&state.store);
    let found = blocking(move || store.incidents(&q))
        .await?
        .map_err(ApiError::internal)?;
    let list: Vec<Value> = found.iter().map(incident_json).collect();
    Ok(Json(json!({"incidents": list})))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", security(("api_key" = [])),
    params(("id" = i64, Path, description = "incident id")),
    responses((status = 200, description = "The incident with detection_records, comments and audit", body = Object), (status = 404, description = "No such incident in the key's scope", body = Object)))]
async fn get_incident(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let scope = who.scope();
    let store = Arc::clone(&state.store);
    let got = blocking(move || -> stormwatch_store::Result<Option<Value>> {
        let Some(inc) = store.incident(&scope, id)? else {
            return Ok(None);
        };
        let mut q = DetectionQuery::new(scope.clone());
        q.incident_id = Some(id);
        q.limit = 1000;
        let detections: Vec<Value> = store.detections(&q)?.into_iter().map(|d| d.record).collect();
        let comments = store.comments(&scope, id)?;
        let audit = store.audit_trail(&scope, id)?;
        let mut v = incident_json(&inc);
        v["detection_records"] = json!(detections);
        v["comments"] = json!(comments
            .iter()
            .map(|c| json!({"id": c.id, "author": c.author, "text": c.text, "at": time_ms(c.at_ms)}))
            .collect::<Vec<_>>());
        v["audit"] = json!(audit
            .iter()
            .map(|a| json!({"actor": a.actor, "action": a.action, "detail": a.detail, "at": time_ms(a.at_ms)}))
            .collect::<Vec<_>>());
        Ok(Some(v))
    })
    .await?
    .map_err(ApiError::internal)?;
    got.map(Json).ok_or_else(ApiError::not_found)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    assignee: Option<String>,
    comment: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/status", tag = "incidents", security(("api_key" = [])),
    params(("id" = i64, Path, description = "incident id")),
    request_body(description = "{status, assignee?, comment?}", content_type = "application/json"),
    responses((status = 200, description = "The incident after the change (audited)", body = Object), (status = 400, description = "Unknown status or bad body", body = Object), (status = 404, description = "No such incident in the key's scope", body = Object)))]
async fn set_status(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let b: StatusBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("body: {e}; expected {{\"status\": …, \"assignee\"?: …, \"comment\"?: …}}"),
        )
    })?;
    let status = Status::from_name(&b.status).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "status {:?}: new, acknowledged, resolved or false_positive",
                b.status
            ),
        )
    })?;
    let scope = who.scope();
    let by = who.who();
    let store = Arc::clone(&state.store);
    let now = super::now_ms();
    let done = blocking(move || -> stormwatch_store::Result<Option<Incident>> {
        let Some(mut inc) = store.set_status(&scope, id, status, &by, now)? else {
            return Ok(None);
        };
        if let Some(a) = &b.assignee {
            let a = (!a.is_empty()).then_some(a.as_str());
            inc = store.assign(&scope, id, a, &by, now)?.unwrap_or(inc);
        }
        if let Some(c) = b.comment.as_deref().filter(|c| !c.is_empty()) {
            store.add_comment(&scope, id, &by, c, now)?;
        }
        Ok(Some(inc))
    })
    .await?
    .map_err(ApiError::internal)?;
    done.map(|i| Json(incident_json(&i)))
        .ok_or_else(ApiError::not_found)
}

#[derive(Deserialize)]
struct DetectionParams {
    tenant: Option<String>,
    rule: Option<String>,
    min_level: Option<String>,
    since: Option<String>,
    until: Option<String>,
    incident: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/detections", tag = "incidents", security(("api_key" = [])),
    params(("tenant" = Option<String>, Query, description = "narrow to one tenant"), ("rule" = Option<String>, Query, description = "rule id"),
           ("min_level" = Option<String>, Query, description = "informational..critical"), ("since" = Option<String>, Query, description = "RFC 3339"),
           ("until" = Option<String>, Query, description = "RFC 3339"), ("incident" = Option<i64>, Query, description = "incident id"),
           ("limit" = Option<u32>, Query, description = "1-1000, default 100")),
    responses((status = 200, description = "{detections: [{id, incident_id, detection}]}, newest first", body = Object)))]
async fn list_detections(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(p): Query<DetectionParams>,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let mut q = DetectionQuery::new(narrow(who.scope(), p.tenant));
    q.rule_id = p.rule;
    if let Some(l) = p.min_level {
        let n = super::config::LEVELS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(&l))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "min_level {l:?}: one of {}",
                        super::config::LEVELS.join(", ")
                    ),
                )
            })?;
        q.min_level = Some(n as u8);
    }
    q.since_ms = p.since.as_deref().map(parse_time).transpose()?;
    q.until_ms = p.until.as_deref().map(parse_time).transpose()?;
    q.incident_id = p.incident;
    q.limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let store = Arc::clone(&state.store);
    let found = blocking(move || store.detections(&q))
        .await?
        .map_err(ApiError::internal)?;
    let list: Vec<Value> = found
        .into_iter()
        .map(|d| json!({"id": d.id, "incident_id": d.incident_id, "detection": d.record}))
        .collect();
    Ok(Json(json!({"detections": list})))
}

#[derive(Deserialize)]
struct NotificationParams {
    tenant: Option<String>,
    incident: Option<i64>,
    limit: Option<u32>,
}

/// A notification as the API shows it: its state and each channel's delivery.
fn notification_json(n: &stormwatch_store::Notification) -> Value {
    let deliveries: Vec<Value> = n
        .deliveries
        .iter()
        .map(|d| {
            json!({
                "channel": d.channel,
                "attempts": d.attempts,
                "sent": d.sent_ms.map(time_ms),
                "next_attempt": (d.sent_ms.is_none() && d.next_ms != crate::notify::GAVE_UP)
                    .then(|| time_ms(d.next_ms)),
                "gave_up": d.sent_ms.is_none() && d.next_ms == crate::notify::GAVE_UP,
                "last_error": d.last_error,
            })
        })
        .collect();
    json!({
        "id": n.id,
        "tenant": n.tenant,
        "incident_id": n.incident_id,
        "state": n.state,
        "created": time_ms(n.created_ms),
        "done": n.done_ms.map(time_ms),
        "deliveries": deliveries,
    })
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("api_key" = [])),
    params(("tenant" = Option<String>, Query, description = "narrow to one tenant"), ("incident" = Option<i64>, Query, description = "incident id"), ("limit" = Option<u32>, Query, description = "1-1000")),
    responses((status = 200, description = "{notifications: [...]} with each channel's deliveries", body = Object)))]
async fn list_notifications(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(p): Query<NotificationParams>,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let scope = narrow(who.scope(), p.tenant);
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let store = Arc::clone(&state.store);
    let found = blocking(move || store.notifications(&scope, p.incident, limit))
        .await?
        .map_err(ApiError::internal)?;
    let list: Vec<Value> = found.iter().map(notification_json).collect();
    Ok(Json(json!({"notifications": list})))
}

/// Marker so the store trait object is usable across handlers.
pub type SharedStore = Arc<dyn Store>;
