//! Requests from the shapes Ollama clients send, and answers from the upstream
//! transcripts of `translate::fixtures`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::fixtures::*;
use super::request::strip_tag;
use super::*;
use crate::translate::DEFAULT_UNSUPPORTED_PARAMETERS;
use crate::translate::fixtures::{
    SSE_FAILED, SSE_INCOMPLETE, SSE_ONLY_DONE, SSE_PARALLEL_TOOLS, SSE_REFUSAL, SSE_TEXT_REASONING,
    SSE_TOOL_CALL, TRANSCRIPTS, upstream_events,
};
use crate::translate::responses_response::ResponseAssembler;
use crate::translate::stream::{StreamFailure, StreamOut, StreamStep, StreamTranslator};

fn opts_with(reasoning_summaries: bool) -> TranslateOptions<'static> {
    static UNSUPPORTED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TranslateOptions {
        unsupported_parameters: UNSUPPORTED.get_or_init(|| {
            DEFAULT_UNSUPPORTED_PARAMETERS
                .iter()
                .map(|s| s.to_string())
                .collect()
        }),
        default_instructions: "You are a helpful assistant.",
        reasoning_summaries,
    }
}

fn chat(body: &str) -> Result<UpstreamRequest, TranslateError> {
    prepare_chat(body.as_bytes(), &opts_with(false))
}

