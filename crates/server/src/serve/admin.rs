//! The API's configuration and investigation routes, beside the incident routes of [`super::api`]:
//! uploaded Sigma rules and IOC feeds (with the retro-hunt they call for), tenants, API keys,
//! stored events, notification settings, and incident comments and assignment.
//!
//! Roles as everywhere: an operator sees and changes everything; a tenant admin reads its own
//! tenant (tenants, events, notification settings), retro-hunts its own tenant, comments on and
//! assigns its own incidents, and may not upload rules or feeds or manage keys (403).
//!
//! Rules and feeds: `PUT` stores an upload only if it loads (400 lists each problem with its
//! line); the judge is rebuilt at once and every tenant's buffer is re-judged by the next pass,
//! which is the retro-hunt over the buffer window; `POST /api/v1/retro-hunt` re-judges a chosen
//! window of the stored events and answers what it found.

use super::api::{
    authenticate, blocking, narrow, parse_time, time_ms, ApiError, ApiResult, Principal,
};
use super::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path as FsPath;
use std::sync::Arc;
use stormwatch_engine::detect::ioc;
use stormwatch_sigma::{Config as SigmaConfig, RuleSet};
use stormwatch_store::{catalog, ApiKey, CatalogItem, Role};

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/rules", get(list_rules))
        .route("/api/v1/rules/{name}", put(put_rule).delete(delete_rule))
        .route("/api/v1/ioc-feeds", get(list_feeds))
        .route(
            "/api/v1/ioc-feeds/{name}",
            put(put_feed).delete(delete_feed),
        )
        .route("/api/v1/retro-hunt", post(retro_hunt))
        .route("/api/v1/tenants", get(tenants))
        .route("/api/v1/api-keys", get(list_keys).post(create_key))
        .route("/api/v1/api-keys/{id}", axum::routing::delete(delete_key))
        .route("/api/v1/events", get(events))
        .route("/api/v1/notification-settings", get(notification_settings))
        .route("/api/v1/incidents/{id}/comments", post(comment))
        .route("/api/v1/incidents/{id}/assignee", post(assignee))
}

fn operator(who: &Principal) -> ApiResult<()> {
    match who.key.role {
        Role::Operator => Ok(()),
        Role::TenantAdmin => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "operators only: this changes every tenant's detection",
        )),
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// A comment's text: 1 to 10,000 characters.
pub(crate) fn check_comment(text: &str) -> Result<(), String> {
    if text.trim().is_empty() || text.len() > 10_000 {
        Err("text: 1 to 10000 characters".into())
    } else {
        Ok(())
    }
}

/// `[A-Za-z0-9._-]{1,100}`: names of uploads.
pub(crate) fn check_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(bad(format!("name {name:?}: 1 to 100 of A-Z a-z 0-9 . _ -")))
    }
}

fn item_json(i: &CatalogItem) -> Value {
    json!({"name": i.name, "author": i.author, "created": time_ms(i.created_ms), "bytes": i.text.len()})
}

