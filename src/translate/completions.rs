//! The legacy Completions dialect (`POST /v1/completions`). A chat model answers
//! the `prompt` as one user message (docs/architecture.md, "Legacy
//! completions"): raw continuation and fill-in-the-middle are not possible, so
//! the parameters that only make sense for them are refused, and the rest of the
//! request follows the Chat Completions rules (the same removal and disclosure of
//! `max_tokens` and sampling parameters). Answers are `text_completion` objects
//! and chunks.

use serde_json::{Map, Value};

use super::chat_request::{self, ChatRequestInfo};
use super::chat_response::{MESSAGE_SEPARATOR, chat_usage, incomplete_finish_reason, message_text};
use super::chat_stream::error_chunk;
use super::dialect::{AnswerContext, Dialect, Prepared, id_suffix};
use super::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use super::{TranslateError, TranslateOptions, event_type, failure_of, parse_body, write_json_str};
use crate::upstream::events::UpstreamEvent;

/// The legacy Completions API.
#[derive(Debug)]
pub(crate) struct Completions {
    info: ChatRequestInfo,
}

impl Dialect for Completions {
    type Stream = CompletionStream;
    type Context = ();

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        let chat = chat_body(parse_body(body)?)?;
        let (upstream, info) = chat_request::prepare_map(chat, opts)?;
        Ok(Prepared {
            upstream,
            dialect: Completions { info },
        })
    }

    fn stream(self, answer: &AnswerContext) -> CompletionStream {
        CompletionStream::new(answer, self.info.include_usage)
    }

    fn finish(self, response: Value, answer: &AnswerContext) -> Value {
        completion_from_response(&response, answer)
    }
}

/// `cmpl-…` for an answer.
fn completion_id(answer: &AnswerContext) -> String {
    format!("cmpl-{}", id_suffix(&answer.nonce, 29))
}

fn refuse(param: &str, message: &str) -> TranslateError {
    TranslateError::param(param, message).code("unsupported_parameter")
}

/// The legacy body as a chat body: `prompt` becomes one user message in its
/// place, the completion-only parameters are checked and dropped, and the rest is
/// left for the chat rules.
fn chat_body(body: Map<String, Value>) -> Result<Map<String, Value>, TranslateError> {
    let mut chat = Map::with_capacity(body.len());
    let mut prompt_seen = false;
    for (key, value) in body {
        match key.as_str() {
            "prompt" => {
                prompt_seen = true;
                let message = user_message(prompt_text(value)?);
                chat.insert("messages".to_owned(), Value::Array(vec![message]));
            }
            "messages" | "input" => {
                return Err(TranslateError::param(
                    key.as_str(),
                    format!(
                        "`{key}` is not a parameter of /v1/completions. Send `prompt`, or use /v1/chat/completions."
                    ),
                ));
            }
            "logprobs" => check_absent(&value, "logprobs", LOGPROBS)?,
            "best_of" => check_one(&value, "best_of", BEST_OF)?,
            "echo" => check_not_true(&value)?,
            "suffix" => check_empty(&value)?,
            _ => {
                chat.insert(key, value);
            }
        }
    }
    if !prompt_seen {
        return Err(TranslateError::missing("prompt", "a string"));
    }
    Ok(chat)
}

const LOGPROBS: &str = "`logprobs` is not supported: the ChatGPT backend returns no token log probabilities. Remove it or set it to null.";
const BEST_OF: &str =
    "Only `best_of: 1` is supported: the ChatGPT backend generates one completion per request.";

/// The prompt text: a string or a one-element array of strings.
fn prompt_text(value: Value) -> Result<String, TranslateError> {
    const ONE_PROMPT: &str = "`prompt` must be one string (or an array holding one string): a chat model answers one prompt per request, and token arrays cannot be sent to it.";
    match value {
        Value::String(s) => Ok(s),
        Value::Array(mut items) if items.len() == 1 => match items.pop() {
            Some(Value::String(s)) => Ok(s),
            _ => Err(refuse("prompt", ONE_PROMPT)),
        },
        Value::Array(_) => Err(refuse("prompt", ONE_PROMPT)),
        Value::Null => Err(TranslateError::missing("prompt", "a string")),
        _ => Err(TranslateError::invalid_type("prompt", "a string")),
    }
}

