//! The optional JSONL traffic log (`logging.traffic_log`): one line per request
//! with what happened, written off the request path by a background task through
//! a bounded queue (lines are dropped, never waited for, when the disk is slow).
//! It records no bodies and no headers, so no credential can reach it.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use serde_json::json;

use crate::shutdown::Shutdown;

const QUEUE: usize = 1024;

/// How often the writer thread looks at the shutdown flag while idle.
const POLL: Duration = Duration::from_millis(250);

/// The traffic log's queue. Recording never waits: a full queue drops the line
/// and counts it (`live.traffic_log_lines_dropped`).
pub(crate) struct TrafficLog {
    tx: SyncSender<String>,
    dropped: AtomicU64,
    stop: Arc<AtomicBool>,
}

/// One request, as the traffic log records it.
pub(crate) struct Entry<'a> {
    pub(crate) id: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    pub(crate) model: Option<&'a str>,
    pub(crate) latency: Duration,
    pub(crate) ip: IpAddr,
}

fn open_log(dir: &Path) -> Option<std::fs::File> {
    if let Err(e) = crate::fsio::ensure_private_dir(dir) {
        tracing::warn!("traffic log disabled: {e}");
        return None;
    }
    let path = dir.join("traffic.jsonl");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never append through a link planted in the data dir.
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = match options.open(&path) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("traffic log disabled: cannot open {}: {e}", path.display());
            return None;
        }
    };
    // A log left readable by an older version or by hand is made private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = file.set_permissions(std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(
                "traffic log disabled: cannot make {} private: {e}",
                path.display()
            );
            return None;
        }
    }
    Some(file)
}

/// The writer thread: its blocking writes happen here, never on a runtime
/// worker. Ends when the queue closes or the relay shuts down (after writing
/// what is already queued).
fn write_lines(dir: PathBuf, rx: Receiver<String>, stop: Arc<AtomicBool>) {
    let Some(mut file) = open_log(&dir) else {
        return;
    };
    loop {
        match rx.recv_timeout(POLL) {
            Ok(line) => {
                if file.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => {
                while let Ok(line) = rx.try_recv() {
                    let _ = file.write_all(line.as_bytes());
                }
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

impl TrafficLog {
    /// Starts the writer thread for `dir/traffic.jsonl`.
    pub(crate) fn start(dir: PathBuf) -> TrafficLog {
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("airelays-traffic".into())
            .spawn(move || write_lines(dir, rx, flag));
        if let Err(e) = spawned {
            tracing::warn!("traffic log disabled: cannot start its writer: {e}");
        }
        TrafficLog {
            tx,
            dropped: AtomicU64::new(0),
            stop,
        }
    }

    /// Ends the writer thread once `shutdown` fires.
    pub(crate) async fn stop_on(&self, mut shutdown: Shutdown) {
        shutdown.fired().await;
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Lines dropped because the queue was full (the disk was slower than the
    /// requests) or the writer had stopped.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues one line; never waits.
    pub(crate) fn record(&self, e: Entry<'_>) {
        let path = e.path.split('?').next().unwrap_or(e.path);
        let mut line = json!({
            "ts": crate::upstream::usage::now_rfc3339(),
            "id": e.id,
            "method": e.method,
            "path": path,
            "status": e.status,
            "model": e.model,
            "latency_ms": (e.latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            "client_ip": e.ip.to_string(),
        })
        .to_string();
        line.push('\n');
        if self.tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            id: "req_1",
            method: "GET",
            path: "/v1/models?secret=1",
            status: 200,
            model: None,
            latency: Duration::from_millis(3),
            ip: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn recording_never_waits_and_counts_what_it_drops() {
        // A data dir that cannot be created: the writer stops at once, so every
        // line beyond the queue (or all of them, once it has gone) is dropped.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let log = TrafficLog::start(file.join("logs"));
        for _ in 0..2 * QUEUE {
            log.record(entry());
        }
        assert!(log.dropped() >= QUEUE as u64, "{}", log.dropped());
    }

    #[test]
    fn lines_reach_the_file_without_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let log = TrafficLog::start(dir.path().join("logs"));
        log.record(entry());
        log.stop.store(true, Ordering::Relaxed);
        let path = dir.path().join("logs/traffic.jsonl");
        // Bounded: the writer drains the queue and ends within a few polls.
        let mut text = String::new();
        for _ in 0..400 {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("req_1") {
                break;
            }
            std::thread::sleep(POLL / 10);
        }
        assert!(text.contains("\"path\":\"/v1/models\""), "{text}");
        assert_eq!(log.dropped(), 0);
    }
}
