//! Several ChatGPT accounts (issue #18): `login --account`, the `accounts` command,
//! and the relay's routing over them — ordered choice, failover before the first
//! byte on a usage limit, benching until the reset, pins, one refresh per account,
//! and removal while streaming.

mod reasoning;
mod settings;

use std::time::Duration;

use crate::harness::relay::{Relay, RelayOptions, error_of, expect_error, text_request};
use crate::harness::*;
use airelays::auth::accounts::account_paths;
use airelays_mock::MockAccount;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(20);

/// The mock's default account (`default` in the relay).
fn home() -> MockAccount {
    MockAccount::default()
}

/// A second mock account, signed in as `work`.
fn work() -> MockAccount {
    MockAccount {
        email: "work@example.com".into(),
        plan: "pro".into(),
        account_id: "99999999-8888-7777-6666-555555555555".into(),
        user_id: "user-work".into(),
    }
}

/// A relay with `default` (the mock's account) and `work` signed in, `work` picked
/// up while the relay runs.
async fn two_accounts() -> Relay {
    two_accounts_with(Vec::new()).await
}

/// [`two_accounts`] with extra environment for the relay.
async fn two_accounts_with(mut env: Vec<(&'static str, String)>) -> Relay {
    // The tests poll with `eventually`: no per-IP rate limit in the way.
    env.push(("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1000000".into()));
    env.push(("AIRELAYS_RATE_LIMIT_BURST", "1000000".into()));
    let r = Relay::start(RelayOptions {
        signed_in: false,
        env,
        ..RelayOptions::default()
    })
    .await;
    r.sandbox.sign_in_account("default", &home()).await;
    r.sandbox.sign_in_account("work", &work()).await;
    // Both accounts answer requests pinned to them (pinned: nothing is benched).
    let up = eventually(PATIENCE, async || {
        let mut both = true;
        for name in ["default", "work"] {
            let resp = r
                .post("/v1/responses", &text_request("hi", false))
                .header("x-airelays-account", name)
                .send()
                .await
                .unwrap();
            both &= resp.status() == 200;
        }
        both
    })
    .await;
    assert!(up, "the relay never picked up both accounts");
    r
}

/// Sends a non-streamed request; returns the status and the account that answered.
async fn ask(r: &Relay, pin: Option<&str>) -> (u16, Option<String>) {
    let mut req = r.post("/v1/responses", &text_request("hi", false));
    if let Some(pin) = pin {
        req = req.header("x-airelays-account", pin);
    }
    let resp = req.send().await.unwrap();
    let account = resp
        .headers()
        .get("x-airelays-account")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), account)
}

fn calls(r: &Relay, account: &MockAccount) -> u64 {
    r.mock().state().responses_calls_for(&account.account_id)
}

#[tokio::test]
async fn ordered_fails_over_on_a_usage_limit_and_returns_after_the_reset() {
    let r = two_accounts().await;
    assert_eq!(ask(&r, None).await, (200, Some("default".into())));

    // The first account hits its usage limit: the failing request itself moves to
    // the second before its first byte, and so does the next one.
    r.mock()
        .state()
        .set_usage_limited(&home().account_id, Some(Duration::from_secs(3)));
    let (home_before, work_before) = (calls(&r, &home()), calls(&r, &work()));
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));
    assert_eq!(calls(&r, &home()), home_before + 1, "the 429 was seen once");
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));
    assert_eq!(
        calls(&r, &home()),
        home_before + 1,
        "a benched account is not asked again"
    );
    assert_eq!(calls(&r, &work()), work_before + 2);

    // A request pinned to the benched account gets its real 429, naming it.
    let pinned = r
        .post("/v1/responses", &text_request("hi", false))
        .header("x-airelays-account", "default")
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.headers()["x-airelays-account"], "default");
    let (status, retry, body) = error_of(pinned).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("usage_limit_reached"))
    );
    assert!(retry.is_some(), "{body}");

    // After the mock's reset time the first account is used again.
    let back = eventually(PATIENCE, async || {
        ask(&r, None).await.1.as_deref() == Some("default")
    })
    .await;
    assert!(back, "the first account never came back after its reset");
}

