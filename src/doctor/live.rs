//! The `--live` checks: a minimal streamed answer and a tool-call round trip against
//! the backend, on the listed `*-mini` model (else the plan's default; `--model`
//! overrides), reporting the tokens they used. No output-token limit is ever sent:
//! the backend rejects `max_output_tokens` (docs/upstream.md, "Rejected parameters").

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Check, Probe, Run};
use crate::upstream::events::UpstreamEvent;

/// The longest one live exchange may take, answer streamed in full.
const LIVE_TIMEOUT: Duration = Duration::from_secs(90);

/// The function the tool round trip offers.
const TOOL: &str = "airelays_doctor_echo";

/// What one streamed exchange returned.
#[derive(Default)]
struct Answer {
    text: String,
    calls: Vec<Value>,
    tokens: u64,
}

/// `live_probe` and `live_tools`.
pub(super) async fn steps(run: &mut Run<'_>, probe: &Probe, model: Option<&str>) {
    run.begin("live probe", true);
    let (check, model) = probe_answer(probe, model).await;
    let probed = check.status == super::CheckStatus::Ok;
    run.end(check);
    if let (true, Some(model)) = (probed, model) {
        run.begin("live tool round trip", true);
        let check = tool_round_trip(probe, &model).await;
        run.end(check);
    }
}

/// `live_probe`: a streamed "Reply with OK." on `model`, else the catalogue's
/// `*-mini` model; the check and the model probed.
pub(super) async fn probe_answer(probe: &Probe, model: Option<&str>) -> (Check, Option<String>) {
    let catalogue = probe
        .catalogue
        .as_ref()
        .and_then(|c| c.outcome.as_ref().ok());
    let model = model
        .map(String::from)
        .or_else(|| catalogue.and_then(|(models, _)| pick_model(models)));
    let Some(model) = model else {
        let check = Check::fail(
            "live_probe",
            "no model to probe: the catalogue could not be read",
            "fix the `upstream` check first, or name one with `--model`",
        );
        return (check, None);
    };
    if probe.access.is_none() {
        let check = Check::fail(
            "live_probe",
            "no usable access token",
            "fix the `signed_in` and `refresh` checks first (`airelays login`)",
        );
        return (check, Some(model));
    }
    let check = match exchange(probe, probe_body(&model)).await {
        Ok(a) => Check::ok(
            "live_probe",
            format!(
                "{model} answered {:?} in a streamed reply; {} tokens used",
                first_line(&a.text),
                a.tokens
            ),
        ),
        Err(e) => Check::fail("live_probe", format!("{model}: {e}"), hint_for(&e)),
    };
    (check, Some(model))
}

/// The listed model whose slug ends in `-mini`, else the listed one of lowest
/// `priority` (the plan's default).
fn pick_model(models: &[Value]) -> Option<String> {
    let mut sorted: Vec<Value> = models.to_vec();
    sorted.sort_by_key(|m| {
        m.get("priority")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX)
    });
    let listed = super::upstream::listed_models(&sorted);
    listed
        .iter()
        .find(|m| m.ends_with("-mini"))
        .or(listed.first())
        .cloned()
}

