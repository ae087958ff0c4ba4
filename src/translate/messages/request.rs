//! An Anthropic Messages request → the upstream Responses body
//! (docs/architecture.md, "What every upstream request carries").
//!
//! `system` becomes `instructions` (without Claude Code's per-request
//! `x-anthropic-billing-header:` line), `messages` become input items
//! ([`super::content`]), `tools` become function tools, `tool_choice` and
//! `disable_parallel_tool_use` map onto their Responses equivalents, `thinking`
//! and `output_config.effort` become `reasoning` (the table in the module docs of
//! [`super`]). Parameters the backend has no equivalent for (`max_tokens`,
//! `temperature`, `top_p`, `top_k`, `context_management`, `metadata`, …) are
//! removed and disclosed; a non-empty `stop_sequences` is refused.

use serde_json::{Map, Value};

use super::content::Conversation;
use super::{MessagesOptions, prompt_cache_key};
use crate::translate::{
    TranslateError, TranslateOptions, UpstreamRequest, ensure_include_reasoning, json_kind,
    optional_bool, parse_body, take_model,
};

/// The line Claude Code puts first in `system`; it changes on every request.
pub const BILLING_HEADER_PREFIX: &str = "x-anthropic-billing-header:";

/// A translated Messages request.
#[derive(Debug)]
pub struct Translated {
    /// The upstream request.
    pub upstream: UpstreamRequest,
    /// Whether the client asked for thinking blocks.
    pub thinking: bool,
}

/// What the top-level fields say about reasoning.
#[derive(Debug, Default)]
struct Reasoning {
    /// `thinking` was `enabled` or `adaptive`.
    thinking: bool,
    /// From `thinking.budget_tokens`.
    budget_effort: Option<&'static str>,
    /// From `output_config.effort`.
    effort: Option<&'static str>,
}

/// Everything read from the body before it is assembled.
#[derive(Debug, Default)]
struct Fields {
    client_stream: bool,
    system: Option<Value>,
    messages: Option<Value>,
    tools: Vec<Value>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
    reasoning: Reasoning,
    text_format: Option<Value>,
    session: Option<String>,
    ignored: Vec<String>,
}

/// Translates a Messages request body.
pub fn translate(
    body: &[u8],
    opts: &TranslateOptions<'_>,
    messages: &MessagesOptions<'_>,
) -> Result<Translated, TranslateError> {
    let body = parse_body(body)?;
    let model = take_model(&body)?;
    let mut fields = Fields::default();
    for (key, value) in body {
        fields.read(key, value)?;
    }
    let messages_value = match fields.messages.take() {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => {
            return Err(TranslateError::missing("messages", "an array of messages"));
        }
        Some(_) => return Err(TranslateError::invalid_type("messages", "an array")),
    };
    let mut conversation = Conversation::new(messages.account_tags);
    conversation.translate(messages_value)?;
    let instructions = system_text(fields.system.take())?;
    let mut upstream = Map::with_capacity(16);
    upstream.insert("model".to_owned(), Value::String(model.clone()));
    let instructions = if instructions.is_empty() {
        opts.default_instructions.to_owned()
    } else {
        instructions
    };
    upstream.insert("instructions".to_owned(), Value::String(instructions));
    upstream.insert("input".to_owned(), Value::Array(conversation.input));
    fields.ignored.extend(conversation.dropped);
    let session = messages
        .session
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or(fields.session.take());
    if let Some(session) = session {
        let key = prompt_cache_key(&session, messages.agent, &model);
        upstream.insert("prompt_cache_key".to_owned(), Value::String(key));
    }
    fields.assemble(&mut upstream)?;
    Ok(Translated {
        upstream: UpstreamRequest {
            body: upstream,
            model,
            client_stream: fields.client_stream,
            ignored_parameters: dedup(fields.ignored),
            signed_reasoning: conversation.signed,
        },
        thinking: fields.reasoning.thinking,
    })
}

