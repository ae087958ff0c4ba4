//! The mock Codex backend: auth, validation, scripted streams, models and usage.

mod common;

use std::time::Duration;

use airelays_mock::{MockConfig, MockUpstream};
use common::*;
use serde_json::{Value, json};

const TEXT_EVENTS: [&str; 10] = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
];

fn function(name: &str) -> Value {
    json!({"type": "function", "name": name, "description": "", "strict": false, "parameters": {"type": "object", "properties": {}}})
}

#[tokio::test]
async fn pong_streams_the_full_public_event_sequence() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let mut body = body_for("say pong");
    body["model"] = json!("gpt-5.4-mini");
    let response = responses(&mock, &tokens, &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.complete);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert_eq!(event_types(&response), TEXT_EVENTS);

    let events = response.events();
    for (n, event) in events.iter().enumerate() {
        let data = event.json().unwrap();
        assert_eq!(
            event.event.as_deref(),
            data["type"].as_str(),
            "event: line matches data.type"
        );
        assert_eq!(data["sequence_number"], n, "sequence numbers count from 0");
        assert!(!event.data.contains('\n'), "compact single-line JSON");
    }
    let json = event_json(&response);
    let item_id = json[2]["item"]["id"].as_str().unwrap();
    assert!(item_id.starts_with("msg_"));
    for e in &json[3..9] {
        assert_eq!(e["output_index"], 0);
        if e["type"] != "response.output_item.done" {
            assert_eq!(e["item_id"], item_id);
            assert_eq!(e["content_index"], 0);
        }
    }
    assert_eq!(streamed_text(&response), "pong");
    assert_eq!(json[6]["text"], "pong");

    let done = completed(&response);
    assert!(done["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(done["object"], "response");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["model"], "gpt-5.4-mini");
    assert!(done["created_at"].is_u64());
    assert_eq!(done["output"][0]["content"][0]["text"], "pong");
    assert_eq!(done["output"][0]["role"], "assistant");
    let usage = &done["usage"];
    for key in ["input_tokens", "output_tokens", "total_tokens"] {
        assert!(usage[key].is_u64(), "{key}");
    }
    assert!(usage["input_tokens_details"]["cached_tokens"].is_u64());
    assert!(usage["output_tokens_details"]["reasoning_tokens"].is_u64());
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
    assert_eq!(json[0]["response"]["id"], done["id"]);
}

#[tokio::test]
async fn successful_streams_carry_the_rate_limit_and_routing_headers() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = responses(&mock, &tokens, &body_for("hi")).await;
    for name in [
        "x-codex-primary-used-percent",
        "x-codex-primary-window-minutes",
        "x-codex-primary-reset-at",
        "x-codex-primary-reset-after-seconds",
        "x-codex-secondary-used-percent",
        "x-codex-secondary-window-minutes",
        "x-codex-secondary-reset-at",
        "x-codex-secondary-reset-after-seconds",
        "x-codex-primary-over-secondary-limit-percent",
        "x-codex-credits-balance",
        "x-codex-turn-state",
        "x-models-etag",
        "x-oai-request-id",
    ] {
        assert!(response.header(name).is_some(), "missing {name}");
    }
    assert_eq!(
        response.header("x-codex-primary-window-minutes"),
        Some("300")
    );
    assert_eq!(
        response.header("x-codex-secondary-window-minutes"),
        Some("10080")
    );
    assert!(
        response
            .header("x-codex-primary-used-percent")
            .unwrap()
            .parse::<f64>()
            .is_ok()
    );
    assert_eq!(
        response.header("x-codex-credits-has-credits"),
        Some("False")
    );
    assert_eq!(response.header("x-codex-credits-unlimited"), Some("False"));
    assert_eq!(response.header("x-codex-credits-balance"), Some(""));
    assert_eq!(response.header("x-codex-plan-type"), Some("plus"));
    assert_eq!(response.header("x-codex-active-limit"), Some("codex"));
    assert_eq!(response.header("openai-model"), Some("gpt-5.5"));
}

