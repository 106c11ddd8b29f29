//! The mailbox page (who read this mailbox, with which app, from where) and the management
//! pages: rules and IOC feeds (upload, remove, retro-hunt; operators) and settings
//! (notification channels and admins; API keys for operators).

use super::html::{chart_data, csrf_field, esc, page, table};
use super::mail;
use super::pages::app_label;
use super::{form_csrf, signed_in, Ui, UiResult};
use crate::serve::admin::validate;
use crate::serve::api::{blocking, parse_time};
use crate::serve::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Arc;
use stormwatch_store::{catalog, CatalogItem, Role};

#[derive(Deserialize)]
pub struct MailboxParams {
    tenant: Option<String>,
}

pub async fn mailbox(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(upn): Path<String>,
    Query(p): Query<MailboxParams>,
) -> UiResult {
    let v = signed_in(&state, &headers)?;
    let tenant = match (v.scope().tenant(), p.tenant) {
        (Some(own), _) => own.to_string(),
        (None, Some(t)) if state.tenants.contains(&t) => t,
        _ => return Err(Ui::Bad("Name the tenant (?tenant=…).".into())),
    };
    let upn = upn.to_lowercase();
    let st = Arc::clone(&state);
    let (t2, u2) = (tenant.clone(), upn.clone());
    let reads = blocking(move || {
        let stored = mail::stored(&st, &t2, i64::MIN, i64::MAX)?;
        Ok::<_, stormwatch_store::StoreError>(mail::reads(&stored, &t2, Some(&HashSet::from([u2]))))
    })
    .await
    .map_err(Ui::from)?
    .map_err(|_| Ui::Internal)?;
    let mut pairs = std::collections::BTreeMap::<(String, String), (usize, i64, i64)>::new();
    for r in &reads {
        let e = pairs
            .entry((r.app.clone(), r.ip.clone()))
            .or_insert((0, i64::MAX, i64::MIN));
        e.0 += 1;
        e.1 = e.1.min(r.time_ms);
        e.2 = e.2.max(r.time_ms);
    }
    let fmt = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|((app, ip), (n, first, last))| {
            vec![
                esc(&app_label(app)),
                esc(ip),
                n.to_string(),
                esc(&fmt(*first)),
                esc(&fmt(*last)),
            ]
        })
        .collect();
    let chart = mail::timeline(&reads, &HashSet::new(), app_label);
    let body = format!(
        "<p>Tenant {}: {} reads of this mailbox.</p>\
         <figure><canvas id=\"timeline\" class=\"chart-timeline\" data-source=\"timeline-data\" role=\"img\" \
         aria-label=\"Reads of this mailbox over time by app and address\"></canvas></figure>{}{}",
        esc(&tenant),
        reads.len(),
        chart_data("timeline-data", &chart),
        table("Who read this mailbox", &["App", "Address", "Reads", "First (UTC)", "Last (UTC)"], &rows)
    );
    Ok(Html(page(&format!("Mailbox {upn}"), Some(&v.session), &body)).into_response())
}

