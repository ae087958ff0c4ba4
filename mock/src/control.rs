//! The `/__mock/*` control API (routes listed in the crate docs), for users outside the test
//! process: benchmarks, real CLI clients, manual tries.

use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::reply::{self, Body};
use crate::server::MockRequest;
use crate::state::{Fault, MockState};

pub(crate) fn handle(state: &MockState, request: &MockRequest) -> Response<Body> {
    match (&request.method, request.path.as_str()) {
        (&Method::GET, "/__mock/state") => reply::json(StatusCode::OK, &state.counters_json()),
        (&Method::GET, "/__mock/requests") => match serde_json::to_value(state.requests()) {
            Ok(requests) => reply::json(StatusCode::OK, &requests),
            Err(e) => reply::detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        (&Method::POST, "/__mock/faults") => match Fault::from_json(&request.body) {
            Ok(fault) => {
                state.push_fault(fault);
                reply::json(
                    StatusCode::OK,
                    &json!({ "pending_faults": state.pending_faults() }),
                )
            }
            Err(problem) => reply::detail(StatusCode::BAD_REQUEST, &problem),
        },
        (&Method::POST, "/__mock/tokens") => match serde_json::to_value(state.issue_tokens()) {
            Ok(tokens) => reply::json(StatusCode::OK, &tokens),
            Err(e) => reply::detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        (&Method::POST, "/__mock/revoke-access-tokens") => {
            state.revoke_all_access_tokens();
            reply::json(StatusCode::OK, &Value::Object(Default::default()))
        }
        (&Method::POST, "/__mock/reset") => {
            state.reset();
            reply::json(StatusCode::OK, &Value::Object(Default::default()))
        }
        _ => reply::detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}