#[tokio::test]
async fn bad_tokens_get_401_and_are_counted() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let account = ("chatgpt-account-id", tokens.account_id.as_str());
    let path = "/backend-api/codex/responses";
    let body = body_for("hi");
    for headers in [
        vec![account],
        vec![("authorization", "Bearer not-a-token"), account],
        vec![("authorization", "Basic abc"), account],
    ] {
        let response = post_json(&mock, path, &headers, &body).await;
        assert_eq!(response.status, 401);
        assert_eq!(response.json(), json!({"detail": "Unauthorized"}));
    }
    assert_eq!(mock.state().unauthorized_responses(), 3);

    assert_eq!(responses(&mock, &tokens, &body).await.status, 200);
    mock.state().revoke_all_access_tokens();
    assert_eq!(responses(&mock, &tokens, &body).await.status, 401);
    let headers = auth(&tokens);
    assert_eq!(
        get(&mock, "/backend-api/codex/models", &as_refs(&headers))
            .await
            .status,
        401
    );
    assert_eq!(
        get(&mock, "/backend-api/wham/usage", &as_refs(&headers))
            .await
            .status,
        401
    );
    assert_eq!(mock.state().unauthorized_responses(), 6);

    let fresh = mock.state().issue_tokens();
    assert_eq!(responses(&mock, &fresh, &body).await.status, 200);
}

#[tokio::test]
async fn expired_access_tokens_get_401() {
    let config = MockConfig {
        access_token_lifetime: Duration::ZERO,
        ..MockConfig::default()
    };
    let mock = MockUpstream::start(config).await.unwrap();
    let expired = mock.state().issue_tokens();
    assert_eq!(expired.expires_in, 0);
    assert_eq!(
        responses(&mock, &expired, &body_for("hi")).await.status,
        401
    );
    mock.state()
        .set_access_token_lifetime(Duration::from_secs(3600));
    let fresh = mock.state().issue_tokens();
    assert_eq!(responses(&mock, &fresh, &body_for("hi")).await.status, 200);
}

#[tokio::test]
async fn the_account_header_must_match_the_token() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let bearer = format!("Bearer {}", tokens.access_token);
    let path = "/backend-api/codex/responses";
    let body = body_for("hi");
    let missing = post_json(&mock, path, &[("authorization", &bearer)], &body).await;
    assert_eq!(missing.status, 403);
    assert!(missing.json()["detail"].is_string());
    let wrong = post_json(
        &mock,
        path,
        &[
            ("authorization", &bearer),
            ("ChatGPT-Account-Id", "someone-else"),
        ],
        &body,
    )
    .await;
    assert_eq!(wrong.status, 403);
    let lower = post_json(
        &mock,
        path,
        &[
            ("authorization", &bearer),
            ("chatgpt-account-id", &tokens.account_id),
        ],
        &body,
    )
    .await;
    assert_eq!(lower.status, 200);
}

#[tokio::test]
async fn websocket_upgrades_get_426() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let mut headers = auth(&tokens);
    headers.extend([
        ("connection".to_owned(), "Upgrade".to_owned()),
        ("upgrade".to_owned(), "websocket".to_owned()),
        ("sec-websocket-version".to_owned(), "13".to_owned()),
        (
            "sec-websocket-key".to_owned(),
            "dGhlIHNhbXBsZSBub25jZQ==".to_owned(),
        ),
        (
            "openai-beta".to_owned(),
            "responses_websockets=2026-02-06".to_owned(),
        ),
    ]);
    let response = get(&mock, "/backend-api/codex/responses", &as_refs(&headers)).await;
    assert_eq!(response.status, 426);
}

#[tokio::test]
async fn invalid_bodies_get_the_upstream_400_details() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let base = body_for("hi");
    let mut cases: Vec<(Value, String)> = Vec::new();
    let mut with = |key: &str, value: Option<Value>, detail: &str| {
        let mut body = base.clone();
        match value {
            Some(v) => body[key] = v,
            None => {
                body.as_object_mut().unwrap().remove(key);
            }
        }
        cases.push((body, detail.to_owned()));
    };
    with("stream", Some(json!(false)), "Stream must be set to true");
    with("stream", None, "Stream must be set to true");
    with("store", Some(json!(true)), "Store must be set to false");
    with("store", None, "Store must be set to false");
    with("instructions", None, "Instructions are required");
    with("input", Some(json!("hello")), "Input must be a list");
    with(
        "input",
        Some(json!([{"role": "system", "content": "be nice"}, user("hi")])),
        "System messages are not allowed",
    );
    for name in [
        "temperature",
        "top_p",
        "max_output_tokens",
        "metadata",
        "truncation",
        "background",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "top_logprobs",
        "safety_identifier",
        "prompt_cache_retention",
        "user",
        "max_tokens",
        "max_completion_tokens",
    ] {
        with(
            name,
            Some(json!(1)),
            &format!("Unsupported parameter: {name}"),
        );
    }
    for (body, detail) in cases {
        let response = responses(&mock, &tokens, &body).await;
        assert_eq!(response.status, 400, "{detail}");
        assert_eq!(response.json(), json!({ "detail": detail }));
    }
}