pub async fn rules(AxState(state): AxState<Arc<State>>, headers: HeaderMap) -> UiResult {
    let v = signed_in(&state, &headers)?;
    let st = Arc::clone(&state);
    let (rules, feeds) = blocking(move || {
        Ok::<_, stormwatch_store::StoreError>((
            st.store.items(catalog::RULE)?,
            st.store.items(catalog::FEED)?,
        ))
    })
    .await
    .map_err(Ui::from)?
    .map_err(|_| Ui::Internal)?;
    let engine = state.engine();
    let csrf = csrf_field(&v.session);
    let operator = v.session.role == Role::Operator;
    let row = |i: &CatalogItem| {
        let del = if operator {
            format!(
                "<form method=\"post\" action=\"/ui/rules\" class=\"inline\">{csrf}<input type=\"hidden\" name=\"kind\" value=\"{}\">\
                 <input type=\"hidden\" name=\"name\" value=\"{}\"><input type=\"hidden\" name=\"delete\" value=\"1\">\
                 <button type=\"submit\">Remove</button></form>",
                esc(&i.kind),
                esc(&i.name)
            )
        } else {
            String::new()
        };
        vec![esc(&i.name), esc(&i.author), i.text.len().to_string(), del]
    };
    let mut body = format!(
        "<p>{} Sigma rules and {} indicators loaded (configuration, uploads and the built-in storm-0558 feed).</p>{}{}",
        engine.rule_count(),
        engine.indicator_count(),
        table("Uploaded Sigma rules", &["Name", "Uploaded by", "Bytes", ""], &rules.iter().map(row).collect::<Vec<_>>()),
        table("Uploaded IOC feeds", &["Name", "Uploaded by", "Bytes", ""], &feeds.iter().map(row).collect::<Vec<_>>())
    );
    if operator {
        body += &format!(
            "<section aria-labelledby=\"up\"><h2 id=\"up\">Upload</h2><form method=\"post\" action=\"/ui/rules\" class=\"stack\">{csrf}\
             <label for=\"kind\">Kind</label><select id=\"kind\" name=\"kind\"><option value=\"rule\">Sigma rule (YAML)</option>\
             <option value=\"feed\">IOC feed (STIX 2.1, CSV or one indicator a line)</option></select>\
             <label for=\"name\">Name</label><input id=\"name\" name=\"name\" required pattern=\"[A-Za-z0-9._-]{{1,100}}\">\
             <label for=\"text\">Content</label><textarea id=\"text\" name=\"text\" rows=\"10\" required></textarea>\
             <button type=\"submit\">Upload and re-judge</button></form></section>"
        );
    }
    body += &format!(
        "<section aria-labelledby=\"rh\"><h2 id=\"rh\">Retro-hunt</h2><p>Re-judge stored events of a window with today's rules and feeds.</p>\
         <form method=\"post\" action=\"/ui/retro-hunt\" class=\"inline-form\">{csrf}\
         <label for=\"since\">Since (RFC 3339)</label><input id=\"since\" name=\"since\" required placeholder=\"2023-05-01T00:00:00Z\">\
         <label for=\"until\">Until</label><input id=\"until\" name=\"until\" placeholder=\"(now)\">\
         <button type=\"submit\">Retro-hunt</button></form></section>"
    );
    Ok(Html(page("Rules and feeds", Some(&v.session), &body)).into_response())
}

#[derive(Deserialize)]
pub struct UploadForm {
    csrf: String,
    kind: String,
    name: String,
    text: Option<String>,
    delete: Option<String>,
}

pub async fn upload(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<UploadForm>,
) -> UiResult {
    let v = signed_in(&state, &headers)?;
    form_csrf(&v, &f.csrf)?;
    v.operator()?;
    let kind = match f.kind.as_str() {
        "rule" => catalog::RULE,
        "feed" => catalog::FEED,
        _ => return Err(Ui::Bad("kind: rule or feed".into())),
    };
    let by = format!("user:{}", v.session.user);
    let st = Arc::clone(&state);
    if f.delete.is_some() {
        let name = f.name.clone();
        blocking(move || st.remove_upload(kind, &name))
            .await
            .map_err(Ui::from)?
            .map_err(|_| Ui::Internal)?;
        return Ok(Redirect::to("/ui/rules").into_response());
    }
    let text = f.text.unwrap_or_default();
    crate::serve::admin::check_name(&f.name)
        .map_err(|_| Ui::Bad("Name: 1 to 100 of A-Z a-z 0-9 . _ -".into()))?;
    if let Err(problems) = validate(kind, &f.name, &text) {
        return Err(Ui::Bad(format!("Nothing stored: {}", problems.join("; "))));
    }
    let item = CatalogItem {
        kind: kind.into(),
        name: f.name,
        text,
        author: by,
        created_ms: crate::serve::now_ms(),
    };
    blocking(move || st.put_upload(&item))
        .await
        .map_err(Ui::from)?
        .map_err(|_| Ui::Internal)?;
    Ok(Redirect::to("/ui/rules").into_response())
}

#[derive(Deserialize)]
pub struct HuntForm {
    csrf: String,
    since: String,
    until: Option<String>,
}

pub async fn retro_hunt(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<HuntForm>,
) -> UiResult {
    let v = signed_in(&state, &headers)?;
    form_csrf(&v, &f.csrf)?;
    let since =
        parse_time(f.since.trim()).map_err(|_| Ui::Bad("since: an RFC 3339 time".into()))?;
    let until = match f.until.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        Some(u) => parse_time(u).map_err(|_| Ui::Bad("until: an RFC 3339 time".into()))?,
        None => i64::MAX,
    };
    let tenants = state.tenant_ids_in(&v.scope());
    let st = Arc::clone(&state);
    let judged = blocking(move || st.retro_hunt(&tenants, since, until))
        .await
        .map_err(Ui::from)?
        .map_err(|_| Ui::Internal)?;
    let rows: Vec<Vec<String>> = judged
        .iter()
        .map(|(t, j)| {
            vec![
                esc(t),
                j.events.to_string(),
                j.detections.to_string(),
                j.new_detections.to_string(),
                j.new_incidents.to_string(),
            ]
        })
        .collect();
    let body = table(
        "Retro-hunt",
        &[
            "Tenant",
            "Events",
            "Detections",
            "New detections",
            "New incidents",
        ],
        &rows,
    ) + "<p><a href=\"/ui/incidents\">To the incidents</a></p>";
    Ok(Html(page("Retro-hunt done", Some(&v.session), &body)).into_response())
}

