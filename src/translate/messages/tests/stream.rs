//! The Anthropic stream grammar, driven by the upstream SSE fixtures.

use serde_json::{Map, Value, json};

use crate::translate::dialect::Dialect;
use crate::translate::fixtures::{self, upstream_events};
use crate::translate::messages::stream::error_event;
use crate::translate::messages::{Messages, MessagesStream};
use crate::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};

fn translator(thinking: bool) -> MessagesStream {
    MessagesStream::new(
        "msg_test".into(),
        "claude-sonnet-4-5",
        "default".into(),
        thinking,
        100,
    )
}

/// Feeds a transcript through `on_event`, as the relay does.
fn run(transcript: &str, thinking: bool) -> (Vec<StreamStep>, Vec<u8>, MessagesStream) {
    let mut t = translator(thinking);
    let mut steps = Vec::new();
    let mut bytes = Vec::new();
    for event in upstream_events(transcript) {
        let mut out = StreamOut::Empty;
        steps.push(t.on_event(&event, &mut out));
        if let Some(b) = out.into_bytes() {
            bytes.extend_from_slice(&b);
        }
    }
    (steps, bytes, t)
}

fn run_json(events: &[Value], thinking: bool) -> (Vec<StreamStep>, Vec<u8>) {
    let mut t = translator(thinking);
    let mut out = Vec::new();
    let steps = events.iter().map(|e| t.on_json(e, &mut out)).collect();
    (steps, out)
}

/// The events of an Anthropic SSE body; every `event:` name equals its `type`.
fn parse(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            let (name, data) = event
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("bad framing: {event:?}"));
            let value: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(value["type"], json!(name), "{event}");
            value
        })
        .collect()
}

/// Checks the grammar and rebuilds the message the way the SDKs accumulate it:
/// one `message_start` first, blocks opened in index order and never
/// overlapping, each delta of its block's kind, a signature only at the end of a
/// thinking block, tool input that parses to an object, and a finished stream
/// ending with `message_delta`, `message_stop`, every block closed.
fn check(events: &[Value], finished: bool) -> Value {
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "message_start")
            .count(),
        usize::from(!events.is_empty() && events[0]["type"] != "error"),
    );
    let mut message = Map::new();
    let mut content: Vec<Value> = Vec::new();
    let mut open: Option<usize> = None;
    let mut partial = String::new();
    let mut signed = false;
    let mut ended = false;
    for (i, event) in events.iter().enumerate() {
        assert!(!ended, "event after message_stop / error: {event}");
        let index = event["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok());
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => {
                assert_eq!(i, 0);
                message = event["message"].as_object().cloned().unwrap_or_default();
            }
            "ping" => {}
            "content_block_start" => {
                assert_eq!(open, None, "overlapping blocks");
                assert_eq!(index, Some(content.len()));
                content.push(event["content_block"].clone());
                (open, partial, signed) = (index, String::new(), false);
            }
            "content_block_delta" => {
                assert_eq!(index, open, "delta outside its block: {event}");
                let block = &mut content[index.unwrap_or_default()];
                apply_delta(block, &event["delta"], &mut partial, &mut signed);
            }
            "content_block_stop" => {
                assert_eq!(index, open);
                let block = &mut content[index.unwrap_or_default()];
                if block["type"] == "tool_use" {
                    let input: Value = if partial.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&partial).expect("input_json_delta parses")
                    };
                    assert!(input.is_object(), "{input}");
                    block["input"] = input;
                }
                open = None;
            }
            "message_delta" => {
                assert_eq!(open, None, "message_delta with an open block");
                assert!(message.get("delta").is_none(), "two message_deltas");
                message.insert("delta".into(), event["delta"].clone());
                message.insert("usage".into(), event["usage"].clone());
            }
            "message_stop" => {
                assert!(message.contains_key("delta"));
                ended = true;
            }
            "error" => ended = true,
            other => panic!("unknown event {other}"),
        }
    }
    if finished {
        assert!(ended && open.is_none());
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some(json!("message_stop"))
        );
    }
    message.insert("content".into(), Value::Array(content));
    Value::Object(message)
}

