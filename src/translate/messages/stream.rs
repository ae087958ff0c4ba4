//! Upstream events → Anthropic's streaming grammar, through the dialect seam
//! (docs/architecture.md, "The dialect seam"):
//!
//! `message_start` (with a usage estimate), `ping`, then per content block
//! `content_block_start`, `content_block_delta`s (`text_delta`,
//! `thinking_delta`, `signature_delta` at the end of a thinking block,
//! `input_json_delta` as a tool's arguments arrive), `content_block_stop`, and at
//! the end `message_delta` (stop reason, usage) and `message_stop`. Every event
//! has an `event:` name and the same `type` in its data.
//!
//! Blocks never overlap: one is open at a time and its index is its position in
//! the final content. Upstream items that stream at the same time (parallel tool
//! calls with interleaved argument deltas) are held back until the open block
//! ends, then sent in order; what is held is at most the upstream's own output.

use serde_json::Value;

use super::response::{
    PART_SEPARATOR, Usage, call_arguments, call_id, incomplete_stop_reason, usage_of,
};
use super::{error_type_for_status, sign};
use crate::translate::chat_response::{message_text, reasoning_summary};
use crate::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use crate::translate::{event_type, failure_of, write_json_str};
use crate::upstream::events::ItemRef as ItemKey;
use crate::upstream::events::UpstreamEvent;

/// What a content block holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Tool { id: String, name: String },
}

impl Kind {
    fn same_class(&self, other: &Kind) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// What an item's final form adds to its block.
#[derive(Debug, Default)]
struct Tail {
    /// Content the deltas did not bring.
    text: String,
    /// The thinking signature.
    signature: Option<String>,
}

#[derive(Debug)]
struct Block {
    key: ItemKey,
    kind: Kind,
    /// The Anthropic index, once started.
    index: Option<usize>,
    /// Deltas held while another block is open.
    pending: String,
    /// Deltas came for this block.
    streamed: bool,
    /// The reasoning summary part the last thinking delta came from.
    part: Option<u64>,
    /// The item finished; what is left to write before the stop.
    finished: Option<Tail>,
    closed: bool,
}

impl Block {
    /// Whether starting it would show something (empty text blocks are not sent).
    fn has_content(&self) -> bool {
        self.kind != Kind::Text
            || !self.pending.is_empty()
            || self.finished.as_ref().is_some_and(|t| !t.text.is_empty())
    }
}

/// Translates the upstream events of one response into Anthropic SSE bytes.
#[derive(Debug)]
pub struct MessagesStream {
    id: String,
    model: String,
    account_tag: String,
    thinking: bool,
    input_estimate: u64,
    started: bool,
    done: bool,
    blocks: Vec<Block>,
    /// The block currently open (position in `blocks`).
    open: Option<usize>,
    next_index: usize,
    refused: bool,
    tool_use: bool,
}

impl MessagesStream {
    /// A translator for the answer `id` (`msg_…`) to a request for `model`.
    pub fn new(
        id: String,
        model: &str,
        account_tag: String,
        thinking: bool,
        input_estimate: u64,
    ) -> Self {
        MessagesStream {
            id,
            model: model.to_owned(),
            account_tag,
            thinking,
            input_estimate,
            started: false,
            done: false,
            blocks: Vec::new(),
            open: None,
            next_index: 0,
            refused: false,
            tool_use: false,
        }
    }