#[tokio::test]
async fn compressed_bodies_are_refused() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let mut headers = auth(&tokens);
    headers.push(("content-encoding".to_owned(), "zstd".to_owned()));
    let response = post_json(
        &mock,
        "/backend-api/codex/responses",
        &as_refs(&headers),
        &body_for("hi"),
    )
    .await;
    assert_eq!(response.status, 415);
}

#[tokio::test]
async fn input_items_without_type_with_ids_and_string_content_are_accepted() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let input = json!([
        {"type": "message", "id": "msg_1", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
        {"role": "user", "content": "ECHO:plain string content"},
    ]);
    let response = responses(&mock, &tokens, &body_with(input)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(streamed_text(&response), "plain string content");

    let input =
        json!([{"role": "user", "content": [{"type": "input_text", "text": "JSON_ANSWER"}]}]);
    let response = responses(&mock, &tokens, &body_with(input)).await;
    assert_eq!(streamed_text(&response), r#"{"answer":42}"#);
    assert_eq!(
        completed(&response)["output"][0]["content"][0]["text"],
        r#"{"answer":42}"#
    );
}

#[tokio::test]
async fn long_answers_have_exact_length_in_100_byte_deltas() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = responses(&mock, &tokens, &body_for("LONG:1000")).await;
    let deltas: Vec<Value> = event_json(&response)
        .into_iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .collect();
    assert_eq!(deltas.len(), 10);
    assert!(
        deltas
            .iter()
            .all(|d| d["delta"].as_str().unwrap().len() == 100)
    );
    let text = streamed_text(&response);
    assert_eq!(text.len(), 1000);
    assert!(text.is_ascii());
    assert_eq!(
        completed(&response)["output"][0]["content"][0]["text"],
        text.as_str()
    );

    let big = responses(&mock, &tokens, &body_for("LONG:1000000")).await;
    assert!(big.complete);
    assert_eq!(streamed_text(&big).len(), 1_000_000);
}

#[tokio::test]
async fn reason_streams_a_summary_before_the_answer() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = responses(&mock, &tokens, &body_for("REASON about it")).await;
    let types = event_types(&response);
    assert_eq!(
        types[..11],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
        ]
    );
    let json = event_json(&response);
    assert_eq!(json[4]["summary_index"], 0);
    assert_eq!(json[9]["output_index"], 1);
    let output = completed(&response)["output"].clone();
    assert_eq!(output[0]["type"], "reasoning");
    assert!(output[0]["encrypted_content"].as_str().unwrap().len() > 10);
    let summary = output[0]["summary"][0]["text"].as_str().unwrap();
    let deltas: String = json[4..6]
        .iter()
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(summary, deltas);
    assert_eq!(output[1]["type"], "message");
    assert_eq!(output[1]["content"][0]["text"], "pong");
    assert!(
        completed(&response)["usage"]["output_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

fn function_calls(response: &HttpResponse) -> Vec<Value> {
    completed(response)["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call")
        .cloned()
        .collect()
}

#[tokio::test]
async fn run_tool_calls_the_clients_shell_tool() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();

    let mut codex = body_for("RUN_TOOL please");
    codex["tools"] = json!([
        function("exec_command"),
        function("write_stdin"),
        {"type": "namespace", "name": "multi_agent_v1", "tools": [function("spawn")]},
        {"type": "web_search", "external_web_access": false},
    ]);
    let response = responses(&mock, &tokens, &codex).await;
    assert_eq!(
        event_types(&response),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let json = event_json(&response);
    let added = &json[2]["item"];
    assert_eq!(added["type"], "function_call");
    assert_eq!(added["arguments"], "");
    let deltas: String = json[3..5]
        .iter()
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, r#"{"cmd":"echo tool-ok-42"}"#);
    assert_eq!(json[5]["arguments"], deltas.as_str());
    let calls = function_calls(&response);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "exec_command");
    assert_eq!(calls[0]["arguments"], deltas.as_str());
    assert_eq!(calls[0]["call_id"], added["call_id"]);
    assert!(calls[0]["call_id"].as_str().unwrap().starts_with("call_"));

    // opencode / AI SDK: input items without "type", bash tool.
    let mut opencode = body_with(
        json!([{"role": "user", "content": [{"type": "input_text", "text": "RUN_TOOL now"}]}]),
    );
    opencode["tools"] = json!([function("edit"), function("bash"), function("read")]);
    let calls = function_calls(&responses(&mock, &tokens, &opencode).await);
    assert_eq!(calls[0]["name"], "bash");
    let args: Value = serde_json::from_str(calls[0]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args,
        json!({"command": "echo tool-ok-42", "description": "Print a marker"})
    );

    let mut shell = body_for("RUN_TOOL");
    shell["tools"] = json!([function("shell")]);
    let calls = function_calls(&responses(&mock, &tokens, &shell).await);
    assert_eq!(
        calls[0]["arguments"],
        r#"{"command":["bash","-lc","echo tool-ok-42"]}"#
    );

    let mut other = body_for("RUN_TOOL");
    other["tools"] = json!([{"type": "web_search"}, function("llm_version")]);
    let calls = function_calls(&responses(&mock, &tokens, &other).await);
    assert_eq!(
        (calls[0]["name"].clone(), calls[0]["arguments"].clone()),
        (json!("llm_version"), json!("{}"))
    );
}

#[tokio::test]
async fn parallel_tools_make_two_calls_in_one_response() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let mut body = body_for("PARALLEL_TOOLS");
    body["tools"] = json!([function("get_weather"), function("get_time")]);
    let response = responses(&mock, &tokens, &body).await;
    let calls = function_calls(&response);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["name"], "get_weather");
    assert_eq!(calls[1]["name"], "get_time");
    assert_ne!(calls[0]["call_id"], calls[1]["call_id"]);
    let added: Vec<Value> = event_json(&response)
        .into_iter()
        .filter(|e| e["type"] == "response.output_item.added")
        .map(|e| e["output_index"].clone())
        .collect();
    assert_eq!(added, [json!(0), json!(1)]);
}

