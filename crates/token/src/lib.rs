//! Strict JWS/JWT verification with issuer-bound keys and stable reason codes.
