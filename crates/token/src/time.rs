//! Unix time and RFC 3339, without a date library: `--at` parsing for forensic verification
//! of old tokens, and timestamps for audit records. Proleptic Gregorian calendar, UTC; civil
//! date conversion after Howard Hinnant's `days_from_civil` / `civil_from_days`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2023-06-15T10:00:00Z` for Unix seconds.
pub fn format_rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2023-06-15T10:00:00.123Z` for a `SystemTime` (milliseconds).
pub fn format_rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = format_rfc3339(i64::try_from(d.as_secs()).unwrap_or(0));
    format!("{}.{:03}Z", &s[..s.len() - 1], d.subsec_millis())
}

/// Parse an evaluation time: Unix seconds (`1686823200`) or RFC 3339
/// (`2023-06-15T10:00:00Z`, `2023-06-15T12:00:00.5+02:00`, `2023-06-15 10:00:00Z`).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let bad = || format!("not Unix seconds or an RFC 3339 time: {s:?}");
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let oh = rest[1..3].parse::<i64>().map_err(|_| bad())?;
            let om = rest[4..6].parse::<i64>().map_err(|_| bad())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for secs in [0, 951_782_400, 1_686_823_200, 4_102_444_800, -86_400] {
            assert_eq!(parse_time(&format_rfc3339(secs)).unwrap(), secs);
        }
        assert_eq!(format_rfc3339(1_686_823_200), "2023-06-15T10:00:00Z");
        assert_eq!(
            parse_time("2023-06-15T12:00:00.25+02:00").unwrap(),
            1_686_823_200
        );
        assert_eq!(parse_time("1686823200").unwrap(), 1_686_823_200);
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-06-15T10:00:00",
            "2023-06-15T10:00:00+2",
            "2023-06-15T10:00:00.Z",
            "２０２３-06-15T10:00:00Z",
        ] {
            assert!(parse_time(s).is_err(), "{s}");
        }
    }
}
