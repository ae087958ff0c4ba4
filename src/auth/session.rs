//! The credential session the relay's request path uses: the current access token in
//! memory (no disk or keychain read per request), proactive and reactive refresh, and
//! a watcher that picks up a `login` or `logout` made from another terminal.
//!
//! Refresh rules (docs/auth.md, "Refresh"):
//! - proactive when the access token expires within 60 s (unknown expiry: last
//!   refresh older than 8 days); reactive once after an upstream 401;
//! - single-flight: one `tokio` mutex per session, and after acquiring it we look
//!   again — the set may already have changed while we waited;
//! - cross-process: the `refresh.lock` file lock, then a re-read of the store; if it
//!   holds another refresh token than the one we were about to spend, another
//!   process (or a `login`) got there first and we adopt its set;
//! - the rotated set is persisted before its access token is handed out, and a
//!   refresh token that got a 2xx answer is never sent again (digests are kept) —
//!   unless the answer carried no new refresh token, then the old one is kept;
//! - when the keychain refuses the rotated set, `auto` keeps it in the 0600 file
//!   until a background retry saves it to the keychain (and deletes the file);
//!   `keychain` never writes the file: the set stays in memory, unused, while the
//!   retry runs, and `status` says so (`credential_save_error`);
//! - 401 `refresh_token_expired|reused|invalidated` is permanent: recorded in the
//!   store metadata (so `airelays status` anywhere says so) and not retried until
//!   the stored credentials change. Anything else is transient.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::credentials::{Credentials, TokenUpdate};
use super::issuer::{Issuer, IssuerError};
use super::store::{
    CredentialStore, RefreshErrorRecord, SecretBackend, StoreError, StoreKind, Stored,
};
use crate::config::{Config, Paths};
use crate::fsio::FileLock;
use crate::status::UpstreamStatus;

mod persist;
mod watch;

/// Refresh when the access token expires within this margin.
pub(crate) const REFRESH_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// `Retry-After` suggested after a transient refresh failure.
pub(crate) const TRANSIENT_RETRY_AFTER_SECS: u64 = 30;
/// How often the watcher looks at the credential files' metadata.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// First pause before retrying a failed save of rotated credentials; doubles each time.
pub(crate) const SAVE_RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest pause between two retries of a failed save.
pub(crate) const SAVE_RETRY_MAX: Duration = Duration::from_secs(60);

/// What an upstream request needs: the bearer token and the `ChatGPT-Account-ID`.
#[derive(Clone, PartialEq, Eq)]
pub struct Access {
    /// The bearer token for the backend.
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

/// Why no usable access token is available. Its wire form comes from here alone:
/// [`SessionError::status`], [`SessionError::error_type`], [`SessionError::code`],
/// the message (`Display`) and [`SessionError::retry_after_secs`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Nobody is signed in.
    #[error("No ChatGPT login found. Run `airelays login`.")]
    Missing,
    /// The refresh failed: permanently (a new login is needed) or transiently.
    #[error("{message}")]
    RefreshFailed {
        /// A new login is needed.
        permanent: bool,
        /// The sentence for the user.
        message: String,
        /// Seconds for `Retry-After`.
        retry_after_secs: Option<u64>,
    },
    /// The stored credentials could not be read or saved (keychain locked, disk error).
    #[error("{message}")]
    Unavailable {
        /// The sentence for the user.
        message: String,
        /// Seconds for `Retry-After`.
        retry_after_secs: Option<u64>,
    },
}

impl SessionError {
    /// The HTTP status of the relay's answer: always 503 (the relay works, the sign-in
    /// does not).
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::SERVICE_UNAVAILABLE
    }

    /// The OpenAI-envelope `error.type` of the relay's answer.
    pub fn error_type(&self) -> &'static str {
        "authentication_error"
    }

    /// The OpenAI-envelope `error.code` of the relay's answer.
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

