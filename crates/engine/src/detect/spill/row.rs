//! A spill row's bytes.
//!
//! A row is written once and read back once, in order, by the same run, so its form is free to
//! be compact: numbers are LEB128 varints; the sequence number, the time and the input place
//! are differences from the part's previous row (a part's rows are mostly seconds and lines
//! apart); a text shaped as a lower-case GUID (session and record ids) is its 16 bytes. The
//! spill is the run's largest use of disk, or of memory where `$TMPDIR` is a tmpfs: a UAL mail
//! access takes about 83 bytes this way, against 180 with fixed-width fields. The coding costs
//! about as much CPU as writing and reading back the smaller files saves.

use super::{Access, Row, Strings};
use crate::event::Position;
use chrono::DateTime;
use std::io;
use std::net::IpAddr;
use std::ops::Range;

/// What a part's next row is coded against: its previous row (zeros before the first).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Last {
    seq: u64,
    secs: i64,
    /// The position's first number (its line, or its record where it has no line).
    place: u64,
}

/// Text tags: none, a lower-case GUID as 16 bytes, or the text's length and bytes.
const NO_TEXT: u8 = 0;
const GUID: u8 = 1;
const RAW: u8 = 2;

/// Appends `r`, the `seq`-th row of all, coded against `last` (which then becomes `r`'s).
pub(super) fn encode(r: &Row<'_>, seq: u64, last: &mut Last, out: &mut Vec<u8>) {
    put_var(out, seq.wrapping_sub(last.seq));
    last.seq = seq;
    out.push(u8::from(r.time.is_some()) | u8::from(r.sync) << 1 | u8::from(r.throttled) << 2);
    if let Some(t) = r.time {
        put_var(out, zigzag(t.timestamp().wrapping_sub(last.secs)));
        put_var(out, u64::from(t.timestamp_subsec_nanos()));
        last.secs = t.timestamp();
    }
    for id in [r.tenant, r.mailbox, r.file, r.items] {
        put_var(out, u64::from(id));
    }
    for id in [r.user, r.app, r.client_info] {
        put_var(out, id.map_or(0, |id| u64::from(id) + 1));
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
        put_text(out, s);
    }
    let (tag, place, record) = match r.position {
        Position::Line(l) => (0, l, 0),
        Position::Record(n) => (1, n, 0),
        Position::LineRecord(l, n) => (2, l, n),
    };
    out.push(tag);
    put_var(out, zigzag(place.wrapping_sub(last.place) as i64));
    put_var(out, record);
    last.place = place;
}

#[inline]
fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    (v << 1 ^ v >> 63) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn put_text(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(NO_TEXT),
        Some(s) => match guid_bytes(s) {
            Some(bytes) => {
                out.push(GUID);
                out.extend_from_slice(&bytes);
            }
            None => {
                out.push(RAW);
                put_var(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        },
    }
}

/// Where a GUID's text has hyphens, and where each of its 16 bytes' two hex digits start.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];
const PAIRS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// Each byte's value as a lower-case hex digit, or `NOT_HEX`.
const HEX_VALUE: [u8; 256] = {
    let mut value = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        value[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    value
};
const NOT_HEX: u8 = 0x10;

/// The 16 bytes of a GUID written as 36 lower-case hex digits and hyphens; `None` for any
/// other text (upper-case hex too, so that the text comes back exactly as it was). Without a
/// branch a digit: hex digits are as good as random, and a branch on each would be mispredicted
/// often enough to cost more than the rest of the row.
fn guid_bytes(s: &str) -> Option<[u8; 16]> {
    let text: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if HYPHENS.iter().any(|&at| text[at] != b'-') {
        return None;
    }
    let mut bytes = [0; 16];
    let mut bad = 0;
    for (byte, at) in bytes.iter_mut().zip(PAIRS) {
        let (high, low) = (
            HEX_VALUE[usize::from(text[at])],
            HEX_VALUE[usize::from(text[at + 1])],
        );
        bad |= high | low;
        *byte = high << 4 | low;
    }
    (bad & NOT_HEX == 0).then_some(bytes)
}

/// Appends the text of a GUID's 16 bytes (as [`guid_bytes`] read it).
fn push_guid(bytes: &[u8; 16], into: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    for (byte, at) in bytes.iter().zip(PAIRS) {
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 15)];
    }
    into.push_str(std::str::from_utf8(&text).expect("hex digits and hyphens"));
}

pub(super) fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("spill file: bad {what}"),
    )
}

/// Reads a row back from its bytes, against the part's `last` row (which then becomes this
/// one). Its texts are written into `texts`, which the access borrows.
pub(super) fn decode<'s, 'r>(
    row: &[u8],
    last: &mut Last,
    strings: &'s Strings,
    texts: &'r mut String,
) -> io::Result<Access<'s, 'r>> {
    let mut cursor = Cursor(row);
    let access = cursor.access(last, strings, texts)?;
    if !cursor.0.is_empty() {
        return Err(corrupt("row length"));
    }
    Ok(access)
}

/// Reads a row's fields from its bytes.
struct Cursor<'b>(&'b [u8]);

