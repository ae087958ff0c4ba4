//! `POST /api/chat` → a Chat Completions body → the chat rules.
//!
//! Ollama's tool calls carry no id and its tool results carry only `tool_name`,
//! while the upstream pairs calls and outputs by `call_id`. So the calls of the
//! assistant message at index `t` get the ids `call_<t>_<n>`, and the n-th `tool`
//! message after that assistant message answers its n-th call; a `tool_name` that
//! differs from that call's name is refused, naming the message. Clients that add
//! ids anyway (Open WebUI sends `tool_calls[].id` and `tool_call_id`) are paired
//! by them when they match a call of that message.

use serde_json::{Map, Value};

use super::request::{Shared, image_parts};
use crate::translate::{TranslateError, TranslateOptions, UpstreamRequest};

/// Translates an `/api/chat` body.
pub(crate) fn prepare(
    body: Map<String, Value>,
    opts: &TranslateOptions<'_>,
) -> Result<(UpstreamRequest, Shared), TranslateError> {
    let mut shared = Shared::new(&body)?;
    let mut messages = None;
    let mut tools = None;
    for (key, value) in body {
        let Some((key, value)) = shared.field(key, value)? else {
            continue;
        };
        match key.as_str() {
            "messages" => messages = Some(value),
            "tools" if !value.is_null() => tools = Some(value),
            _ => shared.ignore(key, &value),
        }
    }
    let messages = match messages {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(TranslateError::missing(
                "messages",
                "a non-empty array of messages",
            ));
        }
        Some(_) => return Err(TranslateError::invalid_type("messages", "an array")),
    };
    let messages = Pairing::default().messages(messages)?;
    let upstream = shared.translate(messages, tools, opts)?;
    Ok((upstream, shared))
}

/// One tool call of the latest assistant message.
#[derive(Debug)]
struct Call {
    /// `call_<turn>_<n>`.
    id: String,
    name: String,
    /// The id the client gave the call, if any.
    client_id: Option<String>,
    answered: bool,
}

/// The tool calls of the latest assistant message.
#[derive(Debug, Default)]
struct Pairing {
    /// The index of that assistant message.
    turn: usize,
    calls: Vec<Call>,
}

impl Pairing {
    fn messages(mut self, messages: Vec<Value>) -> Result<Vec<Value>, TranslateError> {
        messages
            .into_iter()
            .enumerate()
            .map(|(i, message)| self.message(i, message))
            .collect()
    }

    /// One Ollama message → one chat message.
    fn message(&mut self, i: usize, message: Value) -> Result<Value, TranslateError> {
        let param = format!("messages[{i}]");
        let Value::Object(mut message) = message else {
            return Err(TranslateError::invalid_type(param, "an object"));
        };
        let role = match message.remove("role") {
            Some(Value::String(role)) => role,
            None | Some(Value::Null) => {
                return Err(TranslateError::missing(format!("{param}.role"), "a string"));
            }
            Some(_) => {
                return Err(TranslateError::invalid_type(
                    format!("{param}.role"),
                    "a string",
                ));
            }
        };
        let content = content(message.remove("content"), &param)?;
        let images = message.remove("images").unwrap_or(Value::Null);
        if role != "user" && !is_empty_list(&images) {
            return Err(TranslateError::param(
                format!("{param}.images"),
                format!("`{param}.images`: images are accepted on user messages only."),
            )
            .code("unsupported_value"));
        }
        let mut chat = Map::new();
        match role.as_str() {
            "system" => chat.insert("content".to_owned(), Value::String(content)),
            "user" => {
                let images = image_parts(images, &format!("{param}.images"))?;
                chat.insert("content".to_owned(), user_content(content, images))
            }
            "assistant" => {
                self.assistant(i, &mut chat, message.remove("tool_calls"), &param)?;
                chat.insert("content".to_owned(), Value::String(content))
            }
            "tool" => {
                let call_id = self.answer(i, &message, &param)?;
                chat.insert("tool_call_id".to_owned(), Value::String(call_id));
                chat.insert("content".to_owned(), Value::String(content))
            }
            _ => {
                return Err(TranslateError::param(
                    format!("{param}.role"),
                    format!(
                        "`{param}.role` \"{role}\" is not supported. Use system, user, assistant or tool."
                    ),
                )
                .code("unsupported_value"));
            }
        };
        chat.insert("role".to_owned(), Value::String(role));
        Ok(Value::Object(chat))
    }

