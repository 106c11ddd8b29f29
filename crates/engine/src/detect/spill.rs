//! Mail accesses parked in a temporary file until the end of input.
//!
//! The mail verdicts need the whole input (a sign-in log read after the audit log still backs
//! the accesses before it), so every `MailItemsAccessed` record waits for the end. Kept in
//! memory that cost a few hundred bytes a record (3 GB at 5M events); here each is a compact
//! binary row (about 150 bytes) in an unnamed temporary file (`$TMPDIR`, removed when the run
//! ends), written through a buffer as records arrive and read back once, in input order.
//! Repeated strings (tenants, mailboxes, users, apps, client strings, file names) are interned:
//! a row holds their ids, so memory grows with distinct names, not with records.

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

/// A row read back, with its names resolved.
#[derive(Debug, Clone)]
pub struct Access {
    pub time: Option<DateTime<Utc>>,
    pub tenant_id: u32,
    pub mailbox_id: u32,
    pub tenant: Arc<str>,
    pub mailbox: Arc<str>,
    pub user: Option<Arc<str>>,
    pub app_id: Option<u32>,
    pub app: Option<Arc<str>>,
    pub ip: Option<IpAddr>,
    pub session: Option<Box<str>>,
    pub token: Option<Box<str>>,
    pub record_id: Option<Box<str>>,
    pub origin: Origin,
    pub client_info: Option<Arc<str>>,
    pub sync: bool,
    pub throttled: bool,
    pub items: u32,
}

const NONE: u32 = u32::MAX;

/// The temporary file and the rows in it.
#[derive(Debug, Default)]
pub struct Spill {
    out: Option<BufWriter<File>>,
    row: Vec<u8>,
    rows: u64,
}

impl Spill {
    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends a row (the file is made on the first).
    pub fn push(&mut self, row: &Row<'_>) -> io::Result<()> {
        let out = match &mut self.out {
            Some(out) => out,
            None => self
                .out
                .insert(BufWriter::with_capacity(1 << 20, tempfile::tempfile()?)),
        };
        self.row.clear();
        encode(row, &mut self.row);
        out.write_all(&self.row)?;
        self.rows += 1;
        Ok(())
    }

    /// Reads every row back, in the order written, and hands it to `each`.
    pub fn replay(&mut self, strings: &Strings, mut each: impl FnMut(Access)) -> io::Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let mut input = Decoder(BufReader::with_capacity(1 << 20, rewind(out)?));
        for _ in 0..self.rows {
            each(input.access(strings)?);
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

fn encode(r: &Row<'_>, out: &mut Vec<u8>) {
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
}

struct Decoder<R>(R);

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("spill file: bad {what}"),
    )
}

impl<R: Read> Decoder<R> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0; N];
        self.0.read_exact(&mut b)?;
        Ok(b)
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

    fn name(&mut self, strings: &Strings) -> io::Result<Option<Arc<str>>> {
        Ok(self.named(strings)?.map(|(_, name)| name))
    }

    /// A name's id and string.
    fn named(&mut self, strings: &Strings) -> io::Result<Option<(u32, Arc<str>)>> {
        let id = self.u32()?;
        if id == NONE {
            return Ok(None);
        }
        strings.get(id).map(|s| Some((id, s.clone())))
    }

    fn text(&mut self) -> io::Result<Option<Box<str>>> {
        let len = self.u32()?;
        if len == NONE {
            return Ok(None);
        }
        let mut b = vec![0; len as usize];
        self.0.read_exact(&mut b)?;
        String::from_utf8(b)
            .map(|s| Some(s.into_boxed_str()))
            .map_err(|_| corrupt("text"))
    }

    fn access(&mut self, strings: &Strings) -> io::Result<Access> {
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
        let file = strings.get(self.u32()?)?.clone();
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
            time,
            tenant_id,
            mailbox_id,
            tenant: strings.get(tenant_id)?.clone(),
            mailbox: strings.get(mailbox_id)?.clone(),
            user,
            app_id,
            app,
            ip,
            session,
            token,
            record_id,
            origin: Origin { file, position },
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
        let mut back = Vec::new();
        spill.replay(&strings, |a| back.push(a)).unwrap();
        assert_eq!(back.len(), 2);
        let a = &back[0];
        assert_eq!((a.time, &*a.tenant, &*a.mailbox), (time, "t1", "ann@x"));
        assert_eq!(
            a.app.as_deref(),
            Some("00000002-0000-0ff1-ce00-000000000000")
        );
        assert_eq!(a.ip, rows[0].ip);
        assert_eq!(
            (a.session.as_deref(), a.token.as_deref()),
            (Some("s-1"), Some("tok"))
        );
        assert_eq!(a.origin.to_string(), "f:7#2");
        assert!(a.sync && !a.throttled && a.items == 12);
        let b = &back[1];
        assert_eq!(
            (b.time, b.user.as_deref(), b.app.as_deref()),
            (None, None, None)
        );
        assert_eq!(
            (b.token.as_deref(), b.record_id.as_deref()),
            (Some(""), None)
        );
        assert_eq!(b.origin.to_string(), "f:#3");
        assert_eq!(
            b.client_info.as_deref(),
            Some("00000002-0000-0ff1-ce00-000000000000")
        );
        assert!(!b.sync && b.throttled);
    }
}
