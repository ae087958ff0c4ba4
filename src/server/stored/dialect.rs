//! The Responses dialect with a recorder: the request is the Responses
//! translation of the body [`super::prepare`] built, and the answer is the
//! backend's own, byte for byte; on the way, the finished response is handed
//! to the state store's writer *before* its terminal event is written to the
//! client, so the client's next turn always finds it.

use serde_json::{Map, Value, json};

use crate::state::{Record, StateStore, json_len, now_ms};
use crate::translate::dialect::{AnswerContext, Dialect, Prepared};
use crate::translate::responses::ResponsesStream;
use crate::translate::responses_response::ResponseAssembler;
use crate::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use crate::translate::{TranslateError, TranslateOptions, responses_request};
use crate::upstream::events::UpstreamEvent;

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
    fn record(self, mut response: Value) {
        let Value::Object(object) = &mut response else {
            return;
        };
        let status = match object.get("status").and_then(Value::as_str) {
            Some(s @ ("completed" | "incomplete")) => s.to_owned(),
            _ => return,
        };
        let Some(id) = object.get("id").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        let output = match object.shift_remove("output") {
            Some(Value::Array(o)) => o,
            _ => Vec::new(),
        };
        self.patch(object);
        let model = object
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let bytes =
            json_len(&response) + self.input.iter().chain(&output).map(json_len).sum::<u64>();
        let record = Record {
            seq: 0,
            root: self.root.unwrap_or_else(|| id.clone()),
            id,
            keep: self.keep,
            previous: self.previous,
            conversation: self.conversation,
            created_ms: now_ms(),
            model,
            status,
            input: self.input,
            output,
            object: response,
            bytes,
        };
        self.store.enqueue(record);
    }

    /// The fields OpenAI's Response object has for a stored response.
    fn patch(&self, o: &mut Map<String, Value>) {
        o.insert("store".into(), Value::Bool(self.keep));
        o.insert(
            "previous_response_id".into(),
            self.previous.clone().map_or(Value::Null, Value::from),
        );
        if let Some(c) = &self.conversation {
            o.insert("conversation".into(), json!({"id": c}));
        }
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
            recording: self.recorder.map(|r| (r, ResponseAssembler::new())),
        }
    }

    fn finish(self, mut response: Value, _answer: &AnswerContext) -> Value {
        if let Some(recorder) = self.recorder {
            if let Value::Object(o) = &mut response {
                recorder.patch(o);
            }
            recorder.record(response.clone());
        }
        response
    }
}

/// Forwards the backend's events unchanged and records the finished response.
pub(crate) struct StoredStream {
    inner: ResponsesStream,
    recording: Option<(Recorder, ResponseAssembler)>,
}

impl StreamTranslator for StoredStream {
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep {
        if let Some((_, assembler)) = &mut self.recording
            // The terminal event carries the whole Response object; the earlier
            // snapshots (created, in_progress) are not parsed for it.
            && let Some(
                kind @ ("response.output_item.done"
                | "response.completed"
                | "response.incomplete"),
            ) = event.kind()
            && let Some(value) = event.json_owned()
        {
            // Owned: the item and the Response object move into the record.
            assembler.on_owned(value);
            if matches!(kind, "response.completed" | "response.incomplete")
                && let Some((recorder, assembler)) = self.recording.take()
            {
                recorder.record(assembler.into_response());
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
