//! Several accounts in one mock: sign-ins for a chosen account (whose refreshes stay on
//! that account), and knobs and counters per account id — a usage limit until a reset
//! time, an auth rejection, a fault queue — so a client that routes over several
//! accounts can be tested. Nothing here changes the single-account defaults: with no
//! knob turned, every map is empty and every answer is the same as before.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::MockAccount;
use crate::state::{Fault, lock};

/// Per-account knobs and counters, keyed by `chatgpt_account_id`.
#[derive(Default)]
pub(crate) struct Accounts {
    login: Mutex<Option<MockAccount>>,
    usage_limited_until: Mutex<HashMap<String, SystemTime>>,
    rejected: Mutex<HashMap<String, bool>>,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    responses: Mutex<HashMap<String, u64>>,
    refreshes: Mutex<HashMap<String, u64>>,
    weekly_used: Mutex<HashMap<String, u32>>,
    reject_foreign_encrypted: std::sync::atomic::AtomicBool,
    models: Mutex<HashMap<String, crate::state::Catalogue>>,
}

impl Accounts {
    /// The account the next code exchanges sign in, if one was chosen.
    pub(crate) fn login_account(&self) -> Option<MockAccount> {
        lock(&self.login).clone()
    }

    /// Clears every per-account knob and counter.
    pub(crate) fn reset(&self) {
        *lock(&self.login) = None;
        lock(&self.usage_limited_until).clear();
        lock(&self.rejected).clear();
        lock(&self.faults).clear();
        lock(&self.responses).clear();
        lock(&self.refreshes).clear();
        lock(&self.weekly_used).clear();
        lock(&self.models).clear();
        self.reject_foreign_encrypted
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// With the foreign-content knob on, the owner mark written into the
    /// `encrypted_content` the account's answers carry.
    pub(crate) fn encrypted_owner(&self, account_id: &str) -> Option<String> {
        self.reject_foreign_encrypted
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| owner_mark(account_id))
    }

    /// With the foreign-content knob on, the id of the first `reasoning` input item
    /// whose `encrypted_content` another account issued.
    pub(crate) fn foreign_encrypted(
        &self,
        account_id: &str,
        body: &serde_json::Value,
    ) -> Option<String> {
        let mine = self.encrypted_owner(account_id)?;
        let items = body.get("input")?.as_array()?;
        items.iter().find_map(|item| {
            let content = item.get("encrypted_content")?.as_str()?;
            let mark = content.strip_prefix("gAAAAB")?.get(..MARK_LEN)?;
            let foreign = item.get("type")?.as_str()? == "reasoning"
                && mark.starts_with(MARK_PREFIX)
                && mark != mine;
            foreign.then(|| {
                item.get("id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("rs_unknown")
                    .to_owned()
            })
        })
    }

    /// The catalogue set for `account_id`, if any.
    pub(crate) fn models(&self, account_id: &str) -> Option<crate::state::Catalogue> {
        lock(&self.models).get(account_id).cloned()
    }

    /// The weekly window's used percent set for `account_id`, if any.
    pub(crate) fn weekly_used(&self, account_id: &str) -> Option<u32> {
        lock(&self.weekly_used).get(account_id).copied()
    }

    pub(crate) fn count_refresh(&self, account_id: &str) {
        *lock(&self.refreshes)
            .entry(account_id.to_owned())
            .or_default() += 1;
    }

    /// Counts a `/responses` call for `account_id` and says what it gets instead of a
    /// normal answer: a usage limit (seconds until its reset), a 401, or a queued fault.
    pub(crate) fn on_responses(&self, account_id: &str) -> Option<AccountOutcome> {
        *lock(&self.responses)
            .entry(account_id.to_owned())
            .or_default() += 1;
        if lock(&self.rejected)
            .get(account_id)
            .copied()
            .unwrap_or(false)
        {
            return Some(AccountOutcome::Rejected);
        }
        let until = lock(&self.usage_limited_until).get(account_id).copied();
        if let Some(left) = until.and_then(|u| u.duration_since(SystemTime::now()).ok()) {
            return Some(AccountOutcome::UsageLimit {
                resets_in_seconds: left.as_secs().max(1),
            });
        }
        lock(&self.faults)
            .get_mut(account_id)
            .and_then(VecDeque::pop_front)
            .map(AccountOutcome::Fault)
    }
}

const MARK_PREFIX: &str = "acct";
const MARK_LEN: usize = 12;

/// `acct` and the first 8 hex digits of the account id: marks encrypted content.
fn owner_mark(account_id: &str) -> String {
    let hex: String = account_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .chain(std::iter::repeat('0'))
        .take(MARK_LEN - MARK_PREFIX.len())
        .collect();
    format!("{MARK_PREFIX}{hex}")
}

/// What an account knob does to one `/responses` call.
pub(crate) enum AccountOutcome {
    /// 429 `usage_limit_reached`, resetting in this many seconds.
    UsageLimit { resets_in_seconds: u64 },
    /// 401, as for a revoked token.
    Rejected,
    /// A fault queued for this account.
    Fault(Fault),
}

impl crate::MockState {
    /// Makes the next authorization-code exchanges (browser and device logins) sign in
    /// `account` — its refresh tokens keep minting for it — or, with `None`, the account
    /// of the `account` knob as before.
    pub fn set_login_account(&self, account: Option<MockAccount>) {
        *lock(&self.accounts.login) = account;
    }

