//! Pure translation between the client APIs and the upstream Codex backend.
//!
//! Nothing in here does I/O, reads a clock or draws random numbers: ids and
//! timestamps come in through [`chat_response::ChatContext`], so every function is
//! deterministic and tested from captured payloads.
//!
//! How a request flows through it:
//! - `POST /v1/responses`: [`responses_request::prepare`] turns the client body into
//!   the upstream body (near pass-through). A non-streaming answer is assembled from
//!   the upstream events by [`responses_response::ResponseAssembler`].
//! - `POST /v1/chat/completions`: [`chat_request::prepare`] maps Chat Completions onto
//!   a Responses body. The upstream events become either one `chat.completion`
//!   ([`responses_response::ResponseAssembler`] then
//!   [`chat_response::completion_from_response`]) or a stream of
//!   `chat.completion.chunk` SSE events ([`chat_stream::ChatStreamTranslator`]).
//!
//! Request bodies are parsed once into a [`serde_json::Value`] and transformed by
//! moving values out of it, so large histories are never copied.

pub(crate) mod chat;
pub mod chat_request;
pub mod chat_response;
pub mod chat_stream;
pub(crate) mod completions;
pub mod dialect;
pub mod messages;
pub mod ollama;
pub(crate) mod responses;
pub mod responses_request;
pub mod responses_response;
mod schema;
pub mod stream;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod proptests;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub(crate) use crate::upstream::events::{event_type, failure_of};
use serde_json::{Map, Value};

/// A client request the relay cannot translate. Always answered with HTTP 400
/// `invalid_request_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    /// What went wrong and what to do about it.
    pub message: String,
    /// The offending parameter, e.g. `messages[3].tool_call_id`.
    pub param: Option<String>,
    /// A machine-readable code such as `unsupported_parameter`.
    pub code: Option<String>,
}

impl TranslateError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TranslateError {
            message: message.into(),
            param: None,
            code: None,
        }
    }

    pub(crate) fn param(param: impl Into<String>, message: impl Into<String>) -> Self {
        TranslateError {
            message: message.into(),
            param: Some(param.into()),
            code: None,
        }
    }

    pub(crate) fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    /// A parameter had the wrong JSON type.
    pub(crate) fn invalid_type(param: impl Into<String>, expected: &str) -> Self {
        let param = param.into();
        let message = format!("Invalid type for `{param}`: expected {expected}.");
        TranslateError::param(param, message).code("invalid_type")
    }

    /// A required parameter was missing.
    pub(crate) fn missing(param: impl Into<String>, what: &str) -> Self {
        let param = param.into();
        let message = format!("Missing required parameter `{param}` ({what}).");
        TranslateError::param(param, message).code("missing_required_parameter")
    }
}

/// Relay settings the translation depends on.
#[derive(Debug, Clone, Copy)]
pub struct TranslateOptions<'a> {
    /// Top-level parameters the upstream rejects; they are removed and disclosed.
    pub unsupported_parameters: &'a [String],
    /// Sent as `instructions` when the client gives none (the upstream requires it).
    pub default_instructions: &'a str,
    /// `chat.reasoning_output` is enabled: ask the upstream for reasoning summaries
    /// (`reasoning.summary: "auto"`) on chat requests.
    pub reasoning_summaries: bool,
}

impl TranslateOptions<'_> {
    fn is_unsupported(&self, name: &str) -> bool {
        self.unsupported_parameters.iter().any(|p| p == name)
    }
}

/// The default of `upstream.unsupported_parameters` (defined with the configuration).
pub use crate::config::DEFAULT_UNSUPPORTED_PARAMETERS;

/// A translated request, ready to be sent upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    /// The upstream body: `stream: true`, `store: false`, `instructions`, `input` as a
    /// list, and the rest of the request.
    pub body: Map<String, Value>,
    /// The model as the client spelled it. The route resolves it against the model
    /// catalogue and overwrites `body["model"]`.
    pub model: String,
    /// Whether the client asked for a streamed answer.
    pub client_stream: bool,
    /// Parameters removed from the request, in request order, for the
    /// `x-airelays-ignored-parameters` header.
    pub ignored_parameters: Vec<String>,
    /// Reasoning the client sent back inside a signature that names the account
    /// that issued it (Messages thinking); empty for the other dialects.
    pub signed_reasoning: Vec<SignedReasoning>,
}

