//! Upstream events → Ollama's NDJSON answer lines, one event at a time; and the
//! one object of a non-streamed answer.
//!
//! Every line is one JSON object and a `\n`: `{"model","created_at","message":
//! {"role":"assistant","content","thinking"?,"tool_calls"?},"done":false}` on
//! `/api/chat`, with `response` (and `thinking`) in place of `message` on
//! `/api/generate`. Text and reasoning summaries stream as they arrive; a tool
//! call is written once complete, with its arguments parsed into an object (an
//! argument text that is not a JSON object is sent as that string, never lost).
//! The last line has `done: true`, `done_reason` (`stop`, or `length` for an
//! answer cut short), the token counts when the upstream reported usage and the
//! durations when the [`StreamClock`] measured them. A failure after the first
//! line ends the stream with one `{"error":"…"}` line instead.

use serde_json::{Map, Value};

use super::{NDJSON, StreamClock};
use crate::translate::chat_response::{
    MESSAGE_SEPARATOR, incomplete_finish_reason, message_text, reasoning_summary,
};
use crate::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use crate::translate::{event_type, failure_of, write_json_str};
use crate::upstream::events::UpstreamEvent;
use crate::upstream::events::{ItemRef as Item, StreamedItems};

/// Which endpoint's lines to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// `/api/chat`: `message` objects, tool calls.
    Chat,
    /// `/api/generate`: `response` strings.
    Generate,
}

/// `created` (Unix seconds) as RFC 3339, e.g. `2026-12-01T22:10:30Z`.
pub(crate) fn rfc3339(created: i64) -> String {
    jiff::Timestamp::from_second(created)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// The measured durations of an answer, in nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    total: u64,
    /// Until the first output (the prompt's processing), streamed answers only.
    prompt_eval: Option<u64>,
    /// From the first output to the end, streamed answers only.
    eval: Option<u64>,
}

/// The statistics of the last line, in Ollama's order.
fn stats(usage: Option<&Value>, timing: Option<Timing>) -> Vec<(&'static str, u64)> {
    let tokens = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
    let mut stats = Vec::with_capacity(6);
    if let Some(t) = timing {
        stats.push(("total_duration", t.total));
        stats.push(("load_duration", 0));
    }
    if let Some(count) = tokens("input_tokens") {
        stats.push(("prompt_eval_count", count));
    }
    if let Some(d) = timing.and_then(|t| t.prompt_eval) {
        stats.push(("prompt_eval_duration", d));
    }
    if let Some(count) = tokens("output_tokens") {
        stats.push(("eval_count", count));
    }
    if let Some(d) = timing.and_then(|t| t.eval) {
        stats.push(("eval_duration", d));
    }
    stats
}

/// `stop`, or `length` when the answer was cut short.
fn done_reason(response: Option<&Value>) -> &'static str {
    let status = response
        .and_then(|r| r.get("status"))
        .and_then(Value::as_str);
    if status != Some("incomplete") {
        return "stop";
    }
    let reason = response
        .and_then(|r| r.pointer("/incomplete_details/reason"))
        .and_then(Value::as_str);
    match incomplete_finish_reason(reason) {
        "length" => "length",
        _ => "stop",
    }
}

/// A function call item → `{"function":{"name","arguments":{…}}}`.
fn tool_call(item: &Value) -> Value {
    let field = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
    let raw = field("arguments");
    let arguments = match serde_json::from_str::<Value>(raw) {
        Ok(arguments @ Value::Object(_)) => arguments,
        _ if raw.trim().is_empty() => Value::Object(Map::new()),
        _ => Value::from(raw),
    };
    let mut function = Map::new();
    function.insert("name".to_owned(), Value::from(field("name")));
    function.insert("arguments".to_owned(), arguments);
    let mut call = Map::new();
    call.insert("function".to_owned(), Value::Object(function));
    Value::Object(call)
}

