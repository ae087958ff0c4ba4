//! The credential session the relay's request path uses: the current access token in
//! memory (no disk or keychain read per request), proactive and reactive refresh, and
//! a watcher that picks up a `login` or `logout` made from another terminal.
//!
//! Refresh rules (spec §3, upstream-protocol §3.3–§3.4):
//! - proactive when the access token expires within 60 s (unknown expiry: last
//!   refresh older than 8 days); reactive once after an upstream 401;
//! - single-flight: one `tokio` mutex per session, and after acquiring it we look
//!   again — the set may already have changed while we waited;
//! - cross-process: the `refresh.lock` file lock, then a re-read of the store; if it
//!   holds another refresh token than the one we were about to spend, another
//!   process (or a `login`) got there first and we adopt its set;
//! - the rotated set is persisted before its access token is handed out, and a
//!   refresh token that got a 2xx answer is never sent again (digests are kept);
//! - 401 `refresh_token_expired|reused|invalidated` is permanent: recorded in the
//!   store metadata (so `airelays status` anywhere says so) and not retried until
//!   the stored credentials change. Anything else is transient.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::credentials::Credentials;
use super::issuer::{Issuer, IssuerError};
use super::store::{CredentialStore, RefreshErrorRecord, StoreError, StoreKind, Stored};
use crate::config::{Config, Paths};
use crate::fsio::FileLock;
use crate::status::UpstreamStatus;

/// Refresh when the access token expires within this margin.
pub const REFRESH_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// `Retry-After` suggested after a transient refresh failure.
pub const TRANSIENT_RETRY_AFTER_SECS: u64 = 30;
/// How often the watcher looks at the credential files' metadata.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What an upstream request needs: the bearer token and the `ChatGPT-Account-ID`.
#[derive(Clone, PartialEq, Eq)]
pub struct Access {
    pub access_token: Arc<str>,
    /// Empty when the id token named no account (then send no account header).
    pub account_id: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("access_token", &"<redacted>")
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// Why no usable access token is available. Map to HTTP with [`SessionError::code`]
/// and [`SessionError::retry_after_secs`] (all are 503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Nobody is signed in.
    #[error("No ChatGPT login found. Run `airelays login`.")]
    Missing,
    /// The refresh failed: permanently (a new login is needed) or transiently.
    #[error("{message}")]
    RefreshFailed {
        permanent: bool,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// The stored credentials could not be read or saved (keychain locked, disk error).
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: Option<u64>,
    },
}

impl SessionError {
    /// The error code of the relay's 503 answer.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Missing => "upstream_auth_missing",
            SessionError::RefreshFailed { .. } | SessionError::Unavailable { .. } => {
                "upstream_auth_refresh_failed"
            }
        }
    }

    /// Seconds for `Retry-After`, when retrying can help.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            SessionError::Missing => None,
            SessionError::RefreshFailed {
                retry_after_secs, ..
            }
            | SessionError::Unavailable {
                retry_after_secs, ..
            } => *retry_after_secs,
        }
    }

    fn permanent(message: String) -> SessionError {
        SessionError::RefreshFailed {
            permanent: true,
            message,
            retry_after_secs: None,
        }
    }

    fn from_store(e: StoreError) -> SessionError {
        let retry = !matches!(e, StoreError::Corrupt(_));
        SessionError::Unavailable {
            message: format!("Cannot use the stored ChatGPT credentials: {e}"),
            retry_after_secs: retry.then_some(5),
        }
    }
}

/// The message for a permanent refresh failure (wording after Codex, §3.2).
pub fn permanent_failure_message(code: Option<&str>) -> String {
    let why = match code.map(str::to_ascii_lowercase).as_deref() {
        Some("refresh_token_expired") => " because the refresh token has expired",
        Some("refresh_token_reused") => " because the refresh token was already used",
        Some("refresh_token_invalidated") => " because the refresh token was revoked",
        _ => "",
    };
    format!(
        "The ChatGPT sign-in could not be refreshed{why}. Run `airelays login` to sign in again."
    )
}

