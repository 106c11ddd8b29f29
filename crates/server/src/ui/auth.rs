//! Web sign-in: users from the configuration with argon2id password hashes, server-side
//! sessions behind an opaque cookie, a CSRF token per session, and lockout after repeated
//! failures.
//!
//! * **Passwords** are kept only as argon2id PHC hashes (`password_hash` in the configuration,
//!   or `password`/`password_env` hashed at start).
//! * **Sessions**: 32 random bytes (hex) in the `sw_session` cookie — `HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, and `Secure` unless `[ui] secure_cookies = false` (plain-HTTP
//!   test setups). Sessions live in memory for `session_hours`; a restart signs everyone out.
//! * **CSRF**: every form carries the session's token; every state-changing request (form or
//!   API call made with the cookie) must present it (`csrf` field or `X-CSRF-Token` header).
//! * **Lockout**: five failed sign-ins for a user name within 15 minutes lock it for 15 minutes;
//!   the answer does not say whether the name exists.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use stormwatch_store::{keys, Role};

/// A user who may sign in.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub tenant: Option<String>,
    /// argon2id PHC string.
    pub hash: String,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub tenant: Option<String>,
    pub csrf: String,
    expires: Instant,
}

const MAX_FAILURES: usize = 5;
/// Names with recent failures tracked before old entries are swept.
const MAX_TRACKED: usize = 10_000;
const LOCK_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Why a sign-in failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user or wrong password (not told apart).
    Wrong,
    /// Too many failures: locked for this long.
    Locked(Duration),
}

/// Users, sessions and failure counts.
#[derive(Debug)]
pub struct Auth {
    users: HashMap<String, User>,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
    session_ttl: Duration,
    /// Held while a password is checked: one argon2 at a time.
    verifying: Mutex<()>,
    /// A valid hash to verify against for unknown names, so timing does not tell them apart.
    decoy: String,
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    // This fails only when the OS has no randomness; then nothing should be issued.
    keys::random_hex().expect("operating system randomness")
}

impl Auth {
    pub fn new(users: Vec<User>, session_hours: u64) -> Auth {
        Auth {
            users: users.into_iter().map(|u| (u.name.clone(), u)).collect(),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            session_ttl: Duration::from_secs(session_hours.max(1) * 3600),
            verifying: Mutex::new(()),
            // Hashing fails only without OS randomness, when nothing else works either; an empty
            // decoy would make unknown names answer faster.
            decoy: keys::hash_secret("stormwatch-decoy-password")
                .expect("argon2 hashing with OS randomness"),
        }
    }

    /// Checks a password (argon2: call off the async executor); a new session on success.
    ///
    /// The attempt is counted *before* the password is checked (and forgotten on success), so
    /// parallel guesses cannot slip past the lock; checks run one at a time, so unauthenticated
    /// sign-ins cannot occupy every core with argon2.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        now: Instant,
    ) -> Result<(String, Session), LoginError> {
        {
            let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            if f.len() >= MAX_TRACKED {
                f.retain(|_, v| {
                    v.iter()
                        .any(|t| now.saturating_duration_since(*t) < LOCK_WINDOW)
                });
            }
            let list = f.entry(name.to_string()).or_default();
            list.retain(|t| now.saturating_duration_since(*t) < LOCK_WINDOW);
            if list.len() >= MAX_FAILURES {
                let oldest = list[list.len() - MAX_FAILURES];
                return Err(LoginError::Locked(
                    LOCK_WINDOW.saturating_sub(now.saturating_duration_since(oldest)),
                ));
            }
            list.push(now);
        }
        let user = self.users.get(name);
        let ok = {
            let _one = self.verifying.lock().unwrap_or_else(|p| p.into_inner());
            let hash = user.map_or(self.decoy.as_str(), |u| u.hash.as_str());
            keys::verify_secret(password, hash) && user.is_some()
        };
        let Some(user) = user.filter(|_| ok) else {
            return Err(LoginError::Wrong);
        };
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        let session = Session {
            user: user.name.clone(),
            role: user.role,
            tenant: user.tenant.clone(),
            csrf: random_token(),
            expires: now + self.session_ttl,
        };
        let token = random_token();
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.retain(|_, v| v.expires > now);
        s.insert(token.clone(), session.clone());
        Ok((token, session))
    }

    /// The live session of a cookie value.
    pub fn session(&self, token: &str, now: Instant) -> Option<Session> {
        let s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.get(token).filter(|v| v.expires > now).cloned()
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Whether any user is configured (the UI answers 404 otherwise).
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }
}

/// Compares two secrets in constant time (for equal lengths; the tokens here all have one).
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let user = User {
            name: "ann".into(),
            role: Role::TenantAdmin,
            tenant: Some("t".into()),
            hash: keys::hash_secret("correct horse battery").unwrap(),
        };
        Auth::new(vec![user], 8)
    }

    #[test]
    fn right_password_opens_a_session_with_its_own_csrf_token() {
        let a = auth();
        let now = Instant::now();
        let (token, s) = a.login("ann", "correct horse battery", now).unwrap();
        assert_eq!(a.session(&token, now).unwrap().csrf, s.csrf);
        assert_ne!(token, s.csrf);
        assert!(
            a.session(&token, now + Duration::from_secs(9 * 3600))
                .is_none(),
            "expires"
        );
        a.logout(&token);
        assert!(a.session(&token, now).is_none());
    }

    #[test]
    fn five_failures_lock_the_name_and_unknown_names_look_the_same() {
        let a = auth();
        let now = Instant::now();
        assert_eq!(a.login("nobody", "x", now).unwrap_err(), LoginError::Wrong);
        for _ in 0..5 {
            assert_eq!(a.login("ann", "wrong", now).unwrap_err(), LoginError::Wrong);
        }
        assert!(matches!(
            a.login("ann", "correct horse battery", now),
            Err(LoginError::Locked(_))
        ));
        let later = now + LOCK_WINDOW + Duration::from_secs(1);
        assert!(
            a.login("ann", "correct horse battery", later).is_ok(),
            "the lock ends"
        );
    }
}
