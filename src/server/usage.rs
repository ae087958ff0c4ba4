//! The plan's usage as the running relay knows it (docs/architecture.md, "Plan
//! usage"): the last snapshot — read from the backend's usage endpoint at start,
//! on demand and every `usage.poll_seconds` while the relay is in use, and updated
//! between polls by each answer's `x-codex-*` headers — plus what is derived from
//! it: the `x-airelays-usage-*` headers every relayed answer carries, the warning
//! at `usage.warn_at_percent` and the quota guard at `usage.refuse_at_percent`.
//!
//! The derived headers and the windows over the guard's threshold are built when
//! the snapshot changes, so a request costs one short lock and an `Arc` clone.
//! Polls run off the request path, single-flight, and never refresh the login.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::AppState;
use super::error::ApiError;
use crate::config::UsageConfig;
use crate::shutdown::Shutdown;
use crate::status::{UsageSnapshot, UsageWindow};
use crate::upstream::usage::{self as parse, local_time};

/// The request header that lets one request through the quota guard.
pub(crate) const OVERRIDE_HEADER: &str = "x-airelays-override-usage-guard";

/// The answer header that flags a window past `usage.warn_at_percent`.
pub(crate) const WARNING_HEADER: &str = "x-airelays-usage-warning";

/// Polls run only while the relay served a request within this long.
const IN_USE_WINDOW_SECONDS: i64 = 3_600;

/// How long an on-demand read waits for the usage endpoint.
const ON_DEMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A window at or over the guard's threshold.
#[derive(Debug, Clone)]
struct Over {
    label: String,
    limit: Option<String>,
    feature: Option<String>,
    used: f64,
    resets_at: Option<String>,
}

/// What every answer and every request check reads, rebuilt on each change.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    /// `x-airelays-usage-<id>-used-percent` / `-resets-at` for each window.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// `x-airelays-usage-warning`, when a window is past the warning threshold.
    pub(crate) warning: Option<HeaderValue>,
    over: Vec<Over>,
}

#[derive(Default)]
struct Inner {
    snapshot: Option<UsageSnapshot>,
    derived: Arc<Derived>,
    /// Windows already warned about, so a crossing is logged once.
    warned: Vec<String>,
}

/// The plan's usage, shared by the request handlers and the poller.
pub(crate) struct PlanUsage {
    inner: Mutex<Inner>,
    /// Fires when the snapshot changes (the persister saves it).
    pub(crate) changed: tokio::sync::Notify,
    poll: tokio::sync::Mutex<()>,
    last_request: AtomicI64,
    /// A digest of the last answer's `x-codex-*` headers and the second it came
    /// in: the same headers within the same second change nothing.
    last_headers: std::sync::atomic::AtomicU64,
    /// When the usage endpoint was last asked (Unix seconds).
    last_poll: AtomicI64,
    warn_at: u64,
    refuse_at: u64,
    ignore_guard: bool,
}

/// A digest of the `x-codex-*` usage headers and the current second (never 0);
/// `x-codex-turn-state`, new on every answer, is not about usage.
fn headers_digest(headers: &HeaderMap, second: i64) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    second.hash(&mut h);
    for (name, value) in headers {
        if name.as_str().starts_with("x-codex-") && name.as_str() != "x-codex-turn-state" {
            name.as_str().hash(&mut h);
            value.as_bytes().hash(&mut h);
        }
    }
    h.finish() | 1
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The key of a window in header names: its id, prefixed by its limit's name.
fn key(w: &UsageWindow) -> String {
    let raw = match &w.limit_name {
        Some(name) => format!("{name}-{}", w.id),
        None => w.id.clone(),
    };
    normalise(&raw)
}

/// Lower case, runs of anything but letters and digits as one `-`.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// What the user reads for a window: `7d`, or `7d of codex_other`.
fn label(w: &UsageWindow) -> String {
    match &w.limit_name {
        Some(name) => format!("{} window of the {name} limit", w.id),
        None => format!("{} window", w.id),
    }
}