    /// An assistant message's `tool_calls` → chat tool calls with ids
    /// `call_<turn>_<n>`. Every assistant message starts a new turn.
    fn assistant(
        &mut self,
        turn: usize,
        chat: &mut Map<String, Value>,
        tool_calls: Option<Value>,
        param: &str,
    ) -> Result<(), TranslateError> {
        *self = Pairing {
            turn,
            ..Pairing::default()
        };
        let calls = match tool_calls {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Array(calls)) => calls,
            Some(_) => {
                return Err(TranslateError::invalid_type(
                    format!("{param}.tool_calls"),
                    "an array",
                ));
            }
        };
        let mut chat_calls = Vec::with_capacity(calls.len());
        for (n, call) in calls.into_iter().enumerate() {
            let call_param = format!("{param}.tool_calls[{n}]");
            let client_id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned);
            let (name, arguments) = function_of(call, &call_param)?;
            let id = format!("call_{turn}_{n}");
            let mut function = Map::new();
            function.insert("name".to_owned(), Value::String(name.clone()));
            function.insert("arguments".to_owned(), arguments);
            let mut chat_call = Map::new();
            chat_call.insert("id".to_owned(), Value::String(id.clone()));
            chat_call.insert("type".to_owned(), Value::from("function"));
            chat_call.insert("function".to_owned(), Value::Object(function));
            chat_calls.push(Value::Object(chat_call));
            self.calls.push(Call {
                id,
                name,
                client_id,
                answered: false,
            });
        }
        if !chat_calls.is_empty() {
            chat.insert("tool_calls".to_owned(), Value::Array(chat_calls));
        }
        Ok(())
    }

    /// The call id a `tool` message answers: the call whose client id is its
    /// `tool_call_id`, else the first unanswered call of the latest assistant
    /// message. Its name must match `tool_name`.
    fn answer(
        &mut self,
        i: usize,
        message: &Map<String, Value>,
        param: &str,
    ) -> Result<String, TranslateError> {
        let text = |key: &str| match message.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(TranslateError::invalid_type(
                format!("{param}.{key}"),
                "a string",
            )),
        };
        let tool_name = text("tool_name")?.or(text("name")?);
        let by_id = text("tool_call_id")?.and_then(|id| {
            self.calls
                .iter()
                .position(|c| c.client_id.as_deref() == Some(id))
        });
        let Some(n) = by_id.or_else(|| self.calls.iter().position(|c| !c.answered)) else {
            return Err(TranslateError::param(param, self.unanswerable(i)));
        };
        let call = &mut self.calls[n];
        if let Some(tool_name) = tool_name
            && tool_name != call.name
        {
            return Err(TranslateError::param(
                format!("{param}.tool_name"),
                format!(
                    "`messages[{i}].tool_name` is \"{tool_name}\", but it answers call {n} of `messages[{}]`, which called \"{}\". Send the tool results in the order of the calls.",
                    self.turn, call.name
                ),
            ));
        }
        call.answered = true;
        Ok(call.id.clone())
    }

    /// Why tool message `i` answers no call.
    fn unanswerable(&self, i: usize) -> String {
        if self.calls.is_empty() {
            format!(
                "`messages[{i}]` is a tool result, but no earlier assistant message has tool calls to answer. Send the assistant message with its `tool_calls` before the tool results."
            )
        } else {
            format!(
                "`messages[{i}]` is one tool result too many: `messages[{}]` made {} tool call(s), all answered. Send one tool message per call, in the order of the calls.",
                self.turn,
                self.calls.len()
            )
        }
    }
}

/// `{"function":{"name","arguments"}}` → (name, arguments).
fn function_of(call: Value, param: &str) -> Result<(String, Value), TranslateError> {
    let Value::Object(mut call) = call else {
        return Err(TranslateError::invalid_type(param, "an object"));
    };
    let function_param = format!("{param}.function");
    let Some(Value::Object(mut function)) = call.remove("function") else {
        return Err(TranslateError::missing(
            function_param,
            "an object with `name` and `arguments`",
        ));
    };
    let name = match function.remove("name") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => {
            return Err(TranslateError::missing(
                format!("{function_param}.name"),
                "the function's name",
            ));
        }
    };
    let arguments = match function.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(arguments @ (Value::Object(_) | Value::String(_))) => arguments,
        Some(_) => {
            return Err(TranslateError::invalid_type(
                format!("{function_param}.arguments"),
                "an object",
            ));
        }
    };
    Ok((name, arguments))
}

/// A message's `content`: a string (missing or `null` is empty).
fn content(value: Option<Value>, param: &str) -> Result<String, TranslateError> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.content"),
            "a string",
        )),
    }
}

fn is_empty_list(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A user message's chat content: the text alone, or a text part and images.
pub(crate) fn user_content(text: String, images: Vec<Value>) -> Value {
    if images.is_empty() {
        return Value::String(text);
    }
    let mut parts = Vec::with_capacity(images.len() + 1);
    if !text.is_empty() {
        let mut part = Map::new();
        part.insert("type".to_owned(), Value::from("text"));
        part.insert("text".to_owned(), Value::String(text));
        parts.push(Value::Object(part));
    }
    parts.extend(images);
    Value::Array(parts)
}
