//! The secret storage behind the keychain store: the OS keychain through `keyring`, each
//! call on its own thread under a time limit so a locked keyring never hangs the relay.

use std::time::Duration;

use super::SERVICE;

/// A keychain failure: `unusable` for "no keychain here" (`PlatformFailure`,
/// `NoStorageAccess`, `NoDefaultStore`, or no answer in time).
#[derive(Debug, Clone)]
pub struct KeychainError {
    /// No keychain here, as opposed to one failed call.
    pub unusable: bool,
    /// What went wrong, one line (never a secret).
    pub message: String,
}

/// The secret storage behind the keychain store (the OS keychain, or a map in tests).
pub trait SecretBackend: Send + Sync + 'static {
    /// Stores `secret` as entry `user` of service `airelays`.
    fn set(&self, user: &str, secret: &str) -> Result<(), KeychainError>;
    /// `Ok(None)` when no such entry exists.
    fn get(&self, user: &str) -> Result<Option<String>, KeychainError>;
    /// Deleting a missing entry is not an error.
    fn delete(&self, user: &str) -> Result<(), KeychainError>;
}

/// The OS keychain through `keyring` (Keychain, Credential Manager, Secret Service).
pub(crate) struct OsKeychain;

fn keyring_error(e: keyring::Error) -> KeychainError {
    let unusable = matches!(
        e,
        keyring::Error::PlatformFailure(_)
            | keyring::Error::NoStorageAccess(_)
            | keyring::Error::NoDefaultStore
    );
    let mut message = e.to_string();
    if matches!(e, keyring::Error::NoDefaultStore)
        && let Err(cause) = keyring::Entry::store_status()
    {
        message = cause.to_string();
    }
    KeychainError {
        unusable,
        message: one_line(&message),
    }
}

fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(300).collect()
}

impl SecretBackend for OsKeychain {
    fn set(&self, user: &str, secret: &str) -> Result<(), KeychainError> {
        keyring::Entry::new(SERVICE, user)
            .and_then(|e| e.set_password(secret))
            .map_err(keyring_error)
    }
    fn get(&self, user: &str) -> Result<Option<String>, KeychainError> {
        match keyring::Entry::new(SERVICE, user).and_then(|e| e.get_password()) {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }
    fn delete(&self, user: &str) -> Result<(), KeychainError> {
        match keyring::Entry::new(SERVICE, user).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// Runs `f` on its own thread and waits at most `limit` for it.
pub(super) async fn off_thread<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, KeychainError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("airelays-keychain".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| KeychainError {
            unusable: false,
            message: format!("cannot start a keychain thread: {e}"),
        })?;
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(KeychainError {
            unusable: false,
            message: "the keychain call ended without an answer".into(),
        }),
        Err(_) => Err(KeychainError {
            unusable: true,
            message: format!(
                "the keychain did not answer within {} s (is it locked or waiting for a prompt?)",
                limit.as_secs()
            ),
        }),
    }
}