fn chat_ok(body: Value) -> UpstreamRequest {
    chat(&body.to_string()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn chat_err(body: Value) -> TranslateError {
    match chat(&body.to_string()) {
        Ok(req) => panic!("accepted: {:?}", req.body),
        Err(e) => e,
    }
}

fn generate_ok(body: Value) -> UpstreamRequest {
    prepare_generate(body.to_string().as_bytes(), &opts_with(false))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn generate_err(body: Value) -> TranslateError {
    match prepare_generate(body.to_string().as_bytes(), &opts_with(false)) {
        Ok(req) => panic!("accepted: {:?}", req.body),
        Err(e) => e,
    }
}

fn input(req: &UpstreamRequest) -> &Vec<Value> {
    req.body["input"].as_array().expect("input is a list")
}

fn assert_upstream_invariants(req: &UpstreamRequest) {
    assert_eq!(req.body["stream"], json!(true));
    assert_eq!(req.body["store"], json!(false));
    assert!(req.body["instructions"].is_string());
    assert!(req.body["input"].is_array());
    assert!(!req.body.contains_key("options") && !req.body.contains_key("keep_alive"));
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

// ---- /api/chat requests -------------------------------------------------------

#[test]
fn open_webui_chat_with_latest_tag_image_and_options() {
    let req = chat(OPENWEBUI_CHAT).unwrap();
    assert_upstream_invariants(&req);
    assert_eq!(req.model, "gpt-5.5");
    assert_eq!(req.body["model"], "gpt-5.5");
    assert!(req.client_stream);
    assert_eq!(
        req.body["instructions"],
        "You are a helpful assistant. Today is 2026-12-01."
    );
    let input = input(&req);
    assert_eq!(input.len(), 3);
    let parts = input[0]["content"].as_array().unwrap();
    assert_eq!(
        parts[0],
        json!({"type":"input_text","text":"Hi! What can you see here?"})
    );
    assert_eq!(parts[1]["type"], "input_image");
    assert_eq!(
        parts[1]["image_url"],
        format!("data:image/png;base64,{PNG}")
    );
    assert_eq!(input[1]["content"][0]["type"], "output_text");
    assert_eq!(
        input[2]["content"][0]["text"],
        "And what colour is it exactly?"
    );
    assert_eq!(
        req.ignored_parameters,
        [
            "options.temperature",
            "options.top_p",
            "options.num_ctx",
            "options.num_predict",
            "options.seed"
        ]
    );
    assert!(!req.body.contains_key("reasoning"));
}

#[test]
fn open_webui_title_generation_is_not_streamed() {
    let req = chat(OPENWEBUI_TITLE).unwrap();
    assert_upstream_invariants(&req);
    assert!(!req.client_stream);
    assert_eq!(req.body["instructions"], "You are a helpful assistant.");
    assert_eq!(req.ignored_parameters, ["options.num_predict"]);
    assert!(
        input(&req)[0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("### Task:")
    );
}

#[test]
fn open_webui_tool_results_pair_by_their_own_ids() {
    let req = chat(OPENWEBUI_TOOL_LOOP).unwrap();
    let input = input(&req);
    let kinds: Vec<&str> = input.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "function_call",
            "function_call",
            "function_call_output",
            "function_call_output"
        ]
    );
    assert_eq!(input[1]["call_id"], "call_1_0");
    assert_eq!(input[1]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(input[2]["call_id"], "call_1_1");
    // The first result names the second call, and the second the first.
    assert_eq!(input[3]["call_id"], "call_1_1");
    assert_eq!(input[3]["output"], "{\"temp_c\": 24}");
    assert_eq!(input[4]["call_id"], "call_1_0");
    assert_eq!(req.body["tools"][0]["name"], "get_weather");
    assert_eq!(req.body["tools"][0]["type"], "function");
}

#[test]
fn ollama_python_tool_loop_think_and_schema_format() {
    let req = chat(OLLAMA_PYTHON_CHAT).unwrap();
    assert_upstream_invariants(&req);
    assert!(!req.client_stream);
    let input = input(&req);
    assert_eq!(input[1]["type"], "function_call");
    assert_eq!(input[1]["call_id"], "call_1_0");
    assert_eq!(input[1]["name"], "add");
    let arguments: Value = serde_json::from_str(input[1]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"a":3,"b":4}));
    assert_eq!(
        input[2],
        json!({"type":"function_call_output","call_id":"call_1_0","output":"7"})
    );
    // think: true → the model's default effort, with summaries.
    assert_eq!(req.body["reasoning"], json!({"summary":"auto"}));
    assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
    let format = &req.body["text"]["format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["strict"], true);
    assert_eq!(format["schema"]["additionalProperties"], false);
    assert_eq!(format["schema"]["required"], json!(["answer", "note"]));
    assert!(
        req.ignored_parameters.is_empty(),
        "{:?}",
        req.ignored_parameters
    );
    // The assistant's `thinking` cannot be replayed and is not sent.
    assert!(
        !serde_json::to_string(&req.body)
            .unwrap()
            .contains("I should call add")
    );
}

fn tool_turn(results: Value) -> Value {
    let mut messages = vec![
        user("weather?"),
        json!({"role":"assistant","content":"","tool_calls":[
            {"function":{"name":"get_weather","arguments":{"city":"Paris"}}},
            {"function":{"name":"get_time","arguments":{}}}
        ]}),
    ];
    messages.extend(results.as_array().unwrap().iter().cloned());
    json!({"model":"gpt-5.5","messages":messages})
}

#[test]
fn tool_results_answer_the_calls_in_order_when_the_names_match() {
    let req = chat_ok(tool_turn(json!([
        {"role":"tool","tool_name":"get_weather","content":"sunny"},
        {"role":"tool","tool_name":"get_time","content":"noon"},
        {"role":"user","content":"thanks"}
    ])));
    let outputs: Vec<(&str, &str)> = input(&req)
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| {
            (
                i["call_id"].as_str().unwrap(),
                i["output"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(outputs, [("call_1_0", "sunny"), ("call_1_1", "noon")]);
    // Without a tool_name the position alone pairs them.
    let req = chat_ok(tool_turn(json!([{"role":"tool","content":"sunny"}])));
    assert_eq!(input(&req)[3]["call_id"], "call_1_0");
}

#[test]
fn a_tool_name_that_does_not_match_its_call_is_refused_naming_the_message() {
    let err = chat_err(tool_turn(json!([
        {"role":"tool","tool_name":"get_time","content":"noon"}
    ])));
    assert_eq!(err.param.as_deref(), Some("messages[2].tool_name"));
    assert!(err.message.contains("messages[2]"), "{}", err.message);
    assert!(err.message.contains("get_weather"), "{}", err.message);
}

#[test]
fn tool_results_without_a_call_to_answer_are_refused() {
    let err = chat_err(tool_turn(json!([
        {"role":"tool","content":"a"},
        {"role":"tool","content":"b"},
        {"role":"tool","content":"c"}
    ])));
    assert_eq!(err.param.as_deref(), Some("messages[4]"));
    assert!(err.message.contains("messages[1]"), "{}", err.message);
    let err = chat_err(json!({"model":"m","messages":[user("hi"),{"role":"tool","content":"x"}]}));
    assert_eq!(err.param.as_deref(), Some("messages[1]"));
    // A new assistant turn starts a new set of calls.
    let err = chat_err(tool_turn(json!([
        {"role":"assistant","content":"done"},
        {"role":"tool","content":"late"}
    ])));
    assert_eq!(err.param.as_deref(), Some("messages[3]"));
}

#[test]
fn images_are_sniffed_into_data_urls() {
    let cases = [
        (PNG, "image/png"),
        (
            "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkS",
            "image/jpeg",
        ),
        (
            "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7",
            "image/gif",
        ),
        (
            "UklGRiQAAABXRUJQVlA4IBgAAAAwAQCdASoBAAEAAwA0JaQAA3AA/vuUAAA=",
            "image/webp",
        ),
    ];
    for (data, mime) in cases {
        let req =
            chat_ok(json!({"model":"m","messages":[{"role":"user","content":"","images":[data]}]}));
        let parts = input(&req)[0]["content"].as_array().unwrap().clone();
        assert_eq!(parts.len(), 1, "an empty text adds no part");
        assert_eq!(parts[0]["image_url"], format!("data:{mime};base64,{data}"));
        assert_eq!(parts[0]["detail"], "auto");
    }
    let url = format!("data:image/png;base64,{PNG}");
    let req =
        chat_ok(json!({"model":"m","messages":[{"role":"user","content":"x","images":[url]}]}));
    assert_eq!(input(&req)[0]["content"][1]["image_url"], url);
}

#[test]
fn bad_images_are_refused_with_their_path() {
    for (images, param) in [
        (json!(["SGVsbG8sIHdvcmxkIQ=="]), "messages[0].images[0]"),
        (json!([PNG, "!!!not base64!!!"]), "messages[0].images[1]"),
        (json!([7]), "messages[0].images[0]"),
        (json!("x"), "messages[0].images"),
    ] {
        let err = chat_err(
            json!({"model":"m","messages":[{"role":"user","content":"x","images":images}]}),
        );
        assert_eq!(err.param.as_deref(), Some(param), "{}", err.message);
    }
    let err = chat_err(
        json!({"model":"m","messages":[{"role":"assistant","content":"x","images":[PNG]}]}),
    );
    assert_eq!(err.param.as_deref(), Some("messages[0].images"));
}

#[test]
fn think_table() {
    let with = |think: Value, summaries: bool| {
        prepare_chat(
            json!({"model":"m","messages":[user("hi")],"think":think})
                .to_string()
                .as_bytes(),
            &opts_with(summaries),
        )
        .unwrap()
        .body
        .get("reasoning")
        .cloned()
    };
    assert_eq!(with(json!(true), false), Some(json!({"summary":"auto"})));
    assert_eq!(with(json!(false), false), Some(json!({"effort":"low"})));
    assert_eq!(with(json!(false), true), Some(json!({"effort":"low"})));
    for level in ["low", "medium", "high"] {
        assert_eq!(
            with(json!(level), false),
            Some(json!({"effort":level,"summary":"auto"}))
        );
    }
    assert_eq!(with(Value::Null, false), None);
    assert_eq!(with(Value::Null, true), Some(json!({"summary":"auto"})));
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"think":"max"}));
    assert_eq!(
        (err.param.as_deref(), err.code.as_deref()),
        (Some("think"), Some("unsupported_value"))
    );
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"think":1}));
    assert_eq!(err.code.as_deref(), Some("invalid_type"));
}