#[tokio::test]
async fn all_accounts_out_of_quota_answer_the_first_reset() {
    let r = two_accounts().await;
    let state = r.mock().state();
    state.set_usage_limited(&home().account_id, Some(Duration::from_secs(300)));
    state.set_usage_limited(&work().account_id, Some(Duration::from_secs(600)));
    // The request fails over once and gets the real error of the account that
    // resets first, which the answer names.
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-airelays-account"], "default");
    let (status, retry, body) = error_of(resp).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "usage_limit_reached");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(secs <= 300, "the account that resets first: {secs}");
    // The next request: the benched first account is skipped, the second is out of
    // quota too: the answer is still the first's, which resets first.
    let (status, retry, _) = error_of(
        r.post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() <= 300);
}

#[tokio::test]
async fn an_unknown_pinned_account_is_403() {
    let r = two_accounts().await;
    expect_error(
        r.post("/v1/responses", &text_request("hi", false))
            .header("x-airelays-account", "nobody"),
        403,
        "unknown_account",
    )
    .await;
    // No account was chosen: the answer names none.
    assert_eq!(ask(&r, Some("nobody")).await, (403, None));
}

#[tokio::test]
async fn one_account_answers_without_the_account_header() {
    let r = Relay::start(RelayOptions::default()).await;
    assert_eq!(ask(&r, None).await, (200, None));
    let doc = r.relay_status().await;
    assert!(doc.get("accounts").is_none() && doc.get("account_strategy").is_none());
    assert_eq!(ask(&r, Some("default")).await, (200, None));
}

#[tokio::test]
async fn balanced_follows_the_usage_snapshots() {
    let r = two_accounts_with(vec![("AIRELAYS_ACCOUNTS_STRATEGY", "balanced".into())]).await;
    let state = r.mock().state();
    state.set_weekly_used_for(&home().account_id, Some(80));
    state.set_weekly_used_for(&work().account_id, Some(10));
    let to_work = eventually(PATIENCE, async || {
        ask(&r, None).await.1.as_deref() == Some("work")
    })
    .await;
    assert!(to_work, "balanced never chose the emptier account");
    for _ in 0..3 {
        assert_eq!(ask(&r, None).await.1.as_deref(), Some("work"));
    }
    state.set_weekly_used_for(&home().account_id, Some(5));
    state.set_weekly_used_for(&work().account_id, Some(90));
    let to_home = eventually(PATIENCE, async || {
        ask(&r, None).await.1.as_deref() == Some("default")
    })
    .await;
    assert!(to_home, "balanced never followed the new snapshots");
    for _ in 0..3 {
        assert_eq!(ask(&r, None).await.1.as_deref(), Some("default"));
    }
}

#[tokio::test]
async fn status_lists_the_accounts_and_their_benches() {
    let r = two_accounts().await;
    let schema = status_schema();
    let local = r.sandbox.status_json().await;
    assert!(
        schema_errors(&schema, &local).is_empty(),
        "{:?}",
        schema_errors(&schema, &local)
    );
    assert_eq!(local["account_strategy"], "ordered");
    let names: Vec<&str> = local["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "work"]);

    r.mock()
        .state()
        .set_usage_limited(&home().account_id, Some(Duration::from_secs(600)));
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));
    let live = r.relay_status().await;
    assert!(
        schema_errors(&schema, &live).is_empty(),
        "{:?}",
        schema_errors(&schema, &live)
    );
    assert_eq!(live["ready"], true, "one usable account is enough");
    let accounts = live["accounts"].as_array().unwrap();
    assert_eq!(accounts[0]["benched"], "quota");
    assert!(accounts[0]["benched_for_seconds"].as_u64().unwrap() > 0);
    assert!(
        accounts[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("usage limit")
    );
    assert_eq!(accounts[1]["benched"], Value::Null);
    assert_eq!(accounts[1]["email"], "work@example.com");
    // `airelays accounts` asks the running relay for what only it knows.
    let out = r
        .sandbox
        .output(r.sandbox.cmd(&["accounts", "--json"]))
        .await;
    let listed = json_of(&out);
    assert_eq!(listed["accounts"][0]["benched"], "quota", "{listed}");
    assert!(listed["accounts"][0]["last_error"].is_string());
    let out = r.sandbox.output(r.sandbox.cmd(&["accounts"])).await;
    assert!(stdout(&out).contains("benched"), "{}", stdout(&out));
    let text = stdout(&r.sandbox.run(&["status"]));
    assert!(
        text.contains("Accounts (ordered)") && text.contains("work@example.com"),
        "{text}"
    );
}

