//! The official SDKs drive the relay (issues 4, 5 and 6): the OpenAI Python SDK, the
//! OpenAI Node SDK and the Vercel AI SDK, each pinned and installed by
//! `scripts/setup-clients`. Every test starts the real relay against the mock upstream,
//! runs one client script from `tests/clients/`, and checks both what the client saw
//! (the script's JSON) and what reached the mock upstream. The upload-limit and
//! crash tests speak plain HTTP and live in `files`.

use super::runner::{Ran, node_script, python_script};
use crate::harness::relay::{Relay, RelayOptions, last_user_text};
use serde_json::{Value, json};

async fn python(r: &Relay, script: &str) -> Ran {
    python_script(script, &r.url("/v1"), &r.token).await
}

async fn node(r: &Relay, script: &str) -> Ran {
    node_script(script, &r.url("/v1"), &r.token).await
}

/// Every upstream request is what the backend takes: streamed, not stored.
fn assert_upstream_shape(r: &Relay) {
    for body in r.upstream_bodies() {
        assert_eq!(body["stream"], true, "{body}");
        assert_eq!(body["store"], false, "{body}");
        assert!(body["instructions"].is_string(), "{body}");
        assert!(body["input"].is_array(), "{body}");
    }
}

/// Checks a chat stream as the Python or Node SDK parsed it: role first, then content
/// deltas, exactly one finish reason, and (with `include_usage`) a last usage chunk with
/// no choices. Returns the streamed text.
fn check_chat_stream(chunks: &Value, include_usage: bool) -> String {
    let chunks = chunks.as_array().expect("chunks");
    assert!(chunks.len() >= 3, "{chunks:?}");
    let (body, usage_chunk) = if include_usage {
        let (last, body) = chunks.split_last().unwrap();
        (body, Some(last))
    } else {
        (&chunks[..], None)
    };
    assert_eq!(body[0]["choices"][0]["role"], "assistant", "{:?}", body[0]);
    let mut text = String::new();
    let mut finishes = Vec::new();
    for c in body {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], body[0]["id"], "one id for the whole stream");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1, "{c}");
        assert!(c["usage"].is_null(), "usage only in the last chunk: {c}");
        let choice = &c["choices"][0];
        assert!(finishes.is_empty(), "a chunk after the finish reason: {c}");
        text.push_str(choice["content"].as_str().unwrap_or(""));
        if let Some(f) = choice["finish_reason"].as_str() {
            finishes.push(f.to_string());
        }
    }
    assert_eq!(finishes, ["stop"]);
    if let Some(last) = usage_chunk {
        assert_eq!(last["choices"], json!([]), "{last}");
        let usage = &last["usage"];
        let (p, c, t) = (
            usage["prompt_tokens"].as_u64().unwrap(),
            usage["completion_tokens"].as_u64().unwrap(),
            usage["total_tokens"].as_u64().unwrap(),
        );
        assert!(p > 0 && c > 0 && t == p + c, "{usage}");
    }
    text
}

#[tokio::test]
async fn python_sdk_models_and_responses_with_and_without_streaming() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "responses.py").await.json();

    let models: Vec<&str> = out["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(models.contains(&"gpt-5.5"), "{models:?}");

    assert_eq!(out["create"]["output_text"], "pong");
    assert_eq!(out["create"]["status"], "completed");
    assert!(out["create"]["id"].as_str().unwrap().starts_with("resp_"));

    let events: Vec<&str> = out["create_stream"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"response.created"));
    assert_eq!(events.last(), Some(&"response.completed"));
    assert!(events.contains(&"response.output_text.delta"), "{events:?}");
    assert_eq!(out["create_stream"]["text"], "pong");

    let helper = &out["stream_helper"];
    assert_eq!(helper["text"].as_str().unwrap().len(), 250);
    assert_eq!(helper["final_text"], helper["text"]);
    assert_eq!(helper["deltas"], 3, "LONG:250 streams 100-byte deltas");

    let tool = &out["tool_loop"];
    assert_eq!(tool["calls"].as_array().unwrap().len(), 1, "{tool}");
    assert_eq!(tool["calls"][0]["name"], "lookup");
    assert_eq!(tool["calls"][0]["arguments"], json!({}));
    assert_eq!(tool["final_text"], "tool said: tool-ok-42");

    // Upstream: a string input became one user message; the tool round trip carried
    // the call and its output back, matched by call id.
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 5, "one upstream call per SDK call");
    assert_eq!(last_user_text(&bodies[0]), "say pong");
    assert_eq!(bodies[0]["model"], "gpt-5.5");
    let last = bodies.last().unwrap();
    let items = last["input"].as_array().unwrap();
    let call_id = tool["calls"][0]["call_id"].as_str().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["type"] == "function_call" && i["call_id"] == call_id),
        "{last}"
    );
    assert!(
        items.iter().any(|i| i["type"] == "function_call_output"
            && i["call_id"] == call_id
            && i["output"] == "tool-ok-42"),
        "{last}"
    );
    assert_eq!(last["tools"][0]["name"], "lookup");
    assert_upstream_shape(&r);
}

