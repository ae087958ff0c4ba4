//! What every request handler shares: the configuration, the guard, the upstream
//! client, the credential session, the stores, and the live counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::guard::Guard;
use super::limits::{IpLimits, LimitSettings};
use super::recent_items::RecentItems;
use super::traffic::TrafficLog;
use crate::auth::session::CredentialSession;
use crate::config::{Config, Paths};
use crate::files::FileStore;
use crate::state::StateStore;
use crate::status::{RelayStateFile, UsageSnapshot};
use crate::token::TokenVerifier;
use crate::upstream::UpstreamClient;
use crate::upstream::models::ModelCatalog;

/// The live counters shown by `/v1/relay/status`.
#[derive(Default)]
pub(crate) struct Counters {
    /// Requests received since start.
    pub(crate) requests: AtomicU64,
    /// Streams being relayed to clients now.
    pub(crate) active_streams: AtomicU64,
    /// Upstream requests open now.
    pub(crate) upstream_in_flight: AtomicU64,
    /// Requests refused (413) because their references would expand past
    /// `security.max_request_body_bytes`.
    pub(crate) expansions_refused: AtomicU64,
    /// Stored files read to be inlined into a request.
    pub(crate) inline_file_reads: AtomicU64,
}

/// A counter that [`CountGuard`] holds up while something is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// [`Counters::active_streams`].
    ActiveStreams,
    /// [`Counters::upstream_in_flight`].
    UpstreamInFlight,
}

impl Counters {
    fn get(&self, which: Counter) -> &AtomicU64 {
        match which {
            Counter::ActiveStreams => &self.active_streams,
            Counter::UpstreamInFlight => &self.upstream_in_flight,
        }
    }
}

/// Counts one open thing up while it lives and down when dropped, so a cancelled
/// request still counts down.
pub(crate) struct CountGuard {
    which: Counter,
    state: Arc<AppState>,
}

impl CountGuard {
    /// Counts `which` up until the guard is dropped.
    pub(crate) fn new(state: &Arc<AppState>, which: Counter) -> CountGuard {
        state.counters.get(which).fetch_add(1, Ordering::Relaxed);
        CountGuard {
            which,
            state: Arc::clone(state),
        }
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.state
            .counters
            .get(self.which)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// The parts `serve` builds before the relay starts.
pub(crate) struct AppParts {
    /// The effective configuration.
    pub(crate) config: Config,
    /// Where state lives.
    pub(crate) paths: Paths,
    /// Checks the relay token, following rotations.
    pub(crate) verifier: TokenVerifier,
    /// The ChatGPT credentials, refreshed single-flight.
    pub(crate) credentials: CredentialSession,
    /// The one outbound HTTP client.
    pub(crate) http: reqwest::Client,
    /// The upload store.
    pub(crate) files: FileStore,
    /// What `relay.json` says about this relay (its address and pid).
    pub(crate) relay: RelayStateFile,
    /// The state store, unless `state.enabled` is false.
    pub(crate) store: Option<StateStore>,
}

/// Everything the request handlers share.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) paths: Paths,
    pub(crate) guard: Guard,
    pub(crate) upstream: UpstreamClient,
    pub(crate) credentials: CredentialSession,
    pub(crate) models: ModelCatalog,
    pub(crate) files: FileStore,
    /// Output items of recent responses, for clients that send `item_reference`s.
    pub(crate) recent_items: RecentItems,
    pub(crate) counters: Counters,
    pub(crate) usage: Mutex<Option<UsageSnapshot>>,
    pub(crate) usage_changed: tokio::sync::Notify,
    pub(crate) traffic: Option<TrafficLog>,
    /// The connection caps (`security.max_connections`, `…_per_ip`).
    pub(crate) connections: Arc<super::listener::Connections>,
    /// This relay's address and pid, as written to `relay.json`.
    pub(crate) relay: RelayStateFile,
    /// The state store (docs/architecture.md, "The state store"), unless
    /// `state.enabled` is false.
    pub(crate) store: Option<StateStore>,
}

impl AppState {
    /// Builds the shared state; the traffic log (if on) starts writing now.
    pub(crate) fn new(parts: AppParts) -> Arc<AppState> {
        let AppParts {
            config,
            paths,
            verifier,
            credentials,
            http,
            files,
            relay,
            store,
        } = parts;
        let s = &config.security;
        let guard = Guard {
            allowed_hosts: s.allowed_hosts.clone(),
            allowed_origins: s.allowed_origins.clone(),
            listen_host: config.server.host.clone(),
            require_auth: s.require_bearer_auth,
            verifier,
            limits: IpLimits::new(LimitSettings::from(s)),
            per_minute: s.rate_limit_per_minute,
            concurrent: s.concurrent_requests_per_ip,
        };
        let traffic = config
            .logging
            .traffic_log
            .then(|| TrafficLog::start(paths.logs_dir()));
        Arc::new(AppState {
            upstream: UpstreamClient::new(&config.upstream, http),
            models: ModelCatalog::new(
                Duration::from_secs(config.models.cache_ttl_seconds),
                config.models.extra_models.clone(),
            ),
            usage: Mutex::new(crate::status::read_usage(&paths.usage_file())),
            usage_changed: tokio::sync::Notify::new(),
            counters: Counters::default(),
            relay,
            store,
            guard,
            credentials,
            files,
            recent_items: RecentItems::new(RecentItems::DEFAULT_CAPACITY_BYTES),
            traffic,
            connections: super::listener::Connections::new(
                s.max_connections,
                s.max_connections_per_ip,
            ),
            config,
            paths,
        })
    }

    /// The base URL clients use (`http://127.0.0.1:8080/v1`).
    pub(crate) fn base_url(&self) -> &str {
        &self.relay.base_url
    }

    /// Records the latest upstream usage snapshot (persisted in the background).
    pub(crate) fn record_usage(&self, snapshot: UsageSnapshot) {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        self.usage_changed.notify_one();
    }
}