#[test]
fn formats() {
    let format = |f: Value| {
        chat_ok(json!({"model":"m","messages":[user("hi")],"format":f}))
            .body
            .get("text")
            .cloned()
    };
    assert_eq!(
        format(json!("json")),
        Some(json!({"format":{"type":"json_object"}}))
    );
    assert_eq!(format(json!("")), None);
    assert_eq!(format(Value::Null), None);
    let schema = format(json!({"type":"object","properties":{"a":{"type":"string"}}})).unwrap();
    assert_eq!(schema["format"]["name"], "response");
    assert_eq!(schema["format"]["schema"]["required"], json!(["a"]));
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"format":"yaml"}));
    assert_eq!(err.param.as_deref(), Some("format"));
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"format":[1]}));
    assert_eq!(err.code.as_deref(), Some("invalid_type"));
}

#[test]
fn options_are_removed_and_disclosed_and_stop_is_refused() {
    let req = chat_ok(json!({
        "model":"m","messages":[user("hi")],
        "options":{"num_predict":10,"temperature":0.1,"top_k":40,"repeat_penalty":1.1,"mirostat":null,"stop":[]},
        "keep_alive":-1,"truncate":true,"shift":true,"logprobs":false,"top_logprobs":0
    }));
    assert_eq!(
        req.ignored_parameters,
        [
            "options.num_predict",
            "options.temperature",
            "options.top_k",
            "options.repeat_penalty",
            "options.stop",
            "truncate",
            "shift",
            "top_logprobs"
        ]
    );
    for stop in [json!(["\n"]), json!("END")] {
        let err = chat_err(json!({"model":"m","messages":[user("hi")],"options":{"stop":stop}}));
        assert_eq!(err.param.as_deref(), Some("options.stop"));
        assert_eq!(err.code.as_deref(), Some("unsupported_parameter"));
    }
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"logprobs":true}));
    assert_eq!(err.param.as_deref(), Some("logprobs"));
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"options":[1]}));
    assert_eq!(err.param.as_deref(), Some("options"));
}