impl Fields {
    /// Reads one top-level field.
    fn read(&mut self, key: String, value: Value) -> Result<(), TranslateError> {
        match key.as_str() {
            "model" => {}
            "messages" => self.messages = Some(value),
            "system" => self.system = Some(value),
            "stream" => {
                self.client_stream = optional_bool(Some(&value), "stream")?.unwrap_or(false);
            }
            "stop_sequences" => check_stop_sequences(&value)?,
            _ if value.is_null() => {}
            "tools" => self.tools = translate_tools(value, &mut self.ignored)?,
            "tool_choice" => self.read_tool_choice(value)?,
            "thinking" => self.reasoning.read_thinking(&value)?,
            "output_config" => self.read_output_config(value)?,
            "metadata" => {
                self.session = session_of_metadata(&value);
                self.ignored.push(key);
            }
            _ => self.ignored.push(key),
        }
        Ok(())
    }

    fn read_tool_choice(&mut self, value: Value) -> Result<(), TranslateError> {
        let Value::Object(choice) = value else {
            return Err(TranslateError::invalid_type("tool_choice", "an object"));
        };
        if optional_bool(
            choice.get("disable_parallel_tool_use"),
            "tool_choice.disable_parallel_tool_use",
        )? == Some(true)
        {
            self.parallel_tool_calls = Some(false);
        }
        self.tool_choice = Some(match choice.get("type").and_then(Value::as_str) {
            Some("auto") => Value::from("auto"),
            Some("any") => Value::from("required"),
            Some("none") => Value::from("none"),
            Some("tool") => match choice.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => {
                    let mut named = Map::new();
                    named.insert("type".to_owned(), Value::from("function"));
                    named.insert("name".to_owned(), Value::from(name));
                    Value::Object(named)
                }
                _ => return Err(TranslateError::missing("tool_choice.name", "a tool name")),
            },
            _ => {
                return Err(TranslateError::param(
                    "tool_choice.type",
                    "`tool_choice.type` must be one of \"auto\", \"any\", \"tool\" or \"none\".",
                )
                .code("invalid_value"));
            }
        });
        Ok(())
    }

    /// `output_config`: `effort` and `format` are translated, anything else is
    /// removed and disclosed.
    fn read_output_config(&mut self, value: Value) -> Result<(), TranslateError> {
        let Value::Object(config) = value else {
            return Err(TranslateError::invalid_type("output_config", "an object"));
        };
        for (key, value) in config {
            match key.as_str() {
                _ if value.is_null() => {}
                "effort" => self.reasoning.effort = Some(effort_of_config(&value)?),
                "format" => self.text_format = Some(text_format(value)?),
                _ => self.ignored.push(format!("output_config.{key}")),
            }
        }
        Ok(())
    }

    /// Writes the translated fields into the upstream body.
    fn assemble(&mut self, upstream: &mut Map<String, Value>) -> Result<(), TranslateError> {
        if !self.tools.is_empty() {
            let tools = std::mem::take(&mut self.tools);
            upstream.insert("tools".to_owned(), Value::Array(tools));
        }
        if let Some(choice) = self.tool_choice.take() {
            upstream.insert("tool_choice".to_owned(), choice);
        }
        if let Some(parallel) = self.parallel_tool_calls {
            upstream.insert("parallel_tool_calls".to_owned(), Value::Bool(parallel));
        }
        let reasoning = &self.reasoning;
        let effort = reasoning.effort.or(reasoning.budget_effort);
        if effort.is_some() || reasoning.thinking {
            let mut object = Map::new();
            if let Some(effort) = effort {
                object.insert("effort".to_owned(), Value::from(effort));
            }
            if reasoning.thinking {
                object.insert("summary".to_owned(), Value::from("auto"));
            }
            upstream.insert("reasoning".to_owned(), Value::Object(object));
        }
        if let Some(format) = self.text_format.take() {
            let mut text = Map::new();
            text.insert("format".to_owned(), format);
            upstream.insert("text".to_owned(), Value::Object(text));
        }
        upstream.insert("store".to_owned(), Value::Bool(false));
        upstream.insert("stream".to_owned(), Value::Bool(true));
        if upstream.contains_key("reasoning") {
            ensure_include_reasoning(upstream)?;
        }
        Ok(())
    }
}

