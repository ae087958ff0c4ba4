//! The cleanup journal (docs/auth.md, "Crash safety"): before a save or delete touches
//! keychain entries it records the generations it may leave behind; whoever holds
//! `refresh.lock` next deletes those `credentials.json` does not point at.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::keychain::off_thread;
use super::{
    CredentialStore, FORMAT_VERSION, IndexDoc, KEYCHAIN_TIMEOUT, StoreError, entry_user, io_error,
    read_index,
};
use crate::fsio;

/// The cleanup journal in the data directory (no secrets: generation ids and counts).
const JOURNAL_FILE: &str = "credentials.pending.json";

/// `credentials.pending.json`: keychain generations a save or delete is working on.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    version: u32,
    generations: Vec<Generation>,
}

/// One generation of keychain entries: `credentials.<generation>.<0..chunks>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Generation {
    generation: String,
    chunks: u32,
}

impl Generation {
    pub(super) fn of(index: &IndexDoc) -> Generation {
        Generation {
            generation: index.generation.clone(),
            chunks: index.chunks,
        }
    }
}

impl CredentialStore {
    /// Whether a save or delete left keychain entries to clean up (one `stat`).
    pub(crate) fn has_orphans(&self) -> bool {
        self.journal_file().exists()
    }

    /// Deletes the keychain entries of every generation in the journal that
    /// `credentials.json` does not point at — the leftovers of a save or delete that died
    /// before it finished — then removes the journal. Best effort: when the keychain
    /// refuses, the journal stays for the next try. The caller holds `refresh.lock`.
    pub(crate) async fn clean_orphans(&self) {
        let path = self.journal_file();
        let Ok(Some(bytes)) = fsio::read_private(&path) else {
            return;
        };
        let Ok(journal) = serde_json::from_slice::<Journal>(&bytes) else {
            let _ = fsio::remove_if_exists(&path);
            return;
        };
        let current = read_index(&self.paths).ok().flatten().map(|i| i.generation);
        let orphans: Vec<Generation> = journal
            .generations
            .into_iter()
            .filter(|g| Some(&g.generation) != current.as_ref())
            .collect();
        if self.delete_generations(orphans).await {
            let _ = fsio::remove_if_exists(&path);
        }
    }

    fn journal_file(&self) -> PathBuf {
        self.paths.data_dir.join(JOURNAL_FILE)
    }

    /// Adds `generations` to the journal (keeping what an earlier cleanup could not do).
    pub(super) fn write_journal(&self, generations: &[Generation]) -> Result<(), StoreError> {
        let path = self.journal_file();
        let mut doc = fsio::read_private(&path)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Journal>(&b).ok())
            .unwrap_or(Journal {
                version: FORMAT_VERSION,
                generations: Vec::new(),
            });
        for g in generations {
            if !doc.generations.iter().any(|o| o.generation == g.generation) {
                doc.generations.push(g.clone());
            }
        }
        let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| StoreError::Io {
            action: "encode",
            path: path.clone(),
            reason: e.to_string(),
        })?;
        fsio::write_private_atomic(&path, &bytes).map_err(|e| io_error("write", &path, e))
    }

    /// Deletes the entries of `generations`; false when the keychain refused any.
    async fn delete_generations(&self, generations: Vec<Generation>) -> bool {
        if generations.is_empty() {
            return true;
        }
        let backend = Arc::clone(&self.backend);
        let users: Vec<String> = generations
            .iter()
            .flat_map(|g| (0..g.chunks.min(64)).map(|i| entry_user(&g.generation, i)))
            .collect();
        let outcome = off_thread(KEYCHAIN_TIMEOUT, move || {
            users.iter().try_for_each(|u| backend.delete(u))
        })
        .await
        .and_then(|r| r);
        match outcome {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "could not delete old credential entries from the OS keychain (retried on the next save): {}",
                    e.message
                );
                false
            }
        }
    }
}
