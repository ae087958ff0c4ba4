//! Streaming answers: upstream events forwarded as they arrive, either byte for
//! byte (`/v1/responses`) or through the chat translator
//! (`/v1/chat/completions`). The body owns the upstream stream, the client's
//! concurrency slot and the stream counters, so a client that disconnects drops
//! all of them at once — which closes the upstream request too.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response};
use serde_json::{Value, json};

use crate::server::body::{self, Body};
use crate::server::error::ApiError;
use crate::server::guard::Pass;
use crate::server::relay::{
    OpenStream, in_band_kind, map_failure, map_upstream_error, parse_event,
};
use crate::server::{AppState, CountGuard};
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

struct Relayed {
    open: OpenStream,
    mode: Mode,
    finished: bool,
    forwarded: u64,
    _pass: Pass,
    _active: CountGuard,
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

    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.finished {
                return None;
            }
            let (ev, parsed) = match self.open.head.pop_front() {
                Some(x) => x,
                None => match self.open.rest.next_event().await {
                    Ok(Some(ev)) => (ev, None),
                    Ok(None) => return Some(self.failure(ApiError::incomplete_stream())),
                    Err(UpstreamError::Body(_)) => {
                        return Some(self.failure(ApiError::incomplete_stream()));
                    }
                    Err(e) => return Some(self.failure(map_upstream_error(e))),
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
                    let kind = match &ev.event {
                        Some(k) => Some(k.clone()),
                        None => parsed
                            .as_ref()
                            .or(parse_event(&ev).as_ref())
                            .and_then(|v| v.get("type"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    };
                    if kind.as_deref().is_some_and(is_terminal) {
                        self.finished = true;
                    }
                    return Some(ev.raw);
                }
                Mode::Chat(t) => {
                    let Some(value) = parsed.or_else(|| parse_event(&ev)) else {
                        continue;
                    };
                    let mut out = Vec::new();
                    match t.on_event(&value, &mut out) {
                        StreamStep::Continue if out.is_empty() => continue,
                        StreamStep::Continue => return Some(Bytes::from(out)),
                        StreamStep::Finished => {
                            self.finished = true;
                            return Some(Bytes::from(out));
                        }
                        StreamStep::Failed { code, message } => {
                            self.finished = true;
                            let (kind, code) = in_band_kind(code.as_deref());
                            out.extend_from_slice(&error_chunk(&message, kind, Some(&code)));
                            return Some(Bytes::from(out));
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
    matches!(mode, Mode::Chat(_))
        || ev
            .event
            .as_deref()
            .is_none_or(|k| k == "response.output_item.done")
}

/// A `200 text/event-stream` answer that relays `open` in `mode`.
pub fn respond(state: &Arc<AppState>, open: OpenStream, mode: Mode, pass: Pass) -> Response<Body> {
    let relayed = Relayed {
        open,
        mode,
        finished: false,
        forwarded: 0,
        _pass: pass,
        _active: CountGuard::new(state, "active_streams"),
    };
    let stream = futures_util::stream::unfold(relayed, |mut r| async move {
        r.next_chunk()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), r))
    });
    let mut resp = Response::new(body::stream(stream));
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
