//! Timing of the translation layer on large inputs (`cargo bench --bench translate`).
//!
//! - a generated 2 MB chat request (200 messages, 24 tools) through
//!   `chat_request::prepare`, compared with parsing and serialising the same body;
//! - a generated 2 MB Claude Code history (the shape Claude Code sends: system blocks
//!   with its billing header, 40 tools with `input_schema` and `cache_control`, tool
//!   rounds) through `Messages::prepare_with`;
//! - a 1 MB answer of 10,000 upstream deltas through `ChatStreamTranslator` and
//!   `MessagesStream`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use airelays::translate::chat_request;
use airelays::translate::chat_response::ChatContext;
use airelays::translate::chat_stream::ChatStreamTranslator;
use airelays::translate::messages::{Messages, MessagesOptions, MessagesStream};
use airelays::translate::{DEFAULT_UNSUPPORTED_PARAMETERS, TranslateOptions};
use serde_json::{Value, json};

fn chat_body() -> Vec<u8> {
    let filler = "The quick brown fox jumps over the lazy dog; ".repeat(295);
    let mut messages = vec![json!({"role":"system","content":"You are a careful coding agent."})];
    for i in 0..199 {
        let message = match i % 4 {
            0 => json!({"role":"user","content":format!("Question {i}: {filler}")}),
            1 => json!({"role":"assistant","content":null,"tool_calls":[{
                "id":format!("call_{i}"),"type":"function",
                "function":{"name":"read","arguments":json!({"path":format!("src/{i}.rs")}).to_string()}}]}),
            2 => json!({"role":"tool","tool_call_id":format!("call_{}", i - 1),"content":filler}),
            _ => json!({"role":"assistant","content":format!("Answer {i}: {filler}")}),
        };
        messages.push(message);
    }
    let tools: Vec<Value> = (0..24)
        .map(|t| {
            json!({"type":"function","function":{
                "name":format!("tool_{t}"),
                "description":"Does one thing well. ".repeat(20),
                "parameters":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
                    "properties":{"path":{"type":"string"},"limit":{"type":"number"},
                        "options":{"type":"object","properties":{"recursive":{"type":"boolean"}}}},
                    "required":["path"],"additionalProperties":false},
                "strict": t % 2 == 0}})
        })
        .collect();
    let body = json!({"model":"gpt-5.5","messages":messages,"tools":tools,"tool_choice":"auto",
        "stream":true,"stream_options":{"include_usage":true},"max_tokens":32000,"temperature":0});
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A Claude Code request of about 2 MB: system blocks (the billing header first), 40
/// tools, and a history of text turns and tool rounds.
fn claude_code_body() -> Vec<u8> {
    let filler = "The quick brown fox jumps over the lazy dog; ".repeat(295);
    let mut messages = Vec::new();
    for i in 0..199 {
        let message = match i % 4 {
            0 => {
                json!({"role":"user","content":[{"type":"text","text":format!("Question {i}: {filler}")}]})
            }
            1 => json!({"role":"assistant","content":[
                {"type":"text","text":"Let me look."},
                {"type":"tool_use","id":format!("toolu_{i}"),"name":"Read","input":{"file_path":format!("src/{i}.rs")}}]}),
            2 => {
                json!({"role":"user","content":[{"type":"tool_result","tool_use_id":format!("toolu_{}", i - 1),"content":filler}]})
            }
            _ => {
                json!({"role":"assistant","content":[{"type":"text","text":format!("Answer {i}: {filler}")}]})
            }
        };
        messages.push(message);
    }
    let tools: Vec<Value> = (0..40)
        .map(|t| {
            json!({"name":format!("Tool{t}"),"description":"Does one thing well. ".repeat(20),
                "input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
                    "properties":{"file_path":{"type":"string"},"limit":{"type":"number"}},
                    "required":["file_path"],"additionalProperties":false},
                "cache_control":{"type":"ephemeral"}})
        })
        .collect();
    let body = json!({"model":"claude-sonnet-4-5","max_tokens":32000,"stream":true,
        "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli; cch=0f3a;"},
                  {"type":"text","text":"You are Claude Code, a careful coding agent.","cache_control":{"type":"ephemeral"}}],
        "messages":messages,"tools":tools,"thinking":{"type":"adaptive"},
        "metadata":{"user_id":"user_0_account_1_session_2c7d0e0a-0000-4000-8000-000000000000"}});
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The upstream `data:` lines of one streamed answer, and the answer's length.
fn stream_events() -> (Vec<String>, usize) {
    let mut lines = vec![
        json!({"type":"response.created","response":{"id":"resp_b","status":"in_progress","output":[]}}).to_string(),
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_b","type":"message","role":"assistant","content":[]}}).to_string(),
    ];
    // About 100 bytes per delta: a 1 MB answer.
    let piece = "lorem ipsum dolor sit amet, consectetur adipiscing elit; \"quoted\" text and\nnew lines, é, 😀, ok. ";
    let mut answer = 0;
    for n in 0..10_000 {
        // Trimming at most 6 ASCII bytes off the end keeps every delta valid UTF-8.
        let delta = piece.get(..piece.len() - n % 7).unwrap_or(piece);
        answer += delta.len();
        lines.push(
            json!({"type":"response.output_text.delta","sequence_number":n,"item_id":"msg_b",
                "output_index":0,"content_index":0,"delta":delta,"logprobs":[]})
            .to_string(),
        );
    }
    lines.push(json!({"type":"response.completed","response":{"id":"resp_b","status":"completed","output":[],
        "usage":{"input_tokens":100,"output_tokens":20000,"total_tokens":20100}}}).to_string());
    (lines, answer)
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    let count = u32::try_from(samples.len()).unwrap_or(u32::MAX).max(1);
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    println!(
        "{label:<58} mean {:>9.3} ms   median {:>9.3} ms   ({} runs)",
        (total / count).as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        samples.len()
    );
}

