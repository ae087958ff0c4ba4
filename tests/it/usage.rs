//! Plan usage: the windows read from the backend's usage endpoint (named by their
//! length, whatever slot they arrive in), the `x-airelays-usage-*` headers on every
//! relayed answer, the warning, the quota guard and its overrides, and a poll that
//! never refreshes a login or runs on the request path.

use std::time::Duration;

use crate::harness::relay::{Relay, RelayOptions, error_of, text_request};
use crate::harness::{eventually, json_of, schema_errors, status_schema, stdout};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn ids(status: &Value) -> Vec<String> {
    status["usage"]["windows"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| w["id"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A free plan's payload: the weekly window in the primary slot, no secondary one,
/// and a limit of its own.
fn weekly_first() -> Value {
    json!({
        "plan_type": "free",
        "rate_limit": {
            "allowed": true, "limit_reached": false,
            "primary_window": {"used_percent": 42, "limit_window_seconds": 604800, "reset_after_seconds": 3600, "reset_at": 4_102_444_800i64},
            "secondary_window": null
        },
        "credits": {"has_credits": false, "unlimited": false, "balance": "0"},
        "additional_rate_limits": [
            {"limit_name": "GPT-5.3-Codex-Spark", "metered_feature": "codex_spark",
             "rate_limit": {"primary_window": {"used_percent": 97, "limit_window_seconds": 18000, "reset_after_seconds": 600}, "secondary_window": null}}
        ],
        "rate_limit_reached_type": null
    })
}

#[tokio::test]
async fn usage_windows_are_read_from_the_usage_endpoint_by_their_length() {
    let mut r = Relay::start(RelayOptions::default()).await;
    // Read once at start: the plan's 5 h and weekly windows.
    assert!(eventually(WAIT, async || r.mock().state().usage_calls() >= 1).await);
    let live = r.relay_status().await;
    assert_eq!(ids(&live), ["5h", "7d"], "{live}");
    assert_eq!(live["usage"]["source"], "poll");
    assert_eq!(schema_errors(&status_schema(), &live), Vec::<String>::new());

    // The weekly window arriving in the primary slot is still the weekly window.
    r.mock().state().set_usage(Some(weekly_first()));
    r.kill();
    r.spawn();
    let mut live = Value::Null;
    assert!(
        eventually(WAIT, async || {
            live = r.relay_status().await;
            ids(&live) == ["7d", "5h"]
        })
        .await,
        "{live}"
    );
    let windows = live["usage"]["windows"].as_array().unwrap();
    assert_eq!(windows[0]["window_minutes"], 10080);
    assert_eq!(windows[0]["used_percent"], 42.0);
    assert_eq!(windows[1]["limit_name"], "GPT-5.3-Codex-Spark");
    assert_eq!(live["usage"]["plan"], "free");
    assert_eq!(live["usage"]["credits"]["balance"], "0");
    assert_eq!(schema_errors(&status_schema(), &live), Vec::<String>::new());

    // `airelays status` shows the saved snapshot, as bars with the local reset time.
    let mut doc = Value::Null;
    assert!(
        eventually(WAIT, async || {
            doc = json_of(&r.sandbox.run(&["status", "--json"]));
            doc["usage"]["plan"] == "free"
        })
        .await,
        "{doc}"
    );
    assert_eq!(schema_errors(&status_schema(), &doc), Vec::<String>::new());
    let human = stdout(&r.sandbox.run(&["status"]));
    assert!(human.contains("Plan usage"), "{human}");
    assert!(
        human.contains("7d:") && human.contains("[########............]  42.0% used"),
        "{human}"
    );
    assert!(human.contains("5h GPT-5.3-Codex-Spark:"), "{human}");
}

#[tokio::test]
async fn a_failed_poll_keeps_the_last_snapshot_and_says_why() {
    let mut r = Relay::start(RelayOptions::default()).await;
    assert!(eventually(WAIT, async || r.mock().state().usage_calls() >= 1).await);
    // A graceful stop saves the snapshot; the next start reads usage.json, then its
    // poll fails.
    assert_eq!(r.terminate(), Some(0));
    r.mock().state().set_usage_failure(true);
    r.spawn();
    let mut live = Value::Null;
    assert!(
        eventually(WAIT, async || {
            live = r.relay_status().await;
            live["usage"]["poll_error"].is_string()
        })
        .await,
        "{live}"
    );
    assert_eq!(ids(&live), ["5h", "7d"], "the last snapshot is kept");
    let error = live["usage"]["poll_error"].as_str().unwrap();
    assert!(
        error.contains("/backend-api/wham/usage") && error.contains("500"),
        "{error}"
    );
    assert_eq!(schema_errors(&status_schema(), &live), Vec::<String>::new());
}

#[tokio::test]
async fn every_relayed_answer_carries_the_usage_and_the_warning() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_USAGE_WARN_AT_PERCENT", "20".into())],
        ..RelayOptions::default()
    })
    .await;
    assert!(eventually(WAIT, async || r.mock().state().usage_calls() >= 1).await);
    let calls = r.mock().state().usage_calls();
    for (path, body) in [
        ("/v1/responses", text_request("hi", false)),
        (
            "/v1/chat/completions",
            json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/api/chat",
            json!({"model": "gpt-5.5", "stream": false, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ] {
        let resp = r.post(path, &body).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        assert_eq!(h["x-airelays-usage-5h-used-percent"], "12", "{path}");
        assert_eq!(h["x-airelays-usage-7d-used-percent"], "24", "{path}");
        assert!(h.contains_key("x-airelays-usage-7d-resets-at"), "{path}");
        let warning = h["x-airelays-usage-warning"].to_str().unwrap();
        assert!(warning.starts_with("7d 24% used"), "{path}: {warning}");
    }
    // Answers never wait for the usage endpoint: no read happened on their path.
    assert_eq!(r.mock().state().usage_calls(), calls);
    assert!(
        r.stderr_log().contains("the 7d window is 24% used"),
        "one warning line per crossing"
    );
    assert_eq!(
        r.stderr_log().matches("the 7d window is 24% used").count(),
        1
    );
}

#[tokio::test]
async fn the_quota_guard_refuses_at_the_threshold_and_lets_the_override_through() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_USAGE_REFUSE_AT_PERCENT", "20".into())],
        ..RelayOptions::default()
    })
    .await;
    assert!(eventually(WAIT, async || r.mock().state().usage_calls() >= 1).await);
    let responses = r.mock().state().responses_calls();
    let (status, retry_after, body) = error_of(
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("usage_guard")),
        "{body}"
    );
    assert!(retry_after.is_some(), "Retry-After until the reset");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("7d window")
            && message.contains("24%")
            && message.contains("x-airelays-override-usage-guard"),
        "{message}"
    );
    assert_eq!(
        r.mock().state().responses_calls(),
        responses,
        "nothing was sent"
    );
    // In Claude Code's dialect too, and never retried.
    let resp = r
        .post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-should-retry"], "false");
    assert!(resp.headers().contains_key("retry-after"));
    // The user's own urgent work goes through.
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .header("x-airelays-override-usage-guard", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn serve_ignore_usage_guard_turns_the_guard_off() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_USAGE_REFUSE_AT_PERCENT", "20".into())],
        serve_args: vec!["--ignore-usage-guard"],
        ..RelayOptions::default()
    })
    .await;
    assert!(eventually(WAIT, async || r.mock().state().usage_calls() >= 1).await);
    let live = r.relay_status().await;
    assert_eq!(live["usage"]["windows"][1]["used_percent"], 24.0);
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// The poll never refreshes a login: with an access token about to expire the
/// relay starts without reading usage, and without spending the refresh token.
#[tokio::test]
async fn the_poll_never_refreshes_the_login() {
    let r = Relay::start(RelayOptions {
        mock: airelays_mock::MockConfig {
            access_token_lifetime: Duration::from_secs(30),
            ..Default::default()
        },
        ..RelayOptions::default()
    })
    .await;
    let live = r.relay_status().await;
    assert!(live["usage"].is_null(), "{live}");
    assert_eq!(r.mock().state().usage_calls(), 0);
    assert_eq!(r.mock().state().refresh_calls(), 0);
}
