//! The assembled upstream Response → a non-streamed Anthropic `message`, and the
//! pieces the stream shares with it: stop reasons, usage in Anthropic's meaning,
//! tool input parsing.

use serde_json::{Map, Value};

use super::sign;
use crate::translate::chat_response::{MESSAGE_SEPARATOR, message_text, reasoning_summary};

/// What a `message` answer says besides the upstream output.
#[derive(Debug, Clone)]
pub struct AnswerInfo<'a> {
    /// `msg_…`.
    pub id: String,
    /// The model as the client asked for it.
    pub model: &'a str,
    /// The account tag for thinking signatures.
    pub account_tag: &'a str,
    /// Whether thinking blocks are part of the answer.
    pub thinking: bool,
}

/// The `message` object for a finished upstream response.
pub fn message_from_response(response: &Value, info: &AnswerInfo<'_>) -> Value {
    let mut content = Vec::new();
    let mut refused = false;
    let mut tool_use = false;
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") if info.thinking => {
                content.push(thinking_block(item, info.account_tag));
            }
            Some("message") => {
                let (text, refusal) = message_text(item);
                refused |= !refusal.is_empty();
                for text in [text, refusal] {
                    if !text.is_empty() {
                        content.push(text_block(text));
                    }
                }
            }
            Some("function_call" | "custom_tool_call") => {
                tool_use = true;
                content.push(tool_use_block(item, content.len()));
            }
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("id".to_owned(), Value::String(info.id.clone()));
    message.insert("type".to_owned(), Value::from("message"));
    message.insert("role".to_owned(), Value::from("assistant"));
    message.insert("model".to_owned(), Value::from(info.model));
    message.insert("content".to_owned(), Value::Array(content));
    let stop = stop_reason(response, refused, tool_use);
    message.insert("stop_reason".to_owned(), Value::from(stop));
    message.insert("stop_sequence".to_owned(), Value::Null);
    let usage = response.get("usage").and_then(usage_of).unwrap_or_default();
    message.insert("usage".to_owned(), usage.to_json());
    Value::Object(message)
}

/// Token counts in Anthropic's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Upstream input tokens that were not read from the cache.
    pub input_tokens: u64,
    /// Upstream cached input tokens.
    pub cache_read_input_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
}

impl Usage {
    /// `{"input_tokens","cache_creation_input_tokens":0,"cache_read_input_tokens","output_tokens"}`.
    pub fn to_json(self) -> Value {
        let mut usage = Map::new();
        usage.insert("input_tokens".to_owned(), Value::from(self.input_tokens));
        usage.insert("cache_creation_input_tokens".to_owned(), Value::from(0));
        usage.insert(
            "cache_read_input_tokens".to_owned(),
            Value::from(self.cache_read_input_tokens),
        );
        usage.insert("output_tokens".to_owned(), Value::from(self.output_tokens));
        Value::Object(usage)
    }
}

/// Responses usage → Anthropic usage; `None` when it cannot be read.
pub fn usage_of(usage: &Value) -> Option<Usage> {
    let input = usage.get("input_tokens")?.as_u64()?;
    let output = usage.get("output_tokens")?.as_u64()?;
    let cached = usage
        .pointer("/input_tokens_details/cached_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(input);
    Some(Usage {
        input_tokens: input - cached,
        cache_read_input_tokens: cached,
        output_tokens: output,
    })
}

/// `end_turn`, `tool_use`, `max_tokens` or `refusal`.
pub fn stop_reason(response: &Value, refused: bool, tool_use: bool) -> &'static str {
    if response.get("status").and_then(Value::as_str) == Some("incomplete") {
        return incomplete_stop_reason(
            response
                .pointer("/incomplete_details/reason")
                .and_then(Value::as_str),
        );
    }
    if refused {
        "refusal"
    } else if tool_use {
        "tool_use"
    } else {
        "end_turn"
    }
}

/// The stop reason of a cut response: a content filter is a refusal, anything
/// else ran out of output tokens.
pub fn incomplete_stop_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("content_filter") => "refusal",
        _ => "max_tokens",
    }
}

/// A tool call's arguments as the object `tool_use.input` must be. Arguments
/// that are not a JSON object are kept under `arguments` rather than lost.
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => {
            let mut wrapped = Map::new();
            wrapped.insert("arguments".to_owned(), Value::from(arguments));
            Value::Object(wrapped)
        }
    }
}

/// The arguments JSON of a function call item, or `{"input": …}` for a custom
/// tool call.
pub(super) fn call_arguments(item: &Value) -> String {
    if item.get("type").and_then(Value::as_str) == Some("custom_tool_call") {
        let input = item
            .get("input")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut wrapped = Map::new();
        wrapped.insert("input".to_owned(), Value::from(input));
        return Value::Object(wrapped).to_string();
    }
    item.get("arguments")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The `tool_use` id of a call item (`toolu_<position>` if it has none).
pub(super) fn call_id(item: &Value, position: usize) -> String {
    item.get("call_id")
        .or_else(|| item.get("id"))
        .and_then(Value::as_str)
        .map_or_else(|| format!("toolu_{position}"), str::to_owned)
}

fn text_block(text: String) -> Value {
    let mut block = Map::new();
    block.insert("type".to_owned(), Value::from("text"));
    block.insert("text".to_owned(), Value::String(text));
    Value::Object(block)
}

fn thinking_block(item: &Value, account_tag: &str) -> Value {
    let encrypted = item
        .get("encrypted_content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut block = Map::new();
    block.insert("type".to_owned(), Value::from("thinking"));
    block.insert(
        "thinking".to_owned(),
        Value::String(reasoning_summary(item)),
    );
    let signature = if encrypted.is_empty() {
        String::new()
    } else {
        sign(account_tag, encrypted)
    };
    block.insert("signature".to_owned(), Value::String(signature));
    Value::Object(block)
}

fn tool_use_block(item: &Value, position: usize) -> Value {
    let mut block = Map::new();
    block.insert("type".to_owned(), Value::from("tool_use"));
    block.insert("id".to_owned(), Value::String(call_id(item, position)));
    let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
    block.insert("name".to_owned(), Value::from(name));
    block.insert("input".to_owned(), tool_input(&call_arguments(item)));
    Value::Object(block)
}

/// Put between two summary parts of one thinking block.
pub(super) const PART_SEPARATOR: &str = MESSAGE_SEPARATOR;
