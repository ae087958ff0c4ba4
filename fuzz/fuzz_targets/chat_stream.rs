//! Upstream SSE bytes → SSE reader → chat stream translator and the Responses
//! assembler: never a panic; every chat event written is `data: <JSON>` or
//! `data: [DONE]`; `[DONE]` comes once, last, and only after a finish.
#![no_main]

use airelays::translate::chat_response::ChatContext;
use airelays::translate::chat_stream::{ChatStreamTranslator, StreamStep, error_chunk};
use airelays::translate::responses_response::ResponseAssembler;
use airelays::upstream::sse::SseReader;
use libfuzzer_sys::fuzz_target;

fn check_chat_output(out: &[u8], finished: bool) {
    let text = std::str::from_utf8(out).expect("chat SSE is UTF-8");
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text:?}");
    for (i, ev) in events.iter().enumerate() {
        let data = ev
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("not a data event: {ev:?}"));
        assert!(!data.contains('\n'), "multi-line event: {ev:?}");
        if data == "[DONE]" {
            assert!(
                finished && i == events.len() - 1,
                "[DONE] not last: {text:?}"
            );
        } else {
            serde_json::from_str::<serde_json::Value>(data).expect("chunk is JSON");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, stream)) = data.split_first() else {
        return;
    };
    let ctx = ChatContext {
        id: "chatcmpl-fuzz".into(),
        created: 1_700_000_000,
        model: "gpt-5.5".into(),
        include_usage: flags & 1 != 0,
        reasoning_output: flags & 2 != 0,
    };
    let mut chat = ChatStreamTranslator::new(ctx);
    let mut assembler = ResponseAssembler::new();
    let mut reader = SseReader::new();
    let mut out = Vec::new();
    let mut finished = false;
    reader.push(stream);
    while let Ok(Some(ev)) = reader.next_event() {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&ev.data) else {
            continue;
        };
        let _ = assembler.on_event(&value);
        match chat.on_json(&value, &mut out) {
            StreamStep::Continue => {}
            StreamStep::Finished => finished = true,
            StreamStep::Failed { code, message } => {
                if !finished {
                    out.extend_from_slice(&error_chunk(
                        &message,
                        "upstream_error",
                        code.as_deref(),
                    ));
                    check_chat_output(&out, false);
                    return;
                }
            }
        }
    }
    check_chat_output(&out, finished);
    if finished {
        // Exactly one chunk carries a finish_reason (docs/architecture.md#chat-completions-answers).
        let text = String::from_utf8_lossy(&out);
        let reasons = text.matches("\"finish_reason\":\"").count();
        assert_eq!(reasons, 1, "{text}");
    }
    let _ = serde_json::to_vec(&assembler.into_response());
});
