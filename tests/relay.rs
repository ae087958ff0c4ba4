//! The relay end to end (issue 4): the real binary against the mock upstream.

mod common;

use std::time::Duration;

use airelays_mock::Fault;
use common::relay::{Relay, RelayOptions, error_of, expect_error, sse_events};
use common::*;
use serde_json::{Value, json};

fn text_request(prompt: &str, stream: bool) -> Value {
    json!({"model": "gpt-5.5", "input": prompt, "stream": stream})
}

#[tokio::test]
async fn health_index_and_unknown_routes() {
    let r = Relay::start(RelayOptions::default()).await;
    let h = r.http.get(r.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    assert!(
        h.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(h.json::<Value>().await.unwrap()["ok"], true);
    let page = r
        .http
        .get(r.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("airelays") && page.contains(&format!("127.0.0.1:{}/v1", r.port)));
    assert!(!page.contains(&r.token) && !page.contains(r.sandbox.data_dir().to_str().unwrap()));

    let (s, _, b) = error_of(r.get("/v1/nope").send().await.unwrap()).await;
    assert_eq!(s, 404, "{b}");
    let (s, _, b) = error_of(r.get("/v1/chat/completions").send().await.unwrap()).await;
    assert_eq!(s, 405, "{b}");
    let (s, _, b) = error_of(r.get("/v1/v1/models").send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("http://127.0.0.1:{}/v1", r.port)),
        "{b}"
    );
    for path in [
        "/v1/embeddings",
        "/v1/audio/speech",
        "/v1/images/generations",
        "/v1/realtime/sessions",
    ] {
        let resp = r.post(path, &json!({})).send().await.unwrap();
        assert_eq!(resp.headers()["x-should-retry"], "false");
        let (s, _, b) = error_of(resp).await;
        assert_eq!(
            (s, b["error"]["type"].as_str()),
            (501, Some("unsupported_error")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn bearer_messages_and_live_rotation() {
    let r = Relay::start(RelayOptions::default()).await;
    assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);

    let (_, b) = expect_error(r.http.get(r.url("/v1/models")), 401, "invalid_api_key").await;
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Missing or invalid airelays bearer token.")
    );
    let bare = r
        .http
        .get(r.url("/v1/models"))
        .header("authorization", r.token.clone())
        .send()
        .await
        .unwrap();
    let (s, _, b) = error_of(bare).await;
    assert_eq!(s, 401);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer <token>"),
        "{b}"
    );
    let lower = r
        .http
        .get(r.url("/v1/models"))
        .header("authorization", format!("bearer {}", r.token))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");

    // Rotate from another process: the running relay switches without a restart.
    let rotated = json_of(&r.sandbox.run(&["token", "rotate", "--json"]));
    let new_token = rotated["token"].as_str().unwrap().to_string();
    let mut switched = false;
    for _ in 0..100 {
        let old = r
            .http
            .get(r.url("/v1/models"))
            .header("authorization", r.bearer())
            .send()
            .await
            .unwrap()
            .status();
        if old == 401 {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(switched, "old token still accepted");
    let ok = r
        .http
        .get(r.url("/v1/models"))
        .header("authorization", format!("Bearer {new_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn failed_auth_ban_blocks_wrong_tokens_not_the_right_one() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "3".into())],
        ..Default::default()
    })
    .await;
    for n in 0..3 {
        let resp = r
            .http
            .get(r.url("/v1/models"))
            .header("authorization", format!("Bearer wrong-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let (retry, _) = expect_error(
        r.http
            .get(r.url("/v1/models"))
            .header("authorization", "Bearer wrong-3"),
        429,
        "ip_temporarily_blocked",
    )
    .await;
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(secs > 0 && secs <= 900, "{secs}");
    assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);
    // Public routes stay open.
    assert_eq!(
        r.http.get(r.url("/healthz")).send().await.unwrap().status(),
        200
    );
}

/// Codex retries a 401 five times with the same stale token: those retries guess
/// nothing and must not lock every local client out of a loopback relay.
#[tokio::test]
async fn retrying_one_wrong_token_does_not_ban_the_ip() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "3".into())],
        ..Default::default()
    })
    .await;
    for _ in 0..12 {
        let resp = r
            .http
            .post(r.url("/v1/responses"))
            .header("authorization", "Bearer stale-token")
            .json(&text_request("hi", true))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let ok = r.get("/v1/models").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        r.relay_status().await["live"]["caller"]["recent_auth_failures"],
        1
    );
}