#[tokio::test]
async fn concurrent_requests_refresh_each_account_once() {
    let mut r = Relay::start(RelayOptions {
        signed_in: false,
        env: vec![
            ("AIRELAYS_CONCURRENT_REQUESTS_PER_IP", "100".into()),
            ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1000000".into()),
        ],
        ..RelayOptions::default()
    })
    .await;
    let state = std::sync::Arc::clone(r.mock().state());
    state.set_access_token_lifetime(Duration::ZERO);
    r.sandbox.sign_in_account("default", &home()).await;
    r.sandbox.sign_in_account("work", &work()).await;
    state.set_access_token_lifetime(Duration::from_secs(3600));
    state.set_refresh_delay(Duration::from_millis(300));
    let listed = eventually(PATIENCE, async || {
        let out = r
            .sandbox
            .output(r.sandbox.cmd(&["accounts", "--json"]))
            .await;
        json_of(&out)["accounts"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    assert!(listed);
    // Started again with both logins stored, so no request waits for a rescan.
    r.kill();
    r.spawn();
    let before = (
        state.refresh_calls_for(&home().account_id),
        state.refresh_calls_for(&work().account_id),
    );
    assert_eq!(before, (0, 0));
    let requests = (0..50).map(|i| {
        let pin = if i % 2 == 0 { "default" } else { "work" };
        r.post("/v1/responses", &text_request("hi", false))
            .header("x-airelays-account", pin)
            .send()
    });
    for resp in futures_util::future::join_all(requests).await {
        assert_eq!(resp.unwrap().status(), 200);
    }
    assert_eq!(state.refresh_calls_for(&home().account_id), 1);
    assert_eq!(state.refresh_calls_for(&work().account_id), 1);
    r.sandbox.assert_no_refresh_token_reused();
}

#[tokio::test]
async fn removing_an_account_lets_its_streams_finish_and_sends_new_ones_elsewhere() {
    let r = two_accounts().await;
    let mut stream = r
        .post("/v1/responses", &text_request("LONG:400000", true))
        .header("x-airelays-account", "work")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(!stream.chunk().await.unwrap().unwrap().is_empty());

    let out = r
        .sandbox
        .output(r.sandbox.cmd(&["accounts", "remove", "work"]))
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = eventually(PATIENCE, async || ask(&r, Some("work")).await.0 == 403).await;
    assert!(gone, "the relay kept the removed account");
    let work_calls = calls(&r, &work());
    assert_eq!(ask(&r, None).await.0, 200);
    assert_eq!(calls(&r, &work()), work_calls, "new requests go elsewhere");

    let mut rest = Vec::new();
    while let Some(chunk) = stream.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(
        text(&rest).contains("response.completed"),
        "the stream finished"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_account_signs_in_a_second_account_beside_the_first() {
    let sandbox = Sandbox::mocked().await;
    let state = sandbox.mock().state();
    state.set_login_account(Some(home()));
    let login = async |args: &[&str]| {
        let out = sandbox.output(sandbox.cmd(args)).await;
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    login(&["login", "--device", "--timeout", "60"]).await;
    state.set_login_account(Some(work()));
    let said = login(&["login", "--device", "--timeout", "60", "--account", "work"]).await;
    assert!(
        said.contains("Signed in to ChatGPT as work@example.com"),
        "{said}"
    );
    assert!(
        !said.contains("replaces"),
        "another account is not a replacement: {said}"
    );
    let work_paths = account_paths(&sandbox.paths(), "work");
    assert_eq!(mode(&work_paths.auth_file()), 0o600);
    assert_eq!(mode(&work_paths.data_dir), 0o700);
    // The first login is untouched, under today's file.
    let status = sandbox.status_json().await;
    assert_eq!(status["upstream"]["email"], "user@example.com");
    let names: Vec<&str> = status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user@example.com", "work@example.com"]);
    let text = std::fs::read_to_string(work_paths.auth_file()).unwrap();
    assert!(text.contains("work@example.com"));
}

#[tokio::test]
async fn login_account_names_follow_the_rule_and_accounts_lists_them() {
    let sandbox = Sandbox::mocked().await;
    for bad in ["Work", "a b", "../up", &"x".repeat(33)] {
        let out = sandbox.run(&["login", "--account", bad]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("a-z, 0-9, _ and -"),
            "{}",
            stderr(&out)
        );
    }
    sandbox.sign_in_account("default", &home()).await;
    sandbox.sign_in_account("work", &work()).await;
    let listed = json_of(&sandbox.run(&["accounts", "--json"]));
    let accounts = listed["accounts"].as_array().unwrap();
    let names: Vec<&str> = accounts
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "work"]);
    assert_eq!(accounts[1]["email"], "work@example.com");
    assert_eq!(accounts[1]["plan"], "pro");
    assert_eq!(accounts[1]["state"], "ready");
    // The default account keeps today's file; the other has its own.
    assert!(sandbox.paths().auth_file().exists());
    assert!(account_paths(&sandbox.paths(), "work").auth_file().exists());
    let text_out = stdout(&sandbox.run(&["accounts"]));
    assert!(text_out.contains("work@example.com"), "{text_out}");
    assert!(!text_out.contains("rt_"), "no secret printed");

    let out = sandbox
        .output(sandbox.cmd(&["logout", "--account", "work", "--json"]))
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&out)["deleted"], true);
    let listed = json_of(&sandbox.run(&["accounts", "--json"]));
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);
}

/// One turn of a Responses conversation keyed by `prompt_cache_key`: sends the
/// history plus `prompt`, appends the answer's output items; returns the account
/// that answered and the `x-airelays-ignored-parameters` header.
async fn turn(r: &Relay, history: &mut Vec<Value>, prompt: &str) -> (String, Option<String>) {
    history.push(serde_json::json!({"type":"message","role":"user","content":prompt}));
    let body = serde_json::json!({
        "model": "gpt-5.5",
        "input": history,
        "stream": false,
        "prompt_cache_key": "conversation-1",
        "include": ["reasoning.encrypted_content"],
    });
    let resp = r.post("/v1/responses", &body).send().await.unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (account, ignored) = (
        header("x-airelays-account"),
        header("x-airelays-ignored-parameters"),
    );
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    for item in answer["output"].as_array().unwrap() {
        let mut item = item.clone();
        if let Some(o) = item.as_object_mut() {
            o.remove("id");
        }
        history.push(item);
    }
    (account.expect("x-airelays-account"), ignored)
}

#[tokio::test]
async fn a_conversation_stays_on_its_account_and_moves_without_its_reasoning_when_benched() {
    let r = two_accounts_with(vec![("AIRELAYS_ACCOUNTS_STRATEGY", "balanced".into())]).await;
    let state = r.mock().state();
    state.set_reject_foreign_encrypted(true);
    let mut history = Vec::new();
    let (first, _) = turn(&r, &mut history, "REASON turn 1").await;
    let (mine, other) = if first == "default" {
        (home(), work())
    } else {
        (work(), home())
    };
    assert!(
        history.iter().any(|i| i["type"] == "reasoning"),
        "the answer carried reasoning: {history:?}"
    );
    // Its account fills up: new conversations go to the other one, this one stays.
    state.set_weekly_used_for(&mine.account_id, Some(90));
    state.set_weekly_used_for(&other.account_id, Some(10));
    for n in 2..=5 {
        let (account, ignored) = turn(&r, &mut history, &format!("REASON turn {n}")).await;
        assert_eq!(account, first, "turn {n} left its account");
        assert_eq!(ignored, None);
    }
    let elsewhere = eventually(PATIENCE, async || {
        ask(&r, None).await.1.as_deref() != Some(first.as_str())
    })
    .await;
    assert!(
        elsewhere,
        "a new conversation never went to the emptier account"
    );

    // Its account hits the usage limit: the conversation moves, and the reasoning
    // the first account encrypted is dropped (the mock would refuse it) and disclosed.
    state.set_usage_limited(&mine.account_id, Some(Duration::from_secs(600)));
    let (moved, ignored) = turn(&r, &mut history, "REASON turn 6").await;
    assert_ne!(moved, first);
    assert!(
        ignored
            .as_deref()
            .is_some_and(|i| i.contains("input.reasoning.encrypted_content")),
        "{ignored:?}"
    );
    let (stays, _) = turn(&r, &mut history, "turn 7").await;
    assert_eq!(stays, moved, "the conversation stays on its new account");
}

#[tokio::test]
async fn models_are_the_union_and_go_only_to_the_accounts_that_have_them() {
    let r = two_accounts_with(vec![("AIRELAYS_MODELS_CACHE_TTL_SECONDS", "0".into())]).await;
    let state = r.mock().state();
    let mut catalogue = state.catalogue();
    let mut only = catalogue[0].clone();
    only["slug"] = "gpt-work-only".into();
    only["display_name"] = "Work only".into();
    catalogue.push(only);
    state.set_models_for(&work().account_id, Some(catalogue));

    let list: Value = r
        .get("/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"gpt-5.5") && ids.contains(&"gpt-work-only"),
        "{ids:?}"
    );

    let ask_model = async |model: &str| {
        let body = serde_json::json!({"model": model, "input": "hi", "stream": false});
        let resp = r.post("/v1/responses", &body).send().await.unwrap();
        let account = resp.headers()["x-airelays-account"]
            .to_str()
            .unwrap()
            .to_owned();
        (resp.status().as_u16(), account)
    };
    assert_eq!(ask_model("gpt-work-only").await, (200, "work".into()));
    assert_eq!(ask_model("gpt-5.5").await, (200, "default".into()));
    let live = r.relay_status().await;
    let models = |i: usize| live["accounts"][i]["models"].as_array().unwrap().clone();
    assert!(!models(0).contains(&"gpt-work-only".into()));
    assert!(models(1).contains(&"gpt-work-only".into()));
}

#[tokio::test]
async fn doctor_checks_each_account_only_when_there_are_two() {
    let sandbox = Sandbox::mocked().await;
    let init = sandbox.run(&["init", "--json"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let checks = |out: &std::process::Output| -> Vec<Value> {
        json_of(out)["checks"].as_array().unwrap().clone()
    };
    sandbox.sign_in_account("default", &home()).await;
    let doctor = async || sandbox.output(sandbox.cmd(&["doctor", "--json"])).await;
    let single = checks(&doctor().await);
    assert!(single.iter().all(|c| c["id"] != "accounts"), "{single:?}");

    sandbox.sign_in_account("work", &work()).await;
    let report = checks(&doctor().await);
    let accounts = report
        .iter()
        .find(|c| c["id"] == "accounts")
        .expect("an accounts check");
    assert_eq!(accounts["status"], "ok", "{accounts}");
    let details = accounts["details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert!(details[1].as_str().unwrap().contains("work@example.com"));
    let find = |report: &[Value], id: &str| report.iter().find(|c| c["id"] == id).cloned();
    let upstream = find(&report, "accounts_upstream").expect("accounts_upstream");
    assert_eq!(upstream["status"], "ok", "{upstream}");
    let line = upstream["details"][0].as_str().unwrap();
    assert!(
        line.starts_with("work: ok") && line.contains("work@example.com"),
        "{line}"
    );
    assert!(find(&report, "accounts_live").is_none(), "only with --live");
}

#[tokio::test]
async fn doctor_live_checks_every_account() {
    let sandbox = Sandbox::mocked().await;
    let init = sandbox.run(&["init", "--json"]);
    assert!(init.status.success(), "{}", stderr(&init));
    sandbox.sign_in_account("default", &home()).await;
    let state = sandbox.mock().state();
    let live = async || -> Vec<Value> {
        let out = sandbox
            .output(sandbox.cmd(&["doctor", "--json", "--live"]))
            .await;
        json_of(&out)["checks"].as_array().unwrap().clone()
    };
    let single = live().await;
    assert!(
        single
            .iter()
            .all(|c| c["id"] != "accounts_upstream" && c["id"] != "accounts_live"),
        "one account: the report is unchanged: {single:?}"
    );

    sandbox.sign_in_account("work", &work()).await;
    let (refreshes, answers) = (
        state.refresh_calls_for(&work().account_id),
        state.responses_calls_for(&work().account_id),
    );
    let report = live().await;
    let find = |id: &str| report.iter().find(|c| c["id"] == id).cloned().unwrap();
    assert_eq!(find("accounts_upstream")["status"], "ok");
    let probe = find("accounts_live");
    assert_eq!(probe["status"], "ok", "{probe}");
    assert!(
        probe["details"][0]
            .as_str()
            .unwrap()
            .starts_with("work: ok"),
        "{probe}"
    );
    // The work account's own refresh token and backend were used.
    assert_eq!(state.refresh_calls_for(&work().account_id), refreshes + 1);
    assert_eq!(state.responses_calls_for(&work().account_id), answers + 1);
    sandbox.assert_no_refresh_token_reused();

    // Its backend refuses it: a warning naming it, with the login to run.
    state.set_account_rejected(&work().account_id, true);
    let report = live().await;
    let probe = report
        .iter()
        .find(|c| c["id"] == "accounts_live")
        .cloned()
        .unwrap();
    assert_eq!(probe["status"], "warn", "{probe}");
    assert!(
        probe["summary"].as_str().unwrap().contains("work"),
        "{probe}"
    );
    assert!(
        probe["hint"]
            .as_str()
            .unwrap()
            .contains("airelays login --account work"),
        "{probe}"
    );
}

#[tokio::test]
async fn the_relay_test_checks_every_account() {
    let r = two_accounts().await;
    let report: Value = r
        .post("/v1/relay/test", &serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "config",
            "relay_token",
            "credential_store",
            "signed_in",
            "clock_skew",
            "upstream",
            "accounts_upstream",
            "usage"
        ]
    );
    let accounts = &report["checks"][6];
    assert_eq!(accounts["status"], "ok", "{accounts}");
    let line = accounts["details"][0].as_str().unwrap();
    assert!(
        line.starts_with("work: ok") && line.contains("work@example.com"),
        "{line}"
    );
    assert_eq!(report["ok"], true, "{report:#}");
}

#[tokio::test]
async fn a_rejected_login_or_a_failing_backend_benches_for_the_cooldown() {
    let r = two_accounts_with(vec![("AIRELAYS_RETRY_ATTEMPTS", "1".into())]).await;
    let state = r.mock().state();
    // An auth rejection that survives the refresh moves the request.
    state.set_account_rejected(&home().account_id, true);
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));
    let live = r.relay_status().await;
    assert_eq!(live["accounts"][0]["benched"], "transient");
    let cooldown = live["accounts"][0]["benched_for_seconds"].as_u64().unwrap();
    assert!(cooldown > 0 && cooldown <= 60, "{cooldown}");
    state.set_account_rejected(&home().account_id, false);

    // The last usable account is never benched: a backend failure that outlasts
    // the retries is its answer, and it keeps serving the next request.
    for _ in 0..2 {
        state.push_fault_for(&work().account_id, airelays_mock::Fault::Status500);
    }
    // The error answer names the account that gave it.
    assert_eq!(ask(&r, None).await, (502, Some("work".into())));
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));
    assert_eq!(
        r.relay_status().await["accounts"][1]["benched"],
        Value::Null
    );
}

