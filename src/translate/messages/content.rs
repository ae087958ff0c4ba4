//! Anthropic `messages` and their content blocks → Responses input items.
//!
//! Text, images and documents become message parts; `tool_use` and
//! `tool_result` become `function_call` / `function_call_output` items;
//! thinking blocks whose signature the relay issued become `reasoning` items
//! (see the module docs of [`super`]); server-tool blocks in the history are
//! kept as text. A block of a type the relay does not know is kept as text when
//! it carries text, otherwise dropped and disclosed as `content.<type>` — never
//! refused, since each Claude Code release may add one. Values are moved out of
//! the parsed body, so large histories are not copied.

use serde_json::{Map, Value};

use super::signature_parts;
use crate::translate::{SignedReasoning, reasoning_digest};
use crate::translate::{TranslateError, json_kind, message_item};

/// The role of the message being translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
    /// `role: "system"` inside `messages`: sent as `developer` (the backend
    /// refuses `system` items).
    System,
}

impl Role {
    fn of(value: Option<&Value>, param: &str) -> Result<Role, TranslateError> {
        match value.and_then(Value::as_str) {
            Some("user") => Ok(Role::User),
            Some("assistant") => Ok(Role::Assistant),
            Some("system") => Ok(Role::System),
            Some(_) => Err(TranslateError::param(
                format!("{param}.role"),
                format!("`{param}.role` must be \"user\", \"assistant\" or \"system\"."),
            )
            .code("invalid_value")),
            None => Err(TranslateError::missing(format!("{param}.role"), "a role")),
        }
    }

    fn upstream(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "developer",
        }
    }

    /// The part type text takes in this role's messages.
    fn text_type(self) -> &'static str {
        match self {
            Role::Assistant => "output_text",
            Role::User | Role::System => "input_text",
        }
    }
}

/// The input items of a conversation, built message by message.
#[derive(Debug)]
pub(super) struct Conversation<'a> {
    /// The tags of the accounts whose signatures are accepted.
    account_tags: &'a [&'a str],
    /// The upstream `input`.
    pub(super) input: Vec<Value>,
    /// What was dropped, for `x-airelays-ignored-parameters`.
    pub(super) dropped: Vec<String>,
    /// The reasoning items built from signatures, and the account each names.
    pub(super) signed: Vec<SignedReasoning>,
    /// Parts of the message being built.
    parts: Vec<Value>,
}