impl PlanUsage {
    /// The usage settings, the snapshot saved by the last run, and
    /// `serve --ignore-usage-guard`.
    pub(crate) fn new(
        config: &UsageConfig,
        saved: Option<UsageSnapshot>,
        ignore_guard: bool,
    ) -> PlanUsage {
        let usage = PlanUsage {
            inner: Mutex::new(Inner::default()),
            changed: tokio::sync::Notify::new(),
            poll: tokio::sync::Mutex::new(()),
            last_request: AtomicI64::new(i64::MIN),
            last_headers: std::sync::atomic::AtomicU64::new(0),
            last_poll: AtomicI64::new(i64::MIN),
            warn_at: config.warn_at_percent,
            refuse_at: config.refuse_at_percent,
            ignore_guard,
        };
        if let Some(s) = saved {
            usage.set(s, false);
        }
        usage
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `saved` (the snapshot an earlier run saved) unless a fresher one
    /// arrived meanwhile.
    pub(crate) fn restore(&self, saved: UsageSnapshot) {
        if self.lock().snapshot.is_none() {
            self.set(saved, false);
        }
    }

    /// The last snapshot.
    pub(crate) fn snapshot(&self) -> Option<UsageSnapshot> {
        self.lock().snapshot.clone()
    }

    /// What answers carry now.
    pub(crate) fn derived(&self) -> Arc<Derived> {
        Arc::clone(&self.lock().derived)
    }

    /// A request is being relayed: the poller keeps polling for the next hour.
    pub(crate) fn note_request(&self) {
        self.last_request.store(now(), Ordering::Relaxed);
    }

    fn in_use(&self) -> bool {
        let last = self.last_request.load(Ordering::Relaxed);
        last != i64::MIN && now().saturating_sub(last) <= IN_USE_WINDOW_SECONDS
    }

    /// An answer's `x-codex-*` headers, between polls.
    pub(crate) fn record_headers(&self, headers: &HeaderMap) {
        let digest = headers_digest(headers, now());
        if self.last_headers.swap(digest, Ordering::Relaxed) == digest {
            return;
        }
        if let Some(fresh) = parse::snapshot_from_headers(headers) {
            let merged = parse::merge_headers(self.lock().snapshot.as_ref(), fresh);
            self.set(merged, true);
        }
    }

    /// Replaces the snapshot and rebuilds what is derived from it.
    fn set(&self, snapshot: UsageSnapshot, notify: bool) {
        let derived = self.derive(&snapshot);
        let mut inner = self.lock();
        let newly: Vec<&UsageWindow> = snapshot
            .windows
            .iter()
            .filter(|w| self.warns(w) && !inner.warned.contains(&key(w)))
            .collect();
        for w in &newly {
            tracing::warn!(
                "plan usage: the {} is {:.0}% used (usage.warn_at_percent = {}); it resets {}",
                label(w),
                w.used_percent,
                self.warn_at,
                w.resets_at
                    .as_deref()
                    .map_or("at an unknown time".into(), local_time),
            );
        }
        inner.warned = snapshot
            .windows
            .iter()
            .filter(|w| self.warns(w))
            .map(key)
            .collect();
        inner.snapshot = Some(snapshot);
        inner.derived = Arc::new(derived);
        drop(inner);
        if notify {
            self.changed.notify_one();
        }
    }

    fn warns(&self, w: &UsageWindow) -> bool {
        self.warn_at > 0 && w.used_percent >= self.warn_at as f64
    }

    fn derive(&self, snapshot: &UsageSnapshot) -> Derived {
        let mut headers = Vec::with_capacity(snapshot.windows.len() * 2);
        let mut warnings = Vec::new();
        let mut over = Vec::new();
        for w in &snapshot.windows {
            let k = key(w);
            let value = |v: String| HeaderValue::from_str(&v).ok();
            let named =
                |suffix: &str| HeaderName::try_from(format!("x-airelays-usage-{k}-{suffix}")).ok();
            if let (Some(n), Some(v)) =
                (named("used-percent"), value(format!("{}", w.used_percent)))
            {
                headers.push((n, v));
            }
            if let (Some(n), Some(v)) = (named("resets-at"), w.resets_at.clone().and_then(value)) {
                headers.push((n, v));
            }
            if self.warns(w) {
                let resets = w.resets_at.as_deref().unwrap_or("unknown");
                warnings.push(format!("{k} {:.0}% used, resets {resets}", w.used_percent));
            }
            if self.refuse_at > 0 && w.used_percent >= self.refuse_at as f64 {
                over.push(Over {
                    label: label(w),
                    limit: w.limit_name.clone(),
                    feature: w.metered_feature.clone(),
                    used: w.used_percent,
                    resets_at: w.resets_at.clone(),
                });
            }
        }
        Derived {
            headers,
            warning: (!warnings.is_empty())
                .then(|| HeaderValue::from_str(&warnings.join("; ")).ok())
                .flatten(),
            over,
        }
    }

    /// The quota guard: `Err(429 usage_guard)` when a window that meters `model` is
    /// at or over `usage.refuse_at_percent`, unless the guard is off, the relay runs
    /// with `--ignore-usage-guard` or the request overrides it. The plan's own
    /// windows meter every request; a limit of its own only the models its name or
    /// metered feature names.
    pub(crate) fn check(&self, model: &str, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.refuse_at == 0 || self.ignore_guard {
            return Ok(());
        }
        let derived = self.derived();
        let Some(o) = derived.over.iter().find(|o| meters(o, model)) else {
            return Ok(());
        };
        let overridden = headers
            .get(OVERRIDE_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        if overridden {
            return Ok(());
        }
        let retry = o
            .resets_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| u64::try_from(t.as_second().saturating_sub(now())).unwrap_or(0));
        Err(ApiError::usage_guard(
            &o.label,
            o.used,
            self.refuse_at,
            o.resets_at.as_deref().map(local_time),
            retry,
        ))
    }

    /// Reads the usage endpoint now, unless a read is already running (then waits
    /// for it). Uses the access token only while it is fresh: a poll never spends
    /// the refresh token.
    pub(crate) async fn poll(&self, state: &AppState) {
        self.poll_as(state, &state.credentials).await;
    }

    /// [`PlanUsage::poll`] with the login of one account.
    pub(crate) async fn poll_as(
        &self,
        state: &AppState,
        credentials: &crate::auth::session::CredentialSession,
    ) {
        let _one = match self.poll.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                drop(self.poll.lock().await);
                return;
            }
        };
        let Some(access) = credentials.access_if_fresh().await else {
            return;
        };
        self.last_poll.store(now(), Ordering::Relaxed);
        let read = state
            .upstream
            .fetch_usage(&access.access_token, &access.account_id);
        let result = match tokio::time::timeout(ON_DEMAND_TIMEOUT, read).await {
            Ok(Ok(payload)) => parse::snapshot_from_payload(&payload, now())
                .ok_or_else(|| "the usage endpoint answered an unknown shape".to_owned()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the usage endpoint did not answer in time".to_owned()),
        };
        match result {
            Ok(snapshot) => self.set(snapshot, true),
            Err(e) => self.failed(&e, state.upstream.usage_url()),
        }
    }

