//! The optional JSONL traffic log (`logging.traffic_log`): one line per request
//! with what happened, written off the request path by a background task through
//! a bounded queue (lines are dropped, never waited for, when the disk is slow).
//! It records no bodies and no headers, so no credential can reach it.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

const QUEUE: usize = 1024;

pub struct TrafficLog {
    tx: mpsc::Sender<String>,
}

pub struct Entry<'a> {
    pub id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub model: Option<&'a str>,
    pub latency: Duration,
    pub ip: IpAddr,
}

impl TrafficLog {
    pub fn start(dir: PathBuf) -> TrafficLog {
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = crate::fsio::ensure_private_dir(&dir) {
                tracing::warn!("traffic log disabled: {e}");
                return;
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
            let mut file = match options.open(&path) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!("traffic log disabled: cannot open {}: {e}", path.display());
                    return;
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
                    return;
                }
            }
            while let Some(line) = rx.blocking_recv() {
                if file.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
        });
        TrafficLog { tx }
    }

    pub fn record(&self, e: Entry<'_>) {
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
        let _ = self.tx.try_send(line);
    }
}
