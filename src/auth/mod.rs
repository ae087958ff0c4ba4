//! Upstream sign-in (docs/auth.md): how airelays gets, keeps and refreshes the ChatGPT
//! credentials of the Codex OAuth client.
//!
//! - [`browser`] and [`device`]: the two login flows (`airelays login`), both ending in
//!   an authorization-code exchange through [`issuer`].
//! - [`issuer`]: every HTTP call to the OAuth issuer and the reading of its errors.
//! - [`claims`]: the id-token and access-token claims we read (no signature check).
//! - [`credentials`]: the credential set; tokens are [`credentials::Secret`]s.
//! - [`accounts`]: the registry of signed-in accounts (`default` is today's login).
//! - [`store`]: the OS keychain or a 0600 file, committed by one atomic file write.
//! - [`session`]: what the relay uses per request — the access token from memory,
//!   single-flight refresh across tasks and processes, and a watcher for logins made
//!   elsewhere.
//!
//! [`local_status`] answers `airelays status` from local metadata only.

/// The signed-in accounts: names, per-account paths, order.
pub mod accounts;
/// Browser login: PKCE, the one-time start link, the callback server.
pub(crate) mod browser;
/// Reading id-token and access-token claims.
pub mod claims;
/// The credential set and its secrets.
pub(crate) mod credentials;
/// Device-code login.
pub(crate) mod device;
/// HTTP calls to the OAuth issuer.
pub(crate) mod issuer;
/// The relay's credential session: in-memory token, refresh, watcher.
pub(crate) mod session;
/// The OS keychain or 0600 file that keeps the credentials.
pub(crate) mod store;

use crate::config::{Config, Paths};
use crate::status::{UpstreamState, UpstreamStatus};

pub use credentials::{Credentials, Secret, Tokens};
pub use session::{Access, CredentialSession, SessionError};
pub use store::{
    CredentialStore, KeychainError, RefreshErrorRecord, SecretBackend, StoreError, StoreKind,
    Stored,
};

/// The upstream status from local metadata only: never the keychain, never the
/// network, so `airelays status` stays fast.
pub(crate) fn local_status(paths: &Paths, config: &Config) -> UpstreamStatus {
    let Some((kind, meta)) = store::read_meta(paths) else {
        return missing_status(config);
    };
    let parse = |s: &Option<String>| s.as_deref().and_then(|s| s.parse::<jiff::Timestamp>().ok());
    let access_expires_at = parse(&meta.access_expires_at);
    let last_refresh = parse(&meta.last_refresh);
    let now = jiff::Timestamp::now();
    let mut status = UpstreamStatus {
        state: UpstreamState::default(),
        email: meta.email,
        plan: meta.plan,
        account_id: meta.account_id,
        credential_store: Some(kind.as_str().to_string()),
        last_refresh: last_refresh.map(|t| t.to_string()),
        access_expires_at: access_expires_at.map(|t| t.to_string()),
        detail: None,
        credential_save_error: None,
    };
    let expired = match access_expires_at {
        Some(exp) => exp <= now,
        None => last_refresh.is_none_or(|t| {
            t <= now
                .saturating_sub(jiff::SignedDuration::from_hours(8 * 24))
                .unwrap_or(now)
        }),
    };
    set_state(
        &mut status,
        meta.refresh_error.map(|r| r.message).as_deref(),
        expired,
    );
    status
}

/// `missing`, naming the configured store preference.
pub(crate) fn missing_status(config: &Config) -> UpstreamStatus {
    UpstreamStatus {
        credential_store: Some(config.auth.credential_store.as_str().to_string()),
        detail: Some("No ChatGPT login found. Run `airelays login`.".into()),
        ..UpstreamStatus::missing()
    }
}

