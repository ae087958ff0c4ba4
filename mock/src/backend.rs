//! The ChatGPT backend (`https://chatgpt.com/backend-api`): `/codex/responses`,
//! `/codex/models` and `/wham/usage`, with the bearer and account checks they share.

use std::sync::Arc;

use hyper::header::{CONTENT_TYPE, ETAG, HeaderValue};
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::accounts::AccountOutcome;
use crate::catalog::{self, PRIMARY, Window};
use crate::reply::{self, Body};
use crate::script;
use crate::server::{DropConnection, MockRequest};
use crate::sse::{self, StreamFault, StreamSpec};
use crate::state::{Fault, MockState, bump, lock};
use crate::tokens::{AccessCheck, random_hex, unix_now};

/// Parameters the backend refuses with `Unsupported parameter: <name>` (when not null).
const UNSUPPORTED_PARAMETERS: [&str; 15] = [
    "temperature",
    "top_p",
    "max_output_tokens",
    "metadata",
    "truncation",
    "background",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "top_logprobs",
    "safety_identifier",
    "prompt_cache_retention",
    "user",
    "max_tokens",
    "max_completion_tokens",
];

fn unauthorized(state: &MockState) -> Response<Body> {
    bump(&state.counters.unauthorized);
    reply::detail(StatusCode::UNAUTHORIZED, "Unauthorized")
}

