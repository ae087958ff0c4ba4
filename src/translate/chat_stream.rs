//! Upstream events → `chat.completion.chunk` SSE events, one event at a time
//! (docs/architecture.md#chat-completions-answers).
//!
//! The grammar is OpenAI's: a first chunk with `role: "assistant"`, content /
//! refusal / tool-call / reasoning deltas, exactly one chunk with a `finish_reason`,
//! an optional usage chunk with `choices: []`, then `data: [DONE]`. Nothing is
//! buffered beyond the state needed to number tool calls and avoid repeating text.

use serde_json::Value;

use super::chat_response::{
    ChatContext, MESSAGE_SEPARATOR, chat_usage, incomplete_finish_reason, message_text,
    reasoning_summary,
};
pub use super::stream::StreamStep;
use super::stream::{StreamFailure, StreamOut, StreamTranslator};
use super::{event_type, failure_of, write_json_str};
use crate::upstream::events::UpstreamEvent;
use crate::upstream::events::{ItemRef, StreamedItems};

/// The in-band error event sent when a chat stream fails after its first byte. It
/// is never followed by `[DONE]`.
pub fn error_chunk(message: &str, error_type: &str, code: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 96);
    out.extend_from_slice(b"data: {\"error\":{\"message\":");
    write_json_str(&mut out, message);
    out.extend_from_slice(b",\"type\":");
    write_json_str(&mut out, error_type);
    out.extend_from_slice(b",\"param\":null,\"code\":");
    match code {
        Some(code) => write_json_str(&mut out, code),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}\n\n");
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolKind {
    Function,
    Custom,
}

impl ToolKind {
    fn of(item: &Value) -> Option<Self> {
        match item.get("type").and_then(Value::as_str) {
            Some("function_call") => Some(ToolKind::Function),
            Some("custom_tool_call") => Some(ToolKind::Custom),
            _ => None,
        }
    }

    /// The chat field holding this call's details.
    fn field(self) -> &'static str {
        match self {
            ToolKind::Function => "function",
            ToolKind::Custom => "custom",
        }
    }

    /// The field holding the streamed payload.
    fn payload(self) -> &'static str {
        match self {
            ToolKind::Function => "arguments",
            ToolKind::Custom => "input",
        }
    }
}

#[derive(Debug)]
struct ToolCall {
    item: ItemRef,
    /// The upstream `call_id`, which also identifies the call.
    call_id: Option<String>,
    kind: ToolKind,
    /// Position in the chat `tool_calls` array.
    index: usize,
    /// Payload deltas were streamed, so the final item adds nothing.
    streamed: bool,
}

/// Translates the upstream events of one response into chat SSE bytes.
#[derive(Debug)]
pub struct ChatStreamTranslator {
    ctx: ChatContext,
    /// `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"system_fingerprint":null,"choices":[`
    head: Vec<u8>,
    started: bool,
    done: bool,
    tool_calls: Vec<ToolCall>,
    /// Message and reasoning items whose text came as deltas.
    streamed: StreamedItems,
    /// Items whose final form (`output_item.done`) was handled.
    done_items: Vec<ItemRef>,
    /// The message item the last text came from.
    last_text_item: Option<ItemRef>,
    /// The reasoning summary part the last reasoning text came from.
    last_summary: Option<(ItemRef, u64)>,
}

impl ChatStreamTranslator {
    /// A translator for one chat answer.
    pub fn new(ctx: ChatContext) -> Self {
        let mut head = Vec::with_capacity(128 + ctx.id.len() + ctx.model.len());
        head.extend_from_slice(b"{\"id\":");
        write_json_str(&mut head, &ctx.id);
        head.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        head.extend_from_slice(ctx.created.to_string().as_bytes());
        head.extend_from_slice(b",\"model\":");
        write_json_str(&mut head, &ctx.model);
        head.extend_from_slice(b",\"system_fingerprint\":null,\"choices\":[");
        ChatStreamTranslator {
            ctx,
            head,
            started: false,
            done: false,
            tool_calls: Vec::new(),
            streamed: StreamedItems::default(),
            done_items: Vec::new(),
            last_text_item: None,
            last_summary: None,
        }
    }