#[test]
fn model_names_and_required_fields() {
    assert_eq!(strip_tag("gpt-5.5:latest"), "gpt-5.5");
    assert_eq!(strip_tag("gpt-5.5"), "gpt-5.5");
    assert_eq!(strip_tag("gpt-5.4-mini:v2"), "gpt-5.4-mini");
    assert_eq!(strip_tag("host:8080/library/x"), "host:8080/library/x");
    for body in [
        json!({"messages":[user("hi")]}),
        json!({"model":":latest","messages":[user("hi")]}),
        json!({"model":"","messages":[user("hi")]}),
        json!({"model":5,"messages":[user("hi")]}),
    ] {
        assert_eq!(chat_err(body).param.as_deref(), Some("model"));
    }
    for messages in [json!([]), Value::Null, json!("hi")] {
        let err = chat_err(json!({"model":"m","messages":messages}));
        assert_eq!(err.param.as_deref(), Some("messages"));
    }
    let err = chat_err(json!({"model":"m","messages":[{"role":"developer","content":"x"}]}));
    assert_eq!(err.param.as_deref(), Some("messages[0].role"));
    let err = chat_err(json!({"model":"m","messages":[{"role":"user","content":["x"]}]}));
    assert_eq!(err.param.as_deref(), Some("messages[0].content"));
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"stream":"yes"}));
    assert_eq!(err.param.as_deref(), Some("stream"));
    let err = chat_err(json!({"model":"m","messages":[user("hi")],"keep_alive":"soon"}));
    assert_eq!(err.param.as_deref(), Some("keep_alive"));
    assert!(chat("[1]").is_err() && chat("").is_err());
}

#[test]
fn stream_defaults_to_true() {
    assert!(chat_ok(json!({"model":"m","messages":[user("hi")]})).client_stream);
    assert!(chat_ok(json!({"model":"m","messages":[user("hi")],"stream":null})).client_stream);
    assert!(!chat_ok(json!({"model":"m","messages":[user("hi")],"stream":false})).client_stream);
}

#[test]
fn keep_alive_is_kept_for_ps() {
    let prepared =
        <OllamaChat as Dialect>::prepare(OPENWEBUI_CHAT.as_bytes(), &opts_with(false)).unwrap();
    assert_eq!(prepared.dialect.keep_alive(), KeepAlive::Seconds(300));
    let cases = [
        (Value::Null, KeepAlive::Default),
        (json!(0), KeepAlive::Unload),
        (json!("0"), KeepAlive::Unload),
        (json!("0s"), KeepAlive::Unload),
        (json!(-1), KeepAlive::Forever),
        (json!("-1m"), KeepAlive::Forever),
        (json!(60), KeepAlive::Seconds(60)),
        (json!("1h30m"), KeepAlive::Seconds(5400)),
        (json!("1.5s"), KeepAlive::Seconds(2)),
        (json!("300ms"), KeepAlive::Seconds(1)),
    ];
    for (value, expected) in cases {
        assert_eq!(KeepAlive::parse(Some(&value)), Some(expected), "{value}");
    }
    for bad in [json!("5 minutes"), json!("m"), json!(true), json!("1x")] {
        assert_eq!(KeepAlive::parse(Some(&bad)), None, "{bad}");
    }
    assert_eq!(KeepAlive::Default.seconds(), Some(300));
    assert_eq!(KeepAlive::Forever.seconds(), None);
}

// ---- /api/generate requests ---------------------------------------------------

#[test]
fn ollama_python_generate() {
    let req = prepare_generate(OLLAMA_PYTHON_GENERATE.as_bytes(), &opts_with(false)).unwrap();
    assert_upstream_invariants(&req);
    assert_eq!(req.model, "gpt-5.5");
    assert!(req.client_stream);
    assert_eq!(req.body["instructions"], "Answer in one sentence.");
    assert_eq!(
        input(&req),
        &vec![
            json!({"type":"message","role":"user","content":[{"type":"input_text","text":"Why is the sky blue?"}]})
        ]
    );
    assert_eq!(
        req.body["reasoning"],
        json!({"effort":"low","summary":"auto"})
    );
    assert_eq!(
        req.ignored_parameters,
        ["options.temperature", "options.stop"]
    );
    let prepared =
        <OllamaGenerate as Dialect>::prepare(OLLAMA_PYTHON_GENERATE.as_bytes(), &opts_with(false))
            .unwrap();
    assert_eq!(prepared.dialect.keep_alive(), KeepAlive::Seconds(5400));
}

