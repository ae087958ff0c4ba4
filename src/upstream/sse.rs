//! Incremental Server-Sent Events reader.
//!
//! Works on whatever chunks the network delivers: an event may span many chunks
//! and a chunk may hold many events. Handles `\n`, `\r\n` and `\r` line endings,
//! multi-line `data:`, comments, and lines of any length (base64 images arrive as
//! one multi-megabyte line) — scanning resumes where it stopped, so a long line
//! costs O(n), not O(n²). Each event keeps its exact raw bytes so a pass-through
//! can forward it byte for byte.

use bytes::{Bytes, BytesMut};

/// Safety net against a broken upstream that never ends an event.
pub const MAX_EVENT_BYTES: usize = 256 * 1024 * 1024;

/// One server-sent event, with its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n` (zero-copy when there is one line).
    pub data: Bytes,
    /// The exact bytes of the event, including the blank line that ended it.
    pub raw: Bytes,
}

impl SseEvent {
    /// The event type: the `event:` field, else the `type` of the JSON data.
    pub fn event_type(&self) -> Option<String> {
        if let Some(e) = &self.event {
            return Some(e.clone());
        }
        #[derive(serde::Deserialize)]
        struct Typed {
            #[serde(rename = "type")]
            kind: String,
        }
        serde_json::from_slice::<Typed>(&self.data)
            .ok()
            .map(|t| t.kind)
    }
}

/// An event grew past the safety net of [`MAX_EVENT_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an upstream event exceeded {MAX_EVENT_BYTES} bytes")]
pub struct EventTooLarge;

/// Feed bytes with [`SseReader::push`], take events with [`SseReader::next_event`].
#[derive(Debug, Default)]
pub struct SseReader {
    buf: BytesMut,
    /// Where the next line starts inside `buf` (bytes before it belong to the
    /// event being assembled).
    line_start: usize,
    /// How far `buf` has been scanned for a line ending.
    scanned: usize,
    event: Option<String>,
    data: Vec<(usize, usize)>,
    /// A `\r` ended the previous line; a `\n` right after it is part of that ending.
    after_cr: bool,
    /// The block being assembled has at least one line (a field or a comment).
    has_lines: bool,
}

impl SseReader {
    /// A reader with nothing buffered.
    pub fn new() -> SseReader {
        SseReader::default()
    }