    /// The fast path for the most frequent event, `response.output_text.delta`,
    /// read without building a JSON tree: the same as feeding the whole event to
    /// [`ChatStreamTranslator::on_json`].
    pub fn on_text_delta(
        &mut self,
        item_id: Option<&str>,
        output_index: Option<u64>,
        delta: &str,
        out: &mut Vec<u8>,
    ) -> StreamStep {
        if self.done {
            return StreamStep::Finished;
        }
        let item = ItemRef {
            id: item_id.map(str::to_owned),
            index: output_index,
        };
        self.streamed.mark(&item);
        self.text(out, item, delta);
        StreamStep::Continue
    }

    /// Feeds one upstream event (the parsed `data:` JSON) and appends the chat SSE
    /// events it produces to `out`.
    pub fn on_json(&mut self, event: &Value, out: &mut Vec<u8>) -> StreamStep {
        if self.done {
            return StreamStep::Finished;
        }
        let Some(kind) = event_type(event) else {
            return StreamStep::Continue;
        };
        let delta = || {
            event
                .get("delta")
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        match kind {
            "response.output_text.delta" => {
                let item = ItemRef::of_delta(event);
                self.streamed.mark(&item);
                self.text(out, item, delta());
            }
            "response.refusal.delta" => {
                let item = ItemRef::of_delta(event);
                self.streamed.mark(&item);
                if !delta().is_empty() {
                    self.delta_field(out, "refusal", delta());
                }
            }
            "response.reasoning_summary_text.delta" if self.ctx.reasoning_output => {
                let item = ItemRef::of_delta(event);
                self.streamed.mark(&item);
                let part = event
                    .get("summary_index")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                self.reasoning(out, (item, part), delta());
            }
            "response.output_item.added" => {
                if let Some(item) = event.get("item") {
                    let index = event.get("output_index").and_then(Value::as_u64);
                    if ToolKind::of(item).is_some() {
                        self.start_tool_call(out, item, index, false);
                    }
                }
            }
            "response.function_call_arguments.delta" => {
                self.tool_delta(out, ToolKind::Function, &ItemRef::of_delta(event), delta());
            }
            "response.custom_tool_call_input.delta" => {
                self.tool_delta(out, ToolKind::Custom, &ItemRef::of_delta(event), delta());
            }
            "response.output_item.done" => {
                if let Some(item) = event.get("item") {
                    let index = event.get("output_index").and_then(Value::as_u64);
                    self.item_done(out, item, index);
                }
            }
            "response.completed" | "response.incomplete" => {
                self.finish(out, event.get("response"), kind == "response.incomplete");
                return StreamStep::Finished;
            }
            _ => {
                if let Some(failure) = failure_of(event) {
                    self.done = true;
                    return failure.into();
                }
            }
        }
        StreamStep::Continue
    }

    /// Text of message `item`; a new message after earlier text starts with a blank line.
    fn text(&mut self, out: &mut Vec<u8>, item: ItemRef, text: &str) {
        if text.is_empty() {
            return;
        }
        let new_message = self
            .last_text_item
            .as_ref()
            .is_some_and(|last| last.differs(&item));
        if new_message {
            let joined = [MESSAGE_SEPARATOR, text].concat();
            self.delta_field(out, "content", &joined);
        } else {
            self.delta_field(out, "content", text);
        }
        self.last_text_item = Some(item);
    }

    /// Reasoning summary text; a new summary part starts with a blank line.
    fn reasoning(&mut self, out: &mut Vec<u8>, part: (ItemRef, u64), text: &str) {
        if text.is_empty() {
            return;
        }
        let new_part = self
            .last_summary
            .as_ref()
            .is_some_and(|(item, index)| item.differs(&part.0) || *index != part.1);
        if new_part {
            let joined = [MESSAGE_SEPARATOR, text].concat();
            self.delta_field(out, "reasoning_content", &joined);
        } else {
            self.delta_field(out, "reasoning_content", text);
        }
        self.last_summary = Some(part);
    }

    /// Opens a tool call: its first chunk carries index, id, type and name. With
    /// `whole`, the payload is the item's full arguments/input (no deltas will come).
    fn start_tool_call(
        &mut self,
        out: &mut Vec<u8>,
        item: &Value,
        index: Option<u64>,
        whole: bool,
    ) {
        let Some(kind) = ToolKind::of(item) else {
            return;
        };
        if self.open_call(item, index).is_some() {
            return;
        }
        let item_ref = ItemRef::of_item(item, index);
        let field = |key: &str| item.get(key).and_then(Value::as_str);
        let chat_index = self.tool_calls.len();
        let fallback_id;
        let call_id = match field("call_id").or_else(|| field("id")) {
            Some(id) => id,
            None => {
                fallback_id = format!("call_{chat_index}");
                &fallback_id
            }
        };
        let payload = if whole {
            field(kind.payload()).unwrap_or_default()
        } else {
            ""
        };
        self.tool_calls.push(ToolCall {
            item: item_ref,
            call_id: field("call_id").map(str::to_owned),
            kind,
            index: chat_index,
            streamed: whole,
        });
        self.chunk(out, |out| {
            out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
            out.extend_from_slice(chat_index.to_string().as_bytes());
            out.extend_from_slice(b",\"id\":");
            write_json_str(out, call_id);
            out.extend_from_slice(b",\"type\":");
            write_json_str(out, kind.field());
            out.extend_from_slice(b",");
            write_json_str(out, kind.field());
            out.extend_from_slice(b":{\"name\":");
            write_json_str(out, field("name").unwrap_or_default());
            out.extend_from_slice(b",");
            write_json_str(out, kind.payload());
            out.extend_from_slice(b":");
            write_json_str(out, payload);
            out.extend_from_slice(b"}}]}");
        });
    }

    /// The call already opened for this function/custom call item, matched by item
    /// or by `call_id`.
    fn open_call(&self, item: &Value, index: Option<u64>) -> Option<&ToolCall> {
        let item_ref = ItemRef::of_item(item, index);
        let call_id = item.get("call_id").and_then(Value::as_str);
        self.tool_calls.iter().find(|c| {
            c.item.same(&item_ref) || (call_id.is_some() && c.call_id.as_deref() == call_id)
        })
    }

    /// A piece of a tool call's arguments (or custom input).
    fn tool_delta(&mut self, out: &mut Vec<u8>, kind: ToolKind, item: &ItemRef, delta: &str) {
        // A delta that names no item belongs to the latest call of its kind.
        let call = if item.is_anonymous() {
            self.tool_calls.iter_mut().rev().find(|c| c.kind == kind)
        } else {
            self.tool_calls
                .iter_mut()
                .find(|c| c.kind == kind && c.item.same(item))
        };
        let Some(call) = call else {
            return;
        };
        call.streamed = true;
        if delta.is_empty() {
            return;
        }
        let index = call.index;
        self.tool_payload(out, index, kind, delta);
    }

    fn tool_payload(&mut self, out: &mut Vec<u8>, index: usize, kind: ToolKind, payload: &str) {
        self.chunk(out, |out| {
            out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
            out.extend_from_slice(index.to_string().as_bytes());
            out.extend_from_slice(b",");
            write_json_str(out, kind.field());
            out.extend_from_slice(b":{");
            write_json_str(out, kind.payload());
            out.extend_from_slice(b":");
            write_json_str(out, payload);
            out.extend_from_slice(b"}}]}");
        });
    }

    /// The final form of an output item: emits whatever its deltas did not.
    fn item_done(&mut self, out: &mut Vec<u8>, item: &Value, index: Option<u64>) {
        let item_ref = ItemRef::of_item(item, index);
        if self.done_items.iter().any(|i| i.same(&item_ref)) {
            return;
        }
        self.done_items.push(item_ref.clone());
        match item.get("type").and_then(Value::as_str) {
            Some("message") if !self.streamed.contains(&item_ref) => {
                let (text, refusal) = message_text(item);
                self.text(out, item_ref, &text);
                if !refusal.is_empty() {
                    self.delta_field(out, "refusal", &refusal);
                }
            }
            Some("reasoning")
                if self.ctx.reasoning_output && !self.streamed.contains(&item_ref) =>
            {
                let summary = reasoning_summary(item);
                self.reasoning(out, (item_ref, 0), &summary);
            }
            Some("function_call" | "custom_tool_call") => match self.open_call(item, index) {
                None => self.start_tool_call(out, item, index, true),
                Some(call) if !call.streamed => {
                    let (chat_index, kind) = (call.index, call.kind);
                    let payload = item
                        .get(kind.payload())
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !payload.is_empty() {
                        self.tool_payload(out, chat_index, kind, payload);
                    }
                }
                Some(_) => {}
            },
            _ => {}
        }
    }

    /// Ends the stream: items only the terminal event carried, the finish chunk, the
    /// usage chunk, `[DONE]`.
    fn finish(&mut self, out: &mut Vec<u8>, response: Option<&Value>, incomplete: bool) {
        self.done = true;
        let output = response
            .and_then(|r| r.get("output"))
            .and_then(Value::as_array);
        for (position, item) in output.into_iter().flatten().enumerate() {
            self.item_done(out, item, u64::try_from(position).ok());
        }
        let finish_reason = if incomplete {
            let reason = response
                .and_then(|r| r.get("incomplete_details"))
                .and_then(|d| d.get("reason"))
                .and_then(Value::as_str);
            incomplete_finish_reason(reason)
        } else if self.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        self.ensure_started(out);
        self.write_chunk(out, |out| out.extend_from_slice(b"{}"), Some(finish_reason));
        if self.ctx.include_usage
            && let Some(usage) = response.and_then(|r| r.get("usage")).and_then(chat_usage)
        {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&self.head);
            out.extend_from_slice(b"],\"usage\":");
            out.extend_from_slice(usage.to_string().as_bytes());
            out.extend_from_slice(b"}\n\n");
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// A chunk whose delta is `{"<field>": text}`.
    fn delta_field(&mut self, out: &mut Vec<u8>, field: &str, text: &str) {
        self.chunk(out, |out| {
            out.extend_from_slice(b"{");
            write_json_str(out, field);
            out.extend_from_slice(b":");
            write_json_str(out, text);
            out.extend_from_slice(b"}");
        });
    }

    /// A content chunk, preceded by the role chunk if it is the first.
    fn chunk(&mut self, out: &mut Vec<u8>, delta: impl FnOnce(&mut Vec<u8>)) {
        self.ensure_started(out);
        self.write_chunk(out, delta, None);
    }

    /// The first chunk announces the assistant role. It is written lazily, so a
    /// response that fails before producing anything leaves `out` empty.
    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.write_chunk(
                out,
                |out| {
                    out.extend_from_slice(
                        b"{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
                    )
                },
                None,
            );
        }
    }

