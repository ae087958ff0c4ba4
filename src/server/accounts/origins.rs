//! Which account issued each piece of encrypted reasoning (docs/architecture.md#accounts).
//!
//! Another account's backend cannot decrypt a reasoning item's `encrypted_content`
//! and fails the whole turn, so the relay remembers — by a digest, never the content —
//! the account whose answer carried each one, as the answers pass. Before a request
//! goes to an account, reasoning items another account issued are dropped from its
//! `input` and disclosed in `x-airelays-ignored-parameters`; items the relay never
//! saw are sent as they are, unless a Messages thinking signature names the account
//! that issued them. Bounded: the oldest digests are forgotten first.
//!
//! With the state store on, the table survives a restart: it is loaded once at
//! start ([`restore`]), and the origins learned since are handed to the store's
//! writer in batches by [`persist_loop`], never on the request path. Origins are
//! only learned with two or more accounts, so a single-account relay writes nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::shutdown::Shutdown;
use crate::state::StateStore;
use crate::translate::reasoning_digest;

/// How many pieces of encrypted reasoning are remembered (and kept on disk).
const CAPACITY: usize = 50_000;

/// How long new origins gather before they go to the store's writer as one job.
const PERSIST_EVERY: Duration = Duration::from_secs(1);

/// The name disclosed in `x-airelays-ignored-parameters` for dropped items.
pub(crate) const DROPPED_PARAMETER: &str = "input.reasoning.encrypted_content";

type Key = [u8; 16];

/// A reasoning item of the request whose issuing account the client's own
/// signature names (Messages thinking), with the parameter to disclose if dropped.
pub(crate) struct Hint {
    /// The digest of its encrypted content.
    pub(crate) key: Key,
    /// The account the signature names.
    pub(crate) owner: Arc<str>,
    /// What `x-airelays-ignored-parameters` names when it is dropped.
    pub(crate) parameter: &'static str,
}

#[derive(Default)]
struct Table {
    owners: HashMap<Key, Arc<str>>,
    /// The digests in the order they were first seen.
    order: VecDeque<Key>,
    /// Learned since the last hand-over to the store (only when it keeps them).
    unsaved: VecDeque<(Key, Arc<str>)>,
}

impl Table {
    /// Remembers `owner` for `k`; whether that changed anything.
    fn insert(&mut self, k: Key, owner: Arc<str>) -> bool {
        match self.owners.insert(k, Arc::clone(&owner)) {
            Some(old) if old == owner => return false,
            Some(_) => {}
            None => self.order.push_back(k),
        }
        while self.owners.len() > CAPACITY {
            match self.order.pop_front() {
                Some(old) => drop(self.owners.remove(&old)),
                None => break,
            }
        }
        true
    }
}

/// Digest of encrypted content → the account that issued it.
#[derive(Default)]
pub(crate) struct Origins {
    inner: Mutex<Table>,
    /// The state store keeps the table: new origins are queued for it.
    persist: AtomicBool,
    /// Wakes [`persist_loop`] when the first unsaved origin arrives.
    unsaved_ready: tokio::sync::Notify,
}

impl Origins {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that `account` issued the reasoning item `item` (if it is one).
    pub(crate) fn observe_item(&self, item: &Value, account: &str) {
        if item.get("type").and_then(Value::as_str) != Some("reasoning") {
            return;
        }
        let Some(content) = item.get("encrypted_content").and_then(Value::as_str) else {
            return;
        };
        let k = reasoning_digest(content);
        let owner: Arc<str> = Arc::from(account);
        let mut table = self.lock();
        if !table.insert(k, Arc::clone(&owner)) || !self.persist.load(Ordering::Relaxed) {
            return;
        }
        let first = table.unsaved.is_empty();
        table.unsaved.push_back((k, owner));
        if table.unsaved.len() > CAPACITY {
            table.unsaved.pop_front();
        }
        drop(table);
        if first {
            self.unsaved_ready.notify_one();
        }
    }

    fn origin(&self, k: &Key) -> Option<Arc<str>> {
        self.lock().owners.get(k).cloned()
    }

    /// `body` without the reasoning items another account issued, and the
    /// parameter names to disclose (one per dropped item); `None` when nothing is
    /// dropped (the body is sent as it is). What the relay saw answers first; a
    /// hint (the client's signature) decides for items it did not see.
    pub(crate) fn strip_foreign(
        &self,
        body: &Bytes,
        account: &str,
        hints: &[Hint],
    ) -> Option<(Bytes, Vec<&'static str>)> {
        if !contains(body, b"\"encrypted_content\"") {
            return None;
        }
        let mut value: Value = serde_json::from_slice(body).ok()?;
        let input = value.get_mut("input")?.as_array_mut()?;
        let mut dropped = Vec::new();
        input.retain(|item| {
            let content = item.get("encrypted_content").and_then(Value::as_str);
            let Some(content) =
                content.filter(|_| item.get("type").and_then(Value::as_str) == Some("reasoning"))
            else {
                return true;
            };
            let k = reasoning_digest(content);
            let hint = hints.iter().find(|h| h.key == k);
            let owner = self
                .origin(&k)
                .or_else(|| hint.map(|h| Arc::clone(&h.owner)));
            let foreign = owner.is_some_and(|o| &*o != account);
            if foreign {
                dropped.push(hint.map_or(DROPPED_PARAMETER, |h| h.parameter));
            }
            !foreign
        });
        if dropped.is_empty() {
            return None;
        }
        let bytes = serde_json::to_vec(&value).ok()?;
        Some((Bytes::from(bytes), dropped))
    }

