//! Keeping a rotated credential set safe when its store refuses it (docs/auth.md, "When
//! keychain saves fail"): `auto` falls back to the 0600 file, `keychain` keeps the set
//! in memory unused; either way a background retry with backoff saves it later.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::{
    CredentialSession, Current, Inner, Loaded, SAVE_RETRY_FIRST, SAVE_RETRY_MAX, SessionError,
};
use crate::auth::store::{StoreError, StoreKind};
use crate::config::CredentialStoreKind;

impl CredentialSession {
    /// Saves `next` to its store. When the keychain refuses it, `auto` keeps a 0600 file
    /// copy (usable at once); otherwise the set stays unsaved and unused. Either way a
    /// background retry moves it to its store later.
    pub(super) async fn persist(&self, next: &mut Current) -> Result<(), SessionError> {
        let e = match self.inner.store.save(&next.creds, next.kind).await {
            Ok(()) => {
                next.unsaved = false;
                next.save_error = None;
                next.in_fallback_file = false;
                return Ok(());
            }
            Err(e) => e,
        };
        let auto = self.inner.config.auth.credential_store == CredentialStoreKind::Auto;
        if next.kind == StoreKind::Keychain && auto {
            match self.inner.store.save_fallback_file(&next.creds).await {
                Ok(()) => {
                    tracing::warn!(
                        "could not save the refreshed ChatGPT credentials to the OS keychain ({e}); keeping them in {} (mode 0600) until a keychain save succeeds",
                        self.inner.paths.auth_file().display()
                    );
                    next.unsaved = false;
                    next.in_fallback_file = true;
                    next.save_error = Some(save_error_sentence(&e, true));
                    self.spawn_save_retry();
                    return Ok(());
                }
                Err(file_err) => tracing::warn!("the fallback file failed too: {file_err}"),
            }
        }
        tracing::warn!("could not save the refreshed ChatGPT credentials: {e}");
        next.unsaved = true;
        next.save_error = Some(save_error_sentence(&e, false));
        self.spawn_save_retry();
        Err(SessionError::from_store(e))
    }

    /// At start: a file set next to a keychain index is the fallback copy an earlier
    /// run of `auto` kept while keychain saves failed; go on moving it to the keychain.
    pub(super) fn resume_fallback(&self, cur: &mut Current) {
        let auto = self.inner.config.auth.credential_store == CredentialStoreKind::Auto;
        if cur.kind != StoreKind::File
            || !auto
            || !self.inner.paths.credentials_index_file().exists()
        {
            return;
        }
        cur.kind = StoreKind::Keychain;
        cur.in_fallback_file = true;
        cur.save_error = Some(
            "The ChatGPT credentials are in the 0600 file because a keychain save failed; airelays moves them to the OS keychain in the background."
                .into(),
        );
        self.spawn_save_retry();
    }

    /// Schedules [`CredentialSession::retry_save`] with backoff, once per failure spell.
    /// The task ends when the save succeeds, the set is replaced, or the session is dropped.
    fn spawn_save_retry(&self) {
        if self.inner.retrying.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut pause = SAVE_RETRY_FIRST;
            loop {
                tokio::time::sleep(pause).await;
                let Some(inner) = weak.upgrade() else { break };
                if (CredentialSession { inner }).retry_save().await {
                    break;
                }
                pause = (pause * 2).min(SAVE_RETRY_MAX);
            }
        });
    }

    /// One retry of a failed save; true when nothing is left to retry.
    async fn retry_save(&self) -> bool {
        let _gate = self.inner.gate.lock().await;
        let done = |me: &Self| {
            me.inner.retrying.store(false, Ordering::SeqCst);
            true
        };
        let cur = match self.snapshot() {
            Loaded::Present(cur) if cur.save_error.is_some() => cur,
            _ => return done(self),
        };
        let Ok(_lock) = self.take_refresh_lock().await else {
            return false;
        };
        match self.inner.store.load().await {
            // Signed out elsewhere: nothing to resurrect.
            Ok(None) => {
                self.set_state(Loaded::Missing);
                return done(self);
            }
            // A login elsewhere replaced our set: adopt it, ours is obsolete.
            Ok(Some(s)) if !cur.same_set(&s.credentials) && !self.is_spent(&s.credentials) => {
                self.set_state(Loaded::Present(Box::new(Current::from_stored(s))));
                return done(self);
            }
            _ => {}
        }
        match self.inner.store.save(&cur.creds, cur.kind).await {
            Ok(()) => {
                tracing::info!("saved the refreshed ChatGPT credentials to their store");
                self.update_current(|c| {
                    if c.same_set(&cur.creds) {
                        c.unsaved = false;
                        c.save_error = None;
                        c.in_fallback_file = false;
                    }
                });
                done(self)
            }
            Err(e) => {
                let in_file = cur.in_fallback_file;
                self.update_current(|c| c.save_error = Some(save_error_sentence(&e, in_file)));
                false
            }
        }
    }
}

/// The status sentence for a failed save (never a token: store errors name paths only).
fn save_error_sentence(e: &StoreError, in_file: bool) -> String {
    if in_file {
        format!(
            "The refreshed ChatGPT credentials could not be saved to the OS keychain ({e}); they are kept in the 0600 file until a retry in the background succeeds."
        )
    } else {
        format!(
            "The refreshed ChatGPT credentials could not be saved ({e}); airelays retries in the background and answers 503 until then."
        )
    }
}
