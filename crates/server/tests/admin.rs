//! The configuration and investigation routes in process (`app().oneshot`): uploaded rules and
//! feeds with validation and retro-hunts, API keys created, listed and revoked, tenants, stored
//! events, notification settings, comments and assignment — each with its role rules.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use stormwatch_server::serve::api::{router, Principal};
use stormwatch_server::serve::config::ServeConfig;
use stormwatch_server::serve::ingest::ingest;
use stormwatch_server::serve::State;
use stormwatch_store::keys;
use tower::ServiceExt;

const OPS: &str = "sw_ops_0123456789abcdef0123456789";
const KEY_A: &str = "sw_a_aaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B: &str = "sw_b_bbbbbbbbbbbbbbbbbbbbbbbb";

struct App {
    state: Arc<State>,
    rt: tokio::runtime::Runtime,
}

impl App {
    fn call(&self, method: &str, path: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let req = req.body(Body::from(body.to_string())).unwrap();
        let app = router(Arc::clone(&self.state));
        self.rt.block_on(async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 26)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }
}

fn setup() -> (
    App,
    stormwatch_scenario::Manifest,
    Vec<String>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let m = stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants: 2,
            users_per_tenant: 8,
            days: 10,
            ..Default::default()
        },
        &corpus,
        false,
    )
    .unwrap();
    let (a, b) = (&m.tenants[0], &m.tenants[1]);
    let text = format!(
        "data_dir = \"data\"\n[[tenants]]\nid = \"{a}\"\nadmins = [\"soc@a.example\"]\n\
         [[tenants]]\nid = \"{b}\"\nadmins = [\"soc@b.example\"]\n\
         [[api_keys]]\nname = \"ops\"\nrole = \"operator\"\nkey = \"{OPS}\"\n\
         [[api_keys]]\nname = \"a\"\nrole = \"tenant_admin\"\ntenant = \"{a}\"\nkey = \"{KEY_A}\"\n\
         [[api_keys]]\nname = \"b\"\nrole = \"tenant_admin\"\ntenant = \"{b}\"\nkey = \"{KEY_B}\"\n"
    );
    let config = ServeConfig::from_toml(&text, "t.toml", dir.path(), &|_| None).unwrap();
    let state = State::open(config).unwrap().0;
    let mut lines = Vec::new();
    for f in ["signins.jsonl", "ual.jsonl"] {
        lines.extend(
            std::fs::read_to_string(corpus.join(f))
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    let ops = Principal {
        key: keys::authenticate(state.store.as_ref(), OPS)
            .unwrap()
            .unwrap(),
    };
    ingest(&state, &ops, lines.join("\n").into(), None).unwrap();
    state.judge_now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    (
        App {
            state: Arc::new(state),
            rt,
        },
        m,
        lines,
        dir,
    )
}

#[test]
fn rules_and_feeds_upload_validate_and_retro_hunt() {
    let (app, m, lines, _dir) = setup();
    let a = &m.tenants[0];
    let mailbox = &m.intrusion.iter().find(|p| &p.tenant == a).unwrap().mailbox;
    let rule = format!(
        "title: Reads of a watched mailbox\nid: 0b3c1a52-9f56-4a34-9d8c-1d3d0d3f6e01\nstatus: test\n\
         logsource:\n  product: m365\n  service: exchange\ndetection:\n  selection:\n    Operation: MailItemsAccessed\n    \
         MailboxOwnerUPN: '{mailbox}'\n  condition: selection\nlevel: medium\n"
    );
    // Tenant admins may not change detection for everyone.
    let (code, _) = app.call("PUT", "/api/v1/rules/watched.yml", Some(KEY_A), &rule);
    assert_eq!(code, StatusCode::FORBIDDEN);
    // A broken rule is refused with its line; nothing stored.
    let (code, body) = app.call(
        "PUT",
        "/api/v1/rules/bad.yml",
        Some(OPS),
        "title: x\ndetection: [\n",
    );
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .contains("api:rules/bad.yml"),
        "{body}"
    );
    let (code, body) = app.call("PUT", "/api/v1/rules/../x", Some(OPS), &rule);
    assert_ne!(code, StatusCode::OK, "{body}");

    let (code, body) = app.call("PUT", "/api/v1/rules/watched.yml", Some(OPS), &rule);
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["loaded"], 1);
    let (_, listed) = app.call("GET", "/api/v1/rules", Some(KEY_A), "");
    assert_eq!(listed["uploaded"][0]["name"], "watched.yml", "{listed}");
    assert_eq!(listed["sigma_rules_loaded"], 1);

    // Retro-hunt over the stored window: the new rule's detections appear in tenant A only.
    let hunt = json!({"since": "2000-01-01T00:00:00Z"}).to_string();
    let (code, r) = app.call("POST", "/api/v1/retro-hunt", Some(KEY_A), &hunt);
    assert_eq!(code, StatusCode::OK, "{r}");
    assert_eq!(
        r["tenants"].as_object().unwrap().len(),
        1,
        "a tenant admin hunts its tenant: {r}"
    );
    assert!(
        r["tenants"][a]["new_detections"].as_u64().unwrap() > 0,
        "{r}"
    );
    let rid = "0b3c1a52-9f56-4a34-9d8c-1d3d0d3f6e01";
    let (_, d) = app.call(
        "GET",
        &format!("/api/v1/detections?rule={rid}&limit=1000"),
        Some(OPS),
        "",
    );
    let found = d["detections"].as_array().unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|x| x["detection"]["tenant"] == json!(a)));
    // Again: nothing new (fingerprints).
    let (_, again) = app.call("POST", "/api/v1/retro-hunt", Some(OPS), &hunt);
    assert_eq!(again["tenants"][a]["new_detections"], 0, "{again}");

    // A feed with an address from tenant B's sign-ins raises an IOC detection on retro-hunt.
    let b = &m.tenants[1];
    let ip = lines
        .iter()
        .filter(|l| l.contains(b.as_str()) && l.contains("\"callerIpAddress\""))
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["callerIpAddress"].as_str().map(String::from)
        })
        .unwrap();
    let (code, body) = app.call(
        "PUT",
        "/api/v1/ioc-feeds/case-42",
        Some(OPS),
        "{\"type\": \"bundle\", \"objects\": [",
    );
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, body) = app.call(
        "PUT",
        "/api/v1/ioc-feeds/case-42",
        Some(OPS),
        &format!("# case 42\n{ip}\n"),
    );
    assert_eq!(code, StatusCode::OK, "{body}");
    let (_, r) = app.call("POST", "/api/v1/retro-hunt", Some(OPS), &hunt);
    assert!(
        r["tenants"][b]["new_detections"].as_u64().unwrap() > 0,
        "{r}"
    );
    let (_, d) = app.call("GET", "/api/v1/detections?limit=1000", Some(KEY_B), "");
    let from_feed = d["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["detection"]["evidence"]["feed"] == "api:feeds/case-42")
        .count();
    assert!(from_feed > 0, "no detection from the uploaded feed");

    // Removing a rule unloads it; removing it twice is 404.
    assert_eq!(
        app.call("DELETE", "/api/v1/rules/watched.yml", Some(OPS), "")
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.call("DELETE", "/api/v1/rules/watched.yml", Some(OPS), "")
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call("GET", "/api/v1/rules", Some(OPS), "").1["sigma_rules_loaded"],
        0
    );
}

