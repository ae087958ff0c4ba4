//! Stateful Responses with real clients (issue 16): the OpenAI Agents SDK for
//! Python and for JavaScript chain runs by `previous_response_id`, run on a
//! conversation and on a server-managed conversation session, each with a tool
//! call in the middle of the second turn; the OpenAI Python SDK drives retrieval,
//! input items, deletion, the Conversations API and a chain across a restart.

use super::runner::{Ran, node_script, python_script, python_script_with};
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::{Value, json};

async fn python(r: &Relay, script: &str) -> Ran {
    python_script(script, &r.url("/v1"), &r.token).await
}

async fn node(r: &Relay, script: &str) -> Ran {
    node_script(script, &r.url("/v1"), &r.token).await
}

/// Every text an upstream request carries: message parts, tool outputs, calls.
fn texts(body: &Value) -> Vec<String> {
    crate::harness::relay::input_texts(body, true)
}

/// The upstream request that ended the second run of `marker`: the one whose last
/// item is the tool's output. It carries the first run's messages, the call and
/// the output: one whole conversation, though the client sent only the output.
fn assert_second_turn_is_whole(r: &Relay, marker: &str) {
    let bodies = r.upstream_bodies();
    let body = bodies
        .iter()
        .filter(|b| {
            texts(b)
                .iter()
                .any(|t| t.starts_with(&format!("{marker} RUN_TOOL")))
        })
        .find(|b| {
            b["input"]
                .as_array()
                .and_then(|i| i.last())
                .is_some_and(|i| i["type"] == "function_call_output")
        })
        .unwrap_or_else(|| panic!("no upstream request ends {marker}'s tool call: {bodies:#?}"));
    let t = texts(body);
    let pos = |s: &str| {
        t.iter()
            .position(|x| x.starts_with(s))
            .unwrap_or_else(|| panic!("{s} missing from {t:?}"))
    };
    assert!(
        pos(&format!("{marker} first question")) < pos("pong"),
        "{t:?}"
    );
    assert!(pos("pong") < pos(&format!("{marker} RUN_TOOL")), "{t:?}");
    assert!(
        pos(&format!("{marker} RUN_TOOL")) < pos("call:get_secret"),
        "{t:?}"
    );
    assert_eq!(
        t.last().map(String::as_str),
        Some("TOOL_OUTPUT_7f3"),
        "{t:?}"
    );
    assert_eq!(body["store"], false);
    assert!(body.get("previous_response_id").is_none() && body.get("conversation").is_none());
}

#[tokio::test]
async fn python_agents_sdk_chains_converses_and_keeps_a_session() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "agents_stateful.py").await.json();
    assert_eq!(
        out["chain"]["second"], "tool said: TOOL_OUTPUT_7f3",
        "{out}"
    );
    assert_eq!(
        out["conversation"]["second"], "tool said: TOOL_OUTPUT_7f3",
        "{out}"
    );
    assert_eq!(
        out["session"]["second"], "tool said: TOOL_OUTPUT_7f3",
        "{out}"
    );
    // Two whole turns in the conversation: message, answer; message, call, output, answer.
    assert_eq!(
        out["conversation"]["items"],
        json!([
            "message",
            "message",
            "message",
            "function_call",
            "function_call_output",
            "message"
        ]),
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
    assert_eq!(
        out["chain"]["second"], "tool said: TOOL_OUTPUT_7f3",
        "{out}"
    );
    assert_eq!(
        out["session"]["second"], "tool said: TOOL_OUTPUT_7f3",
        "{out}"
    );
    for marker in ["CHAIN", "SESSION"] {
        assert_second_turn_is_whole(&r, marker);
    }
}

#[tokio::test]
async fn python_sdk_retrieves_pages_deletes_converses_and_chains_across_a_restart() {
    let mut r = Relay::start(RelayOptions::default()).await;
    let out = python_script_with("stateful.py", &["before"], &r.url("/v1"), &r.token)
        .await
        .json();
    assert_eq!(out["retrieve"]["text"], "pong", "{out}");
    assert_eq!(out["retrieve"]["status"], "completed", "{out}");
    assert!(
        out["retrieve"]["previous"]
            .as_str()
            .is_some_and(|p| p.starts_with("resp_")),
        "{out}"
    );
    assert_eq!(
        out["first_page"],
        json!({"count": 2, "has_more": true}),
        "{out}"
    );
    assert_eq!(
        out["all_items"],
        json!(["item 0", "item 1", "item 2", "item 3", "item 4"])
    );
    assert_eq!(
        out["desc_items"],
        json!(["item 4", "item 3", "item 2", "item 1", "item 0"])
    );
    assert_eq!(
        out["deleted"],
        json!({"class": "NotFoundError", "status": 404})
    );
    assert_eq!(out["unknown"]["class"], "BadRequestError");
    assert_eq!(out["unknown"]["code"], "previous_response_not_found");
    assert_eq!(out["unknown"]["param"], "previous_response_id");
    assert!(
        out["conversation"]["id"]
            .as_str()
            .unwrap()
            .starts_with("conv_")
    );
    assert_eq!(out["conversation"]["object"], "conversation");
    assert_eq!(out["conversation_retrieved"], json!({"topic": "demo"}));
    assert_eq!(out["conversation_updated"], json!({"topic": "changed"}));
    assert_eq!(out["item_retrieved"], "CONVO extra");
    assert_eq!(
        out["conversation_items"],
        json!([
            ["user", "CONVO hello"],
            ["user", "CONVO next"],
            ["assistant", "pong"]
        ])
    );
    assert_eq!(out["conversation_deleted"], true);
    assert_eq!(out["conversation_gone"], 404);
    // The conversation's answer went upstream with the remaining history only.
    let conv = r
        .upstream_bodies()
        .into_iter()
        .find(|b| texts(b).iter().any(|t| t == "CONVO next"))
        .unwrap();
    assert_eq!(texts(&conv), ["CONVO hello", "CONVO next"]);

    // A restart: the chain is read back from the database.
    assert_eq!(r.terminate(), Some(0));
    r.spawn();
    let last = out["chain_last"].as_str().unwrap();
    let after = python_script_with("stateful.py", &["after", last], &r.url("/v1"), &r.token)
        .await
        .json();
    assert_eq!(after["after"]["text"], "pong", "{after}");
    let body = r.upstream_bodies().pop().unwrap();
    let mut want = vec!["STATE first", "pong", "STATE second", "pong"];
    let items: Vec<String> = (0..5).map(|i| format!("item {i}")).collect();
    want.extend(items.iter().map(String::as_str));
    want.extend(["pong", "STATE after restart"]);
    assert_eq!(texts(&body), want);
}
