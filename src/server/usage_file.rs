//! Each account's plan usage saved for `airelays status` and `airelays accounts`,
//! which never read the network (docs/architecture.md, "Plan usage"): the
//! `default` account's in `<data_dir>/usage.json` as always, every other
//! account's in `<data_dir>/accounts/<name>/usage.json`. Written off the request
//! path when the snapshot changes, at most every two seconds, atomically and 0600.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::usage::PlanUsage;
use crate::shutdown::Shutdown;

/// The shortest time between two writes of one account's file.
const EVERY: Duration = Duration::from_secs(2);

/// Saves `usage` to `file` whenever it changes, at most every two seconds, until
/// `shutdown` fires (`serve` saves every account once more after the last request).
pub(crate) async fn persist_loop(usage: Arc<PlanUsage>, file: PathBuf, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = usage.changed.notified() => {}
            _ = shutdown.fired() => return,
        }
        let (u, f) = (Arc::clone(&usage), file.clone());
        let _ = tokio::task::spawn_blocking(move || save(&u, &f)).await;
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.fired() => return,
        }
    }
}

/// Reads the snapshot an earlier run saved to `file` (on a blocking thread) into
/// `usage`, unless a fresher one arrived meanwhile.
pub(crate) async fn restore(usage: &PlanUsage, file: PathBuf) {
    let read = tokio::task::spawn_blocking(move || crate::status::read_usage(&file)).await;
    if let Ok(Some(saved)) = read {
        usage.restore(saved);
    }
}

/// Writes the snapshot, if there is one. Blocking. Nothing is written into a
/// directory that is gone (an account removed while the relay runs).
pub(crate) fn save(usage: &PlanUsage, file: &Path) {
    if !file.parent().is_some_and(Path::is_dir) {
        return;
    }
    if let Some(s) = usage.snapshot()
        && let Ok(bytes) = serde_json::to_vec_pretty(&s)
        && let Err(e) = crate::fsio::write_private_atomic(file, &bytes)
    {
        tracing::warn!("could not save the usage snapshot {}: {e}", file.display());
    }
}
