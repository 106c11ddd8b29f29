//! Timestamps in every form seen in real exports, to UTC.
//!
//! * ISO 8601 / RFC 3339 with `T` or a space, 0–9 fractional digits, `Z`, `±hh:mm`, `±hhmm` or no
//!   zone at all — which Microsoft's logs mean as UTC (`2024-02-01T16:07:34` in the UAL).
//! * US locale dates as Azure and Purview write them: `9/20/2023 4:05:03 AM`,
//!   `01/09/2007 09:41:00` (24-hour), `1/9/2007 10:41:00 AM +01:00`, and Sentinel's
//!   `4/28/2021, 2:54:37.000 PM`.
//! * Unix epoch numbers: seconds, milliseconds, microseconds or nanoseconds, by magnitude.

use super::lookup::JsonView;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses a JSON timestamp value (string or epoch number).
pub fn parse_value<V: JsonView>(v: &V) -> Option<DateTime<Utc>> {
    if let Some(s) = v.as_str() {
        return parse(s);
    }
    let n = v.as_number()?;
    n.as_i64()
        .or_else(|| n.as_f64().map(|f| f as i64))
        .and_then(from_epoch)
}

/// Unix time whose unit is guessed from its magnitude (s, ms, µs, ns).
pub fn from_epoch(n: i64) -> Option<DateTime<Utc>> {
    let a = n.unsigned_abs();
    let nanos: i128 = if a < 100_000_000_000 {
        n as i128 * 1_000_000_000
    } else if a < 100_000_000_000_000 {
        n as i128 * 1_000_000
    } else if a < 100_000_000_000_000_000 {
        n as i128 * 1_000
    } else {
        n as i128
    };
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    Utc.timestamp_opt(secs, sub).single()
}

