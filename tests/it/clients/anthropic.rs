//! The Anthropic Messages API through the official Anthropic Python SDK, against
//! the relay and the mock upstream: what the client saw, and what reached the
//! upstream (no billing header in the instructions, tool outputs paired by id,
//! thinking replayed as encrypted reasoning, the `claude-*` alias resolved).

use super::runner::python_script;
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::Value;

#[tokio::test]
async fn anthropic_python_sdk_speaks_messages() {
    let r = Relay::start(RelayOptions::default()).await;
    let seen = python_script("anthropic_messages.py", &r.url("/v1"), &r.token)
        .await
        .json();

    let create = &seen["create"];
    assert_eq!(create["type"], "message", "{seen}");
    assert!(create["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        create["model"], "claude-sonnet-4-5",
        "the answer echoes the requested id"
    );
    assert_eq!(
        (create["text"].as_str(), create["stop_reason"].as_str()),
        (Some("pong"), Some("end_turn"))
    );
    assert!(create["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let keyed = &seen["keyed"];
    assert_eq!(keyed["text"], "pong", "x-api-key carries the relay token");
    assert_eq!(keyed["ignored"], "max_tokens,temperature");
    let upstream_model = keyed["upstream_model"].as_str().unwrap();
    assert!(!upstream_model.starts_with("claude"), "{upstream_model}");
    assert!(keyed["request_id"].as_str().unwrap().starts_with("req_"));

    let stream = &seen["stream"];
    assert_eq!(stream["text"].as_str().unwrap().len(), 250);
    let events: Vec<&str> = stream["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(events.first(), Some(&"message_start"));
    assert_eq!(events.last(), Some(&"message_stop"));
    assert_eq!(stream["stop_reason"], "end_turn");

    let tools = &seen["tools"];
    assert_eq!(
        (tools["stop_reason"].as_str(), tools["name"].as_str()),
        (Some("tool_use"), Some("lookup"))
    );
    assert!(tools["input"].is_object(), "{tools}");
    assert!(
        tools["follow_up"]
            .as_str()
            .unwrap()
            .starts_with("tool said:"),
        "{tools}"
    );

    let thinking = &seen["thinking"];
    assert!(
        thinking["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "thinking"),
        "{thinking}"
    );
    assert!(
        thinking["signature"]
            .as_str()
            .unwrap()
            .starts_with("airelays1.")
    );

    let models: Vec<&str> = seen["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        models.contains(&"claude-sonnet") && models.contains(&"claude-opus"),
        "{models:?}"
    );

    assert_eq!(seen["wrong_token"]["status"], 401, "{seen}");
    assert!(
        seen["wrong_token"]["message"]
            .as_str()
            .unwrap()
            .contains("ANTHROPIC_AUTH_TOKEN")
    );
    assert_eq!(seen["unknown_model"]["status"], 404, "{seen}");
    let quota = &seen["quota"];
    assert_eq!(
        (quota["class"].as_str(), quota["status"].as_u64()),
        (Some("RateLimitError"), Some(429)),
        "{quota}"
    );
    assert_eq!(quota["type"], "rate_limit_error");
    assert_eq!(
        quota["should_retry"], "false",
        "a usage limit is not retried: {quota}"
    );
    assert!(quota["retry_after"].as_str().is_some(), "{quota}");
    let overloaded = &seen["overloaded"];
    assert_eq!(overloaded["status"], 529, "{overloaded}");
    assert_eq!(overloaded["type"], "overloaded_error");

    let bodies = r.upstream_bodies();
    for body in &bodies {
        assert_eq!(
            (body["store"].as_bool(), body["stream"].as_bool()),
            (Some(false), Some(true))
        );
        assert!(
            !body["model"].as_str().unwrap().starts_with("claude"),
            "{body}"
        );
        assert!(
            !body["instructions"]
                .as_str()
                .unwrap_or("")
                .contains("x-anthropic-billing-header")
        );
        assert!(body.get("max_tokens").is_none() && body.get("max_output_tokens").is_none());
    }
    let follow_up = bodies
        .iter()
        .find(|b| {
            b["input"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["type"] == "function_call_output")
        })
        .expect("the tool result reached the upstream");
    let output = follow_up["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .unwrap();
    assert_eq!(output["call_id"], tools["id"]);
    let replayed = bodies.iter().any(|b| {
        b["input"].as_array().unwrap().iter().any(|i| {
            i["type"] == "reasoning"
                && i["encrypted_content"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty())
        })
    });
    assert!(
        replayed,
        "the thinking turn's encrypted reasoning is replayed upstream"
    );
}

#[tokio::test]
async fn anthropic_routes_answer_in_anthropics_envelope_and_openai_clients_keep_theirs() {
    let r = Relay::start(RelayOptions::default()).await;
    let http = reqwest::Client::new();
    let resp = http
        .post(r.url("/v1/messages?beta=true"))
        .json(&serde_json::json!({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "authentication_error");

    let resp = http
        .post(r.url("/v1/messages"))
        .bearer_auth(&r.token)
        .json(&serde_json::json!({"model":"claude-sonnet-4-5","max_tokens":10,"stop_sequences":["END"],"messages":[{"role":"user","content":"hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stop_sequences")
    );

    let openai: Value = r
        .get("/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list", "{openai}");
    let anthropic: Value = r
        .get("/v1/models")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["data"][0]["type"], "model", "{anthropic}");
    assert!(anthropic.get("has_more").is_some());
    let one: Value = r
        .get("/v1/models/claude-sonnet")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "claude-sonnet", "{one}");

    // The relay status shows the alias map it resolved.
    let status = r.relay_status().await;
    let aliases = status["anthropic"]["aliases"]
        .as_array()
        .expect("anthropic.aliases");
    let opus = aliases
        .iter()
        .find(|a| a["match"] == "opus")
        .expect("the opus rule");
    assert_eq!(opus["effort"], "high", "{status}");
    assert!(!opus["model"].as_str().unwrap().starts_with("claude"));
}

#[tokio::test]
async fn anthropic_typescript_sdk_and_the_ai_sdk_provider_speak_messages() {
    let r = Relay::start(RelayOptions::default()).await;
    let seen = super::runner::node_script("anthropic_sdk.mjs", &r.url("/v1"), &r.token)
        .await
        .json();
    assert_eq!(seen["create"]["text"], "pong", "{seen}");
    assert_eq!(seen["create"]["model"], "claude-sonnet-4-5");
    assert_eq!(seen["stream"]["text_length"], 300);
    assert_eq!(seen["tools"]["stop_reason"], "tool_use");
    assert!(
        seen["tools"]["follow_up"]
            .as_str()
            .unwrap()
            .starts_with("tool said:")
    );
    assert_eq!(seen["image"], "pong");
    assert!(
        seen["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "claude-haiku")
    );
    assert_eq!(seen["wrong_token"]["status"], 401, "{seen}");
    assert_eq!(seen["wrong_token"]["class"], "AuthenticationError");
    assert_eq!(seen["unknown_model"]["status"], 404);
    assert_eq!(seen["unknown_model"]["class"], "NotFoundError");
    assert_eq!(seen["quota"]["status"], 429, "{seen}");
    assert_eq!(seen["quota"]["class"], "RateLimitError");
    assert_eq!(seen["overloaded"]["status"], 529, "{seen}");
    assert!(
        (200..2_000).contains(&seen["count"].as_u64().unwrap()),
        "{seen}"
    );
    let ai = &seen["ai_sdk"];
    assert_eq!(ai["text"], "pong", "{ai}");
    assert_eq!(ai["stream_length"], 200);
    assert_eq!(
        ai["executed"],
        serde_json::json!(["echo tool-ok-42"]),
        "{ai}"
    );
    assert!(
        ai["loop_text"].as_str().unwrap().starts_with("tool said:"),
        "{ai}"
    );

    let image_upstream = r
        .upstream_bodies()
        .into_iter()
        .find(|b| b.to_string().contains("IMAGE_MARKER"))
        .expect("the image request");
    assert!(
        image_upstream
            .to_string()
            .contains("data:image/png;base64,"),
        "the image reached the upstream as a data URL: {image_upstream}"
    );
}
