//! One signed-in account as the router sees it: its credential session, its own
//! plan usage (snapshot and quota guard) and its bench.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::session::CredentialSession;
use crate::server::error::ApiError;
use crate::server::usage::PlanUsage;

/// One signed-in account.
pub(crate) struct Account {
    /// Its name (`default` for the login made without `--account`).
    pub(crate) name: String,
    /// Its credentials, refreshed single-flight under its own `refresh.lock`.
    pub(crate) session: CredentialSession,
    /// Its plan usage: snapshot from its answers and polls, and its quota guard.
    pub(crate) usage: Arc<PlanUsage>,
    /// Where its usage snapshot is saved (`usage.json` in its data directory).
    pub(crate) usage_file: PathBuf,
    bench: Mutex<Option<Bench>>,
    last_error: Mutex<Option<String>>,
    /// Stops the watcher that picks up a new login of this account when the
    /// account is dropped (removed, and its last request done).
    pub(super) watcher: Option<crate::shutdown::ShutdownTrigger>,
}

/// Why and until when an account is out of rotation.
#[derive(Clone, Debug)]
pub(crate) struct Bench {
    pub(crate) since: Instant,
    pub(crate) until: Instant,
    /// The account's real usage-limit answer, for when every account is out of quota.
    pub(crate) quota: Option<ApiError>,
}

impl Account {
    /// An account that is in rotation; `usage_file` is where its usage is saved.
    pub(crate) fn new(
        name: String,
        session: CredentialSession,
        usage: Arc<PlanUsage>,
        usage_file: PathBuf,
    ) -> Account {
        Account {
            name,
            session,
            usage,
            usage_file,
            bench: Mutex::new(None),
            last_error: Mutex::new(None),
            watcher: None,
        }
    }

    /// Its bench at `now`, if any (an expired bench is cleared).
    pub(crate) fn bench_at(&self, now: Instant) -> Option<Bench> {
        let mut b = self.bench.lock().unwrap_or_else(|e| e.into_inner());
        if b.as_ref().is_some_and(|b| b.until <= now) {
            *b = None;
        }
        b.clone()
    }

    /// Benches it until `until`; `quota` is its usage-limit answer, if that is why.
    pub(crate) fn set_bench(&self, now: Instant, until: Instant, quota: Option<ApiError>) {
        *self.bench.lock().unwrap_or_else(|e| e.into_inner()) = Some(Bench {
            since: now,
            until,
            quota,
        });
    }

    /// How long it stays out of rotation; `None` when it is usable.
    pub(crate) fn benched_for(&self) -> Option<Duration> {
        let now = Instant::now();
        self.bench_at(now)
            .map(|b| b.until.saturating_duration_since(now))
    }

    /// Whether its bench is for its quota (else transient).
    pub(crate) fn benched_for_quota(&self) -> bool {
        self.bench_at(Instant::now())
            .is_some_and(|b| b.quota.is_some())
    }

    /// Remembers the last failure of a request on this account (for status).
    pub(crate) fn note_error(&self, message: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.to_owned());
    }

    /// The last failure of a request on this account.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The used percent of its longest usage window (0 when unknown), for `balanced`.
    pub(crate) fn longest_window_used(&self) -> f64 {
        self.usage
            .snapshot()
            .and_then(|s| {
                s.windows
                    .iter()
                    .max_by_key(|w| w.window_minutes)
                    .map(|w| w.used_percent)
            })
            .unwrap_or(0.0)
    }
}