#[tokio::test]
async fn the_quota_guard_skips_a_full_account_and_refuses_only_when_all_are() {
    let r = two_accounts_with(vec![("AIRELAYS_USAGE_REFUSE_AT_PERCENT", "50".into())]).await;
    let state = r.mock().state();
    state.set_weekly_used_for(&home().account_id, Some(90));
    state.set_weekly_used_for(&work().account_id, Some(10));
    // The first account's answers teach the relay it is over the threshold.
    let skipped = eventually(PATIENCE, async || {
        ask(&r, None).await.1.as_deref() == Some("work")
    })
    .await;
    assert!(skipped, "the guard never skipped the full account");
    assert_eq!(ask(&r, None).await, (200, Some("work".into())));

    state.set_weekly_used_for(&work().account_id, Some(95));
    let refused = eventually(PATIENCE, async || {
        let resp = r
            .post("/v1/responses", &text_request("hi", false))
            .send()
            .await
            .unwrap();
        resp.status() == 429
    })
    .await;
    assert!(refused);
    // Every account is over: the refusal is the first one's, and names it.
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-airelays-account"], "default");
    let (status, _, body) = error_of(resp).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("usage_guard"))
    );
}

#[tokio::test]
async fn a_turn_state_goes_only_to_the_account_that_issued_it() {
    let r = two_accounts().await;
    let resp = r
        .post("/v1/responses", &text_request("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-airelays-account"], "default");
    let turn_state = resp.headers()["x-codex-turn-state"]
        .to_str()
        .unwrap()
        .to_owned();
    let sent_turn_state = || {
        r.mock()
            .state()
            .last_request_to(crate::harness::relay::UPSTREAM_RESPONSES)
            .and_then(|q| q.header("x-codex-turn-state").map(str::to_owned))
    };
    let with_state = |pin: Option<&str>| {
        let mut req = r
            .post("/v1/responses", &text_request("hi", false))
            .header("x-codex-turn-state", &turn_state);
        if let Some(pin) = pin {
            req = req.header("x-airelays-account", pin);
        }
        req.send()
    };
    assert_eq!(with_state(Some("default")).await.unwrap().status(), 200);
    assert_eq!(sent_turn_state().as_deref(), Some(turn_state.as_str()));
    assert_eq!(with_state(Some("work")).await.unwrap().status(), 200);
    assert_eq!(
        sent_turn_state(),
        None,
        "another account's routing token is not sent"
    );
}

