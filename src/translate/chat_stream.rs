//! Upstream events → `chat.completion.chunk` SSE events, one event at a time
//! (spec §6.3).
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
use super::{event_type, failure_of, write_json_str};

/// What one upstream event meant for the chat stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStep {
    /// Keep going.
    Continue,
    /// The stream is complete: the finish chunk, the usage chunk (if asked for) and
    /// `data: [DONE]` were written. Later events are ignored and also return this.
    Finished,
    /// The upstream failed. Nothing was written for this event: before the first
    /// byte the caller answers with an HTTP error, after it with [`error_chunk`].
    Failed {
        code: Option<String>,
        message: String,
    },
}

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

/// Identifies an output item across events: by its id when both sides have one,
/// else by `output_index`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemRef {
    id: Option<String>,
    index: Option<u64>,
}

impl ItemRef {
    /// The item a delta event (`item_id`, `output_index`) refers to.
    fn of_delta(event: &Value) -> Self {
        ItemRef {
            id: event
                .get("item_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            index: event.get("output_index").and_then(Value::as_u64),
        }
    }

    /// An item carried whole (`output_item.added` / `.done`, terminal output).
    fn of_item(item: &Value, index: Option<u64>) -> Self {
        ItemRef {
            id: item.get("id").and_then(Value::as_str).map(str::to_owned),
            index,
        }
    }

    fn same(&self, other: &ItemRef) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a == b,
            _ => matches!((self.index, other.index), (Some(a), Some(b)) if a == b),
        }
    }
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
    streamed_items: Vec<ItemRef>,
    /// Items whose final form (`output_item.done`) was handled.
    done_items: Vec<ItemRef>,
    /// The message item the last text came from.
    last_text_item: Option<ItemRef>,
    /// The reasoning summary part the last reasoning text came from.
    last_summary: Option<(ItemRef, u64)>,
}

impl ChatStreamTranslator {
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
            streamed_items: Vec::new(),
            done_items: Vec::new(),
            last_text_item: None,
            last_summary: None,
        }
    }

    /// Feeds one upstream event (the parsed `data:` JSON) and appends the chat SSE
    /// events it produces to `out`.
    pub fn on_event(&mut self, event: &Value, out: &mut Vec<u8>) -> StreamStep {
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
                self.mark_streamed(&item);
                self.text(out, item, delta());
            }
            "response.refusal.delta" => {
                let item = ItemRef::of_delta(event);
                self.mark_streamed(&item);
                if !delta().is_empty() {
                    self.delta_field(out, "refusal", delta());
                }
            }
            "response.reasoning_summary_text.delta" if self.ctx.reasoning_output => {
                let item = ItemRef::of_delta(event);
                self.mark_streamed(&item);
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
                if let Some((code, message)) = failure_of(event) {
                    self.done = true;
                    return StreamStep::Failed { code, message };
                }
            }
        }
        StreamStep::Continue
    }

    fn mark_streamed(&mut self, item: &ItemRef) {
        if !self.streamed_items.iter().any(|i| i.same(item)) {
            self.streamed_items.push(item.clone());
        }
    }

    fn was_streamed(&self, item: &ItemRef) -> bool {
        self.streamed_items.iter().any(|i| i.same(item))
    }

    /// Text of message `item`; a new message after earlier text starts with a blank line.
    fn text(&mut self, out: &mut Vec<u8>, item: ItemRef, text: &str) {
        if text.is_empty() {
            return;
        }
        let new_message = self
            .last_text_item
            .as_ref()
            .is_some_and(|last| !last.same(&item));
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
            .is_some_and(|(item, index)| !item.same(&part.0) || *index != part.1);
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
        let item_ref = ItemRef::of_item(item, index);
        if self.tool_calls.iter().any(|c| c.item.same(&item_ref)) {
            return;
        }
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

    /// A piece of a tool call's arguments (or custom input).
    fn tool_delta(&mut self, out: &mut Vec<u8>, kind: ToolKind, item: &ItemRef, delta: &str) {
        let Some(call) = self
            .tool_calls
            .iter_mut()
            .find(|c| c.kind == kind && c.item.same(item))
        else {
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
            Some("message") if !self.was_streamed(&item_ref) => {
                let (text, refusal) = message_text(item);
                self.text(out, item_ref, &text);
                if !refusal.is_empty() {
                    self.delta_field(out, "refusal", &refusal);
                }
            }
            Some("reasoning") if self.ctx.reasoning_output && !self.was_streamed(&item_ref) => {
                let summary = reasoning_summary(item);
                self.reasoning(out, (item_ref, 0), &summary);
            }
            Some("function_call" | "custom_tool_call") => {
                let open = self.tool_calls.iter().find(|c| c.item.same(&item_ref));
                match open {
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
                }
            }
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