#[tokio::test]
async fn python_sdk_chat_completions_stream_usage_and_tool_loop() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "chat.py").await.json();

    let plain = &out["create"];
    assert_eq!(plain["object"], "chat.completion");
    assert_eq!(
        (plain["role"].as_str(), plain["content"].as_str()),
        (Some("assistant"), Some("pong"))
    );
    assert_eq!(plain["finish_reason"], "stop");
    assert!(
        plain["usage"]["total_tokens"].as_u64().unwrap() > 0,
        "{plain}"
    );

    assert_eq!(check_chat_stream(&out["stream"], true).len(), 250);

    let tool = &out["tool_loop"];
    assert_eq!(tool["finish_reason"], "tool_calls");
    assert!(tool["content"].is_null(), "{tool}");
    assert_eq!(tool["calls"].as_array().unwrap().len(), 1, "{tool}");
    assert_eq!(tool["calls"][0]["name"], "lookup");
    assert_eq!(tool["calls"][0]["arguments"], "{}");
    assert_eq!(tool["final_text"], "tool said: tool-ok-42");
    assert_eq!(tool["final_finish_reason"], "stop");

    let streamed = &out["tool_stream"];
    assert_eq!(streamed["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(streamed["calls"].as_array().unwrap().len(), 1, "{streamed}");
    assert_eq!(streamed["calls"][0]["name"], "lookup");
    assert_eq!(streamed["calls"][0]["arguments"], "{}");
    assert!(
        streamed["calls"][0]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    // Upstream: the system message became instructions; the second tool-loop request
    // carried the assistant's call and the tool's answer as Responses items, and the
    // function tool was flattened.
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 5);
    assert_eq!(bodies[0]["instructions"], "Be brief.");
    assert_eq!(last_user_text(&bodies[0]), "say pong");
    let loop_second = &bodies[3];
    let items = loop_second["input"].as_array().unwrap();
    let call_id = tool["calls"][0]["id"].as_str().unwrap();
    let call = items
        .iter()
        .find(|i| i["type"] == "function_call")
        .expect("function_call item");
    assert_eq!(
        (call["call_id"].as_str(), call["name"].as_str()),
        (Some(call_id), Some("lookup"))
    );
    let output = items
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .expect("output item");
    assert_eq!(
        (output["call_id"].as_str(), output["output"].as_str()),
        (Some(call_id), Some("tool-ok-42"))
    );
    assert_eq!(loop_second["tools"][0]["type"], "function");
    assert_eq!(loop_second["tools"][0]["name"], "lookup");
    assert_upstream_shape(&r);
}

#[tokio::test]
async fn python_sdk_raises_typed_errors() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "errors.py").await.json();
    let wrong = &out["wrong_key"];
    assert_eq!(wrong["class"], "AuthenticationError", "{out}");
    assert_eq!(
        (wrong["status"].as_u64(), wrong["code"].as_str()),
        (Some(401), Some("invalid_api_key"))
    );
    for name in ["unknown_model_chat", "unknown_model_responses"] {
        let e = &out[name];
        assert_eq!(e["class"], "NotFoundError", "{name}: {out}");
        assert_eq!(
            (e["status"].as_u64(), e["code"].as_str()),
            (Some(404), Some("model_not_found")),
            "{name}"
        );
        assert!(e["message"].as_str().unwrap().contains("gpt-nope-9"), "{e}");
    }
    assert_eq!(
        r.mock().state().responses_calls(),
        0,
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn node_sdk_chat_responses_models_tool_loops_and_errors() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = node(&r, "openai_sdk.mjs").await.json();

    assert!(
        out["models"]
            .as_array()
            .unwrap()
            .contains(&json!("gpt-5.5")),
        "{}",
        out["models"]
    );

    let chat = &out["chat"];
    assert_eq!(chat["object"], "chat.completion");
    assert_eq!(
        (chat["role"].as_str(), chat["content"].as_str()),
        (Some("assistant"), Some("pong"))
    );
    assert_eq!(chat["finish_reason"], "stop");
    assert!(
        chat["usage"]["total_tokens"].as_u64().unwrap() > 0,
        "{chat}"
    );
    assert_eq!(check_chat_stream(&out["chat_stream"], true).len(), 250);

    let tool = &out["chat_tool_loop"];
    assert_eq!(tool["finish_reason"], "tool_calls");
    assert!(tool["content"].is_null(), "{tool}");
    assert_eq!(tool["calls"].as_array().unwrap().len(), 1, "{tool}");
    assert_eq!(
        (
            tool["calls"][0]["name"].as_str(),
            tool["calls"][0]["arguments"].as_str()
        ),
        (Some("lookup"), Some("{}"))
    );
    assert_eq!(tool["final_text"], "tool said: tool-ok-42");
    let streamed = &out["chat_tool_stream"];
    assert_eq!(streamed["finish_reason"], "tool_calls", "{streamed}");
    assert_eq!(streamed["calls"].as_array().unwrap().len(), 1, "{streamed}");
    assert_eq!(streamed["calls"][0]["name"], "lookup");

    assert_eq!(out["responses"]["output_text"], "pong");
    assert_eq!(out["responses"]["status"], "completed");
    let events = out["responses_stream"]["events"].as_array().unwrap();
    assert_eq!(
        (events.first(), events.last()),
        (
            Some(&json!("response.created")),
            Some(&json!("response.completed"))
        )
    );
    assert_eq!(out["responses_stream"]["text"], "pong");
    assert_eq!(out["responses_helper"]["text"].as_str().unwrap().len(), 250);
    assert_eq!(
        out["responses_helper"]["final_text"],
        out["responses_helper"]["text"]
    );
    let rtool = &out["responses_tool_loop"];
    assert_eq!(rtool["calls"].as_array().unwrap().len(), 1, "{rtool}");
    assert_eq!(rtool["calls"][0]["name"], "lookup");
    assert_eq!(rtool["final_text"], "tool said: tool-ok-42");

    let wrong = &out["wrong_key"];
    assert_eq!(wrong["class"], "AuthenticationError", "{out}");
    assert_eq!(
        (wrong["status"].as_u64(), wrong["code"].as_str()),
        (Some(401), Some("invalid_api_key"))
    );
    let unknown = &out["unknown_model"];
    assert_eq!(unknown["class"], "NotFoundError", "{out}");
    assert_eq!(
        (unknown["status"].as_u64(), unknown["code"].as_str()),
        (Some(404), Some("model_not_found"))
    );

    // Upstream: the chat tool loop's second request carries the call and its output.
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 10, "one upstream call per SDK call");
    assert_eq!(bodies[0]["instructions"], "Be brief.");
    let call_id = tool["calls"][0]["id"].as_str().unwrap();
    let items = bodies[3]["input"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["type"] == "function_call" && i["call_id"] == call_id),
        "{}",
        bodies[3]
    );
    assert!(
        items.iter().any(|i| i["type"] == "function_call_output"
            && i["call_id"] == call_id
            && i["output"] == "tool-ok-42"),
        "{}",
        bodies[3]
    );
    let rcall = rtool["calls"][0]["call_id"].as_str().unwrap();
    let last = bodies.last().unwrap();
    assert!(
        last["input"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "function_call_output" && i["call_id"] == rcall),
        "{last}"
    );
    assert_upstream_shape(&r);
}