#[test]
fn generate_images_raw_context_and_suffix() {
    let req = generate_ok(
        json!({"model":"m","prompt":"what is it?","images":[PNG],"raw":true,"context":[],"suffix":""}),
    );
    let parts = input(&req)[0]["content"].as_array().unwrap().clone();
    assert_eq!(parts[0]["text"], "what is it?");
    assert_eq!(
        parts[1]["image_url"],
        format!("data:image/png;base64,{PNG}")
    );
    let err = generate_err(json!({"model":"m","prompt":"x","context":[1,2,3]}));
    assert_eq!(
        (err.param.as_deref(), err.code.as_deref()),
        (Some("context"), Some("unsupported_parameter"))
    );
    let err = generate_err(json!({"model":"m","prompt":"def f(","suffix":"return 1"}));
    assert_eq!(err.param.as_deref(), Some("suffix"));
    let err = generate_err(json!({"model":"m","prompt":"x","raw":"yes"}));
    assert_eq!(err.param.as_deref(), Some("raw"));
    let err = generate_err(json!({"model":"m","prompt":""}));
    assert_eq!(err.param.as_deref(), Some("prompt"));
    let err = generate_err(json!({"model":"m","prompt":"x","options":{"stop":["\n\n"]}}));
    assert_eq!(err.param.as_deref(), Some("options.stop"));
    let req =
        generate_ok(json!({"model":"m","prompt":"x","template":"{{ .Prompt }}","stream":false}));
    assert_eq!(req.ignored_parameters, ["template"]);
    assert!(!req.client_stream);
    assert_eq!(req.body["instructions"], "You are a helpful assistant.");
}

#[test]
fn empty_prompts_load_and_unload_without_an_upstream_call() {
    let unload = generate_load_answer(OPENWEBUI_UNLOAD.as_bytes(), 1_700_000_000)
        .unwrap()
        .answer;
    assert_eq!(
        unload,
        json!({"model":"gpt-5.5:latest","created_at":"2023-11-14T22:13:20Z","response":"","done":true,"done_reason":"unload"})
    );
    for keep_alive in [json!("0"), json!("0s"), json!(0.0)] {
        let body = json!({"model":"m","keep_alive":keep_alive}).to_string();
        assert_eq!(
            generate_load_answer(body.as_bytes(), 0).unwrap().answer["done_reason"],
            "unload"
        );
    }
    let load = generate_load_answer(br#"{"model":"gpt-5.5"}"#, 0).unwrap();
    assert_eq!(load.model, "gpt-5.5");
    assert_eq!(load.keep_alive, KeepAlive::Default);
    let load = load.answer;
    assert_eq!(load["done_reason"], "load");
    assert_eq!(load["created_at"], "1970-01-01T00:00:00Z");
    for body in [
        r#"{"model":"m","prompt":"hi"}"#,
        r#"{"prompt":""}"#,
        r#"{"model":"m","prompt":"","keep_alive":"soon"}"#,
        "not json",
    ] {
        assert_eq!(generate_load_answer(body.as_bytes(), 0), None, "{body}");
    }
    let chat_load = chat_load_answer(br#"{"model":"m:latest","messages":[],"keep_alive":0}"#, 0)
        .unwrap()
        .answer;
    assert_eq!(
        chat_load["message"],
        json!({"role":"assistant","content":""})
    );
    assert_eq!(chat_load["done_reason"], "unload");
    assert_eq!(chat_load_answer(OPENWEBUI_CHAT.as_bytes(), 0), None);
}

// ---- streams --------------------------------------------------------------------

/// A clock that advances 1 ms at every reading.
#[derive(Debug, Default)]
struct StepClock(AtomicU64);

impl StreamClock for StepClock {
    fn elapsed_ns(&self) -> Option<u64> {
        Some(self.0.fetch_add(1_000_000, Ordering::Relaxed) + 1_000_000)
    }
}

fn answer() -> AnswerContext {
    AnswerContext {
        requested_model: "gpt-5.5:latest".into(),
        model: "gpt-5.5".into(),
        created: 1_700_000_000,
        nonce: [1; 32],
        account_tag: None,
    }
}

/// Streams a transcript; the lines written, and the step that ended it.
fn run<C: StreamClock>(mut stream: OllamaStream<C>, transcript: &str) -> (Vec<Value>, StreamStep) {
    assert_eq!(stream.content_type(), "application/x-ndjson");
    let mut bytes = Vec::new();
    let mut last = StreamStep::Continue;
    for event in upstream_events(transcript) {
        let mut out = StreamOut::Empty;
        last = stream.on_event(&event, &mut out);
        bytes.extend_from_slice(&out.into_bytes().unwrap_or_default());
        if let StreamStep::Failed { message, code } = &last {
            let failure = StreamFailure {
                status: 400,
                kind: "invalid_request_error",
                code: code.as_deref(),
                message,
            };
            let mut out = StreamOut::Empty;
            stream.on_failure(&failure, &mut out);
            bytes.extend_from_slice(&out.into_bytes().unwrap_or_default());
        }
        if last != StreamStep::Continue {
            break;
        }
    }
    (lines(&bytes), last)
}

/// The NDJSON lines of a body: each one JSON object ending in `\n`.
fn lines(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.split_terminator('\n')
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(value.is_object());
            value
        })
        .collect()
}

