//! Picking up a `login` or `logout` made in another terminal: the credential files'
//! metadata is watched (never their content) and the store re-read when it changes.

use super::{CredentialSession, Loaded, WATCH_INTERVAL};
use crate::config::Paths;

impl CredentialSession {
    /// Watches the credential files' metadata (no reads) and reloads the store when
    /// they change, so a `login` or `logout` from another terminal is picked up within
    /// about two seconds. The task ends when `shutdown` fires.
    pub fn spawn_watcher(
        &self,
        mut shutdown: crate::shutdown::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let session = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(WATCH_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last: Option<FilesSignature> = None;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.fired() => return,
                }
                let now = FilesSignature::of(&session.inner.paths);
                let changed = last.as_ref().is_some_and(|l| *l != now);
                last = Some(now);
                if changed
                    && !matches!(session.snapshot(), Loaded::NotYet)
                    && let Err(e) = session.reload().await
                {
                    tracing::warn!("could not reload the ChatGPT credentials: {e}");
                    // Look again on the next tick.
                    last = None;
                }
            }
        })
    }
}

/// Metadata of `auth.json` and `credentials.json` (size, mtime, inode).
#[derive(Debug, PartialEq, Eq)]
struct FilesSignature(Vec<Option<(u64, Option<std::time::SystemTime>, u64)>>);

impl FilesSignature {
    fn of(paths: &Paths) -> FilesSignature {
        let one = |p: std::path::PathBuf| {
            std::fs::symlink_metadata(p).ok().map(|m| {
                #[cfg(unix)]
                let ino = std::os::unix::fs::MetadataExt::ino(&m);
                #[cfg(not(unix))]
                let ino = 0;
                (m.len(), m.modified().ok(), ino)
            })
        };
        FilesSignature(vec![
            one(paths.auth_file()),
            one(paths.credentials_index_file()),
        ])
    }
}