impl<'a> Conversation<'a> {
    pub(super) fn new(account_tags: &'a [&'a str]) -> Self {
        Conversation {
            account_tags,
            input: Vec::new(),
            dropped: Vec::new(),
            signed: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Translates every message, in order.
    pub(super) fn translate(&mut self, messages: Vec<Value>) -> Result<(), TranslateError> {
        self.input.reserve(messages.len());
        for (i, message) in messages.into_iter().enumerate() {
            let param = format!("messages[{i}]");
            let Value::Object(mut message) = message else {
                return Err(TranslateError::invalid_type(param, "a message object"));
            };
            let role = Role::of(message.get("role"), &param)?;
            match message.remove("content") {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) => self.text(role, text),
                Some(Value::Array(blocks)) => {
                    for (j, block) in blocks.into_iter().enumerate() {
                        self.block(role, block, &format!("{param}.content[{j}]"))?;
                    }
                }
                Some(other) => {
                    return Err(TranslateError::invalid_type(
                        format!("{param}.content"),
                        &format!("a string or an array of blocks, not {}", json_kind(&other)),
                    ));
                }
            }
            self.flush(role);
        }
        Ok(())
    }

    /// Ends the message being built (if it has parts) as one input item.
    fn flush(&mut self, role: Role) {
        if !self.parts.is_empty() {
            let parts = std::mem::take(&mut self.parts);
            self.input.push(message_item(role.upstream(), parts));
        }
    }

    /// An item between message parts (a call, an output, reasoning).
    fn item(&mut self, role: Role, item: Value) {
        self.flush(role);
        self.input.push(item);
    }

    fn text(&mut self, role: Role, text: String) {
        if !text.is_empty() {
            self.parts
                .push(part(role.text_type(), "text", Value::String(text)));
        }
    }

    fn drop_block(&mut self, kind: &str) {
        self.dropped.push(format!("content.{kind}"));
    }

    /// One content block.
    fn block(&mut self, role: Role, block: Value, param: &str) -> Result<(), TranslateError> {
        let mut block = match block {
            Value::Object(block) => block,
            Value::String(text) => {
                self.text(role, text);
                return Ok(());
            }
            other => {
                return Err(TranslateError::invalid_type(
                    param,
                    &format!("a content block, not {}", json_kind(&other)),
                ));
            }
        };
        let kind = match block.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => String::new(),
        };
        match kind.as_str() {
            "text" => self.text(role, take_text(&mut block, "text")),
            "image" | "document" if role == Role::Assistant => self.drop_block(&kind),
            "image" => {
                let image = image_part(&mut block, &format!("{param}.source"))?;
                self.parts.push(image);
            }
            "document" => self.document(role, block, param)?,
            "tool_use" => {
                let call = function_call(block, param)?;
                self.item(role, call);
            }
            "tool_result" => {
                let output = self.tool_result(block, param)?;
                self.item(role, output);
            }
            "thinking" | "redacted_thinking" => self.thinking(role, &kind, block),
            "server_tool_use" | "mcp_tool_use" => {
                let name = take_text(&mut block, "name");
                let input = block.remove("input").unwrap_or(Value::Null);
                self.text(role, format!("[{kind} {name}: {input}]"));
            }
            _ if kind.ends_with("_tool_result") => {
                let text = result_text(&kind, block.remove("content"));
                self.text(role, text);
            }
            _ => self.unknown(role, &kind, block),
        }
        Ok(())
    }

    /// A block of a type this relay does not know: its text, else dropped.
    fn unknown(&mut self, role: Role, kind: &str, mut block: Map<String, Value>) {
        match block_text(kind, &mut block) {
            Some(text) => self.text(role, text),
            None => self.drop_block(if kind.is_empty() { "untyped" } else { kind }),
        }
    }

    /// `document`: a PDF (or other binary) as a file, text as text.
    fn document(
        &mut self,
        role: Role,
        mut block: Map<String, Value>,
        param: &str,
    ) -> Result<(), TranslateError> {
        let title = take_text(&mut block, "title");
        let Some(Value::Object(mut source)) = block.remove("source") else {
            return Err(TranslateError::missing(
                format!("{param}.source"),
                "a document source",
            ));
        };
        match source.get("type").and_then(Value::as_str) {
            Some("text") => {
                let data = take_text(&mut source, "data");
                self.text(role, titled(&title, data));
            }
            Some("content") => {
                let mut texts = Vec::new();
                if let Some(Value::Array(blocks)) = source.remove("content") {
                    for block in blocks {
                        if let Value::Object(mut block) = block
                            && let Some(text) = block_text("text", &mut block)
                        {
                            texts.push(text);
                        }
                    }
                }
                self.text(role, titled(&title, texts.join("\n\n")));
            }
            _ => {
                let file = file_part(&mut source, &title, &format!("{param}.source"))?;
                self.parts.push(file);
            }
        }
        Ok(())
    }

    /// `thinking` / `redacted_thinking` → a `reasoning` item when the relay
    /// issued its signature for one of the accepted accounts (remembered, so the
    /// relay can drop it on another account), else dropped and disclosed.
    fn thinking(&mut self, role: Role, kind: &str, mut block: Map<String, Value>) {
        let (signature_field, parameter) = if kind == "thinking" {
            ("signature", "content.thinking")
        } else {
            ("data", "content.redacted_thinking")
        };
        let signature = take_text(&mut block, signature_field);
        let accepted =
            signature_parts(&signature).filter(|(tag, _)| self.account_tags.contains(tag));
        let Some((tag, encrypted)) = accepted else {
            self.drop_block(kind);
            return;
        };
        self.signed.push(SignedReasoning {
            digest: reasoning_digest(encrypted),
            account_tag: tag.to_owned(),
            parameter,
        });
        let thinking = take_text(&mut block, "thinking");
        let summary = if thinking.is_empty() {
            Vec::new()
        } else {
            vec![part("summary_text", "text", Value::String(thinking))]
        };
        let mut item = Map::new();
        item.insert("type".to_owned(), Value::from("reasoning"));
        item.insert("summary".to_owned(), Value::Array(summary));
        item.insert("encrypted_content".to_owned(), Value::from(encrypted));
        self.item(role, Value::Object(item));
    }

    /// `tool_result` → `function_call_output`: text output as a string, output
    /// with images as a list of parts. `is_error` prefixes `Error: `.
    fn tool_result(
        &mut self,
        mut block: Map<String, Value>,
        param: &str,
    ) -> Result<Value, TranslateError> {
        let call_id = match block.remove("tool_use_id") {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ => {
                return Err(TranslateError::missing(
                    format!("{param}.tool_use_id"),
                    "the id of the tool_use block it answers",
                ));
            }
        };
        let is_error = block.get("is_error").and_then(Value::as_bool) == Some(true);
        let mut texts = Vec::new();
        let mut parts = Vec::new();
        match block.remove("content") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => texts.push(text),
            Some(Value::Array(blocks)) => {
                for (j, inner) in blocks.into_iter().enumerate() {
                    let inner_param = format!("{param}.content[{j}]");
                    self.result_block(inner, &inner_param, &mut texts, &mut parts)?;
                }
            }
            Some(other) => texts.push(other.to_string()),
        }
        let output = if parts.is_empty() {
            let text = texts.join("\n");
            Value::String(if is_error {
                format!("Error: {text}")
            } else {
                text
            })
        } else {
            if is_error {
                parts.insert(0, part("input_text", "text", Value::from("Error:")));
            }
            Value::Array(parts)
        };
        let mut item = Map::new();
        item.insert("type".to_owned(), Value::from("function_call_output"));
        item.insert("call_id".to_owned(), Value::String(call_id));
        item.insert("output".to_owned(), output);
        Ok(Value::Object(item))
    }

    /// One block of a `tool_result`'s content. `texts` collects text while no
    /// image came; from the first image on, everything is a part.
    fn result_block(
        &mut self,
        block: Value,
        param: &str,
        texts: &mut Vec<String>,
        parts: &mut Vec<Value>,
    ) -> Result<(), TranslateError> {
        let Value::Object(mut block) = block else {
            texts.push(
                block
                    .as_str()
                    .map_or_else(|| block.to_string(), str::to_owned),
            );
            return Ok(());
        };
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let text = match kind.as_str() {
            "image" => {
                parts.extend(
                    texts
                        .drain(..)
                        .map(|t| part("input_text", "text", t.into())),
                );
                parts.push(image_part(&mut block, &format!("{param}.source"))?);
                return Ok(());
            }
            "tool_reference" => Some(format!(
                "Tool loaded: {}",
                take_text(&mut block, "tool_name")
            )),
            _ => block_text(&kind, &mut block),
        };
        match text {
            Some(text) if parts.is_empty() => texts.push(text),
            Some(text) => parts.push(part("input_text", "text", Value::String(text))),
            None => self.drop_block(if kind.is_empty() { "untyped" } else { &kind }),
        }
        Ok(())
    }
}

