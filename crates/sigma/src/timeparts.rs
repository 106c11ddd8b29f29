//! Timestamps without a date-time dependency: parsing ISO 8601 / RFC 3339 strings and Unix
//! epochs, and extracting the calendar parts the Sigma time modifiers compare
//! (`minute`, `hour`, `day`, `week`, `month`, `year`).
//!
//! The spec says the time modifiers do no time-zone conversion, so a string's clock fields are
//! taken as written (`2024-05-01T23:30:00+02:00` has hour 23). Epoch numbers are UTC; a number
//! above 10^11 is taken as milliseconds, otherwise seconds.

use serde_json::Value;

/// Calendar parts of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// Offset east of UTC in seconds, as written (0 for `Z` or none).
    pub offset_s: i64,
}

impl Parts {
    /// ISO 8601 week number (1–53).
    pub fn iso_week(&self) -> u32 {
        let days = days_from_civil(self.year, self.month, self.day);
        // 1970-01-01 was a Thursday; ISO weekday Monday=1..Sunday=7.
        let weekday = (days + 3).rem_euclid(7) + 1;
        let ordinal = days - days_from_civil(self.year, 1, 1) + 1;
        let week = (ordinal - weekday + 10) / 7;
        if week < 1 {
            let prev = Parts {
                year: self.year - 1,
                month: 12,
                day: 31,
                ..*self
            };
            return prev.iso_week();
        }
        if week == 53 {
            // Week 53 exists only if Dec 31 is a Thursday, or a Friday in a leap year... use the
            // rule: if Jan 1 of next year is Mon–Thu, this is week 1 of next year.
            let next_jan1 = days_from_civil(self.year + 1, 1, 1);
            let next_wd = (next_jan1 + 3).rem_euclid(7) + 1;
            if next_wd <= 4 {
                return 1;
            }
        }
        week as u32
    }

    pub fn to_millis(self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - self.offset_s;
        secs * 1000 + i64::from(self.millis)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn from_epoch_millis(ms: i64) -> Parts {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: ((rem % 3600) / 60) as u32,
        second: (rem % 60) as u32,
        millis: ms.rem_euclid(1000) as u32,
        offset_s: 0,
    }
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.fff…]]][Z|±HH[:]MM]`.
pub(crate) fn parse_str(s: &str) -> Option<Parts> {
    let s = s.trim();
    if s.len() < 10 || !s.is_char_boundary(10) {
        if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
            return s.parse::<i64>().ok().map(epoch_to_parts);
        }
        return None;
    }
    let (date, rest) = s.split_at(10);
    let mut d = date.split('-');
    let year = num(d.next()?)? as i64;
    let month = num(d.next()?)?;
    let day = num(d.next()?)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut p = Parts {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        millis: 0,
        offset_s: 0,
    };
    let rest = match rest.strip_prefix(['T', 't', ' ']) {
        Some(r) => r,
        None if rest.is_empty() => return Some(p),
        None => return None,
    };
    let tz_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, tz) = rest.split_at(tz_at);
    let (hms, frac) = clock.split_once(['.', ',']).unwrap_or((clock, ""));
    let mut t = hms.split(':');
    p.hour = num(t.next()?)?;
    p.minute = num(t.next()?)?;
    p.second = t.next().map(num).unwrap_or(Some(0))?;
    if p.hour > 23 || p.minute > 59 || p.second > 60 {
        return None;
    }
    if !frac.is_empty() {
        let digits: String = frac.chars().take(3).collect();
        let padded = format!("{digits:0<3}");
        p.millis = num(&padded)?;
    }
    if let Some(sign) = tz.strip_prefix(['+', '-']) {
        let neg = tz.starts_with('-');
        let digits: String = sign.chars().filter(|c| *c != ':').collect();
        if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let h = i64::from(num(&digits[..2])?);
        let m = if digits.len() >= 4 {
            i64::from(num(&digits[2..4])?)
        } else {
            0
        };
        p.offset_s = (h * 3600 + m * 60) * if neg { -1 } else { 1 };
    }
    Some(p)
}

fn epoch_to_parts(n: i64) -> Parts {
    if n.abs() > 100_000_000_000 {
        from_epoch_millis(n)
    } else {
        from_epoch_millis(n.saturating_mul(1000))
    }
}

/// Calendar parts of a JSON value (string timestamp or epoch number).
pub(crate) fn value_to_parts(v: &Value) -> Option<Parts> {
    match v {
        Value::String(s) => parse_str(s),
        Value::Number(n) => n.as_i64().map(epoch_to_parts),
        _ => None,
    }
}

/// Unix milliseconds of a JSON value (string timestamp or epoch number).
pub(crate) fn value_to_millis(v: &Value) -> Option<i64> {
    value_to_parts(v).map(|p| p.to_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_extracts() {
        let p = parse_str("2024-12-30T23:05:07.5+02:00").unwrap();
        assert_eq!(
            (p.year, p.month, p.day, p.hour, p.minute),
            (2024, 12, 30, 23, 5)
        );
        assert_eq!(p.millis, 500);
        assert_eq!(p.iso_week(), 1);
        assert_eq!(parse_str("2021-01-03").unwrap().iso_week(), 53);
        assert_eq!(parse_str("2021-01-04 00:00:00").unwrap().iso_week(), 1);
        assert_eq!(parse_str("2020-12-31").unwrap().iso_week(), 53);
        assert_eq!(parse_str("2024-06-15").unwrap().iso_week(), 24);
        assert_eq!(parse_str("1970-01-01T00:00:01Z").unwrap().to_millis(), 1000);
        let e = value_to_parts(&serde_json::json!(1_700_000_000)).unwrap();
        assert_eq!((e.year, e.month, e.day, e.hour), (2023, 11, 14, 22));
        assert!(parse_str("nonsense-at-all").is_none());
        assert!(parse_str("ééééééééééé").is_none());
        for odd in [
            "2024-01-01T00:00:00+1é",
            "2024-01-01T00:00:00+é",
            "2024-01-01Té",
            "2024-01-01T1:2:3.é",
            "2024-1é-01",
        ] {
            let _ = parse_str(odd);
        }
        // Every prefix of a valid timestamp, and odd bytes spliced in, never panic.
        let full = "2024-02-29T23:59:60.123456+05:30";
        for i in 0..=full.len() {
            let _ = parse_str(&full[..i]);
            let spliced = format!("{}\u{00e9}{}", &full[..i], &full[i..]);
            let _ = parse_str(&spliced);
        }
    }
}