    /// Mints credentials for `account` without a login flow; their refreshes stay on
    /// `account` whatever [`crate::MockState::set_account`] says.
    pub fn issue_tokens_for(&self, account: &MockAccount) -> crate::IssuedTokens {
        let lifetime = self.knobs().access_token_lifetime;
        lock(&self.tokens).issue_sticky(account, lifetime)
    }

    /// `Some(d)`: every `/responses` call of `account_id` answers 429
    /// `usage_limit_reached` until `d` from now (then it works again); `None` lifts it.
    pub fn set_usage_limited(&self, account_id: &str, resets_in: Option<Duration>) {
        let mut map = lock(&self.accounts.usage_limited_until);
        match resets_in {
            Some(d) => map.insert(account_id.to_owned(), SystemTime::now() + d),
            None => map.remove(account_id),
        };
    }

    /// `true`: every `/responses` call of `account_id` answers 401, refreshed or not.
    pub fn set_account_rejected(&self, account_id: &str, rejected: bool) {
        lock(&self.accounts.rejected).insert(account_id.to_owned(), rejected);
    }

    /// Queues a fault for the next `/responses` call of `account_id`.
    pub fn push_fault_for(&self, account_id: &str, fault: Fault) {
        lock(&self.accounts.faults)
            .entry(account_id.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// `Some(p)`: the weekly (longest) window of `account_id` reads `p` percent used,
    /// in `/responses` headers and in `/wham/usage`; `None` restores the standard figure.
    pub fn set_weekly_used_for(&self, account_id: &str, used_percent: Option<u32>) {
        let mut map = lock(&self.accounts.weekly_used);
        match used_percent {
            Some(p) => map.insert(account_id.to_owned(), p),
            None => map.remove(account_id),
        };
    }

    /// `true`: reasoning items carry encrypted content marked with the issuing
    /// account, and a `/responses` call whose input holds another account's answers
    /// 400 `invalid_encrypted_content`, as the backend does after an account switch.
    pub fn set_reject_foreign_encrypted(&self, reject: bool) {
        self.accounts
            .reject_foreign_encrypted
            .store(reject, std::sync::atomic::Ordering::SeqCst);
    }

    /// `Some(models)`: `/codex/models` answers this catalogue to `account_id`, and
    /// `/responses` refuses other models for it (400, as for a model the plan lacks);
    /// `None` restores the shared catalogue.
    pub fn set_models_for(&self, account_id: &str, models: Option<Vec<serde_json::Value>>) {
        let mut map = lock(&self.accounts.models);
        match models {
            Some(m) => map.insert(account_id.to_owned(), crate::state::Catalogue::new(m)),
            None => map.remove(account_id),
        };
    }

    /// The shared model catalogue (what accounts without their own get).
    pub fn catalogue(&self) -> Vec<serde_json::Value> {
        self.knobs().models.models.to_vec()
    }

    /// `/responses` calls that carried a live token of `account_id`.
    pub fn responses_calls_for(&self, account_id: &str) -> u64 {
        lock(&self.accounts.responses)
            .get(account_id)
            .copied()
            .unwrap_or(0)
    }

    /// Successful refreshes of sticky tokens of `account_id`.
    pub fn refresh_calls_for(&self, account_id: &str) -> u64 {
        lock(&self.accounts.refreshes)
            .get(account_id)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    #[test]
    fn another_accounts_encrypted_content_is_found_only_with_the_knob_on() {
        let a = Accounts::default();
        let home = "11111111-2222-3333-4444-555555555555";
        let work = "99999999-8888-7777-6666-555555555555";
        assert_eq!(a.encrypted_owner(home), None, "off by default");
        a.reject_foreign_encrypted.store(true, Ordering::SeqCst);
        let issued = format!("gAAAAB{}rest", a.encrypted_owner(home).unwrap());
        let body = json!({"input": [
            {"type": "reasoning", "id": "rs_1", "encrypted_content": issued, "summary": []},
            {"type": "reasoning", "encrypted_content": "gAAAAB-unmarked", "summary": []}
        ]});
        assert_eq!(a.foreign_encrypted(home, &body), None);
        assert_eq!(a.foreign_encrypted(work, &body).as_deref(), Some("rs_1"));
        a.reset();
        assert_eq!(a.foreign_encrypted(work, &body), None);
    }
}
