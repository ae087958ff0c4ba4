//! Login grants waiting to be completed: authorization codes (browser and device flows) and
//! device codes being polled.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::tokens::random_b64url;

/// How long an authorization code can be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Pending grants beyond this many are dropped wholesale; tests create a handful.
const MAX_PENDING: usize = 10_000;

/// The S256 PKCE challenge of a verifier: base64url-nopad(SHA-256(verifier)).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What an authorization code was issued for.
pub(crate) struct CodeGrant {
    pub challenge: String,
    pub redirect_uri: String,
    pub client_id: String,
    issued: Instant,
}

impl CodeGrant {
    pub(crate) fn is_expired(&self) -> bool {
        self.issued.elapsed() > CODE_LIFETIME
    }
}

/// A device code the user has not approved yet.
struct DeviceGrant {
    user_code: String,
    /// Polls answered "pending" so far.
    polls: u32,
    /// Pending answers still owed before approval.
    pending_left: u32,
}

/// The answer to one device-token poll.
pub(crate) enum DevicePoll {
    /// Still pending; `nth` counts pending answers from 0 (used to alternate 403/404).
    Pending { nth: u32 },
    /// Approved: the server-generated PKCE pair and a fresh authorization code.
    Approved {
        authorization_code: String,
        code_challenge: String,
        code_verifier: String,
    },
    /// No such device code, or the user code does not belong to it.
    Unknown,
}

#[derive(Default)]
pub(crate) struct GrantStore {
    codes: HashMap<String, CodeGrant>,
    devices: HashMap<String, DeviceGrant>,
}

impl GrantStore {
    /// Stores a new single-use authorization code and returns it.
    pub(crate) fn new_code(
        &mut self,
        challenge: &str,
        redirect_uri: &str,
        client_id: &str,
    ) -> String {
        if self.codes.len() >= MAX_PENDING {
            self.codes.clear();
        }
        let code = format!("ac_{}", random_b64url(24));
        self.codes.insert(
            code.clone(),
            CodeGrant {
                challenge: challenge.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                client_id: client_id.to_owned(),
                issued: Instant::now(),
            },
        );
        code
    }

    /// Removes and returns the grant of `code`: codes are single-use even when the exchange
    /// then fails.
    pub(crate) fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        self.codes.remove(code)
    }

    /// Starts a device grant; returns `(device_auth_id, user_code)`.
    pub(crate) fn new_device(&mut self, pending_polls: u32) -> (String, String) {
        if self.devices.len() >= MAX_PENDING {
            self.devices.clear();
        }
        let device_auth_id = format!("deviceauth_{}", random_b64url(16));
        let user_code = user_code();
        self.devices.insert(
            device_auth_id.clone(),
            DeviceGrant {
                user_code: user_code.clone(),
                polls: 0,
                pending_left: pending_polls,
            },
        );
        (device_auth_id, user_code)
    }

    /// Answers one poll. On approval the device grant is finished and an authorization code
    /// bound to `redirect_uri` and `client_id` replaces it.
    pub(crate) fn poll_device(
        &mut self,
        device_auth_id: &str,
        user_code: &str,
        never_approve: bool,
        redirect_uri: &str,
        client_id: &str,
    ) -> DevicePoll {
        let Some(grant) = self.devices.get_mut(device_auth_id) else {
            return DevicePoll::Unknown;
        };
        if grant.user_code != user_code {
            return DevicePoll::Unknown;
        }
        if never_approve || grant.pending_left > 0 {
            grant.pending_left = grant.pending_left.saturating_sub(1);
            let nth = grant.polls;
            grant.polls += 1;
            return DevicePoll::Pending { nth };
        }
        self.devices.remove(device_auth_id);
        let code_verifier = random_b64url(64);
        let code_challenge = pkce_challenge(&code_verifier);
        let authorization_code = self.new_code(&code_challenge, redirect_uri, client_id);
        DevicePoll::Approved {
            authorization_code,
            code_challenge,
            code_verifier,
        }
    }
}

/// A user code shaped like upstream's, e.g. `QXWT-48213`.
fn user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let letters: String = (0..4)
        .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
        .collect();
    let digits: u32 = rng.random_range(10_000..100_000);
    format!("{letters}-{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn device_grant_is_pending_then_approved_once() {
        let mut store = GrantStore::default();
        let (id, code) = store.new_device(2);
        for expected in 0..2 {
            match store.poll_device(&id, &code, false, "r", "c") {
                DevicePoll::Pending { nth } => assert_eq!(nth, expected),
                _ => panic!("expected pending"),
            }
        }
        let DevicePoll::Approved {
            authorization_code,
            code_challenge,
            code_verifier,
        } = store.poll_device(&id, &code, false, "r", "c")
        else {
            panic!("expected approval");
        };
        assert_eq!(pkce_challenge(&code_verifier), code_challenge);
        let grant = store.take_code(&authorization_code).unwrap();
        assert_eq!(grant.redirect_uri, "r");
        assert!(matches!(
            store.poll_device(&id, &code, false, "r", "c"),
            DevicePoll::Unknown
        ));
    }
}
