//! The account router (docs/architecture.md#accounts): which signed-in ChatGPT
//! account a request runs on, which accounts are benched and until when, and the
//! pick-up of accounts added or removed while the relay runs.
//!
//! With one account (or none) nothing here is visible: the plan is that account,
//! nothing is benched and no `x-airelays-account` header is sent (only a pin that
//! names an account that is not signed in is refused, as with more). With two or more,
//! a request pinned by `x-airelays-account` or an `accounts.pin` rule runs on that
//! account only; otherwise a conversation seen before stays on its account while it
//! is usable ([`affinity`]), and a new one takes the first usable pooled account in
//! `accounts.order` (`ordered`) or the one with the most left of its longest usage
//! window (`balanced`). The pipeline ([`crate::server::relay`]) fails over to the
//! next candidate before the first byte and asks [`Router::bench`] to take the
//! failed account out of rotation. Locks here are std mutexes held for a few
//! instructions, never across an await.

mod account;
mod affinity;
pub(crate) mod models;
pub(crate) mod origins;
mod pins;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;

pub(crate) use account::Account;
pub(crate) use origins::{Hint, Origins};
pub(crate) use pins::{LISTENER, Pins};

use super::error::ApiError;
use super::usage::PlanUsage;
use crate::auth::accounts::{self, DEFAULT_ACCOUNT};
use crate::auth::session::CredentialSession;
use crate::config::{AccountStrategy, Config, Paths};
use crate::translate::{SignedReasoning, messages};

/// The request header that pins a request to one account, and the answer header
/// that names the account used.
pub(crate) const ACCOUNT_HEADER: &str = "x-airelays-account";

/// The backend's sticky-routing header, echoed by Codex within a turn.
const TURN_STATE: &str = "x-codex-turn-state";

/// How often the data directory is looked at for added or removed accounts.
const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// Why a failure on one account moves the request to another.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FailoverReason {
    /// A usage-limit 429: benched until its reset.
    Quota,
    /// An auth rejection after a refresh, a 5xx or a transport error: benched for
    /// `accounts.cooldown_seconds`.
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
    /// Pinned (header or rule): no failover.
    pub(crate) pinned: bool,
    /// Two or more accounts are signed in: answers name the account used.
    pub(crate) multi: bool,
    /// The conversation key, remembered for the account that answers.
    pub(crate) session: Option<String>,
}

/// The signed-in accounts, their benches and the conversation affinity.
pub(crate) struct Router {
    paths: Paths,
    config: Config,
    http: reqwest::Client,
    ignore_usage_guard: bool,
    default: Arc<Account>,
    accounts: RwLock<Arc<Vec<Arc<Account>>>>,
    pins: Pins,
    affinity: affinity::Affinity,
    /// Which account issued each `x-codex-turn-state` (the backend's sticky-routing
    /// token, echoed by Codex within a turn; docs/upstream.md).
    turn_states: affinity::Affinity,
    /// Which account issued each piece of encrypted reasoning.
    pub(crate) origins: Arc<Origins>,
    /// Which models each account's catalogue has.
    pub(crate) models: models::AccountModels,
}

/// What [`Router::new`] needs besides the configuration.
pub(crate) struct RouterParts {
    /// Where the accounts' credentials live.
    pub(crate) paths: Paths,
    /// The one outbound client, for new accounts' sessions.
    pub(crate) http: reqwest::Client,
    /// The relay's existing session: the `default` account.
    pub(crate) default: CredentialSession,
    /// The relay's plan usage: the `default` account's.
    pub(crate) default_usage: Arc<PlanUsage>,
    /// `serve --ignore-usage-guard`.
    pub(crate) ignore_usage_guard: bool,
}

impl Router {
    /// A router over the accounts signed in now. Reads directory metadata: call at
    /// start.
    pub(crate) fn new(config: Config, parts: RouterParts) -> Router {
        let default = Account::new(
            DEFAULT_ACCOUNT.to_owned(),
            parts.default,
            parts.default_usage,
            parts.paths.usage_file(),
        );
        let router = Router {
            default: Arc::new(default),
            accounts: RwLock::new(Arc::new(Vec::new())),
            pins: Pins::new(&config),
            affinity: affinity::Affinity::new(),
            turn_states: affinity::Affinity::new(),
            origins: Arc::new(Origins::default()),
            models: models::AccountModels::default(),
            paths: parts.paths,
            http: parts.http,
            ignore_usage_guard: parts.ignore_usage_guard,
            config,
        };
        let names = accounts::list(&router.paths);
        for rule in router.pins.unknown(&names) {
            tracing::warn!(
                "accounts.pin rule {:?} names the account {}, which is not signed in: requests it matches are refused (403) until `airelays login --account {}`",
                rule.text,
                rule.account,
                rule.account
            );
        }
        router.sync(names);
        router
    }

