//! Fault injection (issue 9) against the mock upstream and issuer, and against a raw
//! misbehaving upstream for transport faults the mock cannot produce. Each case ends
//! with the documented status or in-band error, and the relay still healthy: `/healthz`
//! answers, nothing is left in flight, and (where the upstream can) the next request
//! succeeds. The first tests cover the mock's faults on `/v1/responses` (503
//! overloaded, 500 retries, reset and stall before headers, cut mid-stream, usage
//! limit, malformed SSE, a 401 answered by one refresh); the rest are not repeated
//! there.

use std::time::Duration;

use crate::harness::json_of;
use crate::harness::relay::{
    Relay, RelayOptions, error_of, expect_error, sse_events, text_request,
};
use airelays_mock::{Fault, RefreshFailure};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-5.5", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// `/healthz` answers and nothing is left active, held or in flight.
async fn assert_settled(r: &Relay) {
    assert_eq!(
        r.http.get(r.url("/healthz")).send().await.unwrap().status(),
        200
    );
    r.wait_for_status("settled", |s| {
        s["live"]["active_streams"] == 0
            && s["live"]["held_slots"] == 0
            && s["live"]["upstream_requests_in_flight"] == 0
    })
    .await;
}

/// Settled, and a normal request (streaming and not) succeeds.
async fn assert_healthy(r: &Relay) {
    assert_settled(r).await;
    let ok = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let text = r
        .post("/v1/chat/completions", &chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert_settled(r).await;
}

#[tokio::test]
async fn upstream_faults_before_the_first_byte_are_real_statuses() {
    let r = Relay::start(RelayOptions::default()).await;
    let state = r.mock().state();

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
    let state = r.mock().state();

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
    r.mock().state().revoke_all_access_tokens();
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(r.mock().state().refresh_calls(), 1);
    let status = json_of(&r.sandbox.run(&["status", "--json"]));
    assert_eq!(status["upstream"]["state"], "ready");
}

#[tokio::test]
async fn upstream_401_once_forever_and_refresh_failures() {
    let r = Relay::start(RelayOptions::default()).await;
    let state = r.mock().state();

    // 401 once: refreshed and retried, invisible to the client.
    let refreshes = state.refresh_calls();
    state.push_fault(Fault::Unauthorized401);
    assert_eq!(
        r.post("/v1/responses", &text_request("hi", true))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(state.refresh_calls(), refreshes + 1);
    assert_healthy(&r).await;

    // 401 forever (also after the refresh): 503 upstream_auth_rejected, one refresh only.
    let refreshes = state.refresh_calls();
    state.push_fault(Fault::Unauthorized401);
    state.push_fault(Fault::Unauthorized401);
    let (_, b) = expect_error(
        r.post("/v1/chat/completions", &chat(false)),
        503,
        "upstream_auth_rejected",
    )
    .await;
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("airelays login")
    );
    assert_eq!(state.refresh_calls(), refreshes + 1);
    assert_healthy(&r).await;

    // The refresh endpoint fails with 500, then recovers: transient 503 with
    // Retry-After while it fails, then success on the next request.
    state.set_refresh_failure(Some(RefreshFailure::Transient500 { times: 1 }));
    state.revoke_all_access_tokens();
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    if resp.status() != 200 {
        let (s, retry, b) = error_of(resp).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (503, Some("upstream_auth_refresh_failed")),
            "{b}"
        );
        assert!(
            retry.is_some(),
            "a transient refresh failure says when to retry"
        );
        assert_eq!(
            r.post("/v1/responses", &text_request("hi", false))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(r.relay_status().await["upstream"]["state"], "ready");
    assert_healthy(&r).await;
}

#[tokio::test]
async fn refresh_token_reused_needs_a_new_login() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_RATE_LIMIT_BURST", "10000".into())],
        ..Default::default()
    })
    .await;
    let state = r.mock().state();
    assert_eq!(
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    state.set_refresh_failure(Some(RefreshFailure::Reused));
    state.revoke_all_access_tokens();
    let (retry, b) = expect_error(
        r.post("/v1/responses", &text_request("hi", true)),
        503,
        "upstream_auth_refresh_failed",
    )
    .await;
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("airelays login"),
        "{b}"
    );
    assert!(retry.is_none(), "a permanent failure has no Retry-After");
    let refreshes = state.refresh_calls();
    // Permanent: later requests fail the same way without spending anything upstream.
    for body in [chat(false), chat(true)] {
        expect_error(
            r.post("/v1/chat/completions", &body),
            503,
            "upstream_auth_refresh_failed",
        )
        .await;
    }
    assert_eq!(
        state.refresh_calls(),
        refreshes,
        "a reused refresh token is never sent again"
    );
    let status = r.relay_status().await;
    assert_eq!(status["upstream"]["state"], "refresh_failed", "{status}");
    assert_settled(&r).await;
    // A new login from another terminal is picked up without a restart.
    state.set_refresh_failure(None);
    r.sandbox.sign_in().await;
    let mut recovered = false;
    for _ in 0..300 {
        if r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the relay never picked up the new login");
    assert_healthy(&r).await;
}

