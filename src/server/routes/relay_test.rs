//! `POST /v1/relay/test`: the "Test" button for tools and dashboards. Runs the
//! non-live checks of `airelays doctor` that concern the relay and the upstream
//! (docs/doctor-json.md) — for every signed-in account — from inside the running
//! relay, reads every account's plan usage on demand, and answers the doctor's
//! JSON report.

use std::sync::Arc;

use http::StatusCode;

use super::{Answer, json_response};
use crate::doctor::{self, Check, Report};
use crate::server::AppState;

/// Runs the checks; the answer is 200 with `{"ok","checks"}` whatever they find.
pub(crate) async fn post(state: &Arc<AppState>) -> Answer {
    let mut checks = doctor::relay_checks(&state.paths, &state.config).await;
    crate::server::usage::poll_accounts(state).await;
    checks.push(usage_check(state));
    let report = serde_json::to_value(Report::of(checks)).unwrap_or_default();
    Ok(json_response(StatusCode::OK, &report))
}

/// `usage`: the relay's snapshot after the on-demand read.
fn usage_check(state: &AppState) -> Check {
    match state.usage.snapshot() {
        Some(s) => doctor::usage_check(&s, &state.config.usage),
        None => Check::warn(
            "usage",
            "not read: the relay has no usable sign-in, or the usage endpoint did not answer",
            "see the `signed_in` and `upstream` checks",
        ),
    }
}
