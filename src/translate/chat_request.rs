//! `POST /v1/chat/completions` → upstream Responses body (spec §6.2).
//!
//! `system`/`developer` messages become `instructions`; the rest of the conversation
//! becomes Responses input items. Parameters whose removal would change the answer's
//! meaning are refused; parameters the upstream rejects, and chat parameters it has
//! no equivalent for, are dropped and disclosed.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    TranslateError, TranslateOptions, UpstreamRequest, check_store, ensure_include_reasoning,
    json_kind, message_item, optional_bool, parse_body, responses_request, schema, take_model,
    user_text_item,
};

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
        include_usage: include_usage(body.get("stream_options"))?,
    };
    let has = |body: &Map<String, Value>, key: &str| body.get(key).is_some_and(|v| !v.is_null());
    if !has(&body, "messages") && has(&body, "input") {
        // Consumed here: the upstream has no chat stream options.
        body.shift_remove("stream_options");
        return Ok((responses_request::prepare_map(body, opts)?, info));
    }
    let model = take_model(&body)?;

    let mut ignored_parameters = Vec::new();
    let mut messages = None;
    let mut client_stream = false;
    let mut tools = Vec::new();
    let mut tool_choice = None;
    let mut legacy_function_call = None;
    let mut parallel_tool_calls = None;
    let mut reasoning_effort = None;
    let mut text_format = None;
    let mut verbosity = None;
    let mut prompt_cache_key = None;
    let mut service_tier = None;

    for (key, value) in body {
        match key.as_str() {
            "model" | "stream_options" => {}
            "messages" => messages = Some(value),
            "stream" => client_stream = optional_bool(Some(&value), "stream")?.unwrap_or(false),
            "n" => check_n(&value)?,
            "stop" => check_stop(&value)?,
            "logprobs" => {
                if optional_bool(Some(&value), "logprobs")? == Some(true) {
                    return Err(refuse(
                        "logprobs",
                        "`logprobs` is not supported: the ChatGPT backend returns no token log probabilities. Remove it or set it to false.",
                    ));
                }
            }
            "logit_bias" => check_logit_bias(&value)?,
            "audio" => {
                if !value.is_null() {
                    return Err(refuse(
                        "audio",
                        "`audio` output is not supported by the ChatGPT backend. Remove the parameter.",
                    ));
                }
            }
            "modalities" => check_modalities(&value)?,
            "store" => check_store(Some(&value))?,
            _ if value.is_null() => {}
            _ if opts.is_unsupported(&key) => ignored_parameters.push(key),
            "tools" => tools.extend(translate_tools(value, "tools")?),
            "functions" => tools.extend(translate_tools(value, "functions")?),
            "tool_choice" => tool_choice = Some(translate_tool_choice(value)?),
            "function_call" => legacy_function_call = Some(translate_function_call(value)?),
            "parallel_tool_calls" => {
                optional_bool(Some(&value), "parallel_tool_calls")?;
                parallel_tool_calls = Some(value);
            }
            "response_format" => text_format = translate_response_format(value)?,
            "reasoning_effort" => {
                reasoning_effort = Some(expect_string(value, "reasoning_effort")?)
            }
            "verbosity" => verbosity = Some(expect_string(value, "verbosity")?),
            "prompt_cache_key" => {
                prompt_cache_key = Some(expect_string(value, "prompt_cache_key")?)
            }
            "service_tier" => service_tier = Some(expect_string(value, "service_tier")?),
            _ => ignored_parameters.push(key),
        }
    }

    let messages = match messages {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) => {
            return Err(TranslateError::param(
                "messages",
                "`messages` is empty. Send at least one message.",
            ));
        }
        None | Some(Value::Null) => {
            return Err(TranslateError::missing("messages", "an array of messages"));
        }
        Some(_) => return Err(TranslateError::invalid_type("messages", "an array")),
    };
    let conversation = Conversation::translate(messages)?;

    let mut upstream = Map::with_capacity(16);
    upstream.insert("model".to_owned(), Value::String(model.clone()));
    let mut parts = conversation.instructions;
    let instructions = match parts.len() {
        0 => opts.default_instructions.to_owned(),
        1 => parts.pop().unwrap_or_default(),
        _ => parts.join("\n\n"),
    };
    upstream.insert("instructions".to_owned(), Value::String(instructions));
    upstream.insert("input".to_owned(), Value::Array(conversation.input));
    if !tools.is_empty() {
        upstream.insert("tools".to_owned(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice.or(legacy_function_call) {
        upstream.insert("tool_choice".to_owned(), choice);
    }
    if let Some(parallel) = parallel_tool_calls {
        upstream.insert("parallel_tool_calls".to_owned(), parallel);
    }
    let reasoning_on = reasoning_effort.is_some() || opts.reasoning_summaries;
    if reasoning_on {
        let mut reasoning = Map::new();
        if let Some(effort) = reasoning_effort {
            reasoning.insert("effort".to_owned(), effort);
        }
        if opts.reasoning_summaries {
            reasoning.insert("summary".to_owned(), Value::from("auto"));
        }
        upstream.insert("reasoning".to_owned(), Value::Object(reasoning));
    }
    if text_format.is_some() || verbosity.is_some() {
        let mut text = Map::new();
        if let Some(format) = text_format {
            text.insert("format".to_owned(), format);
        }
        if let Some(verbosity) = verbosity {
            text.insert("verbosity".to_owned(), verbosity);
        }
        upstream.insert("text".to_owned(), Value::Object(text));
    }
    if let Some(key) = prompt_cache_key {
        upstream.insert("prompt_cache_key".to_owned(), key);
    }
    if let Some(tier) = service_tier {
        upstream.insert("service_tier".to_owned(), tier);
    }
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
        },
        info,
    ))
}

