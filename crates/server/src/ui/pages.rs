//! The investigation pages: the overview per tenant, the incident list, the incident page with
//! its mail-access timeline, and the incident actions (acknowledge, resolve, false positive,
//! assign, comment).

use super::html::{chart_data, csrf_field, esc, level, page, table, url_part};
use super::mail::{self, Read};
use super::{form_csrf, signed_in, Ui, UiResult};
use crate::serve::api::{blocking, incident_json, ApiError};
use crate::serve::State;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use stormwatch_engine::detect::apps::first_party;
use stormwatch_store::{DetectionQuery, IncidentQuery, Scope, Status};

/// An app id with its first-party name where known.
pub fn app_label(id: &str) -> String {
    match first_party(id) {
        Some(f) => format!("{} ({id})", f.name),
        None => id.to_string(),
    }
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

pub async fn overview(AxState(state): AxState<Arc<State>>, headers: HeaderMap) -> UiResult {
    let s = signed_in(&state, &headers)?;
    let scope = s.scope();
    let st = Arc::clone(&state);
    let body = blocking(move || -> Result<String, stormwatch_store::StoreError> {
        let mut out = String::new();
        let tenants: Vec<(String, String)> = st
            .tenants_in(&scope)
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect();
        for (id, name) in tenants {
            let tscope = Scope::Tenant(id.clone());
            let open: Vec<_> = st
                .store
                .incidents(&IncidentQuery { scope: tscope.clone(), status: None, limit: 1000 })?
                .into_iter()
                .filter(|i| i.status.is_open())
                .collect();
            let mut by_level = [0usize; 5];
            for i in &open {
                by_level[usize::from(i.level.min(4))] += 1;
            }
            let mut q = DetectionQuery::new(tscope);
            q.limit = 1000;
            let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
            for d in st.store.detections(&q)? {
                *per_day.entry(day(d.time_ms)).or_default() += 1;
            }
            let stored = mail::stored(&st, &id, i64::MIN, i64::MAX)?;
            let reads = mail::reads(&stored, &id, None);
            let label = if name.is_empty() { id.clone() } else { format!("{name} ({id})") };
            out += &format!("<section aria-labelledby=\"t-{id}\"><h2 id=\"t-{id}\">{}</h2>", esc(&label));
            out += "<ul class=\"cards\" aria-label=\"Open incidents by level\">";
            for (i, n) in by_level.iter().enumerate().rev() {
                let name = crate::serve::api::level_name(i as u8);
                out += &format!(
                    "<li class=\"card\"><b>{n}</b> {} open</li>",
                    level(name)
                );
            }
            out += "</ul>";
            let chart_id = format!("per-day-{id}");
            out += &format!(
                "<figure><figcaption>Detections per day</figcaption><canvas class=\"chart-bars\" data-source=\"{chart_id}\" \
                 role=\"img\" aria-label=\"Detections per day for {}\"></canvas></figure>",
                esc(&label)
            );
            out += &chart_data(
                &chart_id,
                &serde_json::json!({"labels": per_day.keys().collect::<Vec<_>>(), "values": per_day.values().collect::<Vec<_>>()}),
            );
            let rows = |v: Vec<(String, usize)>, f: &dyn Fn(&str) -> String| {
                v.into_iter().map(|(k, n)| vec![f(&k), n.to_string()]).collect::<Vec<_>>()
            };
            let apps = rows(mail::top(&reads, |r: &Read| r.app.as_str(), 8), &|k| esc(&app_label(k)));
            let ips = rows(mail::top(&reads, |r: &Read| r.ip.as_str(), 8), &|k| esc(k));
            let boxes = rows(mail::top(&reads, |r: &Read| r.mailbox.as_str(), 8), &|k| {
                format!("<a href=\"/ui/mailboxes/{}?tenant={}\">{}</a>", url_part(k), url_part(&id), esc(k))
            });
            out += "<div class=\"grid\">";
            out += &table("Top apps reading mail", &["App", "Reads"], &apps);
            out += &table("Top addresses reading mail", &["Address", "Reads"], &ips);
            out += &table("Most-read mailboxes", &["Mailbox", "Reads"], &boxes);
            out += "</div></section>";
        }
        Ok(out)
    })
    .await
    .map_err(Ui::from)?
    .map_err(|e| Ui::from(ApiError::internal(e)))?;
    Ok(Html(page("Overview", Some(&s.session), &body)).into_response())
}

#[derive(Deserialize)]
pub struct ListParams {
    status: Option<String>,
    q: Option<String>,
}

pub async fn incidents(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> UiResult {
    let s = signed_in(&state, &headers)?;
    let status = p
        .status
        .as_deref()
        .filter(|x| !x.is_empty())
        .and_then(Status::from_name);
    let q = IncidentQuery {
        scope: s.scope(),
        status,
        limit: 1000,
    };
    let st = Arc::clone(&state);
    let list = blocking(move || st.store.incidents(&q))
        .await
        .map_err(Ui::from)?
        .map_err(|e| Ui::from(ApiError::internal(e)))?;
    let needle = p.q.clone().unwrap_or_default().to_lowercase();
    let rows: Vec<Vec<String>> = list
        .iter()
        .filter(|i| {
            needle.is_empty()
                || [&i.title, &i.actor, &i.rule_id, &i.tenant]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&needle))
        })
        .map(|i| {
            let v = incident_json(i);
            vec![
                format!("<a href=\"/ui/incidents/{}\">#{}</a>", i.id, i.id),
                esc(&i.title),
                level(v["level"].as_str().unwrap_or("")),
                esc(i.status.name()),
                esc(&i.actor),
                esc(&i.tenant),
                esc(&when(i.last_ms)),
                i.detections.to_string(),
            ]
        })
        .collect();
    let mut opts = String::from("<option value=\"\">any</option>");
    for st in Status::ALL {
        let sel = if status == Some(st) { " selected" } else { "" };
        opts += &format!("<option value=\"{0}\"{sel}>{0}</option>", st.name());
    }
    let body = format!(
        "<form method=\"get\" class=\"filters\" role=\"search\">\
         <label for=\"status\">Status</label><select id=\"status\" name=\"status\">{opts}</select>\
         <label for=\"q\">Search</label><input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" placeholder=\"title, address, app, rule\">\
         <button type=\"submit\">Filter</button></form>{}",
        esc(p.q.as_deref().unwrap_or("")),
        table(
            &format!("{} incident(s)", rows.len()),
            &["Incident", "Title", "Level", "Status", "Actor", "Tenant", "Last seen", "Detections"],
            &rows
        )
    );
    Ok(Html(page("Incidents", Some(&s.session), &body)).into_response())
}

