use serde_json::{Value, json};

use super::*;
use crate::translate::fixtures::{
    SSE_FAILED, SSE_INCOMPLETE, SSE_TEXT_REASONING, chat_chunks, upstream_events,
};
use crate::translate::responses_response::ResponseAssembler;
use crate::translate::{DEFAULT_UNSUPPORTED_PARAMETERS, TranslateOptions};

fn opts() -> TranslateOptions<'static> {
    static UNSUPPORTED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TranslateOptions {
        unsupported_parameters: UNSUPPORTED.get_or_init(|| {
            DEFAULT_UNSUPPORTED_PARAMETERS
                .iter()
                .map(|s| s.to_string())
                .collect()
        }),
        default_instructions: "You are a helpful assistant.",
        reasoning_summaries: false,
    }
}

fn prepare(body: Value) -> Result<Prepared<Completions>, TranslateError> {
    Completions::prepare(body.to_string().as_bytes(), &opts())
}

fn answer() -> AnswerContext {
    AnswerContext {
        requested_model: "gpt-5.5".into(),
        model: "gpt-5.5".into(),
        created: 1_700_000_000,
        nonce: [3; 32],
        account_tag: None,
    }
}

#[test]
fn the_prompt_becomes_one_user_message() {
    for prompt in [json!("Say hi"), json!(["Say hi"])] {
        let p = prepare(json!({"model":"gpt-5.5","prompt":prompt,"stream":true})).unwrap();
        let input = &p.upstream.body["input"];
        assert_eq!(input.as_array().unwrap().len(), 1, "{input}");
        assert_eq!(input[0]["role"], "user");
        assert_eq!(input[0]["content"][0]["text"], "Say hi");
        assert!(p.upstream.client_stream);
        assert_eq!(p.upstream.body["store"], false);
    }
}

#[test]
fn values_clients_send_by_default_count_as_absent() {
    let p = prepare(json!({
        "model":"gpt-5.5","prompt":"x","logprobs":null,"n":1,"best_of":1,
        "echo":false,"suffix":null,"stop":null
    }))
    .unwrap();
    assert!(p.upstream.ignored_parameters.is_empty());
    prepare(
        json!({"model":"m","prompt":"x","suffix":"","stop":[],"n":null,"best_of":null,"echo":null}),
    )
    .unwrap();
}

#[test]
fn what_a_chat_model_cannot_do_is_refused_naming_the_parameter() {
    let cases = [
        (json!({"logprobs": 0}), "logprobs"),
        (json!({"logprobs": 5}), "logprobs"),
        (json!({"n": 2}), "n"),
        (json!({"best_of": 3}), "best_of"),
        (json!({"echo": true}), "echo"),
        (json!({"suffix": "}"}), "suffix"),
        (json!({"stop": "\n"}), "stop"),
        (json!({"stop": ["END"]}), "stop"),
        (json!({"prompt": [1, 2, 3]}), "prompt"),
        (json!({"prompt": [[1, 2]]}), "prompt"),
        (json!({"prompt": ["a", "b"]}), "prompt"),
        (json!({"prompt": []}), "prompt"),
    ];
    for (extra, param) in cases {
        let mut body = json!({"model":"gpt-5.5","prompt":"x"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let err = prepare(body.clone()).expect_err(&body.to_string());
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {}", err.message);
        assert_eq!(err.code.as_deref(), Some("unsupported_parameter"), "{body}");
    }
    let err = prepare(json!({"model":"gpt-5.5"})).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("prompt"));
    let err = prepare(json!({"model":"gpt-5.5","prompt":"x","messages":[]})).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages"));
}

#[test]
fn max_tokens_and_sampling_are_removed_and_disclosed_as_on_chat() {
    let p = prepare(json!({
        "model":"gpt-5.5","prompt":"x","max_tokens":16,"temperature":0.2,"top_p":1,"seed":4
    }))
    .unwrap();
    assert_eq!(
        p.upstream.ignored_parameters,
        ["max_tokens", "temperature", "top_p", "seed"]
    );
    for key in ["max_tokens", "temperature", "top_p", "seed"] {
        assert!(!p.upstream.body.contains_key(key), "{key}");
    }
}

fn assembled(transcript: &str) -> Value {
    let mut assembler = ResponseAssembler::new();
    for event in crate::translate::fixtures::events(transcript) {
        assembler.on_event(&event);
    }
    assembler.into_response()
}

#[test]
fn a_finished_response_is_a_text_completion() {
    let p = prepare(json!({"model":"gpt-5.5","prompt":"x"})).unwrap();
    let out = p.dialect.finish(assembled(SSE_TEXT_REASONING), &answer());
    assert_eq!(out["object"], "text_completion");
    assert!(out["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(out["model"], "gpt-5.5");
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert!(!out["choices"][0]["text"].as_str().unwrap().is_empty());
    assert!(out["choices"][0]["logprobs"].is_null());
    assert!(out["usage"]["total_tokens"].as_u64().is_some());
    let cut = Completions {
        info: ChatRequestInfo::default(),
    }
    .finish(assembled(SSE_INCOMPLETE), &answer());
    assert_eq!(cut["choices"][0]["finish_reason"], "length");
    assert_eq!(cut["choices"][0]["text"], "The answer is long and");
}

fn stream(transcript: &str, include_usage: bool) -> (Vec<Value>, bool, Option<StreamStep>) {
    let mut t = CompletionStream::new(&answer(), include_usage);
    let mut out = StreamOut::Empty;
    let mut last = None;
    for event in upstream_events(transcript) {
        let step = t.on_event(&event, &mut out);
        if step != StreamStep::Continue {
            last = Some(step);
            break;
        }
    }
    let bytes = out.into_bytes().unwrap_or_default();
    let (chunks, done) = chat_chunks(&bytes);
    (chunks, done, last)
}

#[test]
fn a_stream_is_text_completion_chunks_ending_in_done() {
    let (chunks, done, last) = stream(SSE_TEXT_REASONING, false);
    assert_eq!(last, Some(StreamStep::Finished));
    assert!(done);
    let text: String = chunks
        .iter()
        .map(|c| c["choices"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        text,
        assembled(SSE_TEXT_REASONING)["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "message")
            .map(|i| message_text(i).0)
            .collect::<Vec<_>>()
            .join(MESSAGE_SEPARATOR)
    );
    let finishes: Vec<_> = chunks
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finishes.len(), 1);
    assert_eq!(finishes[0]["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn include_usage_adds_a_usage_chunk_and_length_is_reported() {
    let (chunks, done, _) = stream(SSE_INCOMPLETE, true);
    assert!(done);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 14);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(finish["usage"].is_null());
}

#[test]
fn an_upstream_failure_stops_the_stream_for_an_in_band_error() {
    let (_, done, last) = stream(SSE_FAILED, false);
    assert!(!done);
    assert!(matches!(last, Some(StreamStep::Failed { .. })), "{last:?}");
    let mut t = CompletionStream::new(&answer(), false);
    let mut out = StreamOut::Empty;
    t.on_failure(
        &StreamFailure {
            status: 502,
            kind: "api_error",
            code: Some("stream_incomplete"),
            message: "cut",
        },
        &mut out,
    );
    let text = String::from_utf8(out.into_bytes().unwrap().to_vec()).unwrap();
    assert!(
        text.starts_with("data: {\"error\":") && !text.contains("[DONE]"),
        "{text}"
    );
}