async fn list_items(
    state: Arc<State>,
    headers: HeaderMap,
    kind: &'static str,
) -> ApiResult<Json<Value>> {
    authenticate(&state, &headers).await?;
    let st = Arc::clone(&state);
    let items = blocking(move || st.store.items(kind))
        .await?
        .map_err(ApiError::internal)?;
    let engine = state.engine();
    Ok(Json(json!({
        "uploaded": items.iter().map(item_json).collect::<Vec<_>>(),
        "sigma_rules_loaded": engine.rule_count(),
        "indicators_loaded": engine.indicator_count(),
    })))
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules and feeds", security(("api_key" = [])), responses((status = 200, description = "Uploaded rule files and the number of rules loaded", body = Object)))]
async fn list_rules(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    list_items(state, headers, catalog::RULE).await
}

#[utoipa::path(get, path = "/api/v1/ioc-feeds", tag = "rules and feeds", security(("api_key" = [])), responses((status = 200, description = "Uploaded feeds and the number of indicators loaded", body = Object)))]
async fn list_feeds(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    list_items(state, headers, catalog::FEED).await
}

/// Checks an upload loads; the problems (each with its line) otherwise.
pub(crate) fn validate(kind: &str, name: &str, text: &str) -> Result<usize, Vec<String>> {
    if kind == catalog::RULE {
        let file = format!("api:rules/{name}");
        let (set, errors) =
            RuleSet::from_yaml_str(text, FsPath::new(&file), &SigmaConfig::builtin());
        if !errors.is_empty() {
            return Err(errors.iter().map(|e| e.to_string()).collect());
        }
        if set.is_empty() {
            return Err(vec![format!("{file}: no Sigma rule in the body")]);
        }
        Ok(set.len())
    } else {
        match ioc::parse_feed(text, &format!("api:feeds/{name}")) {
            Ok((list, _)) if list.is_empty() => {
                Err(vec![format!("api:feeds/{name}: no indicator in the body")])
            }
            Ok((list, _)) => Ok(list.len()),
            Err(e) => Err(vec![e.to_string()]),
        }
    }
}

async fn put_item(
    state: Arc<State>,
    headers: HeaderMap,
    kind: &'static str,
    name: String,
    body: String,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    operator(&who)?;
    check_name(&name)?;
    let count = validate(kind, &name, &body).map_err(|problems| {
        let mut e = bad(format!("{} problem(s); nothing stored", problems.len()));
        e.body["problems"] = json!(problems);
        e
    })?;
    let item = CatalogItem {
        kind: kind.into(),
        name,
        text: body,
        author: who.who(),
        created_ms: super::now_ms(),
    };
    let st = Arc::clone(&state);
    let warnings = blocking(move || st.put_upload(&item))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "stored": true,
        "loaded": count,
        "warnings": warnings,
        "retro_hunt": "every tenant's buffer is re-judged by the next pass; POST /api/v1/retro-hunt for another window",
    })))
}

#[utoipa::path(put, path = "/api/v1/rules/{name}", tag = "rules and feeds", security(("api_key" = [])),
    params(("name" = String, Path, description = "1-100 of A-Z a-z 0-9 . _ -")),
    request_body(description = "Sigma YAML, one or more documents", content_type = "application/yaml"),
    responses((status = 200, description = "Stored and loaded; buffers are re-judged", body = Object), (status = 400, description = "{problems: [api:rules/NAME:LINE: ...]}; nothing stored", body = Object), (status = 403, description = "Operators only", body = Object)))]
async fn put_rule(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> ApiResult<Json<Value>> {
    put_item(state, headers, catalog::RULE, name, body).await
}

#[utoipa::path(put, path = "/api/v1/ioc-feeds/{name}", tag = "rules and feeds", security(("api_key" = [])),
    params(("name" = String, Path, description = "1-100 of A-Z a-z 0-9 . _ -")),
    request_body(description = "STIX 2.1 bundle, CSV or one indicator a line", content_type = "text/plain"),
    responses((status = 200, description = "Stored and loaded; buffers are re-judged", body = Object), (status = 400, description = "{problems: [...]}; nothing stored", body = Object), (status = 403, description = "Operators only", body = Object)))]
async fn put_feed(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> ApiResult<Json<Value>> {
    put_item(state, headers, catalog::FEED, name, body).await
}

async fn delete_item(
    state: Arc<State>,
    headers: HeaderMap,
    kind: &'static str,
    name: String,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    operator(&who)?;
    let st = Arc::clone(&state);
    let gone = blocking(move || st.remove_upload(kind, &name))
        .await?
        .map_err(ApiError::internal)?;
    if gone {
        Ok(Json(json!({"deleted": true})))
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "no such upload"))
    }
}

#[utoipa::path(delete, path = "/api/v1/rules/{name}", tag = "rules and feeds", security(("api_key" = [])), params(("name" = String, Path, description = "upload name")), responses((status = 200, description = "Removed and unloaded", body = Object), (status = 404, description = "No such upload", body = Object)))]
async fn delete_rule(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    delete_item(state, headers, catalog::RULE, name).await
}

