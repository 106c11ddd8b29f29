//! Mail accesses parked in temporary files until the end of input.
//!
//! The mail verdicts need the whole input (a sign-in log read after the audit log still backs
//! the accesses before it), so every `MailItemsAccessed` record waits for the end. Kept in
//! memory that cost a few hundred bytes a record (3 GB at 5M events); here each is a compact
//! binary row (about 85 bytes, [`row`]) in an unnamed temporary file (`$TMPDIR`, removed when
//! the run ends), written through a buffer as records arrive and read back once, in input order.
//! Repeated strings (tenants, mailboxes, users, apps, client strings, file names) are interned:
//! a row holds their ids, so memory grows with distinct names, not with records.
//!
//! The rows are spread over [`Spill::with_parts`] files by mailbox, so that the parts can be
//! read back and judged on threads of their own ([`super::replay`]); each row carries its
//! sequence number in the input, for what must be merged across parts in input order.

use crate::event::{Origin, Position};
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::sync::Arc;

mod row;
use row::corrupt;

/// Interned strings: each distinct one stored once, named by a dense id.
#[derive(Debug, Default)]
pub struct Strings {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Strings {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(s);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The string of an id this table gave out.
    pub fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }

    fn get(&self, id: u32) -> io::Result<&Arc<str>> {
        self.names
            .get(id as usize)
            .ok_or_else(|| corrupt("name id"))
    }
}

/// One mail access, as much as the verdicts need; names are ids into [`Strings`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    pub time: Option<DateTime<Utc>>,
    pub tenant: u32,
    pub mailbox: u32,
    pub user: Option<u32>,
    pub app: Option<u32>,
    pub ip: Option<IpAddr>,
    pub session: Option<&'a str>,
    pub token: Option<&'a str>,
    pub record_id: Option<&'a str>,
    pub file: u32,
    pub position: Position,
    pub client_info: Option<u32>,
    pub sync: bool,
    pub throttled: bool,
    pub items: u32,
}

/// A row read back: names borrowed from the [`Strings`] (`'s`), the row's own texts from the
/// buffer they were decoded into (`'r`, reused row after row), so reading it back allocates
/// nothing.
#[derive(Debug, Clone)]
pub struct Access<'s, 'r> {
    /// Its place among all rows written, in input order.
    pub seq: u64,
    pub time: Option<DateTime<Utc>>,
    pub tenant_id: u32,
    pub mailbox_id: u32,
    pub tenant: &'s str,
    pub mailbox: &'s str,
    pub user: Option<&'s str>,
    pub app_id: Option<u32>,
    pub app: Option<&'s str>,
    pub ip: Option<IpAddr>,
    pub session: Option<&'r str>,
    pub token: Option<&'r str>,
    pub record_id: Option<&'r str>,
    pub file: &'s Arc<str>,
    pub position: Position,
    pub client_info: Option<&'s str>,
    pub sync: bool,
    pub throttled: bool,
    pub items: u32,
}

impl Access<'_, '_> {
    /// Where the record is in the input.
    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.clone(),
            position: self.position,
        }
    }
}

/// The temporary files (one per part) and the rows in them.
#[derive(Debug)]
pub struct Spill {
    parts: Vec<Part>,
    row: Vec<u8>,
    rows: u64,
}

/// One part's file (made on its first row), how many rows it holds, and its last row (what
/// the next is coded against).
#[derive(Debug, Default)]
struct Part {
    out: Option<BufWriter<File>>,
    rows: u64,
    last: row::Last,
}

impl Default for Spill {
    fn default() -> Self {
        Spill::with_parts(1)
    }
}

/// The write buffer of all parts together.
const WRITE_BUFFER: usize = 1 << 20;

/// Each part's write (and read-back) buffer, of a spill of `parts` parts.
fn part_buffer(parts: usize) -> usize {
    (WRITE_BUFFER / parts).max(64 << 10)
}

