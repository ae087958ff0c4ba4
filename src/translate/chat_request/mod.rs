//! `POST /v1/chat/completions` → upstream Responses body (docs/architecture.md,
//! "Chat Completions request translation").
//!
//! `system`/`developer` messages become `instructions`; the rest of the conversation
//! becomes Responses input items. Parameters whose removal would change the answer's
//! meaning are refused; parameters the upstream rejects, and chat parameters it has
//! no equivalent for, are dropped and disclosed.
//!
//! The work is split by concern: `params` (the parameter policy), `messages` (the
//! conversation), `parts` (user content parts) and `tools` (tools, tool choice and
//! response formats).

mod messages;
mod params;
mod parts;
mod tools;

use serde_json::{Map, Value};

use super::{
    TranslateError, TranslateOptions, UpstreamRequest, ensure_include_reasoning, parse_body,
    responses_request, take_model,
};
use messages::Conversation;
use params::ChatParams;

/// What the chat route needs to know about the request besides the upstream body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChatRequestInfo {
    /// `stream_options.include_usage`: end the stream with a usage chunk.
    pub include_usage: bool,
}

/// Translates a Chat Completions request body into the upstream body.
///
/// A Responses-shaped body (`input` and no `messages`) is translated with the
/// Responses rules; the caller still answers it in chat format.
pub fn prepare(
    body: &[u8],
    opts: &TranslateOptions,
) -> Result<(UpstreamRequest, ChatRequestInfo), TranslateError> {
    prepare_map(parse_body(body)?, opts)
}

/// [`prepare`] for a body that is already parsed.
pub(crate) fn prepare_map(
    mut body: Map<String, Value>,
    opts: &TranslateOptions,
) -> Result<(UpstreamRequest, ChatRequestInfo), TranslateError> {
    let info = ChatRequestInfo {
        include_usage: params::include_usage(body.get("stream_options"))?,
    };
    let has = |body: &Map<String, Value>, key: &str| body.get(key).is_some_and(|v| !v.is_null());
    if !has(&body, "messages") && has(&body, "input") {
        // Consumed here: the upstream has no chat stream options.
        body.shift_remove("stream_options");
        return Ok((responses_request::prepare_map(body, opts)?, info));
    }
    let model = take_model(&body)?;
    let ChatParams {
        messages,
        client_stream,
        ignored_parameters,
        translated,
    } = ChatParams::collect(body, opts)?;
    let mut conversation = Conversation::translate(required_messages(messages)?)?;

    let mut upstream = Map::with_capacity(16);
    upstream.insert("model".to_owned(), Value::String(model.clone()));
    let instructions = conversation.instructions(opts.default_instructions);
    upstream.insert("instructions".to_owned(), Value::String(instructions));
    upstream.insert("input".to_owned(), Value::Array(conversation.input));
    let reasoning_on = translated.write_into(&mut upstream, opts);
    upstream.insert("store".to_owned(), Value::Bool(false));
    upstream.insert("stream".to_owned(), Value::Bool(true));
    if reasoning_on {
        ensure_include_reasoning(&mut upstream)?;
    }

    Ok((
        UpstreamRequest {
            body: upstream,
            model,
            client_stream,
            ignored_parameters,
            signed_reasoning: Vec::new(),
        },
        info,
    ))
}

/// The `messages` array: present, an array, and not empty.
fn required_messages(messages: Option<Value>) -> Result<Vec<Value>, TranslateError> {
    match messages {
        Some(Value::Array(messages)) if !messages.is_empty() => Ok(messages),
        Some(Value::Array(_)) => Err(TranslateError::param(
            "messages",
            "`messages` is empty. Send at least one message.",
        )),
        None | Some(Value::Null) => {
            Err(TranslateError::missing("messages", "an array of messages"))
        }
        Some(_) => Err(TranslateError::invalid_type("messages", "an array")),
    }
}

/// Takes a required non-empty string field out of `map`.
fn take_string(
    map: &mut Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<String, TranslateError> {
    match map.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        None | Some(Value::Null) => Err(TranslateError::missing(
            format!("{param}.{key}"),
            "a string",
        )),
        Some(Value::String(_)) => Err(TranslateError::param(
            format!("{param}.{key}"),
            format!("`{param}.{key}` must not be empty."),
        )),
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.{key}"),
            "a string",
        )),
    }
}

/// The object `value`, or a type error naming `param`.
fn take_object(value: Value, param: &str) -> Result<Map<String, Value>, TranslateError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(TranslateError::invalid_type(param, "an object")),
    }
}

/// Takes a required string field out of `map`; an empty string is allowed.
fn take_string_allow_empty(
    map: &mut Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<String, TranslateError> {
    take_present_string(map, key, param, "a string")
}

/// Takes a required string field out of `map` (empty allowed); `missing` says what
/// the error for an absent field asks for.
fn take_present_string(
    map: &mut Map<String, Value>,
    key: &str,
    param: &str,
    missing: &str,
) -> Result<String, TranslateError> {
    match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(TranslateError::missing(format!("{param}.{key}"), missing)),
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.{key}"),
            "a string",
        )),
    }
}

#[cfg(test)]
mod test_support {
    //! Helpers shared by the tests of every part of the chat request translation.

    use serde_json::{Value, json};

    use super::{ChatRequestInfo, prepare};
    use crate::translate::{
        DEFAULT_UNSUPPORTED_PARAMETERS, TranslateError, TranslateOptions, UpstreamRequest,
    };