#[utoipa::path(delete, path = "/api/v1/ioc-feeds/{name}", tag = "rules and feeds", security(("api_key" = [])), params(("name" = String, Path, description = "upload name")), responses((status = 200, description = "Removed and unloaded", body = Object), (status = 404, description = "No such upload", body = Object)))]
async fn delete_feed(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    delete_item(state, headers, catalog::FEED, name).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetroHunt {
    since: String,
    until: Option<String>,
    tenant: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/retro-hunt", tag = "rules and feeds", security(("api_key" = [])),
    request_body(description = "{since, until?, tenant?} (RFC 3339)", content_type = "application/json"),
    responses((status = 200, description = "Per tenant: events, detections, new_detections, new_incidents", body = Object)))]
async fn retro_hunt(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let r: RetroHunt = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "body: {e}; expected {{\"since\": RFC 3339, \"until\"?: …, \"tenant\"?: …}}"
        ))
    })?;
    let since = parse_time(&r.since)?;
    let until = r
        .until
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MAX);
    let tenants = state.tenant_ids_in(&narrow(who.scope(), r.tenant));
    let st = Arc::clone(&state);
    let judged = blocking(move || st.retro_hunt(&tenants, since, until))
        .await?
        .map_err(ApiError::internal)?;
    let per: serde_json::Map<String, Value> = judged
        .into_iter()
        .map(|(t, j)| {
            (
                t,
                json!({"events": j.events, "detections": j.detections,
                       "new_detections": j.new_detections, "new_incidents": j.new_incidents}),
            )
        })
        .collect();
    Ok(Json(json!({"tenants": per})))
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", security(("api_key" = [])), responses((status = 200, description = "Configured tenants in the key's scope", body = Object)))]
async fn tenants(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let scope = who.scope();
    let list: Vec<Value> = state
        .tenants_in(&scope)
        .map(|t| json!({"id": t.id, "name": t.name, "admins": t.admins, "buffered_events": state.buffers.len(&t.id)}))
        .collect();
    Ok(Json(json!({"tenants": list})))
}

fn key_json(k: &ApiKey) -> Value {
    json!({"id": k.id, "name": k.name, "role": k.role.name(), "tenant": k.tenant, "created": time_ms(k.created_ms)})
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api keys", security(("api_key" = [])), responses((status = 200, description = "Keys without their hashes", body = Object), (status = 403, description = "Operators only", body = Object)))]
async fn list_keys(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    operator(&who)?;
    let st = Arc::clone(&state);
    let list = blocking(move || st.store.api_keys())
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"api_keys": list.iter().map(key_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    role: String,
    tenant: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api keys", security(("api_key" = [])),
    request_body(description = "{name, role, tenant?}", content_type = "application/json"),
    responses((status = 201, description = "The key, shown once", body = Object), (status = 400, description = "Bad role or tenant", body = Object), (status = 403, description = "Operators only", body = Object)))]
async fn create_key(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let who = authenticate(&state, &headers).await?;
    operator(&who)?;
    let k: NewKey = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "body: {e}; expected {{\"name\", \"role\", \"tenant\"?}}"
        ))
    })?;
    let role = Role::from_name(&k.role).ok_or_else(|| bad("role: operator or tenant_admin"))?;
    match (role, &k.tenant) {
        (Role::TenantAdmin, Some(t)) if state.tenants.contains(t) => {}
        (Role::TenantAdmin, _) => {
            return Err(bad("tenant: a tenant_admin key needs a configured tenant"))
        }
        (Role::Operator, Some(_)) => {
            return Err(bad(
                "tenant: an operator key sees every tenant; drop tenant",
            ))
        }
        (Role::Operator, None) => {}
    }
    if k.name.trim().is_empty() || k.name.len() > 100 {
        return Err(bad("name: 1 to 100 characters"));
    }
    let st = Arc::clone(&state);
    let (key, full) = blocking(move || st.issue_key(&k.name, role, k.tenant))
        .await?
        .map_err(ApiError::internal)?;
    let mut v = key_json(&key);
    v["key"] = json!(full);
    v["note"] = json!("the key is shown once; only its hash is stored");
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api keys", security(("api_key" = [])), params(("id" = String, Path, description = "key id")), responses((status = 200, description = "Revoked at once", body = Object), (status = 404, description = "No such key", body = Object)))]
async fn delete_key(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    operator(&who)?;
    let st = Arc::clone(&state);
    let gone = blocking(move || st.revoke_key(&id))
        .await?
        .map_err(ApiError::internal)?;
    if gone {
        Ok(Json(json!({"deleted": true})))
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "no such key"))
    }
}

