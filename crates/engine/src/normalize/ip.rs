//! Client IP addresses as exports write them, to one [`IpAddr`].
//!
//! Seen in real UAL and Sentinel data: `1.2.3.4`, `1.2.3.4:17362`, `[2603:1036:4:3f::5]:1672`,
//! `[2001:db8::abcd]`, `::ffff:10.1.2.3` (shown as IPv4), `::1`. Host names, `localhost:port` and
//! garbage such as `NOTANIPV4 (10.9000.0.1)` are not addresses: the core field stays empty and the
//! raw value stays in the record.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Parses a client IP field; `None` if it does not hold an address.
pub fn parse(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let ip = if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Ok(sa) = s.parse::<SocketAddr>() {
        sa.ip()
    } else if let Some((inner, port)) = s.strip_prefix('[').and_then(|r| r.split_once(']')) {
        let port_ok = port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !port_ok {
            return None;
        }
        inner.parse::<IpAddr>().ok()?
    } else if let Some((host, port)) = s.rsplit_once(':') {
        // `1.2.3.4:port` is covered by SocketAddr; a bare IPv6 never gets here. Tolerate a
        // non-numeric port suffix only for IPv4 hosts.
        if port.is_empty() || host.contains(':') {
            return None;
        }
        host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)?
    } else {
        return None;
    };
    Some(canonical(ip))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_seen_in_exports() {
        let cases = [
            ("1.2.3.4", Some("1.2.3.4")),
            ("175.45.176.99:17362", Some("175.45.176.99")),
            ("[2603:1036:4:3f::5]:1672", Some("2603:1036:4:3f::5")),
            ("[2001:db8::abcd]", Some("2001:db8::abcd")),
            ("::ffff:10.11.12.13", Some("10.11.12.13")),
            ("::1", Some("::1")),
            ("[10.11.12.13]:12345", Some("10.11.12.13")),
            (" 81.171.241.231 ", Some("81.171.241.231")),
            ("localhost:12345", None),
            ("NOTANIPV4 (10.9000.0.1)", None),
            ("[SOMETHING (10.555.1.2)]", None),
            ("::2a02:cf40:", None),
            ("example.com", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input).map(|i| i.to_string()).as_deref(),
                want,
                "{input:?}"
            );
        }
    }
}