    fn unsupported() -> Vec<String> {
        DEFAULT_UNSUPPORTED_PARAMETERS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    pub(super) fn run_with(
        body: &Value,
        reasoning_summaries: bool,
    ) -> Result<(UpstreamRequest, ChatRequestInfo), TranslateError> {
        let list = unsupported();
        let opts = TranslateOptions {
            unsupported_parameters: &list,
            default_instructions: "Default.",
            reasoning_summaries,
        };
        prepare(body.to_string().as_bytes(), &opts)
    }

    pub(super) fn ok(body: Value) -> UpstreamRequest {
        run_with(&body, false).expect("translates").0
    }

    pub(super) fn err(body: Value) -> TranslateError {
        run_with(&body, false).expect_err("rejected")
    }

    pub(super) fn chat(messages: Value) -> Value {
        json!({"model":"gpt-5.5","messages":messages})
    }

    pub(super) fn input_of(messages: Value) -> Value {
        ok(chat(messages)).body["input"].clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::test_support::{chat, err, ok, run_with};
    use crate::translate::fixtures;

    #[test]
    fn simple_user_message() {
        let (req, info) = run_with(
            &fixtures::OPENAI_PYTHON_CHAT.parse().expect("fixture"),
            false,
        )
        .expect("translates");
        assert_eq!(
            Value::Object(req.body),
            json!({
                "model":"mock-model",
                "instructions":"Default.",
                "input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"ping"}]}],
                "store":false,
                "stream":true
            })
        );
        assert!(req.client_stream);
        assert!(info.include_usage);
        assert_eq!(req.model, "mock-model");
    }

    #[test]
    fn model_and_messages_are_required() {
        assert_eq!(
            err(json!({"messages":[{"role":"user","content":"x"}]}))
                .param
                .as_deref(),
            Some("model")
        );
        assert_eq!(err(json!({"model":"m"})).param.as_deref(), Some("messages"));
        assert_eq!(
            err(json!({"model":"m","messages":[]})).param.as_deref(),
            Some("messages")
        );
        assert_eq!(
            err(json!({"model":"m","messages":{}})).param.as_deref(),
            Some("messages")
        );
        assert_eq!(
            err(json!({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":true})).param.as_deref(),
            Some("stream_options")
        );
    }

    #[test]
    fn responses_shaped_body_uses_the_responses_rules() {
        let body = json!({"model":"m","input":"hi","stream":true,"stream_options":{"include_usage":true},
            "temperature":1,"reasoning":{"effort":"low"}});
        let (req, info) = run_with(&body, false).expect("translates");
        assert!(info.include_usage);
        assert!(req.client_stream);
        assert_eq!(req.ignored_parameters, ["temperature"]);
        assert!(!req.body.contains_key("stream_options"));
        assert_eq!(req.body["input"][0]["content"][0]["text"], json!("hi"));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
        let e =
            run_with(&json!({"model":"m","input":"hi","store":true}), false).expect_err("store");
        assert_eq!(e.param.as_deref(), Some("store"));
    }

    #[test]
    fn opencode_chat_body() {
        let body: Value = fixtures::OPENCODE_CHAT.parse().expect("fixture");
        let (req, info) = run_with(&body, false).expect("translates");
        assert!(info.include_usage);
        assert!(req.client_stream);
        assert_eq!(req.ignored_parameters, ["max_tokens"]);
        let instructions = req.body["instructions"].as_str().unwrap_or_default();
        assert!(instructions.starts_with("You are opencode"));
        assert!(instructions.contains("\n\nHere is some useful information"));
        assert_eq!(
            req.body["input"],
            json!([{"type":"message","role":"user","content":[{"type":"input_text","text":"\"say pong\""}]}])
        );
        let tools = req.body["tools"].as_array().cloned().unwrap_or_default();
        assert_eq!(tools.len(), 3);
        assert_eq!(tools[0]["name"], json!("bash"));
        assert_eq!(tools[0]["strict"], json!(false));
        assert_eq!(
            tools[0]["parameters"]["$schema"],
            json!("https://json-schema.org/draft/2020-12/schema")
        );
        assert_eq!(
            tools[0]["parameters"],
            body["tools"][0]["function"]["parameters"]
        );
        assert_eq!(req.body["tool_choice"], json!("auto"));
    }

    #[test]
    fn opencode_chat_tool_loop_body() {
        let body: Value = fixtures::OPENCODE_CHAT_TOOL_LOOP.parse().expect("fixture");
        let req = run_with(&body, false).expect("translates").0;
        assert_eq!(
            req.body["input"],
            json!([
                {"type":"message","role":"user","content":[{"type":"input_text","text":"RUN_TOOL now"}]},
                {"type":"function_call","call_id":"call_1","name":"bash","arguments":"{\"command\":\"echo tool-ok-42\",\"description\":\"Print a marker\"}"},
                {"type":"function_call_output","call_id":"call_1","output":"tool-ok-42\n"}
            ])
        );
    }

    #[test]
    fn aider_and_ai_sdk_bodies() {
        let body: Value = fixtures::AIDER_CHAT.parse().expect("fixture");
        let (req, info) = run_with(&body, false).expect("translates");
        assert_eq!(req.ignored_parameters, ["temperature"]);
        assert!(!info.include_usage);
        assert!(
            req.body["instructions"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Act as an expert")
        );

        let body: Value = fixtures::AI_SDK_CHAT.parse().expect("fixture");
        let (req, info) = run_with(&body, false).expect("translates");
        assert!(info.include_usage);
        assert!(req.ignored_parameters.is_empty());
    }

    #[test]
    fn large_message_content_is_kept_whole() {
        let big = "x".repeat(100_000);
        let req = ok(chat(json!([{"role":"user","content":big}])));
        assert_eq!(
            req.body["input"][0]["content"][0]["text"]
                .as_str()
                .map(str::len),
            Some(100_000)
        );
    }
}
