//! Checks of the ChatGPT sign-in: the credential store answers, someone is signed in
//! and until when, and the refresh token is accepted — spent only when the access
//! token is due anyway or with `--live`, and always through the relay's own
//! [`crate::auth::CredentialSession`] (cross-process `refresh.lock`, the rotated set
//! saved before use; docs/auth.md, "Refresh").

use std::sync::Arc;

use super::{Check, Probe, blocking};
use crate::auth::session::REFRESH_MARGIN;
use crate::auth::{Access, CredentialStore, SessionError, StoreKind};
use crate::config::CredentialStoreKind;

/// `credential_store`: the store that holds (or would hold) the credentials answers.
/// A keychain set is read from the keychain under its timeout; with nothing stored and
/// a keychain preference, the keychain is probed (a set, get and delete, 3 s).
pub(super) async fn store(probe: &mut Probe) -> Check {
    const ID: &str = "credential_store";
    let preference = probe.config.auth.credential_store;
    let paths = probe.paths.clone();
    let handle = tokio::runtime::Handle::current();
    let outcome = blocking(ID, move || {
        let store = CredentialStore::new(paths, preference);
        handle.block_on(async {
            let loaded = store.load().await;
            let probed = match (&loaded, preference) {
                (Ok(None), CredentialStoreKind::Auto | CredentialStoreKind::Keychain) => {
                    Some(store.probe_keychain().await)
                }
                _ => None,
            };
            (loaded, probed)
        })
    })
    .await;
    let (loaded, probed) = match outcome {
        Ok(o) => o,
        Err(check) => return check,
    };
    match (loaded, probed) {
        (Err(e), _) => Check::fail(
            ID,
            format!("the credential store does not answer: {e}"),
            "see the message; `airelays login` stores a fresh set",
        ),
        (Ok(Some(stored)), _) => {
            let where_ = match stored.kind {
                StoreKind::Keychain => "the OS keychain".to_string(),
                StoreKind::File => format!("{} (mode 0600)", probe.paths.auth_file().display()),
            };
            let summary = format!("credentials read from {where_}");
            let error = stored.refresh_error.as_ref().map(|r| r.message.clone());
            probe.creds = Some((stored.credentials, stored.kind, error));
            Check::ok(ID, summary)
        }
        (Ok(None), Some(Err(reason))) if preference == CredentialStoreKind::Keychain => {
            Check::fail(
                ID,
                format!("the OS keychain is not usable ({reason})"),
                "unlock a keyring, or set auth.credential_store = \"file\"",
            )
        }
        (Ok(None), Some(Err(reason))) => Check::warn(
            ID,
            format!(
                "no usable OS keychain ({reason}); a login will be stored in {} (mode 0600)",
                probe.paths.auth_file().display()
            ),
            "fine on a single-user machine; or unlock a keyring; `auth.credential_store = \"file\"` silences it",
        ),
        (Ok(None), Some(Ok(()))) => Check::ok(ID, "the OS keychain answers (nothing stored yet)"),
        (Ok(None), None) => Check::ok(
            ID,
            format!(
                "file store {} (nothing stored yet)",
                probe.paths.auth_file().display()
            ),
        ),
    }
}

/// `signed_in`: who is signed in and when the access token expires (local facts, no
/// network). Sets the access token the backend checks use.
pub(super) fn signed_in(probe: &mut Probe) -> Check {
    const ID: &str = "signed_in";
    let Some((creds, _, refresh_error)) = &probe.creds else {
        return Check::fail(
            ID,
            "No ChatGPT login found",
            "run `airelays login` (a running relay picks it up within seconds)",
        );
    };
    let who = format!(
        "signed in as {} ({} plan)",
        creds.email.as_deref().unwrap_or("an unknown account"),
        creds.plan.as_deref().unwrap_or("unknown")
    );
    if let Some(message) = refresh_error {
        return Check::fail(ID, format!("{who}, but {message}"), "run `airelays login`");
    }
    let now = jiff::Timestamp::now();
    probe.access = Some(Access {
        access_token: Arc::from(creds.tokens.access_token.expose()),
        account_id: creds.account_id.clone().unwrap_or_default(),
    });
    match creds.access_expires_at {
        None => Check::ok(ID, format!("{who}; the access token's expiry is unknown")),
        Some(exp) if exp <= now => Check::warn(
            ID,
            format!("{who}; the access token expired at {exp}"),
            "nothing to do: the relay refreshes it on the next request (`airelays doctor --live` tests that now)",
        ),
        Some(exp) => Check::ok(
            ID,
            format!(
                "{who}; the access token expires at {exp} ({})",
                until(now, exp)
            ),
        ),
    }
}

/// A rounded "in 3 days" / "in 12 min".
fn until(now: jiff::Timestamp, then: jiff::Timestamp) -> String {
    let secs = then.as_second() - now.as_second();
    match secs {
        s if s >= 2 * 86_400 => format!("in {} days", s / 86_400),
        s if s >= 2 * 3_600 => format!("in {} h", s / 3_600),
        s if s >= 120 => format!("in {} min", s / 60),
        s => format!("in {s} s"),
    }
}

/// `refresh`: the issuer accepts the refresh token. Spent only when the access token
/// is due (within the relay's own 60 s margin) or with `--live`; otherwise reported as
/// not needed. Never cancelled half-way: the issuer call has its own 60 s timeout, and
/// the rotated set is saved before this check uses it.
pub(super) async fn refresh(probe: &mut Probe, live: bool) -> Check {
    const ID: &str = "refresh";
    let (Some((creds, _, refresh_error)), Some(session)) = (&probe.creds, probe.session.clone())
    else {
        return Check::fail(
            ID,
            "nothing to refresh: not signed in",
            "run `airelays login`",
        );
    };
    if let Some(message) = refresh_error {
        return Check::fail(ID, message.clone(), "run `airelays login`");
    }
    let now = jiff::Timestamp::now();
    let due = creds.needs_refresh(now, REFRESH_MARGIN);
    if !due && !live {
        let until = creds
            .access_expires_at
            .map(|exp| format!(" (the access token is valid until {exp})"))
            .unwrap_or_default();
        return Check::ok(
            ID,
            format!("not spent: no refresh is due{until}; `airelays doctor --live` tests it"),
        );
    }
    // `access` refreshes a due token; a valid one is refreshed as after a 401, under
    // the same lock and rules as the relay.
    let refreshed = match session.access().await {
        Ok(access) if !due => session.after_unauthorized(&access).await,
        other => other,
    };
    match refreshed {
        Ok(access) => {
            probe.access = Some(access);
            let expiry = session
                .status()
                .access_expires_at
                .map(|t| format!("; the new access token expires at {t}"))
                .unwrap_or_default();
            Check::ok(
                ID,
                format!("the issuer accepted the refresh token (the new set is saved){expiry}"),
            )
        }
        Err(e) => {
            probe.access = None;
            failure(e)
        }
    }
}

fn failure(e: SessionError) -> Check {
    const ID: &str = "refresh";
    match &e {
        SessionError::RefreshFailed {
            permanent: true, ..
        }
        | SessionError::Missing => Check::fail(ID, e.to_string(), "run `airelays login`"),
        SessionError::RefreshFailed { .. } => Check::fail(
            ID,
            e.to_string(),
            "retry; if it persists check your network / HTTPS_PROXY",
        ),
        SessionError::Unavailable { .. } => Check::fail(
            ID,
            e.to_string(),
            "see the message; `airelays login` stores a fresh set",
        ),
    }
}