fn apply_delta(block: &mut Value, delta: &Value, partial: &mut String, signed: &mut bool) {
    let piece = |field: &str| delta[field].as_str().unwrap_or_default().to_owned();
    let append = |block: &mut Value, field: &str, text: String| {
        let old = block[field].as_str().unwrap_or_default().to_owned();
        block[field] = json!(old + &text);
    };
    match (delta["type"].as_str(), block["type"].as_str()) {
        (Some("text_delta"), Some("text")) => append(block, "text", piece("text")),
        (Some("thinking_delta"), Some("thinking")) => {
            assert!(!*signed, "thinking after the signature");
            append(block, "thinking", piece("thinking"));
        }
        (Some("signature_delta"), Some("thinking")) => {
            *signed = true;
            append(block, "signature", piece("signature"));
        }
        (Some("input_json_delta"), Some("tool_use")) => partial.push_str(&piece("partial_json")),
        other => panic!("delta {other:?} does not fit its block"),
    }
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let kind = e["type"].as_str().unwrap_or_default();
            match e["delta"]["type"].as_str() {
                Some(delta) if kind == "content_block_delta" => delta.to_owned(),
                _ => kind.to_owned(),
            }
        })
        .collect()
}

#[test]
fn text_and_thinking_follow_the_grammar() {
    let (steps, bytes, _) = run(fixtures::SSE_TEXT_REASONING, true);
    assert_eq!(steps.last(), Some(&StreamStep::Finished));
    let events = parse(&bytes);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "thinking_delta",
            "signature_delta",
            "content_block_stop",
            "content_block_start",
            "text_delta",
            "text_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let message = check(&events, true);
    assert_eq!(
        message["content"],
        json!([
            {"type":"thinking","thinking":"**Responding to a greeting**","signature":"airelays1.default.gAAAAABoQ2VuY3J5cHRlZC1ibG9i"},
            {"type":"text","text":"Hello! How can I help?"}
        ])
    );
    assert_eq!(
        events[0]["message"],
        json!({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5",
            "content":[],"stop_reason":null,"stop_sequence":null,
            "usage":{"input_tokens":100,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}})
    );
    assert_eq!(
        message["delta"],
        json!({"stop_reason":"end_turn","stop_sequence":null})
    );
    assert_eq!(
        message["usage"],
        json!({"input_tokens":290,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":58})
    );
}

#[test]
fn without_thinking_there_are_no_thinking_blocks() {
    let (_, bytes, _) = run(fixtures::SSE_TEXT_REASONING, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(
        message["content"],
        json!([{"type":"text","text":"Hello! How can I help?"}])
    );
}

#[test]
fn tool_input_streams_in_pieces_and_parses_to_the_arguments() {
    let (_, bytes, _) = run(fixtures::SSE_TOOL_CALL, true);
    let events = parse(&bytes);
    let pieces = names(&events)
        .iter()
        .filter(|n| *n == "input_json_delta")
        .count();
    assert_eq!(pieces, 2, "the arguments must stream as they arrive");
    let message = check(&events, true);
    assert_eq!(
        message["content"],
        json!([
            {"type":"thinking","thinking":"","signature":"airelays1.default.gAAAAABoZW5jLXJz"},
            {"type":"tool_use","id":"call_Q2xp","name":"shell","input":{"command":["bash","-lc","ls"]}}
        ])
    );
    assert_eq!(message["delta"]["stop_reason"], json!("tool_use"));
}

#[test]
fn interleaved_parallel_calls_become_consecutive_blocks() {
    let (_, bytes, _) = run(fixtures::SSE_PARALLEL_TOOLS, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(
        message["content"],
        json!([
            {"type":"tool_use","id":"call_A","name":"get_weather","input":{"city":"Paris"}},
            {"type":"tool_use","id":"call_B","name":"get_weather","input":{"city":"Tokyo"}}
        ])
    );
}

#[test]
fn text_arriving_while_a_call_streams_waits_for_it() {
    let events = [
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"fc","type":"function_call","call_id":"c1","name":"f"}}),
        json!({"type":"response.function_call_arguments.delta","item_id":"fc","output_index":0,"delta":"{\"a\""}),
        json!({"type":"response.output_text.delta","item_id":"m","output_index":1,"delta":"Also "}),
        json!({"type":"response.function_call_arguments.delta","item_id":"fc","output_index":0,"delta":":1}"}),
        json!({"type":"response.output_text.delta","item_id":"m","output_index":1,"delta":"this."}),
        json!({"type":"response.output_item.done","output_index":0,"item":{"id":"fc","type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"}}),
        json!({"type":"response.output_text.delta","item_id":"m","output_index":1,"delta":" Done"}),
        json!({"type":"response.completed","response":{"id":"r"}}),
    ];
    let (_, bytes) = run_json(&events, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(
        message["content"],
        json!([{"type":"tool_use","id":"c1","name":"f","input":{"a":1}},{"type":"text","text":"Also this. Done"}])
    );
}

#[test]
fn refusals_incomplete_answers_and_final_only_items() {
    let (_, bytes, _) = run(fixtures::SSE_REFUSAL, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(message["delta"]["stop_reason"], json!("refusal"));
    assert_eq!(
        message["content"][0]["text"],
        json!("I can't help with that.")
    );
    let (_, bytes, _) = run(fixtures::SSE_INCOMPLETE, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(message["delta"]["stop_reason"], json!("max_tokens"));
    assert_eq!(
        message["content"][0]["text"],
        json!("The answer is long and")
    );
    let (_, bytes, _) = run(fixtures::SSE_ONLY_DONE, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(message["content"], json!([{"type":"text","text":"pong"}]));
    let (_, bytes) = run_json(
        &[
            json!({"type":"response.incomplete","response":{"incomplete_details":{"reason":"content_filter"}}}),
        ],
        false,
    );
    assert_eq!(
        check(&parse(&bytes), true)["delta"]["stop_reason"],
        json!("refusal")
    );
}

#[test]
fn every_transcript_keeps_the_grammar_and_matches_the_non_streamed_answer() {
    use crate::translate::dialect::AnswerContext;
    use crate::translate::responses_response::ResponseAssembler;
    let answer = AnswerContext {
        requested_model: "claude-sonnet-4-5".into(),
        model: "gpt-5.5".into(),
        created: 0,
        nonce: [1; 32],
        account_tag: None,
    };
    for transcript in fixtures::TRANSCRIPTS {
        for thinking in [false, true] {
            let (steps, bytes, _) = run(transcript, thinking);
            let finished = steps.last() == Some(&StreamStep::Finished);
            let streamed = check(&parse(&bytes), finished);
            if !finished {
                assert!(matches!(steps.last(), Some(StreamStep::Failed { .. })));
                continue;
            }
            let mut assembler = ResponseAssembler::new();
            for event in fixtures::events(transcript) {
                assembler.on_event(&event);
            }
            let body = json!({"model":"m","messages":[],
                "thinking":{"type": if thinking {"adaptive"} else {"disabled"}}});
            let dialect = Messages::prepare(body.to_string().as_bytes(), &super::opts())
                .map(|p| p.dialect)
                .expect("prepared");
            let whole = dialect.finish(assembler.into_response(), &answer);
            assert_eq!(streamed["content"], whole["content"], "{transcript}");
            assert_eq!(streamed["delta"]["stop_reason"], whole["stop_reason"]);
        }
    }
}

#[test]
fn failures_write_nothing_then_the_error_event() {
    let (steps, bytes, mut t) = run(fixtures::SSE_FAILED, true);
    assert!(matches!(
        steps.last(),
        Some(StreamStep::Failed { code: Some(c), .. }) if c == "context_length_exceeded"
    ));
    assert_eq!(names(&parse(&bytes)), ["message_start", "ping"]);
    let mut out = StreamOut::Empty;
    t.on_failure(
        &StreamFailure {
            status: 429,
            kind: "rate_limit_error",
            code: Some("rate_limit_exceeded"),
            message: "Slow down.",
        },
        &mut out,
    );
    let mut all = bytes.clone();
    all.extend_from_slice(&out.into_bytes().unwrap_or_default());
    let events = parse(&all);
    check(&events, false);
    assert_eq!(
        events.last(),
        Some(&json!({"type":"error","error":{"type":"rate_limit_error","message":"Slow down."}}))
    );
    let mut out = Vec::new();
    assert_eq!(
        t.on_json(&json!({"type":"response.completed"}), &mut out),
        StreamStep::Finished
    );
    assert!(out.is_empty());
}

#[test]
fn error_events_name_the_anthropic_type() {
    let events = parse(&error_event(529, "Overloaded \"now\""));
    assert_eq!(
        events,
        [
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded \"now\""}})
        ]
    );
    let events = parse(&error_event(502, "cut"));
    assert_eq!(events[0]["error"]["type"], json!("api_error"));
}

#[test]
fn a_stream_cut_mid_block_is_closed_by_the_error_only() {
    let events = [
        json!({"type":"response.created","response":{}}),
        json!({"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"partial"}),
    ];
    let (_, mut bytes) = run_json(&events, false);
    bytes.extend_from_slice(&error_event(502, "The upstream stream ended early."));
    let events = parse(&bytes);
    check(&events, false);
    assert!(events.iter().all(|e| e["type"] != "message_stop"));
}

#[test]
fn the_text_fast_path_matches_on_json() {
    let events = fixtures::events(fixtures::SSE_TEXT_REASONING);
    let (_, slow) = run_json(&events, true);
    let (_, fast, _) = run(fixtures::SSE_TEXT_REASONING, true);
    assert_eq!(
        String::from_utf8_lossy(&slow),
        String::from_utf8_lossy(&fast)
    );
}

#[test]
fn events_after_the_end_and_unknown_events_are_ignored() {
    let mut t = translator(true);
    let mut out = Vec::new();
    for event in [
        json!({"type":"response.created","response":{}}),
        json!({"type":"codex.rate_limits"}),
        json!({"type":"response.web_search_call.searching"}),
        json!({"no_type":1}),
        json!({"type":"response.output_item.added","item":{"type":"web_search_call","id":"ws"}}),
    ] {
        assert_eq!(t.on_json(&event, &mut out), StreamStep::Continue);
    }
    assert_eq!(names(&parse(&out)), ["message_start", "ping"]);
    let done = json!({"type":"response.completed","response":{}});
    assert_eq!(t.on_json(&done, &mut out), StreamStep::Finished);
    let len = out.len();
    assert_eq!(t.on_json(&done, &mut out), StreamStep::Finished);
    assert_eq!(
        t.on_text_delta(Some("m"), Some(0), "late", &mut out),
        StreamStep::Finished
    );
    assert_eq!(out.len(), len);
    let message = check(&parse(&out), true);
    assert_eq!(message["content"], json!([]));
}

#[test]
fn summary_parts_are_separated_and_models_are_escaped() {
    let events = [
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"rs","type":"reasoning"}}),
        json!({"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"summary_index":0,"delta":"One"}),
        json!({"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"summary_index":1,"delta":"Two"}),
        json!({"type":"response.completed","response":{"output":[{"id":"rs","type":"reasoning","encrypted_content":"E"}]}}),
    ];
    let (_, bytes) = run_json(&events, true);
    let message = check(&parse(&bytes), true);
    assert_eq!(
        message["content"],
        json!([{"type":"thinking","thinking":"One\n\nTwo","signature":"airelays1.default.E"}])
    );
    let mut t = MessagesStream::new("m\"1".into(), "we\"ird\nmodel", "d".into(), false, 0);
    let mut out = Vec::new();
    t.on_json(
        &json!({"type":"response.completed","response":{}}),
        &mut out,
    );
    let events = parse(&out);
    assert_eq!(events[0]["message"]["model"], json!("we\"ird\nmodel"));
}

#[test]
fn deltas_without_item_identity_are_not_repeated() {
    let events = [
        json!({"type":"response.output_text.delta","delta":"Hel"}),
        json!({"type":"response.output_text.delta","delta":"lo"}),
        json!({"type":"response.output_item.done","output_index":0,"item":{"id":"m","type":"message","content":[{"type":"output_text","text":"Hello"}]}}),
        json!({"type":"response.completed","response":{"output":[{"id":"m","type":"message","content":[{"type":"output_text","text":"Hello"}]}]}}),
    ];
    let (_, bytes) = run_json(&events, false);
    let message = check(&parse(&bytes), true);
    assert_eq!(message["content"], json!([{"type":"text","text":"Hello"}]));
}

/// The upstream events of output item `i`: `added`, its deltas, `done`.
fn item_events(i: usize, kind: u8, pieces: &[String]) -> (Vec<Value>, Value) {
    let index = i;
    let id = format!("item_{i}");
    let (added, delta_type, done) = match kind {
        0 => {
            let text = pieces.concat();
            (
                json!({"id":id,"type":"message","role":"assistant","content":[]}),
                "response.output_text.delta",
                json!({"id":id,"type":"message","role":"assistant","content":[{"type":"output_text","text":text}]}),
            )
        }
        1 => (
            json!({"id":id,"type":"reasoning","summary":[]}),
            "response.reasoning_summary_text.delta",
            json!({"id":id,"type":"reasoning","summary":[{"type":"summary_text","text":pieces.concat()}],
                "encrypted_content":format!("E{i}")}),
        ),
        _ => (
            json!({"id":id,"type":"function_call","call_id":format!("call_{i}"),"name":"f","arguments":""}),
            "response.function_call_arguments.delta",
            json!({"id":id,"type":"function_call","call_id":format!("call_{i}"),"name":"f","arguments":pieces.concat()}),
        ),
    };
    let mut events =
        vec![json!({"type":"response.output_item.added","output_index":index,"item":added})];
    for piece in pieces {
        events.push(json!({"type":delta_type,"item_id":id,"output_index":index,
            "summary_index":0,"delta":piece}));
    }
    events.push(json!({"type":"response.output_item.done","output_index":index,"item":done}));
    (events, done)
}

/// Splits `text` into `n` pieces at character boundaries.
fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// Merges per-item event lists: items are added in output order, and each
/// item's own events keep their order; `choices` pick the interleaving.
fn interleave(per_item: Vec<Vec<Value>>, choices: &[u8]) -> Vec<Value> {
    let mut cursors = vec![0usize; per_item.len()];
    let mut merged = Vec::new();
    let mut step = 0;
    loop {
        let ready: Vec<usize> = (0..per_item.len())
            .filter(|&i| cursors[i] < per_item[i].len() && (i == 0 || cursors[i - 1] > 0))
            .collect();
        if ready.is_empty() {
            return merged;
        }
        let pick = ready[usize::from(choices.get(step).copied().unwrap_or(0)) % ready.len()];
        merged.push(per_item[pick][cursors[pick]].clone());
        cursors[pick] += 1;
        step += 1;
    }
}

fn sorted(content: &Value) -> Vec<String> {
    let mut blocks: Vec<String> = content
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect();
    blocks.sort();
    blocks
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any interleaving of text, reasoning and tool items keeps the grammar, and
    /// the streamed blocks are the non-streamed answer's blocks.
    #[test]
    fn any_interleaving_keeps_the_grammar(
        items in proptest::collection::vec((0u8..3, "[a-z é\"{}]{0,12}", 1usize..4), 1..5),
        choices in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
        thinking in proptest::prelude::any::<bool>(),
    ) {
        let mut per_item = Vec::new();
        let mut output = Vec::new();
        for (i, (kind, text, n)) in items.iter().enumerate() {
            let text = if *kind == 2 { json!({"q": text}).to_string() } else { text.clone() };
            let (events, done) = item_events(i, *kind, &split(&text, *n));
            per_item.push(events);
            output.push(done);
        }
        let mut events = interleave(per_item, &choices);
        let response = json!({"id":"r","status":"completed","output":output,
            "usage":{"input_tokens":10,"output_tokens":5}});
        events.push(json!({"type":"response.completed","response":response}));
        let (steps, bytes) = run_json(&events, thinking);
        proptest::prop_assert_eq!(steps.last(), Some(&StreamStep::Finished));
        let streamed = check(&parse(&bytes), true);
        let dialect = Messages::prepare(
            json!({"model":"m","messages":[],"thinking":{"type": if thinking {"adaptive"} else {"disabled"}}})
                .to_string()
                .as_bytes(),
            &super::opts(),
        )
        .map(|p| p.dialect)
        .expect("prepared");
        let answer = crate::translate::dialect::AnswerContext {
            requested_model: "m".into(),
            model: "m".into(),
            created: 0,
            nonce: [0; 32],
            account_tag: None,
        };
        let whole = dialect.finish(response, &answer);
        proptest::prop_assert_eq!(sorted(&streamed["content"]), sorted(&whole["content"]));
        proptest::prop_assert_eq!(&streamed["delta"]["stop_reason"], &whole["stop_reason"]);
    }
}
