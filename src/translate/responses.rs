//! The Responses dialect (`POST /v1/responses`): the request is near
//! pass-through ([`responses_request`]), streamed answers are the backend's own
//! events forwarded byte for byte, and a non-streamed answer is the assembled
//! Response object as the backend built it.

use serde_json::{Value, json};

use super::dialect::{AnswerContext, Dialect, Prepared};
use super::responses_request;
use super::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use super::{TranslateError, TranslateOptions};
use crate::upstream::events::UpstreamEvent;

/// The Responses API.
#[derive(Debug)]
pub(crate) struct Responses;

impl Dialect for Responses {
    type Stream = ResponsesStream;
    type Context = ();

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        Ok(Prepared {
            upstream: responses_request::prepare(body, opts)?,
            dialect: Responses,
        })
    }

    fn stream(self, _answer: &AnswerContext) -> ResponsesStream {
        ResponsesStream::default()
    }

    fn finish(self, response: Value, _answer: &AnswerContext) -> Value {
        response
    }
}

/// Forwards the backend's events unchanged.
#[derive(Debug, Default)]
pub(crate) struct ResponsesStream {
    forwarded: u64,
}

impl StreamTranslator for ResponsesStream {
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep {
        self.forwarded += 1;
        out.push(event.raw().clone());
        if event.is_terminal() {
            StreamStep::Finished
        } else {
            StreamStep::Continue
        }
    }

    fn on_failure(&mut self, failure: &StreamFailure<'_>, out: &mut StreamOut) {
        let data = json!({
            "type": "error",
            "code": failure.code,
            "message": failure.message,
            "param": null,
            "sequence_number": self.forwarded,
        });
        out.vec()
            .extend_from_slice(format!("event: error\ndata: {data}\n\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::sse::SseEvent;
    use bytes::Bytes;

    fn event(name: &str, data: &str) -> UpstreamEvent {
        UpstreamEvent::new(SseEvent {
            event: Some(name.to_owned()),
            data: Bytes::from(data.to_owned()),
            raw: Bytes::from(format!("event: {name}\ndata: {data}\n\n")),
        })
    }

    #[test]
    fn events_pass_unchanged_and_the_terminal_one_finishes() {
        let mut t = ResponsesStream::default();
        let mut out = StreamOut::Empty;
        let delta = event("response.output_text.delta", r#"{"delta":"hi"}"#);
        assert_eq!(t.on_event(&delta, &mut out), StreamStep::Continue);
        let done = event("response.completed", r#"{"response":{}}"#);
        assert_eq!(t.on_event(&done, &mut out), StreamStep::Finished);
        let mut expected = delta.raw().to_vec();
        expected.extend_from_slice(done.raw());
        assert_eq!(out.into_bytes().unwrap(), Bytes::from(expected));
    }

    #[test]
    fn a_late_failure_is_an_error_event_with_the_sequence_number() {
        let mut t = ResponsesStream::default();
        let mut out = StreamOut::Empty;
        t.on_event(&event("response.created", "{}"), &mut out);
        let mut out = StreamOut::Empty;
        let failure = StreamFailure {
            status: 502,
            kind: "api_error",
            code: Some("stream_incomplete"),
            message: "cut",
        };
        t.on_failure(&failure, &mut out);
        let text = String::from_utf8(out.into_bytes().unwrap().to_vec()).unwrap();
        let data: Value =
            serde_json::from_str(text.strip_prefix("event: error\ndata: ").unwrap().trim())
                .unwrap();
        assert_eq!(data["code"], "stream_incomplete");
        assert_eq!(data["sequence_number"], 1);
    }
}
