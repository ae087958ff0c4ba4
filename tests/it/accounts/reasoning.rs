//! Encrypted reasoning stays with the account that issued it, across a restart of
//! the relay (the origins are kept in the state store) and for Anthropic Messages
//! thinking signatures (which name the producing account).

use serde_json::{Value, json};

use super::two_accounts;
use crate::harness::relay::{Relay, RelayOptions};
use crate::harness::stderr;

/// Sends `body` to `path` pinned to `account`; returns the answer, the account
/// that gave it and `x-airelays-ignored-parameters`.
async fn pinned(
    r: &Relay,
    path: &str,
    body: &Value,
    account: &str,
) -> (Value, String, Option<String>) {
    let resp = r
        .post(path, body)
        .header("x-airelays-account", account)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (by, ignored) = (
        header("x-airelays-account"),
        header("x-airelays-ignored-parameters"),
    );
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    (answer, by.expect("x-airelays-account"), ignored)
}

/// The answer came from `account` and disclosed the reasoning it dropped
/// (`field`, in `x-airelays-ignored-parameters`).
fn assert_dropped_on(account: &str, field: &str, by: &str, ignored: &Option<String>) {
    assert_eq!(by, account);
    assert!(
        ignored.as_deref().is_some_and(|i| i.contains(field)),
        "{ignored:?}"
    );
}

/// [`pinned`] on `/v1/responses`.
async fn respond(r: &Relay, body: &Value, account: &str) -> (Value, String, Option<String>) {
    pinned(r, "/v1/responses", body, account).await
}

fn reasoning_of(answer: &Value) -> Value {
    let mut item = answer["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "reasoning")
        .cloned()
        .unwrap_or_else(|| panic!("no reasoning in {answer}"));
    item.as_object_mut().unwrap().remove("id");
    item
}

/// Whether the state database has the table of reasoning origins.
fn origins_table(r: &Relay) -> bool {
    let path = r.sandbox.data_dir().join("state.sqlite3");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = 'reasoning_origins'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

#[tokio::test]
async fn reasoning_of_one_account_never_reaches_another_after_a_restart() {
    let mut r = two_accounts().await;
    r.mock().state().set_reject_foreign_encrypted(true);
    let first = json!({
        "model": "gpt-5.5",
        "input": "REASON first",
        "stream": false,
        "include": ["reasoning.encrypted_content"],
    });
    let (answer, by, _) = respond(&r, &first, "default").await;
    assert_eq!(by, "default");
    let reasoning = reasoning_of(&answer);
    let encrypted = reasoning["encrypted_content"].as_str().unwrap().to_owned();
    let id = answer["id"].as_str().unwrap().to_owned();

    assert_eq!(r.terminate(), Some(0), "a clean stop");
    assert!(origins_table(&r), "two accounts: the origins are kept");
    r.spawn();
    let before = r.upstream_bodies().len();

    // A stored chain expanded from the store, run on the other account.
    let chained = json!({
        "model": "gpt-5.5",
        "input": "second",
        "previous_response_id": id,
        "stream": false,
    });
    let (_, by, ignored) = respond(&r, &chained, "work").await;
    assert_dropped_on("work", "input.reasoning.encrypted_content", &by, &ignored);

    // The client sends the reasoning back itself (as Codex does).
    let resent = json!({
        "model": "gpt-5.5",
        "input": [
            {"type": "message", "role": "user", "content": "REASON first"},
            reasoning,
            {"type": "message", "role": "user", "content": "third"},
        ],
        "stream": false,
    });
    let (_, by, ignored) = respond(&r, &resent, "work").await;
    assert_dropped_on("work", "input.reasoning.encrypted_content", &by, &ignored);
    let after = r.upstream_bodies();
    assert_eq!(after.len(), before + 2);
    for body in &after[before..] {
        assert!(
            !body.to_string().contains(&encrypted),
            "the other account was sent the first one's reasoning: {body}"
        );
    }
    // Its own account still gets it.
    let (_, by, ignored) = respond(&r, &resent, "default").await;
    assert_eq!((by.as_str(), ignored), ("default", None));
    assert!(
        r.upstream_bodies()
            .last()
            .unwrap()
            .to_string()
            .contains(&encrypted)
    );
}

#[tokio::test]
async fn one_account_keeps_no_reasoning_origins() {
    let mut r = Relay::start(RelayOptions::default()).await;
    let body = json!({"model": "gpt-5.5", "input": "REASON once", "stream": false});
    let resp = r.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-airelays-account").is_none());
    assert_eq!(r.terminate(), Some(0));
    assert!(
        !origins_table(&r),
        "the single-account database is unchanged"
    );
    let out = r.sandbox.run(&["state", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A `/v1/messages` request with thinking, pinned to `account`; returns the
/// answer's content blocks, the account that gave it and
/// `x-airelays-ignored-parameters`.
async fn think(r: &Relay, messages: &Value, account: &str) -> (Value, String, Option<String>) {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 4096},
        "messages": messages,
    });
    let (answer, by, ignored) = pinned(r, "/v1/messages", &body, account).await;
    (answer["content"].clone(), by, ignored)
}

#[tokio::test]
async fn a_thinking_signature_names_the_account_that_produced_it_and_stays_with_it() {
    // The state store is off: after the restart only the signature can tell.
    let mut r = super::two_accounts_with(vec![("AIRELAYS_STATE_ENABLED", "0".into())]).await;
    r.mock().state().set_reject_foreign_encrypted(true);
    let question = json!({"role": "user", "content": "REASON first"});
    let (content, by, _) = think(&r, &json!([question]), "work").await;
    assert_eq!(by, "work");
    let thinking = content
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "thinking")
        .cloned()
        .unwrap_or_else(|| panic!("no thinking block in {content}"));
    let tag = airelays::translate::messages::account_tag(&super::work().account_id);
    let signature = thinking["signature"].as_str().unwrap();
    let encrypted = signature
        .strip_prefix(&format!("airelays1.{tag}."))
        .unwrap_or_else(|| panic!("not signed for the work account: {signature}"))
        .to_owned();

    let next = json!([
        question,
        {"role": "assistant", "content": content},
        {"role": "user", "content": "second"},
    ]);
    let sent = |r: &Relay| r.upstream_bodies().last().unwrap().to_string();
    // Its own account gets the reasoning back.
    let (_, by, ignored) = think(&r, &next, "work").await;
    assert_eq!(by, "work");
    assert!(!ignored.unwrap_or_default().contains("thinking"));
    assert!(sent(&r).contains(&encrypted));
    // Another account does not: the block is dropped and disclosed.
    let (_, by, ignored) = think(&r, &next, "default").await;
    assert_dropped_on("default", "content.thinking", &by, &ignored);
    assert!(!sent(&r).contains(&encrypted));

    // After a restart the relay has never seen it: the signature still decides.
    assert_eq!(r.terminate(), Some(0));
    r.spawn();
    let (_, by, ignored) = think(&r, &next, "default").await;
    assert_dropped_on("default", "content.thinking", &by, &ignored);
    assert!(!sent(&r).contains(&encrypted));
    let (_, by, ignored) = think(&r, &next, "work").await;
    assert_eq!(by, "work");
    assert!(!ignored.unwrap_or_default().contains("thinking"));
    assert!(sent(&r).contains(&encrypted));
}