/// The error response when the request lacks a live bearer token whose account matches
/// `ChatGPT-Account-ID`; `None` when it may proceed.
fn auth_failure(state: &MockState, request: &MockRequest) -> Option<Response<Body>> {
    let token = request.header("authorization").and_then(|h| {
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let Some(token) = token else {
        return Some(unauthorized(state));
    };
    let check = lock(&state.tokens).check_access(token);
    let AccessCheck::Valid { account_id } = check else {
        return Some(unauthorized(state));
    };
    match request.header("chatgpt-account-id") {
        None => Some(reply::detail(
            StatusCode::FORBIDDEN,
            "Missing ChatGPT-Account-ID header",
        )),
        Some(id) if id.trim() != account_id => Some(reply::detail(
            StatusCode::FORBIDDEN,
            "ChatGPT-Account-ID does not match the access token's account",
        )),
        Some(_) => None,
    }
}

/// The account of a request whose token `auth_failure` accepted.
fn account_of(state: &MockState, request: &MockRequest) -> Option<String> {
    let token = request.header("authorization")?.split_once(' ')?.1.trim();
    match lock(&state.tokens).check_access(token) {
        AccessCheck::Valid { account_id } => Some(account_id),
        AccessCheck::Invalid => None,
    }
}

/// With a catalogue of its own, the refusal of a model that is not in it.
fn missing_model(state: &MockState, account_id: &str, body: &Value) -> Option<String> {
    let catalogue = state.accounts.models(account_id)?;
    let model = body.get("model")?.as_str()?;
    let known = catalogue
        .models
        .iter()
        .any(|m| m.get("slug").and_then(Value::as_str) == Some(model));
    (!known).then(|| {
        format!("The '{model}' model is not supported when using Codex with a ChatGPT account.")
    })
}

/// Applies the account's weekly-usage knob to an answer's `x-codex-*` headers.
fn account_usage_headers(
    state: &MockState,
    account_id: Option<&str>,
    response: &mut Response<Body>,
) {
    if let Some(used) = account_id.and_then(|a| state.accounts.weekly_used(a)) {
        reply::set_header(
            response,
            "x-codex-secondary-used-percent",
            &used.to_string(),
        );
    }
}

/// The docs/upstream.md#request-body-rules checks, in a fixed order; `Err` holds the `detail` text.
fn validate(body: &Value) -> Result<(), String> {
    let Some(fields) = body.as_object() else {
        return Err("Request body must be a JSON object".to_owned());
    };
    let present = |key: &str| fields.get(key).is_some_and(|v| !v.is_null());
    if fields.get("stream") != Some(&Value::Bool(true)) {
        return Err("Stream must be set to true".to_owned());
    }
    if fields.get("store") != Some(&Value::Bool(false)) {
        return Err("Store must be set to false".to_owned());
    }
    if !fields.get("instructions").is_some_and(Value::is_string) {
        return Err("Instructions are required".to_owned());
    }
    let Some(input) = fields.get("input").and_then(Value::as_array) else {
        return Err("Input must be a list".to_owned());
    };
    if let Some(name) = UNSUPPORTED_PARAMETERS.iter().find(|name| present(name)) {
        return Err(format!("Unsupported parameter: {name}"));
    }
    if input
        .iter()
        .any(|item| item.get("role").and_then(Value::as_str) == Some("system"))
    {
        return Err("System messages are not allowed".to_owned());
    }
    Ok(())
}

fn request_id() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Headers every `/responses` answer carries (200s and 429s alike).
fn add_rate_limit_headers(state: &MockState, response: &mut Response<Body>, primary: &Window) {
    let plan = &state.config().account.plan;
    for (name, value) in catalog::rate_limit_headers(primary, plan) {
        reply::set_header(response, name, &value);
    }
    reply::set_header(
        response,
        "x-models-etag",
        &state.with_knobs(|k| k.models.etag.clone()),
    );
    reply::set_header(response, "x-oai-request-id", &request_id());
}

fn usage_limit(state: &MockState, resets_in_seconds: u64) -> Response<Body> {
    let plan = &state.config().account.plan;
    let mut response = reply::json(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({
            "error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": plan,
                "resets_at": unix_now() + resets_in_seconds,
                "eligible_promo": null,
                "resets_in_seconds": resets_in_seconds,
            }
        }),
    );
    let exhausted = Window {
        used_percent: 100,
        window_minutes: PRIMARY.window_minutes,
        reset_after_seconds: resets_in_seconds,
    };
    add_rate_limit_headers(state, &mut response, &exhausted);
    response
}

fn is_websocket_upgrade(request: &MockRequest) -> bool {
    request
        .header("upgrade")
        .is_some_and(|u| u.to_ascii_lowercase().contains("websocket"))
}

/// `POST /backend-api/codex/responses`.
pub(crate) async fn responses(
    state: &Arc<MockState>,
    request: MockRequest,
) -> Result<Response<Body>, DropConnection> {
    bump(&state.counters.responses);
    if is_websocket_upgrade(&request) {
        return Ok(reply::detail(
            StatusCode::UPGRADE_REQUIRED,
            "Upgrade Required",
        ));
    }
    if request.method != Method::POST {
        return Ok(reply::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        ));
    }
    if let Some(response) = auth_failure(state, &request) {
        return Ok(response);
    }
    let account_id = account_of(state, &request);
    let outcome = account_id
        .as_deref()
        .and_then(|a| state.accounts.on_responses(a));
    let account_fault = match outcome {
        Some(AccountOutcome::UsageLimit { resets_in_seconds }) => {
            return Ok(usage_limit(state, resets_in_seconds));
        }
        Some(AccountOutcome::Rejected) => return Ok(unauthorized(state)),
        Some(AccountOutcome::Fault(fault)) => Some(fault),
        None => None,
    };
    if let Some(encoding) = request
        .header("content-encoding")
        .filter(|e| !e.eq_ignore_ascii_case("identity"))
    {
        return Ok(reply::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Content-Encoding {encoding} is not supported by the mock upstream"),
        ));
    }
    if let Err(detail) = validate(&request.body) {
        return Ok(reply::detail(StatusCode::BAD_REQUEST, &detail));
    }
    if let Some(detail) = account_id
        .as_deref()
        .and_then(|a| missing_model(state, a, &request.body))
    {
        return Ok(reply::detail(StatusCode::BAD_REQUEST, &detail));
    }
    if let Some(item) = account_id
        .as_deref()
        .and_then(|a| state.accounts.foreign_encrypted(a, &request.body))
    {
        return Ok(reply::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": {
                "message": format!("The encrypted content for item {item} could not be verified."),
                "type": "invalid_request_error",
                "param": null,
                "code": "invalid_encrypted_content",
            }}),
        ));
    }
    let script = match script::decide(&request.body) {
        Ok(script) => script,
        Err(problem) => return Ok(reply::detail(StatusCode::BAD_REQUEST, &problem)),
    };
    let fault = account_fault
        .or_else(|| state.take_fault())
        .or(script.fault);
    let stream_fault = match fault {
        None => None,
        Some(Fault::StallBeforeHeaders(duration)) => {
            tokio::time::sleep(duration).await;
            None
        }
        Some(Fault::ResetBeforeHeaders) => return Err(DropConnection),
        Some(Fault::UsageLimit { resets_in_seconds }) => {
            return Ok(usage_limit(state, resets_in_seconds));
        }
        Some(Fault::RateLimited429) => {
            let mut response = reply::json(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"error": {
                    "type": "rate_limit_exceeded",
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit reached. Please try again later.",
                }}),
            );
            add_rate_limit_headers(state, &mut response, &PRIMARY);
            return Ok(response);
        }
        Some(Fault::Status500) => {
            return Ok(reply::detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ));
        }
        Some(Fault::Overloaded503) => {
            return Ok(reply::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": {
                    "code": "server_is_overloaded",
                    "message": "Our servers are currently overloaded. Please try again later.",
                    "type": "service_unavailable_error",
                }}),
            ));
        }
        Some(Fault::Unauthorized401) => return Ok(unauthorized(state)),
        Some(Fault::BadRequest(detail)) => {
            return Ok(reply::detail(StatusCode::BAD_REQUEST, &detail));
        }
        Some(Fault::Failed { code, message }) => Some(StreamFault::Failed { code, message }),
        Some(Fault::Incomplete { reason }) => Some(StreamFault::Incomplete { reason }),
        Some(Fault::CutMidStream) => Some(StreamFault::Cut),
        Some(Fault::StallAfterFirstEvent(d)) => Some(StreamFault::StallAfterFirstEvent(d)),
        Some(Fault::MalformedSse) => Some(StreamFault::Malformed),
        Some(Fault::HugeLine { bytes }) => Some(StreamFault::HugeLine(bytes)),
    };
    let model = request
        .body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("gpt-5.5")
        .to_owned();
    let spec = StreamSpec {
        model: model.clone(),
        reasoning: script.reasoning,
        answer: script.answer,
        fault: stream_fault,
        input_tokens: (request.raw_len as u64).div_ceil(4),
        encrypted_owner: account_id
            .as_deref()
            .and_then(|a| state.accounts.encrypted_owner(a)),
    };
    let mut response = Response::new(sse::stream(state, spec));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    add_rate_limit_headers(state, &mut response, &PRIMARY);
    account_usage_headers(state, account_id.as_deref(), &mut response);
    reply::set_header(
        &mut response,
        "x-codex-turn-state",
        &format!("ts_{}", random_hex(12)),
    );
    reply::set_header(&mut response, "openai-model", &model);
    Ok(response)
}

