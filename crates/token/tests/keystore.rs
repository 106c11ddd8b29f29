//! Key-set loading and refresh with an injected fetcher: discovery documents, refresh on an
//! unknown kid (rate-limited), last good set kept on failure, header `jku` never fetched; and
//! the verified-result cache's lifetime and generation rules.

use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stormwatch_token::source::{Fetcher, KeySource, KeyStore};
use stormwatch_token::testkit::{self, TestKey};
use stormwatch_token::{Options, Reason, Tenants, VerifiedCache};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const NOW: i64 = 1_700_000_000;

#[derive(Clone, Default)]
struct FakeWeb {
    docs: Arc<Mutex<HashMap<String, Result<String, String>>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl FakeWeb {
    fn serve(&self, url: &str, body: Result<String, String>) {
        self.docs.lock().unwrap().insert(url.to_owned(), body);
    }
    fn fetched(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Fetcher for FakeWeb {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        self.log.lock().unwrap().push(url.to_owned());
        match self.docs.lock().unwrap().get(url) {
            Some(Ok(b)) => Ok(b.clone().into_bytes()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(String::from("404")),
        }
    }
}

fn opts() -> Options {
    Options {
        audiences: vec!["a".into()],
        tenants: Tenants::Any,
        ..Options::default()
    }
}

const DISCOVERY: &str = "https://login.test/common/v2.0/.well-known/openid-configuration";
const JWKS_URL: &str = "https://login.test/common/discovery/v2.0/keys";

fn discovery_doc() -> String {
    json!({"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": JWKS_URL})
        .to_string()
}

#[test]
fn discovery_issuer_binds_keys_and_unknown_kid_refreshes() {
    let old = TestKey::ec("old", "ES256");
    let new = TestKey::ec("new", "ES256");
    let web = FakeWeb::default();
    web.serve(DISCOVERY, Ok(discovery_doc()));
    web.serve(JWKS_URL, Ok(testkit::jwks(std::slice::from_ref(&old.jwk))));
    let (store, warnings) = KeyStore::load(
        vec![KeySource::Discovery(DISCOVERY.into())],
        Some(Box::new(web.clone())),
        Duration::ZERO,
    )
    .unwrap();
    assert!(warnings.is_empty());
    let (keys, generation) = store.current();
    assert_eq!(
        keys.keys[0].issuer.as_deref(),
        Some("https://login.microsoftonline.com/{tenantid}/v2.0")
    );

    let c = testkit::claims(TENANT, "a", NOW);
    assert_eq!(
        store.verify(old.sign(&c).as_bytes(), &opts(), NOW).0.reason,
        Reason::Valid
    );
    // The discovery issuer binds: a token for another issuer is refused.
    let mut wrong = c.clone();
    wrong["iss"] = json!("https://evil.test/");
    assert_eq!(
        store
            .verify(old.sign(&wrong).as_bytes(), &opts(), NOW)
            .0
            .reason,
        Reason::KeyIssuerMismatch
    );

    // Key rotation: the provider publishes a new key; the first token with its kid triggers a refresh.
    web.serve(
        JWKS_URL,
        Ok(testkit::jwks(&[old.jwk.clone(), new.jwk.clone()])),
    );
    let (v, refresh) = store.verify(new.sign(&c).as_bytes(), &opts(), NOW);
    assert_eq!(v.reason, Reason::Valid, "{}", v.to_json());
    assert!(refresh.unwrap().changed);
    assert!(store.current().1 > generation);
}

#[test]
fn refresh_is_rate_limited_and_failures_keep_the_last_good_set() {
    let k = TestKey::ec("k", "ES256");
    let web = FakeWeb::default();
    web.serve(JWKS_URL, Ok(testkit::jwks(std::slice::from_ref(&k.jwk))));
    let (store, _) = KeyStore::load(
        vec![KeySource::Jwks(JWKS_URL.into())],
        Some(Box::new(web.clone())),
        Duration::from_secs(3600),
    )
    .unwrap();
    let c = testkit::claims(TENANT, "a", NOW);
    let forged = TestKey::ec("random-kid", "ES256");
    for _ in 0..50 {
        let (v, refresh) = store.verify(forged.sign(&c).as_bytes(), &opts(), NOW);
        assert_eq!(v.reason, Reason::UnknownKey);
        assert!(refresh.is_none(), "a refresh within the minimum interval");
    }
    assert_eq!(web.fetched().len(), 1, "only the initial load fetched");

    web.serve(JWKS_URL, Err(String::from("connection reset")));
    let outcome = store.refresh();
    assert!(!outcome.changed);
    assert_eq!(outcome.errors.len(), 1);
    assert!(
        outcome.errors[0].contains("keeping the last good set"),
        "{:?}",
        outcome.errors
    );
    assert_eq!(store.refresh_failures(), 1);
    web.serve(JWKS_URL, Ok(String::from("{\"keys\":[]}")));
    assert_eq!(
        store.refresh().errors.len(),
        1,
        "an empty set is a failure too"
    );
    assert_eq!(
        store.verify(k.sign(&c).as_bytes(), &opts(), NOW).0.reason,
        Reason::Valid
    );
}

#[test]
fn header_jku_and_x5u_are_never_fetched() {
    let k = TestKey::ec("k", "ES256");
    let web = FakeWeb::default();
    web.serve(JWKS_URL, Ok(testkit::jwks(std::slice::from_ref(&k.jwk))));
    let (store, _) = KeyStore::load(
        vec![KeySource::Jwks(JWKS_URL.into())],
        Some(Box::new(web.clone())),
        Duration::ZERO,
    )
    .unwrap();
    let attacker = TestKey::ec("a", "ES256");
    let evil = "https://attacker.test/jwks.json";
    web.serve(evil, Ok(testkit::jwks(std::slice::from_ref(&attacker.jwk))));
    let h =
        json!({"alg": "ES256", "kid": "a", "jku": evil, "x5u": "https://attacker.test/cert.pem"});
    let (v, _) = store.verify(
        attacker
            .sign_with_header(&h, &testkit::claims(TENANT, "a", NOW))
            .as_bytes(),
        &opts(),
        NOW,
    );
    assert_eq!(v.reason, Reason::UnknownKey);
    assert!(
        web.fetched().iter().all(|u| u == JWKS_URL),
        "{:?}",
        web.fetched()
    );
}

#[test]
fn plain_http_is_refused_except_loopback() {
    let web = FakeWeb::default();
    let err = KeyStore::load(
        vec![KeySource::Jwks("http://login.test/keys".into())],
        Some(Box::new(web.clone())),
        Duration::ZERO,
    )
    .unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    assert!(web.fetched().is_empty());
    assert!(stormwatch_token::source::check_url("http://127.0.0.1:8080/keys").is_ok());
}

#[test]
fn cache_respects_lifetime_and_generation() {
    let k = TestKey::ec("k", "ES256");
    let keys =
        stormwatch_token::KeySet::from_jwks(testkit::jwks(std::slice::from_ref(&k.jwk)).as_bytes())
            .unwrap();
    let t = k.sign(&testkit::claims(TENANT, "a", NOW));
    let v = stormwatch_token::verify(t.as_bytes(), &keys, &opts(), NOW);
    assert!(v.valid);
    let cache = VerifiedCache::new(100);
    let h = stormwatch_token::cache::token_hash(t.as_bytes());
    cache.put(h, &v, 300, NOW, 1);
    assert!(
        cache.get(&h, NOW + 3600 + 300, 1).is_some(),
        "usable until exp + skew"
    );
    assert!(
        cache.get(&h, NOW + 3600 + 301, 1).is_none(),
        "never past the token's lifetime"
    );
    cache.put(h, &v, 300, NOW, 1);
    assert!(
        cache.get(&h, NOW, 2).is_none(),
        "a new key-set generation invalidates"
    );
    let rejected = stormwatch_token::verify(b"x.y.z", &keys, &opts(), NOW);
    cache.put(
        stormwatch_token::cache::token_hash(b"x.y.z"),
        &rejected,
        300,
        NOW,
        1,
    );
    assert!(cache.is_empty(), "rejections are not cached");
    let tiny = VerifiedCache::new(8);
    for i in 0..100u8 {
        tiny.put([i; 32], &v, 300, NOW, 1);
    }
    assert!(tiny.len() <= 8, "bounded: {}", tiny.len());
}

/// A one-route HTTP server on loopback whose answer can be changed; counts requests.
#[cfg(feature = "https")]
struct LocalServer {
    url: String,
    body: Arc<Mutex<(u16, String)>>,
    hits: Arc<Mutex<usize>>,
}

#[cfg(feature = "https")]
impl LocalServer {
    fn start() -> LocalServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/keys", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new((200u16, String::new())));
        let hits = Arc::new(Mutex::new(0usize));
        let (b, h) = (Arc::clone(&body), Arc::clone(&hits));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                *h.lock().unwrap() += 1;
                let (status, text) = b.lock().unwrap().clone();
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        LocalServer { url, body, hits }
    }
    fn set(&self, status: u16, text: String) {
        *self.body.lock().unwrap() = (status, text);
    }
}

#[cfg(feature = "https")]
#[test]
fn real_fetcher_loads_refreshes_and_keeps_the_last_good_set() {
    use stormwatch_token::source::HttpsFetcher;
    let old = TestKey::ec("old", "ES256");
    let new = TestKey::ec("new", "ES256");
    let server = LocalServer::start();
    server.set(200, testkit::jwks(std::slice::from_ref(&old.jwk)));
    let (store, _) = KeyStore::load(
        vec![KeySource::Jwks(server.url.clone())],
        Some(Box::new(HttpsFetcher::default())),
        Duration::ZERO,
    )
    .unwrap();
    let c = testkit::claims(TENANT, "a", NOW);
    assert_eq!(
        store.verify(old.sign(&c).as_bytes(), &opts(), NOW).0.reason,
        Reason::Valid
    );

    server.set(500, String::from("upstream broke"));
    let outcome = store.refresh();
    assert_eq!(outcome.errors.len(), 1, "{outcome:?}");
    assert_eq!(
        store.verify(old.sign(&c).as_bytes(), &opts(), NOW).0.reason,
        Reason::Valid,
        "last good set kept"
    );

    server.set(200, testkit::jwks(&[old.jwk.clone(), new.jwk.clone()]));
    let (v, refresh) = store.verify(new.sign(&c).as_bytes(), &opts(), NOW);
    assert_eq!(v.reason, Reason::Valid);
    assert!(refresh.is_some_and(|r| r.changed));
    assert_eq!(*server.hits.lock().unwrap(), 3);
}