#[tokio::test]
async fn rate_limit_and_concurrency_caps_answer_429_with_retry_after() {
    let r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_RATE_LIMIT_BURST", "3".into()),
            ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            r.http
                .get(r.url("/v1/relay/status"))
                .header("authorization", r.bearer())
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let (retry, _) = expect_error(r.get("/v1/models"), 429, "rate_limit_exceeded").await;
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);

    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_CONCURRENT_REQUESTS_PER_IP", "1".into())],
        ..Default::default()
    })
    .await;
    r.mock
        .state()
        .push_fault(Fault::StallAfterFirstEvent(Duration::from_secs(30)));
    let stalled = r.post("/v1/responses", &text_request("hi", true)).send();
    let stalled = tokio::spawn(stalled);
    // Wait until the stalled request is in flight upstream.
    for _ in 0..200 {
        if r.mock.state().active_streams() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (retry, _) = expect_error(r.get("/v1/models"), 429, "too_many_concurrent_requests").await;
    assert!(retry.is_some());
    stalled.abort();
}

#[tokio::test]
async fn host_and_origin_checks() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_ALLOWED_ORIGINS", "http://localhost:5173".into())],
        ..Default::default()
    })
    .await;
    expect_error(
        r.get("/v1/models").header("host", "attacker.example:8080"),
        403,
        "host_not_allowed",
    )
    .await;
    expect_error(
        r.http
            .get(r.url("/healthz"))
            .header("host", "rebind.example"),
        403,
        "host_not_allowed",
    )
    .await;
    expect_error(
        r.get("/v1/models").header("origin", "https://evil.example"),
        403,
        "origin_not_allowed",
    )
    .await;
    // A simple text/plain POST from a page is refused too.
    let simple = r
        .http
        .post(r.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(r#"{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(simple.status(), 403);
    assert_eq!(r.mock.state().responses_calls(), 0);

    let ok = r
        .get("/v1/models")
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let pre = r
        .http
        .request(reqwest::Method::OPTIONS, r.url("/v1/chat/completions"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(
        pre.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test]
async fn oversized_body_is_413() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_MAX_REQUEST_BODY_BYTES", "2048".into())],
        ..Default::default()
    })
    .await;
    let big = json!({"model": "gpt-5.5", "input": "x".repeat(4096)});
    expect_error(r.post("/v1/responses", &big), 413, "request_too_large").await;
    // Chunked (no Content-Length) is limited while reading, too.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024])));
    let resp = r
        .http
        .post(r.url("/v1/responses"))
        .header("authorization", r.bearer())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

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
        .mock
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

#[tokio::test]
async fn upstream_faults_before_the_first_byte_are_real_statuses() {
    let r = Relay::start(RelayOptions::default()).await;
    let state = r.mock.state();

    state.push_fault(Fault::UsageLimit {
        resets_in_seconds: 3600,
    });
    let (s, retry, b) = error_of(
        r.post("/v1/responses", &text_request("hi", true))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str(), retry.as_deref()),
        (429, Some("usage_limit_reached"), Some("3600"))
    );
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains("plus") && msg.contains("local time"), "{msg}");

    state.push_fault(Fault::Overloaded503);
    state.push_fault(Fault::Overloaded503);
    state.push_fault(Fault::Overloaded503);
    let (retry, _) = expect_error(
        r.post("/v1/responses", &text_request("hi", false)),
        503,
        "upstream_overloaded",
    )
    .await;
    assert!(retry.is_some());

    // 500 is retried (2 retries by default): one transient failure is invisible.
    let before = state.responses_calls();
    state.push_fault(Fault::Status500);
    let ok = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(state.responses_calls() - before, 2);
    for _ in 0..3 {
        state.push_fault(Fault::Status500);
    }
    expect_error(
        r.post("/v1/responses", &text_request("hi", false)),
        502,
        "upstream_error",
    )
    .await;

    state.push_fault(Fault::Failed {
        code: "context_length_exceeded".into(),
        message: "Your input exceeds the context window of this model.".into(),
    });
    expect_error(
        r.post("/v1/responses", &text_request("hi", true)),
        400,
        "context_length_exceeded",
    )
    .await;

    state.push_fault(Fault::BadRequest("Unsupported parameter: foo".into()));
    let (s, _, b) = error_of(
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unsupported parameter: foo")
    );

    state.push_fault(Fault::StallBeforeHeaders(Duration::from_secs(30)));
    expect_error(
        r.post("/v1/responses", &text_request("hi", true)),
        504,
        "upstream_timeout",
    )
    .await;

    state.push_fault(Fault::StallAfterFirstEvent(Duration::from_secs(30)));
    expect_error(
        r.post("/v1/responses", &text_request("hi", true)),
        504,
        "upstream_timeout",
    )
    .await;

    for _ in 0..3 {
        state.push_fault(Fault::ResetBeforeHeaders);
    }
    expect_error(
        r.post("/v1/responses", &text_request("hi", false)),
        502,
        "upstream_error",
    )
    .await;

    // Malformed data lines are skipped; the answer still completes.
    state.push_fault(Fault::MalformedSse);
    let ok = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // Relay stays healthy.
    assert_eq!(
        r.http.get(r.url("/healthz")).send().await.unwrap().status(),
        200
    );
    let status = r
        .wait_for_status("idle", |s| {
            s["live"]["active_streams"] == 0 && s["live"]["held_slots"] == 0
        })
        .await;
    assert_eq!(status["live"]["upstream_requests_in_flight"], 0);
}