    /// [`PlanUsage::poll`] when the last reading is older than `age` (or there is
    /// none), for on-demand readers such as `/v1/relay/status`.
    pub(crate) async fn poll_if_older(&self, state: &AppState, age: Duration) {
        let last = self.last_poll.load(Ordering::Relaxed);
        let age = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
        if last == i64::MIN || now().saturating_sub(last) >= age {
            self.poll(state).await;
        }
    }

    /// Keeps the last snapshot and says why it is getting old.
    fn failed(&self, error: &str, url: &str) {
        tracing::warn!("plan usage: could not read {url}: {error}");
        let mut inner = self.lock();
        if let Some(s) = inner.snapshot.as_mut() {
            s.poll_error = Some(format!("{url}: {error}"));
        }
    }
}

/// Whether a window over the threshold meters `model`.
fn meters(o: &Over, model: &str) -> bool {
    let names = [o.limit.as_deref(), o.feature.as_deref()];
    if names.iter().all(Option::is_none) {
        return true;
    }
    let model = normalise(model);
    names
        .iter()
        .flatten()
        .map(|n| normalise(n))
        .any(|n| !n.is_empty() && (model.contains(&n) || n.contains(&model)))
}

/// Reads the usage at start, then every `usage.poll_seconds` while the relay is in
/// use, until `shutdown` fires.
pub(crate) async fn poll_loop(state: Arc<AppState>, mut shutdown: Shutdown) {
    tokio::select! {
        _ = poll_accounts(&state) => {}
        _ = shutdown.fired() => return,
    }
    let every = state.config.usage.poll_seconds;
    if every == 0 {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = shutdown.fired() => return,
        }
        if state.usage.in_use() {
            tokio::select! {
                _ = poll_accounts(&state) => {}
                _ = shutdown.fired() => return,
            }
        }
    }
}