fn user_message(text: String) -> Value {
    let mut message = Map::new();
    message.insert("role".to_owned(), Value::from("user"));
    message.insert("content".to_owned(), Value::String(text));
    Value::Object(message)
}

/// `null` counts as absent; anything else (`0` included) is refused.
fn check_absent(value: &Value, param: &str, message: &str) -> Result<(), TranslateError> {
    if value.is_null() {
        Ok(())
    } else {
        Err(refuse(param, message))
    }
}

/// `null` and `1` count as absent.
fn check_one(value: &Value, param: &str, message: &str) -> Result<(), TranslateError> {
    if value.is_null() || value.as_f64() == Some(1.0) {
        Ok(())
    } else {
        Err(refuse(param, message))
    }
}

fn check_not_true(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null | Value::Bool(false) => Ok(()),
        Value::Bool(true) => Err(refuse(
            "echo",
            "`echo: true` is not supported: a chat model's answer does not continue the prompt, so there is no prompt to echo. Remove it or set it to false.",
        )),
        _ => Err(TranslateError::invalid_type("echo", "a boolean")),
    }
}

fn check_empty(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) if s.is_empty() => Ok(()),
        Value::String(_) => Err(refuse(
            "suffix",
            "`suffix` (fill-in-the-middle) is not supported: a chat model answers the prompt as a message and cannot insert text before a suffix. Remove it.",
        )),
        _ => Err(TranslateError::invalid_type("suffix", "a string")),
    }
}

/// `stop` or `length`: a chat model's answer through this API ends one of these two
/// ways (a tool call or a content filter also reads as `stop` / `length`).
fn finish_reason(response: &Value) -> &'static str {
    if response.get("status").and_then(Value::as_str) != Some("incomplete") {
        return "stop";
    }
    let reason = response
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str);
    match incomplete_finish_reason(reason) {
        "length" => "length",
        _ => "stop",
    }
}

/// The answer text of a finished response: its messages, separated by blank lines
/// (a refusal stands in for text).
fn response_text(response: &Value) -> String {
    let mut texts = Vec::new();
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("message"))
    {
        let (text, refusal) = message_text(item);
        let text = if text.is_empty() { refusal } else { text };
        if !text.is_empty() {
            texts.push(text);
        }
    }
    texts.join(MESSAGE_SEPARATOR)
}

/// The `text_completion` object for a finished upstream response.
fn completion_from_response(response: &Value, answer: &AnswerContext) -> Value {
    let mut choice = Map::new();
    choice.insert("text".to_owned(), Value::String(response_text(response)));
    choice.insert("index".to_owned(), Value::from(0));
    choice.insert("logprobs".to_owned(), Value::Null);
    choice.insert(
        "finish_reason".to_owned(),
        Value::from(finish_reason(response)),
    );
    let mut completion = Map::new();
    completion.insert("id".to_owned(), Value::String(completion_id(answer)));
    completion.insert("object".to_owned(), Value::from("text_completion"));
    completion.insert("created".to_owned(), Value::from(answer.created));
    completion.insert("model".to_owned(), Value::String(answer.model.clone()));
    completion.insert(
        "choices".to_owned(),
        Value::Array(vec![Value::Object(choice)]),
    );
    if let Some(usage) = response.get("usage").and_then(chat_usage) {
        completion.insert("usage".to_owned(), usage);
    }
    Value::Object(completion)
}

