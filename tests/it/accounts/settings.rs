//! The `[accounts]` settings: `order`, `pool` and `pin`.

use std::time::Duration;

use super::{PATIENCE, ask, home, two_accounts_with, work};
use crate::harness::eventually;
use crate::harness::relay::text_request;

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