#[derive(Clone)]
struct Current {
    creds: Arc<Credentials>,
    kind: StoreKind,
    access: Access,
    /// A recorded permanent failure of these credentials.
    permanent: Option<String>,
    /// The last transient failure: when, and what.
    transient: Option<(Instant, String)>,
    /// Rotated by us but not yet persisted (a save failed); never handed out unsaved.
    unsaved: bool,
}

impl Current {
    fn new(
        creds: Credentials,
        kind: StoreKind,
        refresh_error: Option<&RefreshErrorRecord>,
    ) -> Current {
        let access = Access {
            access_token: Arc::from(creds.tokens.access_token.expose()),
            account_id: creds.account_id.clone().unwrap_or_default(),
        };
        Current {
            creds: Arc::new(creds),
            kind,
            access,
            permanent: refresh_error.map(|r| r.message.clone()),
            transient: None,
            unsaved: false,
        }
    }

    fn from_stored(s: Stored) -> Current {
        Current::new(s.credentials, s.kind, s.refresh_error.as_ref())
    }

    fn same_set(&self, other: &Credentials) -> bool {
        self.creds.tokens == other.tokens
    }
}

#[derive(Clone)]
enum Loaded {
    NotYet,
    Missing,
    Present(Box<Current>),
}

struct Inner {
    paths: Paths,
    config: Config,
    store: CredentialStore,
    issuer: Issuer,
    state: RwLock<Loaded>,
    gate: tokio::sync::Mutex<()>,
    /// SHA-256 of every refresh token that got a 2xx answer: never sent again.
    spent: Mutex<HashSet<[u8; 32]>>,
}

/// The signed-in session of one data directory. Cheap to clone (shared state).
#[derive(Clone)]
pub struct CredentialSession {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CredentialSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSession")
            .field("data_dir", &self.inner.paths.data_dir)
            .finish()
    }
}

enum Trigger {
    Proactive,
    /// After an upstream 401 for this access token.
    Rejected(Arc<str>),
}

impl CredentialSession {
    /// A session for `paths`; credentials are loaded on first use.
    pub fn new(paths: Paths, config: Config, http: reqwest::Client) -> CredentialSession {
        let store = CredentialStore::new(paths.clone(), config.auth.credential_store);
        let issuer = Issuer::new(http, &config.upstream);
        CredentialSession {
            inner: Arc::new(Inner {
                paths,
                config,
                store,
                issuer,
                state: RwLock::new(Loaded::NotYet),
                gate: tokio::sync::Mutex::new(()),
                spent: Mutex::new(HashSet::new()),
            }),
        }
    }