/// The message for a permanent refresh failure (wording after the Codex CLI; the codes
/// are in docs/upstream.md).
pub(crate) fn permanent_failure_message(code: Option<&str>) -> String {
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
    /// Why the last save of this set to its store failed, while a retry is pending.
    save_error: Option<String>,
    /// The set lives in the fallback `auth.json` until a keychain save succeeds.
    in_fallback_file: bool,
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
            save_error: None,
            in_fallback_file: false,
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
    /// A background retry of a failed save is scheduled.
    retrying: AtomicBool,
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

/// What a refresh step decided: answer now, or go on with this set.
enum Step {
    Done(Access),
    Refresh(Box<Current>),
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
        CredentialSession::with_store(paths, config, http, store)
    }

    /// A session whose keychain is `backend` (tests use one whose saves can fail).
    pub fn with_backend(
        paths: Paths,
        config: Config,
        http: reqwest::Client,
        backend: Arc<dyn SecretBackend>,
    ) -> CredentialSession {
        let store =
            CredentialStore::with_backend(paths.clone(), config.auth.credential_store, backend);
        CredentialSession::with_store(paths, config, http, store)
    }

    fn with_store(
        paths: Paths,
        config: Config,
        http: reqwest::Client,
        store: CredentialStore,
    ) -> CredentialSession {
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
                retrying: AtomicBool::new(false),
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
        if self.inner.store.has_orphans() {
            // Keychain entries of a save that died before it committed (docs/auth.md).
            let _lock = self.take_refresh_lock().await?;
            self.inner.store.clean_orphans().await;
        }
        let loaded = match self
            .inner
            .store
            .load()
            .await
            .map_err(SessionError::from_store)?
        {
            None => Loaded::Missing,
            Some(s) => {
                let mut cur = Current::from_stored(s);
                self.resume_fallback(&mut cur);
                Loaded::Present(Box::new(cur))
            }
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

    /// The stored access token when it is still usable, without refreshing it:
    /// for background work (the usage poll) that must never spend the refresh
    /// token on its own.
    pub async fn access_if_fresh(&self) -> Option<Access> {
        match self.ensure_loaded().await.ok()? {
            Loaded::Present(cur) if cur.permanent.is_none() && !cur.unsaved => {
                let fresh = !cur
                    .creds
                    .needs_refresh(jiff::Timestamp::now(), REFRESH_MARGIN);
                fresh.then(|| cur.access.clone())
            }
            _ => None,
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
        let cur = match self.after_waiting(&seen, &trigger, waiting_since)? {
            Step::Done(access) => return Ok(access),
            Step::Refresh(cur) => cur,
        };
        // Cross-process: hold refresh.lock while we re-read, refresh and persist.
        let _lock = self.take_refresh_lock().await?;
        let base = match self.reconcile_with_store(cur, &trigger).await? {
            Step::Done(access) => return Ok(access),
            Step::Refresh(base) => base,
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
            Ok(update) => self.adopt_refreshed(&base, update).await,
            Err(e) if e.is_permanent_refresh_failure() => self.record_permanent(&base, &e).await,
            Err(e) => {
                let message = transient_message(&e);
                tracing::warn!("ChatGPT token refresh failed, will retry: {e}");
                self.update_current(|c| c.transient = Some((Instant::now(), message.clone())));
                self.transient_outcome(&base, &trigger, message)
            }
        }
    }

    /// After the gate: another task may have finished (or failed) a refresh meanwhile.
    fn after_waiting(
        &self,
        seen: &Arc<Credentials>,
        trigger: &Trigger,
        waiting_since: Instant,
    ) -> Result<Step, SessionError> {
        let cur = match self.snapshot() {
            Loaded::NotYet | Loaded::Missing => return Err(SessionError::Missing),
            Loaded::Present(cur) => cur,
        };
        if let Some(message) = &cur.permanent {
            return Err(SessionError::permanent(message.clone()));
        }
        if !Arc::ptr_eq(&cur.creds, seen) && Self::satisfies(&cur, trigger) {
            return Ok(Step::Done(cur.access.clone()));
        }
        if let Some((at, message)) = &cur.transient
            && *at >= waiting_since
        {
            return self
                .transient_outcome(&cur, trigger, message.clone())
                .map(Step::Done);
        }
        Ok(Step::Refresh(cur))
    }

    /// `refresh.lock`, taken off the runtime's workers.
    async fn take_refresh_lock(&self) -> Result<FileLock, SessionError> {
        let lock_path = self.inner.paths.refresh_lock_file();
        let dir = self.inner.paths.data_dir.clone();
        let unavailable = |e: String| SessionError::Unavailable {
            message: format!(
                "cannot take the refresh lock {}: {e}",
                self.inner.paths.refresh_lock_file().display()
            ),
            retry_after_secs: Some(5),
        };
        tokio::task::spawn_blocking(move || {
            crate::fsio::ensure_private_dir(&dir)?;
            FileLock::acquire(&lock_path)
        })
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .map_err(|e| unavailable(e.to_string()))
    }

    /// Under `refresh.lock`: re-read the store and decide which set to refresh, or answer
    /// from what another process (or a `login`) saved meanwhile.
    async fn reconcile_with_store(
        &self,
        cur: Box<Current>,
        trigger: &Trigger,
    ) -> Result<Step, SessionError> {
        let stored = match self.inner.store.load().await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.set_state(Loaded::Missing);
                return Err(SessionError::Missing);
            }
            Err(e) => return Err(SessionError::from_store(e)),
        };
        if cur.same_set(&stored.credentials) {
            if let Some(record) = &stored.refresh_error {
                let message = record.message.clone();
                self.update_current(|c| c.permanent = Some(message.clone()));
                return Err(SessionError::permanent(message));
            }
            return Ok(Step::Refresh(cur));
        }
        if self.is_spent(&stored.credentials) {
            // The store still holds a set we already rotated: our newer set failed to
            // save earlier. Save it now, before handing it out.
            if cur.unsaved {
                let mut next = (*cur).clone();
                let saved = self.persist(&mut next).await;
                let access = next.access.clone();
                self.set_state(Loaded::Present(Box::new(next)));
                return saved.map(|()| Step::Done(access));
            }
            return Ok(Step::Refresh(cur));
        }
        // A login or another process replaced the set: adopt it.
        let adopted = Current::from_stored(stored);
        self.set_state(Loaded::Present(Box::new(adopted.clone())));
        if let Some(message) = &adopted.permanent {
            return Err(SessionError::permanent(message.clone()));
        }
        if Self::satisfies(&adopted, trigger) {
            return Ok(Step::Done(adopted.access.clone()));
        }
        Ok(Step::Refresh(Box::new(adopted)))
    }

    /// A 2xx refresh answer: persist the rotated set, then hand out its access token.
    async fn adopt_refreshed(
        &self,
        base: &Current,
        update: TokenUpdate,
    ) -> Result<Access, SessionError> {
        // An issuer may answer without a new refresh token: the old one stays valid and
        // is kept (docs/auth.md), so it is not spent.
        let rotated = update
            .refresh_token
            .as_ref()
            .is_some_and(|t| *t != base.creds.tokens.refresh_token);
        if rotated {
            self.mark_spent(&base.creds);
        }
        let fresh = base.creds.refreshed(update, jiff::Timestamp::now());
        let mut next = Current::new(fresh, base.kind, None);
        let saved = self.persist(&mut next).await;
        let access = next.access.clone();
        self.set_state(Loaded::Present(Box::new(next)));
        saved.map(|()| {
            tracing::info!("refreshed the ChatGPT access token");
            access
        })
    }

    /// A permanent refresh failure: recorded in the store so every process sees it.
    async fn record_permanent(
        &self,
        base: &Current,
        e: &IssuerError,
    ) -> Result<Access, SessionError> {
        let message = permanent_failure_message(e.code());
        tracing::warn!("ChatGPT token refresh failed permanently: {e}");
        let record = RefreshErrorRecord {
            code: e.code().map(String::from),
            message: message.clone(),
            at: jiff::Timestamp::now().to_string(),
        };
        let digest = base.creds.tokens.refresh_token.digest();
        if let Err(store_err) = self.inner.store.record_refresh_error(&digest, record).await {
            tracing::warn!("could not record the refresh failure: {store_err}");
        }
        self.update_current(|c| {
            if c.same_set(&base.creds) {
                c.permanent = Some(message.clone());
            }
        });
        Err(SessionError::permanent(message))
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
                    && !status.state.is_ready()
                {
                    status.detail = Some(message.clone());
                }
                if cur.in_fallback_file {
                    status.credential_store = Some(StoreKind::File.as_str().to_string());
                }
                status.credential_save_error = cur.save_error.clone();
                if cur.unsaved {
                    // Requests answer 503 until the background retry saves the set.
                    status.detail = cur.save_error.clone();
                }
                status
            }
        }
    }
}

fn transient_message(e: &IssuerError) -> String {
    format!("Could not refresh the ChatGPT sign-in ({e}); airelays retries on the next request.")
}