fn chat_stream<C: StreamClock>(clock: C) -> OllamaStream<C> {
    OllamaStream::new(
        stream::Flavour::Chat,
        "gpt-5.5:latest".into(),
        1_700_000_000,
        clock,
    )
}

fn joined(lines: &[Value], pointer: &str) -> String {
    lines
        .iter()
        .filter_map(|l| l.pointer(pointer).and_then(Value::as_str))
        .collect()
}

#[test]
fn every_transcript_gives_json_lines_with_one_done_line_last_or_an_error_line() {
    for transcript in TRANSCRIPTS {
        let (lines, step) = run(chat_stream(NoClock), transcript);
        let done: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i]["done"] == true)
            .collect();
        match step {
            StreamStep::Finished => {
                assert_eq!(done, [lines.len() - 1], "{transcript}");
                let reason = lines[lines.len() - 1]["done_reason"].as_str().unwrap();
                assert!(reason == "stop" || reason == "length");
            }
            StreamStep::Failed { .. } => {
                assert!(done.is_empty());
                assert!(lines.last().unwrap()["error"].is_string());
            }
            StreamStep::Continue => panic!("transcript did not end"),
        }
        for line in &lines[..lines.len() - 1] {
            assert_eq!(line["model"], "gpt-5.5:latest");
            assert_eq!(line["created_at"], "2023-11-14T22:13:20Z");
            assert_eq!(line["done"], false);
            assert_eq!(line["message"]["role"], "assistant");
        }
    }
}

#[test]
fn text_and_thinking_stream_with_measured_durations_and_counts() {
    let (lines, step) = run(chat_stream(StepClock::default()), SSE_TEXT_REASONING);
    assert_eq!(step, StreamStep::Finished);
    assert_eq!(joined(&lines, "/message/content"), "Hello! How can I help?");
    assert!(joined(&lines, "/message/thinking").starts_with("**Responding to a greeting**"));
    let last = lines.last().unwrap();
    assert_eq!(last["message"], json!({"role":"assistant","content":""}));
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["prompt_eval_count"], 2210);
    assert_eq!(last["eval_count"], 58);
    assert_eq!(last["load_duration"], 0);
    let total = last["total_duration"].as_u64().unwrap();
    let prompt = last["prompt_eval_duration"].as_u64().unwrap();
    let eval = last["eval_duration"].as_u64().unwrap();
    // The first output was read at 1 ms; the end later.
    assert_eq!(prompt, 1_000_000);
    assert!(total > prompt);
    assert_eq!(prompt + eval, total);
    let keys: Vec<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "model",
            "created_at",
            "message",
            "done",
            "done_reason",
            "total_duration",
            "load_duration",
            "prompt_eval_count",
            "prompt_eval_duration",
            "eval_count",
            "eval_duration"
        ]
    );
}

#[test]
fn without_a_clock_no_duration_is_invented() {
    let (lines, _) = run(chat_stream(NoClock), SSE_TEXT_REASONING);
    let last = lines.last().unwrap();
    for key in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(last.get(key).is_none(), "{key}");
    }
    assert_eq!(last["eval_count"], 58);
}

#[test]
fn tool_calls_are_written_once_complete_with_object_arguments() {
    let (lines, _) = run(chat_stream(NoClock), SSE_TOOL_CALL);
    let calls: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.pointer("/message/tool_calls"))
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "written once, not again from the terminal output"
    );
    assert_eq!(
        calls[0],
        &json!([{"function":{"name":"shell","arguments":{"command":["bash","-lc","ls"]}}}])
    );
    let (lines, _) = run(chat_stream(NoClock), SSE_PARALLEL_TOOLS);
    let args: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.pointer("/message/tool_calls/0/function/arguments"))
        .collect();
    assert_eq!(args, [&json!({"city":"Paris"}), &json!({"city":"Tokyo"})]);
    assert_eq!(lines.last().unwrap()["done_reason"], "stop");
}

#[test]
fn cut_short_answers_end_with_length_and_final_only_items_are_written() {
    let (lines, _) = run(chat_stream(NoClock), SSE_INCOMPLETE);
    assert_eq!(lines.last().unwrap()["done_reason"], "length");
    assert_eq!(joined(&lines, "/message/content"), "The answer is long and");
    let (lines, _) = run(chat_stream(NoClock), SSE_ONLY_DONE);
    assert_eq!(joined(&lines, "/message/content"), "pong");
    let (lines, _) = run(chat_stream(NoClock), SSE_REFUSAL);
    assert!(
        !joined(&lines, "/message/content").is_empty(),
        "a refusal reads as text"
    );
}