#[tokio::test]
async fn vercel_ai_sdk_generate_and_stream_text_with_tool_loops_on_both_apis() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = node(&r, "ai_sdk.mjs").await.json();

    for api in ["chat", "responses"] {
        let o = &out[api];
        assert_eq!(o["generate"]["text"], "pong", "{api}: {o}");
        assert_eq!(o["generate"]["finish_reason"], "stop", "{api}");
        assert_eq!(o["stream"]["text"], "pong", "{api}: {o}");
        assert_eq!(o["stream"]["finish_reason"], "stop", "{api}");
        for run in ["generate_tool_loop", "stream_tool_loop"] {
            let l = &o[run];
            assert_eq!(l["text"], "tool said: tool-ok-42", "{api} {run}: {l}");
            assert_eq!(l["steps"], 2, "{api} {run}: {l}");
            assert_eq!(l["finish_reason"], "stop", "{api} {run}");
            assert_eq!(
                l["tool_calls"].as_array().unwrap().len(),
                1,
                "{api} {run}: {l}"
            );
            assert_eq!(l["tool_calls"][0]["name"], "bash");
            assert_eq!(l["tool_calls"][0]["input"]["command"], "echo tool-ok-42");
            assert_eq!(l["tool_results"], json!(["tool-ok-42"]), "{api} {run}");
            assert!(
                l["total_tokens"].as_u64().is_some_and(|t| t > 0),
                "{api} {run}: {l}"
            );
        }
    }
    assert_eq!(out["executed"].as_array().unwrap().len(), 4);

    // Upstream: 2 plain + 2×2 tool-loop calls per API; each loop's second call carries
    // the call and the tool's output with the same call id.
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 12);
    let seconds: Vec<&Value> = bodies
        .iter()
        .filter(|b| {
            b["input"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["type"] == "function_call_output")
        })
        .collect();
    assert_eq!(seconds.len(), 4);
    for b in seconds {
        let items = b["input"].as_array().unwrap();
        let call = items
            .iter()
            .find(|i| i["type"] == "function_call")
            .expect("call");
        let output = items
            .iter()
            .find(|i| i["type"] == "function_call_output")
            .unwrap();
        assert_eq!(call["name"], "bash");
        assert_eq!(call["call_id"], output["call_id"], "{b}");
        assert!(
            output["output"].as_str().unwrap().contains("tool-ok-42"),
            "{b}"
        );
        assert_eq!(b["tools"][0]["name"], "bash");
    }
    assert_upstream_shape(&r);
}

