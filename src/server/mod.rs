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
pub mod log_writer;
pub mod recent_items;
pub mod relay;
pub mod routes;
mod state;
pub mod traffic;

pub use state::{AppParts, AppState};
pub(crate) use state::{CountGuard, Counter};

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;
use body::Body;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The model id chosen for a request, for the log line.
#[derive(Clone)]
pub struct LoggedModel(pub String);

fn request_id() -> String {
    let n: u128 = rand::random();
    format!("req_{:032x}", n)
}

/// Serves connections until `shutdown` fires, then lets open requests finish
/// for `server.shutdown_grace_seconds`. The background tasks it starts stop on
/// the same signal.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let sweeper = tokio::spawn(sweep_limits(Arc::clone(&state), shutdown.clone()));
    let persister = tokio::spawn(persist_usage(Arc::clone(&state), shutdown.clone()));
    let traffic = tokio::spawn(stop_traffic_log(Arc::clone(&state), shutdown.clone()));
    let mut stop = shutdown;

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
            _ = stop.fired() => break,
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
    let _ = tokio::join!(sweeper, persister, traffic);
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

/// Ends the traffic log's writer thread on shutdown.
async fn stop_traffic_log(state: Arc<AppState>, shutdown: Shutdown) {
    if let Some(t) = &state.traffic {
        t.stop_on(shutdown).await;
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

/// Saves the usage snapshot when it changes, at most every two seconds, off the
/// request path. The last snapshot is saved once more after shutdown.
async fn persist_usage(state: Arc<AppState>, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = state.usage_changed.notified() => {}
            _ = shutdown.fired() => return,
        }
        let st = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || write_usage(&st)).await;
        // At most one write every two seconds, whatever the request rate.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.fired() => return,
        }
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