#[test]
fn keys_tenants_events_settings_comments_and_assignment_respect_roles() {
    let (app, m, _lines, _dir) = setup();
    let (a, b) = (&m.tenants[0], &m.tenants[1]);

    // API keys: created once (shown once), listed without hashes, revoked at once.
    let (code, _) = app.call(
        "POST",
        "/api/v1/api-keys",
        Some(KEY_A),
        r#"{"name":"x","role":"operator"}"#,
    );
    assert_eq!(code, StatusCode::FORBIDDEN);
    let body = json!({"name": "SOC ingest", "role": "tenant_admin", "tenant": b}).to_string();
    let (code, created) = app.call("POST", "/api/v1/api-keys", Some(OPS), &body);
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let new_key = created["key"].as_str().unwrap().to_string();
    assert!(created["id"].as_str().unwrap().starts_with("soc-ingest-"));
    let (code, inc) = app.call("GET", "/api/v1/incidents", Some(&new_key), "");
    assert_eq!(code, StatusCode::OK);
    assert!(inc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["tenant"] == json!(b)));
    let (_, list) = app.call("GET", "/api/v1/api-keys", Some(OPS), "");
    let text = list.to_string();
    assert!(
        text.contains("soc-ingest-") && !text.contains("argon2") && !text.contains("hash"),
        "{text}"
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.call("DELETE", &format!("/api/v1/api-keys/{id}"), Some(OPS), "")
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.call("GET", "/api/v1/incidents", Some(&new_key), "").0,
        StatusCode::UNAUTHORIZED
    );
    let bad_role = json!({"name": "y", "role": "tenant_admin"}).to_string();
    assert_eq!(
        app.call("POST", "/api/v1/api-keys", Some(OPS), &bad_role).0,
        StatusCode::BAD_REQUEST
    );

    // Tenants and notification settings: a tenant admin sees its own.
    let (_, t) = app.call("GET", "/api/v1/tenants", Some(KEY_A), "");
    assert_eq!(t["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(t["tenants"][0]["id"], json!(a));
    assert!(t["tenants"][0]["buffered_events"].as_u64().unwrap() > 0);
    let (_, all) = app.call("GET", "/api/v1/tenants", Some(OPS), "");
    assert_eq!(all["tenants"].as_array().unwrap().len(), 2);
    let (_, ns) = app.call("GET", "/api/v1/notification-settings", Some(KEY_A), "");
    assert_eq!(ns["admins"], json!({a.as_str(): ["soc@a.example"]}), "{ns}");

    // Stored events: own tenant only; another tenant's are empty; operators must name one.
    let (_, ev) = app.call("GET", "/api/v1/events?limit=5", Some(KEY_A), "");
    let ev = ev["events"].as_array().unwrap();
    assert_eq!(ev.len(), 5);
    assert!(ev
        .iter()
        .all(|e| e["record"].to_string().contains(a.as_str())));
    let until = "/api/v1/events?until=2000-01-01T00:00:00Z";
    let (_, early) = app.call("GET", until, Some(KEY_A), "");
    assert_eq!(early["events"], json!([]), "until bounds the window");
    let (_, other) = app.call(
        "GET",
        &format!("/api/v1/events?tenant={b}"),
        Some(KEY_A),
        "",
    );
    assert_eq!(other["events"], json!([]));
    assert_eq!(
        app.call("GET", "/api/v1/events", Some(OPS), "").0,
        StatusCode::BAD_REQUEST
    );

    // Comments and assignment on A's incident: B's admin cannot see it (404), A's can.
    let (_, incs) = app.call("GET", "/api/v1/incidents", Some(KEY_A), "");
    let inc = incs["incidents"][0]["id"].as_i64().unwrap();
    let c = json!({"text": "looking into it"}).to_string();
    let path = format!("/api/v1/incidents/{inc}/comments");
    assert_eq!(
        app.call("POST", &path, Some(KEY_B), &c).0,
        StatusCode::NOT_FOUND
    );
    let (code, added) = app.call("POST", &path, Some(KEY_A), &c);
    assert_eq!(code, StatusCode::CREATED, "{added}");
    let path = format!("/api/v1/incidents/{inc}/assignee");
    let (code, after) = app.call("POST", &path, Some(KEY_A), r#"{"assignee":"alice"}"#);
    assert_eq!(
        (code, &after["assignee"]),
        (StatusCode::OK, &json!("alice"))
    );
    let (_, full) = app.call("GET", &format!("/api/v1/incidents/{inc}"), Some(KEY_A), "");
    let actions: Vec<&str> = full["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "comment", "assign"], "{full}");
}

#[test]
fn every_documented_operation_is_routed_and_guarded() {
    let (app, _m, _lines, _dir) = setup();
    let (code, doc) = app.call("GET", "/api/v1/openapi.json", None, "");
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{}", paths.len());
    let mut checked = 0;
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "1").replace("{name}", "x");
        for (method, op) in ops.as_object().unwrap() {
            let (code, body) = app.call(&method.to_uppercase(), &concrete, None, "");
            assert!(
                code != StatusCode::NOT_FOUND && code != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed: {code} {body}"
            );
            if op.get("security").is_some() {
                assert_eq!(
                    code,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} without a key"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 24, "{checked}");
}
