//! Sigma v2.1 rules: parsing, compilation, matching and correlations (log-source agnostic).
