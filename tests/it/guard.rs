//! The guard in front of every model route: the relay token and its live rotation,
//! the failed-auth ban, rate and concurrency limits, Host and Origin checks, the
//! body size limit, and the refusal to serve without auth off loopback.

use std::time::Duration;

use crate::harness::relay::{Relay, RelayOptions, error_of, expect_error, text_request};
use crate::harness::*;
use airelays_mock::Fault;
use serde_json::json;

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
    r.mock()
        .state()
        .push_fault(Fault::StallAfterFirstEvent(Duration::from_secs(30)));
    let stalled = r.post("/v1/responses", &text_request("hi", true)).send();
    let stalled = tokio::spawn(stalled);
    // Wait until the stalled request is in flight upstream.
    for _ in 0..200 {
        if r.mock().state().active_streams() == 1 {
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
    assert_eq!(r.mock().state().responses_calls(), 0);

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