    /// Feeds one upstream event (its parsed JSON), appending Anthropic events.
    pub fn on_json(&mut self, event: &Value, out: &mut Vec<u8>) -> StreamStep {
        if self.done {
            return StreamStep::Finished;
        }
        if let Some(failure) = failure_of(event) {
            self.done = true;
            return failure.into();
        }
        let Some(kind) = event_type(event) else {
            return StreamStep::Continue;
        };
        self.ensure_started(out);
        let delta = event
            .get("delta")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let index = event.get("output_index").and_then(Value::as_u64);
        match kind {
            "response.output_text.delta" => {
                self.piece(out, ItemKey::of_delta(event), Kind::Text, delta);
            }
            "response.refusal.delta" => {
                self.refused = true;
                self.piece(out, ItemKey::of_delta(event), Kind::Text, delta);
            }
            "response.reasoning_summary_text.delta" if self.thinking => {
                let part = event.get("summary_index").and_then(Value::as_u64);
                self.thinking_piece(out, ItemKey::of_delta(event), part, delta);
            }
            "response.function_call_arguments.delta" => {
                self.tool_piece(out, ItemKey::of_delta(event), delta);
            }
            "response.output_item.added" => {
                if let Some(item) = event.get("item") {
                    self.item_added(out, ItemKey::of_item(item, index), item);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = event.get("item") {
                    self.item_done(out, ItemKey::of_item(item, index), item);
                }
            }
            "response.completed" | "response.incomplete" => {
                self.finish(out, event.get("response"), kind == "response.incomplete");
                return StreamStep::Finished;
            }
            _ => {}
        }
        StreamStep::Continue
    }

    /// The fast path for `response.output_text.delta`, read without a JSON tree.
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
        self.ensure_started(out);
        if let Some(b) = self.open
            && let Some(block) = self.blocks.get_mut(b)
            && block.kind == Kind::Text
            && block.key.names(item_id, output_index)
        {
            // The open text block, without building a key.
            block.streamed = true;
            if !delta.is_empty() {
                self.delta(out, b, delta);
            }
            return StreamStep::Continue;
        }
        let key = ItemKey {
            id: item_id.map(str::to_owned),
            index: output_index,
        };
        self.piece(out, key, Kind::Text, delta);
        StreamStep::Continue
    }

