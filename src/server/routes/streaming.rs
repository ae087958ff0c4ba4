//! Streaming answers: upstream events forwarded as they arrive, either byte for
//! byte (`/v1/responses`) or through the chat translator
//! (`/v1/chat/completions`). A pump task reads the upstream stream; the client's
//! body holds the concurrency slot and the stream counter, and a client that
//! disconnects drops the body, which stops the pump at once — closing the upstream
//! request too.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response};
use http_body_util::BodyExt;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::server::body::Body;
use crate::server::error::ApiError;
use crate::server::guard::Pass;
use crate::server::relay::{
    OpenStream, in_band_kind, map_failure, map_upstream_error, parse_event,
};
use crate::server::{AppState, CountGuard, Counter};
use crate::translate::chat_stream::{ChatStreamTranslator, StreamStep, error_chunk};
use crate::translate::is_terminal;
use crate::translate::responses_response::{AssemblerStep, ResponseAssembler};
use crate::upstream::UpstreamError;
use crate::upstream::sse::SseEvent;

pub enum Mode {
    /// Re-emit upstream events unchanged (Responses API).
    Raw,
    /// Translate to `chat.completion.chunk` events.
    Chat(Box<ChatStreamTranslator>),
}

/// The upstream side of a relayed stream, run by [`pump`].
struct Relayed {
    open: OpenStream,
    mode: Mode,
    finished: bool,
    forwarded: u64,
}

impl Relayed {
    fn failure(&mut self, e: ApiError) -> Bytes {
        self.finished = true;
        tracing::warn!(
            code = e.code.as_deref().unwrap_or("-"),
            "stream failed after the first byte: {}",
            e.message
        );
        match &self.mode {
            Mode::Raw => {
                let data = json!({
                    "type": "error",
                    "code": e.code,
                    "message": e.message,
                    "param": null,
                    "sequence_number": self.forwarded,
                });
                Bytes::from(format!("event: error\ndata: {data}\n\n"))
            }
            Mode::Chat(_) => Bytes::from(error_chunk(&e.message, e.kind, e.code.as_deref())),
        }
    }

    /// The next body chunk: the first event to arrive, plus every event that is already
    /// here behind it (up to [`MAX_BATCH_BYTES`]), so a burst costs one write to the client
    /// instead of one per event. Nothing waits for a batch to fill.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let mut batch = Batch::Empty;
        loop {
            if self.finished || batch.len() >= MAX_BATCH_BYTES {
                return batch.into_bytes();
            }
            let (ev, parsed) = match self.open.head.pop_front() {
                Some(x) => x,
                None if batch.is_empty() => match self.open.rest.next_event().await {
                    Ok(Some(ev)) => (ev, None),
                    Ok(None) => return Some(self.failure(ApiError::incomplete_stream())),
                    Err(UpstreamError::Body(_)) => {
                        return Some(self.failure(ApiError::incomplete_stream()));
                    }
                    Err(e) => return Some(self.failure(map_upstream_error(e))),
                },
                None => match self.open.rest.next_ready() {
                    Some(ev) => (ev, None),
                    None => {
                        // The upstream body arrives through hyper one chunk at a time:
                        // let its connection task run once, so that the next event, when
                        // its bytes are already read, joins this chunk.
                        tokio::task::yield_now().await;
                        match self.open.rest.next_ready() {
                            Some(ev) => (ev, None),
                            None => return batch.into_bytes(),
                        }
                    }
                },
            };
            self.forwarded += 1;
            let parsed = parsed.or_else(|| {
                worth_parsing(&ev, &self.mode)
                    .then(|| parse_event(&ev))
                    .flatten()
            });
            if let Some(v) = &parsed {
                self.open.recent_items.observe_event(v);
            }
            match &mut self.mode {
                Mode::Raw => {
                    let terminal = match &ev.event {
                        Some(kind) => is_terminal(kind),
                        None => parsed
                            .as_ref()
                            .or(parse_event(&ev).as_ref())
                            .and_then(|v| v.get("type"))
                            .and_then(Value::as_str)
                            .is_some_and(is_terminal),
                    };
                    if terminal {
                        self.finished = true;
                        self.open.rest.release();
                    }
                    batch.push(ev.raw);
                }
                Mode::Chat(t) => {
                    let out = batch.vec();
                    let step = match (parsed, text_delta(&ev)) {
                        (None, Some(d)) => {
                            t.on_text_delta(d.item_id.as_deref(), d.output_index, &d.delta, out)
                        }
                        (parsed, _) => match parsed.or_else(|| parse_event(&ev)) {
                            Some(value) => t.on_event(&value, out),
                            None => continue,
                        },
                    };
                    match step {
                        StreamStep::Continue => {}
                        StreamStep::Finished => {
                            self.finished = true;
                            self.open.rest.release();
                        }
                        StreamStep::Failed { code, message } => {
                            self.finished = true;
                            self.open.rest.release();
                            let (kind, code) = in_band_kind(code.as_deref());
                            out.extend_from_slice(&error_chunk(&message, kind, Some(&code)));
                        }
                    }
                }
            }
        }
    }
}

