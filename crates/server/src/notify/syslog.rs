//! Syslog (RFC 5424) carrying a CEF message, over UDP (one datagram a message) or TCP (octet
//! counting, RFC 6587), facility local0, severity from the incident level. The SIEM side of a
//! provider's notification path.

use super::message::Brief;
use super::{Channel, Failure, Target};
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// Datagram or stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The syslog channel.
pub struct Syslog {
    pub address: String,
    pub transport: Transport,
}

/// The RFC 5424 line for a brief (without framing).
pub fn line(b: &Brief, now_ms: i64) -> String {
    // local0 (16); notice for low/informational, warning medium, error high, critical critical.
    let severity = [5, 5, 4, 3, 2][usize::from(b.level)];
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".into());
    format!(
        "<{}>1 {} {host} stormwatch {} incident - {}",
        16 * 8 + severity,
        chrono::DateTime::from_timestamp_millis(now_ms).map_or_else(
            || "-".into(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        std::process::id(),
        b.cef()
    )
}

impl Channel for Syslog {
    fn name(&self) -> &str {
        "syslog"
    }

    fn wants(&self, _target: &Target<'_>) -> bool {
        true
    }

    fn send(&self, b: &Brief, _target: &Target<'_>) -> Result<(), Failure> {
        let msg = line(b, crate::serve::now_ms());
        let addr = self
            .address
            .to_socket_addrs()
            .map_err(|e| Failure::transient(format!("syslog: address: {e}")))?
            .next()
            .ok_or_else(|| Failure::transient("syslog: the address resolves to nothing"))?;
        let fail = |e: std::io::Error| Failure::transient(format!("syslog: {e}"));
        match self.transport {
            Transport::Udp => {
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let sock = UdpSocket::bind(local).map_err(fail)?;
                sock.send_to(msg.as_bytes(), addr).map_err(fail)?;
            }
            Transport::Tcp => {
                let mut s =
                    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(fail)?;
                s.set_write_timeout(Some(Duration::from_secs(5)))
                    .map_err(fail)?;
                write!(s, "{} {msg}", msg.len()).map_err(fail)?;
                s.flush().map_err(fail)?;
            }
        }
        Ok(())
    }
}
