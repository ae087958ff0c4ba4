//! The account router (docs/architecture.md#accounts): which signed-in ChatGPT
//! account a request runs on, which accounts are benched and until when, and the
//! pick-up of accounts added or removed while the relay runs.
//!
//! With one account (or none) nothing here is visible: the plan is that account,
//! nothing is benched and no `x-airelays-account` header is sent. With two or more,
//! the `ordered` strategy takes the first usable account in the order they were
//! added; the pipeline ([`super::relay::open`]) fails over to the next one before
//! the first byte and asks [`Router::bench`] to take the failed one out of rotation.
//! Locks here are std mutexes held for a few instructions, never across an await.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;

use super::error::ApiError;
use crate::auth::accounts::{self, DEFAULT_ACCOUNT};
use crate::auth::session::CredentialSession;
use crate::config::{Config, Paths};

/// The request header that pins a request to one account, and the answer header
/// that names the account used.
pub(crate) const ACCOUNT_HEADER: &str = "x-airelays-account";

/// How long an account that failed for a transient reason (an auth rejection that
/// survived a refresh, a 5xx or transport error after the retries) is benched.
pub(crate) const COOLDOWN: Duration = Duration::from_secs(60);

/// How often the data directory is looked at for added or removed accounts.
const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// One signed-in account.
pub(crate) struct Account {
    /// Its name (`default` for the login made without `--account`).
    pub(crate) name: String,
    /// Its credentials, refreshed single-flight under its own `refresh.lock`.
    pub(crate) session: CredentialSession,
    bench: Mutex<Option<Bench>>,
    /// Stops the watcher that picks up a new login of this account when the
    /// account is dropped (removed, and its last request done).
    _watcher: Option<crate::shutdown::ShutdownTrigger>,
}

/// Why and until when an account is out of rotation.
#[derive(Clone, Debug)]
struct Bench {
    since: Instant,
    until: Instant,
    /// The account's real usage-limit answer, for when every account is out of quota.
    quota: Option<ApiError>,
}

impl Account {
    fn new(name: String, session: CredentialSession) -> Account {
        Account {
            name,
            session,
            bench: Mutex::new(None),
            _watcher: None,
        }
    }

    fn bench_now(&self, now: Instant) -> Option<Bench> {
        let mut b = self.bench.lock().unwrap_or_else(|e| e.into_inner());
        if b.as_ref().is_some_and(|b| b.until <= now) {
            *b = None;
        }
        b.clone()
    }

    /// Seconds until this account is back in rotation; `None` when it is usable.
    pub(crate) fn benched_for(&self) -> Option<u64> {
        let now = Instant::now();
        self.bench_now(now)
            .map(|b| b.until.saturating_duration_since(now).as_secs().max(1))
    }
}

/// Why a failure on one account moves the request to another.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FailoverReason {
    /// A usage-limit 429: benched until its reset.
    Quota,
    /// An auth rejection after a refresh, a 5xx or a transport error: benched for
    /// [`COOLDOWN`].
    Transient,
}

/// Whether `e` (the mapped failure of one account, before the first byte) moves
/// the request to another account.
pub(crate) fn failover_reason(e: &ApiError) -> Option<FailoverReason> {
    match e.code.as_deref() {
        Some("usage_limit_reached") => Some(FailoverReason::Quota),
        Some("upstream_auth_rejected") => Some(FailoverReason::Transient),
        _ if e.status.is_server_error() => Some(FailoverReason::Transient),
        _ => None,
    }
}

/// The accounts a request may run on, in the order to try them.
pub(crate) struct Plan {
    /// Accounts to try, first to last.
    pub(crate) candidates: Vec<Arc<Account>>,
    /// `x-airelays-account` pinned the request: no failover.
    pub(crate) pinned: bool,
    /// Two or more accounts are signed in: answers name the account used.
    pub(crate) multi: bool,
}

/// The signed-in accounts and their benches.
pub(crate) struct Router {
    paths: Paths,
    config: Config,
    http: reqwest::Client,
    default: Arc<Account>,
    accounts: RwLock<Arc<Vec<Arc<Account>>>>,
}

impl Router {
    /// A router over the accounts signed in now; `default` is the relay's existing
    /// session (its watcher already runs). Reads directory metadata: call at start.
    pub(crate) fn new(
        paths: Paths,
        config: Config,
        http: reqwest::Client,
        default: CredentialSession,
    ) -> Router {
        let router = Router {
            default: Arc::new(Account::new(DEFAULT_ACCOUNT.to_owned(), default)),
            accounts: RwLock::new(Arc::new(Vec::new())),
            paths,
            config,
            http,
        };
        router.sync(accounts::list(&router.paths));
        router
    }