impl Reasoning {
    /// `thinking`: `enabled` (with `budget_tokens`), `adaptive` or `disabled`.
    fn read_thinking(&mut self, value: &Value) -> Result<(), TranslateError> {
        let Value::Object(thinking) = value else {
            return Err(TranslateError::invalid_type("thinking", "an object"));
        };
        match thinking.get("type").and_then(Value::as_str) {
            Some("enabled") => {
                self.thinking = true;
                self.budget_effort = match thinking.get("budget_tokens") {
                    None | Some(Value::Null) => None,
                    Some(budget) => match budget.as_f64() {
                        Some(budget) => Some(effort_of_budget(budget)),
                        None => {
                            return Err(TranslateError::invalid_type(
                                "thinking.budget_tokens",
                                "an integer",
                            ));
                        }
                    },
                };
            }
            Some("adaptive") => self.thinking = true,
            Some("disabled") => self.thinking = false,
            _ => {
                return Err(TranslateError::param(
                    "thinking.type",
                    "`thinking.type` must be \"enabled\", \"adaptive\" or \"disabled\".",
                )
                .code("invalid_value"));
            }
        }
        Ok(())
    }
}

/// The effort for a thinking budget (the table in [`super`]'s docs).
pub fn effort_of_budget(budget_tokens: f64) -> &'static str {
    if budget_tokens <= 1024.0 {
        "low"
    } else if budget_tokens <= 8192.0 {
        "medium"
    } else {
        "high"
    }
}

/// The upstream effort for an Anthropic `output_config.effort` value.
pub fn effort_of_anthropic(effort: &str) -> Option<&'static str> {
    match effort {
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" => Some("high"),
        "xhigh" | "max" => Some("xhigh"),
        _ => None,
    }
}

fn effort_of_config(value: &Value) -> Result<&'static str, TranslateError> {
    value
        .as_str()
        .and_then(effort_of_anthropic)
        .ok_or_else(|| {
            TranslateError::param(
                "output_config.effort",
                "`output_config.effort` must be one of \"low\", \"medium\", \"high\", \"xhigh\" or \"max\".",
            )
            .code("invalid_value")
        })
}

/// `output_config.format` (`{"type":"json_schema","schema":…}`) → `text.format`.
fn text_format(value: Value) -> Result<Value, TranslateError> {
    let Value::Object(mut format) = value else {
        return Err(TranslateError::invalid_type(
            "output_config.format",
            "an object",
        ));
    };
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Err(TranslateError::param(
            "output_config.format.type",
            "`output_config.format.type` must be \"json_schema\".",
        )
        .code("invalid_value"));
    }
    let Some(schema @ Value::Object(_)) = format.remove("schema") else {
        return Err(TranslateError::missing(
            "output_config.format.schema",
            "a JSON schema object",
        ));
    };
    let mut out = Map::new();
    out.insert("type".to_owned(), Value::from("json_schema"));
    out.insert("name".to_owned(), Value::from("output"));
    out.insert("schema".to_owned(), schema);
    out.insert("strict".to_owned(), Value::Bool(false));
    Ok(Value::Object(out))
}

/// `stop_sequences`: an empty list is fine, anything else cannot be honoured.
fn check_stop_sequences(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null => Ok(()),
        Value::Array(list) if list.is_empty() => Ok(()),
        Value::Array(_) => Err(TranslateError::param(
            "stop_sequences",
            "`stop_sequences` is not supported: the ChatGPT backend cannot stop at a given sequence. Remove it.",
        )
        .code("unsupported_parameter")),
        _ => Err(TranslateError::invalid_type("stop_sequences", "an array of strings")),
    }
}

