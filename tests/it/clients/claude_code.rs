//! Claude Code itself (`@anthropic-ai/claude-code`, pinned), headless `claude -p`,
//! against the relay and the mock upstream, configured with the environment of
//! `docs/clients/claude-code-env.sh`: a plain answer, a `Bash` tool round trip, a
//! wrong token, a stream the upstream cuts, and thinking replayed on the next turn.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::runner::{ClientHome, Ran, client, run};
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::Value;

/// The base URL the snippet is written for (the relay's default, no `/v1`).
const DOC_BASE_URL: &str = "http://127.0.0.1:8080";

fn claude() -> PathBuf {
    client("node/node_modules/.bin/claude")
}

/// `docs/clients/claude-code-env.sh` as `(name, value)` pairs, pointed at this relay
/// with its token (the snippet's token line runs `airelays token show`).
fn snippet_env(relay: &Relay, token: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/clients/claude-code-env.sh");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(DOC_BASE_URL),
        "the snippet names {DOC_BASE_URL}"
    );
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = match k {
                "ANTHROPIC_BASE_URL" => relay.url(""),
                "ANTHROPIC_AUTH_TOKEN" => token.to_owned(),
                _ => v.to_owned(),
            };
            (k.to_owned(), v)
        })
        .collect()
}

/// `claude -p <prompt>` with the snippet's environment, in `home`.
fn claude_p(home: &ClientHome, relay: &Relay, token: &str, args: &[&str]) -> Command {
    let mut cmd = home.command(&claude());
    for (k, v) in snippet_env(relay, token) {
        cmd.env(k, v);
    }
    cmd.env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .arg("-p")
        .args(args)
        .args(["--output-format", "json"]);
    cmd
}

/// The `result` of a `--output-format json` run.
fn result_of(ran: &Ran) -> Value {
    serde_json::from_str(ran.stdout.trim())
        .unwrap_or_else(|e| panic!("claude printed no JSON result ({e}):\n{ran:#?}"))
}

#[tokio::test]
async fn claude_code_answers_and_runs_a_bash_tool_through_the_relay() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();

    let ran = run(claude_p(&home, &r, &r.token, &["say pong"])).await;
    ran.assert_ok();
    let result = result_of(&ran);
    assert_eq!(result["result"], "pong", "{ran:#?}");
    assert_eq!(result["is_error"], false);

    let ran = run(claude_p(
        &home,
        &r,
        &r.token,
        &["RUN_TOOL please", "--allowedTools", "Bash"],
    ))
    .await;
    ran.assert_ok();
    let result = result_of(&ran);
    assert!(
        result["result"]
            .as_str()
            .unwrap_or("")
            .contains("tool said:"),
        "{ran:#?}"
    );
    let bodies = r.upstream_bodies();
    let follow_up = bodies
        .iter()
        .rev()
        .find(|b| {
            b["input"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["type"] == "function_call_output"))
        })
        .expect("the Bash result reached the upstream");
    let items = follow_up["input"].as_array().unwrap();
    let call = items
        .iter()
        .find(|i| i["type"] == "function_call" && i["name"] == "Bash")
        .expect("the Bash call");
    let output = items
        .iter()
        .find(|i| i["type"] == "function_call_output" && i["call_id"] == call["call_id"])
        .expect("the output of that call");
    assert!(
        output.to_string().contains("tool-ok-42"),
        "Claude Code ran `echo tool-ok-42`: {output}"
    );
}

#[tokio::test]
async fn claude_code_reports_a_wrong_token_and_a_cut_stream() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    let wrong = format!("wrong-{}", "x".repeat(40));
    let ran = run(claude_p(&home, &r, &wrong, &["say pong"])).await;
    assert_ne!(ran.code, Some(0), "{ran:#?}");
    let text = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        text.contains("401") || text.contains("ANTHROPIC_AUTH_TOKEN"),
        "{ran:#?}"
    );

    let ran = run(claude_p(&home, &r, &r.token, &["FAULT:cut_mid_stream"])).await;
    let text = format!("{}{}", ran.stdout, ran.stderr);
    let reported = ran.code != Some(0) || result_of(&ran)["is_error"] == true;
    assert!(
        reported,
        "a cut stream must be an error, not a truncated answer: {ran:#?}"
    );
    assert!(!text.contains("\"result\":\"pong\""), "{text}");
}

#[tokio::test]
async fn claude_code_replays_thinking_on_the_next_turn() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    let mut first = claude_p(&home, &r, &r.token, &["REASON about it, then say pong"]);
    first.env("MAX_THINKING_TOKENS", "4096");
    let ran = run(first).await;
    ran.assert_ok();
    let mut second = claude_p(&home, &r, &r.token, &["--continue", "again"]);
    second.env("MAX_THINKING_TOKENS", "4096");
    let ran = run(second).await;
    ran.assert_ok();
    let last = r.upstream_bodies().pop().expect("the second turn");
    let replayed = last["input"].as_array().unwrap().iter().any(|i| {
        i["type"] == "reasoning"
            && i["encrypted_content"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
    });
    assert!(
        replayed,
        "the first turn's encrypted reasoning is replayed: {last:#}"
    );
}

/// An upstream `context_length_exceeded` reaches Claude Code as Anthropic's
/// "prompt is too long" 400, the error Claude Code answers by offering `/compact`.
#[tokio::test]
async fn claude_code_sees_a_too_long_prompt_as_anthropics_prompt_too_long() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    let ran = run(claude_p(
        &home,
        &r,
        &r.token,
        &["FAULT:failed:context_length_exceeded"],
    ))
    .await;
    let text = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        text.to_ascii_lowercase().contains("prompt is too long"),
        "{ran:#?}"
    );
}
