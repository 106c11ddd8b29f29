//! Fuzzes the narrow reading of `MailItemsAccessed` and `UserLoggedIn` lines against the whole
//! one: wherever `normalize::narrow::mail_read` gives a read, a whole parse must accept the line
//! and give the same `MailRead` (core fields, mail fields or sign-in result, origin). The
//! reading before the gate (`mail_read_checked`, with a check over the fields the built-in
//! feed and a UAL rule read) gives nothing the plain narrow reading does not. A reader that
//! remembers the keys of lines before (`narrow::Reader`, as hunt reads a chunk) reads the line
//! as a fresh one does, after a mail line and after the line itself. Seeds:
//! `seeds/narrow_read`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_engine::detect::mailbox::MailRead;
use stormwatch_engine::event::{Origin, Position};
use stormwatch_engine::normalize::{narrow, normalize};

/// A mail line read before the fuzzed one, so that a reader remembers its keys.
const MAIL: &[u8] = include_bytes!("../seeds/narrow_read/mail.json");
use stormwatch_engine::prefilter::Prefilter;

/// A prefilter with a narrow check, built once (read-only afterwards).
fn prefilter() -> &'static Prefilter {
    static PREFILTER: std::sync::OnceLock<Prefilter> = std::sync::OnceLock::new();
    PREFILTER.get_or_init(|| {
        let mut interest = stormwatch_engine::detect::interest::builtin_interest(
            &stormwatch_engine::detect::ioc::storm_0558(),
        );
        interest.kind_literals_in(
            stormwatch_engine::event::LogKind::Ual,
            ["evil", "new-inboxrule"],
            &["Operation", "ClientInfoString", "Parameters"],
        );
        interest.compile().expect("a prefilter")
    })
}

fuzz_target!(|line: &[u8]| {
    let origin = || Origin {
        file: "fuzz".into(),
        position: Position::Line(1),
    };
    let check = prefilter().narrow_check();
    assert!(check.is_some(), "scoped literals: a check");
    let checked = narrow::mail_read_checked(line, origin(), check);
    let fresh = narrow::mail_read(line, origin());
    let mut reader = narrow::Reader::new(None);
    reader.read(MAIL.trim_ascii_end(), origin());
    assert_eq!(reader.read(line, origin()), fresh, "after a mail line");
    assert_eq!(reader.read(line, origin()), fresh, "after itself");
    let mut reader = narrow::Reader::new(check);
    reader.read(MAIL.trim_ascii_end(), origin());
    assert_eq!(reader.read(line, origin()), checked, "checked, after a mail line");
    assert_eq!(reader.read(line, origin()), checked, "checked, after itself");
    let Some(read) = fresh else {
        assert!(checked.is_none(), "read before the gate only where read narrowly");
        return;
    };
    if let Some(checked) = checked {
        assert_eq!(checked, read);
    }
    let value: serde_json::Value =
        serde_json::from_slice(line).expect("read narrowly, so a whole parse accepts it");
    let event = normalize(value, origin()).expect("read narrowly, so it normalizes");
    assert_eq!(read, MailRead::of(&event));
});
