//! The Management Activity API connector against a local fake of the API: OAuth client
//! credentials, subscriptions list/start, content listing with `NextPageUri` pages, content
//! blobs with one throttled answer (429 + `Retry-After`) and one server error, the
//! `PublisherIdentifier` on every call; blobs taken exactly once, also after a restart.

use axum::extract::{Path as AxPath, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use stormwatch_server::serve::config::ServeConfig;
use stormwatch_server::serve::State;

const SECRET: &str = "client-secret-for-tests";

#[derive(Default)]
struct Fake {
    base: String,
    tenant: String,
    /// (contentId, contentType, created ms, records)
    blobs: Vec<(String, String, i64, Value)>,
    enabled: HashSet<String>,
    tokens: usize,
    starts: Vec<String>,
    listings: usize,
    blob_gets: HashMap<String, usize>,
    throttled: bool,
    failed: bool,
    missing_publisher: usize,
    bad_auth: usize,
}

type Shared = Arc<Mutex<Fake>>;

fn check(f: &mut Fake, headers: &HeaderMap, q: &HashMap<String, String>) {
    if q.get("PublisherIdentifier") != Some(&f.tenant) {
        f.missing_publisher += 1;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !auth.is_some_and(|a| a.starts_with("Bearer tok-")) {
        f.bad_auth += 1;
    }
}

async fn token(AxState(s): AxState<Shared>, body: String) -> Response {
    let form: HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2F", "/").replace("%3A", ":")))
        .collect();
    let mut f = s.lock().unwrap();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_secret").map(String::as_str) != Some(SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    f.tokens += 1;
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": format!("tok-{}", f.tokens)}))
        .into_response()
}

async fn list(
    AxState(s): AxState<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().unwrap();
    check(&mut f, &h, &q);
    let v: Vec<Value> = f
        .enabled
        .iter()
        .map(|c| json!({"contentType": c, "status": "enabled", "webhook": null}))
        .collect();
    Json(v).into_response()
}

async fn start(
    AxState(s): AxState<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().unwrap();
    check(&mut f, &h, &q);
    let ct = q["contentType"].clone();
    f.enabled.insert(ct.clone());
    f.starts.push(ct.clone());
    Json(json!({"contentType": ct, "status": "enabled", "webhook": null})).into_response()
}

fn parse_time(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

async fn content(
    AxState(s): AxState<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().unwrap();
    check(&mut f, &h, &q);
    f.listings += 1;
    let (from, to) = (parse_time(&q["startTime"]), parse_time(&q["endTime"]));
    let ct = &q["contentType"];
    let all: Vec<&(String, String, i64, Value)> = f
        .blobs
        .iter()
        .filter(|b| &b.1 == ct && b.2 >= from && b.2 < to)
        .collect();
    // Two a page; the next page's address in NextPageUri.
    let page: usize = q.get("nextPage").and_then(|p| p.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = all
        .iter()
        .skip(page * 2)
        .take(2)
        .map(|b| {
            json!({"contentType": b.1, "contentId": b.0, "contentUri": format!("{}/blobs/{}", if b.0.starts_with("evil") { f.base.replace("127.0.0.1", "localhost") } else { f.base.clone() }, b.0),
                   "contentCreated": "2026-12-01T00:00:00.000Z", "contentExpiration": "2026-12-08T00:00:00.000Z"})
        })
        .collect();
    let mut r = Json(items).into_response();
    if all.len() > (page + 1) * 2 {
        let next = format!(
            "{}/api/v1.0/{}/activity/feed/subscriptions/content?contentType={ct}&startTime={}&endTime={}&nextPage={}",
            f.base, f.tenant, q["startTime"], q["endTime"], page + 1
        );
        r.headers_mut().insert("NextPageUri", next.parse().unwrap());
    }
    r
}

async fn blob(
    AxState(s): AxState<Shared>,
    h: HeaderMap,
    AxPath(id): AxPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().unwrap();
    check(&mut f, &h, &q);
    *f.blob_gets.entry(id.clone()).or_default() += 1;
    if !f.throttled {
        f.throttled = true;
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(
                json!({"error": {"code": "AF429", "message": "Too many requests. Method=GetBlob"}}),
            ),
        )
            .into_response();
        r.headers_mut().insert("Retry-After", "1".parse().unwrap());
        return r;
    }
    if !f.failed {
        f.failed = true;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match f.blobs.iter().find(|b| b.0 == id) {
        Some(b) => Json(b.3.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn fake_server(fake: Shared) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    fake.lock().unwrap().base = base.clone();
    listener.set_nonblocking(true).unwrap();
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/list",
            get(list),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/start",
            post(start),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/content",
            get(content),
        )
        .route("/blobs/{id}", get(blob))
        .with_state(fake);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    base
}

fn open(dir: &Path, tenants: &[String], base: &str) -> State {
    let mut text = format!(
        "data_dir = \"data\"\n[[o365]]\ntenant = \"{}\"\nclient_id = \"app\"\nclient_secret = \"{SECRET}\"\n\
         content_types = [\"Audit.Exchange\", \"Audit.AzureActiveDirectory\"]\n\
         api_root = \"{base}\"\nlogin_root = \"{base}\"\n",
        tenants[0]
    );
    for t in tenants {
        text += &format!("[[tenants]]\nid = \"{t}\"\n");
    }
    text += "[[api_keys]]\nname = \"ops\"\nrole = \"operator\"\nkey = \"sw_ops_0123456789abcdef0123456789\"\n";
    let config = ServeConfig::from_toml(&text, "t.toml", dir, &|_| None).unwrap();
    State::open(config).unwrap().0
}

#[test]
fn management_api_blobs_are_pulled_through_pages_and_throttling_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let m = stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants: 2,
            users_per_tenant: 4,
            days: 3,
            ..Default::default()
        },
        &corpus,
        false,
    )
    .unwrap();
    let a = m.tenants[0].clone();
    let read = |f: &str| -> Vec<Value> {
        std::fs::read_to_string(corpus.join(f))
            .unwrap()
            .lines()
            .filter(|l| l.contains(a.as_str()))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (ual, signins) = (read("ual.jsonl"), read("signins.jsonl"));
    let now = stormwatch_server::serve::now_ms();
    let hour = 3_600_000;
    let mut blobs = Vec::new();
    for (i, chunk) in ual.chunks(ual.len().div_ceil(5)).enumerate() {
        let created = now - (5 - i as i64) * hour;
        blobs.push((
            format!("ex-{i}"),
            "Audit.Exchange".to_string(),
            created,
            json!(chunk),
        ));
    }
    blobs.push((
        "aad-0".into(),
        "Audit.AzureActiveDirectory".into(),
        now - 2 * hour,
        json!(signins),
    ));
    // A listing that points a blob at another origin: the token must not go there.
    blobs.push((
        "evil-0".into(),
        "Audit.AzureActiveDirectory".into(),
        now - 3 * hour,
        json!([]),
    ));
    // Another tenant's content type this connector does not ask for.
    blobs.push((
        "gen-0".into(),
        "Audit.General".into(),
        now - hour,
        json!([]),
    ));
    let fake: Shared = Arc::new(Mutex::new(Fake {
        tenant: a.clone(),
        blobs,
        enabled: HashSet::from(["Audit.General".to_string()]),
        ..Fake::default()
    }));
    let base = fake_server(fake.clone());

    let state = open(tmp.path(), &m.tenants, &base);
    let polled = state.puller.poll_due(&state, now, true);
    let (tenant, p) = &polled[0];
    assert_eq!(tenant, &a);
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert!(
        p.errors[0].contains("refusing to send the token"),
        "{:?}",
        p.errors
    );
    assert_eq!((p.blobs_listed, p.blobs_taken), (7, 6), "{p:?}");
    assert_eq!(p.records, ual.len() + signins.len());
    assert_eq!(
        state.store.events(&a, 0, 1_000_000).unwrap().len(),
        p.records
    );
    {
        let f = fake.lock().unwrap();
        assert_eq!(f.starts, ["Audit.Exchange", "Audit.AzureActiveDirectory"]);
        assert_eq!(f.tokens, 1, "the token is reused");
        assert!(f.listings >= 4, "pages followed: {}", f.listings);
        assert_eq!(
            f.blob_gets.values().sum::<usize>(),
            8,
            "one 429 and one 503 retried"
        );
        assert_eq!((f.missing_publisher, f.bad_auth), (0, 0));
    }

    // Nothing new: nothing fetched. A new blob: fetched once.
    let again = &state.puller.poll_due(&state, now + 1000, true)[0].1;
    assert_eq!(again.blobs_taken, 0, "{again:?}");
    fake.lock().unwrap().blobs.push((
        "ex-new".into(),
        "Audit.Exchange".into(),
        now + 500,
        json!([ual[0]]),
    ));
    let newer = &state.puller.poll_due(&state, now + 60_000, true)[0].1;
    assert_eq!((newer.blobs_taken, newer.records), (1, 1), "{newer:?}");
    let fetched = fake.lock().unwrap().blob_gets.values().sum::<usize>();
    assert_eq!(fetched, 9);
    drop(state);

    // After a restart the whole lookback is listed again, and every blob is recognised unfetched.
    let state = open(tmp.path(), &m.tenants, &base);
    let after = &state.puller.poll_due(&state, now + 120_000, true)[0].1;
    assert_eq!(
        (after.blobs_listed, after.blobs_known, after.blobs_taken),
        (8, 7, 0),
        "{after:?}"
    );
    assert_eq!(
        fake.lock().unwrap().blob_gets.values().sum::<usize>(),
        fetched
    );
    assert_eq!(
        state.store.events(&a, 0, 1_000_000).unwrap().len(),
        ual.len() + signins.len() + 1
    );
}