    fn write_chunk(
        &self,
        out: &mut Vec<u8>,
        delta: impl FnOnce(&mut Vec<u8>),
        finish_reason: Option<&str>,
    ) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"{\"index\":0,\"delta\":");
        delta(out);
        out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        match finish_reason {
            Some(reason) => write_json_str(out, reason),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}]");
        if self.ctx.include_usage {
            out.extend_from_slice(b",\"usage\":null");
        }
        out.extend_from_slice(b"}\n\n");
    }
}

impl StreamTranslator for ChatStreamTranslator {
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep {
        if let Some(d) = event.text_delta() {
            return self.on_text_delta(d.item_id.as_deref(), d.output_index, &d.delta, out.vec());
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
mod tests {
    use super::*;
    use crate::translate::fixtures;
    use serde_json::json;

    fn ctx(include_usage: bool, reasoning_output: bool) -> ChatContext {
        ChatContext {
            id: "chatcmpl-1".to_owned(),
            created: 1_761_000_000,
            model: "gpt-5.5".to_owned(),
            include_usage,
            reasoning_output,
        }
    }

    /// Runs the events; returns the steps, the chunks and whether `[DONE]` came.
    fn run_events(events: &[Value], ctx: ChatContext) -> (Vec<StreamStep>, Vec<Value>, bool) {
        let mut translator = ChatStreamTranslator::new(ctx);
        let mut out = Vec::new();
        let steps = events
            .iter()
            .map(|e| translator.on_json(e, &mut out))
            .collect();
        let (chunks, done) = fixtures::chat_chunks(&out);
        (steps, chunks, done)
    }

    fn run(transcript: &str, ctx: ChatContext) -> (Vec<StreamStep>, Vec<Value>, bool) {
        run_events(&fixtures::events(transcript), ctx)
    }

    fn deltas(chunks: &[Value]) -> Vec<Value> {
        chunks
            .iter()
            .filter_map(|c| c.get("choices").and_then(|c| c.get(0)))
            .map(|c| c["delta"].clone())
            .collect()
    }

    fn finish_reasons(chunks: &[Value]) -> Vec<String> {
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str().map(str::to_owned))
            .collect()
    }

    fn content(chunks: &[Value], field: &str) -> String {
        deltas(chunks)
            .iter()
            .filter_map(|d| d[field].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn text_stream_follows_the_openai_grammar() {
        let (steps, chunks, done) = run(fixtures::SSE_TEXT_REASONING, ctx(false, false));
        assert_eq!(steps.last(), Some(&StreamStep::Finished));
        assert!(done);
        assert_eq!(
            chunks[0],
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1_761_000_000,"model":"gpt-5.5",
                "system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},
                "logprobs":null,"finish_reason":null}]})
        );
        assert_eq!(
            deltas(&chunks),
            [
                json!({"role":"assistant","content":"","refusal":null}),
                json!({"content":"Hello"}),
                json!({"content":"! How can I help?"}),
                json!({})
            ]
        );
        assert_eq!(finish_reasons(&chunks), ["stop"]);
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }

