//! Fuzzes the whole ingest path on arbitrary bytes: compression sniffing, encodings, layout
//! detection, JSON/CSV framing, envelope opening, normalization and core-field extraction.
//! Half the inputs are read as hunt reads them, with the built-ins' witness prefilter, so JSON
//! lines also take the skip and narrow-reading paths.
//! Invariants: no panic, and the books balance (records read = events + rejected +
//! prefiltered; narrow reads are events).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use stormwatch_engine::detect::interest::builtin_interest;
use stormwatch_engine::detect::ioc;
use stormwatch_engine::detect::mailbox::MailRead;
use stormwatch_engine::ingest::Sink;
use stormwatch_engine::source::Limits;
use stormwatch_engine::{Event, IngestOptions, Ingestor, Rejection};

#[derive(Default)]
struct Count {
    events: u64,
    narrow: u64,
    rejected: u64,
}

impl Sink for Count {
    fn event(&mut self, event: Event) {
        // Serialising exercises the dump path too.
        let _ = serde_json::to_vec(&event);
        self.events += 1;
    }
    fn mail_read(&mut self, _read: MailRead) {
        self.narrow += 1;
    }
    fn rejected(&mut self, _rejection: Rejection) {
        self.rejected += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    // Two threads: JSON lines take the chunked, parallel path (others are sequential anyway).
    let hunt_like = data.first().is_some_and(|b| b & 1 == 1);
    let options = IngestOptions {
        limits: Limits {
            bomb_ratio: 100,
            bomb_floor: 1 << 20,
        },
        threads: 2,
        narrow: hunt_like,
    };
    let prefilter = hunt_like
        .then(|| builtin_interest(&ioc::storm_0558()).compile().map(Arc::new))
        .flatten();
    let mut ingestor = Ingestor::with_prefilter(options, prefilter);
    let mut sink = Count::default();
    ingestor.run_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())), &mut sink);
    let s = ingestor.stats;
    assert_eq!(s.records_read, s.events + s.rejected + s.prefiltered);
    assert_eq!(s.events, sink.events + sink.narrow);
    assert_eq!(s.narrow, sink.narrow);
    assert_eq!(s.rejected, sink.rejected);
});
