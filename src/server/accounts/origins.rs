//! Which account issued each piece of encrypted reasoning (docs/architecture.md#accounts).
//!
//! Another account's backend cannot decrypt a reasoning item's `encrypted_content`
//! and fails the whole turn, so the relay remembers — by a digest, never the content —
//! the account whose answer carried each one, as the answers pass. Before a request
//! goes to an account, reasoning items another account issued are dropped from its
//! `input` and disclosed in `x-airelays-ignored-parameters`; items the relay never
//! saw are sent as they are. Bounded: the oldest digests are forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How many pieces of encrypted reasoning are remembered.
const CAPACITY: usize = 50_000;

/// The name disclosed in `x-airelays-ignored-parameters` for dropped items.
pub(crate) const DROPPED_PARAMETER: &str = "input.reasoning.encrypted_content";

type Key = [u8; 16];

/// Digest → issuing account, and the digests in the order they were first seen.
type Table = (HashMap<Key, Arc<str>>, VecDeque<Key>);

/// Digest of encrypted content → the account that issued it.
#[derive(Default)]
pub(crate) struct Origins {
    inner: Mutex<Table>,
}

fn key(content: &str) -> Key {
    let digest = Sha256::digest(content.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&digest[..16]);
    k
}

impl Origins {
    /// Remembers that `account` issued the reasoning item `item` (if it is one).
    pub(crate) fn observe_item(&self, item: &Value, account: &str) {
        if item.get("type").and_then(Value::as_str) != Some("reasoning") {
            return;
        }
        let Some(content) = item.get("encrypted_content").and_then(Value::as_str) else {
            return;
        };
        let k = key(content);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *inner;
        if map.insert(k, Arc::from(account)).is_none() {
            order.push_back(k);
        }
        while map.len() > CAPACITY {
            match order.pop_front() {
                Some(old) => drop(map.remove(&old)),
                None => break,
            }
        }
    }

    fn origin(&self, content: &str) -> Option<Arc<str>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0.get(&key(content)).cloned()
    }

    /// `body` without the reasoning items another account issued, and how many
    /// were dropped; `None` when nothing is dropped (the body is sent as it is).
    pub(crate) fn strip_foreign(&self, body: &Bytes, account: &str) -> Option<(Bytes, usize)> {
        if !contains(body, b"\"encrypted_content\"") {
            return None;
        }
        let mut value: Value = serde_json::from_slice(body).ok()?;
        let input = value.get_mut("input")?.as_array_mut()?;
        let before = input.len();
        input.retain(|item| {
            let content = item.get("encrypted_content").and_then(Value::as_str);
            let foreign = item.get("type").and_then(Value::as_str) == Some("reasoning")
                && content
                    .and_then(|c| self.origin(c))
                    .is_some_and(|owner| &*owner != account);
            !foreign
        });
        let dropped = before - input.len();
        if dropped == 0 {
            return None;
        }
        let bytes = serde_json::to_vec(&value).ok()?;
        Some((Bytes::from(bytes), dropped))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_items_another_account_issued_are_dropped() {
        let o = Origins::default();
        o.observe_item(
            &json!({"type":"reasoning","encrypted_content":"gAAAAB-home"}),
            "default",
        );
        o.observe_item(
            &json!({"type":"reasoning","encrypted_content":"gAAAAB-work"}),
            "work",
        );
        let body = Bytes::from(
            json!({"input":[
                {"type":"reasoning","encrypted_content":"gAAAAB-home","summary":[]},
                {"type":"reasoning","encrypted_content":"gAAAAB-work","summary":[]},
                {"type":"reasoning","encrypted_content":"gAAAAB-unseen","summary":[]},
                {"type":"message","role":"user","content":"hi"}
            ]})
            .to_string(),
        );
        let (kept, dropped) = o.strip_foreign(&body, "work").unwrap();
        assert_eq!(dropped, 1);
        let kept: Value = serde_json::from_slice(&kept).unwrap();
        let text = kept.to_string();
        assert!(!text.contains("gAAAAB-home") && text.contains("gAAAAB-work"));
        assert!(text.contains("gAAAAB-unseen"), "unknown items are kept");
        assert!(o.strip_foreign(&body, "nobody-else").is_some());
        let plain = Bytes::from(json!({"input":"hi"}).to_string());
        assert!(o.strip_foreign(&plain, "work").is_none());
        assert!(
            o.strip_foreign(&Bytes::from_static(b"{\"encrypted_content\""), "w")
                .is_none()
        );
    }
}