#[test]
fn a_failure_after_the_first_line_ends_with_an_error_line() {
    let (failed, step) = run(chat_stream(NoClock), SSE_FAILED);
    assert!(matches!(step, StreamStep::Failed { .. }));
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("context window")
    );
    // After text: the text lines, then the error line, and no done line.
    let mut stream = chat_stream(NoClock);
    let events = upstream_events(SSE_TEXT_REASONING);
    let mut out = StreamOut::Empty;
    for event in events.iter().take(events.len() - 1) {
        assert_eq!(stream.on_event(event, &mut out), StreamStep::Continue);
    }
    let failure = StreamFailure {
        status: 502,
        kind: "upstream_error",
        code: None,
        message: "cut \"off\"",
    };
    stream.on_failure(&failure, &mut out);
    let lines = lines(&out.into_bytes().unwrap());
    assert_eq!(lines.last().unwrap(), &json!({"error":"cut \"off\""}));
    assert!(lines.iter().all(|l| l.get("done") != Some(&json!(true))));
    let mut out = StreamOut::Empty;
    assert_eq!(
        stream.on_event(&events[events.len() - 1], &mut out),
        StreamStep::Finished
    );
    assert!(out.is_empty());
}

#[test]
fn generate_lines_carry_response_and_thinking() {
    let stream = OllamaStream::new(stream::Flavour::Generate, "m".into(), 0, NoClock);
    let (lines, _) = run(stream, SSE_TEXT_REASONING);
    assert!(lines.iter().all(|l| l.get("message").is_none()));
    assert_eq!(joined(&lines, "/response"), "Hello! How can I help?");
    assert!(!joined(&lines, "/thinking").is_empty());
    let last = lines.last().unwrap();
    assert_eq!(
        (&last["response"], &last["done"]),
        (&json!(""), &json!(true))
    );
    let stream = OllamaStream::new(stream::Flavour::Generate, "m".into(), 0, NoClock);
    let (lines, _) = run(stream, SSE_TOOL_CALL);
    assert_eq!(
        lines.len(),
        1,
        "generate sends no tools, so writes no calls"
    );
}

fn assembled(transcript: &str) -> Value {
    let mut assembler = ResponseAssembler::new();
    for event in crate::translate::fixtures::events(transcript) {
        assembler.on_event(&event);
    }
    assembler.into_response()
}

#[test]
fn non_streamed_answers_are_one_object_of_the_last_line_shape() {
    let prepared =
        <OllamaChat<StepClock> as Dialect>::prepare(OPENWEBUI_TITLE.as_bytes(), &opts_with(false))
            .unwrap();
    let object = prepared
        .dialect
        .finish(assembled(SSE_TEXT_REASONING), &answer());
    assert_eq!(object["model"], "gpt-5.5:latest");
    assert_eq!(object["message"]["content"], "Hello! How can I help?");
    assert!(
        object["message"]["thinking"]
            .as_str()
            .unwrap()
            .starts_with("**Responding")
    );
    assert_eq!(
        (&object["done"], &object["done_reason"]),
        (&json!(true), &json!("stop"))
    );
    assert_eq!(object["total_duration"], 1_000_000);
    assert_eq!(object["prompt_eval_count"], 2210);
    assert!(
        object.get("eval_duration").is_none(),
        "not measured without the events"
    );

    let prepared =
        <OllamaChat as Dialect>::prepare(OLLAMA_PYTHON_CHAT.as_bytes(), &opts_with(false)).unwrap();
    let object = prepared
        .dialect
        .finish(assembled(SSE_PARALLEL_TOOLS), &answer());
    assert_eq!(
        object["message"]["tool_calls"][1]["function"]["arguments"],
        json!({"city":"Tokyo"})
    );
    assert!(object.get("total_duration").is_none());

    let prepared =
        <OllamaGenerate as Dialect>::prepare(OLLAMA_PYTHON_GENERATE.as_bytes(), &opts_with(false))
            .unwrap();
    let object = prepared
        .dialect
        .finish(assembled(SSE_INCOMPLETE), &answer());
    assert_eq!(object["response"], "The answer is long and");
    assert_eq!(object["done_reason"], "length");
    assert_eq!(object["created_at"], "2023-11-14T22:13:20Z");
}

#[test]
fn the_dialects_stream_as_the_client_named_the_model() {
    let prepared =
        <OllamaChat as Dialect>::prepare(OPENWEBUI_CHAT.as_bytes(), &opts_with(false)).unwrap();
    assert_eq!(prepared.upstream.model, "gpt-5.5");
    let (lines, _) = run(prepared.dialect.stream(&answer()), SSE_ONLY_DONE);
    assert!(lines.iter().all(|l| l["model"] == "gpt-5.5:latest"));
}

// ---- model routes -----------------------------------------------------------------

fn catalogue() -> Vec<Value> {
    vec![
        json!({"slug":"gpt-5.5","visibility":"list","context_window":272000,"input_modalities":["text","image"],
               "supported_reasoning_levels":[{"effort":"low"},{"effort":"high"}],"default_reasoning_level":"medium"}),
        json!({"slug":"gpt-5.4-mini","context_window":128000,"input_modalities":["text"],"supported_reasoning_levels":[]}),
        json!({"slug":"codex-auto-review","visibility":"hide"}),
    ]
}