fn b64(s: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().expect("base64 string"))
        .expect("base64")
}

/// Checks a files script's report (Python or Node: the same shape) and what the mock
/// upstream received for the two requests that referenced the uploads.
async fn check_files_run(r: &Relay, out: &Value) {
    let ids = out["ids"].as_object().unwrap();
    assert_eq!(ids.len(), 3);
    for (name, id) in ids {
        let created = &out["created"][name];
        let data = b64(&out["uploaded"][name]);
        assert_eq!(created["id"], *id);
        assert!(id.as_str().unwrap().starts_with("file-"), "{id}");
        assert_eq!(created["object"], "file");
        assert_eq!(created["bytes"].as_u64(), Some(data.len() as u64), "{name}");
        assert_eq!(
            (created["filename"].as_str(), created["purpose"].as_str()),
            (Some(name.as_str()), Some("user_data"))
        );
        assert_eq!(created["status"], "processed");
        assert_eq!(
            out["retrieved"][name], *created,
            "retrieve gives the created object"
        );
        assert_eq!(
            b64(&out["content"][name]),
            data,
            "{name}: content round-trips byte for byte"
        );
    }

    let mut all: Vec<&Value> = ids.values().collect();
    all.sort_by_key(|v| v.as_str().unwrap().to_string());
    let mut auto: Vec<&Value> = out["auto_pages"].as_array().unwrap().iter().collect();
    assert_eq!(
        auto.len(),
        3,
        "auto-pagination saw every file once: {auto:?}"
    );
    auto.sort_by_key(|v| v.as_str().unwrap().to_string());
    assert_eq!(auto, all);

    let walk = out["after_walk"].as_array().unwrap();
    assert_eq!(walk.len(), 2, "{walk:?}");
    assert_eq!(
        (
            walk[0]["ids"].as_array().unwrap().len(),
            &walk[0]["has_more"]
        ),
        (2, &json!(true))
    );
    assert_eq!(
        (
            walk[1]["ids"].as_array().unwrap().len(),
            &walk[1]["has_more"]
        ),
        (1, &json!(false))
    );
    for page in walk {
        assert_eq!(page["first_id"], page["ids"][0]);
        assert_eq!(
            page["last_id"],
            *page["ids"].as_array().unwrap().last().unwrap()
        );
    }
    let mut walked: Vec<&Value> = walk
        .iter()
        .flat_map(|p| p["ids"].as_array().unwrap())
        .collect();
    let created_at = |id: &Value| {
        let name = ids.iter().find(|(_, v)| *v == id).unwrap().0;
        out["created"][name]["created_at"].as_i64().unwrap()
    };
    assert!(
        walked
            .windows(2)
            .all(|w| created_at(w[0]) <= created_at(w[1])),
        "order=asc: oldest first"
    );
    walked.sort_by_key(|v| v.as_str().unwrap().to_string());
    assert_eq!(walked, all);

    assert_eq!(out["chat_text"], "chat with files");
    assert_eq!(out["responses_text"], "responses with files");
    let png_url = format!(
        "data:image/png;base64,{}",
        out["uploaded"]["pixel.png"].as_str().unwrap()
    );

    let hello = String::from_utf8(b64(&out["uploaded"]["hello.txt"])).unwrap();
    let chat = r.upstream_parts_for("ECHO:chat with files");
    assert_eq!(chat.len(), 3, "{chat:?}");
    assert_eq!(
        chat[1],
        json!({"type": "input_text", "text": format!("Uploaded file `hello.txt` (text/plain):\n\n{hello}")})
    );
    assert_eq!(chat[2]["type"], "input_image");
    assert_eq!(chat[2]["image_url"], png_url.as_str());
    assert_eq!(chat[2]["detail"], "low");

    let notes = String::from_utf8(b64(&out["uploaded"]["notes.md"])).unwrap();
    let resp = r.upstream_parts_for("ECHO:responses with files");
    assert_eq!(resp.len(), 3, "{resp:?}");
    assert_eq!(
        resp[1],
        json!({"type": "input_text", "text": format!("Uploaded file `notes.md` (text/markdown):\n\n{notes}")})
    );
    assert_eq!(resp[2]["type"], "input_image");
    assert_eq!(resp[2]["image_url"], png_url.as_str());
    for parts in [&chat, &resp] {
        assert!(
            !serde_json::to_string(parts).unwrap().contains("file_id"),
            "no file_id reaches the upstream: {parts:?}"
        );
    }

    for (deleted, id) in out["deleted"].as_array().unwrap().iter().zip(ids.values()) {
        assert_eq!(
            *deleted,
            json!({"id": id, "object": "file", "deleted": true})
        );
    }
    assert_eq!(out["after_delete"], json!([]));
    let listed: Value = r
        .get("/v1/files")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]), "{listed}");
    assert_eq!(listed["has_more"], false);
    let status = r.relay_status().await;
    assert_eq!(
        (
            status["uploads"]["files"].as_u64(),
            status["uploads"]["bytes"].as_u64()
        ),
        (Some(0), Some(0)),
        "{status}"
    );
    assert_upstream_shape(r);
}