/// `cargo test --all-targets` runs this file as a smoke test (one pass, no
/// timing); `cargo bench` passes `--bench` and gets the real measurement.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn time(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let runs = if measuring() { runs } else { 1 };
    f();
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect()
}

fn main() {
    let unsupported: Vec<String> = DEFAULT_UNSUPPORTED_PARAMETERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let opts = TranslateOptions {
        unsupported_parameters: &unsupported,
        default_instructions: "Be helpful.",
        reasoning_summaries: false,
    };

    let body = chat_body();
    println!("chat request: {} bytes, 200 messages, 24 tools", body.len());
    report(
        "baseline: serde_json parse only",
        time(60, || {
            black_box(serde_json::from_slice::<Value>(black_box(&body)).ok());
        }),
    );
    report(
        "chat_request::prepare",
        time(60, || {
            black_box(chat_request::prepare(black_box(&body), &opts).ok());
        }),
    );
    report(
        "chat_request::prepare + serialise upstream body",
        time(60, || {
            if let Ok((req, _)) = chat_request::prepare(black_box(&body), &opts) {
                black_box(serde_json::to_vec(&req.body).ok());
            }
        }),
    );

    let (lines, answer) = stream_events();
    let bytes: usize = lines.iter().map(String::len).sum();
    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ctx = ChatContext {
        id: "chatcmpl-bench".to_owned(),
        created: 1_761_000_000,
        model: "gpt-5.5".to_owned(),
        include_usage: true,
        reasoning_output: false,
    };
    let mut produced = 0;
    println!(
        "stream: {} events, {answer} bytes of answer text, {bytes} bytes of upstream SSE data",
        events.len(),
    );
    report(
        "ChatStreamTranslator (parsed events)",
        time(30, || {
            let mut translator = ChatStreamTranslator::new(ctx.clone());
            let mut out = Vec::with_capacity(4 << 20);
            for event in &events {
                translator.on_json(event, &mut out);
            }
            produced = out.len();
            black_box(out);
        }),
    );
    report(
        "parse data lines + ChatStreamTranslator",
        time(30, || {
            let mut translator = ChatStreamTranslator::new(ctx.clone());
            let mut out = Vec::with_capacity(4 << 20);
            for line in &lines {
                if let Ok(event) = serde_json::from_str::<Value>(line) {
                    translator.on_json(&event, &mut out);
                }
            }
            black_box(out);
        }),
    );
    println!("stream output: {produced} bytes of chat SSE");

    let claude = claude_code_body();
    println!(
        "Claude Code request: {} bytes, 199 messages, 40 tools",
        claude.len()
    );
    let session = MessagesOptions::default();
    report(
        "Messages::prepare_with (Claude Code history)",
        time(60, || {
            black_box(Messages::prepare_with(black_box(&claude), &opts, &session).ok());
        }),
    );
    report(
        "Messages::prepare_with + serialise upstream body",
        time(60, || {
            if let Ok(p) = Messages::prepare_with(black_box(&claude), &opts, &session) {
                black_box(serde_json::to_vec(&p.upstream.body).ok());
            }
        }),
    );
    let mut anthropic_bytes = 0;
    report(
        "MessagesStream (parsed events)",
        time(30, || {
            let mut translator = MessagesStream::new(
                "msg_b".into(),
                "claude-sonnet-4-5",
                "default".into(),
                false,
                100,
            );
            let mut out = Vec::with_capacity(4 << 20);
            for event in &events {
                translator.on_json(event, &mut out);
            }
            anthropic_bytes = out.len();
            black_box(out);
        }),
    );
    println!("Messages stream output: {anthropic_bytes} bytes of Anthropic SSE");
}
