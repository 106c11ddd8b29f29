//! Fuzzes the narrow reading's walk over JSON text (`normalize::scan::Cursor`) against
//! serde_json: whatever the walk takes as one value, skipped or read as a `Lite` value,
//! serde_json parses into a `Value`, and a `Lite` value read is that `Value` (strings, numbers,
//! members in order: `Lite::from`). Seeds: `seeds/narrow_read` (whole lines are whole values).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stormwatch_engine::normalize::lite::Lite;
use stormwatch_engine::normalize::scan::Cursor;

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
            assert_eq!(lite, Lite::from(value));
        }
    }
});