#[tokio::test]
async fn faults_after_the_first_byte_are_in_band() {
    let r = Relay::start(RelayOptions::default()).await;
    let state = r.mock.state();

    // Cut mid-stream: the client sees the events so far, then an error event.
    state.push_fault(Fault::CutMidStream);
    let resp = r
        .post("/v1/responses", &text_request("hi", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.unwrap());
    let last = &events.last().unwrap().1;
    assert_eq!(last["type"], "error");
    assert_eq!(last["code"], "incomplete_stream");
    assert!(
        events
            .iter()
            .any(|(_, d)| d["type"] == "response.output_text.delta")
    );

    // Non-streaming: never an empty 200.
    state.push_fault(Fault::CutMidStream);
    expect_error(
        r.post("/v1/responses", &text_request("hi", false)),
        502,
        "incomplete_stream",
    )
    .await;

    // response.failed mid-stream is forwarded as the upstream sent it.
    state.push_fault(Fault::Incomplete {
        reason: "max_output_tokens".into(),
    });
    let text = r
        .post("/v1/responses", &text_request("hi", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sse_events(&text).last().unwrap().1["type"],
        "response.incomplete"
    );
    state.push_fault(Fault::Incomplete {
        reason: "max_output_tokens".into(),
    });
    let body: Value = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "incomplete");

    // Chat streams end with a data: {"error":…} event and no [DONE].
    state.push_fault(Fault::CutMidStream);
    let chat = json!({"model": "gpt-5.5", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let text = r
        .post("/v1/chat/completions", &chat)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    let events = sse_events(&text);
    assert_eq!(
        events.last().unwrap().1["error"]["code"],
        "incomplete_stream",
        "{text}"
    );
}

#[tokio::test]
async fn reactive_refresh_on_401_then_success() {
    let r = Relay::start(RelayOptions::default()).await;
    assert_eq!(
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    r.mock.state().revoke_all_access_tokens();
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(r.mock.state().refresh_calls(), 1);
    let status = json_of(&r.sandbox.run(&["status", "--json"]));
    assert_eq!(status["upstream"]["state"], "ready");
}

#[tokio::test]
async fn no_login_means_503_on_model_routes_only() {
    let r = Relay::start(RelayOptions {
        signed_in: false,
        ..Default::default()
    })
    .await;
    assert_eq!(
        r.http.get(r.url("/healthz")).send().await.unwrap().status(),
        200
    );
    for resp in [
        r.get("/v1/models").send().await.unwrap(),
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap(),
        r.post(
            "/v1/chat/completions",
            &json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap(),
    ] {
        let (s, _, b) = error_of(resp).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (503, Some("upstream_auth_missing"))
        );
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("airelays login")
        );
    }
    assert!(
        r.stdout_lines.iter().any(|l| l.contains("airelays login")),
        "{:?}",
        r.stdout_lines
    );
}

#[tokio::test]
async fn models_catalogue() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_EXTRA_MODELS", "my-local-alias".into())],
        ..Default::default()
    })
    .await;
    let list: Value = r
        .get("/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"gpt-5.5") && ids.contains(&"my-local-alias"));
    assert!(
        !ids.contains(&"codex-auto-review"),
        "hidden models are not listed"
    );
    for m in list["data"].as_array().unwrap() {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_i64() && m["owned_by"].is_string());
    }
    let one: Value = r
        .get("/v1/models/GPT-5.4")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "gpt-5.4");
    let (_, b) = expect_error(r.get("/v1/models/gpt-5.44"), 404, "model_not_found").await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("gpt-5.4"),
        "{b}"
    );
    let (s, _, _) = error_of(
        r.post("/v1/responses", &json!({"model": "gpt-9", "input": "hi"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    // Cached: one catalogue fetch for all of the above.
    assert_eq!(r.mock.state().models_calls(), 1);
}

#[tokio::test]
async fn models_fail_open_when_the_catalogue_is_down() {
    let r = Relay::start(RelayOptions::default()).await;
    r.mock.state().set_models_failure(true);
    let resp = r
        .post(
            "/v1/responses",
            &json!({"model": "some-new-model", "input": "hi"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "forwarded without a catalogue");
    assert_eq!(
        r.mock
            .state()
            .last_request_to("/backend-api/codex/responses")
            .unwrap()
            .body["model"],
        "some-new-model"
    );
}

#[tokio::test]
async fn client_disconnect_mid_stream_releases_everything() {
    let r = Relay::start(RelayOptions::default()).await;
    r.mock
        .state()
        .push_fault(Fault::StallAfterFirstEvent(Duration::from_secs(3)));
    let mut resp = r
        .post("/v1/responses", &text_request("LONG:2000000", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    let busy = r.relay_status().await;
    assert_eq!(busy["live"]["active_streams"], 1);
    drop(resp);
    let status = r
        .wait_for_status("stream released", |s| {
            s["live"]["active_streams"] == 0
                && s["live"]["upstream_requests_in_flight"] == 0
                && s["live"]["held_slots"] == 0
        })
        .await;
    assert_eq!(status["live"]["caller"]["in_flight"], 0);
    for _ in 0..200 {
        if r.mock.state().active_streams() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the upstream request kept running after the client left");
}

#[tokio::test]
async fn usage_headers_are_forwarded_and_kept_for_status() {
    let r = Relay::start(RelayOptions::default()).await;
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("x-codex-primary-used-percent"));
    let live = r.relay_status().await;
    assert_eq!(schema_errors(&status_schema(), &live), Vec::<String>::new());
    assert!(
        live["usage"]["windows"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "{live}"
    );
    assert_eq!(live["server"]["running"], true);
    assert_eq!(live["server"]["port"], r.port);
    assert!(!live.to_string().contains(&r.token));
    // The snapshot reaches usage.json for `airelays status`, within the debounce.
    for _ in 0..300 {
        let doc = json_of(&r.sandbox.run(&["status", "--json"]));
        if doc["usage"].is_object() {
            assert_eq!(doc["server"]["running"], true);
            assert_eq!(doc["ready"], true);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("usage snapshot never persisted");
}

#[tokio::test]
async fn lifecycle_single_instance_and_graceful_exit() {
    let mut r = Relay::start(RelayOptions::default()).await;
    let second = r.sandbox.run(&["serve", "--port", "0"]);
    assert_eq!(second.status.code(), Some(75));
    assert!(
        stderr(&second)
            .contains("Another airelays relay is already running with the data directory"),
        "{}",
        stderr(&second)
    );
    assert_eq!(r.terminate(), Some(0));
    assert!(!r.sandbox.data_dir().join("relay.json").exists());
    assert_eq!(
        json_of(&r.sandbox.run(&["status", "--json"]))["server"]["running"],
        false
    );
    let log = r.stderr_log();
    assert!(log.contains("GET /v1/") || log.contains("stopped"), "{log}");
    assert!(!log.contains(&r.token));
}

#[tokio::test]
async fn refuses_no_auth_on_a_non_loopback_address() {
    let sb = Sandbox::new();
    let out = sb.run(&["serve", "--no-auth", "--host", "0.0.0.0", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing to serve without the relay token"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn traffic_log_is_private_json_lines_without_secrets() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_TRAFFIC_LOG", "on".into())],
        ..Default::default()
    })
    .await;
    let resp = r
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let path = r.sandbox.data_dir().join("logs/traffic.jsonl");
    let mut line = None;
    for _ in 0..200 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(&id)) {
            line = Some(l.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let line = line.expect("request logged");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (
            v["method"].as_str(),
            v["path"].as_str(),
            v["status"].as_u64()
        ),
        (Some("POST"), Some("/v1/chat/completions"), Some(200))
    );
    assert_eq!(v["model"], "gpt-5.5");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let issued_access = r
        .mock
        .state()
        .requests()
        .into_iter()
        .find_map(|q| q.header("authorization").map(str::to_string))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(&r.token) && !text.contains(issued_access.trim_start_matches("Bearer "))
    );
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let r = Relay::start(RelayOptions::default()).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2
        .post(r.url("/v1/responses"))
        .header("authorization", r.bearer())
        .json(&text_request("hi", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events.last().unwrap().1["type"], "response.completed");
}
