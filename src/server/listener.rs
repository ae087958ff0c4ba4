//! The accept loop and each connection's lifetime (docs/security.md,
//! "Connections"):
//! - at most `security.max_connections` open at once, of which connections that
//!   have not yet completed one authenticated request hold at most half; off
//!   loopback at most `security.max_connections_per_ip` per client;
//! - the first request's headers must arrive within [`FIRST_REQUEST_TIMEOUT`]
//!   (the protocol sniff included: a socket that sends `P` and stops, or an
//!   HTTP/2 preface without a stream, is closed);
//! - a connection with no request open for [`IDLE_TIMEOUT`] is closed
//!   (HTTP/1 keep-alive and HTTP/2 alike), and HTTP/2 connections are pinged;
//! - on shutdown every connection is closed gracefully.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::body::Body;
use super::limits::{is_loopback_ip, limit_key};
use super::workers::Workers;
use super::{AppState, HEADER_READ_TIMEOUT};
use crate::shutdown::Shutdown;

/// How long a new connection may take to send its first request's headers.
pub(crate) const FIRST_REQUEST_TIMEOUT: Duration = HEADER_READ_TIMEOUT;

/// How long a connection may stay open with no request in progress (HTTP/1
/// keep-alive, where hyper's header timeout closes it too, and HTTP/2 without an
/// open stream).
pub(crate) const IDLE_TIMEOUT: Duration = HEADER_READ_TIMEOUT;

/// HTTP/2 keep-alive: a ping after this long without a frame from the client…
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
/// …and the connection is closed when the ping is not answered in this time.
const H2_PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The default of `security.max_connections` (0): the file-descriptor soft limit
/// minus 128 (for the data files, the upstream and the log), at most 4,096.
pub(crate) fn default_max_connections() -> usize {
    #[cfg(unix)]
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    #[cfg(not(unix))]
    let soft = u64::MAX;
    usize::try_from(soft.saturating_sub(128).clamp(16, 4096)).unwrap_or(4096)
}

/// Which of the relay's listeners a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// `server.host:server.port`: every route.
    Main,
    /// `ollama.listen`: `/`, `/healthz`, `/api/*` and `/v1/*`, for apps that
    /// hard-code Ollama's address.
    Ollama,
}

#[derive(Default)]
struct Tally {
    open: usize,
    untrusted: usize,
    by_ip: HashMap<IpAddr, u32>,
}

/// The connection caps, shared by the accept loop and every connection.
pub(crate) struct Connections {
    max: usize,
    per_ip: u32,
    tally: Mutex<Tally>,
    closed: Notify,
    /// Connections refused at a cap since start.
    pub(crate) refused: AtomicUsize,
}

/// One admitted connection; gives its place back when dropped.
pub(crate) struct Ticket {
    conns: Arc<Connections>,
    ip_key: Option<IpAddr>,
    trusted: AtomicBool,
}

impl Connections {
    /// Caps from the configuration (`max` 0 = [`default_max_connections`]).
    pub(crate) fn new(max: u32, per_ip: u32) -> Arc<Connections> {
        let max = match max {
            0 => default_max_connections(),
            n => n as usize,
        };
        Arc::new(Connections {
            max,
            per_ip,
            tally: Mutex::new(Tally::default()),
            closed: Notify::new(),
            refused: AtomicUsize::new(0),
        })
    }

    /// The cap on open connections.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.lock().open
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a new connection from `ip`, or `None` at a cap.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Ticket> {
        let ip_key = (!is_loopback_ip(ip)).then(|| limit_key(ip));
        let mut t = self.lock();
        let over_ip = ip_key.is_some_and(|k| t.by_ip.get(&k).copied().unwrap_or(0) >= self.per_ip);
        // New connections are untrusted: they may hold at most half of the cap, so
        // a flood of them never takes the places of the owner's clients.
        if t.open >= self.max || t.untrusted >= self.max.div_ceil(2) || over_ip {
            drop(t);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        t.open += 1;
        t.untrusted += 1;
        if let Some(k) = ip_key {
            *t.by_ip.entry(k).or_insert(0) += 1;
        }
        Some(Ticket {
            conns: Arc::clone(self),
            ip_key,
            trusted: AtomicBool::new(false),
        })
    }

    /// Resolves once no connection is open.
    async fn all_closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Ticket {
    /// The connection completed an authenticated request: it no longer counts
    /// against the untrusted half.
    pub(crate) fn mark_trusted(&self) {
        if !self.trusted.swap(true, Ordering::Relaxed) {
            let mut t = self.conns.lock();
            t.untrusted = t.untrusted.saturating_sub(1);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut t = self.conns.lock();
        t.open = t.open.saturating_sub(1);
        if !self.trusted.load(Ordering::Relaxed) {
            t.untrusted = t.untrusted.saturating_sub(1);
        }
        if let Some(k) = self.ip_key
            && let Some(n) = t.by_ip.get_mut(&k)
        {
            *n -= 1;
            if *n == 0 {
                t.by_ip.remove(&k);
            }
        }
        drop(t);
        self.conns.closed.notify_waiters();
    }
}

/// Requests in progress on one connection, for its idle timeout.
#[derive(Default)]
struct Activity {
    open: AtomicUsize,
    started: AtomicBool,
    changed: Notify,
}

/// Holds one request open until its response body is done or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(a: &Arc<Activity>) -> InFlight {
        a.open.fetch_add(1, Ordering::Relaxed);
        a.started.store(true, Ordering::Relaxed);
        a.changed.notify_one();
        InFlight(Arc::clone(a))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0.changed.notify_one();
    }
}

/// A response body that keeps its request counted as open until it ends.
struct Tracked {
    inner: Body,
    _open: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(H2_PING_INTERVAL))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    builder
}

