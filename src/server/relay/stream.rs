//! Streamed answers: upstream events go through the dialect's
//! [`StreamTranslator`] as they arrive. A pump task reads the upstream stream;
//! the client's body holds the concurrency slot and the stream counter, and a
//! client that disconnects drops the body, which stops the pump at once —
//! closing the upstream request too.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response};
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::failure::{in_band, late_failure, map_upstream_error};
use super::open::OpenStream;
use crate::server::body::Body;
use crate::server::error::ApiError;
use crate::server::guard::Pass;
use crate::server::{AppState, CountGuard, Counter};
use crate::translate::stream::{StreamOut, StreamStep, StreamTranslator};
use crate::upstream::UpstreamError;
use crate::upstream::events::UpstreamEvent;

/// Largest body chunk built from events that were already here.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Body chunks waiting between the pump and the client's connection.
const PUMP_CHUNKS: usize = 64;

/// The upstream side of a relayed stream, run by [`pump`].
struct Relayed<T> {
    open: OpenStream,
    translator: T,
    finished: bool,
}

impl<T: StreamTranslator> Relayed<T> {
    /// Ends the stream with the dialect's in-band error.
    fn fail(&mut self, e: &ApiError, out: &mut StreamOut) {
        self.finished = true;
        self.open.rest.release();
        tracing::warn!(
            code = e.code.as_deref().unwrap_or("-"),
            "stream failed after the first byte: {}",
            e.message
        );
        self.translator.on_failure(&in_band(e), out);
    }

    /// The next event: one already read, else one from the stream if the batch is
    /// still empty (waiting for it), else one that is already here. `Err` is a
    /// failure that ends the stream.
    async fn next_event(&mut self, batch_empty: bool) -> Result<Option<UpstreamEvent>, ApiError> {
        if batch_empty {
            return match self.open.next_event().await {
                Ok(Some(ev)) => Ok(Some(ev)),
                Ok(None) | Err(UpstreamError::Body(_)) => Err(ApiError::incomplete_stream()),
                Err(e) => Err(map_upstream_error(e)),
            };
        }
        if let Some(ev) = self.open.next_ready() {
            return Ok(Some(ev));
        }
        // The upstream body arrives through hyper one chunk at a time: let its
        // connection task run once, so that the next event, when its bytes are
        // already read, joins this chunk.
        tokio::task::yield_now().await;
        Ok(self.open.next_ready())
    }

    /// The next body chunk: the first event to arrive, plus every event that is
    /// already here behind it (up to [`MAX_BATCH_BYTES`]), so a burst costs one
    /// write to the client instead of one per event. Nothing waits for a batch
    /// to fill.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let mut out = StreamOut::Empty;
        while !self.finished && out.len() < MAX_BATCH_BYTES {
            let event = match self.next_event(out.is_empty()).await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => {
                    self.fail(&e, &mut out);
                    break;
                }
            };
            self.open.observe(&event);
            match self.translator.on_event(&event, &mut out) {
                StreamStep::Continue => {}
                StreamStep::Finished => {
                    self.finished = true;
                    self.open.rest.release();
                }
                StreamStep::Failed { code, message } => {
                    self.fail(&late_failure(code, message), &mut out);
                }
            }
        }
        out.into_bytes()
    }
}

/// Reads the upstream stream and hands chunks to the client's body as they come.
/// Running apart from the client's connection lets events that arrive while the
/// connection is busy writing go out together in its next write (hyper flushes
/// whenever a body is pending, so a body that read upstream itself would cost one
/// write per event). Ends when the stream ends or as soon as the client's body is
/// dropped, which closes the upstream request.
async fn pump<T: StreamTranslator>(mut relayed: Relayed<T>, tx: mpsc::Sender<Bytes>) {
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

/// The client's side: takes every chunk the pump has ready and sends them as one
/// frame. Holds the client's concurrency slot and the stream counter until the
/// client is done.
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

/// A `200` streamed answer that relays `open` through `translator`.
pub(crate) fn respond<T: StreamTranslator + 'static>(
    state: &Arc<AppState>,
    open: OpenStream,
    translator: T,
    pass: Pass,
) -> Response<Body> {
    let content_type = translator.content_type();
    let relayed = Relayed {
        open,
        translator,
        finished: false,
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
        HeaderValue::from_static(content_type),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
