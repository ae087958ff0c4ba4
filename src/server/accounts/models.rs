//! The model catalogue over several accounts: `/v1/models` lists the union of the
//! accounts' catalogues, and a model only some accounts have is routed only to
//! those (docs/architecture.md#accounts).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::Account;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::relay::failure::map_upstream_error;

/// The models each account's catalogue listed at its last fetch (lower case).
#[derive(Default)]
pub(crate) struct AccountModels(Mutex<HashMap<String, HashSet<String>>>);

impl AccountModels {
    fn set(&self, account: &str, models: &[Value]) {
        let ids = models
            .iter()
            .filter_map(slug)
            .map(str::to_ascii_lowercase)
            .collect();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account.to_owned(), ids);
    }

    /// The models `account`'s catalogue listed, sorted; `None` before its first fetch.
    pub(crate) fn of(&self, account: &str) -> Option<Vec<String>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = map.get(account)?.iter().cloned().collect();
        ids.sort();
        Some(ids)
    }

    /// Whether `account` may take `model`: its catalogue has it, or its catalogue
    /// is not known yet.
    pub(crate) fn allows(&self, account: &str, model: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(account)
            .is_none_or(|ids| ids.contains(&model.to_ascii_lowercase()))
    }
}

fn slug(m: &Value) -> Option<&str> {
    m.get("slug").or_else(|| m.get("id"))?.as_str()
}

/// Every account's catalogue, merged by slug (the first account's entry wins);
/// an account whose catalogue cannot be read is left out, and only when none can
/// be read is the first error the answer.
pub(crate) async fn fetch_union(
    state: &AppState,
    accounts: &[Arc<Account>],
) -> Result<Vec<Value>, ApiError> {
    let mut union: Vec<Value> = Vec::new();
    let mut first_error = None;
    let mut any = false;
    for account in accounts {
        let fetched: Result<Vec<Value>, ApiError> = async {
            let access = account.session.access().await.map_err(ApiError::from)?;
            state
                .upstream
                .fetch_models(&access.access_token, &access.account_id)
                .await
                .map_err(map_upstream_error)
        }
        .await;
        match fetched {
            Ok(models) => {
                any = true;
                state.accounts.models.set(&account.name, &models);
                for m in models {
                    let new = slug(&m).is_some_and(|s| {
                        !union
                            .iter()
                            .any(|u| slug(u).is_some_and(|us| us.eq_ignore_ascii_case(s)))
                    });
                    if new {
                        union.push(m);
                    }
                }
            }
            Err(e) => {
                tracing::warn!("model catalogue of account {}: {}", account.name, e.message);
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if !any => Err(e),
        _ => Ok(union),
    }
}
