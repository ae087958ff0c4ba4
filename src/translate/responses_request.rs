//! `POST /v1/responses` → upstream body (docs/architecture.md#responses-translation).
//!
//! Near pass-through: the relay changes only what the upstream would reject and
//! forwards every field, item and tool shape it does not know untouched (Codex
//! sends `namespace` and `web_search` tools, `developer` messages, items with ids;
//! several SDKs send input items without `"type"`).

use serde_json::{Map, Value};

use super::{
    TranslateError, TranslateOptions, UpstreamRequest, check_store, ensure_include_reasoning,
    optional_bool, parse_body, take_model, user_text_item,
};

/// Translates a Responses API request body into the upstream body.
pub fn prepare(body: &[u8], opts: &TranslateOptions) -> Result<UpstreamRequest, TranslateError> {
    prepare_map(parse_body(body)?, opts)
}

/// [`prepare`] on an already parsed body; the chat route uses it for Responses-shaped
/// bodies.
pub(crate) fn prepare_map(
    body: Map<String, Value>,
    opts: &TranslateOptions,
) -> Result<UpstreamRequest, TranslateError> {
    let model = take_model(&body)?;
    check_store(body.get("store"))?;
    for param in ["previous_response_id", "conversation"] {
        if body.get(param).is_some_and(|v| !v.is_null()) {
            return Err(TranslateError::param(
                param,
                format!(
                    "`{param}` is not supported: the ChatGPT backend stores no responses or conversations. Resend the full conversation in `input` instead."
                ),
            )
            .code("unsupported_parameter"));
        }
    }
    if optional_bool(body.get("background"), "background")? == Some(true) {
        return Err(TranslateError::param(
            "background",
            "`background: true` is not supported: the relay answers while the request is open and keeps no background jobs. Remove `background` or set it to false.",
        )
        .code("unsupported_parameter"));
    }
    let client_stream = optional_bool(body.get("stream"), "stream")?.unwrap_or(false);

    let mut ignored_parameters = Vec::new();
    let mut upstream = Map::with_capacity(body.len() + 4);
    for (key, value) in body {
        if opts.is_unsupported(&key) {
            if !value.is_null() {
                ignored_parameters.push(key);
            }
            continue;
        }
        match key.as_str() {
            "previous_response_id" | "conversation" | "background" => {}
            "input" => {
                upstream.insert(key, translate_input(value)?);
            }
            "instructions" => {
                let empty = match &value {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    _ => false,
                };
                if !empty {
                    upstream.insert(key, value);
                }
            }
            _ => {
                upstream.insert(key, value);
            }
        }
    }
    if !upstream.contains_key("instructions") {
        upstream.insert(
            "instructions".to_owned(),
            Value::from(opts.default_instructions),
        );
    }
    if !upstream.contains_key("input") {
        upstream.insert("input".to_owned(), Value::Array(Vec::new()));
    }
    upstream.insert("stream".to_owned(), Value::Bool(true));
    upstream.insert("store".to_owned(), Value::Bool(false));
    if upstream.get("reasoning").is_some_and(|r| !r.is_null()) {
        ensure_include_reasoning(&mut upstream)?;
    }

    Ok(UpstreamRequest {
        body: upstream,
        model,
        client_stream,
        ignored_parameters,
        signed_reasoning: Vec::new(),
    })
}

/// `input` as the list the upstream requires: a string becomes one user message.
fn translate_input(input: Value) -> Result<Value, TranslateError> {
    match input {
        Value::Null => Ok(Value::Array(Vec::new())),
        Value::String(text) => Ok(Value::Array(vec![user_text_item(text)])),
        Value::Array(mut items) => {
            items.iter_mut().for_each(system_to_developer);
            Ok(Value::Array(items))
        }
        _ => Err(TranslateError::invalid_type(
            "input",
            "a string or an array of input items",
        )),
    }
}

