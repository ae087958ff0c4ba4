//! Stateful Responses with real clients (issue 16): the OpenAI Agents SDK for
//! Python and for JavaScript chain runs by `previous_response_id`, run on a
//! conversation and on a server-managed conversation session, each with a tool
//! call in the middle of the second turn; the OpenAI Python SDK drives retrieval,
//! input items, deletion, the Conversations API and a chain across a restart.

use super::runner::{Ran, node_script, python_script};
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::Value;

async fn python(r: &Relay, script: &str) -> Ran {
    python_script(script, &r.url("/v1"), &r.token).await
}

async fn node(r: &Relay, script: &str) -> Ran {
    node_script(script, &r.url("/v1"), &r.token).await
}

/// Every text an upstream request carries: message parts and tool outputs.
fn texts(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for item in body["input"].as_array().into_iter().flatten() {
        match &item["content"] {
            Value::String(s) => out.push(s.clone()),
            Value::Array(parts) => {
                out.extend(parts.iter().filter_map(|p| p["text"].as_str()).map(String::from))
            }
            _ => {}
        }
        if let Some(o) = item["output"].as_str() {
            out.push(o.to_string());
        }
        if item["type"] == "function_call" {
            out.push(format!("call:{}", item["name"].as_str().unwrap_or("")));
        }
    }
    out
}

/// The upstream request that ended the second run of `marker`: the one whose last
/// item is the tool's output. It carries the first run's messages, the call and
/// the output: one whole conversation, though the client sent only the output.
fn assert_second_turn_is_whole(r: &Relay, marker: &str) {
    let bodies = r.upstream_bodies();
    let body = bodies
        .iter()
        .filter(|b| texts(b).iter().any(|t| t.starts_with(&format!("{marker} RUN_TOOL"))))
        .find(|b| b["input"].as_array().and_then(|i| i.last()).is_some_and(|i| i["type"] == "function_call_output"))
        .unwrap_or_else(|| panic!("no upstream request ends {marker}'s tool call: {bodies:#?}"));
    let t = texts(body);
    let pos = |s: &str| t.iter().position(|x| x.starts_with(s)).unwrap_or_else(|| panic!("{s} missing from {t:?}"));
    assert!(pos(&format!("{marker} first question")) < pos("pong"), "{t:?}");
    assert!(pos("pong") < pos(&format!("{marker} RUN_TOOL")), "{t:?}");
    assert!(pos(&format!("{marker} RUN_TOOL")) < pos("call:get_secret"), "{t:?}");
    assert_eq!(t.last().map(String::as_str), Some("TOOL_OUTPUT_7f3"), "{t:?}");
    assert_eq!(body["store"], false);
    assert!(body.get("previous_response_id").is_none() && body.get("conversation").is_none());
}

#[tokio::test]
async fn python_agents_sdk_chains_converses_and_keeps_a_session() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "agents_stateful.py").await.json();
    assert_eq!(out["chain"]["second"], "tool said: TOOL_OUTPUT_7f3", "{out}");
    assert_eq!(out["conversation"]["second"], "tool said: TOOL_OUTPUT_7f3", "{out}");
    assert_eq!(out["session"]["second"], "tool said: TOOL_OUTPUT_7f3", "{out}");
    // Two whole turns in the conversation: message, answer; message, call, output, answer.
    assert_eq!(
        out["conversation"]["items"],
        serde_json::json!(["message", "message", "message", "function_call", "function_call_output", "message"]),
        "{out}"
    );
    for marker in ["CHAIN", "CONV", "SESSION"] {
        assert_second_turn_is_whole(&r, marker);
    }
}

#[tokio::test]
async fn js_agents_sdk_chains_and_keeps_a_session() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = node(&r, "agents_stateful.mjs").await.json();
    assert_eq!(out["chain"]["second"], "tool said: TOOL_OUTPUT_7f3", "{out}");
    assert_eq!(out["session"]["second"], "tool said: TOOL_OUTPUT_7f3", "{out}");
    for marker in ["CHAIN", "SESSION"] {
        assert_second_turn_is_whole(&r, marker);
    }
}
