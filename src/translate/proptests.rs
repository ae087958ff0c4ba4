//! Property tests: no input, however broken, makes the translation panic, and every
//! rejected request carries a message.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use super::chat_response::{ChatContext, completion_from_response};
use super::chat_stream::{ChatStreamTranslator, StreamStep};
use super::responses_response::ResponseAssembler;
use super::{
    DEFAULT_UNSUPPORTED_PARAMETERS, TranslateError, TranslateOptions, UpstreamRequest,
    chat_request, fixtures, ignored_parameters_header, responses_request,
};

/// Keys and string values that steer random JSON into the translators' code paths.
const WORDS: &[&str] = &[
    "model",
    "messages",
    "input",
    "role",
    "content",
    "type",
    "text",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "id",
    "call_id",
    "tool_call_id",
    "tools",
    "tool_choice",
    "response_format",
    "json_schema",
    "schema",
    "properties",
    "required",
    "items",
    "anyOf",
    "image_url",
    "url",
    "file",
    "file_id",
    "file_data",
    "detail",
    "stream",
    "store",
    "n",
    "stop",
    "reasoning",
    "include",
    "instructions",
    "custom",
    "strict",
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "refusal",
    "json_object",
    "auto",
    "none",
    "required",
    "object",
    "string",
    "message",
    "input_text",
    "stream_options",
    "include_usage",
    "allowed_tools",
    "mode",
    "functions",
    "function_call",
    "parameters",
    "format",
    "call_1",
    "temperature",
    "logprobs",
    "modalities",
    "audio",
    "input_audio",
    "previous_response_id",
    "$defs",
    "null",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A chat-like body: the right top-level shape with random insides.
fn arb_chat_body() -> impl Strategy<Value = Value> {
    let message = (
        select(
            &[
                "user",
                "assistant",
                "system",
                "developer",
                "tool",
                "function",
                "x",
            ][..],
        ),
        arb_json(),
        prop::option::of(arb_json()),
        prop::option::of(select(&["call_1", "call_2"][..])),
    )
        .prop_map(|(role, content, tool_calls, tool_call_id)| {
            let mut m = Map::new();
            m.insert("role".to_owned(), Value::from(role));
            m.insert("content".to_owned(), content);
            if let Some(calls) = tool_calls {
                m.insert("tool_calls".to_owned(), calls);
            }
            if let Some(id) = tool_call_id {
                m.insert("tool_call_id".to_owned(), Value::from(id));
            }
            Value::Object(m)
        });
    (
        prop::collection::vec(message, 0..6),
        prop::collection::vec((word(), arb_json()), 0..5),
        any::<bool>(),
    )
        .prop_map(|(messages, extra, responses_shaped)| {
            let mut body = Map::new();
            body.insert("model".to_owned(), Value::from("gpt-5.5"));
            let key = if responses_shaped {
                "input"
            } else {
                "messages"
            };
            body.insert(key.to_owned(), Value::Array(messages));
            for (k, v) in extra {
                if k != "model" && k != key {
                    body.insert(k, v);
                }
            }
            Value::Object(body)
        })
}

fn arb_item() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            select(
                &[
                    "message",
                    "function_call",
                    "custom_tool_call",
                    "reasoning",
                    "web_search_call"
                ][..]
            ),
            prop::option::of(select(&["a", "b", "c"][..])),
            prop::option::of(select(&["call_1", "call_2"][..])),
            arb_json(),
            "\\PC{0,8}",
        )
            .prop_map(|(t, id, call_id, content, text)| {
                let mut item = Map::new();
                item.insert("type".to_owned(), Value::from(t));
                if let Some(id) = id {
                    item.insert("id".to_owned(), Value::from(id));
                }
                if let Some(call_id) = call_id {
                    item.insert("call_id".to_owned(), Value::from(call_id));
                }
                item.insert("name".to_owned(), Value::from("f"));
                item.insert("arguments".to_owned(), Value::from(text.clone()));
                item.insert("input".to_owned(), Value::from(text.clone()));
                item.insert(
                    "summary".to_owned(),
                    serde_json::json!([{"type":"summary_text","text":text.clone()}]),
                );
                item.insert(
                    "content".to_owned(),
                    serde_json::json!([{"type":"output_text","text":text}, content]),
                );
                Value::Object(item)
            }),
        arb_json(),
    ]
}

fn arb_event() -> impl Strategy<Value = Value> {
    const TYPES: &[&str] = &[
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "error",
        "response.unknown",
    ];
    prop_oneof![
        9 => (
            select(TYPES),
            prop::option::of(select(&["a", "b", "c"][..])),
            prop::option::of(0u64..4),
            prop::option::of(0u64..3),
            "\\PC{0,8}",
            arb_item(),
            prop::collection::vec(arb_item(), 0..3),
            arb_json(),
        )
            .prop_map(|(t, item_id, output_index, summary_index, delta, item, output, usage)| {
                let mut e = Map::new();
                e.insert("type".to_owned(), Value::from(t));
                if let Some(id) = item_id {
                    e.insert("item_id".to_owned(), Value::from(id));
                }
                if let Some(i) = output_index {
                    e.insert("output_index".to_owned(), Value::from(i));
                }
                if let Some(i) = summary_index {
                    e.insert("summary_index".to_owned(), Value::from(i));
                }
                e.insert("delta".to_owned(), Value::from(delta));
                e.insert("item".to_owned(), item);
                e.insert(
                    "response".to_owned(),
                    serde_json::json!({"id":"r","status":"incomplete","output":output,"usage":usage,
                        "incomplete_details":{"reason":"max_output_tokens"},"error":{"code":"x","message":"y"}}),
                );
                Value::Object(e)
            }),
        1 => arb_json(),
    ]
}

