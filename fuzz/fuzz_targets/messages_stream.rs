//! Upstream SSE bytes → SSE reader → the Anthropic Messages stream translator:
//! never a panic; every event is `event: <name>` + one-line JSON `data:` whose
//! `type` is the name; one `message_start` first; at most one `message_stop`,
//! last, and only when the stream finished; blocks open in index order, never
//! overlap, and every `content_block_start` is closed when the stream finished;
//! deltas fit their block, and a signature ends its thinking block.
#![no_main]

use airelays::translate::messages::MessagesStream;
use airelays::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};
use airelays::upstream::events::UpstreamEvent;
use airelays::upstream::sse::SseReader;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The state of the grammar check.
#[derive(Default)]
struct Grammar {
    events: usize,
    open: Option<(u64, String)>,
    next: u64,
    signed: bool,
    delta_seen: bool,
    stopped: bool,
    errored: bool,
}

impl Grammar {
    fn event(&mut self, name: &str, data: &Value) {
        assert!(!self.stopped && !self.errored, "event after the end: {name}");
        assert_eq!(data["type"].as_str(), Some(name));
        self.events += 1;
        if name == "message_start" {
            assert_eq!(self.events, 1, "message_start not first");
        } else if name != "error" {
            assert!(self.events > 1, "{name} before message_start");
        }
        let index = data["index"].as_u64();
        match name {
            "message_start" | "ping" => {}
            "content_block_start" => {
                assert!(self.open.is_none(), "overlapping blocks");
                assert_eq!(index, Some(self.next), "block index out of order");
                let kind = data["content_block"]["type"].as_str().unwrap_or_default();
                self.open = Some((self.next, kind.to_owned()));
                self.next += 1;
                self.signed = false;
            }
            "content_block_delta" => {
                let (open, kind) = self.open.clone().expect("a delta outside a block");
                assert_eq!(index, Some(open));
                let delta = data["delta"]["type"].as_str().unwrap_or_default();
                let fits = match delta {
                    "text_delta" => kind == "text",
                    "thinking_delta" => kind == "thinking" && !self.signed,
                    "signature_delta" => kind == "thinking",
                    "input_json_delta" => kind == "tool_use",
                    _ => false,
                };
                assert!(fits, "{delta} in a {kind} block");
                self.signed |= delta == "signature_delta";
            }
            "content_block_stop" => {
                let (open, _) = self.open.take().expect("a stop outside a block");
                assert_eq!(index, Some(open));
            }
            "message_delta" => {
                assert!(self.open.is_none() && !self.delta_seen);
                self.delta_seen = true;
                assert!(data["delta"]["stop_reason"].is_string());
                assert!(data["usage"]["output_tokens"].is_u64());
            }
            "message_stop" => {
                assert!(self.delta_seen);
                self.stopped = true;
            }
            "error" => self.errored = true,
            other => panic!("unknown event {other}"),
        }
    }
}

fn check(out: &[u8], grammar: &mut Grammar) {
    let text = std::str::from_utf8(out).expect("SSE is UTF-8");
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text:?}");
    for event in text.split_terminator("\n\n") {
        let (name, data) = event
            .strip_prefix("event: ")
            .and_then(|e| e.split_once("\ndata: "))
            .unwrap_or_else(|| panic!("bad framing: {event:?}"));
        assert!(!data.contains('\n'), "multi-line data: {event:?}");
        let value: Value = serde_json::from_str(data).expect("data is JSON");
        grammar.event(name, &value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, stream)) = data.split_first() else {
        return;
    };
    let mut translator = MessagesStream::new(
        "msg_fuzz".into(),
        "claude-sonnet-4-5",
        "default".into(),
        flags & 1 != 0,
        7,
    );
    let mut reader = SseReader::new();
    let mut grammar = Grammar::default();
    let mut finished = false;
    reader.push(stream);
    while let Ok(Some(sse)) = reader.next_event() {
        let event = UpstreamEvent::new(sse);
        let mut out = StreamOut::Empty;
        let step = translator.on_event(&event, &mut out);
        check(&out.into_bytes().unwrap_or_default(), &mut grammar);
        match step {
            StreamStep::Continue => {}
            StreamStep::Finished => finished = true,
            StreamStep::Failed { message, .. } => {
                assert!(!finished);
                let mut out = StreamOut::Empty;
                let failure = StreamFailure {
                    status: if flags & 2 != 0 { 529 } else { 502 },
                    kind: "upstream_error",
                    code: None,
                    message: &message,
                };
                translator.on_failure(&failure, &mut out);
                check(&out.into_bytes().unwrap_or_default(), &mut grammar);
                assert!(grammar.errored);
                return;
            }
        }
    }
    if finished {
        assert!(grammar.stopped, "a finished stream ends with message_stop");
        assert!(grammar.open.is_none(), "a block left open");
    } else {
        assert!(!grammar.stopped, "message_stop without a finish");
    }
});
