//! Mail accesses parked in temporary files until the end of input.
//!
//! The mail verdicts need the whole input (a sign-in log read after the audit log still backs
//! the accesses before it), so every `MailItemsAccessed` record waits for the end. Kept in
//! memory that cost a few hundred bytes a record (3 GB at 5M events); here each is a compact
//! binary row (about 180 bytes) in an unnamed temporary file (`$TMPDIR`, removed when the run
//! ends), written through a buffer as records arrive and read back once, in input order.
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
/// buffer it was read into (`'r`), so reading it back allocates nothing.
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

const NONE: u32 = u32::MAX;

/// The temporary files (one per part) and the rows in them.
#[derive(Debug)]
pub struct Spill {
    parts: Vec<Part>,
    row: Vec<u8>,
    rows: u64,
}

/// One part's file (made on its first row) and how many rows it holds.
#[derive(Debug, Default)]
struct Part {
    out: Option<BufWriter<File>>,
    rows: u64,
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

    /// Appends a row to its mailbox's part (the part's file is made on its first row).
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
        encode(row, self.rows, &mut self.row);
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
        let mut row = Vec::new();
        for _ in 0..self.rows {
            let mut len = [0; 4];
            self.read.read_exact(&mut len)?;
            row.resize(u32::from_le_bytes(len) as usize, 0);
            self.read.read_exact(&mut row)?;
            let mut cursor = Cursor(&row);
            let access = cursor.access(strings)?;
            if !cursor.0.is_empty() {
                return Err(corrupt("row length"));
            }
            each(access);
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

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            put_u32(out, s.len() as u32);
            out.extend_from_slice(s.as_bytes());
        }
        None => put_u32(out, NONE),
    }
}

/// A row: its length (`u32`, the rest of it), then its sequence number and fields.
fn encode(r: &Row<'_>, seq: u64, out: &mut Vec<u8>) {
    put_u32(out, 0);
    put_u64(out, seq);
    out.push(u8::from(r.time.is_some()) | u8::from(r.sync) << 1 | u8::from(r.throttled) << 2);
    if let Some(t) = r.time {
        put_u64(out, t.timestamp() as u64);
        put_u32(out, t.timestamp_subsec_nanos());
    }
    for id in [
        r.tenant,
        r.mailbox,
        r.user.unwrap_or(NONE),
        r.app.unwrap_or(NONE),
        r.client_info.unwrap_or(NONE),
        r.file,
        r.items,
    ] {
        put_u32(out, id);
    }
    match r.ip {
        None => out.push(0),
        Some(IpAddr::V4(a)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
    for s in [r.session, r.token, r.record_id] {
        put_str(out, s);
    }
    let (tag, a, b) = match r.position {
        Position::Line(l) => (0, l, 0),
        Position::Record(n) => (1, n, 0),
        Position::LineRecord(l, n) => (2, l, n),
    };
    out.push(tag);
    put_u64(out, a);
    put_u64(out, b);
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
}

/// Reads a row's fields from its bytes.
struct Cursor<'r>(&'r [u8]);

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("spill file: bad {what}"),
    )
}

impl<'r> Cursor<'r> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| corrupt("row length"))?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }

    fn u32(&mut self) -> io::Result<u32> {
        self.bytes().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> io::Result<u64> {
        self.bytes().map(u64::from_le_bytes)
    }

    fn name<'s>(&mut self, strings: &'s Strings) -> io::Result<Option<&'s str>> {
        Ok(self.named(strings)?.map(|(_, name)| name))
    }

    /// A name's id and string.
    fn named<'s>(&mut self, strings: &'s Strings) -> io::Result<Option<(u32, &'s str)>> {
        let id = self.u32()?;
        if id == NONE {
            return Ok(None);
        }
        strings.get(id).map(|s| Some((id, &**s)))
    }

    fn text(&mut self) -> io::Result<Option<&'r str>> {
        let len = self.u32()?;
        if len == NONE {
            return Ok(None);
        }
        if self.0.len() < len as usize {
            return Err(corrupt("row length"));
        }
        let (text, rest) = self.0.split_at(len as usize);
        self.0 = rest;
        std::str::from_utf8(text)
            .map(Some)
            .map_err(|_| corrupt("text"))
    }

    fn access<'s>(&mut self, strings: &'s Strings) -> io::Result<Access<'s, 'r>> {
        let seq = self.u64()?;
        let flags = self.u8()?;
        let time = if flags & 1 != 0 {
            let (secs, nanos) = (self.u64()? as i64, self.u32()?);
            Some(DateTime::from_timestamp(secs, nanos).ok_or_else(|| corrupt("time"))?)
        } else {
            None
        };
        let (tenant_id, mailbox_id) = (self.u32()?, self.u32()?);
        let user = self.name(strings)?;
        let (app_id, app) = self.named(strings)?.unzip();
        let client_info = self.name(strings)?;
        let file = strings.get(self.u32()?)?;
        let items = self.u32()?;
        let ip = match self.u8()? {
            0 => None,
            4 => Some(IpAddr::from(self.bytes::<4>()?)),
            6 => Some(IpAddr::from(self.bytes::<16>()?)),
            _ => return Err(corrupt("address")),
        };
        let (session, token, record_id) = (self.text()?, self.text()?, self.text()?);
        let (tag, a, b) = (self.u8()?, self.u64()?, self.u64()?);
        let position = match tag {
            0 => Position::Line(a),
            1 => Position::Record(a),
            2 => Position::LineRecord(a, b),
            _ => return Err(corrupt("position")),
        };
        Ok(Access {
            seq,
            time,
            tenant_id,
            mailbox_id,
            tenant: strings.get(tenant_id)?,
            mailbox: strings.get(mailbox_id)?,
            user,
            app_id,
            app,
            ip,
            session,
            token,
            record_id,
            file,
            position,
            client_info,
            sync: flags & 2 != 0,
            throttled: flags & 4 != 0,
            items,
        })
    }
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
        assert_eq!(n, 2);
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
