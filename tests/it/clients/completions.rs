//! Legacy `POST /v1/completions` through real clients: the OpenAI Python SDK
//! (`completions.create`, streamed and not) and LangChain's `OpenAI` completion
//! LLM, against the relay and the mock upstream.

use super::runner::python_script;
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::Value;

#[tokio::test]
async fn python_sdk_and_langchain_use_legacy_completions() {
    let r = Relay::start(RelayOptions::default()).await;
    let seen = python_script("completions.py", &r.url("/v1"), &r.token)
        .await
        .json();

    let create = &seen["create"];
    assert_eq!(create["object"], "text_completion", "{seen}");
    assert!(create["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(create["text"], "pong");
    assert_eq!(create["finish_reason"], "stop");
    assert!(create["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let chunks = seen["stream"].as_array().unwrap();
    let (usage, body) = chunks.split_last().unwrap();
    assert_eq!(usage["choices"], Value::Array(vec![]));
    assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let text: String = body
        .iter()
        .map(|c| c["choices"][0]["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(text.len(), 250, "{text}");
    let finishes: Vec<_> = body
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["stop"]);
    assert!(
        body.iter()
            .all(|c| c["object"] == "text_completion" && c["id"] == body[0]["id"])
    );

    assert_eq!(seen["echo"]["status"], 400, "{seen}");
    assert_eq!(seen["echo"]["param"], "echo");
    assert_eq!(seen["langchain_invoke"], "hello from langchain");
    assert_eq!(seen["langchain_stream"].as_str().unwrap().len(), 120);

    // What reached the upstream: the prompt as one user message, stored nowhere,
    // and no output-token limit (the backend rejects it).
    let bodies = r.upstream_bodies();
    assert_eq!(
        bodies.len(),
        4,
        "the refused request never reaches the upstream"
    );
    for body in &bodies {
        assert_eq!(body["store"], false);
        assert!(body.get("max_tokens").is_none() && body.get("max_output_tokens").is_none());
        let input = body["input"].as_array().unwrap();
        assert_eq!(input.len(), 1, "{body}");
        assert_eq!(input[0]["role"], "user");
    }
}

#[tokio::test]
async fn legacy_completions_disclose_and_refuse_over_http() {
    let r = Relay::start(RelayOptions::default()).await;
    let client = reqwest::Client::new();
    let resp = client
        .post(r.url("/v1/completions"))
        .bearer_auth(&r.token)
        .json(&serde_json::json!({"model":"gpt-5.5","prompt":"say pong","max_tokens":5,"temperature":0.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-airelays-ignored-parameters"],
        "max_tokens,temperature"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["text"], "pong");
    for (extra, param) in [
        (serde_json::json!({"logprobs": 0}), "logprobs"),
        (serde_json::json!({"suffix": "x"}), "suffix"),
        (serde_json::json!({"prompt": [1, 2]}), "prompt"),
        (serde_json::json!({"best_of": 2}), "best_of"),
    ] {
        let mut req = serde_json::json!({"model":"gpt-5.5","prompt":"x"});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let resp = client
            .post(r.url("/v1/completions"))
            .bearer_auth(&r.token)
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{req}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["param"], param, "{err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
}
