//! What the built-in detectors want parsed, for the witness prefilter ([`crate::prefilter`]).
//!
//! Kept beside the detectors it describes and tested against them (`tests/fastpath.rs`): a
//! built-in that starts reading a new kind of record must say so here, or the prefilter would
//! skip those records unparsed.
//!
//! * mail analysis (`mailbox`, `signins`, `bulk`): every `MailItemsAccessed` and `UserLoggedIn`
//!   UAL record (read narrowly where nothing else wants it: [`crate::normalize::narrow`] keeps
//!   what [`super::mailbox::MailFields`] and the sign-in join read), every Entra sign-in and
//!   every Entra audit record (consents);
//! * token verdicts: every token-verdict record;
//! * IOC feeds: records holding an indicator's text — an IPv4 address as written (and any
//!   IPv4-mapped IPv6 address, `:ffff:`), an app id, a domain, a URL, a user-agent substring;
//!   signing-key indicators only match token verdicts, wanted whole anyway. In a UAL record an
//!   indicator is looked for only in the fields [`super::ioc::ual_keys`] names (the prefilter's
//!   narrow check: [`crate::prefilter::NarrowCheck`]). A network wider than
//!   one address, or an IPv6 address (many spellings), cannot be found by its text: then every
//!   record is wanted.

use super::ioc::{ual_keys, Indicator, IndicatorValue};
use crate::event::LogKind;
use crate::prefilter::Interest;
use std::net::IpAddr;

/// The records the built-in detectors (mail analysis, token verdicts, the given IOCs) read.
pub fn builtin_interest(indicators: &[Indicator]) -> Interest {
    let mut interest = Interest::nothing();
    interest.narrow_literals(["MailItemsAccessed", "UserLoggedIn"]);
    interest.kind(LogKind::EntraSignIn);
    interest.kind(LogKind::EntraAudit);
    interest.kind(LogKind::TokenVerdict);
    for ind in indicators {
        let keys = ual_keys(&ind.value);
        match &ind.value {
            IndicatorValue::Network(IpAddr::V4(a), 32) => {
                interest.literals_in([a.to_string(), ":ffff:".to_string()], &keys);
            }
            IndicatorValue::Network(..) => interest.all(),
            IndicatorValue::AppId(s)
            | IndicatorValue::Domain(s)
            | IndicatorValue::Url(s)
            | IndicatorValue::UserAgent(s) => interest.literals_in([s], &keys),
            IndicatorValue::Key(_) => {}
        }
    }
    interest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storm_0558_feed_is_found_by_text() {
        let interest = builtin_interest(&super::super::ioc::storm_0558());
        assert!(!interest.is_everything());
        let p = interest.compile().expect("a prefilter");
        assert!(p.wants(br#"{"Operation":"MailItemsAccessed","Workload":"Exchange"}"#));
        assert!(p.wants(br#"{"category":"SignInLogs"}"#));
        assert!(p.wants(
            br#"{"Operation":"Send","Workload":"Exchange","ClientIP":"195.26.87.219:443"}"#
        ));
        assert!(!p.wants(br#"{"Operation":"Send","Workload":"Exchange","ClientIP":"10.0.0.1"}"#));
    }

    #[test]
    fn a_network_indicator_wants_everything() {
        let ind = Indicator {
            value: IndicatorValue::Network("10.0.0.0".parse().expect("ip"), 8),
            description: String::new(),
            feed: "t".into(),
            valid_from: None,
            valid_until: None,
        };
        assert!(builtin_interest(&[ind]).is_everything());
    }
}