/// `stream_options.include_usage`.
fn include_usage(stream_options: Option<&Value>) -> Result<bool, TranslateError> {
    match stream_options {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Object(options)) => Ok(optional_bool(
            options.get("include_usage"),
            "stream_options.include_usage",
        )?
        .unwrap_or(false)),
        Some(_) => Err(TranslateError::invalid_type("stream_options", "an object")),
    }
}

/// An error for a parameter the relay cannot honour and must not drop.
fn refuse(param: &str, message: &str) -> TranslateError {
    TranslateError::param(param, message).code("unsupported_parameter")
}

fn check_n(value: &Value) -> Result<(), TranslateError> {
    if value.is_null() || value.as_f64() == Some(1.0) {
        return Ok(());
    }
    Err(refuse(
        "n",
        "Only `n: 1` is supported: the ChatGPT backend generates one choice per request. Send several requests instead.",
    ))
}

fn check_stop(value: &Value) -> Result<(), TranslateError> {
    let empty = match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if empty {
        return Ok(());
    }
    Err(refuse(
        "stop",
        "`stop` sequences are not supported by the ChatGPT backend. Remove the parameter and trim the answer yourself.",
    ))
}

fn check_logit_bias(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null => Ok(()),
        Value::Object(bias) if bias.is_empty() => Ok(()),
        _ => Err(refuse(
            "logit_bias",
            "`logit_bias` is not supported by the ChatGPT backend. Remove the parameter.",
        )),
    }
}

fn check_modalities(value: &Value) -> Result<(), TranslateError> {
    let text_only = match value {
        Value::Null => true,
        Value::Array(m) => m.len() == 1 && m.iter().all(|v| v == "text"),
        _ => false,
    };
    if text_only {
        return Ok(());
    }
    Err(refuse(
        "modalities",
        "Only `modalities: [\"text\"]` is supported: the ChatGPT backend answers with text only.",
    ))
}

fn expect_string(value: Value, param: &str) -> Result<Value, TranslateError> {
    if value.is_string() {
        Ok(value)
    } else {
        Err(TranslateError::invalid_type(param, "a string"))
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

fn take_object(value: Value, param: &str) -> Result<Map<String, Value>, TranslateError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(TranslateError::invalid_type(param, "an object")),
    }
}

/// Which kind of tool call an id belongs to, so its answer gets the matching item type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Function,
    Custom,
}

/// The messages, translated.
#[derive(Default)]
struct Conversation {
    instructions: Vec<String>,
    input: Vec<Value>,
    /// call id → kind, for every tool call of an earlier assistant message.
    calls: HashMap<String, CallKind>,
    /// Deprecated `function_call`s not answered yet: (name, synthesized call id).
    legacy_calls: Vec<(String, String)>,
}

impl Conversation {
    fn translate(messages: Vec<Value>) -> Result<Self, TranslateError> {
        let mut conversation = Conversation {
            input: Vec::with_capacity(messages.len()),
            ..Conversation::default()
        };
        for (i, message) in messages.into_iter().enumerate() {
            conversation.message(i, message)?;
        }
        Ok(conversation)
    }

    fn message(&mut self, i: usize, message: Value) -> Result<(), TranslateError> {
        let param = format!("messages[{i}]");
        let mut message = take_object(message, &param)?;
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
        let content = message.remove("content");
        match role.as_str() {
            "system" | "developer" => {
                let text = text_content(content, &param)?;
                if !text.is_empty() {
                    self.instructions.push(text);
                }
            }
            "user" => {
                let item = match content {
                    Some(Value::String(text)) => user_text_item(text),
                    Some(Value::Array(parts)) => {
                        let parts = parts
                            .into_iter()
                            .enumerate()
                            .map(|(j, part)| user_part(part, &format!("{param}.content[{j}]")))
                            .collect::<Result<Vec<_>, _>>()?;
                        message_item("user", parts)
                    }
                    None | Some(Value::Null) => {
                        return Err(TranslateError::missing(
                            format!("{param}.content"),
                            "a string or an array of content parts",
                        ));
                    }
                    Some(_) => {
                        return Err(TranslateError::invalid_type(
                            format!("{param}.content"),
                            "a string or an array of content parts",
                        ));
                    }
                };
                self.input.push(item);
            }
            "assistant" => self.assistant(message, content, &param)?,
            "tool" => {
                let call_id = match message.remove("tool_call_id") {
                    Some(Value::String(id)) => id,
                    None | Some(Value::Null) => {
                        return Err(TranslateError::missing(
                            format!("{param}.tool_call_id"),
                            "the id of the tool call this message answers",
                        ));
                    }
                    Some(_) => {
                        return Err(TranslateError::invalid_type(
                            format!("{param}.tool_call_id"),
                            "a string",
                        ));
                    }
                };
                let Some(kind) = self.calls.get(&call_id).copied() else {
                    return Err(TranslateError::param(
                        format!("{param}.tool_call_id"),
                        format!(
                            "`{param}.tool_call_id` is \"{call_id}\", which matches no tool call of an earlier assistant message. Send the assistant message with its `tool_calls` before the tool results."
                        ),
                    ));
                };
                let output = text_content(content, &param)?;
                let item_type = match kind {
                    CallKind::Function => "function_call_output",
                    CallKind::Custom => "custom_tool_call_output",
                };
                self.input.push(call_output(item_type, call_id, output));
            }
            "function" => {
                let name = take_string(&mut message, "name", &param)?;
                let Some(position) = self.legacy_calls.iter().rposition(|(n, _)| *n == name) else {
                    return Err(TranslateError::param(
                        format!("{param}.name"),
                        format!(
                            "`{param}` answers the function \"{name}\", but no earlier assistant message called it."
                        ),
                    ));
                };
                let (_, call_id) = self.legacy_calls.remove(position);
                let output = text_content(content, &param)?;
                self.input
                    .push(call_output("function_call_output", call_id, output));
            }
            _ => {
                return Err(TranslateError::param(
                    format!("{param}.role"),
                    format!(
                        "`{param}.role` \"{role}\" is not supported. Use system, developer, user, assistant or tool."
                    ),
                )
                .code("unsupported_value"));
            }
        }
        Ok(())
    }