/// `tool_use` → a `function_call` item; `input` is sent as its JSON text.
fn function_call(mut block: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let call_id = match block.remove("id") {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => {
            return Err(TranslateError::missing(
                format!("{param}.id"),
                "a tool_use id",
            ));
        }
    };
    let name = match block.remove("name") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => {
            return Err(TranslateError::missing(
                format!("{param}.name"),
                "a tool name",
            ));
        }
    };
    let arguments = match block.remove("input") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(raw)) => raw,
        Some(input) => input.to_string(),
    };
    let mut item = Map::new();
    item.insert("type".to_owned(), Value::from("function_call"));
    item.insert("call_id".to_owned(), Value::String(call_id));
    item.insert("name".to_owned(), Value::String(name));
    item.insert("arguments".to_owned(), Value::String(arguments));
    Ok(Value::Object(item))
}

/// `{"type": kind, field: value}`.
fn part(kind: &str, field: &str, value: Value) -> Value {
    let mut part = Map::new();
    part.insert("type".to_owned(), Value::from(kind));
    part.insert(field.to_owned(), value);
    Value::Object(part)
}

/// A string field moved out of a block ("" when absent or not a string).
fn take_text(block: &mut Map<String, Value>, key: &str) -> String {
    match block.remove(key) {
        Some(Value::String(text)) => text,
        _ => String::new(),
    }
}

fn titled(title: &str, text: String) -> String {
    if title.is_empty() {
        text
    } else {
        format!("{title}\n\n{text}")
    }
}