/// Whether an event must be parsed: always for the chat translator; for raw
/// forwarding only when it may be an `output_item.done` (whose item is remembered).
fn worth_parsing(ev: &SseEvent, mode: &Mode) -> bool {
    match ev.event.as_deref() {
        None => true,
        Some(TEXT_DELTA) => false,
        Some(kind) => matches!(mode, Mode::Chat(_)) || kind == "response.output_item.done",
    }
}

const TEXT_DELTA: &str = "response.output_text.delta";

/// The fields of a `response.output_text.delta` event, borrowed from its bytes.
#[derive(serde::Deserialize)]
struct TextDelta<'a> {
    #[serde(borrow)]
    delta: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    item_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    output_index: Option<u64>,
}

/// Text deltas are most of a chat stream: read the three fields they need
/// without building a JSON tree (the chat translator's fast path).
fn text_delta(ev: &SseEvent) -> Option<TextDelta<'_>> {
    if ev.event.as_deref() != Some(TEXT_DELTA) {
        return None;
    }
    serde_json::from_slice(&ev.data).ok()
}

/// Largest body chunk built from events that were already here.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Events collected for one body chunk: one event's bytes are sent as they are (no copy),
/// several are joined.
enum Batch {
    Empty,
    One(Bytes),
    Many(Vec<u8>),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::Empty => 0,
            Batch::One(b) => b.len(),
            Batch::Many(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, bytes: Bytes) {
        match self {
            Batch::Empty => *self = Batch::One(bytes),
            Batch::One(first) => {
                let mut v = Vec::with_capacity((first.len() + bytes.len()) * 4);
                v.extend_from_slice(first);
                v.extend_from_slice(&bytes);
                *self = Batch::Many(v);
            }
            Batch::Many(v) => v.extend_from_slice(&bytes),
        }
    }