/// Upstream events → `text_completion` chunks, ending in `data: [DONE]`.
#[derive(Debug)]
pub(crate) struct CompletionStream {
    /// `{"id":…,"object":"text_completion","created":…,"model":…,"choices":[`
    head: Vec<u8>,
    include_usage: bool,
    /// The message item the last text came from (a new one starts after a blank line).
    last_item: Option<String>,
    /// Whether any text was streamed (else the final response's text is sent).
    streamed: bool,
    done: bool,
}

impl CompletionStream {
    fn new(answer: &AnswerContext, include_usage: bool) -> CompletionStream {
        let mut head = Vec::with_capacity(128 + answer.model.len());
        head.extend_from_slice(b"{\"id\":");
        write_json_str(&mut head, &completion_id(answer));
        head.extend_from_slice(b",\"object\":\"text_completion\",\"created\":");
        head.extend_from_slice(answer.created.to_string().as_bytes());
        head.extend_from_slice(b",\"model\":");
        write_json_str(&mut head, &answer.model);
        head.extend_from_slice(b",\"choices\":[");
        CompletionStream {
            head,
            include_usage,
            last_item: None,
            streamed: false,
            done: false,
        }
    }

    /// One chunk with `text` and `finish_reason`.
    fn chunk(&self, out: &mut Vec<u8>, text: &str, finish_reason: Option<&str>) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"{\"text\":");
        write_json_str(out, text);
        out.extend_from_slice(b",\"index\":0,\"logprobs\":null,\"finish_reason\":");
        match finish_reason {
            Some(reason) => write_json_str(out, reason),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}]");
        if self.include_usage {
            out.extend_from_slice(b",\"usage\":null");
        }
        out.extend_from_slice(b"}\n\n");
    }

    /// Text of message `item`; text of a new message starts after a blank line.
    fn text(&mut self, out: &mut Vec<u8>, item: Option<&str>, text: &str) {
        if text.is_empty() {
            return;
        }
        let new_message = self.streamed && item.is_some() && self.last_item.as_deref() != item;
        if new_message {
            self.chunk(out, &[MESSAGE_SEPARATOR, text].concat(), None);
        } else {
            self.chunk(out, text, None);
        }
        self.streamed = true;
        if let Some(item) = item {
            self.last_item = Some(item.to_owned());
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>, response: &Value) {
        self.done = true;
        if !self.streamed {
            let text = response_text(response);
            if !text.is_empty() {
                self.chunk(out, &text, None);
            }
        }
        self.chunk(out, "", Some(finish_reason(response)));
        if self.include_usage {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&self.head);
            out.extend_from_slice(b"],\"usage\":");
            match response.get("usage").and_then(chat_usage) {
                Some(usage) => out.extend_from_slice(usage.to_string().as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b"}\n\n");
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn on_json(&mut self, event: &Value, out: &mut Vec<u8>) -> StreamStep {
        let item = event.get("item_id").and_then(Value::as_str);
        let delta = event
            .get("delta")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match event_type(event) {
            Some("response.output_text.delta" | "response.refusal.delta") => {
                self.text(out, item, delta);
                StreamStep::Continue
            }
            Some("response.completed" | "response.incomplete") => {
                let response = event.get("response").unwrap_or(&Value::Null);
                self.finish(out, response);
                StreamStep::Finished
            }
            _ => match failure_of(event) {
                Some(failure) => {
                    self.done = true;
                    failure.into()
                }
                None => StreamStep::Continue,
            },
        }
    }
}

impl StreamTranslator for CompletionStream {
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep {
        if self.done {
            return StreamStep::Finished;
        }
        if let Some(d) = event.text_delta() {
            self.text(out.vec(), d.item_id.as_deref(), &d.delta);
            return StreamStep::Continue;
        }
        match event.json() {
            Some(value) => self.on_json(value, out.vec()),
            None => StreamStep::Continue,
        }
    }

    fn on_failure(&mut self, failure: &StreamFailure<'_>, out: &mut StreamOut) {
        self.done = true;
        out.vec()
            .extend_from_slice(&error_chunk(failure.message, failure.kind, failure.code));
    }
}

#[cfg(test)]
mod tests;