/// The non-streamed answer: one object of the last line's shape with the whole
/// content. Only `total_duration` is measured (the events were not seen).
pub(crate) fn final_object(
    flavour: Flavour,
    model: &str,
    created: i64,
    response: &Value,
    elapsed_ns: Option<u64>,
) -> Value {
    let mut texts = Vec::new();
    let mut thoughts = Vec::new();
    let mut calls = Vec::new();
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let (text, refusal) = message_text(item);
                let text = if text.is_empty() { refusal } else { text };
                texts.extend((!text.is_empty()).then_some(text));
            }
            Some("reasoning") => {
                let summary = reasoning_summary(item);
                thoughts.extend((!summary.is_empty()).then_some(summary));
            }
            Some("function_call") if flavour == Flavour::Chat => calls.push(tool_call(item)),
            _ => {}
        }
    }
    let content = Value::String(texts.join(MESSAGE_SEPARATOR));
    let thinking = (!thoughts.is_empty()).then(|| Value::String(thoughts.join(MESSAGE_SEPARATOR)));
    let mut answer = Map::new();
    answer.insert("model".to_owned(), Value::from(model));
    answer.insert("created_at".to_owned(), Value::String(rfc3339(created)));
    match flavour {
        Flavour::Chat => {
            let mut message = Map::new();
            message.insert("role".to_owned(), Value::from("assistant"));
            message.insert("content".to_owned(), content);
            message.extend(thinking.map(|t| ("thinking".to_owned(), t)));
            if !calls.is_empty() {
                message.insert("tool_calls".to_owned(), Value::Array(calls));
            }
            answer.insert("message".to_owned(), Value::Object(message));
        }
        Flavour::Generate => {
            answer.insert("response".to_owned(), content);
            answer.extend(thinking.map(|t| ("thinking".to_owned(), t)));
        }
    }
    answer.insert("done".to_owned(), Value::Bool(true));
    answer.insert(
        "done_reason".to_owned(),
        Value::from(done_reason(Some(response))),
    );
    let timing = elapsed_ns.map(|total| Timing {
        total,
        ..Timing::default()
    });
    for (key, value) in stats(response.get("usage"), timing) {
        answer.insert(key.to_owned(), Value::from(value));
    }
    Value::Object(answer)
}

/// Translates the upstream events of one response into Ollama NDJSON lines.
#[derive(Debug)]
pub(crate) struct OllamaStream<C> {
    flavour: Flavour,
    /// `{"model":…,"created_at":…,`
    head: Vec<u8>,
    clock: C,
    /// When the first output was written.
    first_output_ns: Option<u64>,
    done: bool,
    /// Message and reasoning items whose text came as deltas.
    streamed: StreamedItems,
    /// Items whose final form was handled.
    done_items: Vec<Item>,
    /// The `call_id`s of the tool calls written.
    calls: Vec<String>,
    last_text_item: Option<Item>,
    last_summary: Option<(Item, u64)>,
}

impl<C: StreamClock> OllamaStream<C> {
    /// A translator answering as `model`, created at `created` (Unix seconds).
    pub(crate) fn new(flavour: Flavour, model: String, created: i64, clock: C) -> Self {
        let mut head = Vec::with_capacity(64 + model.len());
        head.extend_from_slice(b"{\"model\":");
        write_json_str(&mut head, &model);
        head.extend_from_slice(b",\"created_at\":");
        write_json_str(&mut head, &rfc3339(created));
        head.push(b',');
        OllamaStream {
            flavour,
            head,
            clock,
            first_output_ns: None,
            done: false,
            streamed: StreamedItems::default(),
            done_items: Vec::new(),
            calls: Vec::new(),
            last_text_item: None,
            last_summary: None,
        }
    }