#[tokio::test]
async fn python_sdk_files_round_trip_and_inlining() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "files.py").await.json();
    check_files_run(&r, &out).await;
}

#[tokio::test]
async fn node_sdk_files_round_trip_and_inlining() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = node(&r, "files.mjs").await.json();
    check_files_run(&r, &out).await;
}

/// Checks a two-call `PARALLEL_TOOLS` answer assembled by an SDK's streaming helper.
fn check_parallel_stream(p: &Value) {
    assert_eq!(p["finish_reason"], "tool_calls", "{p}");
    let calls = p["calls"].as_array().unwrap();
    let names: Vec<&str> = calls.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lookup", "fetch"], "{p}");
    assert!(
        calls.iter().all(|c| c["arguments"] == "{}"
            && c["id"].as_str().is_some_and(|id| id.starts_with("call_"))),
        "{p}"
    );
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(p["arguments_done"], json!(["lookup", "fetch"]), "{p}");
}

#[tokio::test]
async fn python_sdk_helpers_structured_outputs_parallel_tools_raw_and_async() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = python(&r, "helpers.py").await.json();
    assert_eq!(out["model"], json!({"id": "gpt-5.5", "object": "model"}));
    assert_eq!(
        out["unknown_model"],
        json!({"class": "NotFoundError", "status": 404})
    );
    assert_eq!(out["chat_parse"], json!({"answer": 42}));
    assert_eq!(out["responses_parse"], json!({"answer": 42}));
    check_parallel_stream(&out["parallel_stream"]);
    assert_eq!(out["raw"]["content"], "pong");
    let mut ignored: Vec<&str> = out["raw"]["ignored"].as_str().unwrap().split(',').collect();
    ignored.sort_unstable();
    assert_eq!(ignored, ["max_tokens", "temperature"], "{}", out["raw"]);
    assert!(
        out["raw"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(
        out["async"],
        json!({"responses_stream": "pong", "chat": "pong"})
    );

    // Upstream: the Pydantic schema arrived as a strict json_schema text format, and
    // the sampling parameters the backend refuses were removed.
    let bodies = r.upstream_bodies();
    let format = &bodies[0]["text"]["format"];
    assert_eq!(
        (format["type"].as_str(), format["strict"].as_bool()),
        (Some("json_schema"), Some(true)),
        "{}",
        bodies[0]
    );
    assert_eq!(format["schema"]["required"], json!(["answer"]));
    assert_eq!(
        bodies[1]["text"]["format"]["type"], "json_schema",
        "{}",
        bodies[1]
    );
    let raw = &bodies[3];
    assert!(
        raw.get("temperature").is_none() && raw.get("max_tokens").is_none(),
        "{raw}"
    );
    assert_upstream_shape(&r);
}

#[tokio::test]
async fn node_sdk_helpers_run_tools_parallel_stream_parse_and_raw() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = node(&r, "helpers.mjs").await.json();
    assert_eq!(out["model"], json!({"id": "gpt-5.5", "object": "model"}));
    assert_eq!(
        out["run_tools"]["final_content"], "tool said: tool-ok-42",
        "{out}"
    );
    assert_eq!(out["run_tools"]["called_with"], json!([{}]));
    check_parallel_stream(&out["parallel_stream"]);
    assert!(
        out["parallel_stream"]["total_tokens"]
            .as_u64()
            .is_some_and(|t| t > 0)
    );
    assert_eq!(out["chat_parse"], json!({"answer": 42}));
    assert_eq!(out["raw"]["output_text"], "pong");
    assert_eq!(
        out["raw"]["ignored"], "temperature,max_output_tokens",
        "{}",
        out["raw"]
    );
    assert_eq!(out["raw"]["request_id"], out["raw"]["request_id_prop"]);
    assert!(
        out["raw"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    let last = r.upstream_bodies().pop().unwrap();
    assert!(
        last.get("temperature").is_none() && last.get("max_output_tokens").is_none(),
        "{last}"
    );
    assert_upstream_shape(&r);
}

#[tokio::test]
async fn vercel_ai_sdk_item_references_are_resolved_from_the_relays_recent_items() {
    let r = Relay::start(RelayOptions::default()).await;
    let out = node(&r, "ai_sdk_reasoning.mjs").await.json();
    for run in ["generate_tool_loop", "stream_tool_loop"] {
        assert_eq!(out[run]["text"], "tool said: tool-ok-42", "{run}: {out}");
        assert_eq!(out[run]["steps"], 2, "{run}");
    }
    assert!(
        out["generate_tool_loop"]["reasoning"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{out}"
    );
    assert_eq!(
        out["two_turns"],
        json!({"first": "pong", "second": "second turn"})
    );

    // The SDK sent `item_reference`s (store unset counts as true for it); the backend
    // stores nothing, so the relay put the items themselves in their place.
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 6);
    for b in &bodies {
        assert!(
            !b.to_string().contains("item_reference"),
            "a reference reached the upstream: {b}"
        );
    }
    for b in [&bodies[1], &bodies[3]] {
        let items = b["input"].as_array().unwrap();
        let reasoning = items
            .iter()
            .find(|i| i["type"] == "reasoning")
            .unwrap_or_else(|| panic!("no reasoning item: {b}"));
        assert!(
            reasoning["encrypted_content"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{reasoning}"
        );
        assert!(reasoning.get("id").is_none(), "{reasoning}");
        assert!(
            items.iter().any(|i| i["type"] == "function_call_output"),
            "{b}"
        );
    }
    let turn = bodies[5]["input"].as_array().unwrap();
    let answer = turn
        .iter()
        .find(|i| i["type"] == "message" && i["role"] == "assistant")
        .unwrap_or_else(|| panic!("{turn:?}"));
    assert_eq!(answer["content"][0]["text"], "pong");
    assert!(turn.iter().any(|i| i["type"] == "reasoning"), "{turn:?}");

    // A reference the relay never saw (or forgot in a restart) is refused, not sent.
    let calls = r.mock().state().responses_calls();
    let resp = r
        .post("/v1/responses", &json!({"model": "gpt-5.5", "input": [{"role": "user", "content": "hi"}, {"type": "item_reference", "id": "rs_unknown"}]}))
        .send()
        .await
        .unwrap();
    let (s, b) = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_eq!(
        (s, b["error"]["code"].as_str(), b["error"]["param"].as_str()),
        (400, Some("item_not_found"), Some("input[1]")),
        "{b}"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("store: false"),
        "{b}"
    );
    assert_eq!(r.mock().state().responses_calls(), calls);
}