    fn vec(&mut self) -> &mut Vec<u8> {
        match self {
            Batch::Many(v) => v,
            _ => {
                let v = match std::mem::replace(self, Batch::Empty) {
                    Batch::One(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                *self = Batch::Many(v);
                self.vec()
            }
        }
    }

    fn into_bytes(self) -> Option<Bytes> {
        match self {
            Batch::Empty => None,
            Batch::One(b) => Some(b),
            Batch::Many(v) if v.is_empty() => None,
            Batch::Many(v) => Some(Bytes::from(v)),
        }
    }
}

/// Body chunks waiting between the pump and the client's connection.
const PUMP_CHUNKS: usize = 64;

/// Reads the upstream stream and hands chunks to the client's body as they come. Running
/// apart from the client's connection lets events that arrive while the connection is busy
/// writing go out together in its next write (hyper flushes whenever a body is pending, so
/// a body that read upstream itself would cost one write per event). Ends when the stream
/// ends or as soon as the client's body is dropped, which closes the upstream request.
async fn pump(mut relayed: Relayed, tx: mpsc::Sender<Bytes>) {
    loop {
        let next = tokio::select! {
            biased;
            _ = tx.closed() => return,
            next = relayed.next_chunk() => next,
        };
        let Some(chunk) = next else { return };
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
}

/// The client's side: takes every chunk the pump has ready and sends them as one frame.
/// Holds the client's concurrency slot and the stream counter until the client is done.
struct Forward {
    rx: mpsc::Receiver<Bytes>,
    _pass: Pass,
    _active: CountGuard,
}

impl http_body::Body for Forward {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let Some(first) = ready!(self.rx.poll_recv(cx)) else {
            return Poll::Ready(None);
        };
        let Ok(second) = self.rx.try_recv() else {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        };
        let mut joined = BytesMut::with_capacity((first.len() + second.len()) * 4);
        joined.extend_from_slice(&first);
        joined.extend_from_slice(&second);
        while joined.len() < MAX_BATCH_BYTES {
            match self.rx.try_recv() {
                Ok(more) => joined.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        Poll::Ready(Some(Ok(Frame::data(joined.freeze()))))
    }
}

/// A `200 text/event-stream` answer that relays `open` in `mode`.
pub fn respond(state: &Arc<AppState>, open: OpenStream, mode: Mode, pass: Pass) -> Response<Body> {
    let relayed = Relayed {
        open,
        mode,
        finished: false,
        forwarded: 0,
    };
    let (tx, rx) = mpsc::channel(PUMP_CHUNKS);
    tokio::spawn(pump(relayed, tx));
    let forward = Forward {
        rx,
        _pass: pass,
        _active: CountGuard::new(state, Counter::ActiveStreams),
    };
    let mut resp = Response::new(forward.boxed_unsync());
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// Reads the rest of an open stream for a non-streaming answer, feeding each
/// event to `on_event` until it returns `Some` (the outcome).
async fn drain<T>(
    mut open: OpenStream,
    mut on_event: impl FnMut(&Value) -> Option<Result<T, ApiError>>,
) -> Result<T, ApiError> {
    while let Some((ev, parsed)) = open.head.pop_front() {
        if let Some(v) = parsed.or_else(|| parse_event(&ev)) {
            open.recent_items.observe_event(&v);
            if let Some(done) = on_event(&v) {
                open.rest.release();
                return done;
            }
        }
    }
    loop {
        match open.rest.next_event().await {
            Ok(Some(ev)) => {
                if let Some(v) = parse_event(&ev) {
                    open.recent_items.observe_event(&v);
                    if let Some(done) = on_event(&v) {
                        open.rest.release();
                        return done;
                    }
                }
            }
            Ok(None) | Err(UpstreamError::Body(_)) => return Err(ApiError::incomplete_stream()),
            Err(e) => return Err(map_upstream_error(e)),
        }
    }
}

/// Reads a whole upstream answer into the final Response object (for clients
/// that did not ask for a stream). An incomplete response is still an answer;
/// a failed one is an error.
pub async fn assemble(open: OpenStream) -> Result<Value, ApiError> {
    let mut assembler = ResponseAssembler::new();
    drain(open, |event| match assembler.on_event(event) {
        AssemblerStep::Continue => None,
        AssemblerStep::Completed | AssemblerStep::Incomplete { .. } => Some(Ok(())),
        AssemblerStep::Failed { code, message } => {
            Some(Err(map_failure(code.as_deref(), &message)))
        }
    })
    .await?;
    Ok(assembler.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_one_event_as_is_and_joins_several_in_order() {
        assert_eq!(Batch::Empty.into_bytes(), None);
        let one = Bytes::from_static(b"event: a\ndata: 1\n\n");
        let mut batch = Batch::Empty;
        batch.push(one.clone());
        assert_eq!(batch.len(), one.len());
        let Batch::One(kept) = &batch else {
            panic!("one event must not be copied")
        };
        assert_eq!(kept.as_ptr(), one.as_ptr());
        batch.push(Bytes::from_static(b"event: b\ndata: 2\n\n"));
        batch.vec().extend_from_slice(b"data: [DONE]\n\n");
        assert_eq!(
            batch.into_bytes().unwrap(),
            Bytes::from_static(b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\ndata: [DONE]\n\n")
        );
        let mut empty = Batch::Empty;
        assert!(empty.vec().is_empty());
        assert!(empty.is_empty());
        assert_eq!(empty.into_bytes(), None);
    }
}