#[tokio::test]
async fn chat_routes_map_upstream_faults_like_responses() {
    let r = Relay::start(RelayOptions::default()).await;
    let state = r.mock().state();

    state.push_fault(Fault::UsageLimit {
        resets_in_seconds: 90,
    });
    let (s, retry, b) = error_of(
        r.post("/v1/chat/completions", &chat(true))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str(), retry.as_deref()),
        (429, Some("usage_limit_reached"), Some("90"))
    );

    state.push_fault(Fault::RateLimited429);
    expect_error(
        r.post("/v1/chat/completions", &chat(false)),
        429,
        "rate_limit_exceeded",
    )
    .await;

    for _ in 0..3 {
        state.push_fault(Fault::Overloaded503);
    }
    let (retry, _) = expect_error(
        r.post("/v1/chat/completions", &chat(true)),
        503,
        "upstream_overloaded",
    )
    .await;
    assert!(retry.is_some());

    // Malformed data lines are skipped; the chat stream still ends properly.
    state.push_fault(Fault::MalformedSse);
    let text = r
        .post("/v1/chat/completions", &chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert_healthy(&r).await;
}

#[tokio::test]
async fn a_50_mb_single_sse_line_is_relayed() {
    // The mock builds the whole line before sending it (seconds in a debug build); the
    // relay's idle timer runs between chunks, so give the mock time.
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_STREAM_IDLE_TIMEOUT_SECONDS", "120".into())],
        ..Default::default()
    })
    .await;
    let bytes = 50 << 20;
    r.mock().state().push_fault(Fault::HugeLine { bytes });
    let resp = r
        .post("/v1/responses", &text_request("hi", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.len() > bytes, "{}", text.len());
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap().1["type"], "response.completed");
    r.mock().state().push_fault(Fault::HugeLine { bytes });
    let body: Value = r
        .post("/v1/chat/completions", &chat(false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.len() >= bytes - 1024, "{}", content.len());
    assert_healthy(&r).await;
}

/// What a raw fake upstream does with `POST …/responses`.
#[derive(Clone, Copy)]
enum Misbehave {
    /// Half a status line and headers, then a TCP reset.
    ResetMidHeaders,
    /// Headers and two events, then a TCP reset.
    ResetMidStream,
    /// Headers and two events, then silence past the idle timeout.
    StallMidStream,
}

const CREATED: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_f\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5.5\",\"output\":[]}}\n\n";
const DELTA: &str = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_f\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n";

async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(text[..end].to_string());
            }
        }
    }
}

/// Closes with a TCP reset (SO_LINGER 0) rather than a FIN.
#[allow(deprecated)] // SO_LINGER 0 never blocks on drop; a reset is the point here.
fn reset(s: TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
    drop(s);
}

