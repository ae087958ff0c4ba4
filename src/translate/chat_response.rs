//! A final upstream Response object → one `chat.completion` (docs/architecture.md,
//! "Chat Completions answers").

use serde_json::{Map, Value};

/// Everything a chat answer needs that the upstream does not give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatContext {
    /// `chatcmpl-…`, made by the caller.
    pub id: String,
    /// Unix seconds, read by the caller.
    pub created: i64,
    /// The model as the client asked for it.
    pub model: String,
    /// `stream_options.include_usage` (streaming only).
    pub include_usage: bool,
    /// `chat.reasoning_output`: put reasoning summaries in `reasoning_content`.
    pub reasoning_output: bool,
}

/// Builds the `chat.completion` object for a finished (completed or incomplete)
/// upstream response.
pub(crate) fn completion_from_response(response: &Value, ctx: &ChatContext) -> Value {
    let output = AssistantOutput::collect(response, ctx.reasoning_output);
    let has_tool_calls = !output.tool_calls.is_empty();

    let mut choice = Map::new();
    choice.insert("index".to_owned(), Value::from(0));
    choice.insert(
        "message".to_owned(),
        output.into_message(ctx.reasoning_output),
    );
    choice.insert("logprobs".to_owned(), Value::Null);
    choice.insert(
        "finish_reason".to_owned(),
        Value::from(finish_reason(response, has_tool_calls)),
    );

    let mut completion = Map::new();
    completion.insert("id".to_owned(), Value::String(ctx.id.clone()));
    completion.insert("object".to_owned(), Value::from("chat.completion"));
    completion.insert("created".to_owned(), Value::from(ctx.created));
    completion.insert("model".to_owned(), Value::String(ctx.model.clone()));
    completion.insert(
        "choices".to_owned(),
        Value::Array(vec![Value::Object(choice)]),
    );
    if let Some(usage) = response.get("usage").and_then(chat_usage) {
        completion.insert("usage".to_owned(), usage);
    }
    Value::Object(completion)
}

/// What the output items of a finished response say, gathered for one assistant
/// message.
#[derive(Default)]
struct AssistantOutput {
    text: String,
    refusal: String,
    reasoning: String,
    tool_calls: Vec<Value>,
}

