//! Parses every line of a JSON-lines file with each candidate parser, on one thread, and prints
//! the median of `RUNS` passes per parser as one JSON object a line. The file is read into
//! memory first, so only parsing is timed. Mirrors how `stormwatch hunt` would use the parser:
//! an owned tree it can keep (serde_json `Value`, what the engine holds today), a borrowed tree
//! over the line, and — for a lower bound — validating without building anything.
//!
//! Usage: `cargo run --release -- FILE [MAX_MB]` (from benches/parsers; see run.sh).

use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 5;

/// A top-level object key, borrowed from the line unless escaped.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// serde_json `Value` of a top-level object, keeping only the keys in the set (ASCII case
/// ignored) and skipping the other values unbuilt.
struct Projected<'s>(&'s std::collections::HashSet<String>);

impl<'de> serde::de::DeserializeSeed<'de> for Projected<'_> {
    type Value = serde_json::Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Projected<'_> {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        let mut lower = [0u8; 64];
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let wanted = k.len() > lower.len() || {
                let l = &mut lower[..k.len()];
                l.copy_from_slice(k.as_bytes());
                l.make_ascii_lowercase();
                std::str::from_utf8(l).is_ok_and(|l| self.0.contains(l))
            };
            if wanted {
                out.insert(k.into_owned(), map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(serde_json::Value::Object(out))
    }
}

fn time(lines: &[&[u8]], parse: &mut dyn FnMut(&[u8]) -> bool) -> (f64, usize) {
    let mut secs = Vec::new();
    let mut ok = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        ok = lines.iter().filter(|l| parse(l)).count();
        secs.push(start.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    (secs[RUNS / 2], ok)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: parser-shootout FILE [MAX_MB]");
    let max = args.get(2).map_or(64, |m| m.parse::<usize>().expect("MAX_MB")) << 20;
    let data = std::fs::read(path).expect("read FILE");
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut bytes = 0;
    for l in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if bytes + l.len() > max {
            break;
        }
        bytes += l.len() + 1;
        lines.push(l);
    }
    let mut scratch = Vec::new();
    let keep: std::collections::HashSet<String> = [
        "creationtime", "id", "operation", "organizationid", "recordtype", "resultstatus",
        "userid", "workload", "clientip", "clientipaddress", "appid", "clientappid",
        "clientinfostring", "mailboxownerupn", "operationproperties", "folders",
        "operationcount", "sessionid", "usertype", "useragent", "properties", "status",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut candidates: Vec<(&str, Box<dyn FnMut(&[u8]) -> bool>)> = vec![
        (
            "serde_json Value (owned, preserve_order: what hunt builds today)",
            Box::new(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok()),
        ),
        (
            "serde_json Value projected to 22 top-level keys (ASCII case ignored)",
            Box::new(|l| {
                let mut de = serde_json::Deserializer::from_slice(l);
                serde::de::DeserializeSeed::deserialize(Projected(&keep), &mut de).is_ok()
            }),
        ),
        (
            "serde_json top-level map of raw values",
            Box::new(|l| {
                serde_json::from_slice::<BTreeMap<&str, &serde_json::value::RawValue>>(l).is_ok()
            }),
        ),
        (
            "serde_json validate only (IgnoredAny)",
            Box::new(|l| serde_json::from_slice::<IgnoredAny>(l).is_ok()),
        ),
        (
            "simd-json borrowed value",
            Box::new(move |l| {
                scratch.clear();
                scratch.extend_from_slice(l);
                simd_json::to_borrowed_value(&mut scratch).is_ok()
            }),
        ),
        (
            "sonic-rs Value (owned)",
            Box::new(|l| sonic_rs::from_slice::<sonic_rs::Value>(l).is_ok()),
        ),
        (
            "sonic-rs into serde_json Value",
            Box::new(|l| sonic_rs::from_slice::<serde_json::Value>(l).is_ok()),
        ),
        (
            "sonic-rs lazy top-level fields (to_object_iter)",
            Box::new(|l| {
                // SAFETY: not needed; from_slice checks UTF-8 of what it returns.
                sonic_rs::to_object_iter(l).all(|kv| kv.is_ok())
            }),
        ),
    ];
    for (name, parse) in &mut candidates {
        let (secs, ok) = time(&lines, parse.as_mut());
        println!(
            "{{\"parser\":{:?},\"lines\":{},\"ok\":{},\"bytes\":{},\"median_s\":{:.4},\"lines_per_s\":{:.0},\"mb_per_s\":{:.1}}}",
            name,
            lines.len(),
            ok,
            bytes,
            secs,
            lines.len() as f64 / secs,
            bytes as f64 / secs / 1e6
        );
    }
}
