//! The streaming half of the dialect seam: a [`StreamTranslator`] turns the
//! backend's events into one client API's stream bytes, one event at a time, and
//! writes that API's in-band error when the stream fails after its first byte.

use bytes::Bytes;

use crate::upstream::events::UpstreamEvent;

/// What one upstream event meant for the client's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStep {
    /// Keep going.
    Continue,
    /// The stream is complete and its ending was written. Later events are
    /// ignored and also return this.
    Finished,
    /// The upstream failed. Nothing was written for this event: before the first
    /// byte the relay answers with an HTTP error, after it the translator's
    /// [`StreamTranslator::on_failure`] writes the in-band error.
    Failed {
        /// The backend's error code, if it gave one.
        code: Option<String>,
        /// The backend's message.
        message: String,
    },
}

impl From<crate::upstream::events::Failure> for StreamStep {
    fn from(failure: crate::upstream::events::Failure) -> StreamStep {
        StreamStep::Failed {
            code: failure.code,
            message: failure.message,
        }
    }
}

/// A failure after the first byte, as the relay's error catalogue classified it.
#[derive(Debug, Clone, Copy)]
pub struct StreamFailure<'a> {
    /// The HTTP status the failure would have had before the first byte.
    pub status: u16,
    /// The OpenAI error type (`api_error`, `rate_limit_error`, …).
    pub kind: &'a str,
    /// The machine-readable code (`upstream_error`, `context_length_exceeded`, …).
    pub code: Option<&'a str>,
    /// What happened, for the user.
    pub message: &'a str,
}

/// Translates the backend's events of one response into client stream bytes.
pub trait StreamTranslator: Send {
    /// Feeds one upstream event, appending what it means for the client to `out`.
    fn on_event(&mut self, event: &UpstreamEvent, out: &mut StreamOut) -> StreamStep;

    /// Writes the dialect's in-band error for a stream that failed after its first
    /// byte (the stream ends after it).
    fn on_failure(&mut self, failure: &StreamFailure<'_>, out: &mut StreamOut);

    /// The `Content-Type` of the streamed answer.
    fn content_type(&self) -> &'static str {
        "text/event-stream; charset=utf-8"
    }
}

/// Bytes collected for one body chunk: one forwarded event's bytes are kept as
/// they are (no copy), anything more is joined into one buffer.
#[derive(Debug, Default)]
pub enum StreamOut {
    /// Nothing yet.
    #[default]
    Empty,
    /// One forwarded event, not copied.
    One(Bytes),
    /// Several events, or translated bytes.
    Many(Vec<u8>),
}

impl StreamOut {
    /// Bytes collected so far.
    pub fn len(&self) -> usize {
        match self {
            StreamOut::Empty => 0,
            StreamOut::One(b) => b.len(),
            StreamOut::Many(v) => v.len(),
        }
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes that are already whole (a forwarded event).
    pub fn push(&mut self, bytes: Bytes) {
        match self {
            StreamOut::Empty => *self = StreamOut::One(bytes),
            StreamOut::One(first) => {
                let mut v = Vec::with_capacity((first.len() + bytes.len()) * 4);
                v.extend_from_slice(first);
                v.extend_from_slice(&bytes);
                *self = StreamOut::Many(v);
            }
            StreamOut::Many(v) => v.extend_from_slice(&bytes),
        }
    }

    /// The buffer to write translated bytes into.
    pub fn vec(&mut self) -> &mut Vec<u8> {
        if let StreamOut::Many(v) = self {
            return v;
        }
        let v = match std::mem::take(self) {
            StreamOut::One(b) => b.to_vec(),
            _ => Vec::new(),
        };
        *self = StreamOut::Many(v);
        self.vec()
    }

    /// The collected bytes, `None` when there are none.
    pub fn into_bytes(self) -> Option<Bytes> {
        match self {
            StreamOut::Empty => None,
            StreamOut::One(b) => Some(b),
            StreamOut::Many(v) if v.is_empty() => None,
            StreamOut::Many(v) => Some(Bytes::from(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_is_kept_as_is_and_several_are_joined_in_order() {
        assert_eq!(StreamOut::Empty.into_bytes(), None);
        let one = Bytes::from_static(b"event: a\ndata: 1\n\n");
        let mut out = StreamOut::Empty;
        out.push(one.clone());
        assert_eq!(out.len(), one.len());
        let StreamOut::One(kept) = &out else {
            panic!("one event must not be copied")
        };
        assert_eq!(kept.as_ptr(), one.as_ptr());
        out.push(Bytes::from_static(b"event: b\ndata: 2\n\n"));
        out.vec().extend_from_slice(b"data: [DONE]\n\n");
        assert_eq!(
            out.into_bytes().unwrap(),
            Bytes::from_static(b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\ndata: [DONE]\n\n")
        );
        let mut empty = StreamOut::Empty;
        assert!(empty.vec().is_empty());
        assert!(empty.is_empty());
        assert_eq!(empty.into_bytes(), None);
    }
}
