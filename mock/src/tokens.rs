//! Credential minting and the registry of live tokens.
//!
//! JWTs are unsigned (`alg:"none"`, signature `sig`), as in Codex's own tests: clients only
//! base64url-decode the payload. Validity is decided by the registry, not by the JWT, so a
//! token the mock never issued is rejected even if it decodes.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Value, json};

use crate::state::IssuedTokens;
use crate::{CLIENT_ID, MockAccount};

/// Oldest tokens are forgotten beyond this many (each kind), keeping memory bounded in long
/// benchmark runs.
const MAX_TOKENS: usize = 20_000;

/// `n` random bytes, base64url without padding.
pub(crate) fn random_b64url(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` random bytes as lower-case hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An unsigned JWT with the given payload.
pub(crate) fn encode_jwt(payload: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{body}.sig")
}

fn auth_claims(account: &MockAccount) -> Value {
    json!({
        "chatgpt_account_id": account.account_id,
        "chatgpt_plan_type": account.plan,
        "chatgpt_user_id": account.user_id,
        "user_id": account.user_id,
    })
}

fn id_token(account: &MockAccount, now: u64) -> String {
    let mut auth = auth_claims(account);
    if let Some(obj) = auth.as_object_mut() {
        obj.insert("organization_id".into(), json!("org-mock"));
        obj.insert("project_id".into(), json!(""));
        obj.insert("completed_platform_onboarding".into(), json!(false));
        obj.insert("is_org_owner".into(), json!(true));
    }
    encode_jwt(&json!({
        "iss": "https://auth.openai.com",
        "aud": [CLIENT_ID],
        "sub": format!("auth0|{}", account.user_id),
        "email": account.email,
        "email_verified": true,
        "iat": now,
        "exp": now + 3600,
        "jti": random_hex(8),
        "https://api.openai.com/auth": auth,
    }))
}

fn access_token(account: &MockAccount, now: u64, exp: u64) -> String {
    encode_jwt(&json!({
        "iss": "https://auth.openai.com",
        "aud": ["https://api.openai.com/v1"],
        "client_id": CLIENT_ID,
        "sub": format!("auth0|{}", account.user_id),
        "iat": now,
        "exp": exp,
        "jti": random_hex(8),
        "https://api.openai.com/auth": auth_claims(account),
        "https://api.openai.com/profile": {"email": account.email, "email_verified": true},
    }))
}

struct AccessEntry {
    account_id: String,
    expires_at: SystemTime,
    revoked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefreshStatus {
    Active,
    Used,
    Revoked,
}

/// Why a refresh token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefreshDenied {
    /// Already rotated once.
    Reused,
    /// Revoked, or never issued by this mock.
    Invalidated,
}

/// The outcome of checking a bearer token.
pub(crate) enum AccessCheck {
    Valid { account_id: String },
    Invalid,
}

/// A map bounded to [`MAX_TOKENS`] entries, forgetting the oldest first.
struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V> Bounded<V> {
    fn insert(&mut self, key: String, value: V) {
        if self.map.len() >= MAX_TOKENS
            && let Some(oldest) = self.order.pop_front()
        {
            self.map.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
    }
}

/// Every access and refresh token the mock has issued, with its status.
#[derive(Default)]
pub(crate) struct TokenStore {
    access: Bounded<AccessEntry>,
    refresh: Bounded<RefreshStatus>,
    /// Refresh tokens minted for a chosen account ([`TokenStore::issue_sticky`]): their
    /// refreshes mint tokens for that account again, whatever the `account` knob says.
    sticky: Bounded<MockAccount>,
}

impl TokenStore {
    /// Mints and registers an id/access/refresh triple.
    pub(crate) fn issue(&mut self, account: &MockAccount, lifetime: Duration) -> IssuedTokens {
        let now = unix_now();
        let expires_at = SystemTime::now() + lifetime;
        let exp = expires_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(now);
        let access = access_token(account, now, exp);
        let refresh = format!("rt_{}", random_b64url(32));
        self.access.insert(
            access.clone(),
            AccessEntry {
                account_id: account.account_id.clone(),
                expires_at,
                revoked: false,
            },
        );
        self.refresh.insert(refresh.clone(), RefreshStatus::Active);
        IssuedTokens {
            id_token: id_token(account, now),
            access_token: access,
            refresh_token: refresh,
            expires_in: lifetime.as_secs(),
            account_id: account.account_id.clone(),
        }
    }

    /// Like [`TokenStore::issue`], and the refresh token remembers `account`.
    pub(crate) fn issue_sticky(
        &mut self,
        account: &MockAccount,
        lifetime: Duration,
    ) -> IssuedTokens {
        let issued = self.issue(account, lifetime);
        self.sticky
            .insert(issued.refresh_token.clone(), account.clone());
        issued
    }

    /// The account a sticky refresh token was minted for.
    pub(crate) fn sticky_account(&self, refresh_token: &str) -> Option<MockAccount> {
        self.sticky.map.get(refresh_token).cloned()
    }

    /// Whether `token` is a live access token (issued, not revoked, not expired).
    pub(crate) fn check_access(&self, token: &str) -> AccessCheck {
        match self.access.map.get(token) {
            Some(e) if !e.revoked && SystemTime::now() < e.expires_at => AccessCheck::Valid {
                account_id: e.account_id.clone(),
            },
            _ => AccessCheck::Invalid,
        }
    }

    /// Marks `refresh_token` used if it is active; the caller then issues new tokens.
    pub(crate) fn consume_refresh(&mut self, refresh_token: &str) -> Result<(), RefreshDenied> {
        match self.refresh.map.get_mut(refresh_token) {
            Some(status @ RefreshStatus::Active) => {
                *status = RefreshStatus::Used;
                Ok(())
            }
            Some(RefreshStatus::Used) => Err(RefreshDenied::Reused),
            Some(RefreshStatus::Revoked) | None => Err(RefreshDenied::Invalidated),
        }
    }

    /// Whether `refresh_token` is active, without spending it (refresh without rotation).
    pub(crate) fn check_refresh(&self, refresh_token: &str) -> Result<(), RefreshDenied> {
        match self.refresh.map.get(refresh_token) {
            Some(RefreshStatus::Active) => Ok(()),
            Some(RefreshStatus::Used) => Err(RefreshDenied::Reused),
            Some(RefreshStatus::Revoked) | None => Err(RefreshDenied::Invalidated),
        }
    }

    /// Revokes a refresh or access token (unknown tokens are ignored, as RFC 7009 asks).
    pub(crate) fn revoke(&mut self, token: &str) {
        if let Some(status) = self.refresh.map.get_mut(token) {
            *status = RefreshStatus::Revoked;
        }
        if let Some(entry) = self.access.map.get_mut(token) {
            entry.revoked = true;
        }
    }

    pub(crate) fn revoke_all_access(&mut self) {
        for entry in self.access.map.values_mut() {
            entry.revoked = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(jwt: &str) -> Value {
        let mut parts = jwt.split('.');
        let header = parts.next().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(header).unwrap(),
            br#"{"alg":"none","typ":"JWT"}"#
        );
        let body = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        assert_eq!(parts.next(), Some("sig"));
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn issued_tokens_carry_the_account_claims() {
        let mut store = TokenStore::default();
        let account = MockAccount::default();
        let t = store.issue(&account, Duration::from_secs(100));
        let id = payload(&t.id_token);
        assert_eq!(id["email"], "user@example.com");
        let auth = &id["https://api.openai.com/auth"];
        assert_eq!(auth["chatgpt_account_id"], account.account_id);
        assert_eq!(auth["chatgpt_plan_type"], "plus");
        assert_eq!(auth["chatgpt_user_id"], "user-abc");
        let access = payload(&t.access_token);
        let lifetime = access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap();
        assert!((99..=101).contains(&lifetime));
        assert_eq!(
            access["https://api.openai.com/profile"]["email"],
            account.email
        );
        assert!(t.refresh_token.starts_with("rt_"));
        assert_eq!(t.expires_in, 100);
    }

    #[test]
    fn refresh_tokens_rotate_once_and_revoke() {
        let mut store = TokenStore::default();
        let t = store.issue(&MockAccount::default(), Duration::from_secs(100));
        assert_eq!(store.consume_refresh(&t.refresh_token), Ok(()));
        assert_eq!(
            store.consume_refresh(&t.refresh_token),
            Err(RefreshDenied::Reused)
        );
        assert_eq!(
            store.consume_refresh("rt_unknown"),
            Err(RefreshDenied::Invalidated)
        );
        let t2 = store.issue(&MockAccount::default(), Duration::from_secs(100));
        store.revoke(&t2.refresh_token);
        assert_eq!(
            store.consume_refresh(&t2.refresh_token),
            Err(RefreshDenied::Invalidated)
        );
    }

    #[test]
    fn zero_lifetime_tokens_are_already_expired() {
        let mut store = TokenStore::default();
        let t = store.issue(&MockAccount::default(), Duration::ZERO);
        assert!(matches!(
            store.check_access(&t.access_token),
            AccessCheck::Invalid
        ));
    }
}