    fn snapshot(&self) -> Loaded {
        match self.inner.state.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_state(&self, state: Loaded) {
        match self.inner.state.write() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    fn update_current(&self, f: impl FnOnce(&mut Current)) {
        let mut guard = match self.inner.state.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Loaded::Present(cur) = &mut *guard {
            f(cur);
        }
    }

    fn is_spent(&self, creds: &Credentials) -> bool {
        let digest = creds.tokens.refresh_token.digest();
        self.inner
            .spent
            .lock()
            .map(|s| s.contains(&digest))
            .unwrap_or(false)
    }

    fn mark_spent(&self, creds: &Credentials) {
        if let Ok(mut s) = self.inner.spent.lock() {
            s.insert(creds.tokens.refresh_token.digest());
        }
    }

    async fn ensure_loaded(&self) -> Result<Loaded, SessionError> {
        let snap = self.snapshot();
        if !matches!(snap, Loaded::NotYet) {
            return Ok(snap);
        }
        let _gate = self.inner.gate.lock().await;
        let snap = self.snapshot();
        if !matches!(snap, Loaded::NotYet) {
            return Ok(snap);
        }
        let loaded = match self
            .inner
            .store
            .load()
            .await
            .map_err(SessionError::from_store)?
        {
            None => Loaded::Missing,
            Some(s) => Loaded::Present(Box::new(Current::from_stored(s))),
        };
        self.set_state(loaded.clone());
        Ok(loaded)
    }

    /// A usable access token, refreshing first when it is about to expire.
    pub async fn access(&self) -> Result<Access, SessionError> {
        match self.ensure_loaded().await? {
            Loaded::NotYet | Loaded::Missing => Err(SessionError::Missing),
            Loaded::Present(cur) => {
                if let Some(message) = &cur.permanent {
                    return Err(SessionError::permanent(message.clone()));
                }
                let now = jiff::Timestamp::now();
                if !cur.unsaved && !cur.creds.needs_refresh(now, REFRESH_MARGIN) {
                    return Ok(cur.access.clone());
                }
                self.refresh(cur.creds.clone(), Trigger::Proactive).await
            }
        }
    }

    /// After the upstream answered 401 to `rejected`: reload the store first (another
    /// process may have refreshed); if it holds a different access token use it, else
    /// refresh once. The caller retries its request once with the result.
    pub async fn after_unauthorized(&self, rejected: &Access) -> Result<Access, SessionError> {
        match self.ensure_loaded().await? {
            Loaded::NotYet | Loaded::Missing => Err(SessionError::Missing),
            Loaded::Present(cur) => {
                if let Some(message) = &cur.permanent {
                    return Err(SessionError::permanent(message.clone()));
                }
                if cur.access.access_token != rejected.access_token && !cur.unsaved {
                    return Ok(cur.access.clone());
                }
                self.refresh(
                    cur.creds.clone(),
                    Trigger::Rejected(rejected.access_token.clone()),
                )
                .await
            }
        }
    }

    /// Whether `cur` answers the caller without a refresh.
    fn satisfies(cur: &Current, trigger: &Trigger) -> bool {
        if cur.unsaved || cur.permanent.is_some() {
            return false;
        }
        match trigger {
            Trigger::Proactive => !cur
                .creds
                .needs_refresh(jiff::Timestamp::now(), REFRESH_MARGIN),
            Trigger::Rejected(token) => cur.access.access_token != *token,
        }
    }

    async fn refresh(
        &self,
        seen: Arc<Credentials>,
        trigger: Trigger,
    ) -> Result<Access, SessionError> {
        let waiting_since = Instant::now();
        let _gate = self.inner.gate.lock().await;

        // Another task may have finished a refresh (or failed one) while we waited.
        let cur = match self.snapshot() {
            Loaded::NotYet | Loaded::Missing => return Err(SessionError::Missing),
            Loaded::Present(cur) => cur,
        };
        if let Some(message) = &cur.permanent {
            return Err(SessionError::permanent(message.clone()));
        }
        if !Arc::ptr_eq(&cur.creds, &seen) && Self::satisfies(&cur, &trigger) {
            return Ok(cur.access.clone());
        }
        if let Some((at, message)) = &cur.transient
            && *at >= waiting_since
        {
            return self.transient_outcome(&cur, &trigger, message.clone());
        }

        // Cross-process: hold refresh.lock while we re-read, refresh and persist.
        let lock_path = self.inner.paths.refresh_lock_file();
        let dir = self.inner.paths.data_dir.clone();
        let _lock = tokio::task::spawn_blocking(move || {
            crate::fsio::ensure_private_dir(&dir)?;
            FileLock::acquire(&lock_path)
        })
        .await
        .map_err(|e| SessionError::Unavailable {
            message: format!("cannot take the refresh lock: {e}"),
            retry_after_secs: Some(5),
        })?
        .map_err(|e| SessionError::Unavailable {
            message: format!(
                "cannot take the refresh lock {}: {e}",
                self.inner.paths.refresh_lock_file().display()
            ),
            retry_after_secs: Some(5),
        })?;

        let stored = match self.inner.store.load().await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.set_state(Loaded::Missing);
                return Err(SessionError::Missing);
            }
            Err(e) => return Err(SessionError::from_store(e)),
        };

        let base = if cur.same_set(&stored.credentials) {
            if let Some(record) = &stored.refresh_error {
                let message = record.message.clone();
                self.update_current(|c| c.permanent = Some(message.clone()));
                return Err(SessionError::permanent(message));
            }
            cur
        } else if self.is_spent(&stored.credentials) {
            // The store still holds a set we already rotated: our newer set failed to
            // save earlier. Save it now, before handing it out.
            if cur.unsaved {
                return match self.inner.store.save(&cur.creds, cur.kind).await {
                    Ok(()) => {
                        self.update_current(|c| c.unsaved = false);
                        Ok(cur.access.clone())
                    }
                    Err(e) => Err(SessionError::from_store(e)),
                };
            }
            cur
        } else {
            // A login or another process replaced the set: adopt it.
            let adopted = Current::from_stored(stored);
            self.set_state(Loaded::Present(Box::new(adopted.clone())));
            if let Some(message) = &adopted.permanent {
                return Err(SessionError::permanent(message.clone()));
            }
            if Self::satisfies(&adopted, &trigger) {
                return Ok(adopted.access.clone());
            }
            Box::new(adopted)
        };

        if self.is_spent(&base.creds) {
            return Err(SessionError::RefreshFailed {
                permanent: false,
                message: "The ChatGPT credentials were refreshed but could not be saved; retrying."
                    .into(),
                retry_after_secs: Some(5),
            });
        }

        match self
            .inner
            .issuer
            .refresh(&base.creds.tokens.refresh_token)
            .await
        {
            Ok(update) => {
                // An issuer may answer without a new refresh token: the old one stays
                // valid and is kept (docs/auth.md), so it is not spent.
                let rotated = update
                    .refresh_token
                    .as_ref()
                    .is_some_and(|t| *t != base.creds.tokens.refresh_token);
                if rotated {
                    self.mark_spent(&base.creds);
                }
                let fresh = base.creds.refreshed(update, jiff::Timestamp::now());
                let mut next = Current::new(fresh, base.kind, None);
                let saved = self.inner.store.save(&next.creds, base.kind).await;
                next.unsaved = saved.is_err();
                let access = next.access.clone();
                self.set_state(Loaded::Present(Box::new(next)));
                match saved {
                    Ok(()) => {
                        tracing::info!("refreshed the ChatGPT access token");
                        Ok(access)
                    }
                    Err(e) => {
                        tracing::warn!("could not save the refreshed ChatGPT credentials: {e}");
                        Err(SessionError::from_store(e))
                    }
                }
            }
            Err(e) if e.is_permanent_refresh_failure() => {
                let message = permanent_failure_message(e.code());
                tracing::warn!("ChatGPT token refresh failed permanently: {e}");
                let record = RefreshErrorRecord {
                    code: e.code().map(String::from),
                    message: message.clone(),
                    at: jiff::Timestamp::now().to_string(),
                };
                let digest = base.creds.tokens.refresh_token.digest();
                if let Err(store_err) = self.inner.store.record_refresh_error(&digest, record).await
                {
                    tracing::warn!("could not record the refresh failure: {store_err}");
                }
                self.update_current(|c| {
                    if c.same_set(&base.creds) {
                        c.permanent = Some(message.clone());
                    }
                });
                Err(SessionError::permanent(message))
            }
            Err(e) => {
                let message = transient_message(&e);
                tracing::warn!("ChatGPT token refresh failed, will retry: {e}");
                self.update_current(|c| c.transient = Some((Instant::now(), message.clone())));
                self.transient_outcome(&base, &trigger, message)
            }
        }
    }

