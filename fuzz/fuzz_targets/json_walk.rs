//! Fuzzes the narrow reading's walk over JSON text (`normalize::scan::Cursor`) against
//! serde_json: whatever the walk takes as one value, skipped or read as a `Lite` value,
//! serde_json parses into a `Value`, and a `Lite` value read is that `Value` (strings, numbers,
//! members in order). Seeds: `seeds/narrow_read` (whole lines are whole values).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stormwatch_engine::normalize::lite::Lite;
use stormwatch_engine::normalize::scan::Cursor;

/// Whether `lite` holds what `value` holds, members in the same order.
fn same(lite: &Lite, value: &Value) -> bool {
    match (lite, value) {
        (Lite::Null, Value::Null) => true,
        (Lite::Bool(a), Value::Bool(b)) => a == b,
        (Lite::Number(a), Value::Number(b)) => a == b,
        (Lite::Str(a), Value::String(b)) => a == b,
        (Lite::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Lite::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut cursor = Cursor::new(text);
    if cursor.skip().is_some() && cursor.end().is_some() {
        serde_json::from_str::<Value>(text).expect("skipped, so a Value parses");
    }
    let mut cursor = Cursor::new(text);
    if let Some(lite) = cursor.lite() {
        if cursor.end().is_some() {
            let value: Value = serde_json::from_str(text).expect("read, so a Value parses");
            assert!(same(&lite, &value), "{lite:?} against {value}");
        }
    }
});