/// The Claude Code session in `metadata.user_id`: `user_<hash>_account_<uuid>_session_<uuid>`,
/// or a JSON object string with `session_id` (newer versions).
pub fn session_of_metadata(metadata: &Value) -> Option<String> {
    let user_id = metadata.get("user_id")?.as_str()?;
    if user_id.starts_with('{')
        && let Ok(Value::Object(parsed)) = serde_json::from_str::<Value>(user_id)
    {
        return parsed
            .get("session_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    }
    let (_, session) = user_id.rsplit_once("_session_")?;
    (!session.is_empty()).then(|| session.to_owned())
}

/// `system` (a string or text blocks) → the instructions text, without the
/// billing header line. Blocks are joined with blank lines.
fn system_text(system: Option<Value>) -> Result<String, TranslateError> {
    let texts: Vec<String> = match system {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(blocks)) => blocks
            .into_iter()
            .enumerate()
            .map(|(i, block)| match block {
                Value::String(text) => Ok(text),
                Value::Object(mut block) => match block.remove("text") {
                    Some(Value::String(text)) => Ok(text),
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(_) => Err(TranslateError::invalid_type(
                        format!("system[{i}].text"),
                        "a string",
                    )),
                },
                other => Err(TranslateError::invalid_type(
                    format!("system[{i}]"),
                    &format!("a text block, not {}", json_kind(&other)),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(TranslateError::invalid_type(
                "system",
                "a string or an array of text blocks",
            ));
        }
    };
    let kept: Vec<String> = texts
        .into_iter()
        .map(without_billing_header)
        .filter(|t| !t.trim().is_empty())
        .collect();
    Ok(kept.join("\n\n"))
}

/// `text` without its `x-anthropic-billing-header:` lines (kept as is, without a
/// copy, when it has none).
pub fn without_billing_header(text: String) -> String {
    if !text.contains(BILLING_HEADER_PREFIX) {
        return text;
    }
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with(BILLING_HEADER_PREFIX))
        .collect();
    kept.join("\n")
}

/// `tools` → function tools. Tools with an `input_schema` (client tools) are
/// translated; Anthropic server tools (`web_search_…`, `bash_…`, …) have no
/// upstream equivalent and are removed and disclosed as `tools.<name>`.
fn translate_tools(value: Value, ignored: &mut Vec<String>) -> Result<Vec<Value>, TranslateError> {
    let Value::Array(tools) = value else {
        return Err(TranslateError::invalid_type("tools", "an array"));
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.into_iter().enumerate() {
        let param = format!("tools[{i}]");
        let Value::Object(mut tool) = tool else {
            return Err(TranslateError::invalid_type(param, "an object"));
        };
        let name = match tool.remove("name") {
            Some(Value::String(name)) if !name.is_empty() => name,
            _ => {
                return Err(TranslateError::missing(
                    format!("{param}.name"),
                    "a tool name",
                ));
            }
        };
        match tool.remove("input_schema") {
            Some(schema @ Value::Object(_)) => {
                out.push(function_tool(name, tool.remove("description"), schema));
            }
            None | Some(Value::Null) => match tool.get("type").and_then(Value::as_str) {
                None | Some("custom") => {
                    let schema = serde_json::json!({"type": "object", "properties": {}});
                    out.push(function_tool(name, tool.remove("description"), schema));
                }
                Some(_) => ignored.push(format!("tools.{name}")),
            },
            Some(_) => {
                return Err(TranslateError::invalid_type(
                    format!("{param}.input_schema"),
                    "a JSON schema object",
                ));
            }
        }
    }
    Ok(out)
}

fn function_tool(name: String, description: Option<Value>, schema: Value) -> Value {
    let mut tool = Map::new();
    tool.insert("type".to_owned(), Value::from("function"));
    tool.insert("name".to_owned(), Value::String(name));
    if let Some(description @ Value::String(_)) = description {
        tool.insert("description".to_owned(), description);
    }
    tool.insert("parameters".to_owned(), schema);
    tool.insert("strict".to_owned(), Value::Bool(false));
    Value::Object(tool)
}

/// Names in first-seen order, each once.
fn dedup(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}
