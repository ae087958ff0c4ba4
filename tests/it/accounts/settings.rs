//! The `[accounts]` settings: `order`, `pool` and `pin` (a rule naming an account
//! that is not signed in included).

use std::time::Duration;

use super::{PATIENCE, ask, home, two_accounts_with, work};
use crate::harness::relay::{Relay, RelayOptions, expect_error, text_request};
use crate::harness::{eventually, json_of};

#[tokio::test]
async fn order_and_pool_choose_and_fence_the_accounts() {
    let r = two_accounts_with(vec![
        ("AIRELAYS_ACCOUNTS_ORDER", "work".into()),
        ("AIRELAYS_ACCOUNTS_POOL", "work".into()),
    ])
    .await;
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));
    // `default` is outside the pool: a usage limit on `work` is its own answer,
    // never a failover to `default`, which still answers requests pinned to it.
    r.mock()
        .state()
        .set_usage_limited(&work().account_id, Some(Duration::from_secs(600)));
    assert_eq!(ask(&r, None).await.0, 429);
    assert_eq!(
        ask(&r, Some("default")).await,
        (200, Some("default".into()))
    );
    let untouched = r.mock().state().responses_calls_for(&home().account_id);
    assert_eq!(ask(&r, None).await.0, 429);
    assert_eq!(
        r.mock().state().responses_calls_for(&home().account_id),
        untouched
    );
    let _ = eventually(PATIENCE, async || true).await;
}

#[tokio::test]
async fn pin_rules_keep_a_client_on_its_account() {
    let r = two_accounts_with(vec![("AIRELAYS_ACCOUNTS_PIN", "ua:claude-cli=work".into())]).await;
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .header("user-agent", "claude-cli/2.1.0 (external, cli)")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-airelays-account"], "work");
    assert_eq!(ask(&r, None).await, (200, Some("default".into())));
    // A pinned client never fails over: it gets its account's real answer.
    r.mock()
        .state()
        .set_usage_limited(&work().account_id, Some(Duration::from_secs(600)));
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .header("user-agent", "claude-cli/2.1.0 (external, cli)")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
}

#[tokio::test]
async fn a_pin_rule_naming_an_account_not_signed_in_is_loud_and_refuses_until_it_signs_in() {
    let rule = "ua:claude-cli=work";
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_ACCOUNTS_PIN", rule.into())],
        ..RelayOptions::default()
    })
    .await;
    // `serve` names the rule at start.
    let warned = eventually(PATIENCE, async || {
        r.stderr_log()
            .contains(&format!("accounts.pin rule {rule:?}"))
    })
    .await;
    assert!(warned, "{}", r.stderr_log());
    // `doctor` reports it with the next step.
    let doctor = r.sandbox.output(r.sandbox.cmd(&["doctor", "--json"])).await;
    let report = json_of(&doctor);
    let pins = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "account_pins")
        .cloned()
        .expect("an account_pins check");
    assert_eq!(pins["status"], "warn", "{pins}");
    assert!(pins["summary"].as_str().unwrap().contains(rule), "{pins}");
    assert!(
        pins["hint"]
            .as_str()
            .unwrap()
            .contains("airelays login --account work"),
        "{pins}"
    );

    // A request the rule matches is refused as an unknown x-airelays-account is,
    // in its dialect's envelope; the others are served by the one account.
    let claude = "claude-cli/2.1.0 (external, cli)";
    let (_, body) = expect_error(
        r.post("/v1/responses", &text_request("hi", false))
            .header("user-agent", claude),
        403,
        "unknown_account",
    )
    .await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains(rule),
        "{body}"
    );
    let messages = serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    });
    let resp = r
        .post("/v1/messages", &messages)
        .header("user-agent", claude)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "permission_error", "{body}");
    assert_eq!(ask(&r, None).await, (200, None));

    // The account signs in: the rule is valid without a restart.
    r.sandbox.sign_in_account("work", &work()).await;
    let pinned = eventually(PATIENCE, async || {
        let resp = r
            .post("/v1/responses", &text_request("hi", false))
            .header("user-agent", claude)
            .send()
            .await
            .unwrap();
        resp.status() == 200 && resp.headers()["x-airelays-account"] == "work"
    })
    .await;
    assert!(pinned, "the rule never took effect");
    let doctor = r.sandbox.output(r.sandbox.cmd(&["doctor", "--json"])).await;
    let report = json_of(&doctor);
    let pins = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "account_pins")
        .cloned()
        .unwrap();
    assert_eq!(pins["status"], "ok", "{pins}");
}