    /// After a transient failure: keep using a still-valid access token on the
    /// proactive path; otherwise report the failure with a `Retry-After`.
    fn transient_outcome(
        &self,
        cur: &Current,
        trigger: &Trigger,
        message: String,
    ) -> Result<Access, SessionError> {
        let still_valid = !cur.unsaved && !cur.creds.access_expired(jiff::Timestamp::now());
        if matches!(trigger, Trigger::Proactive) && still_valid {
            return Ok(cur.access.clone());
        }
        Err(SessionError::RefreshFailed {
            permanent: false,
            message,
            retry_after_secs: Some(TRANSIENT_RETRY_AFTER_SECS),
        })
    }

    /// Re-reads the store (a `login` or `logout` elsewhere) and adopts what it holds.
    pub async fn reload(&self) -> Result<(), SessionError> {
        let _gate = self.inner.gate.lock().await;
        let stored = self
            .inner
            .store
            .load()
            .await
            .map_err(SessionError::from_store)?;
        match (self.snapshot(), stored) {
            (_, None) => self.set_state(Loaded::Missing),
            (Loaded::Present(cur), Some(s)) if cur.same_set(&s.credentials) => {
                if let Some(record) = s.refresh_error {
                    self.update_current(|c| c.permanent = Some(record.message));
                }
            }
            // A set we already rotated away from is stale, whatever the file says.
            (Loaded::Present(_), Some(s)) if self.is_spent(&s.credentials) => {}
            (_, Some(s)) => {
                tracing::info!("picked up new ChatGPT credentials from the store");
                self.set_state(Loaded::Present(Box::new(Current::from_stored(s))));
            }
        }
        Ok(())
    }