impl Cursor<'_> {
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

    /// A LEB128 varint.
    #[inline]
    fn var(&mut self) -> io::Result<u64> {
        let mut v = 0;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(v);
            }
        }
        Err(corrupt("number"))
    }

    fn u32(&mut self) -> io::Result<u32> {
        u32::try_from(self.var()?).map_err(|_| corrupt("number"))
    }

    /// A name's id and string, where the row names one.
    fn named<'s>(&mut self, strings: &'s Strings) -> io::Result<Option<(u32, &'s str)>> {
        match self.u32()?.checked_sub(1) {
            None => Ok(None),
            Some(id) => strings.get(id).map(|s| Some((id, &**s))),
        }
    }

    fn name<'s>(&mut self, strings: &'s Strings) -> io::Result<Option<&'s str>> {
        Ok(self.named(strings)?.map(|(_, name)| name))
    }

    /// A text, appended to `into`; where in `into` it lies.
    fn text(&mut self, into: &mut String) -> io::Result<Option<Range<usize>>> {
        let start = into.len();
        match self.u8()? {
            NO_TEXT => return Ok(None),
            GUID => push_guid(&self.bytes()?, into),
            RAW => {
                let len = usize::try_from(self.var()?).map_err(|_| corrupt("text"))?;
                if self.0.len() < len {
                    return Err(corrupt("row length"));
                }
                let (text, rest) = self.0.split_at(len);
                self.0 = rest;
                into.push_str(std::str::from_utf8(text).map_err(|_| corrupt("text"))?);
            }
            _ => return Err(corrupt("text")),
        }
        Ok(Some(start..into.len()))
    }

    fn access<'s, 'r>(
        &mut self,
        last: &mut Last,
        strings: &'s Strings,
        texts: &'r mut String,
    ) -> io::Result<Access<'s, 'r>> {
        last.seq = last.seq.wrapping_add(self.var()?);
        let flags = self.u8()?;
        let time = if flags & 1 != 0 {
            let secs = last.secs.wrapping_add(unzigzag(self.var()?));
            let nanos = self.u32()?;
            last.secs = secs;
            Some(DateTime::from_timestamp(secs, nanos).ok_or_else(|| corrupt("time"))?)
        } else {
            None
        };
        let (tenant_id, mailbox_id) = (self.u32()?, self.u32()?);
        let file = strings.get(self.u32()?)?;
        let items = self.u32()?;
        let user = self.name(strings)?;
        let (app_id, app) = self.named(strings)?.unzip();
        let client_info = self.name(strings)?;
        let ip = match self.u8()? {
            0 => None,
            4 => Some(IpAddr::from(self.bytes::<4>()?)),
            6 => Some(IpAddr::from(self.bytes::<16>()?)),
            _ => return Err(corrupt("address")),
        };
        texts.clear();
        let (session, token, record_id) = (self.text(texts)?, self.text(texts)?, self.text(texts)?);
        let tag = self.u8()?;
        let place = last.place.wrapping_add(unzigzag(self.var()?) as u64);
        let record = self.var()?;
        last.place = place;
        let position = match tag {
            0 => Position::Line(place),
            1 => Position::Record(place),
            2 => Position::LineRecord(place, record),
            _ => return Err(corrupt("position")),
        };
        let texts: &'r String = texts;
        let text = |at: Option<Range<usize>>| at.map(|at| &texts[at]);
        Ok(Access {
            seq: last.seq,
            time,
            tenant_id,
            mailbox_id,
            tenant: strings.get(tenant_id)?,
            mailbox: strings.get(mailbox_id)?,
            user,
            app_id,
            app,
            ip,
            session: text(session),
            token: text(token),
            record_id: text(record_id),
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
    fn varints_and_zigzag_round_trip() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut bytes = Vec::new();
            put_var(&mut bytes, v);
            let mut cursor = Cursor(&bytes);
            assert_eq!(cursor.var().unwrap(), v);
            assert!(cursor.0.is_empty(), "{v} takes its bytes only");
        }
        let length = |v| {
            let mut bytes = Vec::new();
            put_var(&mut bytes, v);
            bytes.len()
        };
        assert_eq!((length(127), length(128), length(u64::MAX)), (1, 2, 10));
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert!(
            zigzag(-1) < 2 && zigzag(1) < 3,
            "small differences stay small"
        );
        assert!(Cursor(&[0x80; 11]).var().is_err(), "too long");
        assert!(Cursor(&[0x80]).var().is_err(), "cut short");
    }

    #[test]
    fn only_lower_case_guids_are_packed_and_they_come_back_exact() {
        let guid = "e940be47-ade2-43e5-8ca3-3f6c7d1da179";
        let bytes = guid_bytes(guid).unwrap();
        assert_eq!(bytes[..4], [0xe9, 0x40, 0xbe, 0x47]);
        let mut text = String::new();
        push_guid(&bytes, &mut text);
        assert_eq!(text, guid);
        for other in [
            "E940BE47-ADE2-43E5-8CA3-3F6C7D1DA179",
            "e940be47ade243e58ca33f6c7d1da179",
            "e940be47-ade2-43e5-8ca3-3f6c7d1da17",
            "e940be47-ade2-43e5-8ca3-3f6c7d1da179x",
            "e940be47-ade2-43e5-8ca3+3f6c7d1da179",
            "e940be47-ade2-43e5-8ca3-3f6c7d1da17g",
            "k9gfUdK9dU20YtgOEZ0-oA",
            "",
        ] {
            assert_eq!(guid_bytes(other), None, "{other}");
        }
    }
}