/// `GET /backend-api/codex/models?client_version=X` → `{"models":[…]}` with an `ETag`.
pub(crate) fn models(state: &MockState, request: &MockRequest) -> Response<Body> {
    bump(&state.counters.models);
    if let Some(response) = auth_failure(state, request) {
        return response;
    }
    let (failure, mut catalogue) = state.with_knobs(|k| (k.models_failure, k.models.clone()));
    if let Some(own) = account_of(state, request).and_then(|a| state.accounts.models(&a)) {
        catalogue = own;
    }
    if failure {
        return reply::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    let etag = catalogue.etag;
    let mut response = if request.header("if-none-match") == Some(etag.as_str()) {
        let mut response = Response::new(reply::full(bytes::Bytes::new()));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        reply::json(StatusCode::OK, &json!({ "models": *catalogue.models }))
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// `GET /backend-api/wham/usage` → the rate-limit status payload (docs/upstream.md#usage-endpoint).
pub(crate) fn usage(state: &MockState, request: &MockRequest) -> Response<Body> {
    bump(&state.counters.usage);
    if let Some(response) = auth_failure(state, request) {
        return response;
    }
    let (payload, failure) = state.with_knobs(|k| (k.usage.clone(), k.usage_failure));
    if failure {
        return reply::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    let mut payload =
        payload.unwrap_or_else(|| catalog::usage_payload(&state.config().account.plan));
    let used = account_of(state, request).and_then(|a| state.accounts.weekly_used(&a));
    if let (Some(used), Some(window)) = (
        used,
        payload
            .pointer_mut("/rate_limit/secondary_window")
            .and_then(Value::as_object_mut),
    ) {
        window.insert("used_percent".into(), json!(used));
    }
    reply::json(StatusCode::OK, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_body() -> Value {
        json!({"model": "m", "instructions": "", "input": [], "stream": true, "store": false})
    }

    #[test]
    fn validation_messages() {
        assert_eq!(validate(&ok_body()), Ok(()));
        let case = |key: &str, value: Value| {
            let mut body = ok_body();
            body[key] = value;
            validate(&body).unwrap_err()
        };
        assert_eq!(case("stream", json!(false)), "Stream must be set to true");
        assert_eq!(case("store", json!(true)), "Store must be set to false");
        assert_eq!(
            case("instructions", Value::Null),
            "Instructions are required"
        );
        assert_eq!(case("input", json!("hi")), "Input must be a list");
        assert_eq!(case("seed", json!(1)), "Unsupported parameter: seed");
        assert_eq!(
            case("input", json!([{"role": "system", "content": "x"}])),
            "System messages are not allowed"
        );
        let mut with_null = ok_body();
        with_null["temperature"] = Value::Null;
        assert_eq!(validate(&with_null), Ok(()));
        let mut without_store = ok_body();
        without_store.as_object_mut().unwrap().remove("store");
        assert_eq!(
            validate(&without_store).unwrap_err(),
            "Store must be set to false"
        );
    }
}