#[derive(Deserialize)]
struct EventParams {
    tenant: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "tenants", security(("api_key" = [])),
    params(("tenant" = Option<String>, Query, description = "required for operators"), ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339"), ("limit" = Option<u32>, Query, description = "1-1000")),
    responses((status = 200, description = "{events: [{time, record}]}, newest first", body = Object), (status = 400, description = "No tenant named", body = Object)))]
async fn events(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(p): Query<EventParams>,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let scope = narrow(who.scope(), p.tenant);
    let tenant = match scope.tenant() {
        Some(t) => t.to_string(),
        None => return Err(bad("tenant: name the tenant whose events to list")),
    };
    let since = p
        .since
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MIN);
    let until = p
        .until
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MAX);
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let st = Arc::clone(&state);
    // The newest `limit` events of the window, in SQL.
    let stored = blocking(move || st.store.events_in(&tenant, since, until, limit))
        .await?
        .map_err(ApiError::internal)?;
    let list: Vec<Value> = stored
        .iter()
        .rev()
        .map(|e| {
            json!({"time": time_ms(e.time_ms), "record": serde_json::from_str::<Value>(&e.record).unwrap_or(Value::Null)})
        })
        .collect();
    Ok(Json(json!({"events": list})))
}

#[utoipa::path(get, path = "/api/v1/notification-settings", tag = "notifications", security(("api_key" = [])), responses((status = 200, description = "Channels, min_level, public_url, admins per tenant in scope", body = Object)))]
async fn notification_settings(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let scope = who.scope();
    let n = &state.config.notify;
    let admins: serde_json::Map<String, Value> = state
        .tenants_in(&scope)
        .map(|t| (t.id.clone(), json!(t.admins)))
        .collect();
    Ok(Json(json!({
        "channels": state.notifier.channel_names(),
        "min_level": n.min_level.map(super::api::level_name),
        "public_url": n.public_url,
        "admins": admins,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/comments", tag = "incidents", security(("api_key" = [])), params(("id" = i64, Path, description = "incident id")), request_body(description = "{text}", content_type = "application/json"), responses((status = 201, description = "The comment (audited)", body = Object), (status = 404, description = "No such incident in the key's scope", body = Object)))]
async fn comment(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let who = authenticate(&state, &headers).await?;
    let c: CommentBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("body: {e}; expected {{\"text\"}}")))?;
    check_comment(&c.text).map_err(bad)?;
    let (scope, by) = (who.scope(), who.who());
    let st = Arc::clone(&state);
    let added = blocking(move || {
        st.store
            .add_comment(&scope, id, &by, &c.text, super::now_ms())
    })
    .await?
    .map_err(ApiError::internal)?
    .ok_or_else(ApiError::not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": added.id, "author": added.author, "text": added.text, "at": time_ms(added.at_ms)}),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssigneeBody {
    assignee: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/assignee", tag = "incidents", security(("api_key" = [])), params(("id" = i64, Path, description = "incident id")), request_body(description = "{assignee: string or null}", content_type = "application/json"), responses((status = 200, description = "The incident (audited)", body = Object), (status = 404, description = "No such incident in the key's scope", body = Object)))]
async fn assignee(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let who = authenticate(&state, &headers).await?;
    let a: AssigneeBody = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "body: {e}; expected {{\"assignee\": string or null}}"
        ))
    })?;
    let (scope, by) = (who.scope(), who.who());
    let st = Arc::clone(&state);
    let inc = blocking(move || {
        let a = a.assignee.filter(|x| !x.is_empty());
        st.store
            .assign(&scope, id, a.as_deref(), &by, super::now_ms())
    })
    .await?
    .map_err(ApiError::internal)?
    .ok_or_else(ApiError::not_found)?;
    Ok(Json(super::api::incident_json(&inc)))
}
