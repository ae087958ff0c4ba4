//! What every request handler shares: the configuration, the guard, the upstream
//! client, the credential session, the stores, and the live counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::accounts::{Router, RouterParts};
use super::guard::Guard;
use super::limits::{IpLimits, LimitSettings};
use super::recent_items::RecentItems;
use super::recent_models::RecentModels;
use super::traffic::TrafficLog;
use super::usage::PlanUsage;
use crate::auth::session::CredentialSession;
use crate::config::{Config, Paths};
use crate::files::FileStore;
use crate::state::StateStore;
use crate::status::RelayStateFile;
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
    /// `serve --ignore-usage-guard`.
    pub(crate) ignore_usage_guard: bool,
}

/// Everything the request handlers share.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) paths: Paths,
    pub(crate) guard: Guard,
    pub(crate) upstream: UpstreamClient,
    pub(crate) credentials: CredentialSession,
    /// The signed-in accounts (the `default` one is [`AppState::credentials`]).
    pub(crate) accounts: Router,
    pub(crate) models: ModelCatalog,
    pub(crate) files: FileStore,
    /// Output items of recent responses, for clients that send `item_reference`s.
    pub(crate) recent_items: RecentItems,
    /// The models Ollama clients used recently, for `/api/ps`.
    pub(crate) recent_models: RecentModels,
    pub(crate) counters: Counters,
    /// The plan's usage of the `default` account: snapshot, answer headers,
    /// warning and quota guard (each other account has its own, in `accounts`).
    pub(crate) usage: Arc<PlanUsage>,
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
            ignore_usage_guard,
        } = parts;
        let s = &config.security;
        let guard = Guard {
            allowed_hosts: s.allowed_hosts.clone(),
            allowed_origins: s.allowed_origins.clone(),
            listen_hosts: std::iter::once(config.server.host.clone())
                .chain(config.ollama.listen.clone())
                .collect(),
            require_auth: s.require_bearer_auth,
            verifier,
            limits: IpLimits::new(LimitSettings::from(s)),
            per_minute: s.rate_limit_per_minute,
            concurrent: s.concurrent_requests_per_ip,
        };
        let traffic = config
            .logging
            .traffic_log
            .then(|| TrafficLog::start(paths.logs_dir(), config.logging.traffic_retention_days));
        let usage = Arc::new(PlanUsage::new(
            &config.usage,
            crate::status::read_usage(&paths.usage_file()),
            ignore_usage_guard,
        ));
        let accounts = Router::new(
            config.clone(),
            RouterParts {
                paths: paths.clone(),
                http: http.clone(),
                default: credentials.clone(),
                default_usage: Arc::clone(&usage),
                ignore_usage_guard,
            },
        );
        Arc::new(AppState {
            accounts,
            upstream: UpstreamClient::new(&config.upstream, http),
            models: ModelCatalog::new(
                Duration::from_secs(config.models.cache_ttl_seconds),
                config.models.extra_models.clone(),
            ),
            usage,
            counters: Counters::default(),
            relay,
            store,
            guard,
            credentials,
            files,
            recent_items: RecentItems::new(RecentItems::DEFAULT_CAPACITY_BYTES),
            recent_models: RecentModels::default(),
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
}