/// The status of a loaded credential set.
pub(crate) fn status_of(
    creds: &Credentials,
    kind: StoreKind,
    permanent_failure: Option<&str>,
    now: jiff::Timestamp,
) -> UpstreamStatus {
    let mut status = UpstreamStatus {
        state: UpstreamState::default(),
        email: creds.email.clone(),
        plan: creds.plan.clone(),
        account_id: creds.account_id.clone(),
        credential_store: Some(kind.as_str().to_string()),
        last_refresh: Some(creds.last_refresh.to_string()),
        access_expires_at: creds.access_expires_at.map(|t| t.to_string()),
        detail: None,
        credential_save_error: None,
    };
    let expired = creds.needs_refresh(now, jiff::SignedDuration::ZERO);
    set_state(&mut status, permanent_failure, expired);
    status
}

fn set_state(status: &mut UpstreamStatus, permanent_failure: Option<&str>, expired: bool) {
    if let Some(message) = permanent_failure {
        status.state = UpstreamState::RefreshFailed;
        status.detail = Some(message.to_string());
    } else if expired {
        status.state = UpstreamState::RefreshNeeded;
        status.detail = Some(
            "The access token has expired; the relay refreshes it on the next request.".into(),
        );
    } else {
        status.state = UpstreamState::Ready;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CredentialStoreKind;
    use std::sync::Arc;

    #[tokio::test]
    async fn local_status_reads_metadata_only() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_file: dir.path().join("config.toml"),
            data_dir: dir.path().join("data"),
        };
        let config = Config::defaults(&paths);
        let status = local_status(&paths, &config);
        assert_eq!(status.state, UpstreamState::Missing);
        assert_eq!(status.credential_store.as_deref(), Some("auto"));

        // A keychain index whose entries do not exist: status must not notice (it never
        // touches the keychain), and must report the metadata.
        let backend = Arc::new(store::tests::MemoryKeychain::default());
        let s = CredentialStore::with_backend(
            paths.clone(),
            CredentialStoreKind::Auto,
            backend.clone(),
        );
        let creds = store::tests::sample_credentials("rt_status", 10);
        s.save(&creds, StoreKind::Keychain).await.unwrap();
        backend.entries.lock().unwrap().clear();
        let status = local_status(&paths, &config);
        assert_eq!(status.state, UpstreamState::Ready);
        assert_eq!(status.credential_store.as_deref(), Some("keychain"));
        assert_eq!(status.email.as_deref(), Some("user@example.com"));
        assert_eq!(status.plan.as_deref(), Some("plus"));
        assert_eq!(status.account_id.as_deref(), Some("acc-1"));
        assert!(status.access_expires_at.unwrap().ends_with('Z'));
        let text = serde_json::to_string(&local_status(&paths, &config)).unwrap();
        assert!(!text.contains("rt_status"));
        assert!(!text.contains(creds.tokens.access_token.expose()));
    }
}

/// Why a login did not complete, with the next step.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoginError {
    #[error("port {0} is busy — close the other login or use `airelays login --device`")]
    PortBusy(u16),
    #[error("cannot listen for the sign-in callback on localhost:{port}: {reason}")]
    Listen { port: u16, reason: String },
    #[error(
        "another process tried to join this sign-in (its one-time link was opened twice), so it was aborted — run `airelays login` again"
    )]
    Joined,
    #[error(
        "Codex is not enabled for this ChatGPT workspace (missing_codex_entitlement) — ask the workspace admin to enable Codex, or run `airelays login` with another account"
    )]
    MissingEntitlement,
    #[error("the sign-in was refused ({code}{}) — run `airelays login` to try again", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Denied {
        code: String,
        description: Option<String>,
    },
    #[error("the sign-in callback carried no authorization code — run `airelays login` again")]
    MissingCode,
    #[error(
        "no sign-in completed within {0} s — run `airelays login` again (use `--timeout SECS` for more time)"
    )]
    Timeout(u64),
    #[error(
        "device-code login is not enabled on this server — use the browser login (`airelays login --no-browser` prints the URL to open)"
    )]
    DeviceNotEnabled,
    #[error("the device code was not approved within {0} s — run `airelays login --device` again")]
    DeviceTimeout(u64),
    #[error("{0} — run `airelays login` to try again")]
    Issuer(#[from] issuer::IssuerError),
}