impl AssistantOutput {
    /// Walks `response.output` in order; reasoning summaries only when `reasoning_output`.
    fn collect(response: &Value, reasoning_output: bool) -> AssistantOutput {
        let mut out = AssistantOutput::default();
        let mut messages_with_text = 0usize;
        for item in response
            .get("output")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match item.get("type").and_then(Value::as_str) {
                Some("message") => {
                    let (item_text, item_refusal) = message_text(item);
                    if !item_text.is_empty() {
                        if messages_with_text > 0 {
                            out.text.push_str(MESSAGE_SEPARATOR);
                        }
                        out.text.push_str(&item_text);
                        messages_with_text += 1;
                    }
                    out.refusal.push_str(&item_refusal);
                }
                Some("reasoning") if reasoning_output => {
                    let summary = reasoning_summary(item);
                    if !summary.is_empty() {
                        if !out.reasoning.is_empty() {
                            out.reasoning.push_str(MESSAGE_SEPARATOR);
                        }
                        out.reasoning.push_str(&summary);
                    }
                }
                Some("function_call" | "custom_tool_call") => {
                    if let Some(call) = chat_tool_call(item) {
                        out.tool_calls.push(call);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The `choices[0].message` object: `content` is null only when the answer is
    /// tool calls or a refusal without text.
    fn into_message(self, reasoning_output: bool) -> Value {
        let has_tool_calls = !self.tool_calls.is_empty();
        let mut message = Map::new();
        message.insert("role".to_owned(), Value::from("assistant"));
        let content = if !self.text.is_empty() || (!has_tool_calls && self.refusal.is_empty()) {
            Value::String(self.text)
        } else {
            Value::Null
        };
        message.insert("content".to_owned(), content);
        message.insert(
            "refusal".to_owned(),
            if self.refusal.is_empty() {
                Value::Null
            } else {
                Value::String(self.refusal)
            },
        );
        if reasoning_output && !self.reasoning.is_empty() {
            message.insert(
                "reasoning_content".to_owned(),
                Value::String(self.reasoning),
            );
        }
        if has_tool_calls {
            message.insert("tool_calls".to_owned(), Value::Array(self.tool_calls));
        }
        Value::Object(message)
    }
}

/// Put between the texts of two output messages (e.g. commentary, then the answer)
/// and between reasoning summary parts.
pub(crate) const MESSAGE_SEPARATOR: &str = "\n\n";

/// The text and refusal of a `message` output item.
pub(crate) fn message_text(item: &Value) -> (String, String) {
    let mut text = String::new();
    let mut refusal = String::new();
    for part in item
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match part.get("type").and_then(Value::as_str) {
            Some("output_text") => {
                text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
            }
            Some("refusal") => {
                refusal.push_str(
                    part.get("refusal")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
            _ => {}
        }
    }
    (text, refusal)
}

/// The summary paragraphs of a `reasoning` item, separated by blank lines.
pub(crate) fn reasoning_summary(item: &Value) -> String {
    let parts: Vec<&str> = item
        .get("summary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .collect();
    parts.join(MESSAGE_SEPARATOR)
}

/// A `function_call` / `custom_tool_call` item → a chat `tool_calls` entry.
fn chat_tool_call(item: &Value) -> Option<Value> {
    let field = |key: &str| item.get(key).and_then(Value::as_str);
    let call_id = field("call_id").or_else(|| field("id"))?;
    let name = field("name").unwrap_or_default();
    let mut call = Map::new();
    call.insert("id".to_owned(), Value::from(call_id));
    if field("type") == Some("custom_tool_call") {
        let mut custom = Map::new();
        custom.insert("name".to_owned(), Value::from(name));
        custom.insert(
            "input".to_owned(),
            Value::from(field("input").unwrap_or_default()),
        );
        call.insert("type".to_owned(), Value::from("custom"));
        call.insert("custom".to_owned(), Value::Object(custom));
    } else {
        let mut function = Map::new();
        function.insert("name".to_owned(), Value::from(name));
        function.insert(
            "arguments".to_owned(),
            Value::from(field("arguments").unwrap_or_default()),
        );
        call.insert("type".to_owned(), Value::from("function"));
        call.insert("function".to_owned(), Value::Object(function));
    }
    Some(Value::Object(call))
}

/// `finish_reason` for a finished response.
fn finish_reason(response: &Value, has_tool_calls: bool) -> &'static str {
    if response.get("status").and_then(Value::as_str) == Some("incomplete") {
        let reason = response
            .get("incomplete_details")
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str);
        return incomplete_finish_reason(reason);
    }
    if has_tool_calls { "tool_calls" } else { "stop" }
}

/// `finish_reason` for `response.incomplete`: the output was cut short, so `length`
/// unless the cut was a content filter.
pub(crate) fn incomplete_finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("content_filter") => "content_filter",
        _ => "length",
    }
}

/// Responses usage → chat usage; `None` when it cannot be read (never zeros).
pub(crate) fn chat_usage(usage: &Value) -> Option<Value> {
    let input = usage.get("input_tokens")?.as_u64()?;
    let output = usage.get("output_tokens")?.as_u64()?;
    let total = match usage.get("total_tokens").and_then(Value::as_u64) {
        Some(total) => total,
        None => input.checked_add(output)?,
    };
    let mut chat = Map::new();
    chat.insert("prompt_tokens".to_owned(), Value::from(input));
    chat.insert("completion_tokens".to_owned(), Value::from(output));
    chat.insert("total_tokens".to_owned(), Value::from(total));
    let detail = |details: &str, key: &str| {
        usage
            .get(details)
            .and_then(|d| d.get(key))
            .and_then(Value::as_u64)
    };
    if let Some(cached) = detail("input_tokens_details", "cached_tokens") {
        let mut details = Map::new();
        details.insert("cached_tokens".to_owned(), Value::from(cached));
        chat.insert("prompt_tokens_details".to_owned(), Value::Object(details));
    }
    if let Some(reasoning) = detail("output_tokens_details", "reasoning_tokens") {
        let mut details = Map::new();
        details.insert("reasoning_tokens".to_owned(), Value::from(reasoning));
        chat.insert(
            "completion_tokens_details".to_owned(),
            Value::Object(details),
        );
    }
    Some(Value::Object(chat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::fixtures;
    use crate::translate::responses_response::ResponseAssembler;
    use serde_json::json;

    fn ctx(reasoning_output: bool) -> ChatContext {
        ChatContext {
            id: "chatcmpl-test".to_owned(),
            created: 1_761_000_000,
            model: "gpt-5.5".to_owned(),
            include_usage: false,
            reasoning_output,
        }
    }

    fn from_transcript(transcript: &str, reasoning_output: bool) -> Value {
        let mut assembler = ResponseAssembler::new();
        for event in fixtures::events(transcript) {
            assembler.on_event(&event);
        }
        completion_from_response(&assembler.into_response(), &ctx(reasoning_output))
    }

    #[test]
    fn text_answer_with_usage() {
        assert_eq!(
            from_transcript(fixtures::SSE_TEXT_REASONING, false),
            json!({
                "id":"chatcmpl-test","object":"chat.completion","created":1_761_000_000,"model":"gpt-5.5",
                "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help?","refusal":null},
                            "logprobs":null,"finish_reason":"stop"}],
                "usage":{"prompt_tokens":2210,"completion_tokens":58,"total_tokens":2268,
                         "prompt_tokens_details":{"cached_tokens":1920},
                         "completion_tokens_details":{"reasoning_tokens":32}}
            })
        );
    }

    #[test]
    fn reasoning_content_when_enabled() {
        let completion = from_transcript(fixtures::SSE_TEXT_REASONING, true);
        assert_eq!(
            completion["choices"][0]["message"]["reasoning_content"],
            json!("**Responding to a greeting**")
        );
    }

    #[test]
    fn tool_call_only_has_null_content() {
        let completion = from_transcript(fixtures::SSE_TOOL_CALL, false);
        assert_eq!(
            completion["choices"][0],
            json!({"index":0,"message":{"role":"assistant","content":null,"refusal":null,
                "tool_calls":[{"id":"call_Q2xp","type":"function","function":{"name":"shell","arguments":"{\"command\":[\"bash\",\"-lc\",\"ls\"]}"}}]},
                "logprobs":null,"finish_reason":"tool_calls"})
        );
    }

    #[test]
    fn parallel_tool_calls_keep_their_order() {
        let completion = from_transcript(fixtures::SSE_PARALLEL_TOOLS, false);
        let calls = &completion["choices"][0]["message"]["tool_calls"];
        assert_eq!(calls[0]["id"], json!("call_A"));
        assert_eq!(
            calls[0]["function"]["arguments"],
            json!("{\"city\":\"Paris\"}")
        );
        assert_eq!(calls[1]["id"], json!("call_B"));
        assert_eq!(
            completion["choices"][0]["finish_reason"],
            json!("tool_calls")
        );
    }

    #[test]
    fn custom_tool_call_and_text() {
        let completion = from_transcript(fixtures::SSE_CUSTOM_TOOL, false);
        let message = &completion["choices"][0]["message"];
        assert_eq!(message["content"], json!("Patching."));
        assert_eq!(
            message["tool_calls"],
            json!([{"id":"call_P","type":"custom","custom":{"name":"apply_patch",
                "input":"*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"}}])
        );
        assert_eq!(
            completion["choices"][0]["finish_reason"],
            json!("tool_calls")
        );
    }

    #[test]
    fn incomplete_is_length_and_content_filter() {
        let completion = from_transcript(fixtures::SSE_INCOMPLETE, false);
        assert_eq!(completion["choices"][0]["finish_reason"], json!("length"));
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            json!("The answer is long and")
        );
        assert_eq!(
            completion["usage"],
            json!({"prompt_tokens":10,"completion_tokens":4,"total_tokens":14})
        );
        let filtered = json!({"status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]});
        assert_eq!(
            completion_from_response(&filtered, &ctx(false))["choices"][0]["finish_reason"],
            json!("content_filter")
        );
    }

    #[test]
    fn refusal() {
        let completion = from_transcript(fixtures::SSE_REFUSAL, false);
        let message = &completion["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message["refusal"], json!("I can't help with that."));
        assert_eq!(completion["choices"][0]["finish_reason"], json!("stop"));
    }

    #[test]
    fn unreadable_usage_is_omitted() {
        for usage in [
            json!(null),
            json!({}),
            json!({"input_tokens":"5","output_tokens":1}),
            json!({"input_tokens":-1,"output_tokens":1}),
            json!({"output_tokens":3}),
        ] {
            let response = json!({"status":"completed","output":[],"usage":usage});
            let completion = completion_from_response(&response, &ctx(false));
            assert!(completion.get("usage").is_none(), "{usage}");
        }
        let response = json!({"output":[],"usage":{"input_tokens":5,"output_tokens":1}});
        assert_eq!(
            completion_from_response(&response, &ctx(false))["usage"],
            json!({"prompt_tokens":5,"completion_tokens":1,"total_tokens":6})
        );
    }

    #[test]
    fn empty_answer_has_empty_content() {
        let completion = completion_from_response(&json!({"output":[]}), &ctx(false));
        assert_eq!(completion["choices"][0]["message"]["content"], json!(""));
        assert_eq!(completion["choices"][0]["finish_reason"], json!("stop"));
    }

    #[test]
    fn several_messages_are_separated_by_a_blank_line() {
        let response = json!({"output":[
            {"type":"message","content":[{"type":"output_text","text":"Looking."}]},
            {"type":"message","content":[{"type":"output_text","text":"Done"},{"type":"output_text","text":"!"}]}
        ]});
        let completion = completion_from_response(&response, &ctx(false));
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            json!("Looking.\n\nDone!")
        );
    }
}