impl Spill {
    /// A spill of `parts` files (at least one); a mailbox's rows all go to one of them.
    pub fn with_parts(parts: usize) -> Spill {
        Spill {
            parts: (0..parts.max(1)).map(|_| Part::default()).collect(),
            row: Vec::new(),
            rows: 0,
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends a row to its mailbox's part (the part's file is made on its first row): its
    /// length (`u32`), then its fields ([`row::encode`]).
    pub fn push(&mut self, row: &Row<'_>) -> io::Result<()> {
        let n = self.parts.len();
        let part = &mut self.parts[row.mailbox as usize % n];
        let out = match &mut part.out {
            Some(out) => out,
            None => part.out.insert(BufWriter::with_capacity(
                part_buffer(n),
                tempfile::tempfile()?,
            )),
        };
        self.row.clear();
        row::encode(row, self.rows, &mut part.last, &mut self.row);
        let length = u32::try_from(self.row.len()).map_err(|_| corrupt("row length"))?;
        out.write_all(&length.to_le_bytes())?;
        out.write_all(&self.row)?;
        part.rows += 1;
        self.rows += 1;
        Ok(())
    }

    /// The parts, each to be read back once ([`Replay::each`]); the spill is empty after.
    pub fn take_parts(&mut self) -> io::Result<Vec<Replay>> {
        let buffer = part_buffer(self.parts.len());
        let mut replays = Vec::new();
        for part in &mut self.parts {
            let rows = std::mem::take(&mut part.rows);
            part.last = row::Last::default();
            if let Some(out) = part.out.take() {
                let read = BufReader::with_capacity(buffer, rewind(out)?);
                replays.push(Replay { read, rows });
            }
        }
        Ok(replays)
    }
}

/// One part of a spill, rewound for reading back.
pub struct Replay {
    read: BufReader<File>,
    rows: u64,
}

impl Replay {
    /// Reads every row of the part back, in the order written, and hands it to `each`.
    pub fn each<'s>(
        mut self,
        strings: &'s Strings,
        mut each: impl FnMut(Access<'s, '_>),
    ) -> io::Result<()> {
        let (mut row, mut texts, mut last) = (Vec::new(), String::new(), row::Last::default());
        for _ in 0..self.rows {
            let mut length = [0; 4];
            self.read.read_exact(&mut length)?;
            row.resize(u32::from_le_bytes(length) as usize, 0);
            self.read.read_exact(&mut row)?;
            each(row::decode(&row, &mut last, strings, &mut texts)?);
        }
        Ok(())
    }
}