    /// The signed-in accounts, in order.
    pub(crate) fn all(&self) -> Arc<Vec<Arc<Account>>> {
        Arc::clone(&self.accounts.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Brings the list in line with `names` (the accounts signed in now, in order):
    /// new ones get a session and a watcher, removed ones are dropped (requests
    /// already running on them keep their own handle and finish).
    pub(crate) fn sync(&self, names: Vec<String>) {
        let current = self.all();
        let same =
            current.len() == names.len() && current.iter().zip(&names).all(|(a, n)| a.name == *n);
        if same {
            return;
        }
        let next: Vec<Arc<Account>> = names
            .into_iter()
            .map(|name| {
                if let Some(a) = current.iter().find(|a| a.name == name) {
                    return Arc::clone(a);
                }
                if name == DEFAULT_ACCOUNT {
                    return Arc::clone(&self.default);
                }
                tracing::info!("ChatGPT account {name} signed in; adding it to the rotation");
                self.open_account(name)
            })
            .collect();
        for gone in current
            .iter()
            .filter(|a| !next.iter().any(|n| n.name == a.name))
        {
            tracing::info!(
                "ChatGPT account {} signed out; removing it from the rotation",
                gone.name
            );
        }
        *self.accounts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    fn open_account(&self, name: String) -> Arc<Account> {
        let paths = accounts::account_paths(&self.paths, &name);
        let session = CredentialSession::new(paths, self.config.clone(), self.http.clone());
        let mut account = Account::new(name, session);
        if tokio::runtime::Handle::try_current().is_ok() {
            let (trigger, shutdown) = crate::shutdown::channel();
            drop(account.session.spawn_watcher(shutdown));
            account._watcher = Some(trigger);
        }
        Arc::new(account)
    }

    /// The accounts to try for a request with these headers, or 403 when
    /// `x-airelays-account` names an account that is not signed in.
    pub(crate) fn plan(&self, headers: &HeaderMap) -> Result<Plan, ApiError> {
        let all = self.all();
        let multi = all.len() >= 2;
        if let Some(pin) = headers.get(ACCOUNT_HEADER) {
            let name = pin.to_str().unwrap_or("").trim();
            let found = all.iter().find(|a| a.name == name).cloned().or_else(|| {
                // One account only: the default login answers to its name as today.
                (all.is_empty() && name == DEFAULT_ACCOUNT).then(|| Arc::clone(&self.default))
            });
            return match found {
                Some(a) => Ok(Plan {
                    candidates: vec![a],
                    pinned: true,
                    multi,
                }),
                None => Err(ApiError::unknown_account(name)),
            };
        }
        let candidates = match all.len() {
            0 => vec![Arc::clone(&self.default)],
            1 => vec![Arc::clone(&all[0])],
            _ => self.usable_or_fallback(&all)?,
        };
        Ok(Plan {
            candidates,
            pinned: false,
            multi,
        })
    }

    /// The usable accounts in order; when every one is benched, the one benched
    /// longest for a transient reason, else the real error of the account whose
    /// quota resets first, with its `Retry-After`.
    fn usable_or_fallback(&self, all: &[Arc<Account>]) -> Result<Vec<Arc<Account>>, ApiError> {
        let now = Instant::now();
        let benches: Vec<(Arc<Account>, Option<Bench>)> = all
            .iter()
            .map(|a| (Arc::clone(a), a.bench_now(now)))
            .collect();
        let usable: Vec<Arc<Account>> = benches
            .iter()
            .filter(|(_, b)| b.is_none())
            .map(|(a, _)| Arc::clone(a))
            .collect();
        if !usable.is_empty() {
            return Ok(usable);
        }
        let benched = benches.iter().filter_map(|(a, b)| Some((a, b.as_ref()?)));
        if let Some((a, _)) = benched
            .clone()
            .filter(|(_, b)| b.quota.is_none())
            .min_by_key(|(_, b)| b.since)
        {
            return Ok(vec![Arc::clone(a)]);
        }
        let first_reset = benched.min_by_key(|(_, b)| b.until);
        match first_reset.and_then(|(_, b)| Some((b.quota.clone()?, b.until))) {
            Some((error, until)) => {
                let secs = until.saturating_duration_since(now).as_secs().max(1);
                Err(error.with_retry_after(secs))
            }
            None => Ok(all.to_vec()),
        }
    }

    /// Takes `account` out of rotation after `error` (of kind `reason`), unless it
    /// is the only usable account. Returns whether it was benched.
    pub(crate) fn bench(
        &self,
        account: &Account,
        reason: &FailoverReason,
        error: &ApiError,
    ) -> bool {
        let now = Instant::now();
        let all = self.all();
        let usable = all.iter().filter(|a| a.bench_now(now).is_none()).count();
        if usable < 2 {
            return false;
        }
        let (until, quota) = match reason {
            FailoverReason::Quota => {
                let secs = error.retry_after.unwrap_or(COOLDOWN.as_secs());
                (now + Duration::from_secs(secs.max(1)), Some(error.clone()))
            }
            FailoverReason::Transient => (now + COOLDOWN, None),
        };
        tracing::warn!(
            "ChatGPT account {} benched for {} s: {}",
            account.name,
            until.saturating_duration_since(now).as_secs(),
            error.message
        );
        *account.bench.lock().unwrap_or_else(|e| e.into_inner()) = Some(Bench {
            since: now,
            until,
            quota,
        });
        true
    }
}

/// Looks at the data directory every second for accounts added or removed by
/// `login --account`, `logout --account` or `accounts remove` in another terminal.
pub(crate) async fn rescan_loop(
    state: Arc<super::AppState>,
    mut shutdown: crate::shutdown::Shutdown,
) {
    let mut ticker = tokio::time::interval(RESCAN_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.fired() => return,
        }
        let paths = state.paths.clone();
        if let Ok(names) = tokio::task::spawn_blocking(move || accounts::list(&paths)).await {
            state.accounts.sync(names);
        }
    }
}
