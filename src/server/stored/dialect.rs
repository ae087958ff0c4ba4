//! The Responses dialect with a recorder: the request is the Responses
//! translation of the body [`super::prepare`] built, and the answer is the
//! backend's own, byte for byte; on the way, the finished response is handed
//! to the state store's writer *before* its terminal event is written to the
//! client, so the client's next turn always finds it.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::state::{Answer, Parts, Record, StateStore, Unparsed, json_len, now_ms};
use crate::translate::dialect::{AnswerContext, Dialect, Prepared};
use crate::translate::responses::ResponsesStream;
use crate::translate::responses_response::ResponseAssembler;
use crate::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use crate::translate::{TranslateError, TranslateOptions, responses_request};
use crate::upstream::events::{OUTPUT_ITEM_DONE, UpstreamEvent};

/// What a finished response is stored with.
pub(crate) struct Recorder {
    pub(crate) store: StateStore,
    /// Keep the response itself (`store` was not false).
    pub(crate) keep: bool,
    pub(crate) previous: Option<String>,
    /// The chain's first response, when chained.
    pub(crate) root: Option<String>,
    pub(crate) conversation: Option<String>,
    /// The new input items, each with an id.
    pub(crate) input: Vec<Value>,
}

impl Recorder {
    /// Hands a completed or incomplete response to the writer; a failed one is
    /// not kept and appends nothing. The response is taken apart, not copied.
    fn record(self, response: Value) {
        let Some(head) = response.as_object().and_then(Head::of_object) else {
            return;
        };
        let parts = self.patched().split(response);
        let bytes = json_len(&parts.object) + parts.output.iter().map(json_len).sum::<u64>();
        self.enqueue(head, Answer::parsed(parts), bytes);
    }

    /// [`Recorder::record`] for a streamed response, from the backend's JSON
    /// text of its finished items and terminal event: only the terminal
    /// event's id, status and model are read here; the rest is parsed off the
    /// answering path.
    fn record_streamed(self, items: Vec<Bytes>, terminal: Bytes) {
        let Ok(Terminal { response }) = serde_json::from_slice::<Terminal<'_>>(&terminal) else {
            return;
        };
        let Some(head) = Head::of_terminal(&response) else {
            return;
        };
        let bytes = (terminal.len() + items.iter().map(Bytes::len).sum::<usize>()) as u64;
        let text = Streamed {
            items,
            terminal,
            patch: self.patched(),
        };
        self.enqueue(head, Answer::unparsed(Box::new(text)), bytes);
    }

    fn enqueue(self, head: Head, answer: Answer, answer_bytes: u64) {
        let bytes = answer_bytes + self.input.iter().map(json_len).sum::<u64>();
        let record = Record {
            seq: 0,
            root: self.root.unwrap_or_else(|| head.id.clone()),
            id: head.id,
            keep: self.keep,
            previous: self.previous,
            conversation: self.conversation,
            created_ms: now_ms(),
            model: head.model,
            status: head.status,
            input: self.input,
            answer,
            bytes,
        };
        self.store.enqueue(record);
    }

    fn patched(&self) -> Patch {
        Patch {
            keep: self.keep,
            previous: self.previous.clone(),
            conversation: self.conversation.clone(),
        }
    }
}

/// The fields OpenAI's Response object has for a stored response.
#[derive(Debug)]
struct Patch {
    keep: bool,
    previous: Option<String>,
    conversation: Option<String>,
}

impl Patch {
    fn apply(&self, o: &mut Map<String, Value>) {
        o.insert("store".into(), Value::Bool(self.keep));
        o.insert(
            "previous_response_id".into(),
            self.previous.clone().map_or(Value::Null, Value::from),
        );
        if let Some(c) = &self.conversation {
            o.insert("conversation".into(), json!({"id": c}));
        }
    }

    /// The response's output taken out of it, and the rest patched.
    fn split(&self, mut response: Value) -> Parts {
        let Value::Object(object) = &mut response else {
            return Parts::default();
        };
        let output = match object.shift_remove("output") {
            Some(Value::Array(o)) => o,
            _ => Vec::new(),
        };
        self.apply(object);
        Parts {
            output,
            object: response,
        }
    }
}

/// What a record is indexed by, read from the Response object.
struct Head {
    id: String,
    /// `completed` or `incomplete`: other responses are not kept.
    status: String,
    model: String,
}

impl Head {
    fn of_object(o: &Map<String, Value>) -> Option<Head> {
        let text = |k: &str| o.get(k).and_then(Value::as_str);
        Head::new(text("id"), text("status"), text("model"))
    }

    fn of_terminal(r: &TerminalResponse<'_>) -> Option<Head> {
        Head::new(r.id.as_deref(), r.status.as_deref(), r.model.as_deref())
    }

    fn new(id: Option<&str>, status: Option<&str>, model: Option<&str>) -> Option<Head> {
        let status = status.filter(|s| matches!(*s, "completed" | "incomplete"))?;
        Some(Head {
            id: id?.to_owned(),
            status: status.to_owned(),
            model: model.unwrap_or_default().to_owned(),
        })
    }
}

/// A copy of an event's text for the record. Not a shared slice: the event's
/// bytes share the allocation of the whole upstream read they came in, which a
/// record waiting in the writer's queue would otherwise keep alive.
fn own(data: &Bytes) -> Bytes {
    Bytes::copy_from_slice(data)
}