    /// Feeds one upstream event (its parsed JSON), appending lines to `out`.
    fn on_json(&mut self, event: &Value, out: &mut Vec<u8>) -> StreamStep {
        let delta = || {
            event
                .get("delta")
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        match event_type(event) {
            Some("response.output_text.delta" | "response.refusal.delta") => {
                self.text(out, Item::of_delta(event), delta());
            }
            Some("response.reasoning_summary_text.delta") => {
                let part = event.get("summary_index").and_then(Value::as_u64);
                self.thinking(out, (Item::of_delta(event), part.unwrap_or(0)), delta());
            }
            Some("response.output_item.done") => {
                if let Some(item) = event.get("item") {
                    let index = event.get("output_index").and_then(Value::as_u64);
                    self.item_done(out, item, index);
                }
            }
            Some("response.completed" | "response.incomplete") => {
                self.finish(out, event.get("response"));
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

    /// Answer text; a new message after earlier text starts after a blank line.
    fn text(&mut self, out: &mut Vec<u8>, item: Item, text: &str) {
        self.streamed.mark(&item);
        if text.is_empty() {
            return;
        }
        let new_message = self
            .last_text_item
            .as_ref()
            .is_some_and(|l| l.differs(&item));
        self.line(out, |out, flavour| {
            match flavour {
                Flavour::Chat => {
                    out.extend_from_slice(b"\"message\":{\"role\":\"assistant\",\"content\":")
                }
                Flavour::Generate => out.extend_from_slice(b"\"response\":"),
            }
            if new_message {
                write_json_str(out, &[MESSAGE_SEPARATOR, text].concat());
            } else {
                write_json_str(out, text);
            }
            if flavour == Flavour::Chat {
                out.push(b'}');
            }
        });
        self.last_text_item = Some(item);
    }

    /// Reasoning summary text; a new summary part starts after a blank line.
    fn thinking(&mut self, out: &mut Vec<u8>, part: (Item, u64), text: &str) {
        self.streamed.mark(&part.0);
        if text.is_empty() {
            return;
        }
        let new_part = self
            .last_summary
            .as_ref()
            .is_some_and(|(item, index)| item.differs(&part.0) || *index != part.1);
        self.line(out, |out, flavour| {
            match flavour {
                Flavour::Chat => out.extend_from_slice(
                    b"\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":",
                ),
                Flavour::Generate => out.extend_from_slice(b"\"response\":\"\",\"thinking\":"),
            }
            if new_part {
                write_json_str(out, &[MESSAGE_SEPARATOR, text].concat());
            } else {
                write_json_str(out, text);
            }
            if flavour == Flavour::Chat {
                out.push(b'}');
            }
        });
        self.last_summary = Some(part);
    }

    /// A complete function call, once (chat only: generate sends no tools).
    fn tool_call(&mut self, out: &mut Vec<u8>, item: &Value) {
        if self.flavour != Flavour::Chat {
            return;
        }
        let call_id = item
            .get("call_id")
            .or_else(|| item.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !call_id.is_empty() && self.calls.iter().any(|c| c == call_id) {
            return;
        }
        self.calls.push(call_id.to_owned());
        let call = tool_call(item).to_string();
        self.line(out, |out, _| {
            out.extend_from_slice(
                b"\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[",
            );
            out.extend_from_slice(call.as_bytes());
            out.extend_from_slice(b"]}");
        });
    }

    /// The final form of an output item: writes whatever its deltas did not.
    fn item_done(&mut self, out: &mut Vec<u8>, item: &Value, index: Option<u64>) {
        let item_ref = Item::of_item(item, index);
        if self.done_items.iter().any(|i| i.same(&item_ref)) {
            return;
        }
        self.done_items.push(item_ref.clone());
        match item.get("type").and_then(Value::as_str) {
            Some("message") if !self.streamed.contains(&item_ref) => {
                let (text, refusal) = message_text(item);
                let text = if text.is_empty() { refusal } else { text };
                self.text(out, item_ref, &text);
            }
            Some("reasoning") if !self.streamed.contains(&item_ref) => {
                let summary = reasoning_summary(item);
                self.thinking(out, (item_ref, 0), &summary);
            }
            Some("function_call") => self.tool_call(out, item),
            _ => {}
        }
    }

    /// Items only the terminal event carried, then the `done: true` line.
    fn finish(&mut self, out: &mut Vec<u8>, response: Option<&Value>) {
        let output = response
            .and_then(|r| r.get("output"))
            .and_then(Value::as_array);
        for (position, item) in output.into_iter().flatten().enumerate() {
            self.item_done(out, item, u64::try_from(position).ok());
        }
        self.done = true;
        let timing = self.clock.elapsed_ns().map(|total| {
            let first = self.first_output_ns.unwrap_or(total).min(total);
            Timing {
                total,
                prompt_eval: Some(first),
                eval: Some(total - first),
            }
        });
        let stats = stats(response.and_then(|r| r.get("usage")), timing);
        let reason = done_reason(response);
        out.extend_from_slice(&self.head);
        match self.flavour {
            Flavour::Chat => out.extend_from_slice(
                b"\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":",
            ),
            Flavour::Generate => {
                out.extend_from_slice(b"\"response\":\"\",\"done\":true,\"done_reason\":");
            }
        }
        write_json_str(out, reason);
        for (key, value) in stats {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(value.to_string().as_bytes());
        }
        out.extend_from_slice(b"}\n");
    }

    /// One `done: false` line; `body` writes the fields between the head and `done`.
    fn line(&mut self, out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>, Flavour)) {
        if self.first_output_ns.is_none() {
            self.first_output_ns = self.clock.elapsed_ns();
        }
        out.extend_from_slice(&self.head);
        body(out, self.flavour);
        out.extend_from_slice(b",\"done\":false}\n");
    }
}

impl<C: StreamClock> StreamTranslator for OllamaStream<C> {
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep {
        if self.done {
            return StreamStep::Finished;
        }
        if let Some(d) = event.text_delta() {
            let item = Item {
                id: d.item_id.as_deref().map(str::to_owned),
                index: d.output_index,
            };
            self.text(out.vec(), item, &d.delta);
            return StreamStep::Continue;
        }
        match event.json() {
            Some(value) => self.on_json(value, out.vec()),
            None => StreamStep::Continue,
        }
    }

    fn on_failure(&mut self, failure: &StreamFailure<'_>, out: &mut StreamOut) {
        self.done = true;
        out.vec().extend_from_slice(&error_line(failure.message));
    }

    fn content_type(&self) -> &'static str {
        NDJSON
    }
}

/// The `{"error":"…"}\n` line that ends a stream failing after its first line.
pub(crate) fn error_line(message: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(message.len() + 12);
    line.extend_from_slice(b"{\"error\":");
    write_json_str(&mut line, message);
    line.extend_from_slice(b"}\n");
    line
}