#[test]
fn tags_are_keyed_by_a_tagged_model_name() {
    let tags = models::tags(
        &catalogue(),
        &["my-extra".to_owned(), "GPT-5.5".to_owned()],
        1_700_000_000,
    );
    let models = tags["models"].as_array().unwrap();
    let names: Vec<&str> = models
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    // Open WebUI keys models by `model`; hidden models are not listed.
    assert_eq!(
        names,
        ["gpt-5.5:latest", "gpt-5.4-mini:latest", "my-extra:latest"]
    );
    for m in models {
        assert_eq!(m["name"], m["model"]);
        assert_eq!(m["size"], 0);
        assert_eq!(m["modified_at"], "2023-11-14T22:13:20Z");
        let digest = m["digest"].as_str().unwrap();
        assert!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(m["details"]["family"].is_string());
    }
    assert_ne!(models[0]["digest"], models[1]["digest"]);
    let again = models::tags(&catalogue(), &[], 0);
    assert_eq!(again["models"][0]["digest"], models[0]["digest"], "stable");
    // Every listed name is accepted back by /api/chat as the catalogue id.
    for name in names {
        let req = chat_ok(json!({"model":name,"messages":[user("hi")]}));
        assert_eq!(format!("{}:latest", req.model), name);
    }
}

#[test]
fn show_reports_context_capabilities_and_what_the_model_is() {
    let entries = catalogue();
    let show = models::show(&entries[0], 0).unwrap();
    assert_eq!(show["model_info"]["gpt.context_length"], 272000);
    assert_eq!(show["model_info"]["general.architecture"], "gpt");
    assert_eq!(
        show["capabilities"],
        json!(["completion", "tools", "thinking", "vision"])
    );
    for key in ["modelfile", "template"] {
        let text = show[key].as_str().unwrap();
        assert!(
            text.contains("ChatGPT backend") && text.contains("airelays"),
            "{text}"
        );
    }
    let mini = models::show(&entries[1], 0).unwrap();
    assert_eq!(mini["capabilities"], json!(["completion", "tools"]));
    assert_eq!(mini["model_info"]["gpt.context_length"], 128000);
    assert!(models::show(&json!({}), 0).is_none());
}

#[test]
fn ps_lists_the_running_models_with_their_expiry() {
    let ps = models::ps(&[("gpt-5.5".to_owned(), 1_700_000_300)]);
    assert_eq!(ps["models"][0]["model"], "gpt-5.5:latest");
    assert_eq!(ps["models"][0]["expires_at"], "2023-11-14T22:18:20Z");
    assert_eq!(models::ps(&[]), json!({"models":[]}));
}

/// Open WebUI's check: strip a leading `v` and anything from `-`, then compare
/// the dot-separated numbers.
fn open_webui_version(version: &str) -> Option<Vec<u64>> {
    let version = version.strip_prefix('v').unwrap_or(version);
    let version = version.split('-').next()?;
    version.split('.').map(|p| p.parse().ok()).collect()
}

#[test]
fn version_is_numeric_and_errors_have_ollamas_shape() {
    let version = models::version();
    let parsed = open_webui_version(version["version"].as_str().unwrap()).unwrap();
    assert_eq!(parsed.len(), 3);
    assert!(
        parsed >= vec![0, 5, 0],
        "structured outputs and tools need 0.5+"
    );
    assert_eq!(
        error_body("model \"x\" not found"),
        json!({"error":"model \"x\" not found"})
    );
    assert_eq!(
        stream::error_line("a\nb"),
        b"{\"error\":\"a\\nb\"}\n".to_vec()
    );
}

#[test]
fn tool_arguments_that_are_not_an_object_are_kept_as_text() {
    let item = |id: &str, arguments: &str| {
        let item = json!({"type":"response.output_item.done","output_index":0,"item":{
            "id":id,"type":"function_call","call_id":id,"name":"f","arguments":arguments}});
        format!("event: response.output_item.done\ndata: {item}\n\n")
    };
    let transcript = [
        item("fc_1", "not json"),
        item("fc_2", ""),
        item("fc_3", "[1,2]"),
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\"}}\n\n".to_owned(),
    ]
    .concat();
    let (lines, step) = run(chat_stream(NoClock), &transcript);
    assert_eq!(step, StreamStep::Finished);
    let args: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.pointer("/message/tool_calls/0/function/arguments"))
        .collect();
    assert_eq!(args, [&json!("not json"), &json!({}), &json!("[1,2]")]);
    let last = lines.last().unwrap();
    assert!(last.get("eval_count").is_none(), "no usage, no counts");
}