/// Parses a timestamp string; `None` when it is not one.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.len() >= 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().and_then(from_epoch);
    }
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    let first = c.number(1, 4)?;
    let date = match c.peek() {
        Some(b'-') if c.i == 4 => {
            c.i += 1;
            let month = c.number(1, 2)?;
            c.expect(b'-')?;
            let day = c.number(1, 2)?;
            NaiveDate::from_ymd_opt(first as i32, month, day)?
        }
        Some(b'/') => {
            c.i += 1;
            let day = c.number(1, 2)?;
            c.expect(b'/')?;
            let year = c.number(4, 4)?;
            NaiveDate::from_ymd_opt(year as i32, first, day)?
        }
        _ => return None,
    };
    // Separator: T, space, or Sentinel's ", ".
    if c.peek().is_none() {
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    }
    if c.peek() == Some(b',') {
        c.i += 1;
    }
    match c.peek() {
        Some(b'T' | b't' | b' ') => c.i += 1,
        _ => return None,
    }
    c.skip_spaces();
    let mut hour = c.number(1, 2)?;
    c.expect(b':')?;
    let minute = c.number(2, 2)?;
    let mut second = 0;
    let mut nanos = 0;
    if c.peek() == Some(b':') {
        c.i += 1;
        second = c.number(2, 2)?;
        if matches!(c.peek(), Some(b'.' | b',')) {
            c.i += 1;
            let start = c.i;
            let mut value: u64 = 0;
            while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
                if c.i - start < 9 {
                    value = value * 10 + u64::from(d - b'0');
                }
                c.i += 1;
            }
            let digits = (c.i - start).min(9);
            if digits == 0 {
                return None;
            }
            nanos = (value * 10u64.pow(9 - digits as u32)) as u32;
        }
    }
    c.skip_spaces();
    if let Some(rest) = c.rest().get(..2) {
        let pm = rest.eq_ignore_ascii_case(b"PM");
        if pm || rest.eq_ignore_ascii_case(b"AM") {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = match (pm, hour) {
                (false, 12) => 0,
                (true, 12) => 12,
                (true, h) => h + 12,
                (false, h) => h,
            };
            c.i += 2;
            c.skip_spaces();
        }
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second.min(59), nanos)?;
    let naive = NaiveDateTime::new(date, time);
    let offset_secs = c.zone()?;
    if c.i != c.s.len() {
        return None;
    }
    let utc = naive - chrono::Duration::seconds(i64::from(offset_secs));
    Some(Utc.from_utc_datetime(&utc))
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest(&self) -> &[u8] {
        &self.s[self.i.min(self.s.len())..]
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.i += 1)
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// Reads `min..=max` ASCII digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(d - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(v)
    }

    /// A zone designator: none (UTC), `Z`, `UTC`, `±hh:mm`, `±hhmm`, `±hh`. Offset in seconds.
    fn zone(&mut self) -> Option<i32> {
        match self.peek() {
            None => Some(0),
            Some(b'Z' | b'z') => {
                self.i += 1;
                Some(0)
            }
            Some(b'U') if self.rest() == b"UTC" => {
                self.i += 3;
                Some(0)
            }
            Some(sign @ (b'+' | b'-')) => {
                self.i += 1;
                let h = self.number(2, 2)?;
                if self.peek() == Some(b':') {
                    self.i += 1;
                }
                let m = if self.peek().is_some() {
                    self.number(2, 2)?
                } else {
                    0
                };
                if h > 23 || m > 59 {
                    return None;
                }
                let secs = (h * 3600 + m * 60) as i32;
                Some(if sign == b'-' { -secs } else { secs })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> String {
        parse(s)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| "NONE".into())
    }

    #[test]
    fn forms_seen_in_real_exports() {
        let cases = [
            ("2024-02-01T16:07:34", "2024-02-01T16:07:34Z"),
            ("2007-01-09T09:41:00.22Z", "2007-01-09T09:41:00.220Z"),
            (
                "2007-01-09T09:41:00.6816663Z",
                "2007-01-09T09:41:00.681666300Z",
            ),
            (
                "2007-01-09T09:41:00.535404056Z",
                "2007-01-09T09:41:00.535404056Z",
            ),
            (
                "2007-01-09T09:41:00.992099+00:00",
                "2007-01-09T09:41:00.992099Z",
            ),
            ("2007-01-09T11:41:00+02:00", "2007-01-09T09:41:00Z"),
            (
                "2019-10-18T04:45:48.0729893-05:00",
                "2019-10-18T09:45:48.072989300Z",
            ),
            ("01/09/2007 09:41:00", "2007-01-09T09:41:00Z"),
            ("1/9/2007 09:41:00", "2007-01-09T09:41:00Z"),
            ("01/09/2007 09:41:00 AM", "2007-01-09T09:41:00Z"),
            ("1/9/2007 9:41:00 AM", "2007-01-09T09:41:00Z"),
            ("1/9/2007 10:41:00 AM +01:00", "2007-01-09T09:41:00Z"),
            ("9/20/2023 4:05:03 AM", "2023-09-20T04:05:03Z"),
            ("12/12/2025 3:03:58 PM", "2025-12-12T15:03:58Z"),
            ("12/12/2025 12:03:58 AM", "2025-12-12T00:03:58Z"),
            ("4/28/2021, 2:54:37.000 PM", "2021-04-28T14:54:37Z"),
            ("2025-11-27 07:40:10.132", "2025-11-27T07:40:10.132Z"),
            ("2021-02-05", "2021-02-05T00:00:00Z"),
            ("1696000000", "2023-09-29T15:06:40Z"),
            ("1696000000123", "2023-09-29T15:06:40.123Z"),
        ];
        for (input, want) in cases {
            assert_eq!(iso(input), want, "input {input:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00",
            "2024-02-30T00:00:00",
            "13/45/2020 1:00:00",
            "1/9/2007 13:41:00 PM",
            "2024-02-01T16:07:34 junk",
            "2024-02-01T25:00:00",
            "::",
        ] {
            assert_eq!(iso(bad), "NONE", "input {bad:?}");
        }
    }
}
