//! The streamed `text/event-stream` answer of `/responses`: a producer task writes one event at
//! a time into a small channel, and [`SseBody`] hands each event to hyper as its own chunk, so
//! long answers are never buffered whole and a slow reader applies back-pressure.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::reply::Body;
use crate::script::{Answer, ToolCall, long_text};
use crate::state::MockState;
use crate::tokens::{random_b64url, random_hex};

/// Events buffered between the producer and the connection.
const CHANNEL_EVENTS: usize = 16;
/// Delta size for long texts.
const DELTA_BYTES: usize = 100;

/// Faults that happen inside a 200 stream.
#[derive(Clone, Debug)]
pub(crate) enum StreamFault {
    Failed { code: String, message: String },
    Incomplete { reason: String },
    Cut,
    StallAfterFirstEvent(Duration),
    Malformed,
    HugeLine(usize),
}

/// Everything the producer needs to write one stream.
pub(crate) struct StreamSpec {
    pub model: String,
    pub reasoning: bool,
    pub answer: Answer,
    pub fault: Option<StreamFault>,
    /// Reported as `usage.input_tokens`.
    pub input_tokens: u64,
    /// Written into the reasoning item's `encrypted_content` after `gAAAAB`, so the
    /// mock can tell which account issued it (only with the foreign-content knob on).
    pub encrypted_owner: Option<String>,
}

enum Chunk {
    Data(Bytes),
    /// Abort the body so the chunked response never terminates.
    Cut,
}

/// Counts itself in `active_streams` for as long as it lives.
struct ActiveStream(Arc<MockState>);

impl ActiveStream {
    fn new(state: &Arc<MockState>) -> ActiveStream {
        state.counters.active_streams.fetch_add(1, Ordering::SeqCst);
        ActiveStream(Arc::clone(state))
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0
            .counters
            .active_streams
            .fetch_sub(1, Ordering::SeqCst);
    }
}