    #[test]
    fn reasoning_content_when_enabled() {
        let (_, chunks, _) = run(fixtures::SSE_TEXT_REASONING, ctx(false, true));
        assert_eq!(
            deltas(&chunks)[1],
            json!({"reasoning_content":"**Responding to a greeting**"})
        );
        assert_eq!(
            content(&chunks, "reasoning_content"),
            "**Responding to a greeting**"
        );
        assert_eq!(content(&chunks, "content"), "Hello! How can I help?");
    }

    #[test]
    fn reasoning_parts_are_separated_by_a_blank_line() {
        let events = vec![
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"summary_index":0,"delta":"One"}),
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"summary_index":0,"delta":" two"}),
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"summary_index":1,"delta":"Three"}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"id":"rs","type":"reasoning","summary":[{"type":"summary_text","text":"One two"},{"type":"summary_text","text":"Three"}]}}),
            json!({"type":"response.completed","response":{"id":"r"}}),
        ];
        let (_, chunks, _) = run_events(&events, ctx(false, true));
        assert_eq!(content(&chunks, "reasoning_content"), "One two\n\nThree");
        let (_, chunks, _) = run_events(&events, ctx(false, false));
        assert_eq!(content(&chunks, "reasoning_content"), "");
        assert_eq!(deltas(&chunks).len(), 2, "role and finish only");
    }

    #[test]
    fn tool_call_stream() {
        let (_, chunks, done) = run(fixtures::SSE_TOOL_CALL, ctx(false, false));
        assert!(done);
        assert_eq!(
            deltas(&chunks),
            [
                json!({"role":"assistant","content":"","refusal":null}),
                json!({"tool_calls":[{"index":0,"id":"call_Q2xp","type":"function","function":{"name":"shell","arguments":""}}]}),
                json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"command\":[\"bash\",\"-lc\","}}]}),
                json!({"tool_calls":[{"index":0,"function":{"arguments":"\"ls\"]}"}}]}),
                json!({})
            ]
        );
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }

    #[test]
    fn parallel_tool_calls_with_interleaved_deltas() {
        let (_, chunks, _) = run(fixtures::SSE_PARALLEL_TOOLS, ctx(false, false));
        let mut arguments = [String::new(), String::new()];
        let mut ids = [None, None];
        for delta in deltas(&chunks) {
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"]
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .unwrap_or(9);
                assert!(index < 2);
                if let Some(id) = call["id"].as_str() {
                    ids[index] = Some(id.to_owned());
                }
                arguments[index]
                    .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
            }
        }
        assert_eq!(ids, [Some("call_A".to_owned()), Some("call_B".to_owned())]);
        assert_eq!(arguments, ["{\"city\":\"Paris\"}", "{\"city\":\"Tokyo\"}"]);
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }

    #[test]
    fn custom_tool_call_stream() {
        let (_, chunks, _) = run(fixtures::SSE_CUSTOM_TOOL, ctx(false, false));
        let deltas = deltas(&chunks);
        assert_eq!(deltas[1], json!({"content":"Patching."}));
        assert_eq!(
            deltas[2],
            json!({"tool_calls":[{"index":0,"id":"call_P","type":"custom","custom":{"name":"apply_patch","input":""}}]})
        );
        let input: String = deltas
            .iter()
            .filter_map(|d| {
                d["tool_calls"][0]["custom"]["input"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            input,
            "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"
        );
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }

    #[test]
    fn tool_arguments_come_from_the_final_item_when_not_streamed() {
        let call = json!({"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":"{\"a\":1}"});
        let mut added = call.clone();
        added["arguments"] = json!("");
        let events = vec![
            json!({"type":"response.output_item.added","output_index":0,"item":added}),
            json!({"type":"response.output_item.done","output_index":0,"item":call}),
            json!({"type":"response.output_item.done","output_index":1,"item":{"id":"fc_2","type":"function_call","call_id":"call_2","name":"g","arguments":"{}"}}),
            json!({"type":"response.completed","response":{"id":"r"}}),
        ];
        let (_, chunks, _) = run_events(&events, ctx(false, false));
        assert_eq!(
            deltas(&chunks)[1..],
            [
                json!({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}),
                json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}),
                json!({"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"g","arguments":"{}"}}]}),
                json!({})
            ]
        );
    }

    #[test]
    fn include_usage_puts_null_usage_on_every_chunk_and_a_usage_chunk_last() {
        let (_, chunks, done) = run(fixtures::SSE_TEXT_REASONING, ctx(true, false));
        assert!(done);
        let (last, rest) = chunks.split_last().expect("chunks");
        assert!(
            rest.iter()
                .all(|c| c["usage"].is_null() && c.get("usage").is_some())
        );
        assert_eq!(
            *last,
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1_761_000_000,"model":"gpt-5.5",
                "system_fingerprint":null,"choices":[],
                "usage":{"prompt_tokens":2210,"completion_tokens":58,"total_tokens":2268,
                    "prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":32}}})
        );
        assert_eq!(
            rest.last()
                .map(|c| c["choices"][0]["finish_reason"].clone()),
            Some(json!("stop"))
        );
    }

    #[test]
    fn unreadable_usage_gives_no_usage_chunk() {
        let events = vec![
            json!({"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"hi"}),
            json!({"type":"response.completed","response":{"id":"r","usage":{"input_tokens":"many"}}}),
        ];
        let (_, chunks, done) = run_events(&events, ctx(true, false));
        assert!(done);
        assert!(chunks.iter().all(|c| c["usage"].is_null()));
        assert_eq!(finish_reasons(&chunks), ["stop"]);
    }

    #[test]
    fn the_text_delta_fast_path_matches_on_event() {
        let events: Vec<Value> = fixtures::events(fixtures::SSE_TEXT_REASONING);
        let mut slow = ChatStreamTranslator::new(ctx(true, false));
        let mut fast = ChatStreamTranslator::new(ctx(true, false));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for e in &events {
            slow.on_json(e, &mut a);
            if e["type"] == "response.output_text.delta" {
                fast.on_text_delta(
                    e["item_id"].as_str(),
                    e["output_index"].as_u64(),
                    e["delta"].as_str().unwrap_or_default(),
                    &mut b,
                );
            } else {
                fast.on_json(e, &mut b);
            }
        }
        assert!(!a.is_empty());
        assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    }

    #[test]
    fn incomplete_finish_reasons() {
        let (steps, chunks, done) = run(fixtures::SSE_INCOMPLETE, ctx(true, false));
        assert_eq!(steps.last(), Some(&StreamStep::Finished));
        assert!(done);
        assert_eq!(finish_reasons(&chunks), ["length"]);
        assert_eq!(content(&chunks, "content"), "The answer is long and");
        assert_eq!(
            chunks.last().map(|c| c["usage"]["total_tokens"].clone()),
            Some(json!(14))
        );

        let events = vec![
            json!({"type":"response.incomplete","response":{"incomplete_details":{"reason":"content_filter"}}}),
        ];
        let (_, chunks, _) = run_events(&events, ctx(false, false));
        assert_eq!(finish_reasons(&chunks), ["content_filter"]);
    }

    #[test]
    fn refusal_deltas() {
        let (_, chunks, _) = run(fixtures::SSE_REFUSAL, ctx(false, false));
        assert_eq!(content(&chunks, "refusal"), "I can't help with that.");
        assert_eq!(content(&chunks, "content"), "");
        assert_eq!(finish_reasons(&chunks), ["stop"]);
    }

    #[test]
    fn failures_write_nothing() {
        let mut translator = ChatStreamTranslator::new(ctx(true, false));
        let mut out = Vec::new();
        let steps: Vec<StreamStep> = fixtures::events(fixtures::SSE_FAILED)
            .iter()
            .map(|e| translator.on_json(e, &mut out))
            .collect();
        assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
        assert_eq!(
            steps.last(),
            Some(&StreamStep::Failed {
                code: Some("context_length_exceeded".to_owned()),
                message: "Your input exceeds the context window of this model. Please adjust your input and try again.".to_owned()
            })
        );
        let (steps, chunks, done) = run(fixtures::SSE_ERROR_EVENT, ctx(false, false));
        assert!(
            matches!(steps.last(), Some(StreamStep::Failed { code: Some(c), .. }) if c == "rate_limit_exceeded")
        );
        assert!(chunks.is_empty() && !done);
    }

    #[test]
    fn failure_after_text_leaves_the_text_and_adds_nothing() {
        let events = vec![
            json!({"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"partial"}),
            json!({"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}),
        ];
        let (steps, chunks, done) = run_events(&events, ctx(false, false));
        assert!(matches!(steps.last(), Some(StreamStep::Failed { .. })));
        assert!(!done);
        assert_eq!(content(&chunks, "content"), "partial");
        assert!(finish_reasons(&chunks).is_empty());
    }

    #[test]
    fn text_comes_from_final_items_when_there_were_no_deltas() {
        let (_, chunks, done) = run(fixtures::SSE_ONLY_DONE, ctx(false, false));
        assert!(done);
        assert_eq!(content(&chunks, "content"), "pong");
        let events = vec![
            json!({"type":"response.completed","response":{"id":"r","output":[
                {"type":"message","content":[{"type":"output_text","text":"from completed"}]},
                {"type":"function_call","call_id":"c9","name":"f","arguments":"{}"}
            ]}}),
        ];
        let (_, chunks, _) = run_events(&events, ctx(false, false));
        assert_eq!(content(&chunks, "content"), "from completed");
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }

    #[test]
    fn text_is_not_repeated_by_the_terminal_output() {
        let (_, chunks, _) = run(fixtures::SSE_TEXT_REASONING, ctx(false, true));
        assert_eq!(content(&chunks, "content"), "Hello! How can I help?");
        assert_eq!(
            content(&chunks, "reasoning_content"),
            "**Responding to a greeting**"
        );
        let (_, chunks, _) = run(fixtures::SSE_PARALLEL_TOOLS, ctx(false, false));
        let headers = deltas(&chunks)
            .iter()
            .filter(|d| d["tool_calls"][0].get("id").is_some())
            .count();
        assert_eq!(headers, 2);
    }

    #[test]
    fn separate_messages_are_separated_by_a_blank_line() {
        let events = vec![
            json!({"type":"response.output_text.delta","item_id":"m1","output_index":0,"delta":"Looking."}),
            json!({"type":"response.output_text.delta","item_id":"m2","output_index":1,"delta":"Found"}),
            json!({"type":"response.output_text.delta","item_id":"m2","output_index":1,"delta":" it."}),
            json!({"type":"response.completed","response":{"id":"r"}}),
        ];
        let (_, chunks, _) = run_events(&events, ctx(false, false));
        assert_eq!(content(&chunks, "content"), "Looking.\n\nFound it.");
    }

    #[test]
    fn deltas_without_item_identity_are_not_repeated_or_split() {
        let mut events = vec![
            json!({"type":"response.output_item.added","item":{"type":"function_call","call_id":"c1","name":"f"}}),
        ];
        for piece in ["{\"a\"", ":1}"] {
            events.push(json!({"type":"response.function_call_arguments.delta","delta":piece}));
        }
        events.push(json!({"type":"response.output_item.done","item":{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"}}));
        for piece in ["Hel", "lo"] {
            events.push(json!({"type":"response.output_text.delta","delta":piece}));
        }
        events.push(json!({"type":"response.output_item.done","item":{"type":"message","content":[{"type":"output_text","text":"Hello"}]}}));
        events.push(json!({"type":"response.completed","response":{"output":[]}}));
        let (_, chunks, _) = run_events(&events, ctx(false, false));
        assert_eq!(content(&chunks, "content"), "Hello");
        let arguments: String = deltas(&chunks)
            .iter()
            .filter_map(|d| {
                d["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(arguments, "{\"a\":1}");
    }

    #[test]
    fn events_after_the_end_are_ignored() {
        let mut translator = ChatStreamTranslator::new(ctx(false, false));
        let mut out = Vec::new();
        let done = json!({"type":"response.completed","response":{"id":"r"}});
        assert_eq!(translator.on_json(&done, &mut out), StreamStep::Finished);
        let len = out.len();
        let late = json!({"type":"response.output_text.delta","delta":"late"});
        assert_eq!(translator.on_json(&late, &mut out), StreamStep::Finished);
        assert_eq!(translator.on_json(&done, &mut out), StreamStep::Finished);
        assert_eq!(out.len(), len);
    }

    #[test]
    fn unknown_events_are_ignored() {
        let mut translator = ChatStreamTranslator::new(ctx(false, false));
        let mut out = Vec::new();
        for event in [
            json!({"type":"response.created","response":{"id":"r"}}),
            json!({"type":"codex.rate_limits","rate_limits":{}}),
            json!({"type":"response.output_text.annotation.added"}),
            json!({"no_type":true}),
            json!("string"),
        ] {
            assert_eq!(translator.on_json(&event, &mut out), StreamStep::Continue);
        }
        assert!(out.is_empty());
    }

    #[test]
    fn exactly_one_finish_reason_in_every_transcript() {
        for transcript in fixtures::TRANSCRIPTS {
            for include_usage in [false, true] {
                let (steps, chunks, done) = run(transcript, ctx(include_usage, true));
                let finished = steps.last() == Some(&StreamStep::Finished);
                assert_eq!(done, finished);
                assert_eq!(finish_reasons(&chunks).len(), usize::from(finished));
                if finished {
                    assert_eq!(deltas(&chunks)[0]["role"], json!("assistant"));
                }
            }
        }
    }

    #[test]
    fn error_chunk_format() {
        let bytes = error_chunk(
            "Upstream \"failed\"",
            "upstream_error",
            Some("incomplete_stream"),
        );
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with("data: ") && text.ends_with("}\n\n"));
        let value: Value =
            serde_json::from_str(text.trim_start_matches("data: ").trim_end()).expect("json");
        assert_eq!(
            value,
            json!({"error":{"message":"Upstream \"failed\"","type":"upstream_error","param":null,"code":"incomplete_stream"}})
        );
        let bytes = error_chunk("x", "upstream_error", None);
        assert_eq!(bytes, b"data: {\"error\":{\"message\":\"x\",\"type\":\"upstream_error\",\"param\":null,\"code\":null}}\n\n");
    }

    #[test]
    fn ids_and_models_are_escaped() {
        let mut ctx = ctx(false, false);
        ctx.model = "we\"ird\nmodel".to_owned();
        let (_, chunks, _) = run_events(&[json!({"type":"response.completed","response":{}})], ctx);
        assert_eq!(chunks[0]["model"], json!("we\"ird\nmodel"));
    }
}
