//! The model catalogue: fetched from the backend, cached for
//! `models.cache_ttl_seconds`, single-flight, with `models.extra_models` added.
//! Lookups are case-insensitive and answer the catalogue's own spelling.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelEntry {
    pub(crate) id: String,
    /// `visibility: "list"` in the catalogue (hidden models are usable, not listed).
    pub(crate) listed: bool,
}

#[derive(Debug, Clone)]
struct Cached {
    fetched_at: Instant,
    created: i64,
    entries: Arc<Vec<ModelEntry>>,
    /// The catalogue's entries as the backend sent them (for dialects that read
    /// more than the id, such as the `claude-*` aliases).
    raw: Arc<Vec<Value>>,
}

/// How a requested model id resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// In the catalogue or `extra_models`: send this spelling upstream.
    Known(String),
    /// Not known; the closest ids.
    Unknown { suggestions: Vec<String> },
    /// The catalogue could not be fetched: forward as given (fail open).
    Unverified(String),
}

pub(crate) struct ModelCatalog {
    ttl: Duration,
    extra: Vec<String>,
    cache: RwLock<Option<Cached>>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl ModelCatalog {
    pub(crate) fn new(ttl: Duration, extra: Vec<String>) -> ModelCatalog {
        ModelCatalog {
            ttl,
            extra,
            cache: RwLock::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Cached> {
        let c = self.cache.read().unwrap_or_else(|e| e.into_inner());
        c.as_ref()
            .filter(|c| c.fetched_at.elapsed() < self.ttl)
            .cloned()
    }

    fn stale(&self) -> Option<Cached> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The catalogue, fetching it when the cache is cold or expired. On a fetch
    /// failure the last good copy is used if there is one.
    async fn entries<F, Fut, E>(&self, fetch: F) -> Result<(Arc<Vec<ModelEntry>>, i64), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Value>, E>>,
    {
        let c = self.cached(fetch).await?;
        Ok((c.entries, c.created))
    }

    /// The raw entries of the last catalogue fetched, without fetching.
    pub(crate) fn cached_raw(&self) -> Option<Arc<Vec<Value>>> {
        self.stale().map(|c| c.raw)
    }

    /// The catalogue's raw entries and the time they were fetched.
    pub(crate) async fn raw<F, Fut, E>(&self, fetch: F) -> Result<(Arc<Vec<Value>>, i64), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Value>, E>>,
    {
        let c = self.cached(fetch).await?;
        Ok((c.raw, c.created))
    }

    async fn cached<F, Fut, E>(&self, fetch: F) -> Result<Cached, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Value>, E>>,
    {
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let _guard = self.fetch_lock.lock().await;
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        match fetch().await {
            Ok(raw) => {
                let entries: Vec<ModelEntry> = raw
                    .iter()
                    .filter_map(|m| {
                        let id = m.get("slug").or_else(|| m.get("id"))?.as_str()?.to_string();
                        let listed = m
                            .get("visibility")
                            .and_then(Value::as_str)
                            .is_none_or(|v| v == "list");
                        Some(ModelEntry { id, listed })
                    })
                    .collect();
                let cached = Cached {
                    fetched_at: Instant::now(),
                    created: jiff::Timestamp::now().as_second(),
                    entries: Arc::new(entries),
                    raw: Arc::new(raw),
                };
                *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(cached.clone());
                Ok(cached)
            }
            Err(e) => match self.stale() {
                Some(c) => {
                    tracing::warn!("model catalogue refresh failed; using the cached copy");
                    Ok(c)
                }
                None => Err(e),
            },
        }
    }

    /// The listed models in OpenAI list form.
    pub(crate) async fn list<F, Fut, E>(&self, fetch: F) -> Result<Value, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Value>, E>>,
    {
        let (entries, created) = self.entries(fetch).await?;
        let mut ids: Vec<&str> = entries
            .iter()
            .filter(|e| e.listed)
            .map(|e| e.id.as_str())
            .collect();
        for extra in &self.extra {
            if !ids.iter().any(|i| i.eq_ignore_ascii_case(extra)) {
                ids.push(extra);
            }
        }
        let data: Vec<Value> = ids.iter().map(|id| model_object(id, created)).collect();
        Ok(serde_json::json!({"object": "list", "data": data}))
    }

    /// Resolves a requested id; never fails (an unreachable catalogue fails open).
    pub(crate) async fn resolve<F, Fut, E>(&self, requested: &str, fetch: F) -> Resolution
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Value>, E>>,
    {
        if let Some(extra) = self
            .extra
            .iter()
            .find(|e| e.eq_ignore_ascii_case(requested))
        {
            return Resolution::Known(extra.clone());
        }
        let Ok((entries, _)) = self.entries(fetch).await else {
            return Resolution::Unverified(requested.to_string());
        };
        if let Some(e) = entries
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(requested))
        {
            return Resolution::Known(e.id.clone());
        }
        let candidates = entries
            .iter()
            .filter(|e| e.listed)
            .map(|e| e.id.as_str())
            .chain(self.extra.iter().map(String::as_str));
        Resolution::Unknown {
            suggestions: closest(requested, candidates),
        }
    }

    /// The created time to show for models (time of the last catalogue fetch).
    pub(crate) fn created(&self) -> i64 {
        self.stale()
            .map(|c| c.created)
            .unwrap_or_else(|| jiff::Timestamp::now().as_second())
    }
}

pub(crate) fn model_object(id: &str, created: i64) -> Value {
    serde_json::json!({"id": id, "object": "model", "created": created, "owned_by": "openai"})
}

/// Up to three ids closest to `wanted` (edit distance, then shared prefix).
pub(crate) fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let w = wanted.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (levenshtein(&w, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| {
            *d <= (c.len().max(w.len()) / 2).max(2) || c.to_ascii_lowercase().contains(&w)
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(128).collect();
    let b: Vec<char> = b.chars().take(128).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalogue() -> Vec<Value> {
        vec![
            json!({"slug": "gpt-5.5", "visibility": "list"}),
            json!({"slug": "gpt-5.4", "visibility": "list"}),
            json!({"slug": "gpt-5.4-mini", "visibility": "list"}),
            json!({"slug": "codex-auto-review", "visibility": "hide"}),
        ]
    }

    async fn ok() -> Result<Vec<Value>, ()> {
        Ok(catalogue())
    }
    async fn down() -> Result<Vec<Value>, ()> {
        Err(())
    }

    #[tokio::test]
    async fn list_excludes_hidden_and_adds_extras() {
        let c = ModelCatalog::new(Duration::from_secs(60), vec!["my-model".into()]);
        let list = c.list(ok).await.unwrap();
        let ids: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "my-model"]);
        assert_eq!(list["data"][0]["object"], "model");
    }

    #[tokio::test]
    async fn resolve_is_case_insensitive_and_suggests() {
        let c = ModelCatalog::new(Duration::from_secs(60), vec![]);
        assert_eq!(
            c.resolve("GPT-5.5", ok).await,
            Resolution::Known("gpt-5.5".into())
        );
        assert_eq!(
            c.resolve("codex-auto-review", ok).await,
            Resolution::Known("codex-auto-review".into())
        );
        match c.resolve("gpt-5.6", ok).await {
            Resolution::Unknown { suggestions } => assert!(
                suggestions.contains(&"gpt-5.5".to_string()),
                "{suggestions:?}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn fails_open_without_a_catalogue_and_uses_stale_copies() {
        let c = ModelCatalog::new(Duration::from_secs(0), vec![]);
        assert_eq!(
            c.resolve("anything", down).await,
            Resolution::Unverified("anything".into())
        );
        assert!(c.list(down).await.is_err());
        c.list(ok).await.unwrap();
        // TTL 0: every call refetches; a failing fetch falls back to the stale copy.
        assert_eq!(
            c.resolve("gpt-5.4", down).await,
            Resolution::Known("gpt-5.4".into())
        );
    }

    #[test]
    fn closest_ids() {
        let ids = ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex"];
        assert_eq!(closest("gpt5.4", ids.iter().copied())[0], "gpt-5.4");
        assert!(closest("zzzzzzzzzzzzzz", ids.iter().copied()).is_empty());
    }
}