#[tokio::test]
async fn custom_tool_streams_freeform_input() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let mut body = body_for("CUSTOM_TOOL");
    body["tools"] = json!([function("exec_command"), {"type": "custom", "name": "apply_patch", "description": "patch", "format": {"type": "grammar"}}]);
    let response = responses(&mock, &tokens, &body).await;
    let types = event_types(&response);
    assert_eq!(
        types[2..8],
        [
            "response.output_item.added",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let item = &completed(&response)["output"][0];
    assert_eq!(item["type"], "custom_tool_call");
    assert_eq!(item["name"], "apply_patch");
    assert_eq!(item["input"], "*** Begin Patch\n*** End Patch\n");
    let deltas: String = event_json(&response)
        .iter()
        .filter(|e| e["type"] == "response.custom_tool_call_input.delta")
        .map(|e| e["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deltas, "*** Begin Patch\n*** End Patch\n");
}

#[tokio::test]
async fn tool_outputs_are_answered_with_tool_said() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let input = json!([
        user("RUN_TOOL please"),
        {"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\":\"echo tool-ok-42\"}", "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "tool-ok-42\n"},
    ]);
    let response = responses(&mock, &tokens, &body_with(input)).await;
    assert_eq!(streamed_text(&response), "tool said: tool-ok-42\n");

    let input = json!([
        user("CUSTOM_TOOL"),
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": [{"type": "input_text", "text": "Done"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
    ]);
    let response = responses(&mock, &tokens, &body_with(input)).await;
    assert_eq!(streamed_text(&response), "tool said: Done");
}

#[tokio::test]
async fn models_catalogue_has_the_required_fields_and_an_etag() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let headers = auth(&tokens);
    let path = "/backend-api/codex/models?client_version=0.125.0";
    let response = get(&mock, path, &as_refs(&headers)).await;
    assert_eq!(response.status, 200);
    let etag = response.header("etag").unwrap().to_owned();
    let models = response.json()["models"].as_array().unwrap().clone();
    let slugs: Vec<&str> = models.iter().map(|m| m["slug"].as_str().unwrap()).collect();
    assert_eq!(
        slugs,
        [
            "gpt-5.5",
            "gpt-5.4",
            "gpt-5.4-mini",
            "gpt-5.3-codex",
            "gpt-5.2",
            "codex-auto-review"
        ]
    );
    for model in &models {
        for field in [
            "slug",
            "display_name",
            "supported_reasoning_levels",
            "shell_type",
            "visibility",
            "supported_in_api",
            "priority",
            "base_instructions",
            "supports_reasoning_summaries",
            "support_verbosity",
            "truncation_policy",
            "supports_parallel_tool_calls",
            "experimental_supported_tools",
        ] {
            assert!(!model[field].is_null(), "{} lacks {field}", model["slug"]);
        }
        assert!(model["supported_reasoning_levels"][0]["effort"].is_string());
    }
    assert_eq!(models[0]["priority"], 0);
    assert_eq!(models[5]["visibility"], "hide");
    assert_eq!(mock.state().models_calls(), 1);
    assert_eq!(
        mock.state()
            .last_request_to("/backend-api/codex/models")
            .unwrap()
            .path,
        path
    );

    // The responses stream advertises the same etag.
    let stream = responses(&mock, &tokens, &body_for("hi")).await;
    assert_eq!(stream.header("x-models-etag"), Some(etag.as_str()));

    let mut conditional = as_refs(&headers);
    conditional.push(("if-none-match", &etag));
    assert_eq!(get(&mock, path, &conditional).await.status, 304);

    mock.state().set_models(vec![json!({"slug": "only-one"})]);
    let replaced = get(&mock, path, &as_refs(&headers)).await;
    assert_eq!(replaced.json()["models"], json!([{"slug": "only-one"}]));
    assert_ne!(replaced.header("etag").unwrap(), etag);

    mock.state().set_models_failure(true);
    assert_eq!(get(&mock, path, &as_refs(&headers)).await.status, 500);
}

#[tokio::test]
async fn usage_reports_the_same_windows_as_the_headers() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let headers = auth(&tokens);
    let response = get(&mock, "/backend-api/wham/usage", &as_refs(&headers)).await;
    assert_eq!(response.status, 200);
    let usage = response.json();
    assert_eq!(usage["plan_type"], "plus");
    let primary = &usage["rate_limit"]["primary_window"];
    assert_eq!(primary["limit_window_seconds"], 18_000);
    assert_eq!(
        usage["rate_limit"]["secondary_window"]["limit_window_seconds"],
        604_800
    );
    assert!(primary["reset_at"].is_u64() && primary["reset_after_seconds"].is_u64());
    assert_eq!(usage["rate_limit"]["allowed"], true);
    assert_eq!(usage["credits"]["balance"], "0", "balance is a string");
    assert_eq!(mock.state().usage_calls(), 1);

    let stream = responses(&mock, &tokens, &body_for("hi")).await;
    assert_eq!(
        stream
            .header("x-codex-primary-used-percent")
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        primary["used_percent"].as_f64().unwrap()
    );

    let no_account = [("authorization", headers[0].1.as_str())];
    assert_eq!(
        get(&mock, "/backend-api/wham/usage", &no_account)
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_requests_are_recorded() {
    let mock = start().await;
    let state = mock.state();
    assert_eq!(get(&mock, "/nope", &[("X-Custom", "1")]).await.status, 404);
    assert_eq!(
        get(&mock, "/backend-api/codex/other", &[]).await.status,
        404
    );
    let tokens = state.issue_tokens();
    let mut headers = auth(&tokens);
    headers.push(("session_id".to_owned(), "abc".to_owned()));
    let body = body_for("hi");
    post_json(
        &mock,
        "/backend-api/codex/responses",
        &as_refs(&headers),
        &body,
    )
    .await;

    let requests = state.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].header("x-custom"), Some("1"));
    assert!(
        requests[0].headers.contains_key("x-custom"),
        "names are lower-cased"
    );
    assert_eq!(requests[0].body, Value::Null);
    let last = state
        .last_request_to("/backend-api/codex/responses")
        .unwrap();
    assert_eq!(last.body, body);
    assert_eq!(last.raw_body_len, body.to_string().len());
    assert_eq!(last.header("session_id"), Some("abc"));
    assert_eq!(
        last.header("ChatGPT-Account-ID"),
        Some(tokens.account_id.as_str())
    );
    assert_eq!(state.responses_calls(), 1);

    state.clear_requests();
    assert!(state.requests().is_empty());
    assert!(state.last_request_to("/").is_none());
}

#[tokio::test]
async fn recorded_requests_are_bounded() {
    let mock = start().await;
    for n in 0..1005 {
        get(&mock, &format!("/nope/{n}"), &[]).await;
    }
    let requests = mock.state().requests();
    assert_eq!(requests.len(), 1000);
    assert_eq!(requests[0].path, "/nope/5");
    assert_eq!(requests[999].path, "/nope/1004");
}