/// The text a block carries: its `text`, or the text of its `content`.
fn block_text(kind: &str, block: &mut Map<String, Value>) -> Option<String> {
    if let Some(Value::String(text)) = block.remove("text") {
        return Some(text);
    }
    if kind == "search_result" {
        let title = take_text(block, "title");
        let source = take_text(block, "source");
        let body = result_text(kind, block.remove("content"));
        return Some(format!("{title} ({source})\n{body}"));
    }
    match block.remove("content") {
        Some(Value::String(text)) => Some(text),
        Some(content @ Value::Array(_)) => Some(result_text(kind, Some(content))),
        _ => None,
    }
}

/// The text of a server tool's result (`web_search_tool_result`, …) or of a
/// nested content list: texts, and `title (url)` lines for search results.
fn result_text(kind: &str, content: Option<Value>) -> String {
    let mut lines = Vec::new();
    match content {
        Some(Value::Array(items)) => {
            for item in items {
                let Value::Object(mut item) = item else {
                    continue;
                };
                if let Some(Value::String(text)) = item.remove("text") {
                    lines.push(text);
                } else if let Some(Value::String(url)) = item.remove("url") {
                    lines.push(format!("{} ({url})", take_text(&mut item, "title")));
                }
            }
        }
        Some(Value::String(text)) => lines.push(text),
        Some(Value::Object(object)) => lines.push(Value::Object(object).to_string()),
        _ => {}
    }
    if kind.ends_with("_tool_result") {
        format!("[{kind}]\n{}", lines.join("\n"))
    } else {
        lines.join("\n")
    }
}

/// An Anthropic image source → an `input_image` part.
fn image_part(block: &mut Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let Some(Value::Object(mut source)) = block.remove("source") else {
        return Err(TranslateError::missing(param, "an image source"));
    };
    let mut image = Map::new();
    image.insert("type".to_owned(), Value::from("input_image"));
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let url = data_url(&mut source, param)?;
            image.insert("image_url".to_owned(), Value::String(url));
        }
        Some("url") => {
            let url = required_text(&mut source, "url", param)?;
            image.insert("image_url".to_owned(), Value::String(url));
        }
        Some("file") => {
            let id = required_text(&mut source, "file_id", param)?;
            image.insert("file_id".to_owned(), Value::String(id));
        }
        _ => return Err(source_type_error(param, "\"base64\", \"url\" or \"file\"")),
    }
    image.insert("detail".to_owned(), Value::from("auto"));
    Ok(Value::Object(image))
}

/// A binary document source → an `input_file` part.
fn file_part(
    source: &mut Map<String, Value>,
    title: &str,
    param: &str,
) -> Result<Value, TranslateError> {
    let mut file = Map::new();
    file.insert("type".to_owned(), Value::from("input_file"));
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let pdf = source.get("media_type").and_then(Value::as_str) == Some("application/pdf");
            let name = match (title.is_empty(), pdf) {
                (false, _) => title.to_owned(),
                (true, true) => "document.pdf".to_owned(),
                (true, false) => "document".to_owned(),
            };
            let url = data_url(source, param)?;
            file.insert("filename".to_owned(), Value::String(name));
            file.insert("file_data".to_owned(), Value::String(url));
        }
        Some("url") => {
            let url = required_text(source, "url", param)?;
            file.insert("file_url".to_owned(), Value::String(url));
        }
        Some("file") => {
            let id = required_text(source, "file_id", param)?;
            file.insert("file_id".to_owned(), Value::String(id));
        }
        _ => {
            return Err(source_type_error(
                param,
                "\"base64\", \"url\", \"file\", \"text\" or \"content\"",
            ));
        }
    }
    Ok(Value::Object(file))
}

/// `data:<media_type>;base64,<data>` from a base64 source.
fn data_url(source: &mut Map<String, Value>, param: &str) -> Result<String, TranslateError> {
    let media_type = required_text(source, "media_type", param)?;
    let data = required_text(source, "data", param)?;
    Ok(format!("data:{media_type};base64,{data}"))
}

fn required_text(
    source: &mut Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<String, TranslateError> {
    match source.remove(key) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        _ => Err(TranslateError::missing(
            format!("{param}.{key}"),
            "a string",
        )),
    }
}

fn source_type_error(param: &str, allowed: &str) -> TranslateError {
    TranslateError::param(
        format!("{param}.type"),
        format!("`{param}.type` must be {allowed}."),
    )
    .code("invalid_value")
}
