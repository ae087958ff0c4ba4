//! Injected failures, from the fault queue and from `FAULT:` prompts, and stream lifetimes.

mod common;

use std::time::Duration;

use airelays_mock::{Fault, IssuedTokens, MockUpstream};
use common::*;
use serde_json::json;

async fn with_fault(mock: &MockUpstream, tokens: &IssuedTokens, fault: Fault) -> HttpResponse {
    mock.state().push_fault(fault);
    let response = responses(mock, tokens, &body_for("hi")).await;
    assert_eq!(mock.state().pending_faults(), 0, "the fault was consumed");
    response
}

#[tokio::test]
async fn usage_limit_is_a_429_with_the_full_header_set() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = with_fault(
        &mock,
        &tokens,
        Fault::UsageLimit {
            resets_in_seconds: 1234,
        },
    )
    .await;
    assert_eq!(response.status, 429);
    let error = &response.json()["error"];
    assert_eq!(error["type"], "usage_limit_reached");
    assert_eq!(error["message"], "The usage limit has been reached");
    assert_eq!(error["plan_type"], "plus");
    assert_eq!(error["resets_in_seconds"], 1234);
    assert!(error["eligible_promo"].is_null());
    let resets_at = error["resets_at"].as_u64().unwrap();
    assert_eq!(response.header("x-codex-primary-used-percent"), Some("100"));
    assert_eq!(
        response.header("x-codex-primary-reset-after-seconds"),
        Some("1234")
    );
    assert_eq!(
        response.header("x-codex-primary-reset-at"),
        Some(resets_at.to_string().as_str())
    );
    for name in [
        "x-codex-primary-window-minutes",
        "x-codex-secondary-used-percent",
        "x-codex-secondary-window-minutes",
        "x-codex-secondary-reset-at",
        "x-codex-primary-over-secondary-limit-percent",
        "x-codex-credits-has-credits",
        "x-codex-credits-balance",
        "x-codex-credits-unlimited",
        "x-models-etag",
        "x-oai-request-id",
    ] {
        assert!(response.header(name).is_some(), "missing {name}");
    }
    assert_eq!(response.header("x-codex-active-limit"), Some("codex"));
    assert_eq!(response.header("x-codex-plan-type"), Some("plus"));
}

#[tokio::test]
async fn status_faults() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();

    let r = with_fault(&mock, &tokens, Fault::RateLimited429).await;
    assert_eq!(r.status, 429);
    assert_ne!(r.json()["error"]["type"], "usage_limit_reached");

    let r = with_fault(&mock, &tokens, Fault::Status500).await;
    assert_eq!(
        (r.status, r.json()),
        (500, json!({"detail": "Internal server error"}))
    );

    let r = with_fault(&mock, &tokens, Fault::Overloaded503).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["code"], "server_is_overloaded");

    let before = mock.state().unauthorized_responses();
    let r = with_fault(&mock, &tokens, Fault::Unauthorized401).await;
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"detail": "Unauthorized"}))
    );
    assert_eq!(mock.state().unauthorized_responses(), before + 1);

    let r = with_fault(&mock, &tokens, Fault::BadRequest("Model is weird".into())).await;
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"detail": "Model is weird"}))
    );

    // The token itself is still fine.
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 200);
}

#[tokio::test]
async fn failed_stream_ends_with_response_failed() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let fault = Fault::Failed {
        code: "rate_limit_exceeded".into(),
        message: "Rate limit reached. Please try again in 1.2s.".into(),
    };
    let response = with_fault(&mock, &tokens, fault).await;
    assert_eq!(response.status, 200);
    assert!(response.complete);
    assert_eq!(
        event_types(&response),
        ["response.created", "response.failed"]
    );
    let failed = &event_json(&response)[1]["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        failed["error"]["message"],
        "Rate limit reached. Please try again in 1.2s."
    );
    assert_eq!(failed["id"], event_json(&response)[0]["response"]["id"]);
}

#[tokio::test]
async fn incomplete_stream_ends_with_response_incomplete() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = with_fault(
        &mock,
        &tokens,
        Fault::Incomplete {
            reason: "content_filter".into(),
        },
    )
    .await;
    let types = event_types(&response);
    assert_eq!(types.first().unwrap(), "response.created");
    assert!(types.contains(&"response.output_text.delta".to_owned()));
    assert_eq!(types.last().unwrap(), "response.incomplete");
    assert!(!types.contains(&"response.completed".to_owned()));
    let last = event_json(&response).pop().unwrap();
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "content_filter"
    );
    assert!(!streamed_text(&response).is_empty());
}

#[tokio::test]
async fn cut_mid_stream_drops_the_connection_after_one_delta() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = with_fault(&mock, &tokens, Fault::CutMidStream).await;
    assert_eq!(response.status, 200);
    assert!(
        !response.complete,
        "the chunked body must not terminate properly"
    );
    let types = event_types(&response);
    assert_eq!(types.first().unwrap(), "response.created");
    assert_eq!(types.last().unwrap(), "response.output_text.delta");
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "response.output_text.delta")
            .count(),
        1
    );
    assert!(eventually(|| mock.state().active_streams() == 0).await);
}

#[tokio::test]
async fn stalls_delay_but_complete() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let r = with_fault(
        &mock,
        &tokens,
        Fault::StallAfterFirstEvent(Duration::from_millis(30)),
    )
    .await;
    assert_eq!(streamed_text(&r), "pong");
    completed(&r);
    let r = with_fault(
        &mock,
        &tokens,
        Fault::StallBeforeHeaders(Duration::from_millis(30)),
    )
    .await;
    assert_eq!(r.status, 200);
    completed(&r);
}