fn opts(list: &[String]) -> TranslateOptions<'_> {
    TranslateOptions {
        unsupported_parameters: list,
        default_instructions: "Default.",
        reasoning_summaries: true,
    }
}

fn default_list() -> Vec<String> {
    DEFAULT_UNSUPPORTED_PARAMETERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// Checks the invariants of one `prepare` result.
fn check(result: Result<UpstreamRequest, TranslateError>) {
    match result {
        Ok(req) => {
            assert_eq!(req.body.get("stream"), Some(&Value::Bool(true)));
            assert_eq!(req.body.get("store"), Some(&Value::Bool(false)));
            assert!(matches!(req.body.get("input"), Some(Value::Array(_))));
            assert!(req.body.contains_key("instructions"));
            assert!(!req.model.is_empty());
            let header = ignored_parameters_header(&req.ignored_parameters);
            assert!(header.is_none_or(|h| h.len() <= 2048 && h.is_ascii()));
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
}

fn prepare_both(bytes: &[u8]) {
    let list = default_list();
    check(responses_request::prepare(bytes, &opts(&list)));
    check(chat_request::prepare(bytes, &opts(&list)).map(|(req, _)| req));
}

/// Feeds events to both translators and checks the chat stream's grammar.
fn translate_events(events: &[Value]) {
    for (include_usage, reasoning_output) in [(false, false), (true, true)] {
        let ctx = ChatContext {
            id: "chatcmpl-p".to_owned(),
            created: 0,
            model: "m".to_owned(),
            include_usage,
            reasoning_output,
        };
        let mut translator = ChatStreamTranslator::new(ctx.clone());
        let mut out = Vec::new();
        let mut finished = false;
        for event in events {
            let before = out.len();
            match translator.on_json(event, &mut out) {
                StreamStep::Failed { message, .. } => {
                    assert!(!message.is_empty());
                    assert_eq!(out.len(), before, "a failure writes nothing");
                    break;
                }
                StreamStep::Finished => finished = true,
                StreamStep::Continue => assert!(!finished),
            }
        }
        let (chunks, done) = fixtures::chat_chunks(&out);
        assert_eq!(done, finished);
        let finishes = chunks
            .iter()
            .filter(|c| c["choices"][0]["finish_reason"].is_string())
            .count();
        assert_eq!(finishes, usize::from(finished));

        let mut assembler = ResponseAssembler::new();
        for event in events {
            assembler.on_event(event);
        }
        let completion = completion_from_response(&assembler.into_response(), &ctx);
        assert!(completion["choices"][0]["finish_reason"].is_string());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        prepare_both(&bytes);
    }

    #[test]
    fn random_json_never_panics(value in arb_json()) {
        prepare_both(value.to_string().as_bytes());
    }

    #[test]
    fn random_chat_shaped_bodies_never_panic(value in arb_chat_body()) {
        prepare_both(value.to_string().as_bytes());
    }

    #[test]
    fn random_event_sequences_never_panic(events in prop::collection::vec(arb_event(), 0..24)) {
        translate_events(&events);
    }

    #[test]
    fn ignored_header_stays_bounded(names in prop::collection::vec("\\PC{0,40}", 0..200)) {
        if let Some(header) = ignored_parameters_header(&names) {
            prop_assert!(header.len() <= 2048);
            prop_assert!(header.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-%,".contains(&b)));
        }
    }

    #[test]
    fn json_string_writer_round_trips(s in "\\PC*|[\\x00-\\x1f\"\\\\]*") {
        let mut out = Vec::new();
        super::write_json_str(&mut out, &s);
        let back: Value = serde_json::from_slice(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, Value::from(s));
    }
}

#[test]
fn every_prefix_of_real_bodies_is_handled() {
    let list = default_list();
    for body in fixtures::REQUEST_BODIES {
        let bytes = body.as_bytes();
        for end in 0..=bytes.len() {
            let prefix = bytes.get(..end).unwrap_or_default();
            let valid_json = serde_json::from_slice::<Value>(prefix).is_ok();
            let responses = responses_request::prepare(prefix, &opts(&list));
            let chat = chat_request::prepare(prefix, &opts(&list)).map(|(req, _)| req);
            if !valid_json {
                assert!(responses.as_ref().is_err_and(|e| !e.message.is_empty()));
                assert!(chat.as_ref().is_err_and(|e| !e.message.is_empty()));
            }
            check(responses);
            check(chat);
        }
    }
}

#[test]
fn every_prefix_of_real_transcripts_is_handled() {
    for transcript in fixtures::TRANSCRIPTS {
        let events = fixtures::events(transcript);
        for end in 0..=events.len() {
            translate_events(events.get(..end).unwrap_or_default());
        }
    }
}
