//! `GET /v1/relay/status`: the status document as the running relay sees it,
//! plus live counters.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Response, StatusCode};
use serde_json::json;

use super::json_response;
use crate::server::AppState;
use crate::server::body::Body;
use crate::status::{self, StatusInputs};

/// `/v1/relay/status` reads the usage endpoint again when its figures are older.
const ON_DEMAND_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(30);

/// How long `/v1/relay/status` waits for that read before it answers.
const ON_DEMAND_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The status document with the running relay's token, usage and live counters.
/// The plan's usage is read again first when the last reading is older than
/// [`ON_DEMAND_MIN_AGE`] (single-flight, with the fresh access token only); the
/// answer waits for that read at most [`ON_DEMAND_WAIT`], and the read goes on.
pub(crate) async fn get(state: &Arc<AppState>, ip: IpAddr) -> Response<Body> {
    let st = Arc::clone(state);
    let read = tokio::spawn(async move { st.usage.poll_if_older(&st, ON_DEMAND_MIN_AGE).await });
    let _ = tokio::time::timeout(ON_DEMAND_WAIT, read).await;
    let live_server = Some(state.relay.clone());
    let env = crate::config::process_env;
    let mut doc = status::collect(
        &state.paths,
        &state.config,
        &env,
        StatusInputs {
            upstream: state.credentials.status(),
            uploads: state.files.summary(),
            live_server,
            state: match &state.store {
                Some(store) => match store.unavailable() {
                    Some(reason) => Err(reason.to_owned()),
                    None => Ok(store.stats()),
                },
                None => Ok(Default::default()),
            },
        },
    );
    // The running relay knows its token better than the environment of this call.
    doc.relay_token.fingerprint = state.guard.verifier.fingerprint();
    doc.relay_token.present = doc.relay_token.fingerprint.is_some();
    doc.ready = status::is_ready(&doc.relay_token, doc.upstream.state);
    doc.next_steps.retain(|s| s != "airelays serve");
    doc.usage = state.usage.snapshot();
    doc.set_accounts(
        state.accounts.strategy().as_str(),
        state.accounts.statuses(),
    );
    let mut value = serde_json::to_value(&doc).unwrap_or_default();
    let c = &state.counters;
    value["live"] = json!({
        "requests": c.requests.load(Ordering::Relaxed),
        "active_streams": c.active_streams.load(Ordering::Relaxed),
        "upstream_requests_in_flight": c.upstream_in_flight.load(Ordering::Relaxed),
        "held_slots": state.guard.limits.held_slots(),
        "tracked_ips": state.guard.limits.tracked(),
        "caller": state.guard.limits.describe(ip),
        "log_lines_dropped": crate::server::log_writer::dropped_log_lines(),
        "traffic_log_lines_dropped": state.traffic.as_ref().map_or(0, |t| t.dropped()),
        "expansions_refused": c.expansions_refused.load(Ordering::Relaxed),
        "inline_file_reads": c.inline_file_reads.load(Ordering::Relaxed),
        "state": state.store.as_ref().map(|s| {
            let (written, dropped, queued) = s.counters();
            json!({"written": written, "dropped": dropped, "queued": queued})
        }),
        "connections": {"open": state.connections.open(), "max": state.connections.max(), "refused": state.connections.refused.load(Ordering::Relaxed)},
    });
    value["anthropic"] = json!({"aliases": super::messages::resolved_aliases(state)});
    json_response(StatusCode::OK, &value)
}