/// A terminal event, read only for its response's [`Head`] (the rest is
/// skipped, not built).
#[derive(serde::Deserialize)]
struct Terminal<'a> {
    #[serde(borrow)]
    response: TerminalResponse<'a>,
}

#[derive(serde::Deserialize)]
struct TerminalResponse<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
}

/// A streamed response as the backend's JSON text: the `data:` of its
/// `response.output_item.done` events and of its terminal event.
#[derive(Debug)]
struct Streamed {
    items: Vec<Bytes>,
    terminal: Bytes,
    patch: Patch,
}

impl Unparsed for Streamed {
    fn parse(&self) -> Parts {
        let mut assembler = ResponseAssembler::new();
        for data in self.items.iter().chain([&self.terminal]) {
            if let Ok(event) = serde_json::from_slice(data) {
                assembler.on_owned(event);
            }
        }
        self.patch.split(assembler.into_response())
    }
}

/// The context [`super::prepare`] gives the dialect.
pub(crate) struct StoredContext {
    /// The Responses body, with the prefix and the expanded input.
    pub(crate) body: Map<String, Value>,
    /// `None` when nothing is kept.
    pub(crate) recorder: Option<Recorder>,
}

/// The Responses API with state.
pub(crate) struct Stored {
    recorder: Option<Recorder>,
}

impl Dialect for Stored {
    type Stream = StoredStream;
    type Context = StoredContext;

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        Ok(Prepared {
            upstream: responses_request::prepare(body, opts)?,
            dialect: Stored { recorder: None },
        })
    }

    fn prepare_in(
        _body: &[u8],
        opts: &TranslateOptions<'_>,
        context: StoredContext,
    ) -> Result<Prepared<Self>, TranslateError> {
        Ok(Prepared {
            upstream: responses_request::prepare_map(context.body, opts)?,
            dialect: Stored {
                recorder: context.recorder,
            },
        })
    }

    fn stream(self, _answer: &AnswerContext) -> StoredStream {
        StoredStream {
            inner: ResponsesStream::default(),
            recording: self.recorder.map(|r| (r, Vec::new())),
        }
    }

    fn finish(self, mut response: Value, _answer: &AnswerContext) -> Value {
        if let Some(recorder) = self.recorder {
            // The record patches its own copy; the client's gets the same fields.
            let patch = recorder.patched();
            recorder.record(response.clone());
            if let Value::Object(o) = &mut response {
                patch.apply(o);
            }
        }
        response
    }
}

/// Forwards the backend's events unchanged and records the finished response.
pub(crate) struct StoredStream {
    inner: ResponsesStream,
    /// The recorder and the `data:` of the finished items so far.
    recording: Option<(Recorder, Vec<Bytes>)>,
}

impl StreamTranslator for StoredStream {
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep {
        if let Some((_, items)) = &mut self.recording {
            // Only the text is kept here; the earlier snapshots (created,
            // in_progress) are not kept at all.
            match event.kind() {
                Some(OUTPUT_ITEM_DONE) => items.push(own(event.data())),
                Some("response.completed" | "response.incomplete") => {
                    if let Some((recorder, items)) = self.recording.take() {
                        recorder.record_streamed(items, own(event.data()));
                    }
                }
                _ => {}
            }
        }
        // The record is queued above, before the terminal event's bytes go out.
        self.inner.on_event(event, out)
    }

    fn on_failure(&mut self, failure: &StreamFailure<'_>, out: &mut StreamOut) {
        self.recording = None;
        self.inner.on_failure(failure, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::fixtures;

    /// A streamed record, kept as the text of its finished items and terminal
    /// event, parses into the same parts (and is indexed by the same head) as
    /// the response assembled from every event of the stream.
    #[test]
    fn a_streamed_record_parses_into_what_the_whole_stream_assembles() {
        let patch = || Patch {
            keep: true,
            previous: Some("resp_prev".into()),
            conversation: Some("conv_1".into()),
        };
        let mut checked = 0;
        for transcript in fixtures::TRANSCRIPTS {
            let events = fixtures::upstream_events(transcript);
            let Some(terminal) = events
                .iter()
                .find(|e| matches!(e.kind(), Some("response.completed" | "response.incomplete")))
            else {
                continue;
            };
            let mut assembler = ResponseAssembler::new();
            for event in events.iter().filter_map(UpstreamEvent::json) {
                assembler.on_event(event);
            }
            let whole = assembler.into_response();
            let streamed = Streamed {
                items: events
                    .iter()
                    .filter(|e| e.kind() == Some(OUTPUT_ITEM_DONE))
                    .map(|e| e.data().clone())
                    .collect(),
                terminal: terminal.data().clone(),
                patch: patch(),
            };
            let Terminal { response } = serde_json::from_slice(terminal.data()).unwrap();
            let head = |h: Head| (h.id, h.status, h.model);
            assert_eq!(
                Head::of_terminal(&response).map(head),
                whole.as_object().and_then(Head::of_object).map(head)
            );
            let (got, want) = (streamed.parse(), patch().split(whole));
            assert_eq!(want.object["store"], true);
            assert_eq!(want.object["conversation"]["id"], "conv_1");
            assert_eq!((got.output, got.object), (want.output, want.object));
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} transcripts end a response");
    }
}