/// Accepts connections on `listener` (the relay's `which` listener) and serves
/// each on one of `workers`' threads until `shutdown` fires, then waits up to
/// `grace` for the open ones to finish.
pub(crate) async fn accept_loop(
    state: Arc<AppState>,
    listener: TcpListener,
    which: Listener,
    workers: Arc<Workers>,
    shutdown: Shutdown,
    grace: Duration,
) {
    let builder = builder();
    let conns = Arc::clone(&state.connections);
    let mut stop = shutdown.clone();
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
                // At a cap the socket is closed at once (dropped).
                let Some(ticket) = conns.admit(peer.ip()) else { continue };
                let _ = stream.set_nodelay(true);
                let conn = Connection {
                    state: Arc::clone(&state),
                    builder: builder.clone(),
                    peer,
                    which,
                    ticket: Arc::new(ticket),
                };
                // The connection goes to a connection thread (`workers`): its
                // socket is registered again there, on its first poll.
                let stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("cannot hand a connection over: {e}");
                        continue;
                    }
                };
                let sd = shutdown.clone();
                workers.spawn(async move {
                    match TcpStream::from_std(stream) {
                        Ok(stream) => conn.run(stream, sd).await,
                        Err(e) => tracing::warn!("cannot take a connection over: {e}"),
                    }
                });
            }
            _ = stop.fired() => break,
        }
    }
    drop(listener);
    tracing::info!(
        "shutting down; waiting up to {} s for open requests",
        grace.as_secs()
    );
    tokio::select! {
        _ = conns.all_closed() => {}
        _ = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing open connections"),
    }
}

struct Connection {
    state: Arc<AppState>,
    builder: Builder<TokioExecutor>,
    peer: SocketAddr,
    which: Listener,
    ticket: Arc<Ticket>,
}

impl Connection {
    /// Serves one connection within its deadlines.
    async fn run(self, stream: TcpStream, mut shutdown: Shutdown) {
        let activity = Arc::new(Activity::default());
        let (state, peer, which, ticket) = (self.state, self.peer, self.which, self.ticket);
        let act = Arc::clone(&activity);
        let svc = service_fn(move |req| {
            let open = InFlight::new(&act);
            let (st, ticket) = (Arc::clone(&state), Arc::clone(&ticket));
            async move {
                let resp = super::handle(st, peer, which, &ticket, req).await?;
                Ok::<_, std::convert::Infallible>(resp.map(|inner| Tracked { inner, _open: open }))
            }
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), svc);
        tokio::pin!(conn);
        let first = tokio::time::sleep(FIRST_REQUEST_TIMEOUT);
        tokio::pin!(first);
        let idle = tokio::time::sleep(IDLE_TIMEOUT);
        tokio::pin!(idle);
        let mut closing = false;
        loop {
            let started = activity.started.load(Ordering::Relaxed);
            let busy = activity.open.load(Ordering::Relaxed) > 0;
            tokio::select! {
                _ = conn.as_mut() => return,
                // No complete request head in time (a stalled sniff or preface
                // included): dropping the connection closes the socket.
                _ = &mut first, if !started => return,
                _ = &mut idle, if started && !busy && !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = activity.changed.notified() => {
                    idle.as_mut().reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
                }
                _ = shutdown.fired(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_connections_hold_at_most_half() {
        let c = Connections::new(10, 256);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let tickets: Vec<Ticket> = (0..5).map(|_| c.admit(lo).unwrap()).collect();
        assert!(c.admit(lo).is_none(), "the untrusted half is full");
        tickets[0].mark_trusted();
        tickets[0].mark_trusted();
        let more = c
            .admit(lo)
            .expect("a trusted connection freed an untrusted place");
        more.mark_trusted();
        for t in &tickets[1..] {
            t.mark_trusted();
        }
        let rest: Vec<Ticket> = (0..4).map(|_| c.admit(lo).unwrap()).collect();
        assert_eq!(c.open(), 10);
        assert!(c.admit(lo).is_none(), "the total cap");
        drop(rest);
        drop(tickets);
        drop(more);
        assert_eq!(c.open(), 0);
        assert_eq!(c.refused.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn per_ip_cap_applies_off_loopback_only() {
        let c = Connections::new(100, 2);
        let far: IpAddr = "192.0.2.7".parse().unwrap();
        let _a = c.admit(far).unwrap();
        let _b = c.admit("::ffff:192.0.2.7".parse().unwrap()).unwrap();
        assert!(c.admit(far).is_none());
        assert!(c.admit("192.0.2.8".parse().unwrap()).is_some());
        let lo: Vec<Ticket> = (0..5)
            .map(|_| c.admit("127.0.0.1".parse().unwrap()).unwrap())
            .collect();
        assert_eq!(lo.len(), 5);
    }

    #[test]
    fn the_default_cap_follows_the_descriptor_limit() {
        let n = default_max_connections();
        assert!((16..=4096).contains(&n), "{n}");
    }
}