/// The used percents of the windows of a usage snapshot.
fn used_percents(snapshot: &Value) -> Vec<f64> {
    snapshot["windows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["used_percent"].as_f64())
        .collect()
}

#[tokio::test]
async fn each_accounts_usage_snapshot_is_saved_in_its_own_file_and_read_at_start() {
    let mut r = two_accounts().await;
    let state = std::sync::Arc::clone(r.mock().state());
    state.set_weekly_used_for(&work().account_id, Some(37));
    assert_eq!(ask(&r, Some("work")).await, (200, Some("work".into())));
    let work_file = account_paths(&r.sandbox.paths(), "work")
        .data_dir
        .join("usage.json");
    let saved = eventually(PATIENCE, async || {
        std::fs::read(&work_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|s| used_percents(&s).contains(&37.0))
    })
    .await;
    assert!(saved, "the work account's snapshot was never saved");
    assert_eq!(mode(&work_file), 0o600);
    // The default account keeps today's file.
    assert!(r.sandbox.data_dir().join("usage.json").exists());

    // `status` (local: no relay runs) shows each account's own snapshot.
    assert_eq!(r.terminate(), Some(0));
    let local = r.sandbox.status_json().await;
    assert!(
        used_percents(&local["accounts"][1]["usage"]).contains(&37.0),
        "{local}"
    );
    assert!(!used_percents(&local["accounts"][0]["usage"]).contains(&37.0));

    // The next start reads it back: the usage endpoint fails and no request runs
    // on `work`, so the figures can only come from the file.
    state.set_usage_failure(true);
    r.spawn();
    let mut live = Value::Null;
    let restored = eventually(PATIENCE, async || {
        live = r.relay_status().await;
        used_percents(&live["accounts"][1]["usage"]).contains(&37.0)
    })
    .await;
    assert!(restored, "{live}");

    // Removing the account removes its file and directory.
    let out = r
        .sandbox
        .output(r.sandbox.cmd(&["accounts", "remove", "work"]))
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!work_file.parent().unwrap().exists());
}

