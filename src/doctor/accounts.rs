//! `accounts`: with two or more ChatGPT accounts signed in, each one's sign-in
//! (local metadata only: never the keychain, never the network); `account_pins`:
//! with `accounts.pin` rules, that each names a signed-in account.

use super::{Check, Probe, blocking};
use crate::status::AccountStatus;

/// Each account's sign-in, or `None` with fewer than two accounts (the check is
/// absent then, so single-account reports are unchanged).
pub(super) async fn check(probe: &Probe) -> Option<Check> {
    const ID: &str = "accounts";
    let (paths, config) = (probe.paths.clone(), probe.config.clone());
    let statuses = match blocking(ID, move || {
        crate::auth::accounts::local_statuses(&paths, &config)
    })
    .await
    {
        Ok(s) => s,
        Err(check) => return Some(check),
    };
    (statuses.len() >= 2).then(|| judge(ID, &statuses))
}

fn judge(id: &'static str, statuses: &[AccountStatus]) -> Check {
    let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let details = statuses
        .iter()
        .map(|a| {
            format!(
                "{}: {} — {} ({} plan){}",
                a.name,
                a.upstream.state.as_str(),
                unknown(&a.upstream.email),
                unknown(&a.upstream.plan),
                a.upstream
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let broken: Vec<&str> = statuses
        .iter()
        .filter(|a| a.upstream.state.needs_login())
        .map(|a| a.name.as_str())
        .collect();
    let login = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("`airelays login --account {n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let check = if broken.len() == statuses.len() {
        Check::fail(
            id,
            format!("none of the {} accounts can be used", statuses.len()),
            login(&broken),
        )
    } else if !broken.is_empty() {
        Check::warn(
            id,
            format!(
                "{} of {} accounts need a new login: {}",
                broken.len(),
                statuses.len(),
                broken.join(", ")
            ),
            login(&broken),
        )
    } else {
        Check::ok(id, format!("{} accounts signed in", statuses.len()))
    };
    check.with_details(details)
}

/// `account_pins`: every `accounts.pin` rule names a signed-in account (a rule
/// naming another account gets its requests refused with 403 until that account
/// signs in); `None` without rules, so reports without them are unchanged.
pub(super) async fn pins(probe: &Probe) -> Option<Check> {
    const ID: &str = "account_pins";
    let rules = probe.config.accounts.pin_rules().ok()?;
    if rules.is_empty() {
        return None;
    }
    let paths = probe.paths.clone();
    let names = match blocking(ID, move || crate::auth::accounts::list(&paths)).await {
        Ok(n) => n,
        Err(check) => return Some(check),
    };
    let unknown: Vec<_> = rules
        .iter()
        .filter(|r| !names.contains(&r.account))
        .collect();
    let Some(first) = unknown.first() else {
        return Some(Check::ok(
            ID,
            format!(
                "{} accounts.pin rule(s), each naming a signed-in account",
                rules.len()
            ),
        ));
    };
    let listed: Vec<String> = unknown
        .iter()
        .map(|r| format!("`{}` names {}, which is not signed in", r.text, r.account))
        .collect();
    Some(Check::warn(
        ID,
        format!(
            "{}: the requests it matches are refused (403 unknown_account)",
            listed.join("; ")
        ),
        format!(
            "`airelays login --account {}`, or change the rule in accounts.pin",
            first.account
        ),
    ))
}