    fn assistant(
        &mut self,
        mut message: Map<String, Value>,
        content: Option<Value>,
        param: &str,
    ) -> Result<(), TranslateError> {
        let mut parts = Vec::new();
        match content {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => {
                if !text.is_empty() {
                    parts.push(output_text(text));
                }
            }
            Some(Value::Array(items)) => {
                for (j, part) in items.into_iter().enumerate() {
                    let part_param = format!("{param}.content[{j}]");
                    let mut part = take_object(part, &part_param)?;
                    match part.get("type").and_then(Value::as_str) {
                        Some("text" | "output_text") => {
                            let text = take_string_allow_empty(&mut part, "text", &part_param)?;
                            if !text.is_empty() {
                                parts.push(output_text(text));
                            }
                        }
                        Some("refusal") => {
                            let refusal =
                                take_string_allow_empty(&mut part, "refusal", &part_param)?;
                            parts.push(refusal_part(refusal));
                        }
                        _ => {
                            return Err(TranslateError::param(
                                format!("{part_param}.type"),
                                format!(
                                    "`{part_param}.type` is not supported in assistant messages. Use text or refusal parts."
                                ),
                            )
                            .code("unsupported_value"));
                        }
                    }
                }
            }
            Some(_) => {
                return Err(TranslateError::invalid_type(
                    format!("{param}.content"),
                    "a string, an array of content parts or null",
                ));
            }
        }
        if let Some(Value::String(refusal)) = message.remove("refusal")
            && !refusal.is_empty()
            && !parts
                .iter()
                .any(|p| p.get("type").and_then(Value::as_str) == Some("refusal"))
        {
            parts.push(refusal_part(refusal));
        }
        if !parts.is_empty() {
            self.input.push(message_item("assistant", parts));
        }

        match message.remove("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(calls)) => {
                for (k, call) in calls.into_iter().enumerate() {
                    self.tool_call(call, &format!("{param}.tool_calls[{k}]"))?;
                }
            }
            Some(_) => {
                return Err(TranslateError::invalid_type(
                    format!("{param}.tool_calls"),
                    "an array",
                ));
            }
        }
        match message.remove("function_call") {
            None | Some(Value::Null) => {}
            Some(call) => {
                let call_param = format!("{param}.function_call");
                let mut call = take_object(call, &call_param)?;
                let name = take_string(&mut call, "name", &call_param)?;
                let arguments = arguments_string(call.remove("arguments"));
                // The deprecated API has no call ids; the item position makes one unique.
                let call_id = format!("call_fn_{}", self.input.len());
                self.input
                    .push(function_call_item(call_id.clone(), name.clone(), arguments));
                self.legacy_calls.push((name, call_id));
            }
        }
        Ok(())
    }

    fn tool_call(&mut self, call: Value, param: &str) -> Result<(), TranslateError> {
        let mut call = take_object(call, param)?;
        let call_id = take_string(&mut call, "id", param)?;
        let kind = match call.get("type") {
            None | Some(Value::Null) => CallKind::Function,
            Some(Value::String(t)) if t == "function" => CallKind::Function,
            Some(Value::String(t)) if t == "custom" => CallKind::Custom,
            Some(_) => {
                return Err(TranslateError::param(
                    format!("{param}.type"),
                    format!("`{param}.type` must be \"function\" or \"custom\"."),
                )
                .code("unsupported_value"));
            }
        };
        let item = match kind {
            CallKind::Function => {
                let function_param = format!("{param}.function");
                let mut function = take_object(
                    call.remove("function").unwrap_or(Value::Null),
                    &function_param,
                )?;
                let name = take_string(&mut function, "name", &function_param)?;
                let arguments = arguments_string(function.remove("arguments"));
                function_call_item(call_id.clone(), name, arguments)
            }
            CallKind::Custom => {
                let custom_param = format!("{param}.custom");
                let mut custom =
                    take_object(call.remove("custom").unwrap_or(Value::Null), &custom_param)?;
                let name = take_string(&mut custom, "name", &custom_param)?;
                let input = match custom.remove("input") {
                    Some(Value::String(input)) => input,
                    None | Some(Value::Null) => String::new(),
                    Some(_) => {
                        return Err(TranslateError::invalid_type(
                            format!("{custom_param}.input"),
                            "a string",
                        ));
                    }
                };
                let mut item = Map::new();
                item.insert("type".to_owned(), Value::from("custom_tool_call"));
                item.insert("call_id".to_owned(), Value::String(call_id.clone()));
                item.insert("name".to_owned(), Value::String(name));
                item.insert("input".to_owned(), Value::String(input));
                Value::Object(item)
            }
        };
        self.input.push(item);
        self.calls.insert(call_id, kind);
        Ok(())
    }
}

fn take_string_allow_empty(
    map: &mut Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<String, TranslateError> {
    match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(TranslateError::missing(
            format!("{param}.{key}"),
            "a string",
        )),
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.{key}"),
            "a string",
        )),
    }
}

