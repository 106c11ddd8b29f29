//! The crate's error type: configuration and key-set loading problems (a token is never an
//! error — it gets a [`crate::Verdict`]).

/// Errors from loading keys, revoked lists and options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A JWKS, PEM or discovery document could not be used.
    #[error("{0}")]
    KeySet(String),
    /// A key-set URL could not be fetched.
    #[error("fetching {url}: {detail}")]
    Fetch { url: String, detail: String },
    /// Inconsistent or incomplete options.
    #[error("{0}")]
    Config(String),
}
