//! Conversation affinity: the account each recent conversation ran on, so the next
//! turn goes to the same account and the upstream's prompt cache keeps working.
//! Keyed by the client's session (Codex `session_id` or `session-id`, Claude Code's
//! `x-claude-code-session-id`, `x-session-id`, or the body's `prompt_cache_key`),
//! bounded to [`Affinity::CAPACITY`] keys, the least recently used forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use http::HeaderMap;

/// The session headers clients send, in the order they are looked at.
const SESSION_HEADERS: &[&str] = &[
    "session_id",
    "session-id",
    "x-claude-code-session-id",
    "x-session-id",
];

/// The longest session key kept (longer ones are cut: a key is not a secret, but
/// a client must not make the map large).
const MAX_KEY_BYTES: usize = 256;

/// A bounded LRU map from session key to account name.
pub(crate) struct Affinity {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// key → (account, last use).
    map: HashMap<String, (String, u64)>,
    /// (use, key) in order of use; entries whose use no longer matches are stale.
    order: VecDeque<(u64, String)>,
    tick: u64,
}

impl Affinity {
    /// How many conversations are remembered.
    pub(crate) const CAPACITY: usize = 10_000;

    /// An empty map.
    pub(crate) fn new() -> Affinity {
        Affinity {
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account `key` last ran on.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let account = {
            let entry = inner.map.get_mut(key)?;
            entry.1 = tick;
            entry.0.clone()
        };
        inner.order.push_back((tick, key.to_owned()));
        inner.compact();
        Some(account)
    }

    /// Remembers that `key` ran on `account`.
    pub(crate) fn set(&self, key: &str, account: &str) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.map.insert(key.to_owned(), (account.to_owned(), tick));
        inner.order.push_back((tick, key.to_owned()));
        while inner.map.len() > Self::CAPACITY {
            let Some((used, oldest)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&oldest).is_some_and(|(_, t)| *t == used) {
                inner.map.remove(&oldest);
            }
        }
        inner.compact();
    }

    /// Keys remembered now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

impl Inner {
    /// Drops stale order entries once they outnumber the live ones, so the queue
    /// stays bounded too.
    fn compact(&mut self) {
        if self.order.len() > 2 * Affinity::CAPACITY.max(self.map.len()) {
            let map = &self.map;
            self.order
                .retain(|(used, key)| map.get(key).is_some_and(|(_, t)| t == used));
        }
    }
}

/// The conversation key of a request: a session header, else the upstream body's
/// `prompt_cache_key`.
pub(crate) fn session_key(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let from_header = SESSION_HEADERS
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok().map(str::trim))
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let key = from_header.or_else(|| {
        #[derive(serde::Deserialize)]
        struct Key {
            prompt_cache_key: Option<String>,
        }
        serde_json::from_slice::<Key>(body)
            .ok()?
            .prompt_cache_key
            .filter(|k| !k.is_empty())
    })?;
    let mut cut = key.len().min(MAX_KEY_BYTES);
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(key[..cut].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_the_least_recently_used() {
        let a = Affinity::new();
        for i in 0..Affinity::CAPACITY {
            a.set(&format!("k{i}"), "home");
        }
        assert_eq!(a.get("k0").as_deref(), Some("home"));
        a.set("new", "work");
        assert_eq!(a.len(), Affinity::CAPACITY);
        assert_eq!(a.get("k0").as_deref(), Some("home"), "recently used stays");
        assert_eq!(a.get("k1"), None, "least recently used goes");
        assert_eq!(a.get("new").as_deref(), Some("work"));
        for _ in 0..5 * Affinity::CAPACITY {
            a.get("new");
        }
        assert!(a.lock().order.len() <= 2 * Affinity::CAPACITY + 1);
    }

    #[test]
    fn keys_come_from_session_headers_then_the_body() {
        let mut h = HeaderMap::new();
        let body = br#"{"model":"m","prompt_cache_key":"pck"}"#;
        assert_eq!(session_key(&h, body).as_deref(), Some("pck"));
        assert_eq!(session_key(&h, b"not json"), None);
        h.insert("x-claude-code-session-id", "cc".parse().unwrap());
        assert_eq!(session_key(&h, body).as_deref(), Some("cc"));
        h.insert("session_id", "codex".parse().unwrap());
        assert_eq!(session_key(&h, body).as_deref(), Some("codex"));
        h.insert("session_id", "x".repeat(300).parse().unwrap());
        assert!(session_key(&h, body).unwrap().len() <= MAX_KEY_BYTES);
    }
}