/// What the committed bash completion offers for `words` (the last one is being
/// typed), with this build's `airelays` first on `PATH`.
fn bash_completion(sandbox: &Sandbox, words: &[&str]) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/airelays.bash");
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let base = sandbox.cmd(&[]);
    let mut bash = std::process::Command::new("bash");
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => bash.env(k, v),
            None => bash.env_remove(k),
        };
    }
    let path = std::env::var("PATH").unwrap_or_default();
    bash.env("PATH", format!("{}:{path}", bin_dir.display()));
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{script}'; COMP_WORDS=({}); COMP_CWORD={cword}; _airelays airelays '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words[cword],
        words[cword - 1],
    );
    let out = bash.arg("-c").arg(program).output().expect("run bash");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn bash_completes_account_names_for_account_and_accounts_remove() {
    let sandbox = Sandbox::mocked().await;
    sandbox.sign_in_account("default", &home()).await;
    sandbox.sign_in_account("work", &work()).await;
    assert_eq!(
        stdout(&sandbox.run(&["accounts", "--names"])),
        "default\nwork\n"
    );
    let complete = |words: &[&str]| bash_completion(&sandbox, words);
    assert_eq!(
        complete(&["airelays", "login", "--account", ""]),
        ["default", "work"]
    );
    assert_eq!(
        complete(&["airelays", "logout", "--account", "w"]),
        ["work"]
    );
    assert_eq!(
        complete(&["airelays", "accounts", "remove", "d"]),
        ["default"]
    );
    assert!(
        complete(&["airelays", "accounts", "remove", "--j"]).contains(&"--json".to_owned()),
        "options still complete after a -"
    );
    assert!(complete(&["airelays", "login", "--acc"]).contains(&"--account".to_owned()));
}