pub async fn settings(AxState(state): AxState<Arc<State>>, headers: HeaderMap) -> UiResult {
    let v = signed_in(&state, &headers)?;
    let scope = v.scope();
    let n = &state.config.notify;
    let admins: Vec<Vec<String>> = state
        .tenants_in(&scope)
        .map(|t| vec![esc(&t.id), esc(&t.name), esc(&t.admins.join(", "))])
        .collect();
    let channels = state
        .notifier
        .channel_names()
        .iter()
        .map(|c| esc(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut body = format!(
        "<section aria-labelledby=\"nt\"><h2 id=\"nt\">Notifications</h2><p>Channels: {}. Incidents at {} or above are told.</p>{}</section>",
        if channels.is_empty() { "none configured".into() } else { channels },
        esc(n.min_level.map_or("the incident level", crate::serve::api::level_name)),
        table("Who is told (e-mail)", &["Tenant", "Name", "Admins"], &admins)
    );
    if v.session.role == Role::Operator {
        let st = Arc::clone(&state);
        let keys_list = blocking(move || st.store.api_keys())
            .await
            .map_err(Ui::from)?
            .map_err(|_| Ui::Internal)?;
        let csrf = csrf_field(&v.session);
        let rows: Vec<Vec<String>> = keys_list
            .iter()
            .map(|k| {
                vec![
                    esc(&k.id),
                    esc(&k.name),
                    esc(k.role.name()),
                    esc(k.tenant.as_deref().unwrap_or("every tenant")),
                    format!("<form method=\"post\" action=\"/ui/api-keys/{}/delete\" class=\"inline\">{csrf}<button type=\"submit\">Revoke</button></form>", esc(&k.id)),
                ]
            })
            .collect();
        let mut opts = String::new();
        for t in &state.config.tenants {
            opts += &format!("<option value=\"{0}\">{0}</option>", esc(&t.id));
        }
        body += &format!(
            "<section aria-labelledby=\"ak\"><h2 id=\"ak\">API keys</h2>{}\
             <form method=\"post\" action=\"/ui/api-keys\" class=\"inline-form\">{csrf}\
             <label for=\"kname\">Name</label><input id=\"kname\" name=\"name\" required>\
             <label for=\"ktenant\">Tenant</label><select id=\"ktenant\" name=\"tenant\">{opts}</select>\
             <button type=\"submit\">Create a tenant key</button></form></section>",
            table("Keys", &["Id", "Name", "Role", "Tenant", ""], &rows)
        );
    }
    Ok(Html(page("Settings", Some(&v.session), &body)).into_response())
}

#[derive(Deserialize)]
pub struct KeyForm {
    csrf: String,
    name: String,
    tenant: String,
}

pub async fn create_key(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<KeyForm>,
) -> UiResult {
    let v = signed_in(&state, &headers)?;
    form_csrf(&v, &f.csrf)?;
    v.operator()?;
    if !state.tenants.contains(&f.tenant) || f.name.trim().is_empty() || f.name.len() > 100 {
        return Err(Ui::Bad("Give a name and a configured tenant.".into()));
    }
    let st = Arc::clone(&state);
    let (_, full) = blocking(move || st.issue_key(&f.name, Role::TenantAdmin, Some(f.tenant)))
        .await
        .map_err(Ui::from)?
        .map_err(|_| Ui::Internal)?;
    let body = format!(
        "<p>The new key, shown this once (only its hash is stored):</p><p><code class=\"secret\">{}</code></p>\
         <p><a href=\"/ui/settings\">Back to the settings</a></p>",
        esc(&full)
    );
    Ok(Html(page("API key created", Some(&v.session), &body)).into_response())
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn delete_key(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> UiResult {
    let v = signed_in(&state, &headers)?;
    form_csrf(&v, &f.csrf)?;
    v.operator()?;
    let st = Arc::clone(&state);
    blocking(move || st.revoke_key(&id))
        .await
        .map_err(Ui::from)?
        .map_err(|_| Ui::Internal)?;
    Ok(Redirect::to("/ui/settings").into_response())
}
