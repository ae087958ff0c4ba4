//! `/v1/responses` through the relay: non-streamed answers (text, reasoning, tools)
//! and byte-faithful streaming.

use crate::harness::relay::{Relay, RelayOptions, sse_events};
use serde_json::{Value, json};

#[tokio::test]
async fn responses_non_streaming_text_reasoning_and_tools() {
    let r = Relay::start(RelayOptions::default()).await;
    let resp = r.post("/v1/responses", &json!({"model": "GPT-5.5", "input": "REASON say hi", "temperature": 0.2, "max_output_tokens": 10})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-airelays-ignored-parameters"],
        "temperature,max_output_tokens"
    );
    assert!(resp.headers().contains_key("x-codex-primary-used-percent"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "completed");
    let kinds: Vec<&str> = body["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["reasoning", "message"]);
    assert_eq!(body["output"][1]["content"][0]["text"], "pong");

    let sent = r
        .mock()
        .state()
        .last_request_to("/backend-api/codex/responses")
        .unwrap();
    assert_eq!(sent.body["model"], "gpt-5.5", "catalogue spelling upstream");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["store"], false);
    assert!(sent.body.get("temperature").is_none());
    assert!(
        sent.body["instructions"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(sent.header("originator"), Some("codex_cli_rs"));
    assert!(
        sent.header("user-agent")
            .unwrap()
            .starts_with("codex_cli_rs/")
    );
    assert_eq!(
        sent.header("chatgpt-account-id"),
        Some("11111111-2222-3333-4444-555555555555")
    );

    let tools = json!([{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}]);
    let body: Value = r
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "PARALLEL_TOOLS", "tools": tools}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls: Vec<&Value> = body["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call")
        .collect();
    assert_eq!(calls.len(), 2, "{body}");
    assert_ne!(calls[0]["call_id"], calls[1]["call_id"]);
}

#[tokio::test]
async fn responses_streaming_is_byte_faithful() {
    let r = Relay::start(RelayOptions::default()).await;
    let tools =
        json!([{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]);
    let resp = r
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "RUN_TOOL", "tools": tools, "stream": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"));
    let events = sse_events(&text);
    for (name, data) in &events {
        assert_eq!(
            name.as_deref(),
            data["type"].as_str(),
            "event: line matches data.type"
        );
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, d)| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    assert!(kinds.contains(&"response.function_call_arguments.delta"));
    let done = events
        .iter()
        .find(|(_, d)| d["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done.1["item"]["name"], "exec_command");
    // Sequence numbers pass through untouched.
    let seqs: Vec<u64> = events
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}
