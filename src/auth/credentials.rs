//! The signed-in credentials: three secret tokens plus the non-secret facts read from
//! their claims. Secrets are wrapped in [`Secret`], whose `Debug` never shows them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::claims;

/// A token that must never reach a log, an error message or the status document.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// SHA-256 of the secret: safe to keep for "have I seen this token" checks.
    pub(crate) fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The three tokens the issuer hands out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// The OpenID id token (a JWT with the account facts).
    pub id_token: Secret,
    /// The bearer token of backend requests.
    pub access_token: Secret,
    /// The token that buys new access tokens.
    pub refresh_token: Secret,
}

/// A complete credential set as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The three secret tokens.
    pub tokens: Tokens,
    /// `chatgpt_account_id` from the id token: the `ChatGPT-Account-ID` header.
    pub account_id: Option<String>,
    /// The signed-in email.
    pub email: Option<String>,
    /// The ChatGPT plan (`plus`, `pro`, …).
    pub plan: Option<String>,
    /// The ChatGPT user id.
    pub user_id: Option<String>,
    /// `exp` of the access token.
    pub access_expires_at: Option<jiff::Timestamp>,
    /// When these tokens were obtained (login or refresh).
    pub last_refresh: jiff::Timestamp,
}

impl Credentials {
    /// Builds credentials from a fresh token set, reading the claims.
    pub fn from_tokens(tokens: Tokens, now: jiff::Timestamp) -> Credentials {
        let id = claims::id_claims(tokens.id_token.expose());
        // The access token carries the same auth namespace; use it when the id token
        // lacks a fact.
        let access = claims::id_claims(tokens.access_token.expose());
        Credentials {
            account_id: id.account_id.or(access.account_id),
            email: id.email.or(access.email),
            plan: id.plan.or(access.plan),
            user_id: id.user_id.or(access.user_id),
            access_expires_at: claims::expiry(tokens.access_token.expose()),
            last_refresh: now,
            tokens,
        }
    }

    /// Applies a refresh answer: each token present replaces the stored one. The account
    /// id stays the one from login (docs/upstream.md) unless it was unknown.
    pub(crate) fn refreshed(&self, update: TokenUpdate, now: jiff::Timestamp) -> Credentials {
        let tokens = Tokens {
            id_token: update
                .id_token
                .unwrap_or_else(|| self.tokens.id_token.clone()),
            access_token: update
                .access_token
                .unwrap_or_else(|| self.tokens.access_token.clone()),
            refresh_token: update
                .refresh_token
                .unwrap_or_else(|| self.tokens.refresh_token.clone()),
        };
        let fresh = Credentials::from_tokens(tokens, now);
        Credentials {
            account_id: self.account_id.clone().or(fresh.account_id),
            email: fresh.email.or_else(|| self.email.clone()),
            plan: fresh.plan.or_else(|| self.plan.clone()),
            user_id: fresh.user_id.or_else(|| self.user_id.clone()),
            ..fresh
        }
    }

    /// Whether the access token should be refreshed before use: it expires within
    /// `margin`, or — when its expiry is unknown — the last refresh is older than
    /// eight days (docs/auth.md, "Refresh").
    pub(crate) fn needs_refresh(&self, now: jiff::Timestamp, margin: jiff::SignedDuration) -> bool {
        match self.access_expires_at {
            Some(exp) => exp <= now.saturating_add(margin).unwrap_or(now),
            None => {
                let eight_days = jiff::SignedDuration::from_hours(8 * 24);
                self.last_refresh <= now.saturating_sub(eight_days).unwrap_or(now)
            }
        }
    }

    /// Whether the access token is past its expiry (unknown expiry counts as valid).
    pub(crate) fn access_expired(&self, now: jiff::Timestamp) -> bool {
        self.access_expires_at.is_some_and(|exp| exp <= now)
    }
}

/// What a refresh answer carries: every field is optional (docs/upstream.md, token refresh).
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenUpdate {
    /// A new id token, if sent.
    pub(crate) id_token: Option<Secret>,
    /// A new access token, if sent.
    pub(crate) access_token: Option<Secret>,
    /// A rotated refresh token, if sent (absent: keep the old one).
    pub(crate) refresh_token: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::claims::make_jwt;
    use serde_json::json;

    fn creds(exp: Option<i64>) -> Credentials {
        let mut access = json!({"sub": "x"});
        if let Some(exp) = exp {
            access["exp"] = json!(exp);
        }
        Credentials::from_tokens(
            Tokens {
                id_token: Secret::new(make_jwt(&json!({"email": "a@b.c",
                    "https://api.openai.com/auth": {"chatgpt_account_id": "acc", "chatgpt_plan_type": "pro"}}))),
                access_token: Secret::new(make_jwt(&access)),
                refresh_token: Secret::new("rt_1"),
            },
            jiff::Timestamp::from_second(1_000_000).unwrap(),
        )
    }

    #[test]
    fn debug_never_shows_a_token() {
        let c = creds(Some(2_000_000));
        let text = format!("{c:?}");
        assert!(!text.contains("rt_1"), "{text}");
        assert!(!text.contains(c.tokens.access_token.expose()), "{text}");
        assert!(text.contains("a@b.c"));
    }

    #[test]
    fn refresh_rules() {
        let margin = jiff::SignedDuration::from_secs(60);
        let c = creds(Some(2_000_000));
        let t = |s| jiff::Timestamp::from_second(s).unwrap();
        assert!(!c.needs_refresh(t(2_000_000 - 61), margin));
        assert!(c.needs_refresh(t(2_000_000 - 60), margin));
        assert!(!c.access_expired(t(1_999_999)));
        assert!(c.access_expired(t(2_000_000)));
        let unknown = creds(None);
        assert!(!unknown.needs_refresh(t(1_000_000 + 8 * 86400 - 1), margin));
        assert!(unknown.needs_refresh(t(1_000_000 + 8 * 86400), margin));
    }

    #[test]
    fn refreshed_keeps_the_account_and_missing_tokens() {
        let c = creds(Some(2_000_000));
        let update = TokenUpdate {
            access_token: Some(Secret::new(make_jwt(&json!({"exp": 3_000_000})))),
            refresh_token: Some(Secret::new("rt_2")),
            id_token: None,
        };
        let r = c.refreshed(update, jiff::Timestamp::from_second(1_500_000).unwrap());
        assert_eq!(r.tokens.refresh_token.expose(), "rt_2");
        assert_eq!(r.tokens.id_token, c.tokens.id_token);
        assert_eq!(r.account_id.as_deref(), Some("acc"));
        assert_eq!(r.access_expires_at.unwrap().as_second(), 3_000_000);
        assert_eq!(r.last_refresh.as_second(), 1_500_000);
    }
}
