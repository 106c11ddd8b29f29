//! Strict JSON for JOSE headers and claims: duplicate member names are an error.
//!
//! `serde_json` silently keeps the last of two equal keys, so `{"alg":"RS256","alg":"none"}`
//! would mean different things to different parsers. RFC 7515 §5.2 allows rejecting such
//! input; we always do, at every nesting level. Parsing goes through a custom visitor that
//! builds an ordinary `serde_json::Value` and fails on the first repeated name. serde_json's
//! recursion limit (128) still applies, so deep nesting is an error, not a stack overflow.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A JSON value parsed with duplicate-key rejection.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Strict(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Strict(Value::Object(out)))
    }
}

/// Parse `bytes` as one JSON object, rejecting duplicate keys anywhere and trailing data.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Strict(v) = Strict::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(String::from("not a JSON object")),
    }
}

/// Parse any strict JSON document (used for key sets and discovery documents).
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Strict(v) = Strict::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_rejected_at_any_depth() {
        assert!(parse_object(br#"{"alg":"RS256","alg":"none"}"#).is_err());
        assert!(parse_object(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        assert!(parse_object(br#"{"a":1,"b":2}"#).is_ok());
    }

    #[test]
    fn non_objects_and_trailing_data_rejected() {
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"{} x").is_err());
        assert!(parse_object(b"\xff").is_err());
        let deep = "[".repeat(10_000);
        assert!(parse_value(deep.as_bytes()).is_err());
    }
}