/// Reads the usage of the `default` login, then of every other account (each
/// with its own token; one at a time, so polls never bunch up).
pub(crate) async fn poll_accounts(state: &AppState) {
    state.usage.poll(state).await;
    for account in state.accounts.all().iter() {
        if !Arc::ptr_eq(&account.usage, &state.usage) {
            account.usage.poll_as(state, &account.session).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(warn: u64, refuse: u64) -> UsageConfig {
        UsageConfig {
            poll_seconds: 300,
            warn_at_percent: warn,
            refuse_at_percent: refuse,
        }
    }

    fn window(id: &str, used: f64, limit: Option<&str>) -> UsageWindow {
        UsageWindow {
            window_minutes: 0,
            used_percent: used,
            resets_at: Some("2030-01-01T00:00:00Z".into()),
            id: id.into(),
            limit_name: limit.map(str::to_owned),
            metered_feature: None,
        }
    }

    fn snapshot(windows: Vec<UsageWindow>) -> UsageSnapshot {
        UsageSnapshot {
            observed_at: "2029-12-31T00:00:00Z".into(),
            plan: Some("plus".into()),
            windows,
            source: "poll".into(),
            credits: None,
            poll_error: None,
        }
    }

    #[test]
    fn answers_carry_each_window_and_the_warning() {
        let u = PlanUsage::new(
            &config(90, 0),
            Some(snapshot(vec![
                window("5h", 12.5, None),
                window("7d", 91.0, None),
                window("15m", 3.0, Some("GPT-5.3-Codex-Spark")),
            ])),
            false,
        );
        let d = u.derived();
        let names: Vec<&str> = d.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"x-airelays-usage-5h-used-percent"),
            "{names:?}"
        );
        assert!(
            names.contains(&"x-airelays-usage-7d-resets-at"),
            "{names:?}"
        );
        assert!(
            names.contains(&"x-airelays-usage-gpt-5-3-codex-spark-15m-used-percent"),
            "{names:?}"
        );
        assert_eq!(d.headers[0].1, "12.5");
        let warning = d.warning.as_ref().unwrap().to_str().unwrap();
        assert!(warning.starts_with("7d 91% used"), "{warning}");
        assert!(
            u.check("gpt-5.5", &HeaderMap::new()).is_ok(),
            "the guard is off"
        );
    }

    #[test]
    fn the_same_usage_headers_in_the_same_second_are_skipped_and_new_values_are_not() {
        let u = PlanUsage::new(&config(90, 0), None, false);
        let answer = |used: &str, turn: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-codex-primary-used-percent", used.parse().unwrap());
            h.insert("x-codex-primary-window-minutes", "300".parse().unwrap());
            h.insert("x-codex-turn-state", turn.parse().unwrap());
            h
        };
        // Another answer with the same usage (only its turn state differs), in
        // the same second, is skipped; a new value or a new second is not.
        let same = headers_digest(&answer("12", "t1"), 5);
        assert_eq!(same, headers_digest(&answer("12", "t2"), 5));
        assert_ne!(same, headers_digest(&answer("13", "t1"), 5));
        assert_ne!(same, headers_digest(&answer("12", "t1"), 6));
        u.record_headers(&answer("12", "t1"));
        assert_eq!(u.derived().headers[0].1, "12");
        u.record_headers(&answer("13", "t3"));
        assert_eq!(u.derived().headers[0].1, "13");
    }

    #[test]
    fn the_guard_refuses_at_the_threshold_and_lets_the_override_through() {
        let u = PlanUsage::new(
            &config(90, 95),
            Some(snapshot(vec![window("7d", 95.0, None)])),
            false,
        );
        let e = u.check("gpt-5.5", &HeaderMap::new()).unwrap_err();
        assert_eq!(e.status, 429);
        assert_eq!(e.code.as_deref(), Some("usage_guard"));
        assert!(
            e.message.contains("7d window") && e.message.contains("95%"),
            "{}",
            e.message
        );
        assert!(e.retry_after.is_some());
        let mut h = HeaderMap::new();
        h.insert(OVERRIDE_HEADER, HeaderValue::from_static("1"));
        assert!(u.check("gpt-5.5", &h).is_ok());
        let ignoring = PlanUsage::new(
            &config(90, 95),
            Some(snapshot(vec![window("7d", 99.0, None)])),
            true,
        );
        assert!(ignoring.check("gpt-5.5", &HeaderMap::new()).is_ok());
    }

    #[test]
    fn a_limit_of_its_own_meters_only_its_models() {
        let u = PlanUsage::new(
            &config(0, 90),
            Some(snapshot(vec![
                window("5h", 10.0, None),
                window("5h", 100.0, Some("GPT-5.3-Codex-Spark")),
            ])),
            false,
        );
        assert!(u.check("gpt-5.5", &HeaderMap::new()).is_ok());
        assert!(u.check("gpt-5.3-codex-spark", &HeaderMap::new()).is_err());
        assert!(u.derived().warning.is_none(), "warnings are off at 0");
    }
}
