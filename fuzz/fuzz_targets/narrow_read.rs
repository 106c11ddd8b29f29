//! Fuzzes the narrow reading of `MailItemsAccessed` and `UserLoggedIn` lines against the whole
//! one: wherever `normalize::narrow::mail_read` gives a read, a whole parse must accept the line
//! and give the same `MailRead` (core fields, mail fields or sign-in result, origin). Seeds:
//! `seeds/narrow_read`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_engine::detect::mailbox::MailRead;
use stormwatch_engine::event::{Origin, Position};
use stormwatch_engine::normalize::{narrow, normalize};

fuzz_target!(|line: &[u8]| {
    let origin = || Origin {
        file: "fuzz".into(),
        position: Position::Line(1),
    };
    let Some(read) = narrow::mail_read(line, origin()) else {
        return;
    };
    let value: serde_json::Value =
        serde_json::from_slice(line).expect("read narrowly, so a whole parse accepts it");
    let event = normalize(value, origin()).expect("read narrowly, so it normalizes");
    assert_eq!(read, MailRead::of(&event));
});