/// The backend rejects `system` input items; `developer` is its equivalent.
fn system_to_developer(item: &mut Value) {
    let Value::Object(item) = item else {
        return;
    };
    let is_message = match item.get("type") {
        None => true,
        Some(Value::String(t)) => t == "message",
        Some(_) => false,
    };
    if is_message && item.get("role").and_then(Value::as_str) == Some("system") {
        item.insert("role".to_owned(), Value::from("developer"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::DEFAULT_UNSUPPORTED_PARAMETERS;
    use crate::translate::fixtures;
    use serde_json::json;

    fn unsupported() -> Vec<String> {
        DEFAULT_UNSUPPORTED_PARAMETERS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    fn run(body: Value) -> Result<UpstreamRequest, TranslateError> {
        let list = unsupported();
        let opts = TranslateOptions {
            unsupported_parameters: &list,
            default_instructions: "Be helpful.",
            reasoning_summaries: false,
        };
        prepare(body.to_string().as_bytes(), &opts)
    }

    fn ok(body: Value) -> UpstreamRequest {
        run(body).expect("translates")
    }

    fn err(body: Value) -> TranslateError {
        run(body).expect_err("rejected")
    }

    #[test]
    fn string_input_becomes_one_user_message() {
        let req = ok(json!({"model":"gpt-5.5","stream":true,"input":"ping"}));
        assert_eq!(
            Value::Object(req.body),
            json!({
                "model":"gpt-5.5",
                "stream":true,
                "instructions":"Be helpful.",
                "input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"ping"}]}],
                "store":false
            })
        );
        assert_eq!(req.model, "gpt-5.5");
        assert!(req.client_stream);
        assert!(req.ignored_parameters.is_empty());
    }

    #[test]
    fn non_streaming_clients_are_still_streamed_upstream() {
        let req = ok(json!({"model":"m","input":"hi"}));
        assert!(!req.client_stream);
        assert_eq!(req.body["stream"], json!(true));
        assert_eq!(req.body["store"], json!(false));
        let req = ok(json!({"model":"m","input":"hi","stream":false,"store":false}));
        assert!(!req.client_stream);
        assert_eq!(req.body["stream"], json!(true));
    }

    #[test]
    fn store_true_is_rejected() {
        let e = err(json!({"model":"m","input":"hi","store":true}));
        assert_eq!(e.param.as_deref(), Some("store"));
        assert!(e.message.contains("stores nothing"));
    }

    #[test]
    fn previous_response_id_and_conversation_are_rejected() {
        for param in ["previous_response_id", "conversation"] {
            let e = err(json!({"model":"m","input":"hi", param: "resp_1"}));
            assert_eq!(e.param.as_deref(), Some(param));
            assert!(e.message.contains("full conversation"), "{}", e.message);
        }
        let req = ok(json!({"model":"m","input":"hi","previous_response_id":null}));
        assert!(!req.body.contains_key("previous_response_id"));
    }

    #[test]
    fn model_is_required_and_must_be_a_string() {
        assert_eq!(err(json!({"input":"hi"})).param.as_deref(), Some("model"));
        assert_eq!(
            err(json!({"model":5,"input":"hi"})).param.as_deref(),
            Some("model")
        );
        assert_eq!(
            err(json!({"model":"","input":"hi"})).param.as_deref(),
            Some("model")
        );
    }

    #[test]
    fn wrong_types_are_rejected() {
        assert_eq!(
            err(json!({"model":"m","input":5})).param.as_deref(),
            Some("input")
        );
        assert_eq!(
            err(json!({"model":"m","input":"x","stream":"yes"}))
                .param
                .as_deref(),
            Some("stream")
        );
        assert_eq!(
            err(json!({"model":"m","input":"x","reasoning":{},"include":"x"}))
                .param
                .as_deref(),
            Some("include")
        );
    }

    #[test]
    fn malformed_bodies_are_rejected_with_position() {
        let list = unsupported();
        let opts = TranslateOptions {
            unsupported_parameters: &list,
            default_instructions: "",
            reasoning_summaries: false,
        };
        let e = prepare(b"{\"model\":\"m\",", &opts).expect_err("truncated");
        assert!(e.message.contains("line 1 column"), "{}", e.message);
        let e = prepare(b"\"text\"", &opts).expect_err("not an object");
        assert!(e.message.contains("JSON object"));
    }

    #[test]
    fn missing_or_empty_instructions_get_the_default() {
        for body in [
            json!({"model":"m","input":"x"}),
            json!({"model":"m","input":"x","instructions":""}),
            json!({"model":"m","input":"x","instructions":null}),
        ] {
            assert_eq!(ok(body).body["instructions"], json!("Be helpful."));
        }
        let req = ok(json!({"model":"m","input":"x","instructions":"Mine."}));
        assert_eq!(req.body["instructions"], json!("Mine."));
    }

    #[test]
    fn system_items_become_developer_items() {
        let req = ok(json!({"model":"m","input":[
            {"role":"system","content":"untyped"},
            {"type":"message","role":"system","content":[{"type":"input_text","text":"typed"}]},
            {"type":"message","role":"developer","content":"dev"},
            {"type":"function_call_output","role":"system","call_id":"c","output":"x"},
            {"role":"user","content":"hi"}
        ]}));
        assert_eq!(
            req.body["input"],
            json!([
                {"role":"developer","content":"untyped"},
                {"type":"message","role":"developer","content":[{"type":"input_text","text":"typed"}]},
                {"type":"message","role":"developer","content":"dev"},
                {"type":"function_call_output","role":"system","call_id":"c","output":"x"},
                {"role":"user","content":"hi"}
            ])
        );
    }

    #[test]
    fn unsupported_parameters_are_removed_in_request_order() {
        let req = ok(json!({
            "top_p":0.5,"model":"m","max_output_tokens":100,"input":"x",
            "temperature":0.2,"metadata":null,"custom_field":{"a":1}
        }));
        assert_eq!(
            req.ignored_parameters,
            ["top_p", "max_output_tokens", "temperature"]
        );
        for p in ["top_p", "max_output_tokens", "temperature", "metadata"] {
            assert!(!req.body.contains_key(p), "{p}");
        }
        assert_eq!(req.body["custom_field"], json!({"a":1}));
    }

    #[test]
    fn the_unsupported_list_is_configurable() {
        let list = vec!["service_tier".to_owned()];
        let opts = TranslateOptions {
            unsupported_parameters: &list,
            default_instructions: "d",
            reasoning_summaries: false,
        };
        let body = json!({"model":"m","input":"x","service_tier":"priority","temperature":1});
        let req = prepare(body.to_string().as_bytes(), &opts).expect("translates");
        assert_eq!(req.ignored_parameters, ["service_tier"]);
        assert_eq!(req.body["temperature"], json!(1));
    }

    #[test]
    fn reasoning_requests_the_encrypted_content() {
        let req = ok(json!({"model":"m","input":"x","reasoning":{"effort":"high"}}));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
        let req = ok(
            json!({"model":"m","input":"x","reasoning":{"effort":"high"},
            "include":["message.output_text.logprobs"]}),
        );
        assert_eq!(
            req.body["include"],
            json!([
                "message.output_text.logprobs",
                "reasoning.encrypted_content"
            ])
        );
        let req = ok(json!({"model":"m","input":"x","reasoning":{},
            "include":["reasoning.encrypted_content"]}));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
        let req = ok(json!({"model":"m","input":"x","reasoning":null}));
        assert!(!req.body.contains_key("include"));
    }

    #[test]
    fn codex_body_is_forwarded_untouched() {
        let raw = fixtures::CODEX_RESPONSES;
        let original: Value = serde_json::from_str(raw).expect("fixture");
        let req = run(original.clone()).expect("translates");
        let mut expected = original.as_object().cloned().expect("object");
        expected.insert("instructions".to_owned(), json!("Be helpful."));
        assert_eq!(req.body, expected);
        assert!(
            req.body.keys().eq(expected.keys()),
            "fields keep their order"
        );
        assert!(req.ignored_parameters.is_empty());
        assert!(req.client_stream);
    }

    #[test]
    fn opencode_responses_body() {
        let body: Value = serde_json::from_str(fixtures::OPENCODE_RESPONSES).expect("fixture");
        let req = run(body).expect("translates");
        assert_eq!(req.ignored_parameters, ["max_output_tokens"]);
        assert_eq!(req.body["input"][0]["role"], json!("developer"));
        assert_eq!(
            req.body["input"][1]["content"][0]["type"],
            json!("input_text")
        );
        assert_eq!(req.body["prompt_cache_key"], json!("ses_abc123"));
        assert_eq!(req.body["tools"][0]["strict"], json!(false));
        assert_eq!(req.body["store"], json!(false));
    }

    #[test]
    fn ai_sdk_and_llm_bodies() {
        let body: Value =
            serde_json::from_str(fixtures::AI_SDK_RESPONSES_TOOL_LOOP).expect("fixture");
        let req = run(body.clone()).expect("translates");
        assert_eq!(req.body["input"], body["input"]);
        assert_eq!(req.body["tools"], body["tools"]);
        assert!(!req.client_stream);

        let body: Value = serde_json::from_str(fixtures::LLM_RESPONSES).expect("fixture");
        let req = run(body.clone()).expect("translates");
        assert_eq!(
            req.body["input"],
            json!([{"role":"user","content":"say pong"}])
        );
        assert!(req.client_stream);
    }
}