/// A fake upstream on an ephemeral port; returns its base URL.
async fn misbehaving_upstream(mode: Misbehave) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Some(head) = read_request(&mut s).await else {
                    return;
                };
                if head.starts_with("GET") {
                    // The model catalogue: unavailable, so the relay fails open.
                    let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    return;
                }
                let sse_head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
                match mode {
                    Misbehave::ResetMidHeaders => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/ev")
                            .await;
                        reset(s);
                    }
                    Misbehave::ResetMidStream => {
                        let _ = s
                            .write_all(format!("{sse_head}{CREATED}{DELTA}").as_bytes())
                            .await;
                        let _ = s.flush().await;
                        reset(s);
                    }
                    Misbehave::StallMidStream => {
                        let _ = s
                            .write_all(format!("{sse_head}{CREATED}{DELTA}").as_bytes())
                            .await;
                        let _ = s.flush().await;
                        // Held open (and silent) until the relay gives up and hangs up.
                        let mut sink = [0u8; 64];
                        let _ =
                            tokio::time::timeout(Duration::from_secs(60), s.read(&mut sink)).await;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}/backend-api/codex")
}

async fn relay_against(base_url: String) -> Relay {
    Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_UPSTREAM_BASE_URL", base_url),
            ("AIRELAYS_STREAM_IDLE_TIMEOUT_SECONDS", "2".into()),
            ("AIRELAYS_CONNECT_TIMEOUT_SECONDS", "5".into()),
            ("AIRELAYS_RATE_LIMIT_BURST", "10000".into()),
        ],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn connection_refused_is_502_and_the_relay_stays_up() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = relay_against(format!("http://127.0.0.1:{port}/backend-api/codex")).await;
    for (path, body) in [
        ("/v1/responses", text_request("hi", true)),
        ("/v1/chat/completions", chat(false)),
    ] {
        let (s, _, b) = error_of(r.post(path, &body).send().await.unwrap()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (502, Some("upstream_error")),
            "{path}: {b}"
        );
    }
    let (s, _, _) = error_of(r.get("/v1/models").send().await.unwrap()).await;
    assert_eq!(s, 502);
    assert_settled(&r).await;
}

#[tokio::test]
async fn reset_mid_headers_is_502() {
    let r = relay_against(misbehaving_upstream(Misbehave::ResetMidHeaders).await).await;
    for (path, body) in [
        ("/v1/responses", text_request("hi", true)),
        ("/v1/chat/completions", chat(true)),
    ] {
        let (s, _, b) = error_of(r.post(path, &body).send().await.unwrap()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (502, Some("upstream_error")),
            "{path}: {b}"
        );
    }
    assert_settled(&r).await;
}

#[tokio::test]
async fn reset_mid_stream_ends_streams_with_an_in_band_error() {
    let r = relay_against(misbehaving_upstream(Misbehave::ResetMidStream).await).await;
    let resp = r
        .post("/v1/responses", &text_request("hi", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.unwrap());
    assert!(
        events
            .iter()
            .any(|(_, d)| d["type"] == "response.output_text.delta")
    );
    let (name, last) = events.last().unwrap();
    assert_eq!(
        (name.as_deref(), last["type"].as_str()),
        (Some("error"), Some("error")),
        "{events:?}"
    );
    assert!(
        ["incomplete_stream", "upstream_error"].contains(&last["code"].as_str().unwrap()),
        "{last}"
    );

    let text = r
        .post("/v1/chat/completions", &chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    let last = sse_events(&text).last().unwrap().1.clone();
    assert!(
        ["incomplete_stream", "upstream_error"].contains(&last["error"]["code"].as_str().unwrap()),
        "{text}"
    );

    // Not streamed: never an empty 200.
    let (s, _, b) = error_of(
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 502, "{b}");
    assert_settled(&r).await;
}

#[tokio::test]
async fn stall_past_the_idle_timeout_mid_stream_is_an_in_band_timeout() {
    let r = relay_against(misbehaving_upstream(Misbehave::StallMidStream).await).await;
    let resp = r
        .post("/v1/responses", &text_request("hi", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.unwrap());
    let last = &events.last().unwrap().1;
    assert_eq!(
        (last["type"].as_str(), last["code"].as_str()),
        (Some("error"), Some("upstream_timeout")),
        "{events:?}"
    );

    let text = r
        .post("/v1/chat/completions", &chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    assert_eq!(
        sse_events(&text).last().unwrap().1["error"]["code"],
        "upstream_timeout",
        "{text}"
    );

    expect_error(
        r.post("/v1/chat/completions", &chat(false)),
        504,
        "upstream_timeout",
    )
    .await;
    assert_settled(&r).await;
}
