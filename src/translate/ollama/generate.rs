//! `POST /api/generate` → one user message (and `system`) → the chat rules; and
//! the load/unload answers of requests with nothing to generate.

use serde_json::{Map, Value};

use super::chat::user_content;
use super::request::{KeepAlive, Shared, image_parts};
use super::stream::rfc3339;
use crate::translate::{TranslateError, TranslateOptions, UpstreamRequest, optional_bool};

/// Translates an `/api/generate` body.
pub(crate) fn prepare(
    body: Map<String, Value>,
    opts: &TranslateOptions<'_>,
) -> Result<(UpstreamRequest, Shared), TranslateError> {
    let mut shared = Shared::new(&body)?;
    let mut prompt = String::new();
    let mut system = String::new();
    let mut images = Vec::new();
    for (key, value) in body {
        let Some((key, value)) = shared.field(key, value)? else {
            continue;
        };
        match key.as_str() {
            "prompt" => prompt = text(value, "prompt")?,
            "system" => system = text(value, "system")?,
            "images" => images = image_parts(value, "images")?,
            "raw" => {
                optional_bool(Some(&value), "raw")?;
            }
            "context" => check_no_context(&value)?,
            "suffix" => check_no_suffix(&value)?,
            _ => shared.ignore(key, &value),
        }
    }
    if prompt.is_empty() {
        // The route answers these with `generate_load_answer` before translating.
        return Err(TranslateError::missing(
            "prompt",
            "a non-empty string; an empty prompt only loads or unloads a model",
        ));
    }
    let mut messages = Vec::with_capacity(2);
    if !system.is_empty() {
        messages.push(message("system", Value::String(system)));
    }
    messages.push(message("user", user_content(prompt, images)));
    let upstream = shared.translate(messages, None, opts)?;
    Ok((upstream, shared))
}

fn message(role: &str, content: Value) -> Value {
    let mut message = Map::new();
    message.insert("role".to_owned(), Value::from(role));
    message.insert("content".to_owned(), content);
    Value::Object(message)
}

fn text(value: Value, param: &str) -> Result<String, TranslateError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text),
        _ => Err(TranslateError::invalid_type(param, "a string")),
    }
}

fn check_no_context(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null => Ok(()),
        Value::Array(tokens) if tokens.is_empty() => Ok(()),
        _ => Err(TranslateError::param(
            "context",
            "`context` is not supported: the ChatGPT backend keeps no context between requests. Send the whole conversation to /api/chat instead.",
        )
        .code("unsupported_parameter")),
    }
}

fn check_no_suffix(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) if s.is_empty() => Ok(()),
        Value::String(_) => Err(TranslateError::param(
            "suffix",
            "`suffix` (fill-in-the-middle) is not supported: a chat model answers the prompt as a message and cannot insert text before a suffix. Remove it.",
        )
        .code("unsupported_parameter")),
        _ => Err(TranslateError::invalid_type("suffix", "a string")),
    }
}

/// A request that only loads or unloads a model, and its answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Load {
    /// `{"model","created_at",…,"done":true,"done_reason":"load"|"unload"}`.
    pub(crate) answer: Value,
    /// The model as the client spelled it.
    pub(crate) model: String,
    /// How long the client wants it listed in `/api/ps`.
    pub(crate) keep_alive: KeepAlive,
}

/// The answer to an `/api/generate` body with an empty or missing `prompt`, which
/// Ollama clients send to load a model (or, with `keep_alive` 0, to unload it):
/// `{"model","created_at","response":"","done":true,"done_reason":"load"|"unload"}`.
/// `None` when the body has a prompt, or is not a body [`prepare`] would accept a
/// model from (the route then calls the dialect, which answers the error).
pub(crate) fn generate_load_answer(body: &[u8], created: i64) -> Option<Load> {
    let body = load_request(body)?;
    let prompt_empty = match body.get("prompt") {
        None | Some(Value::Null) => true,
        Some(Value::String(prompt)) => prompt.is_empty(),
        Some(_) => false,
    };
    if !prompt_empty {
        return None;
    }
    let mut answer = load_head(&body, created)?;
    answer.insert("response".to_owned(), Value::from(""));
    load_tail(&body, answer)
}

/// The answer to an `/api/chat` body with no messages (`messages` missing or
/// `[]`), which Ollama answers by loading (or with `keep_alive` 0 unloading) the
/// model; `None` otherwise.
pub(crate) fn chat_load_answer(body: &[u8], created: i64) -> Option<Load> {
    let body = load_request(body)?;
    let no_messages = match body.get("messages") {
        None | Some(Value::Null) => true,
        Some(Value::Array(messages)) => messages.is_empty(),
        Some(_) => false,
    };
    if !no_messages {
        return None;
    }
    let mut answer = load_head(&body, created)?;
    let mut message = Map::new();
    message.insert("role".to_owned(), Value::from("assistant"));
    message.insert("content".to_owned(), Value::from(""));
    answer.insert("message".to_owned(), Value::Object(message));
    load_tail(&body, answer)
}

fn load_request(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body).ok()? {
        Value::Object(body) => Shared::new(&body).is_ok().then_some(body),
        _ => None,
    }
}

fn load_head(body: &Map<String, Value>, created: i64) -> Option<Map<String, Value>> {
    let mut answer = Map::new();
    answer.insert("model".to_owned(), body.get("model")?.clone());
    answer.insert("created_at".to_owned(), Value::String(rfc3339(created)));
    Some(answer)
}

fn load_tail(body: &Map<String, Value>, mut answer: Map<String, Value>) -> Option<Load> {
    let keep_alive = KeepAlive::parse(body.get("keep_alive"))?;
    let reason = match keep_alive {
        KeepAlive::Unload => "unload",
        _ => "load",
    };
    let model = body.get("model")?.as_str()?.to_owned();
    answer.insert("done".to_owned(), Value::Bool(true));
    answer.insert("done_reason".to_owned(), Value::from(reason));
    Some(Load {
        answer: Value::Object(answer),
        model,
        keep_alive,
    })
}
