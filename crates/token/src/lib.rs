//! Strict JWS/JWT verification with issuer-bound keys and stable reason codes.
//!
//! Storm-0558 happened because a token validator asked "is the `kid` in the published key set
//! and does the signature verify?" instead of "may *this* key sign for *this* issuer and
//! tenant?". This crate asks the second question. [`verify()`] runs the checks of DESIGN.md
//! "Token verdict" in their contract order and returns a [`Verdict`] whose [`Reason`] is the
//! first failing check — never an error, never a panic, whatever the input.
//!
//! Layout: [`jws`] parses (bounded, strict JSON without duplicate keys), [`key`] turns JWKS /
//! PEM / x5c into verification-ready keys, [`verify`](mod@verify) judges, [`revoked`] holds the
//! revoked-key list (Storm-0558's key by default), [`cache`] reuses valid verdicts within a
//! token's lifetime, and [`source`] loads and refreshes key sets (HTTPS behind the `https`
//! feature, so the core has no I/O beyond reading key files). Cryptography is `ring`'s.

pub mod cache;
mod der;
mod error;
mod json;
pub mod jws;
pub mod key;
mod reason;
pub mod revoked;
pub mod source;
pub mod time;
pub mod verify;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use cache::VerifiedCache;
pub use error::Error;
pub use key::{Key, KeySet};
pub use reason::{Reason, Verdict};
pub use revoked::{RevokedList, STORM_0558_THUMBPRINT};
pub use source::{KeySource, KeyStore};
pub use verify::{verify, Options, Tenants, CONSUMER_TENANT};