/// A temporary file written through `out`, flushed and rewound for reading back.
pub fn rewind(out: BufWriter<File>) -> io::Result<File> {
    let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_as_written() {
        let mut strings = Strings::default();
        let (tenant, mailbox, file) = (strings.id("t1"), strings.id("ann@x"), strings.id("f"));
        let app = strings.id("00000002-0000-0ff1-ce00-000000000000");
        let time = DateTime::from_timestamp(1_690_000_000, 123_000_000);
        let rows = [
            Row {
                time,
                tenant,
                mailbox,
                user: Some(mailbox),
                app: Some(app),
                ip: Some("2001:db8::1".parse().unwrap()),
                session: Some("s-1"),
                token: Some("tok"),
                record_id: Some("id-1"),
                file,
                position: Position::LineRecord(7, 2),
                client_info: None,
                sync: true,
                throttled: false,
                items: 12,
            },
            Row {
                time: None,
                tenant,
                mailbox,
                user: None,
                app: None,
                ip: Some("192.0.2.1".parse().unwrap()),
                session: None,
                token: Some(""),
                record_id: None,
                file,
                position: Position::Record(3),
                client_info: Some(app),
                sync: false,
                throttled: true,
                items: 0,
            },
            Row {
                time: DateTime::from_timestamp(1_600_000_000, 0),
                tenant,
                mailbox,
                user: None,
                app: Some(app),
                ip: None,
                session: Some("e940be47-ade2-43e5-8ca3-3f6c7d1da179"),
                token: Some("k9gfUdK9dU20YtgOEZ0-oA"),
                record_id: Some("879F7DAB-5B14-4A18-A208-2D2F1864E0BE"),
                file,
                position: Position::Line(2),
                client_info: None,
                sync: false,
                throttled: false,
                items: u32::MAX,
            },
        ];
        let mut spill = Spill::default();
        for r in &rows {
            spill.push(r).unwrap();
        }
        let mut parts = spill.take_parts().unwrap();
        assert_eq!(parts.len(), 1);
        let mut n = 0;
        parts
            .remove(0)
            .each(&strings, |a| {
                assert_eq!(a.seq, n);
                if n == 0 {
                    assert_eq!((a.time, a.tenant, a.mailbox), (time, "t1", "ann@x"));
                    assert_eq!(a.app, Some("00000002-0000-0ff1-ce00-000000000000"));
                    assert_eq!(a.ip, rows[0].ip);
                    assert_eq!((a.session, a.token), (Some("s-1"), Some("tok")));
                    assert_eq!(a.origin().to_string(), "f:7#2");
                    assert!(a.sync && !a.throttled && a.items == 12);
                } else if n == 2 {
                    // Earlier time and line than the rows before: differences below zero.
                    assert_eq!(a.time, rows[2].time);
                    assert_eq!(a.position, Position::Line(2));
                    assert_eq!(a.session, rows[2].session, "a GUID comes back as text");
                    assert_eq!(a.token, rows[2].token);
                    assert_eq!(a.record_id, rows[2].record_id, "upper case kept");
                    assert_eq!((a.ip, a.items), (None, u32::MAX));
                } else {
                    assert_eq!((a.time, a.user, a.app), (None, None, None));
                    assert_eq!((a.token, a.record_id), (Some(""), None));
                    assert_eq!(a.origin().to_string(), "f:#3");
                    assert_eq!(a.client_info, Some("00000002-0000-0ff1-ce00-000000000000"));
                    assert!(!a.sync && a.throttled);
                }
                n += 1;
            })
            .unwrap();
        assert_eq!(n, 3);
        assert!(spill.take_parts().unwrap().is_empty(), "read back once");
    }

    #[test]
    fn parts_hold_whole_mailboxes_in_input_order() {
        let mut strings = Strings::default();
        let (tenant, file) = (strings.id("t"), strings.id("f"));
        let mailboxes: Vec<u32> = (0..5).map(|m| strings.id(&format!("m{m}@x"))).collect();
        let mut spill = Spill::with_parts(3);
        for line in 0..40u64 {
            let mailbox = mailboxes[(line * 7 % 5) as usize];
            let id = format!("r{line}");
            let row = Row {
                time: None,
                tenant,
                mailbox,
                user: None,
                app: None,
                ip: None,
                session: None,
                token: None,
                record_id: Some(&id),
                file,
                position: Position::Line(line + 1),
                client_info: None,
                sync: false,
                throttled: false,
                items: 1,
            };
            spill.push(&row).unwrap();
        }
        assert_eq!(spill.rows(), 40);
        let parts = spill.take_parts().unwrap();
        assert_eq!(parts.len(), 3);
        let mut owner = std::collections::HashMap::new();
        let mut seen = Vec::new();
        for (p, part) in parts.into_iter().enumerate() {
            let mut last = None;
            part.each(&strings, |a| {
                assert!(last < Some(a.seq), "a part is read back in input order");
                last = Some(a.seq);
                assert_eq!(
                    *owner.entry(a.mailbox_id).or_insert(p),
                    p,
                    "one part a mailbox"
                );
                assert_eq!(a.record_id, Some(format!("r{}", a.seq).as_str()));
                assert_eq!(a.position, Position::Line(a.seq + 1));
                seen.push(a.seq);
            })
            .unwrap();
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "every row once");
    }
}