/// The source record ids of detections.
fn event_ids(dets: &[Value]) -> HashSet<String> {
    dets.iter()
        .flat_map(|d| d["event_ids"].as_array().cloned().unwrap_or_default())
        .filter_map(|x| x.as_str().map(String::from))
        .collect()
}

/// What the incident page shows, read in one blocking call.
struct IncidentView {
    inc: stormwatch_store::Incident,
    dets: Vec<Value>,
    reads: Vec<Read>,
    /// The incident's own records, normalized, as stored (at most 50).
    raw: Vec<Value>,
    comments: Vec<stormwatch_store::Comment>,
    audit: Vec<stormwatch_store::AuditEntry>,
}

pub async fn incident(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> UiResult {
    let s = signed_in(&state, &headers)?;
    let scope = s.scope();
    let st = Arc::clone(&state);
    let got = blocking(
        move || -> Result<Option<IncidentView>, stormwatch_store::StoreError> {
            let Some(inc) = st.store.incident(&scope, id)? else {
                return Ok(None);
            };
            let mut q = DetectionQuery::new(scope.clone());
            q.incident_id = Some(id);
            q.limit = 1000;
            let dets: Vec<Value> = st
                .store
                .detections(&q)?
                .into_iter()
                .map(|d| d.record)
                .collect();
            let mailboxes: HashSet<String> = dets
                .iter()
                .filter_map(|d| d["user"].as_str().map(str::to_lowercase))
                .collect();
            // Two weeks before the incident to a day after it, read once for both views.
            let since = inc.first_ms.saturating_sub(14 * 86_400_000);
            let until = inc.last_ms.saturating_add(86_400_000).saturating_add(1);
            let stored = mail::stored(&st, &inc.tenant, since, until)?;
            let reads = mail::reads(&stored, &inc.tenant, Some(&mailboxes));
            let raw = mail::records(&stored, &inc.tenant, &event_ids(&dets), 50);
            let comments = st.store.comments(&scope, id)?;
            let audit = st.store.audit_trail(&scope, id)?;
            Ok(Some(IncidentView {
                raw,
                inc,
                dets,
                reads,
                comments,
                audit,
            }))
        },
    )
    .await
    .map_err(Ui::from)?
    .map_err(|e| Ui::from(ApiError::internal(e)))?;
    let Some(IncidentView {
        raw,
        inc,
        dets,
        reads,
        comments,
        audit,
    }) = got
    else {
        return Err(Ui::NotFound);
    };
    let v = incident_json(&inc);
    let ids = event_ids(&dets);
    let mut body = format!(
        "<dl class=\"facts\"><dt>Status</dt><dd id=\"status\">{}</dd><dt>Level</dt><dd>{}</dd>\
         <dt>Tenant</dt><dd>{}</dd><dt>Actor</dt><dd>{}</dd><dt>Rule</dt><dd>{}</dd>\
         <dt>First / last</dt><dd>{} — {}</dd><dt>Assignee</dt><dd>{}</dd><dt>Detections</dt><dd>{}</dd></dl>",
        esc(inc.status.name()),
        level(v["level"].as_str().unwrap_or("")),
        esc(&inc.tenant),
        esc(&inc.actor),
        esc(&inc.rule_id),
        esc(&when(inc.first_ms)),
        esc(&when(inc.last_ms)),
        esc(inc.assignee.as_deref().unwrap_or("—")),
        inc.detections
    );
    let csrf = csrf_field(&s.session);
    body += &format!(
        "<section aria-labelledby=\"act\"><h2 id=\"act\">Act on it</h2>\
         <form method=\"post\" action=\"/ui/incidents/{id}/status\" class=\"actions\">{csrf}\
         <button name=\"status\" value=\"acknowledged\" type=\"submit\">Acknowledge</button>\
         <button name=\"status\" value=\"resolved\" type=\"submit\">Resolve</button>\
         <button name=\"status\" value=\"false_positive\" type=\"submit\">False positive</button>\
         <button name=\"status\" value=\"new\" type=\"submit\">Reopen</button></form>\
         <form method=\"post\" action=\"/ui/incidents/{id}/assignee\" class=\"inline-form\">{csrf}\
         <label for=\"assignee\">Assignee</label><input id=\"assignee\" name=\"assignee\" value=\"{}\">\
         <button type=\"submit\">Assign</button></form>\
         <form method=\"post\" action=\"/ui/incidents/{id}/comments\" class=\"inline-form\">{csrf}\
         <label for=\"comment\">Comment</label><textarea id=\"comment\" name=\"text\" rows=\"2\" required></textarea>\
         <button type=\"submit\">Add comment</button></form></section>",
        esc(inc.assignee.as_deref().unwrap_or(""))
    );
    let chart = mail::timeline(&reads, &ids, app_label);
    body += &format!(
        "<section aria-labelledby=\"tl\"><h2 id=\"tl\">Mail access over time</h2>\
         <p>Every read of the affected mailboxes ({} reads), one row per app and address; the \
         reads that make up this incident are marked in red.</p>\
         <figure><canvas id=\"timeline\" class=\"chart-timeline\" data-source=\"timeline-data\" role=\"img\" \
         aria-label=\"Mail access over time by app and address; {} reads of this incident highlighted\"></canvas></figure>{}</section>",
        reads.len(),
        chart["incident"].as_array().map_or(0, Vec::len),
        chart_data("timeline-data", &chart)
    );
    let det_rows: Vec<Vec<String>> = dets
        .iter()
        .map(|d| {
            vec![
                esc(d["time"].as_str().unwrap_or("")),
                level(d["rule"]["level"].as_str().unwrap_or("")),
                esc(d["rule"]["title"].as_str().unwrap_or("")),
                match d["user"].as_str() {
                    Some(u) => format!(
                        "<a href=\"/ui/mailboxes/{}?tenant={}\">{}</a>",
                        url_part(u),
                        url_part(&inc.tenant),
                        esc(u)
                    ),
                    None => "—".into(),
                },
                esc(d["summary"].as_str().unwrap_or("")),
                format!(
                    "<details><summary>evidence</summary><pre>{}</pre></details>",
                    esc(&serde_json::to_string_pretty(&d["evidence"]).unwrap_or_default())
                ),
            ]
        })
        .collect();
    body += &table(
        "Detections",
        &["Time", "Level", "Rule", "Mailbox", "Summary", "Evidence"],
        &det_rows,
    );
    let read_rows: Vec<Vec<String>> = reads
        .iter()
        .filter(|r| ids.contains(&r.record_id))
        .take(200)
        .map(|r| {
            vec![
                esc(&when(r.time_ms)),
                esc(&r.mailbox),
                esc(&app_label(&r.app)),
                esc(&r.ip),
                format!("<code>{}</code>", esc(&r.record_id)),
            ]
        })
        .collect();
    body += &table(
        "Records of this incident (first 200)",
        &["Time", "Mailbox", "App", "Address", "Record id"],
        &read_rows,
    );
    body += "<section aria-labelledby=\"raw\"><h2 id=\"raw\">Raw records</h2>";
    for r in &raw {
        let rid = r.get("Id").and_then(Value::as_str).unwrap_or("record");
        body += &format!(
            "<details><summary><code>{}</code></summary><pre>{}</pre></details>",
            esc(rid),
            esc(&serde_json::to_string_pretty(r).unwrap_or_default())
        );
    }
    if raw.is_empty() {
        body += "<p class=\"note\">No stored record of this incident is left in the detection window.</p>";
    }
    body += "</section>";
    let c_rows: Vec<Vec<String>> = comments
        .iter()
        .map(|c| vec![esc(&when(c.at_ms)), esc(&c.author), esc(&c.text)])
        .collect();
    body += &table("Comments", &["When", "Who", "Comment"], &c_rows);
    let a_rows: Vec<Vec<String>> = audit
        .iter()
        .map(|a| {
            vec![
                esc(&when(a.at_ms)),
                esc(&a.actor),
                esc(&a.action),
                format!("<code>{}</code>", esc(&a.detail.to_string())),
            ]
        })
        .collect();
    body += &table("Audit trail", &["When", "Who", "Action", "Detail"], &a_rows);
    Ok(Html(page(
        &format!("Incident #{id}: {}", inc.title),
        Some(&s.session),
        &body,
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    status: Option<String>,
    assignee: Option<String>,
    text: Option<String>,
}

/// Acknowledge / resolve / false positive / reopen, assign, comment: one handler, by path.
pub async fn act(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Path((id, what)): Path<(i64, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> UiResult {
    let s = signed_in(&state, &headers)?;
    form_csrf(&s, &f.csrf)?;
    let (scope, by) = (s.scope(), format!("user:{}", s.session.user));
    let now = crate::serve::now_ms();
    let st = Arc::clone(&state);
    let done = blocking(move || -> Result<Option<()>, String> {
        let store = &st.store;
        let r = match what.as_str() {
            "status" => {
                let status = f
                    .status
                    .as_deref()
                    .and_then(Status::from_name)
                    .ok_or("unknown status")?;
                store
                    .set_status(&scope, id, status, &by, now)
                    .map(|x| x.map(|_| ()))
            }
            "assignee" => {
                let a = f.assignee.filter(|x| !x.trim().is_empty());
                if a.as_ref().is_some_and(|x| x.len() > 200) {
                    return Err("assignee: at most 200 characters".into());
                }
                store
                    .assign(&scope, id, a.as_deref(), &by, now)
                    .map(|x| x.map(|_| ()))
            }
            "comments" => {
                let text = f
                    .text
                    .filter(|x| !x.trim().is_empty())
                    .ok_or("empty comment")?;
                store
                    .add_comment(&scope, id, &by, &text, now)
                    .map(|x| x.map(|_| ()))
            }
            _ => return Ok(None),
        };
        r.map_err(|e| e.to_string())
    })
    .await
    .map_err(Ui::from)?
    .map_err(Ui::Bad)?;
    match done {
        Some(()) => Ok(Redirect::to(&format!("/ui/incidents/{id}")).into_response()),
        None => Err(Ui::NotFound),
    }
}
