//! Fuzzes the whole ingest path on arbitrary bytes: compression sniffing, encodings, layout
//! detection, JSON/CSV framing, envelope opening, normalization and core-field extraction.
//! Invariants: no panic, and the books balance (records read = events + rejected).

#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_engine::ingest::Sink;
use stormwatch_engine::source::Limits;
use stormwatch_engine::{Event, IngestOptions, Ingestor, Rejection};

#[derive(Default)]
struct Count {
    events: u64,
    rejected: u64,
}

impl Sink for Count {
    fn event(&mut self, event: Event) {
        // Serialising exercises the dump path too.
        let _ = serde_json::to_vec(&event);
        self.events += 1;
    }
    fn rejected(&mut self, _rejection: Rejection) {
        self.rejected += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    // Two threads: JSON lines take the chunked, parallel path (others are sequential anyway).
    let options = IngestOptions {
        limits: Limits {
            bomb_ratio: 100,
            bomb_floor: 1 << 20,
        },
        threads: 2,
    };
    let mut ingestor = Ingestor::new(options);
    let mut sink = Count::default();
    ingestor.run_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())), &mut sink);
    let s = ingestor.stats;
    assert_eq!(s.records_read, s.events + s.rejected);
    assert_eq!(s.events, sink.events);
    assert_eq!(s.rejected, sink.rejected);
});