/// One reasoning item of the upstream `input` that came from a signature naming
/// its issuing account (docs/architecture.md#accounts): the relay drops it when
/// the request runs on another account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReasoning {
    /// [`reasoning_digest`] of its `encrypted_content`.
    pub digest: [u8; 16],
    /// The account tag the signature names.
    pub account_tag: String,
    /// What `x-airelays-ignored-parameters` names when it is dropped
    /// (`content.thinking`, `content.redacted_thinking`).
    pub parameter: &'static str,
}

/// Longest value of the `x-airelays-ignored-parameters` header.
const IGNORED_HEADER_MAX_BYTES: usize = 2048;

/// Bytes percent-encoded in a header name list: everything but `[A-Za-z0-9_.-]`.
const HEADER_NAME_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-');

/// The `x-airelays-ignored-parameters` header value: a comma list of percent-encoded
/// names, at most 2 KiB (cut before the first name that would not fit), or `None`
/// when nothing was ignored.
pub fn ignored_parameters_header(names: &[String]) -> Option<String> {
    let mut header = String::new();
    for name in names {
        let encoded = utf8_percent_encode(name, HEADER_NAME_ENCODE).to_string();
        let separator = usize::from(!header.is_empty());
        if header.len() + separator + encoded.len() > IGNORED_HEADER_MAX_BYTES {
            break;
        }
        if separator == 1 {
            header.push(',');
        }
        header.push_str(&encoded);
    }
    (!header.is_empty()).then_some(header)
}

/// The digest by which the relay remembers which account issued a piece of
/// encrypted reasoning (docs/architecture.md#accounts): the first 16 bytes of the
/// SHA-256 of its `encrypted_content` (never the content itself).
pub fn reasoning_digest(encrypted_content: &str) -> [u8; 16] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(encrypted_content.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// Parses a request body into its top-level object, with a message a user can act on.
pub(crate) fn parse_body(body: &[u8]) -> Result<Map<String, Value>, TranslateError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(TranslateError::new(
            "The request body is empty. Send a JSON object.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(TranslateError::new(format!(
            "The request body must be a JSON object, not {}.",
            json_kind(&other)
        ))),
        Err(err) => Err(TranslateError::new(format!(
            "We could not parse the JSON body of your request ({err}). Send a valid JSON object."
        ))),
    }
}

/// "a string", "an array"… for error messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The client's `model`: a non-empty string.
fn take_model(body: &Map<String, Value>) -> Result<String, TranslateError> {
    match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(model.clone()),
        Some(Value::String(_)) => Err(TranslateError::param(
            "model",
            "`model` must not be empty. Name one of the models listed by GET /v1/models.",
        )),
        None | Some(Value::Null) => Err(TranslateError::missing("model", "a model id string")),
        Some(_) => Err(TranslateError::invalid_type("model", "a string")),
    }
}

/// Reads an optional boolean flag (`null` counts as absent).
fn optional_bool(value: Option<&Value>, param: &str) -> Result<Option<bool>, TranslateError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(TranslateError::invalid_type(param, "a boolean")),
    }
}

/// Rejects `store: true`: the backend keeps nothing.
fn check_store(value: Option<&Value>) -> Result<(), TranslateError> {
    if optional_bool(value, "store")? == Some(true) {
        return Err(TranslateError::param(
            "store",
            "`store: true` is not supported: the ChatGPT backend stores nothing. Remove `store` or set it to false.",
        )
        .code("unsupported_value"));
    }
    Ok(())
}