/// Function arguments as the JSON string the upstream wants. Some clients send an
/// object; it is serialised.
fn arguments_string(arguments: Option<Value>) -> String {
    match arguments {
        Some(Value::String(arguments)) => arguments,
        None | Some(Value::Null) => "{}".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn function_call_item(call_id: String, name: String, arguments: String) -> Value {
    let mut item = Map::new();
    item.insert("type".to_owned(), Value::from("function_call"));
    item.insert("call_id".to_owned(), Value::String(call_id));
    item.insert("name".to_owned(), Value::String(name));
    item.insert("arguments".to_owned(), Value::String(arguments));
    Value::Object(item)
}

fn call_output(item_type: &str, call_id: String, output: String) -> Value {
    let mut item = Map::new();
    item.insert("type".to_owned(), Value::from(item_type));
    item.insert("call_id".to_owned(), Value::String(call_id));
    item.insert("output".to_owned(), Value::String(output));
    Value::Object(item)
}

fn output_text(text: String) -> Value {
    let mut part = Map::new();
    part.insert("type".to_owned(), Value::from("output_text"));
    part.insert("text".to_owned(), Value::String(text));
    Value::Object(part)
}

fn refusal_part(refusal: String) -> Value {
    let mut part = Map::new();
    part.insert("type".to_owned(), Value::from("refusal"));
    part.insert("refusal".to_owned(), Value::String(refusal));
    Value::Object(part)
}

/// The text of a system, developer, tool or function message: a string, or text
/// parts joined with newlines.
fn text_content(content: Option<Value>, param: &str) -> Result<String, TranslateError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.into_iter().enumerate() {
                let part_param = format!("{param}.content[{j}]");
                let mut part = take_object(part, &part_param)?;
                match part.get("type").and_then(Value::as_str) {
                    Some("text" | "input_text" | "output_text") => {
                        texts.push(take_string_allow_empty(&mut part, "text", &part_param)?);
                    }
                    _ => {
                        return Err(TranslateError::param(
                            format!("{part_param}.type"),
                            format!(
                                "`{part_param}.type` is not supported here: this message accepts text parts only."
                            ),
                        )
                        .code("unsupported_value"));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.content"),
            "a string or an array of text parts",
        )),
    }
}

/// One part of a user message → a Responses input content part.
fn user_part(part: Value, param: &str) -> Result<Value, TranslateError> {
    let mut part = take_object(part, param)?;
    let part_type = match part.remove("type") {
        Some(Value::String(t)) => t,
        None | Some(Value::Null) => {
            return Err(TranslateError::missing(
                format!("{param}.type"),
                "a content part type",
            ));
        }
        Some(_) => {
            return Err(TranslateError::invalid_type(
                format!("{param}.type"),
                "a string",
            ));
        }
    };
    let mut out = Map::new();
    match part_type.as_str() {
        "text" | "input_text" => {
            let text = take_string_allow_empty(&mut part, "text", param)?;
            out.insert("type".to_owned(), Value::from("input_text"));
            out.insert("text".to_owned(), Value::String(text));
        }
        "image_url" => {
            let image_param = format!("{param}.image_url");
            let (mut source, detail) = match part.remove("image_url") {
                Some(Value::String(url)) => {
                    let mut source = Map::new();
                    source.insert("url".to_owned(), Value::String(url));
                    (source, None)
                }
                Some(Value::Object(mut image)) => {
                    let detail = image.remove("detail").filter(|d| !d.is_null());
                    (image, detail)
                }
                None | Some(Value::Null) => {
                    return Err(TranslateError::missing(image_param, "an object with `url`"));
                }
                Some(_) => return Err(TranslateError::invalid_type(image_param, "an object")),
            };
            out.insert("type".to_owned(), Value::from("input_image"));
            match (source.remove("url"), source.remove("file_id")) {
                (Some(Value::String(url)), _) => {
                    out.insert("image_url".to_owned(), Value::String(url));
                }
                (None | Some(Value::Null), Some(Value::String(file_id))) => {
                    out.insert("file_id".to_owned(), Value::String(file_id));
                }
                _ => {
                    return Err(TranslateError::missing(
                        format!("{image_param}.url"),
                        "an image URL, a data URL or a `file_id`",
                    ));
                }
            }
            out.insert(
                "detail".to_owned(),
                detail.unwrap_or_else(|| Value::from("auto")),
            );
        }
        "file" => {
            let file_param = format!("{param}.file");
            let mut file = take_object(part.remove("file").unwrap_or(Value::Null), &file_param)?;
            out.insert("type".to_owned(), Value::from("input_file"));
            match (file.remove("file_id"), file.remove("file_data")) {
                (Some(Value::String(file_id)), _) => {
                    out.insert("file_id".to_owned(), Value::String(file_id));
                }
                (_, Some(Value::String(data))) => {
                    if let Some(Value::String(filename)) = file.remove("filename") {
                        out.insert("filename".to_owned(), Value::String(filename));
                    }
                    out.insert("file_data".to_owned(), Value::String(data));
                }
                _ => {
                    return Err(TranslateError::missing(
                        file_param,
                        "an object with `file_id`, or `file_data` and `filename`",
                    ));
                }
            }
        }
        "input_image" | "input_file" => {
            out.insert("type".to_owned(), Value::String(part_type));
            out.extend(part);
        }
        "input_audio" => {
            return Err(TranslateError::param(
                param,
                format!("`{param}` is audio input, which the ChatGPT backend does not accept. Send text or images."),
            )
            .code("unsupported_value"));
        }
        _ => {
            return Err(TranslateError::param(
                format!("{param}.type"),
                format!(
                    "`{param}.type` \"{part_type}\" is not supported. Use text, image_url or file parts."
                ),
            )
            .code("unsupported_value"));
        }
    }
    Ok(Value::Object(out))
}

/// `tools` (or the deprecated `functions`) → flattened Responses tools.
fn translate_tools(value: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    let Value::Array(tools) = value else {
        return Err(TranslateError::invalid_type(param, "an array"));
    };
    let legacy = param == "functions";
    tools
        .into_iter()
        .enumerate()
        .map(|(i, tool)| {
            let tool_param = format!("{param}[{i}]");
            let mut tool = take_object(tool, &tool_param)?;
            if legacy {
                return function_tool(tool, &tool_param);
            }
            match tool.get("type") {
                None | Some(Value::Null) if tool.contains_key("function") => {}
                Some(Value::String(t)) if t == "function" || t == "custom" => {}
                _ => {
                    return Err(TranslateError::param(
                        format!("{tool_param}.type"),
                        format!(
                            "`{tool_param}.type` is not supported. Chat tools must be of type \"function\" or \"custom\"."
                        ),
                    )
                    .code("unsupported_value"));
                }
            }
            if tool.get("type").and_then(Value::as_str) == Some("custom") {
                let custom_param = format!("{tool_param}.custom");
                let custom = take_object(tool.remove("custom").unwrap_or(Value::Null), &custom_param)?;
                custom_tool(custom, &custom_param)
            } else {
                let function_param = format!("{tool_param}.function");
                let function =
                    take_object(tool.remove("function").unwrap_or(Value::Null), &function_param)?;
                function_tool(function, &function_param)
            }
        })
        .collect()
}

/// `{"name","description","parameters","strict"}` → the flattened function tool.
fn function_tool(mut function: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let name = take_string(&mut function, "name", param)?;
    let strict =
        optional_bool(function.get("strict"), &format!("{param}.strict"))?.unwrap_or(false);
    let mut parameters = match function.remove("parameters") {
        None | Some(Value::Null) => {
            let mut empty = Map::new();
            empty.insert("type".to_owned(), Value::from("object"));
            empty.insert("properties".to_owned(), Value::Object(Map::new()));
            Value::Object(empty)
        }
        Some(parameters @ Value::Object(_)) => parameters,
        Some(_) => {
            return Err(TranslateError::invalid_type(
                format!("{param}.parameters"),
                "a JSON schema object",
            ));
        }
    };
    if strict {
        schema::make_strict(&mut parameters);
    }
    let mut tool = Map::new();
    tool.insert("type".to_owned(), Value::from("function"));
    tool.insert("name".to_owned(), Value::String(name));
    if let Some(description) = function.remove("description").filter(|d| !d.is_null()) {
        tool.insert("description".to_owned(), description);
    }
    tool.insert("parameters".to_owned(), parameters);
    tool.insert("strict".to_owned(), Value::Bool(strict));
    Ok(Value::Object(tool))
}

/// `{"name","description","format"}` → the flattened custom tool.
fn custom_tool(mut custom: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let name = take_string(&mut custom, "name", param)?;
    let mut tool = Map::new();
    tool.insert("type".to_owned(), Value::from("custom"));
    tool.insert("name".to_owned(), Value::String(name));
    for key in ["description", "format"] {
        if let Some(value) = custom.remove(key).filter(|v| !v.is_null()) {
            tool.insert(key.to_owned(), value);
        }
    }
    Ok(Value::Object(tool))
}

/// A named tool reference (`{"type":"function","function":{"name"}}` or the custom
/// form) → `{"type","name"}`.
fn named_tool_ref(mut choice: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let kind = match choice.get("type").and_then(Value::as_str) {
        Some("function") => "function",
        Some("custom") => "custom",
        _ => {
            return Err(TranslateError::param(
                format!("{param}.type"),
                format!("`{param}.type` must be \"function\", \"custom\" or \"allowed_tools\"."),
            )
            .code("unsupported_value"));
        }
    };
    let inner_param = format!("{param}.{kind}");
    let mut inner = take_object(choice.remove(kind).unwrap_or(Value::Null), &inner_param)?;
    let name = take_string(&mut inner, "name", &inner_param)?;
    let mut out = Map::new();
    out.insert("type".to_owned(), Value::from(kind));
    out.insert("name".to_owned(), Value::String(name));
    Ok(Value::Object(out))
}

fn translate_tool_choice(value: Value) -> Result<Value, TranslateError> {
    match value {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => {
            Ok(Value::String(mode))
        }
        Value::String(mode) => Err(TranslateError::param(
            "tool_choice",
            format!("`tool_choice` \"{mode}\" is not supported. Use auto, none, required or a named tool."),
        )
        .code("unsupported_value")),
        Value::Object(mut choice) => {
            if choice.get("type").and_then(Value::as_str) != Some("allowed_tools") {
                return named_tool_ref(choice, "tool_choice");
            }
            let param = "tool_choice.allowed_tools";
            let mut allowed = take_object(choice.remove("allowed_tools").unwrap_or(Value::Null), param)?;
            let mode = allowed.remove("mode").unwrap_or_else(|| Value::from("auto"));
            let tools = match allowed.remove("tools") {
                Some(Value::Array(tools)) => tools
                    .into_iter()
                    .enumerate()
                    .map(|(i, tool)| {
                        let tool_param = format!("{param}.tools[{i}]");
                        named_tool_ref(take_object(tool, &tool_param)?, &tool_param)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(TranslateError::missing(format!("{param}.tools"), "an array of tools")),
            };
            let mut out = Map::new();
            out.insert("type".to_owned(), Value::from("allowed_tools"));
            out.insert("mode".to_owned(), mode);
            out.insert("tools".to_owned(), Value::Array(tools));
            Ok(Value::Object(out))
        }
        other => Err(TranslateError::invalid_type(
            "tool_choice",
            &format!("a string or an object, not {}", json_kind(&other)),
        )),
    }
}

/// The deprecated `function_call` choice → `tool_choice`.
fn translate_function_call(value: Value) -> Result<Value, TranslateError> {
    match value {
        Value::String(mode) if mode == "auto" || mode == "none" => Ok(Value::String(mode)),
        Value::Object(mut choice) => {
            let name = take_string(&mut choice, "name", "function_call")?;
            let mut out = Map::new();
            out.insert("type".to_owned(), Value::from("function"));
            out.insert("name".to_owned(), Value::String(name));
            Ok(Value::Object(out))
        }
        _ => Err(TranslateError::invalid_type(
            "function_call",
            "\"auto\", \"none\" or {\"name\": …}",
        )),
    }
}

/// `response_format` → `text.format`, or `None` for plain text.
fn translate_response_format(value: Value) -> Result<Option<Value>, TranslateError> {
    let mut format = take_object(value, "response_format")?;
    let mut out = Map::new();
    match format.get("type").and_then(Value::as_str) {
        Some("text") => return Ok(None),
        Some("json_object") => {
            out.insert("type".to_owned(), Value::from("json_object"));
        }
        Some("json_schema") => {
            let param = "response_format.json_schema";
            let mut spec = take_object(format.remove("json_schema").unwrap_or(Value::Null), param)?;
            let name = match spec.remove("name") {
                Some(Value::String(name)) if !name.is_empty() => name,
                None | Some(Value::Null) => "response".to_owned(),
                Some(_) => {
                    return Err(TranslateError::invalid_type(
                        format!("{param}.name"),
                        "a non-empty string",
                    ));
                }
            };
            let strict =
                optional_bool(spec.get("strict"), &format!("{param}.strict"))?.unwrap_or(false);
            let mut schema = match spec.remove("schema") {
                Some(schema @ Value::Object(_)) => schema,
                None | Some(Value::Null) => {
                    return Err(TranslateError::missing(
                        format!("{param}.schema"),
                        "a JSON schema object",
                    ));
                }
                Some(_) => {
                    return Err(TranslateError::invalid_type(
                        format!("{param}.schema"),
                        "a JSON schema object",
                    ));
                }
            };
            if strict {
                schema::make_strict(&mut schema);
            }
            out.insert("type".to_owned(), Value::from("json_schema"));
            out.insert("name".to_owned(), Value::String(name));
            out.insert("schema".to_owned(), schema);
            out.insert("strict".to_owned(), Value::Bool(strict));
            if let Some(description) = spec.remove("description").filter(|d| !d.is_null()) {
                out.insert("description".to_owned(), description);
            }
        }
        _ => {
            return Err(TranslateError::param(
                "response_format.type",
                "`response_format.type` must be \"text\", \"json_object\" or \"json_schema\".",
            )
            .code("unsupported_value"));
        }
    }
    Ok(Some(Value::Object(out)))
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

    fn run_with(
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

    fn ok(body: Value) -> UpstreamRequest {
        run_with(&body, false).expect("translates").0
    }

    fn err(body: Value) -> TranslateError {
        run_with(&body, false).expect_err("rejected")
    }

    fn chat(messages: Value) -> Value {
        json!({"model":"gpt-5.5","messages":messages})
    }

    fn input_of(messages: Value) -> Value {
        ok(chat(messages)).body["input"].clone()
    }

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
    fn system_and_developer_messages_become_instructions() {
        let req = ok(chat(json!([
            {"role":"system","content":"First."},
            {"role":"user","content":"hi"},
            {"role":"developer","content":[{"type":"text","text":"Second"},{"type":"text","text":"part."}]},
            {"role":"system","content":""}
        ])));
        assert_eq!(req.body["instructions"], json!("First.\n\nSecond\npart."));
        assert_eq!(req.body["input"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn user_parts_text_images_and_files() {
        let input = input_of(json!([{"role":"user","content":[
            {"type":"text","text":"Look:"},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
            {"type":"image_url","image_url":"https://example.com/dog.jpg"},
            {"type":"image_url","image_url":{"file_id":"file-img1","detail":"low"}},
            {"type":"file","file":{"file_id":"file-abc"}},
            {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}
        ]}]));
        assert_eq!(
            input,
            json!([{"type":"message","role":"user","content":[
                {"type":"input_text","text":"Look:"},
                {"type":"input_image","image_url":"https://example.com/cat.png","detail":"auto"},
                {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"},
                {"type":"input_image","image_url":"https://example.com/dog.jpg","detail":"auto"},
                {"type":"input_image","file_id":"file-img1","detail":"low"},
                {"type":"input_file","file_id":"file-abc"},
                {"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}
            ]}])
        );
    }

    #[test]
    fn bad_user_parts_are_rejected_with_their_path() {
        let e = err(chat(json!([{"role":"user","content":[
            {"type":"text","text":"x"},
            {"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}
        ]}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1]"));
        assert!(e.message.contains("audio"));
        let e = err(chat(
            json!([{"role":"user","content":[{"type":"video","video":{}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
        let e = err(chat(
            json!([{"role":"user","content":[{"type":"image_url","image_url":{}}]}]),
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].image_url.url")
        );
        let e = err(chat(
            json!([{"role":"user","content":[{"type":"file","file":{"filename":"x"}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].file"));
        let e = err(chat(json!([{"role":"user"}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].content"));
        let e = err(chat(json!([{"role":"wizard","content":"x"}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = err(chat(json!(["hello"])));
        assert_eq!(e.param.as_deref(), Some("messages[0]"));
    }

    #[test]
    fn multi_turn_tool_loop() {
        let input = input_of(json!([
            {"role":"user","content":"weather in Paris and Tokyo?"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_A","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_B","type":"function","function":{"name":"get_weather","arguments":{"city":"Tokyo"}}}
            ]},
            {"role":"tool","tool_call_id":"call_A","content":"18C"},
            {"role":"tool","tool_call_id":"call_B","content":[{"type":"text","text":"25C"},{"type":"text","text":"sunny"}]},
            {"role":"assistant","content":"Paris 18C, Tokyo 25C."},
            {"role":"user","content":"thanks"}
        ]));
        assert_eq!(
            input,
            json!([
                {"type":"message","role":"user","content":[{"type":"input_text","text":"weather in Paris and Tokyo?"}]},
                {"type":"function_call","call_id":"call_A","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
                {"type":"function_call","call_id":"call_B","name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"},
                {"type":"function_call_output","call_id":"call_A","output":"18C"},
                {"type":"function_call_output","call_id":"call_B","output":"25C\nsunny"},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Paris 18C, Tokyo 25C."}]},
                {"type":"message","role":"user","content":[{"type":"input_text","text":"thanks"}]}
            ])
        );
    }

    #[test]
    fn assistant_text_with_tool_calls_and_refusals() {
        let input = input_of(json!([
            {"role":"user","content":"go"},
            {"role":"assistant","content":"Let me check.","tool_calls":[
                {"id":"c1","type":"function","function":{"name":"f"}}
            ]},
            {"role":"assistant","content":[{"type":"text","text":"Part"},{"type":"refusal","refusal":"No."}]},
            {"role":"assistant","content":null,"refusal":"I won't."},
            {"role":"assistant","content":""}
        ]));
        assert_eq!(
            input,
            json!([
                {"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},
                {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Part"},{"type":"refusal","refusal":"No."}]},
                {"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"I won't."}]}
            ])
        );
    }

    #[test]
    fn custom_tool_calls_and_outputs() {
        let input = input_of(json!([
            {"role":"user","content":"patch it"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_P","type":"custom","custom":{"name":"apply_patch","input":"*** Begin Patch"}}
            ]},
            {"role":"tool","tool_call_id":"call_P","content":"Done"}
        ]));
        assert_eq!(
            input[1],
            json!({"type":"custom_tool_call","call_id":"call_P","name":"apply_patch","input":"*** Begin Patch"})
        );
        assert_eq!(
            input[2],
            json!({"type":"custom_tool_call_output","call_id":"call_P","output":"Done"})
        );
    }

    #[test]
    fn tool_message_must_answer_an_earlier_call() {
        let e = err(chat(json!([
            {"role":"user","content":"x"},
            {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_2","content":"r"}
        ])));
        assert_eq!(e.param.as_deref(), Some("messages[2].tool_call_id"));
        assert!(e.message.contains("call_2"));
        let e = err(chat(json!([
            {"role":"tool","tool_call_id":"call_1","content":"r"},
            {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f"}}]}
        ])));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
        let e = err(chat(json!([{"role":"tool","content":"r"}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
        let e = err(chat(
            json!([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_calls[0].id"));
        let e = err(chat(
            json!([{"role":"assistant","tool_calls":[{"id":"c","type":"web"}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_calls[0].type"));
    }

    #[test]
    fn deprecated_function_role_and_function_call() {
        let req = ok(json!({"model":"m","messages":[
            {"role":"user","content":"time?"},
            {"role":"assistant","content":null,"function_call":{"name":"now","arguments":"{}"}},
            {"role":"function","name":"now","content":"12:00"}
        ],
        "functions":[{"name":"now","description":"Current time","parameters":{"type":"object","properties":{}}}],
        "function_call":{"name":"now"}}));
        let input = &req.body["input"];
        assert_eq!(input[1]["type"], json!("function_call"));
        assert_eq!(input[1]["name"], json!("now"));
        assert_eq!(input[2]["type"], json!("function_call_output"));
        assert_eq!(input[2]["output"], json!("12:00"));
        assert_eq!(input[1]["call_id"], input[2]["call_id"]);
        assert_eq!(
            req.body["tools"],
            json!([{"type":"function","name":"now","description":"Current time","parameters":{"type":"object","properties":{}},"strict":false}])
        );
        assert_eq!(
            req.body["tool_choice"],
            json!({"type":"function","name":"now"})
        );
        assert!(req.ignored_parameters.is_empty());

        let e = err(chat(
            json!([{"role":"function","name":"now","content":"x"}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].name"));
    }

    #[test]
    fn tools_are_flattened() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
                {"type":"function","function":{"name":"a","description":"A","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}},
                {"type":"function","function":{"name":"b"}},
                {"type":"function","function":{"name":"c","strict":true,"parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer"}},"required":["q"]}}},
                {"type":"custom","custom":{"name":"apply_patch","description":"Patch","format":{"type":"text"}}}
            ]}),
        );
        assert_eq!(
            req.body["tools"],
            json!([
                {"type":"function","name":"a","description":"A","parameters":{"type":"object","properties":{"q":{"type":"string"}}},"strict":false},
                {"type":"function","name":"b","parameters":{"type":"object","properties":{}},"strict":false},
                {"type":"function","name":"c","parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":["integer","null"]}},"required":["q","n"],"additionalProperties":false},"strict":true},
                {"type":"custom","name":"apply_patch","description":"Patch","format":{"type":"text"}}
            ])
        );
    }

    #[test]
    fn unsupported_tool_types_are_rejected() {
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
                {"type":"function","function":{"name":"a"}},
                {"type":"web_search_preview"}
            ]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[1].type"));
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[0].function.name"));
        let e = err(json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}}));
        assert_eq!(e.param.as_deref(), Some("tools"));
    }

    #[test]
    fn tool_choice_forms() {
        let base = |choice: Value| {
            ok(json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":choice}))
                .body["tool_choice"]
                .clone()
        };
        for mode in ["auto", "none", "required"] {
            assert_eq!(base(json!(mode)), json!(mode));
        }
        assert_eq!(
            base(json!({"type":"function","function":{"name":"f"}})),
            json!({"type":"function","name":"f"})
        );
        assert_eq!(
            base(json!({"type":"custom","custom":{"name":"apply_patch"}})),
            json!({"type":"custom","name":"apply_patch"})
        );
        assert_eq!(
            base(
                json!({"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[
                {"type":"function","function":{"name":"a"}},{"type":"custom","custom":{"name":"b"}}]}})
            ),
            json!({"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"a"},{"type":"custom","name":"b"}]})
        );
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"any"}),
        );
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function"}}),
        );
        assert_eq!(e.param.as_deref(), Some("tool_choice.function"));
    }

    #[test]
    fn parallel_tool_calls_and_pass_through_fields() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "parallel_tool_calls":false,"prompt_cache_key":"k1","service_tier":"priority","verbosity":"low"}),
        );
        assert_eq!(req.body["parallel_tool_calls"], json!(false));
        assert_eq!(req.body["prompt_cache_key"], json!("k1"));
        assert_eq!(req.body["service_tier"], json!("priority"));
        assert_eq!(req.body["text"], json!({"verbosity":"low"}));
        assert!(!req.body.contains_key("reasoning"));
        assert!(!req.body.contains_key("include"));
    }

    #[test]
    fn response_formats() {
        let format = |rf: Value| {
            ok(json!({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":rf}))
                .body
                .get("text")
                .cloned()
        };
        assert_eq!(format(json!({"type":"text"})), None);
        assert_eq!(
            format(json!({"type":"json_object"})),
            Some(json!({"format":{"type":"json_object"}}))
        );
        assert_eq!(
            format(
                json!({"type":"json_schema","json_schema":{"name":"person","description":"A person",
                "schema":{"type":"object","properties":{"name":{"type":"string"}}}}})
            ),
            Some(json!({"format":{"type":"json_schema","name":"person",
                "schema":{"type":"object","properties":{"name":{"type":"string"}}},"strict":false,"description":"A person"}}))
        );
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}),
        );
        assert_eq!(e.param.as_deref(), Some("response_format.type"));
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}),
        );
        assert_eq!(
            e.param.as_deref(),
            Some("response_format.json_schema.schema")
        );
    }

    #[test]
    fn strict_json_schema_is_normalised() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"verbosity":"high",
            "response_format":{"type":"json_schema","json_schema":{"name":"order","strict":true,"schema":{
                "type":"object",
                "properties":{
                    "customer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string"}},"required":["name"]},
                    "lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"note":{"type":"string"}},"required":["sku"]}},
                    "coupon":{"type":"string"}
                },
                "required":["customer","lines"]
            }}}}),
        );
        assert_eq!(
            req.body["text"],
            json!({"format":{"type":"json_schema","name":"order","schema":{
                "type":"object",
                "properties":{
                    "customer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":["string","null"]}},"required":["name","email"],"additionalProperties":false},
                    "lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"note":{"type":["string","null"]}},"required":["sku","note"],"additionalProperties":false}},
                    "coupon":{"type":["string","null"]}
                },
                "required":["customer","lines","coupon"],
                "additionalProperties":false
            },"strict":true},"verbosity":"high"})
        );
    }

    #[test]
    fn reasoning_effort_and_summaries() {
        let body = json!({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"});
        let (req, _) = run_with(&body, false).expect("translates");
        assert_eq!(req.body["reasoning"], json!({"effort":"high"}));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
        let (req, _) = run_with(&body, true).expect("translates");
        assert_eq!(
            req.body["reasoning"],
            json!({"effort":"high","summary":"auto"})
        );
        let (req, _) =
            run_with(&chat(json!([{"role":"user","content":"x"}])), true).expect("translates");
        assert_eq!(req.body["reasoning"], json!({"summary":"auto"}));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
    }

    #[test]
    fn meaning_changing_parameters_are_refused() {
        for (param, value) in [
            ("n", json!(2)),
            ("n", json!(0)),
            ("stop", json!("END")),
            ("stop", json!(["a", "b"])),
            ("logprobs", json!(true)),
            ("logit_bias", json!({"50256": -100})),
            ("audio", json!({"voice":"alloy","format":"wav"})),
            ("modalities", json!(["text", "audio"])),
            ("store", json!(true)),
        ] {
            let mut body = chat(json!([{"role":"user","content":"x"}]));
            body[param] = value;
            let e = err(body);
            assert_eq!(e.param.as_deref(), Some(param));
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn harmless_no_ops_are_dropped_silently() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "n":1,"stop":null,"logprobs":false,"modalities":["text"],"logit_bias":{},"store":false,
            "stop_empty_check":null}),
        );
        assert!(
            req.ignored_parameters.is_empty(),
            "{:?}",
            req.ignored_parameters
        );
        for p in ["n", "stop", "logprobs", "modalities", "logit_bias"] {
            assert!(!req.body.contains_key(p), "{p}");
        }
        let req = ok(json!({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[]}));
        assert!(req.ignored_parameters.is_empty());
    }

    #[test]
    fn sampling_and_unknown_parameters_are_dropped_and_disclosed_in_order() {
        let req = ok(
            json!({"temperature":0.7,"model":"m","messages":[{"role":"user","content":"x"}],
            "max_completion_tokens":100,"web_search_options":{},"top_p":null,"user":"u1","prediction":{"type":"content","content":"x"}}),
        );
        assert_eq!(
            req.ignored_parameters,
            [
                "temperature",
                "max_completion_tokens",
                "web_search_options",
                "user",
                "prediction"
            ]
        );
        for p in [
            "temperature",
            "max_completion_tokens",
            "web_search_options",
            "top_p",
            "user",
            "prediction",
        ] {
            assert!(!req.body.contains_key(p), "{p}");
        }
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