fn base_body(model: &str, input: Value) -> Value {
    json!({
        "model": model,
        "instructions": "You are a connectivity check. Answer as briefly as possible.",
        "input": input,
        "stream": true,
        "store": false,
    })
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn probe_body(model: &str) -> Value {
    base_body(model, json!([user("Reply with OK.")]))
}

fn tool_def() -> Value {
    json!({
        "type": "function",
        "name": TOOL,
        "description": "Echoes its text argument back. Used by a connectivity check.",
        "strict": false,
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    })
}

/// The prompt asks for the tool by name; `RUN_TOOL` is also what makes the mock
/// upstream call it.
const TOOL_PROMPT: &str =
    "Call the airelays_doctor_echo tool once with text \"RUN_TOOL\", then reply with its output.";

/// `live_tools`: the model calls the offered function, and answers its output.
async fn tool_round_trip(probe: &Probe, model: &str) -> Check {
    const ID: &str = "live_tools";
    let mut first = base_body(model, json!([user(TOOL_PROMPT)]));
    first["tools"] = json!([tool_def()]);
    first["tool_choice"] = json!("required");
    let a = match exchange(probe, first).await {
        Ok(a) => a,
        Err(e) => return Check::fail(ID, format!("{model}: {e}"), hint_for(&e)),
    };
    let Some(call) = a.calls.first() else {
        return Check::fail(
            ID,
            format!(
                "{model} answered without calling the tool: {:?}",
                first_line(&a.text)
            ),
            "try another model with `--model`",
        );
    };
    let call_id = call
        .get("call_id")
        .and_then(Value::as_str)
        .unwrap_or("call");
    let input = json!([
        user(TOOL_PROMPT),
        {
            "type": "function_call",
            "call_id": call_id,
            "name": call.get("name").and_then(Value::as_str).unwrap_or(TOOL),
            "arguments": call.get("arguments").and_then(Value::as_str).unwrap_or("{}"),
        },
        {"type": "function_call_output", "call_id": call_id, "output": "doctor-ok"},
    ]);
    let mut second = base_body(model, input);
    second["tools"] = json!([tool_def()]);
    match exchange(probe, second).await {
        Ok(b) => Check::ok(
            ID,
            format!(
                "{model} called {TOOL} and answered its output: {:?}; {} tokens used",
                first_line(&b.text),
                a.tokens + b.tokens
            ),
        ),
        Err(e) => Check::fail(
            ID,
            format!("{model} called the tool, but the answer to its output failed: {e}"),
            hint_for(&e),
        ),
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(60).collect()
}

fn hint_for(error: &str) -> &'static str {
    if error.contains("HTTP 401") || error.contains("HTTP 403") {
        "run `airelays login`"
    } else if error.contains("HTTP 429") || error.contains("usage_limit") {
        "your ChatGPT plan's limit: wait until the reset time"
    } else if error.contains("HTTP 400") || error.contains("HTTP 404") {
        "try another model from the `upstream` check with `--model`"
    } else {
        "retry; check your network / HTTPS_PROXY"
    }
}

/// One streamed exchange, bounded by [`LIVE_TIMEOUT`].
async fn exchange(probe: &Probe, body: Value) -> Result<Answer, String> {
    let (Some(client), Some(access)) = (&probe.upstream, &probe.access) else {
        return Err("no upstream client or access token".into());
    };
    let body = Bytes::from(body.to_string());
    let read = async {
        let mut stream = client
            .post_responses(
                body,
                &access.access_token,
                &access.account_id,
                &http::HeaderMap::new(),
            )
            .await
            .map_err(|e| match e {
                crate::upstream::UpstreamError::Status { status, body, .. } => format!(
                    "HTTP {status} {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
                ),
                other => other.to_string(),
            })?;
        let mut answer = Answer::default();
        let mut done_items = Vec::new();
        while let Some(sse) = stream.next_event().await.map_err(|e| e.to_string())? {
            let event = UpstreamEvent::new(sse);
            if let Some(delta) = event.text_delta() {
                answer.text.push_str(&delta.delta);
            }
            if let Some(failure) = event.failure() {
                return Err(format!(
                    "the backend failed the answer: {}",
                    failure.code.unwrap_or_else(|| "unknown error".into())
                ));
            }
            let Some(json) = event.json() else { continue };
            if event.kind() == Some(crate::upstream::events::OUTPUT_ITEM_DONE) {
                done_items.extend(json.get("item").cloned());
            }
            if event.is_terminal() {
                let response = json.get("response").unwrap_or(&Value::Null);
                answer.tokens = response
                    .pointer("/usage/total_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let output = response.get("output").and_then(Value::as_array);
                let items = output.filter(|o| !o.is_empty()).unwrap_or(&done_items);
                answer.calls = items
                    .iter()
                    .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call"))
                    .cloned()
                    .collect();
                stream.release();
                return Ok(answer);
            }
        }
        Err("the stream ended before response.completed".into())
    };
    tokio::time::timeout(LIVE_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no complete answer within {} s",
                LIVE_TIMEOUT.as_secs()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mini_model_is_probed_else_the_default() {
        let models = json!([
            {"slug": "b", "priority": 1},
            {"slug": "a", "priority": 0},
            {"slug": "c-mini", "priority": 2},
            {"slug": "d-mini", "priority": 3, "visibility": "hide"}
        ]);
        assert_eq!(
            pick_model(models.as_array().unwrap()).as_deref(),
            Some("c-mini")
        );
        let models = json!([{"slug": "b", "priority": 1}, {"slug": "a", "priority": 0}]);
        assert_eq!(pick_model(models.as_array().unwrap()).as_deref(), Some("a"));
        assert_eq!(pick_model(&[]), None);
    }

    #[test]
    fn no_body_carries_an_output_token_limit() {
        let body = probe_body("m");
        assert_eq!(body["stream"], true);
        assert_eq!(body["store"], false);
        assert!(body.get("max_output_tokens").is_none());
        assert!(body["instructions"].is_string());
    }
}