/// The response body of a stream. hyper drops it when the client goes away, which closes the
/// channel, stops the producer and decrements `active_streams`.
struct SseBody {
    rx: mpsc::Receiver<Chunk>,
    cutting: bool,
    _active: ActiveStream,
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.cutting {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the mock cut the stream on purpose",
            ))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Chunk::Data(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Poll::Ready(Some(Chunk::Cut)) => {
                // Answer Pending once so hyper flushes what it already has, then fail.
                self.cutting = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Starts the producer and returns the body that streams its events.
pub(crate) fn stream(state: &Arc<MockState>, spec: StreamSpec) -> Body {
    let (tx, rx) = mpsc::channel(CHANNEL_EVENTS);
    let active = ActiveStream::new(state);
    tokio::spawn(async move {
        let mut sink = EventSink { tx, sequence: 0 };
        // An error only means the client went away.
        let _ = write_stream(&mut sink, spec).await;
    });
    SseBody {
        rx,
        cutting: false,
        _active: active,
    }
    .boxed()
}

/// The client went away.
struct Closed;

struct EventSink {
    tx: mpsc::Sender<Chunk>,
    sequence: u64,
}

impl EventSink {
    /// Sends `event: <ty>` with `data: {"type":<ty>,"sequence_number":n, …fields}`.
    async fn event(&mut self, ty: &str, fields: Value) -> Result<(), Closed> {
        let mut data = Map::new();
        data.insert("type".into(), json!(ty));
        data.insert("sequence_number".into(), json!(self.sequence));
        self.sequence += 1;
        if let Value::Object(fields) = fields {
            data.extend(fields);
        }
        self.raw(format!("event: {ty}\ndata: {}\n\n", Value::Object(data)))
            .await
    }

    async fn raw(&mut self, text: String) -> Result<(), Closed> {
        self.tx
            .send(Chunk::Data(Bytes::from(text)))
            .await
            .map_err(|_| Closed)
    }

    /// Waits, but gives up as soon as the client is gone.
    async fn pause(&self, duration: Duration) -> Result<(), Closed> {
        tokio::select! {
            _ = tokio::time::sleep(duration) => Ok(()),
            _ = self.tx.closed() => Err(Closed),
        }
    }

    async fn cut(&self) {
        let _ = self.tx.send(Chunk::Cut).await;
    }
}

/// Splits `text` into pieces of at most `max` bytes on char boundaries (at least one char
/// each).
fn split_deltas(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = max.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Short texts come in two deltas (as upstream tends to), longer ones in 100-byte deltas.
fn default_deltas(text: &str) -> Vec<&str> {
    if text.len() > DELTA_BYTES || text.chars().count() < 2 {
        return split_deltas(text, DELTA_BYTES);
    }
    let mut middle = text.len() / 2;
    while !text.is_char_boundary(middle) {
        middle += 1;
    }
    let (a, b) = text.split_at(middle);
    vec![a, b]
}

fn output_text_part(text: &str) -> Value {
    json!({ "type": "output_text", "annotations": [], "logprobs": [], "text": text })
}

/// Streams one assistant message; returns its final item.
async fn message(
    sink: &mut EventSink,
    output_index: usize,
    text: &str,
    deltas: Vec<&str>,
    status: &str,
) -> Result<Value, Closed> {
    let id = format!("msg_{}", random_hex(16));
    sink.event(
        "response.output_item.added",
        json!({
            "output_index": output_index,
            "item": {"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"},
        }),
    )
    .await?;
    let at = json!({ "item_id": id, "output_index": output_index, "content_index": 0 });
    let with = |extra: Value| {
        let mut fields = at.clone();
        if let (Some(f), Value::Object(extra)) = (fields.as_object_mut(), extra) {
            f.extend(extra);
        }
        fields
    };
    sink.event(
        "response.content_part.added",
        with(json!({ "part": output_text_part("") })),
    )
    .await?;
    for delta in deltas {
        sink.event(
            "response.output_text.delta",
            with(json!({ "delta": delta, "logprobs": [] })),
        )
        .await?;
    }
    sink.event(
        "response.output_text.done",
        with(json!({ "text": text, "logprobs": [] })),
    )
    .await?;
    sink.event(
        "response.content_part.done",
        with(json!({ "part": output_text_part(text) })),
    )
    .await?;
    let item = json!({
        "id": id,
        "type": "message",
        "status": status,
        "content": [output_text_part(text)],
        "role": "assistant",
        "phase": "final_answer",
    });
    sink.event(
        "response.output_item.done",
        json!({ "output_index": output_index, "item": item }),
    )
    .await?;
    Ok(item)
}

const SUMMARY_PIECES: [&str; 2] = [
    "**Thinking it over**",
    "\n\nThe mock considered the request.",
];

/// Streams a reasoning item with a one-part summary; returns its final item.
async fn reasoning(
    sink: &mut EventSink,
    output_index: usize,
    owner: Option<&str>,
) -> Result<Value, Closed> {
    let id = format!("rs_{}", random_hex(16));
    let summary: String = SUMMARY_PIECES.concat();
    sink.event(
        "response.output_item.added",
        json!({ "output_index": output_index, "item": {"id": id, "type": "reasoning", "summary": []} }),
    )
    .await?;
    let at = json!({ "item_id": id, "output_index": output_index, "summary_index": 0 });
    let with = |key: &str, value: Value| {
        let mut fields = at.clone();
        if let Some(f) = fields.as_object_mut() {
            f.insert(key.to_owned(), value);
        }
        fields
    };
    sink.event(
        "response.reasoning_summary_part.added",
        with("part", json!({"type": "summary_text", "text": ""})),
    )
    .await?;
    for piece in SUMMARY_PIECES {
        sink.event(
            "response.reasoning_summary_text.delta",
            with("delta", json!(piece)),
        )
        .await?;
    }
    sink.event(
        "response.reasoning_summary_text.done",
        with("text", json!(summary)),
    )
    .await?;
    sink.event(
        "response.reasoning_summary_part.done",
        with("part", json!({"type": "summary_text", "text": summary})),
    )
    .await?;
    let item = json!({
        "id": id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}],
        "encrypted_content": format!("gAAAAB{}{}", owner.unwrap_or(""), random_b64url(48)),
    });
    sink.event(
        "response.output_item.done",
        json!({ "output_index": output_index, "item": item }),
    )
    .await?;
    Ok(item)
}

/// Halves of a string on a char boundary (for two argument deltas).
fn halves(s: &str) -> (&str, &str) {
    let mut middle = s.len() / 2;
    while !s.is_char_boundary(middle) {
        middle += 1;
    }
    s.split_at(middle)
}

/// Streams a function call (docs/upstream.md#sse-events-and-their-order); returns its final item.
async fn function_call(
    sink: &mut EventSink,
    output_index: usize,
    call: &ToolCall,
) -> Result<Value, Closed> {
    let id = format!("fc_{}", random_hex(16));
    let call_id = format!("call_{}", random_b64url(18));
    sink.event(
        "response.output_item.added",
        json!({
            "output_index": output_index,
            "item": {"id": id, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call_id, "name": call.name},
        }),
    )
    .await?;
    let (first, second) = halves(&call.arguments);
    for delta in [first, second] {
        sink.event(
            "response.function_call_arguments.delta",
            json!({ "item_id": id, "output_index": output_index, "delta": delta }),
        )
        .await?;
    }
    sink.event(
        "response.function_call_arguments.done",
        json!({ "item_id": id, "output_index": output_index, "arguments": call.arguments }),
    )
    .await?;
    let item = json!({
        "id": id, "type": "function_call", "status": "completed",
        "arguments": call.arguments, "call_id": call_id, "name": call.name,
    });
    sink.event(
        "response.output_item.done",
        json!({ "output_index": output_index, "item": item }),
    )
    .await?;
    Ok(item)
}

/// Streams a freeform (custom) tool call; returns its final item.
async fn custom_tool_call(
    sink: &mut EventSink,
    output_index: usize,
    name: &str,
    input: &str,
) -> Result<Value, Closed> {
    let id = format!("ctc_{}", random_hex(16));
    let call_id = format!("call_{}", random_b64url(18));
    sink.event(
        "response.output_item.added",
        json!({
            "output_index": output_index,
            "item": {"id": id, "type": "custom_tool_call", "status": "in_progress", "call_id": call_id, "name": name, "input": ""},
        }),
    )
    .await?;
    let (first, second) = halves(input);
    for delta in [first, second] {
        sink.event(
            "response.custom_tool_call_input.delta",
            json!({ "item_id": id, "output_index": output_index, "delta": delta }),
        )
        .await?;
    }
    sink.event(
        "response.custom_tool_call_input.done",
        json!({ "item_id": id, "output_index": output_index, "input": input }),
    )
    .await?;
    let item = json!({
        "id": id, "type": "custom_tool_call", "status": "completed",
        "call_id": call_id, "name": name, "input": input,
    });
    sink.event(
        "response.output_item.done",
        json!({ "output_index": output_index, "item": item }),
    )
    .await?;
    Ok(item)
}

struct ResponseMeta {
    id: String,
    created_at: u64,
    model: String,
}

impl ResponseMeta {
    fn object(&self, status: &str, output: Vec<Value>) -> Value {
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "store": false,
            "tool_choice": "auto",
            "usage": null,
            "error": null,
            "incomplete_details": null,
        })
    }
}