    /// The upstream part of the status document, from memory (no I/O once loaded).
    pub fn status(&self) -> UpstreamStatus {
        match self.snapshot() {
            Loaded::NotYet => super::local_status(&self.inner.paths, &self.inner.config),
            Loaded::Missing => super::missing_status(&self.inner.config),
            Loaded::Present(cur) => {
                let mut status = super::status_of(
                    &cur.creds,
                    cur.kind,
                    cur.permanent.as_deref(),
                    jiff::Timestamp::now(),
                );
                if cur.permanent.is_none()
                    && let Some((_, message)) = &cur.transient
                    && status.state != "ready"
                {
                    status.detail = Some(message.clone());
                }
                status
            }
        }
    }

    /// Watches the credential files' metadata (no reads) and reloads the store when
    /// they change, so a `login` or `logout` from another terminal is picked up within
    /// about two seconds. The task ends when the session is dropped.
    pub fn spawn_watcher(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(WATCH_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last: Option<FilesSignature> = None;
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let session = CredentialSession { inner };
                let now = FilesSignature::of(&session.inner.paths);
                let changed = last.as_ref().is_some_and(|l| *l != now);
                last = Some(now);
                if changed
                    && !matches!(session.snapshot(), Loaded::NotYet)
                    && let Err(e) = session.reload().await
                {
                    tracing::warn!("could not reload the ChatGPT credentials: {e}");
                    // Look again on the next tick.
                    last = None;
                }
            }
        })
    }
}

fn transient_message(e: &IssuerError) -> String {
    format!("Could not refresh the ChatGPT sign-in ({e}); airelays retries on the next request.")
}

/// Metadata of `auth.json` and `credentials.json` (size, mtime, inode).
#[derive(Debug, PartialEq, Eq)]
struct FilesSignature(Vec<Option<(u64, Option<std::time::SystemTime>, u64)>>);

impl FilesSignature {
    fn of(paths: &Paths) -> FilesSignature {
        let one = |p: std::path::PathBuf| {
            std::fs::symlink_metadata(p).ok().map(|m| {
                #[cfg(unix)]
                let ino = std::os::unix::fs::MetadataExt::ino(&m);
                #[cfg(not(unix))]
                let ino = 0;
                (m.len(), m.modified().ok(), ino)
            })
        };
        FilesSignature(vec![
            one(paths.auth_file()),
            one(paths.credentials_index_file()),
        ])
    }
}
