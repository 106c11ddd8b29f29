//! stormwatch's long-running HTTP services.
//!
//! [`serve`] is `stormwatch serve` (continuous multi-tenant detection, its API and store).
//! [`guard`] is the forward-auth gateway that verifies bearer tokens strictly for
//! nginx `auth_request`, Traefik ForwardAuth and Envoy ext_authz, and writes every verdict to
//! a JSONL audit log that `stormwatch hunt` reads. Each service keeps to its own module so
//! the serve API can live beside it without sharing state.

pub mod guard;
pub mod notify;
pub mod serve;
pub mod ui;
