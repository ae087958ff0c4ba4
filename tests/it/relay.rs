//! The relay server end to end: routes, signed-out answers, client disconnects,
//! usage headers, the single-instance lock and graceful exit, the traffic log and h2c.

use std::time::Duration;

use crate::harness::relay::{Relay, RelayOptions, error_of, sse_events, text_request};
use crate::harness::*;
use airelays_mock::Fault;
use serde_json::{Value, json};

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
async fn client_disconnect_mid_stream_releases_everything() {
    let r = Relay::start(RelayOptions::default()).await;
    r.mock()
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
        if r.mock().state().active_streams() == 0 {
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
    let path = r.sandbox.traffic_log();
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
        .mock()
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
