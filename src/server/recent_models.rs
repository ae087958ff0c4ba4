//! The models Ollama clients used recently, for `GET /api/ps`: each is listed
//! until its `keep_alive` runs out (docs/architecture.md, "Ollama"). Nothing is
//! loaded anywhere, so this is only what the clients asked for, bounded to
//! [`RecentModels::MAX`] entries.

use std::collections::HashMap;
use std::sync::Mutex;

/// `expires_at` of a model kept forever (`keep_alive` < 0): the last second of
/// year 9999, the largest time RFC 3339 writes.
pub(crate) const FOREVER: i64 = 253_402_300_799;

/// Recently used models and when each leaves the list (Unix seconds).
#[derive(Default)]
pub(crate) struct RecentModels {
    expiry: Mutex<HashMap<String, i64>>,
}

impl RecentModels {
    /// At most this many models are listed; past it the one expiring first goes.
    pub(crate) const MAX: usize = 64;

    /// `model` was used at `now`: keep it `keep_seconds` more (`None` forever,
    /// `Some(0)` unloads it).
    pub(crate) fn touch(&self, model: &str, keep_seconds: Option<u64>, now: i64) {
        let mut expiry = self.expiry.lock().unwrap_or_else(|e| e.into_inner());
        let until = match keep_seconds {
            Some(0) => {
                expiry.remove(model);
                return;
            }
            Some(s) => now
                .saturating_add(i64::try_from(s).unwrap_or(i64::MAX))
                .min(FOREVER),
            None => FOREVER,
        };
        expiry.retain(|_, at| *at > now);
        if !expiry.contains_key(model) && expiry.len() >= Self::MAX {
            let soonest = expiry
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(m, _)| m.clone());
            if let Some(m) = soonest {
                expiry.remove(&m);
            }
        }
        expiry.insert(model.to_owned(), until);
    }

    /// The models still listed at `now`, by name, with their expiry.
    pub(crate) fn listed(&self, now: i64) -> Vec<(String, i64)> {
        let mut expiry = self.expiry.lock().unwrap_or_else(|e| e.into_inner());
        expiry.retain(|_, at| *at > now);
        let mut out: Vec<(String, i64)> = expiry.iter().map(|(m, at)| (m.clone(), *at)).collect();
        drop(expiry);
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_listed_until_their_keep_alive_ends() {
        let r = RecentModels::default();
        r.touch("a", Some(300), 1_000);
        r.touch("b", None, 1_000);
        assert_eq!(
            r.listed(1_000),
            vec![("a".into(), 1_300), ("b".into(), FOREVER)]
        );
        assert_eq!(r.listed(1_300), vec![("b".into(), FOREVER)]);
        r.touch("b", Some(0), 1_301);
        assert!(r.listed(1_301).is_empty());
    }

    #[test]
    fn the_list_is_bounded_and_drops_the_soonest_expiry() {
        let r = RecentModels::default();
        for i in 0..RecentModels::MAX + 10 {
            r.touch(&format!("m{i}"), Some(1_000 + i as u64), 0);
        }
        let listed = r.listed(0);
        assert_eq!(listed.len(), RecentModels::MAX);
        assert!(!listed.iter().any(|(m, _)| m == "m0"));
        assert!(
            listed
                .iter()
                .any(|(m, _)| m == &format!("m{}", RecentModels::MAX + 9))
        );
    }
}