#[tokio::test]
async fn malformed_sse_lines_come_before_a_normal_completion() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = with_fault(&mock, &tokens, Fault::MalformedSse).await;
    let events = response.events();
    let broken = events.iter().filter(|e| e.json().is_none()).count();
    assert!(broken >= 2, "{}", response.text());
    assert_eq!(events[0].json().unwrap()["type"], "response.created");
    assert_eq!(streamed_text(&response), "pong");
    completed(&response);
}

#[tokio::test]
async fn huge_line_sends_one_enormous_delta() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = with_fault(&mock, &tokens, Fault::HugeLine { bytes: 300_000 }).await;
    let text = response.text();
    let longest = text.lines().map(str::len).max().unwrap();
    assert!(longest >= 300_000);
    let deltas: Vec<_> = event_json(&response)
        .into_iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .collect();
    assert_eq!(deltas.len(), 1);
    let delta_line = text
        .lines()
        .find(|l| l.contains("\"response.output_text.delta\""))
        .unwrap();
    assert!(delta_line.len() >= 300_000);
    completed(&response);
}

#[tokio::test]
async fn reset_before_headers_closes_without_a_response() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    mock.state().push_fault(Fault::ResetBeforeHeaders);
    let headers = auth(&tokens);
    let result = send(
        mock.addr(),
        "POST",
        "/backend-api/codex/responses",
        &as_refs(&headers),
        body_for("hi").to_string().as_bytes(),
    )
    .await;
    assert!(result.is_err(), "expected no response at all");
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 200);
}

#[tokio::test]
async fn faults_are_fifo_and_skip_requests_that_fail_auth() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    mock.state().push_fault(Fault::Status500);
    mock.state().push_fault(Fault::Overloaded503);
    let unauthenticated =
        post_json(&mock, "/backend-api/codex/responses", &[], &body_for("hi")).await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(mock.state().pending_faults(), 2);
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 500);
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 503);
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 200);
}

#[tokio::test]
async fn fault_prompts_trigger_the_same_faults() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let ask = |prompt: &str| {
        let body = body_for(prompt);
        let (mock, tokens) = (&mock, &tokens);
        async move { responses(mock, tokens, &body).await }
    };

    assert!(!ask("FAULT:cut").await.complete);
    let failed = ask("FAULT:failed").await;
    assert_eq!(
        event_json(&failed)[1]["response"]["error"]["code"],
        "context_length_exceeded"
    );
    let failed = ask("FAULT:failed:rate_limit_exceeded").await;
    assert!(
        event_json(&failed)[1]["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again in")
    );
    let incomplete = ask("FAULT:incomplete").await;
    assert_eq!(
        event_json(&incomplete).pop().unwrap()["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    let limited = ask("FAULT:usage_limit:60").await;
    assert_eq!(
        (
            limited.status,
            limited.json()["error"]["resets_in_seconds"].clone()
        ),
        (429, json!(60))
    );
    assert_eq!(ask("FAULT:overloaded").await.status, 503);
    assert_eq!(ask("FAULT:500").await.status, 500);
    assert_eq!(ask("FAULT:rate_limited").await.status, 429);
    assert_eq!(ask("FAULT:401").await.status, 401);
    completed(&ask("FAULT:stall:0").await);
    completed(&ask("FAULT:malformed").await);
    let unknown = ask("FAULT:bogus").await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["detail"].as_str().unwrap().contains("bogus"));
}

#[tokio::test]
async fn active_streams_drop_to_zero_when_a_stalled_client_disconnects() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    mock.state()
        .push_fault(Fault::StallAfterFirstEvent(Duration::from_secs(600)));
    let headers = auth(&tokens);
    let body = body_for("hi").to_string();
    let stream = open_until(
        mock.addr(),
        "/backend-api/codex/responses",
        &as_refs(&headers),
        body.as_bytes(),
        "response.created",
    )
    .await;
    assert_eq!(mock.state().active_streams(), 1);
    drop(stream);
    assert!(eventually(|| mock.state().active_streams() == 0).await);
}

#[tokio::test]
async fn active_streams_drop_to_zero_when_a_reader_leaves_a_long_answer() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let headers = auth(&tokens);
    let body = body_for("LONG:50000000").to_string();
    let stream = open_until(
        mock.addr(),
        "/backend-api/codex/responses",
        &as_refs(&headers),
        body.as_bytes(),
        "response.output_text.delta",
    )
    .await;
    assert_eq!(mock.state().active_streams(), 1);
    drop(stream);
    assert!(eventually(|| mock.state().active_streams() == 0).await);
    // The server is still healthy.
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 200);
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let state = std::sync::Arc::clone(mock.state());
    mock.state()
        .push_fault(Fault::StallAfterFirstEvent(Duration::from_secs(600)));
    let headers = auth(&tokens);
    let body = body_for("hi").to_string();
    let _stream = open_until(
        mock.addr(),
        "/backend-api/codex/responses",
        &as_refs(&headers),
        body.as_bytes(),
        "response.created",
    )
    .await;
    assert_eq!(state.active_streams(), 1);
    mock.shutdown().await;
    assert!(eventually(|| state.active_streams() == 0).await);
}
