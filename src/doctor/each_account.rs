//! `accounts_upstream` and `accounts_live`: the sign-in, upstream and (with
//! `--live`) live checks of every signed-in account other than `default`, whose
//! own checks run as today (`signed_in`, `upstream`, `usage`, `live_probe`…).
//! Each account runs the same checks through a probe of its own — its own
//! credential store, its own `refresh.lock`, its own access token — and gets one
//! detail line. Absent when no other account is signed in, so single-account
//! reports are unchanged.

use super::{Check, CheckStatus, Probe, blocking, live, signin, upstream};
use crate::auth::accounts::{self, DEFAULT_ACCOUNT};

/// One other account and what its checks found so far.
pub(super) struct AccountProbe {
    name: String,
    probe: Probe,
    /// The worst status and the findings worth a line, in order.
    status: CheckStatus,
    notes: Vec<String>,
}

impl AccountProbe {
    fn note(&mut self, check: &Check, ok_line: Option<String>) {
        self.status = worst(self.status, check.status);
        let line = match (check.status, ok_line) {
            (CheckStatus::Ok, Some(line)) => line,
            (CheckStatus::Ok, None) => return,
            _ => format!("{}: {}", check.id, check.summary),
        };
        self.notes.push(line);
    }

    fn line(&self) -> String {
        let status = match self.status {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
        };
        format!("{}: {status} — {}", self.name, self.notes.join("; "))
    }
}

fn worst(a: CheckStatus, b: CheckStatus) -> CheckStatus {
    match (a, b) {
        (CheckStatus::Fail, _) | (_, CheckStatus::Fail) => CheckStatus::Fail,
        (CheckStatus::Warn, _) | (_, CheckStatus::Warn) => CheckStatus::Warn,
        _ => CheckStatus::Ok,
    }
}

/// The signed-in accounts other than `default` (local metadata only).
pub(super) async fn others(parent: &Probe) -> Vec<String> {
    let paths = parent.paths.clone();
    let names = blocking("accounts_upstream", move || accounts::list(&paths))
        .await
        .unwrap_or_default();
    names.into_iter().filter(|n| n != DEFAULT_ACCOUNT).collect()
}

/// Runs the non-live checks of every account in `names` (those other than `default`): its credential
/// store, its sign-in, its refresh token (`refresh`: as `airelays doctor` does for
/// `default`; `None` inside the relay, which spends nothing), its model catalogue
/// and its plan usage.
pub(super) async fn probe_others(
    parent: &Probe,
    names: Vec<String>,
    refresh: Option<bool>,
) -> Vec<AccountProbe> {
    let mut out = Vec::new();
    for name in names {
        let paths = accounts::account_paths(&parent.paths, &name);
        let mut one = AccountProbe {
            probe: Probe::new(&paths, &parent.config, parent.env),
            name,
            status: CheckStatus::Ok,
            notes: Vec::new(),
        };
        let store = signin::store(&mut one.probe).await;
        one.note(&store, None);
        let signed_in = signin::signed_in(&mut one.probe);
        let who = signed_in.summary.clone();
        one.note(&signed_in, Some(who));
        if let Some(live) = refresh.filter(|_| one.probe.creds.is_some()) {
            let check = signin::refresh(&mut one.probe, live).await;
            one.note(&check, None);
        }
        upstream::fetch(&mut one.probe).await;
        let catalogue = upstream::catalogue(&one.probe);
        let listed = format!("the backend lists {} models", catalogue.details.len());
        one.note(&catalogue, Some(listed));
        let usage = upstream::usage(&one.probe).await;
        let summary = format!("usage: {}", usage.summary);
        one.note(&usage, Some(summary));
        out.push(one);
    }
    out
}

/// `accounts_upstream`: one line per other account; `None` without one.
pub(super) fn upstream_check(others: &[AccountProbe]) -> Option<Check> {
    judge("accounts_upstream", others, "checked")
}

/// `accounts_live` (`--live`): the streamed probe on each other account, on `model`
/// or its own catalogue's `*-mini` model; `None` without another account.
pub(super) async fn live_check(others: &mut [AccountProbe], model: Option<&str>) -> Option<Check> {
    for one in others.iter_mut() {
        one.status = CheckStatus::Ok;
        one.notes.clear();
        let (check, _) = live::probe_answer(&one.probe, model).await;
        let summary = check.summary.clone();
        one.note(&check, Some(summary));
    }
    judge("accounts_live", others, "answered the live probe")
}

/// Warns when some account has a problem (the relay fails over to the others;
/// `default`'s own checks are the ones that fail), with the next step for the
/// first one.
fn judge(id: &'static str, others: &[AccountProbe], verb: &str) -> Option<Check> {
    if others.is_empty() {
        return None;
    }
    let details = others.iter().map(AccountProbe::line).collect();
    let bad: Vec<&str> = others
        .iter()
        .filter(|o| o.status != CheckStatus::Ok)
        .map(|o| o.name.as_str())
        .collect();
    let Some(first) = bad.first() else {
        let summary = format!("{} other account(s) {verb}: all ok", others.len());
        return Some(Check::ok(id, summary).with_details(details));
    };
    let summary = format!(
        "{} of {} other account(s) have a problem: {}",
        bad.len(),
        others.len(),
        bad.join(", ")
    );
    let hint = format!(
        "see the line of {first}; `airelays login --account {first}` when its sign-in is refused or expired"
    );
    Some(Check::warn(id, summary, hint).with_details(details))
}