    /// The signed-in accounts, in `accounts.order`.
    pub(crate) fn all(&self) -> Arc<Vec<Arc<Account>>> {
        Arc::clone(&self.accounts.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// `accounts.strategy`.
    pub(crate) fn strategy(&self) -> AccountStrategy {
        self.config.accounts.strategy
    }

    /// Brings the list in line with `names` (the accounts signed in now, in the
    /// order they were added): new ones get a session and a watcher, removed ones
    /// are dropped (requests already running on them keep their handle and finish).
    pub(crate) fn sync(&self, mut names: Vec<String>) {
        let order = &self.config.accounts.order;
        names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(order.len()));
        let current = self.all();
        let same =
            current.len() == names.len() && current.iter().zip(&names).all(|(a, n)| a.name == *n);
        if same {
            return;
        }
        let next: Vec<Arc<Account>> = names
            .into_iter()
            .map(|name| match current.iter().find(|a| a.name == name) {
                Some(a) => Arc::clone(a),
                None if name == DEFAULT_ACCOUNT => Arc::clone(&self.default),
                None => {
                    tracing::info!("ChatGPT account {name} signed in; adding it to the rotation");
                    self.open_account(name)
                }
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

    /// A new account's session, plan usage (its saved snapshot read, and saved
    /// again as it changes) and login watcher; the tasks end when it is dropped.
    fn open_account(&self, name: String) -> Arc<Account> {
        let paths = accounts::account_paths(&self.paths, &name);
        let usage_file = paths.usage_file();
        let session = CredentialSession::new(paths, self.config.clone(), self.http.clone());
        let usage = Arc::new(PlanUsage::new(
            &self.config.usage,
            None,
            self.ignore_usage_guard,
        ));
        let mut account = Account::new(name, session, Arc::clone(&usage), usage_file.clone());
        if tokio::runtime::Handle::try_current().is_ok() {
            let (trigger, shutdown) = crate::shutdown::channel();
            drop(account.session.spawn_watcher(shutdown.clone()));
            drop(tokio::spawn(async move {
                crate::server::usage_file::restore(&usage, usage_file.clone()).await;
                crate::server::usage_file::persist_loop(usage, usage_file, shutdown).await;
            }));
            account.watcher = Some(trigger);
        }
        Arc::new(account)
    }

    /// Every signed-in account as the status document shows it.
    pub(crate) fn statuses(&self) -> Vec<crate::status::AccountStatus> {
        self.all()
            .iter()
            .map(|a| crate::status::AccountStatus {
                name: a.name.clone(),
                upstream: a.session.status(),
                pooled: self.pooled(&a.name),
                benched: a.benched_for().map(|_| {
                    if a.benched_for_quota() {
                        "quota"
                    } else {
                        "transient"
                    }
                    .to_owned()
                }),
                benched_for_seconds: a.benched_for().map(|d| d.as_secs().max(1)),
                usage: a.usage.snapshot(),
                last_error: a.last_error(),
                models: self.models.of(&a.name),
            })
            .collect()
    }

    /// Each signed-in account's thinking-signature tag and name, in
    /// `accounts.order`; before any account is listed, the `default` login's.
    pub(crate) fn signature_tags(&self) -> Vec<(String, String)> {
        let all = self.all();
        let accounts: Vec<&Arc<Account>> = if all.is_empty() {
            vec![&self.default]
        } else {
            all.iter().collect()
        };
        accounts
            .into_iter()
            .map(|a| {
                let id = a.session.status().account_id;
                (messages::tag_for(id.as_deref()), a.name.clone())
            })
            .collect()
    }

    /// The accounts that issued the reasoning a request carries inside signatures
    /// (a tag no signed-in account has names nobody).
    pub(crate) fn hints(&self, signed: &[SignedReasoning]) -> Vec<Hint> {
        if signed.is_empty() {
            return Vec::new();
        }
        let tags = self.signature_tags();
        signed
            .iter()
            .filter_map(|s| {
                let (_, name) = tags.iter().find(|(tag, _)| *tag == s.account_tag)?;
                Some(Hint {
                    key: s.digest,
                    owner: Arc::from(name.as_str()),
                    parameter: s.parameter,
                })
            })
            .collect()
    }

    /// Whether `name` takes part in failover and balancing (`accounts.pool`).
    fn pooled(&self, name: &str) -> bool {
        let pool = &self.config.accounts.pool;
        pool.is_empty() || pool.iter().any(|p| p == name)
    }

    /// The accounts to try for a request, or 403 when `x-airelays-account` names an
    /// account that is not signed in, or the real error when none can take it.
    pub(crate) fn plan(&self, headers: &HeaderMap, body: &[u8]) -> Result<Plan, ApiError> {
        let all = self.all();
        let multi = all.len() >= 2;
        let single = |a: Arc<Account>, pinned| Plan {
            candidates: vec![a],
            pinned,
            multi,
            session: None,
        };
        // The header first, then the first matching `accounts.pin` rule; either
        // naming an account that is not signed in is refused (it may sign in later).
        let header = headers
            .get(ACCOUNT_HEADER)
            .map(|v| (v.to_str().unwrap_or("").trim(), None));
        let pin = header.or_else(|| {
            let rule = self.pins.rule_for(headers)?;
            Some((rule.account.as_str(), Some(rule.text.as_str())))
        });
        if let Some((name, rule)) = pin {
            let found = all.iter().find(|a| a.name == name).cloned().or_else(|| {
                // No account signed in yet: the default login answers to its name.
                (all.is_empty() && name == DEFAULT_ACCOUNT).then(|| Arc::clone(&self.default))
            });
            return found.map(|a| single(a, true)).ok_or_else(|| match rule {
                Some(rule) => ApiError::unknown_pinned_account(name, rule),
                None => ApiError::unknown_account(name),
            });
        }
        match all.len() {
            0 => return Ok(single(Arc::clone(&self.default), false)),
            1 => return Ok(single(Arc::clone(&all[0]), false)),
            _ => {}
        }
        let session = affinity::session_key(headers, body);
        let mut candidates = self.usable_or_fallback(&all)?;
        if let Some(name) = session.as_deref().and_then(|k| self.affinity.get(k))
            && let Some(i) = candidates.iter().position(|a| a.name == name)
        {
            let sticky = candidates.remove(i);
            candidates.insert(0, sticky);
        }
        Ok(Plan {
            candidates,
            pinned: false,
            multi,
            session,
        })
    }

    /// Remembers that the conversation of `plan` ran on `account`.
    pub(crate) fn answered(&self, plan: &Plan, account: &Account, answer: &HeaderMap) {
        if let Some(key) = &plan.session {
            self.affinity.set(key, &account.name);
        }
        if let Some(state) = answer.get(TURN_STATE).and_then(|v| v.to_str().ok()) {
            self.turn_states.set(state, &account.name);
        }
    }

    /// The client's headers for a request on `account`: without an
    /// `x-codex-turn-state` that another account issued (it routes only there).
    pub(crate) fn headers_for<'h>(
        &self,
        account: &Account,
        headers: &'h HeaderMap,
    ) -> std::borrow::Cow<'h, HeaderMap> {
        let foreign = headers
            .get(TURN_STATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| self.turn_states.get(v))
            .is_some_and(|owner| owner != account.name);
        if !foreign {
            return std::borrow::Cow::Borrowed(headers);
        }
        let mut own = headers.clone();
        own.remove(TURN_STATE);
        std::borrow::Cow::Owned(own)
    }

    /// The usable pooled accounts in strategy order; when every one is benched,
    /// the one benched longest for a transient reason, else the real error of the
    /// account whose quota resets first, with its `Retry-After`.
    fn usable_or_fallback(&self, all: &[Arc<Account>]) -> Result<Vec<Arc<Account>>, ApiError> {
        let now = Instant::now();
        let pooled: Vec<&Arc<Account>> = all.iter().filter(|a| self.pooled(&a.name)).collect();
        let pooled = if pooled.is_empty() {
            all.iter().collect()
        } else {
            pooled
        };
        let mut usable: Vec<Arc<Account>> = pooled
            .iter()
            .filter(|a| a.bench_at(now).is_none())
            .map(|a| Arc::clone(a))
            .collect();
        if !usable.is_empty() {
            if self.strategy() == AccountStrategy::Balanced {
                // Stable: equal percents keep `accounts.order`.
                usable.sort_by(|a, b| a.longest_window_used().total_cmp(&b.longest_window_used()));
            }
            return Ok(usable);
        }
        let benched: Vec<(&Arc<Account>, account::Bench)> = pooled
            .iter()
            .filter_map(|a| Some((*a, a.bench_at(now)?)))
            .collect();
        let transient = benched
            .iter()
            .filter(|(_, b)| b.quota.is_none())
            .min_by_key(|(_, b)| b.since);
        if let Some((a, _)) = transient {
            return Ok(vec![Arc::clone(a)]);
        }
        let first_reset = benched.iter().min_by_key(|(_, b)| b.until);
        match first_reset.and_then(|(_, b)| Some((b.quota.clone()?, b.until))) {
            Some((error, until)) => {
                let secs = until.saturating_duration_since(now).as_secs().max(1);
                Err(error.with_retry_after(secs))
            }
            None => Ok(pooled.into_iter().cloned().collect()),
        }
    }

    /// The saved usage-limit answers of the pooled accounts benched for their
    /// quota, with the seconds left until each reset as `Retry-After`.
    pub(crate) fn benched_quota_errors(&self) -> Vec<ApiError> {
        let now = Instant::now();
        self.all()
            .iter()
            .filter(|a| self.pooled(&a.name))
            .filter_map(|a| {
                let bench = a.bench_at(now)?;
                let secs = bench.until.saturating_duration_since(now).as_secs().max(1);
                Some(bench.quota?.with_retry_after(secs))
            })
            .collect()
    }

    /// Takes `account` out of rotation after `error` (of kind `reason`), unless it
    /// is the only usable pooled account. Returns whether it was benched.
    pub(crate) fn bench(
        &self,
        account: &Account,
        reason: &FailoverReason,
        error: &ApiError,
    ) -> bool {
        account.note_error(&error.message);
        let now = Instant::now();
        let all = self.all();
        let usable = all
            .iter()
            .filter(|a| self.pooled(&a.name) && a.bench_at(now).is_none())
            .count();
        if usable < 2 {
            return false;
        }
        let cooldown = Duration::from_secs(self.config.accounts.cooldown_seconds);
        let (until, quota) = match reason {
            FailoverReason::Quota => {
                let wait = error
                    .retry_after
                    .map_or(cooldown, |s| Duration::from_secs(u64::from(s)));
                (now + wait.max(Duration::from_secs(1)), Some(error.clone()))
            }
            FailoverReason::Transient => (now + cooldown, None),
        };
        tracing::warn!(
            "ChatGPT account {} benched for {} s: {}",
            account.name,
            until.saturating_duration_since(now).as_secs(),
            error.message
        );
        account.set_bench(now, until, quota);
        true
    }

    /// A model only some accounts have goes only to those; then the quota guard per
    /// account: the candidates not over
    /// `usage.refuse_at_percent` for `model`, or the first one's `usage_guard`
    /// error when every one is over.
    pub(crate) fn guard(
        &self,
        plan: &mut Plan,
        model: &str,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        let has = |a: &Arc<Account>| self.models.allows(&a.name, model);
        if plan.multi && !plan.pinned && plan.candidates.iter().any(has) {
            plan.candidates.retain(has);
        }
        let multi = plan.multi;
        let mut first_error = None;
        plan.candidates
            .retain(|a| match a.usage.check(model, headers) {
                Ok(()) => true,
                Err(e) => {
                    // With several accounts the refusal names the account it is about.
                    first_error.get_or_insert_with(
                        || {
                            if multi { e.with_account(&a.name) } else { e }
                        },
                    );
                    false
                }
            });
        match first_error {
            Some(e) if plan.candidates.is_empty() => Err(e),
            _ => Ok(()),
        }
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
            // A `default` login that just appeared: its session may still remember
            // "not signed in" until its own watcher looks; read it before routing to it.
            let default_new = names.iter().any(|n| n == DEFAULT_ACCOUNT)
                && !state
                    .accounts
                    .all()
                    .iter()
                    .any(|a| a.name == DEFAULT_ACCOUNT);
            if default_new && let Err(e) = state.credentials.reload().await {
                tracing::warn!("could not read the new ChatGPT login: {e}");
            }
            state.accounts.sync(names);
        }
    }
}
