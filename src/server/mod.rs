//! The HTTP server: listener and lifecycle, the request guard, one module per
//! route family, and the error envelope.
//!
//! A request flows: accept ([`listener`]: connection caps and deadlines) → [`guard`] (Host, Origin/CORS, ban, bearer, bucket,
//! concurrency) → [`routes`] → (translate → [`relay`] → upstream → translate) →
//! response. Every response carries `x-request-id`, and one log line is written
//! per request.

pub(crate) mod accounts;
pub(crate) mod body;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod expansion;
pub(crate) mod guard;
pub(crate) mod limits;
pub(crate) mod listener;
pub(crate) mod log_file;
pub(crate) mod log_writer;
pub(crate) mod recent_items;
pub(crate) mod recent_models;
pub(crate) mod relay;
pub(crate) mod routes;
mod state;
pub(crate) mod stored;
mod tokenizer;
pub(crate) mod traffic;
pub(crate) mod usage;
pub(crate) mod usage_file;
mod workers;

pub(crate) use state::{AppParts, AppState};
pub(crate) use state::{CountGuard, Counter};

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;
use body::Body;
pub(crate) use listener::Listener;

/// How long a client may take to send its request headers.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The model id chosen for a request, for the log line.
#[derive(Clone)]
pub(crate) struct LoggedModel(pub String);

fn request_id() -> String {
    let n: u128 = rand::random();
    format!("req_{:032x}", n)
}

/// Serves connections on the relay's listener (and on the `ollama.listen` one
/// when given) until `shutdown` fires, then lets open requests finish for
/// `server.shutdown_grace_seconds`. The background tasks it starts stop on the
/// same signal.
pub(crate) async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    ollama: Option<TcpListener>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    // Before the first request: which account issued the reasoning of earlier runs.
    let origins = Arc::clone(&state.accounts.origins);
    accounts::origins::restore(&origins, state.store.as_ref()).await;
    let origins_persister = tokio::spawn(accounts::origins::persist_loop(
        Arc::clone(&origins),
        state.store.clone(),
        shutdown.clone(),
    ));
    let sweeper = tokio::spawn(sweep_limits(Arc::clone(&state), shutdown.clone()));
    let persister = tokio::spawn(usage_file::persist_loop(
        Arc::clone(&state.usage),
        state.paths.usage_file(),
        shutdown.clone(),
    ));
    let traffic = tokio::spawn(stop_traffic_log(Arc::clone(&state), shutdown.clone()));
    let poller = tokio::spawn(usage::poll_loop(Arc::clone(&state), shutdown.clone()));
    let retention = tokio::spawn(wake_state_store(Arc::clone(&state), shutdown.clone()));
    let rescan = tokio::spawn(accounts::rescan_loop(Arc::clone(&state), shutdown.clone()));
    let grace = Duration::from_secs(state.config.server.shutdown_grace_seconds);
    let workers = Arc::new(workers::Workers::start(
        workers::default_count(),
        &state.config.upstream,
    )?);
    let second = ollama.map(|l| {
        let loop_ = listener::accept_loop(
            Arc::clone(&state),
            l,
            Listener::Ollama,
            Arc::clone(&workers),
            shutdown.clone(),
            grace,
        );
        tokio::spawn(loop_)
    });
    listener::accept_loop(
        Arc::clone(&state),
        listener,
        Listener::Main,
        Arc::clone(&workers),
        shutdown,
        grace,
    )
    .await;
    if let Some(second) = second {
        let _ = second.await;
    }
    let _ = tokio::join!(
        sweeper,
        persister,
        traffic,
        poller,
        retention,
        rescan,
        origins_persister
    );
    write_usage(&state);
    // What the last requests learned goes to the writer, which `serve` waits for.
    if let Some(store) = &state.store {
        origins.flush(store);
    }
    Ok(())
}

/// Ends the traffic log's writer thread on shutdown.
async fn stop_traffic_log(state: Arc<AppState>, shutdown: Shutdown) {
    if let Some(t) = &state.traffic {
        t.stop_on(shutdown).await;
    }
}

/// Wakes the state store's writer every minute, so retention runs on an idle
/// relay too (docs/architecture.md, "The state store").
async fn wake_state_store(state: Arc<AppState>, mut shutdown: Shutdown) {
    let Some(store) = state.store.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => { let _ = store.barrier().await; }
            _ = shutdown.fired() => return,
        }
    }
}

/// Forgets idle per-IP state every 30 s.
async fn sweep_limits(state: Arc<AppState>, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = tick.tick() => state.guard.limits.sweep(),
            _ = shutdown.fired() => return,
        }
    }
}

/// Saves the usage snapshot of every account once more (after the last request).
fn write_usage(state: &AppState) {
    usage_file::save(&state.usage, &state.paths.usage_file());
    for account in state.accounts.all().iter() {
        if !Arc::ptr_eq(&account.usage, &state.usage) {
            usage_file::save(&account.usage, &account.usage_file);
        }
    }
}

fn client_ip(peer: SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    which: Listener,
    ticket: &listener::Ticket,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    // A connection that completes a request with the right token (or any request
    // when the token is off, on this listener) leaves the untrusted half of the
    // connection cap.
    let authenticated = !state.guard.require_auth
        || (which == Listener::Ollama && !state.config.ollama.require_token)
        || state
            .guard
            .verifier
            .check(
                req.headers()
                    .get(http::header::AUTHORIZATION)
                    .map(|v| v.as_bytes()),
            )
            .is_ok();
    let id = request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let ip = client_ip(peer);
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut resp = routes::route(&state, ip, which, req).await;
    if authenticated {
        ticket.mark_trusted();
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        // Anthropic's SDKs read `request-id`, OpenAI's `x-request-id`.
        resp.headers_mut().insert("request-id", v.clone());
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