    /// `message_start` and a `ping`, before anything else.
    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        out.extend_from_slice(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":",
        );
        write_json_str(out, &self.id);
        out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
        write_json_str(out, &self.model);
        out.extend_from_slice(
            b",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":",
        );
        let estimate = Usage {
            input_tokens: self.input_estimate,
            ..Usage::default()
        };
        out.extend_from_slice(estimate.to_json().to_string().as_bytes());
        out.extend_from_slice(b"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    /// The block of an item, created on first sight.
    fn block_for(&mut self, key: ItemKey, kind: Kind) -> usize {
        let found = if key.is_anonymous() {
            self.blocks
                .iter()
                .rposition(|b| b.kind.same_class(&kind) && !b.closed)
        } else {
            self.blocks.iter().position(|b| b.key.same(&key))
        };
        if let Some(position) = found {
            return position;
        }
        // Deltas that named no item belong to the item that names itself later.
        let adopted = self
            .blocks
            .iter()
            .rposition(|b| b.key.is_anonymous() && b.kind.same_class(&kind) && !b.closed);
        if let Some(position) = adopted.filter(|_| !key.is_anonymous()) {
            self.blocks[position].key = key;
            return position;
        }
        self.blocks.push(Block {
            key,
            kind,
            index: None,
            pending: String::new(),
            streamed: false,
            part: None,
            finished: None,
            closed: false,
        });
        self.blocks.len() - 1
    }

    /// Content for an item: written if its block is open (or can open), else held.
    fn piece(&mut self, out: &mut Vec<u8>, key: ItemKey, kind: Kind, text: &str) {
        let b = self.block_for(key, kind);
        self.write_piece(out, b, text);
    }

    fn write_piece(&mut self, out: &mut Vec<u8>, b: usize, text: &str) {
        let open = self.open;
        let Some(block) = self.blocks.get_mut(b) else {
            return;
        };
        if block.closed {
            return;
        }
        block.streamed = true;
        if text.is_empty() {
            return;
        }
        match open {
            Some(o) if o == b => self.delta(out, b, text),
            None => {
                block.pending.push_str(text);
                self.start(out, b);
            }
            Some(_) => block.pending.push_str(text),
        }
    }

    /// Reasoning summary text; a new summary part starts after a blank line.
    fn thinking_piece(&mut self, out: &mut Vec<u8>, key: ItemKey, part: Option<u64>, text: &str) {
        let b = self.block_for(key, Kind::Thinking);
        let Some(block) = self.blocks.get_mut(b) else {
            return;
        };
        let new_part = block.streamed && block.part != part && !text.is_empty();
        block.part = part;
        if new_part {
            self.write_piece(out, b, &[PART_SEPARATOR, text].concat());
        } else {
            self.write_piece(out, b, text);
        }
    }

    /// Argument deltas belong to a function call announced by `output_item.added`.
    fn tool_piece(&mut self, out: &mut Vec<u8>, key: ItemKey, text: &str) {
        let found = if key.is_anonymous() {
            self.blocks
                .iter()
                .rposition(|b| matches!(b.kind, Kind::Tool { .. }))
        } else {
            self.blocks.iter().position(|b| b.key.same(&key))
        };
        if let Some(b) = found.filter(|&b| matches!(self.blocks[b].kind, Kind::Tool { .. })) {
            self.write_piece(out, b, text);
        }
    }

    /// The block kind of an output item, `None` for items that show nothing.
    fn kind_of(&self, item: &Value, position: usize) -> Option<Kind> {
        match item.get("type").and_then(Value::as_str)? {
            "message" => Some(Kind::Text),
            "reasoning" if self.thinking => Some(Kind::Thinking),
            "function_call" | "custom_tool_call" => Some(Kind::Tool {
                id: call_id(item, position),
                name: item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            _ => None,
        }
    }

    fn item_added(&mut self, out: &mut Vec<u8>, key: ItemKey, item: &Value) {
        let Some(kind) = self.kind_of(item, self.blocks.len()) else {
            return;
        };
        let b = self.block_for(key, kind);
        if self.open.is_none() && self.blocks[b].has_content() && self.blocks[b].index.is_none() {
            self.start(out, b);
        }
    }

    fn item_done(&mut self, out: &mut Vec<u8>, key: ItemKey, item: &Value) {
        let Some(kind) = self.kind_of(item, self.blocks.len()) else {
            return;
        };
        let b = self.block_for(key, kind);
        let Some(block) = self.blocks.get(b) else {
            return;
        };
        if block.closed || block.finished.is_some() {
            return;
        }
        let (kind, streamed) = (block.kind.clone(), block.streamed);
        let tail = self.tail(&kind, streamed, item);
        self.blocks[b].finished = Some(tail);
        if self.open == Some(b) {
            self.stop(out, b);
        }
        self.advance(out);
    }

    /// What an item's final form adds: content that came without deltas, and the
    /// signature of a thinking block.
    fn tail(&mut self, kind: &Kind, streamed: bool, item: &Value) -> Tail {
        let mut tail = Tail::default();
        match kind {
            Kind::Text if !streamed => {
                let (text, refusal) = message_text(item);
                self.refused |= !refusal.is_empty();
                tail.text = text + &refusal;
            }
            Kind::Thinking => {
                if !streamed {
                    tail.text = reasoning_summary(item);
                }
                tail.signature = item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .filter(|e| !e.is_empty())
                    .map(|e| sign(&self.account_tag, e));
            }
            Kind::Tool { .. } if !streamed => tail.text = call_arguments(item),
            _ => {}
        }
        tail
    }

    /// Starts blocks in order while none is open: finished ones are written whole,
    /// the first unfinished one with content stays open. Finished blocks with
    /// nothing to show are closed silently.
    fn advance(&mut self, out: &mut Vec<u8>) {
        let mut b = 0;
        while self.open.is_none() && b < self.blocks.len() {
            let block = &mut self.blocks[b];
            if block.closed || block.index.is_some() {
                b += 1;
            } else if !block.has_content() {
                block.closed = block.finished.is_some();
                b += 1;
            } else {
                self.start(out, b);
                if self.blocks[b].finished.is_some() {
                    self.stop(out, b);
                }
                b += 1;
            }
        }
    }

    /// `content_block_start` for block `b`, then what it held.
    fn start(&mut self, out: &mut Vec<u8>, b: usize) {
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some(b);
        let block = &mut self.blocks[b];
        block.index = Some(index);
        out.extend_from_slice(
            b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":",
        );
        write_index(out, index);
        out.extend_from_slice(b",\"content_block\":");
        match &block.kind {
            Kind::Text => out.extend_from_slice(b"{\"type\":\"text\",\"text\":\"\"}"),
            Kind::Thinking => out
                .extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}"),
            Kind::Tool { id, name } => {
                self.tool_use = true;
                out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
                write_json_str(out, id);
                out.extend_from_slice(b",\"name\":");
                write_json_str(out, name);
                out.extend_from_slice(b",\"input\":{}}");
            }
        }
        out.extend_from_slice(b"}\n\n");
        let pending = std::mem::take(&mut block.pending);
        if !pending.is_empty() {
            self.delta(out, b, &pending);
        }
    }

    /// The rest of block `b` and its `content_block_stop`.
    fn stop(&mut self, out: &mut Vec<u8>, b: usize) {
        let tail = self.blocks[b].finished.take().unwrap_or_default();
        if !tail.text.is_empty() {
            self.delta(out, b, &tail.text);
        }
        let index = self.blocks[b].index.unwrap_or_default();
        if let Some(signature) = &tail.signature {
            write_delta(out, index, "signature_delta", "signature", signature);
        }
        out.extend_from_slice(
            b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":",
        );
        write_index(out, index);
        out.extend_from_slice(b"}\n\n");
        self.blocks[b].closed = true;
        self.open = None;
    }

    /// One `content_block_delta` of block `b`'s kind.
    fn delta(&self, out: &mut Vec<u8>, b: usize, text: &str) {
        let block = &self.blocks[b];
        let (kind, field) = match block.kind {
            Kind::Text => ("text_delta", "text"),
            Kind::Thinking => ("thinking_delta", "thinking"),
            Kind::Tool { .. } => ("input_json_delta", "partial_json"),
        };
        write_delta(out, block.index.unwrap_or_default(), kind, field, text);
    }

    /// Ends the stream: items only the terminal event carried, every block
    /// closed in order, `message_delta` and `message_stop`.
    fn finish(&mut self, out: &mut Vec<u8>, response: Option<&Value>, incomplete: bool) {
        self.done = true;
        let output = response
            .and_then(|r| r.get("output"))
            .and_then(Value::as_array);
        for (position, item) in output.into_iter().flatten().enumerate() {
            self.item_done(
                out,
                ItemKey::of_item(item, u64::try_from(position).ok()),
                item,
            );
        }
        for block in &mut self.blocks {
            if block.finished.is_none() && !block.closed {
                block.finished = Some(Tail::default());
            }
        }
        if let Some(b) = self.open {
            self.stop(out, b);
        }
        self.advance(out);
        let stop_reason = if incomplete {
            incomplete_stop_reason(
                response
                    .and_then(|r| r.pointer("/incomplete_details/reason"))
                    .and_then(Value::as_str),
            )
        } else if self.refused {
            "refusal"
        } else if self.tool_use {
            "tool_use"
        } else {
            "end_turn"
        };
        let usage = response
            .and_then(|r| r.get("usage"))
            .and_then(usage_of)
            .unwrap_or(Usage {
                input_tokens: self.input_estimate,
                ..Usage::default()
            });
        out.extend_from_slice(
            b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":",
        );
        write_json_str(out, stop_reason);
        out.extend_from_slice(b",\"stop_sequence\":null},\"usage\":");
        out.extend_from_slice(usage.to_json().to_string().as_bytes());
        out.extend_from_slice(b"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }
}

/// `event: content_block_delta` with `{"type": kind, field: text}`.
fn write_delta(out: &mut Vec<u8>, index: usize, kind: &str, field: &str, text: &str) {
    out.extend_from_slice(
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
    );
    write_index(out, index);
    out.extend_from_slice(b",\"delta\":{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    write_json_str(out, text);
    out.extend_from_slice(b"}}\n\n");
}

/// A block index in decimal, without an allocation.
fn write_index(out: &mut Vec<u8>, index: usize) {
    use std::io::Write as _;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{index}");
}

/// The in-band `event: error` of a stream that failed after its first byte.
pub fn error_event(status: u16, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 96);
    out.extend_from_slice(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"");
    out.extend_from_slice(error_type_for_status(status).as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    write_json_str(&mut out, message);
    out.extend_from_slice(b"}}\n\n");
    out
}

impl StreamTranslator for MessagesStream {
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
            .extend_from_slice(&error_event(failure.status, failure.message));
    }
}
