//! Connection threads (docs/architecture.md, "Threads"): one single-threaded
//! tokio runtime per core (at most four), each serving the connections handed to it from
//! accept to close. Everything one request does — the client's connection, the
//! stream pump, the upstream connection (each thread has its own upstream
//! client and pool, [`crate::http::thread_client`]) — runs on one thread, so no
//! wake-up crosses threads on the request path (docs/benchmarks.md,
//! "Connection threads").
//!
//! A new connection goes to the thread serving the fewest. The accept loops and
//! the background tasks stay on the main runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::config::UpstreamConfig;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One connection thread: where to send it work, and how many connections it
/// serves now.
struct Lane {
    jobs: mpsc::UnboundedSender<Job>,
    open: Arc<AtomicUsize>,
}

/// The connection threads. Dropping this lets each thread finish: it stops
/// when its queue is closed, and what it still serves is dropped with its
/// runtime.
pub(crate) struct Workers {
    lanes: Vec<Lane>,
}

/// Gives a lane's place back when its connection ends.
struct Seat(Arc<AtomicUsize>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The most connection threads. Each keeps its own upstream connections (and,
/// against the real backend, pays its own TLS handshakes), and the few clients
/// of a laptop never need more.
const MAX_THREADS: usize = 4;

/// How many connection threads: one per core the process may use, at most
/// [`MAX_THREADS`].
pub(crate) fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

impl Workers {
    /// Starts `count` connection threads (at least one), each with its own
    /// upstream client built from `upstream` when first needed.
    pub(crate) fn start(count: usize, upstream: &UpstreamConfig) -> std::io::Result<Workers> {
        let mut lanes = Vec::with_capacity(count.max(1));
        for i in 0..count.max(1) {
            // Unbounded, but each job is a connection already admitted under
            // `security.max_connections`, which bounds it.
            let (jobs, queue) = mpsc::unbounded_channel();
            let upstream = upstream.clone();
            std::thread::Builder::new()
                .name(format!("airelays-conn-{i}"))
                .spawn(move || run_lane(queue, upstream))?;
            lanes.push(Lane {
                jobs,
                open: Arc::new(AtomicUsize::new(0)),
            });
        }
        Ok(Workers { lanes })
    }

    /// Runs `job` (one connection, to its end) on the thread serving the fewest
    /// connections. The job is polled first on that thread, so sockets it
    /// registers belong to that thread's runtime.
    pub(crate) fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        let lane = self
            .lanes
            .iter()
            .min_by_key(|l| l.open.load(Ordering::Relaxed))
            .expect("at least one lane");
        lane.open.fetch_add(1, Ordering::Relaxed);
        let seat = Seat(Arc::clone(&lane.open));
        let job = Box::pin(async move {
            let _seat = seat;
            job.await;
        });
        if let Err(mpsc::error::SendError(job)) = lane.jobs.send(job) {
            // The thread is gone (it failed to start its runtime): serve here.
            tokio::spawn(job);
        }
    }
}

/// A connection thread: a current-thread runtime that spawns every job it is
/// given until its queue closes.
fn run_lane(mut queue: mpsc::UnboundedReceiver<Job>, upstream: UpstreamConfig) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start a connection thread's runtime: {e}");
            return;
        }
    };
    crate::http::give_thread_a_client(upstream);
    runtime.block_on(async move {
        while let Some(job) = queue.recv().await {
            tokio::spawn(job);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_go_to_the_thread_serving_the_fewest_and_run_there() {
        let paths = crate::config::Paths {
            config_file: "/tmp/airelays-workers/config.toml".into(),
            data_dir: "/tmp/airelays-workers/data".into(),
        };
        let upstream = crate::config::Config::defaults(&paths).upstream;
        let workers = Workers::start(2, &upstream).unwrap();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        for _ in 0..4 {
            let done = done_tx.clone();
            let mut release = release_rx.clone();
            workers.spawn(async move {
                let name = std::thread::current().name().map(str::to_owned);
                // The first ask starts the thread's own client; the shared one
                // serves until it is built.
                let _ = crate::http::thread_client();
                let built = crate::http::thread_client_built().await;
                let has_client = built && crate::http::thread_client().is_some();
                let _ = done.send((name, has_client));
                let _ = release.wait_for(|r| *r).await;
            });
        }
        let mut names = Vec::new();
        for _ in 0..4 {
            let (name, has_client) = done_rx.recv().await.unwrap();
            assert!(
                has_client,
                "each connection thread builds its upstream client on first use"
            );
            names.push(name.unwrap());
        }
        names.sort();
        assert_eq!(
            names,
            [
                "airelays-conn-0",
                "airelays-conn-0",
                "airelays-conn-1",
                "airelays-conn-1"
            ]
        );
        let open: Vec<usize> = workers
            .lanes
            .iter()
            .map(|l| l.open.load(Ordering::Relaxed))
            .collect();
        assert_eq!(open, [2, 2]);
        release_tx.send(true).unwrap();
        // Each seat is given back when its connection ends (on the connection
        // thread, so this thread waits for it; the bound only ends a failing run).
        let given_back = async {
            while workers
                .lanes
                .iter()
                .any(|l| l.open.load(Ordering::Relaxed) != 0)
            {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), given_back)
            .await
            .expect("every seat is given back");
        assert!(
            crate::http::thread_client().is_none(),
            "the test's own thread has none"
        );
    }
}