const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// Makes sure `include` lists the encrypted reasoning, keeping the client's entries.
fn ensure_include_reasoning(body: &mut Map<String, Value>) -> Result<(), TranslateError> {
    match body.get_mut("include") {
        None | Some(Value::Null) => {
            body.insert(
                "include".to_owned(),
                Value::Array(vec![Value::from(ENCRYPTED_REASONING)]),
            );
        }
        Some(Value::Array(entries)) => {
            if !entries.iter().any(|e| e == ENCRYPTED_REASONING) {
                entries.push(Value::from(ENCRYPTED_REASONING));
            }
        }
        Some(_) => {
            return Err(TranslateError::invalid_type(
                "include",
                "an array of strings",
            ));
        }
    }
    Ok(())
}

/// A user message item holding one text part.
pub(crate) fn user_text_item(text: String) -> Value {
    let mut part = Map::new();
    part.insert("type".to_owned(), Value::from("input_text"));
    part.insert("text".to_owned(), Value::String(text));
    message_item("user", vec![Value::Object(part)])
}

/// A `message` input item.
fn message_item(role: &str, content: Vec<Value>) -> Value {
    let mut item = Map::new();
    item.insert("type".to_owned(), Value::from("message"));
    item.insert("role".to_owned(), Value::from(role));
    item.insert("content".to_owned(), Value::Array(content));
    Value::Object(item)
}

/// Appends `s` to `out` as a JSON string literal. Infallible, unlike a serializer.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            // `b` < 0x20, so both nibbles index the 16-entry table.
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_none_when_nothing_was_ignored() {
        assert_eq!(ignored_parameters_header(&[]), None);
    }

    #[test]
    fn header_joins_names_in_order() {
        let names = vec!["temperature".to_owned(), "max_tokens".to_owned()];
        assert_eq!(
            ignored_parameters_header(&names).as_deref(),
            Some("temperature,max_tokens")
        );
    }

    #[test]
    fn header_percent_encodes_everything_outside_the_safe_set() {
        let names = vec!["a b,c".to_owned(), "x-y.z_0".to_owned(), "é\r\n".to_owned()];
        assert_eq!(
            ignored_parameters_header(&names).as_deref(),
            Some("a%20b%2Cc,x-y.z_0,%C3%A9%0D%0A")
        );
    }

    #[test]
    fn header_is_capped_at_a_name_boundary() {
        let names: Vec<String> = (0..500).map(|i| format!("param_{i:04}")).collect();
        let header = ignored_parameters_header(&names).unwrap_or_default();
        assert!(header.len() <= 2048);
        assert!(header.len() > 2000);
        for name in header.split(',') {
            assert!(names.contains(&name.to_owned()), "cut inside {name}");
        }
        assert!(header.starts_with("param_0000,param_0001"));
    }

    #[test]
    fn header_skips_nothing_but_stops_at_an_oversized_name() {
        let names = vec!["a".to_owned(), "b".repeat(3000), "c".to_owned()];
        assert_eq!(ignored_parameters_header(&names).as_deref(), Some("a"));
        assert_eq!(ignored_parameters_header(&names[1..2]), None);
    }

    #[test]
    fn parse_errors_are_clear() {
        let err = parse_body(b"")
            .err()
            .unwrap_or_else(|| TranslateError::new(""));
        assert!(err.message.contains("empty"));
        let err = parse_body(b"{\"model\": }")
            .err()
            .unwrap_or_else(|| TranslateError::new(""));
        assert!(err.message.contains("line 1 column"), "{}", err.message);
        let err = parse_body(b"[1]")
            .err()
            .unwrap_or_else(|| TranslateError::new(""));
        assert!(err.message.contains("not an array"), "{}", err.message);
    }

    #[test]
    fn json_string_writer_matches_serde() {
        for s in [
            "plain",
            "quote \" and \\ slash",
            "ctl \u{0}\u{1f}\u{8}\u{c}\n\r\t",
            "é😀",
            "",
        ] {
            let mut out = Vec::new();
            write_json_str(&mut out, s);
            let back: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
            assert_eq!(back, Value::from(s));
        }
    }
}