    /// Adds the origins an earlier run kept (oldest first), and from now on queues
    /// new ones for the store.
    fn restore(&self, rows: Vec<([u8; 16], String)>) {
        let mut table = self.lock();
        for (k, account) in rows {
            table.insert(k, Arc::from(account));
        }
        drop(table);
        self.persist.store(true, Ordering::Relaxed);
    }

    /// Hands what was learned since the last call to the store's writer (one job,
    /// never waiting). A full queue loses them for the next restart only.
    pub(crate) fn flush(&self, store: &StateStore) {
        let rows: Vec<([u8; 16], String)> = self
            .lock()
            .unsaved
            .drain(..)
            .map(|(k, a)| (k, a.to_string()))
            .collect();
        if !rows.is_empty() && !store.record_origins(rows, CAPACITY) {
            tracing::warn!(
                "reasoning origins not kept across a restart: the state store's queue is full or it is unavailable"
            );
        }
    }
}

/// Loads the origins kept by earlier runs, once, before the relay serves (a read on
/// a blocking thread; nothing is written). Without a usable store the table stays
/// in memory only.
pub(crate) async fn restore(origins: &Origins, store: Option<&StateStore>) {
    let Some(store) = store.filter(|s| s.unavailable().is_none()) else {
        return;
    };
    match store.load_origins(CAPACITY).await {
        Ok(rows) => origins.restore(rows),
        Err(e) => {
            tracing::warn!("reasoning origins of earlier runs not read: {e:?}");
            origins.persist.store(true, Ordering::Relaxed);
        }
    }
}

/// Hands new origins to the state store's writer, at most one job a second, until
/// `shutdown` fires (`serve` flushes once more after the last request).
pub(crate) async fn persist_loop(
    origins: Arc<Origins>,
    store: Option<StateStore>,
    mut shutdown: Shutdown,
) {
    let Some(store) = store else { return };
    loop {
        tokio::select! {
            _ = origins.unsaved_ready.notified() => {}
            _ = shutdown.fired() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(PERSIST_EVERY) => {}
            _ = shutdown.fired() => return,
        }
        origins.flush(&store);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reasoning(content: &str) -> Value {
        json!({"type":"reasoning","encrypted_content":content,"summary":[]})
    }

    #[test]
    fn only_items_another_account_issued_are_dropped() {
        let o = Origins::default();
        o.observe_item(&reasoning("gAAAAB-home"), "default");
        o.observe_item(&reasoning("gAAAAB-work"), "work");
        let body = Bytes::from(
            json!({"input":[
                reasoning("gAAAAB-home"),
                reasoning("gAAAAB-work"),
                reasoning("gAAAAB-unseen"),
                {"type":"message","role":"user","content":"hi"}
            ]})
            .to_string(),
        );
        let (kept, dropped) = o.strip_foreign(&body, "work", &[]).unwrap();
        assert_eq!(dropped, [DROPPED_PARAMETER]);
        let kept: Value = serde_json::from_slice(&kept).unwrap();
        let text = kept.to_string();
        assert!(!text.contains("gAAAAB-home") && text.contains("gAAAAB-work"));
        assert!(text.contains("gAAAAB-unseen"), "unknown items are kept");
        assert!(o.strip_foreign(&body, "nobody-else", &[]).is_some());
        let plain = Bytes::from(json!({"input":"hi"}).to_string());
        assert!(o.strip_foreign(&plain, "work", &[]).is_none());
        assert!(
            o.strip_foreign(&Bytes::from_static(b"{\"encrypted_content\""), "w", &[])
                .is_none()
        );
    }

    #[test]
    fn a_signature_decides_for_reasoning_the_relay_did_not_see() {
        let o = Origins::default();
        o.observe_item(&reasoning("gAAAAB-seen"), "default");
        let hint = |content: &str, owner: &str| Hint {
            key: reasoning_digest(content),
            owner: Arc::from(owner),
            parameter: "content.thinking",
        };
        // What the relay saw wins over the client's claim.
        let hints = [hint("gAAAAB-unseen", "work"), hint("gAAAAB-seen", "work")];
        let body = Bytes::from(
            json!({"input":[reasoning("gAAAAB-unseen"), reasoning("gAAAAB-seen")]}).to_string(),
        );
        let (kept, dropped) = o.strip_foreign(&body, "default", &hints).unwrap();
        assert_eq!(dropped, ["content.thinking"]);
        let text = String::from_utf8(kept.to_vec()).unwrap();
        assert!(text.contains("gAAAAB-seen") && !text.contains("gAAAAB-unseen"));
        let (_, dropped) = o.strip_foreign(&body, "work", &hints).unwrap();
        assert_eq!(dropped, ["content.thinking"], "the seen one is default's");
    }

    #[test]
    fn only_a_restored_table_queues_new_origins_for_the_store() {
        let o = Origins::default();
        o.observe_item(&reasoning("gAAAAB-1"), "default");
        assert!(o.lock().unsaved.is_empty(), "no store: memory only");
        o.restore(vec![(reasoning_digest("gAAAAB-old"), "work".into())]);
        let old = Bytes::from(json!({"input":[reasoning("gAAAAB-old")]}).to_string());
        assert!(o.strip_foreign(&old, "default", &[]).is_some(), "restored");
        o.observe_item(&reasoning("gAAAAB-2"), "work");
        o.observe_item(&reasoning("gAAAAB-2"), "work");
        o.observe_item(&json!({"type":"message"}), "work");
        let unsaved: Vec<Arc<str>> = o.lock().unsaved.iter().map(|(_, a)| a.clone()).collect();
        assert_eq!(unsaved, [Arc::from("work")], "each new origin once");
    }
}