fn usage(input_tokens: u64, output_bytes: usize, reasoning_tokens: u64) -> Value {
    let output_tokens = (output_bytes as u64).div_ceil(4).max(1) + reasoning_tokens;
    json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    })
}

async fn write_stream(sink: &mut EventSink, spec: StreamSpec) -> Result<(), Closed> {
    let meta = ResponseMeta {
        id: format!("resp_{}", random_hex(16)),
        created_at: crate::tokens::unix_now(),
        model: spec.model,
    };
    sink.event(
        "response.created",
        json!({ "response": meta.object("in_progress", vec![]) }),
    )
    .await?;
    match &spec.fault {
        Some(StreamFault::Failed { code, message }) => {
            let mut response = meta.object("failed", vec![]);
            response["error"] = json!({ "code": code, "message": message });
            return sink
                .event("response.failed", json!({ "response": response }))
                .await;
        }
        Some(StreamFault::StallAfterFirstEvent(duration)) => sink.pause(*duration).await?,
        Some(StreamFault::Malformed) => {
            sink.raw("event: response.output_text.delta\ndata: {this is not json\n\n".to_owned())
                .await?;
            sink.raw("data: not json at all\n\n".to_owned()).await?;
        }
        _ => {}
    }
    sink.event(
        "response.in_progress",
        json!({ "response": {"id": meta.id, "object": "response", "status": "in_progress", "output": []} }),
    )
    .await?;

    match &spec.fault {
        Some(StreamFault::Cut) => {
            let id = format!("msg_{}", random_hex(16));
            sink.event(
                "response.output_item.added",
                json!({ "output_index": 0, "item": {"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"} }),
            )
            .await?;
            sink.event(
                "response.content_part.added",
                json!({ "item_id": id, "output_index": 0, "content_index": 0, "part": output_text_part("") }),
            )
            .await?;
            sink.event(
                "response.output_text.delta",
                json!({ "item_id": id, "output_index": 0, "content_index": 0, "delta": "po", "logprobs": [] }),
            )
            .await?;
            sink.cut().await;
            return Ok(());
        }
        Some(StreamFault::Incomplete { reason }) => {
            let text = "This answer stops early";
            let item = message(sink, 0, text, default_deltas(text), "incomplete").await?;
            let mut response = meta.object("incomplete", vec![item]);
            response["incomplete_details"] = json!({ "reason": reason });
            response["usage"] = usage(spec.input_tokens, text.len(), 0);
            return sink
                .event("response.incomplete", json!({ "response": response }))
                .await;
        }
        _ => {}
    }

    let mut output = Vec::new();
    let mut output_bytes = 0;
    let mut reasoning_tokens = 0;
    if spec.reasoning {
        output.push(reasoning(sink, output.len(), spec.encrypted_owner.as_deref()).await?);
        reasoning_tokens = 16;
    }
    let answer = match spec.fault {
        Some(StreamFault::HugeLine(bytes)) => Answer::Long(bytes),
        _ => spec.answer,
    };
    match &answer {
        Answer::Text(text) => {
            output_bytes = text.len();
            output
                .push(message(sink, output.len(), text, default_deltas(text), "completed").await?);
        }
        Answer::Long(n) => {
            let text = long_text(*n);
            output_bytes = text.len();
            let deltas = if matches!(spec.fault, Some(StreamFault::HugeLine(_))) {
                vec![text.as_str()]
            } else {
                split_deltas(&text, DELTA_BYTES)
            };
            output.push(message(sink, output.len(), &text, deltas, "completed").await?);
        }
        Answer::FunctionCalls(calls) => {
            for call in calls {
                output_bytes += call.arguments.len();
                output.push(function_call(sink, output.len(), call).await?);
            }
        }
        Answer::CustomToolCall { name, input } => {
            output_bytes = input.len();
            output.push(custom_tool_call(sink, output.len(), name, input).await?);
        }
    }
    let mut response = meta.object("completed", output);
    response["usage"] = usage(spec.input_tokens, output_bytes, reasoning_tokens);
    sink.event("response.completed", json!({ "response": response }))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_cover_the_text_on_char_boundaries() {
        assert_eq!(default_deltas("pong"), ["po", "ng"]);
        assert_eq!(default_deltas("é"), ["é"]);
        assert_eq!(default_deltas("aé"), ["a", "é"]);
        let long = "ü".repeat(120);
        let pieces = split_deltas(&long, 100);
        assert_eq!(pieces.concat(), long);
        assert!(pieces.iter().all(|p| p.len() <= 101));
        assert!(default_deltas("").is_empty());
    }
}