    /// Appends bytes as they arrive.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes held for an event not yet complete.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete event, if the buffered bytes contain one.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, EventTooLarge> {
        loop {
            if self.after_cr && self.scanned < self.buf.len() {
                if self.buf[self.scanned] == b'\n' {
                    self.scanned += 1;
                    self.line_start = self.scanned;
                }
                self.after_cr = false;
            }
            // memchr's vectorised search: SSE bodies are megabytes of long lines.
            let Some(offset) = memchr::memchr2(b'\n', b'\r', &self.buf[self.scanned..]) else {
                self.scanned = self.buf.len();
                if self.buf.len() > MAX_EVENT_BYTES {
                    return Err(EventTooLarge);
                }
                return Ok(None);
            };
            let line_end = self.scanned + offset;
            let ending = self.buf[line_end];
            self.scanned = line_end + 1;
            if ending == b'\r' {
                self.after_cr = true;
            }
            let start = self.line_start;
            self.line_start = self.scanned;
            if line_end == start {
                // Blank line: dispatch the block (comment-only blocks too, so a
                // pass-through forwards keep-alives), or skip stray blank lines.
                if !self.has_lines {
                    self.consume_prefix();
                    continue;
                }
                if self.after_cr {
                    // Include a following `\n` in this event's raw bytes when it's here.
                    if self.scanned < self.buf.len() && self.buf[self.scanned] == b'\n' {
                        self.scanned += 1;
                        self.line_start = self.scanned;
                    }
                    self.after_cr = false;
                }
                return Ok(Some(self.dispatch()));
            }
            self.has_lines = true;
            self.field(start, line_end);
        }
    }

    /// Drops bytes that belong to no event (blank lines between events).
    fn consume_prefix(&mut self) {
        let n = self.line_start;
        let _ = self.buf.split_to(n);
        self.scanned -= n;
        self.line_start = 0;
    }

    fn field(&mut self, start: usize, end: usize) {
        let line = &self.buf[start..end];
        if line.first() == Some(&b':') {
            return; // comment
        }
        let (name, value_start) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let mut v = start + colon + 1;
                if self.buf.get(v) == Some(&b' ') && v < end {
                    v += 1;
                }
                (&line[..colon], v)
            }
            None => (line, end),
        };
        match name {
            b"data" => self.data.push((value_start, end)),
            b"event" => {
                self.event =
                    Some(String::from_utf8_lossy(&self.buf[value_start..end]).into_owned());
            }
            _ => {} // id, retry and unknown fields are not used
        }
    }

    fn dispatch(&mut self) -> SseEvent {
        let end = self.line_start;
        let raw = self.buf.split_to(end).freeze();
        let data = match self.data.as_slice() {
            [] => Bytes::new(),
            [(s, e)] => raw.slice(*s..*e),
            many => {
                let mut joined = Vec::with_capacity(many.iter().map(|(s, e)| e - s + 1).sum());
                for (i, (s, e)) in many.iter().enumerate() {
                    if i > 0 {
                        joined.push(b'\n');
                    }
                    joined.extend_from_slice(&raw[*s..*e]);
                }
                Bytes::from(joined)
            }
        };
        self.scanned -= end;
        self.line_start = 0;
        self.data.clear();
        self.has_lines = false;
        SseEvent {
            event: self.event.take(),
            data,
            raw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_events(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut r = SseReader::new();
        let mut out = Vec::new();
        for c in chunks {
            r.push(c);
            while let Some(e) = r.next_event().unwrap() {
                out.push(e);
            }
        }
        out
    }

    #[test]
    fn basic_events_keep_raw_bytes() {
        let input = b"event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: x\ndata: 1\n\n";
        let ev = all_events(&[input]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].event.as_deref(), Some("response.created"));
        assert_eq!(&ev[0].data[..], br#"{"type":"response.created"}"#);
        assert_eq!(
            &ev[0].raw[..],
            &b"event: response.created\ndata: {\"type\":\"response.created\"}\n\n"[..]
        );
        let joined: Vec<u8> = ev.iter().flat_map(|e| e.raw.to_vec()).collect();
        assert_eq!(joined, input.to_vec());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let input: &[u8] = b": comment\r\nevent: a\r\ndata: line1\r\ndata: line2\r\n\r\ndata:{\"type\":\"b\"}\n\n\rdata: c\r\r";
        let whole = all_events(&[input]);
        assert_eq!(whole.len(), 3);
        assert_eq!(&whole[0].data[..], b"line1\nline2");
        assert_eq!(whole[1].event_type().as_deref(), Some("b"));
        assert_eq!(&whole[2].data[..], b"c");
        for split in 0..input.len() {
            let (a, b) = input.split_at(split);
            let parts = all_events(&[a, b]);
            let datas: Vec<_> = parts.iter().map(|e| e.data.clone()).collect();
            let want: Vec<_> = whole.iter().map(|e| e.data.clone()).collect();
            assert_eq!(datas, want, "split at {split}");
        }
        // Byte by byte.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(all_events(&bytes).len(), 3);
    }

    #[test]
    fn huge_line_in_small_chunks() {
        let payload = "A".repeat(5_000_000);
        let event = format!("event: big\ndata: {{\"delta\":\"{payload}\"}}\n\n");
        let chunks: Vec<&[u8]> = event.as_bytes().chunks(8192).collect();
        let ev = all_events(&chunks);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data.len(), payload.len() + 12);
    }

    #[test]
    fn data_without_space_and_unknown_fields() {
        let ev = all_events(&[b"id: 7\nretry: 10\ndata:x\nfoo: bar\ndata\n\n"]);
        assert_eq!(ev.len(), 1);
        assert_eq!(&ev[0].data[..], b"x\n");
    }

    #[test]
    fn comment_only_blocks_are_events_without_data() {
        let ev = all_events(&[b": keep-alive\n\n\n\ndata: 1\n\n"]);
        assert_eq!(ev.len(), 2);
        assert!(ev[0].data.is_empty() && ev[0].event.is_none());
        assert_eq!(&ev[0].raw[..], b": keep-alive\n\n");
        assert_eq!(&ev[1].data[..], b"1");
    }

    #[test]
    fn incomplete_event_is_held() {
        let mut r = SseReader::new();
        r.push(b"data: partial");
        assert_eq!(r.next_event().unwrap(), None);
        assert!(r.pending() > 0);
        r.push(b"\n\n");
        assert!(r.next_event().unwrap().is_some());
    }
}
