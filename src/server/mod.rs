//! The HTTP server: listener and lifecycle, the request guard, one module per
//! route family, and the error envelope.
//!
//! A request flows: accept → [`guard`] (Host, Origin/CORS, ban, bearer, bucket,
//! concurrency) → [`routes`] → (translate → [`relay`] → upstream → translate) →
//! response. Every response carries `x-request-id`, and one log line is written
//! per request.

pub mod body;
pub mod error;
pub mod guard;
pub mod limits;
pub mod recent_items;
pub mod relay;
pub mod routes;
pub mod traffic;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::auth::session::CredentialSession;
use crate::config::{Config, Paths};
use crate::status::{RelayStateFile, UsageSnapshot};
use crate::token::TokenVerifier;
use crate::upstream::UpstreamClient;
use crate::upstream::models::ModelCatalog;
use body::Body;
use guard::Guard;
use limits::{IpLimits, LimitSettings};

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Live counters shown by `/v1/relay/status`.
#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub active_streams: AtomicU64,
    pub upstream_in_flight: AtomicU64,
}

/// Decrements a counter when dropped (so a cancelled request still counts down).
pub struct CountGuard(&'static str, Arc<AppState>);

impl CountGuard {
    pub fn new(state: &Arc<AppState>, which: &'static str) -> CountGuard {
        state.counter(which).fetch_add(1, Ordering::Relaxed);
        CountGuard(which, Arc::clone(state))
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.1.counter(self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

/// Everything the request handlers share.
pub struct AppState {
    pub config: Config,
    pub paths: Paths,
    pub guard: Guard,
    pub upstream: UpstreamClient,
    pub credentials: CredentialSession,
    pub models: ModelCatalog,
    pub files: crate::files::FileStore,
    /// Output items of recent responses, for clients that send `item_reference`s.
    pub recent_items: recent_items::RecentItems,
    pub counters: Counters,
    pub usage: Mutex<Option<UsageSnapshot>>,
    pub usage_changed: tokio::sync::Notify,
    pub traffic: Option<traffic::TrafficLog>,
    pub relay: Mutex<Option<RelayStateFile>>,
    pub base_url: Mutex<String>,
}

impl AppState {
    pub fn new(
        config: Config,
        paths: Paths,
        verifier: TokenVerifier,
        credentials: CredentialSession,
        http: reqwest::Client,
        files: crate::files::FileStore,
    ) -> Arc<AppState> {
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
            .then(|| traffic::TrafficLog::start(paths.logs_dir()));
        Arc::new(AppState {
            upstream: UpstreamClient::new(&config.upstream, http),
            models: ModelCatalog::new(
                Duration::from_secs(config.models.cache_ttl_seconds),
                config.models.extra_models.clone(),
            ),
            usage: Mutex::new(crate::status::read_usage(&paths.usage_file())),
            usage_changed: tokio::sync::Notify::new(),
            counters: Counters::default(),
            relay: Mutex::new(None),
            base_url: Mutex::new(String::new()),
            guard,
            credentials,
            files,
            recent_items: recent_items::RecentItems::new(
                recent_items::RecentItems::DEFAULT_CAPACITY_BYTES,
            ),
            traffic,
            config,
            paths,
        })
    }

    fn counter(&self, which: &str) -> &AtomicU64 {
        match which {
            "active_streams" => &self.counters.active_streams,
            "upstream_in_flight" => &self.counters.upstream_in_flight,
            _ => &self.counters.requests,
        }
    }

    pub fn base_url(&self) -> String {
        self.base_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records the latest upstream usage snapshot (persisted in the background).
    pub fn record_usage(&self, snapshot: UsageSnapshot) {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        self.usage_changed.notify_one();
    }
}

/// The model id chosen for a request, for the log line.
#[derive(Clone)]
pub struct LoggedModel(pub String);

fn request_id() -> String {
    let n: u128 = rand::random();
    format!("req_{:032x}", n)
}

/// Serves connections until `shutdown` resolves, then lets open requests finish
/// for `server.shutdown_grace_seconds`.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);

    let sweeper = {
        let limits = Arc::clone(&state.guard.limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                limits.sweep();
            }
        })
    };
    let persister = tokio::spawn(persist_usage(Arc::clone(&state)));

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let st = Arc::clone(&state);
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // hyper's header timeout starts with the first byte of a request:
                    // a client that connects and sends nothing would keep its socket
                    // (and a file descriptor) forever.
                    if !first_byte_within(&stream, HEADER_READ_TIMEOUT).await {
                        return;
                    }
                    let svc = service_fn(move |req| handle(Arc::clone(&st), peer, req));
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn.into_owned()).await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let grace = Duration::from_secs(state.config.server.shutdown_grace_seconds);
    tracing::info!(
        "shutting down; waiting up to {} s for open requests",
        grace.as_secs()
    );
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing open connections"),
    }
    sweeper.abort();
    persister.abort();
    write_usage(&state);
    Ok(())
}

/// Waits until the client has sent something (or closed); false after `limit`.
async fn first_byte_within(stream: &tokio::net::TcpStream, limit: Duration) -> bool {
    let mut probe = [0u8; 1];
    matches!(
        tokio::time::timeout(limit, stream.peek(&mut probe)).await,
        Ok(Ok(n)) if n > 0
    )
}

async fn persist_usage(state: Arc<AppState>) {
    loop {
        state.usage_changed.notified().await;
        let st = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || write_usage(&st)).await;
        // At most one write every two seconds, whatever the request rate.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn write_usage(state: &AppState) {
    let snapshot = state
        .usage
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let Some(s) = snapshot
        && let Ok(bytes) = serde_json::to_vec_pretty(&s)
        && let Err(e) = crate::fsio::write_private_atomic(&state.paths.usage_file(), &bytes)
    {
        tracing::warn!("could not save the usage snapshot: {e}");
    }
}

fn client_ip(peer: SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let id = request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let ip = client_ip(peer);
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut resp = routes::route(&state, ip, req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let model = resp.extensions().get::<LoggedModel>().map(|m| m.0.clone());
    let latency = started.elapsed();
    tracing::info!(
        target: "airelays::request",
        "{method} {path} {} model={} {:.1}ms ip={ip} id={id}",
        resp.status().as_u16(),
        model.as_deref().unwrap_or("-"),
        latency.as_secs_f64() * 1000.0,
    );
    if let Some(t) = &state.traffic {
        t.record(traffic::Entry {
            id: &id,
            method: method.as_str(),
            path: &path,
            status: resp.status().as_u16(),
            model: model.as_deref(),
            latency,
            ip,
        });
    }
    Ok(resp)
}
