//! Real clients against the real relay (issue 7): Codex CLI, opencode, the `llm` CLI and
//! the browser sign-in page in headless Chromium. Each client runs with a temporary home,
//! its configuration is the snippet from `docs/clients/` (only the base URL substituted),
//! and every test asserts on the client's own output and on what the mock upstream got.
//!
//! The clients are pinned in `tests/clients/` and installed by `scripts/setup-clients`
//! (which `scripts/test` runs); Chromium comes from Debian (`.ci/run`). A missing client
//! fails the test: none is ever skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::runner::{ClientHome, client, run};

use crate::harness::login::RunningLogin;
use crate::harness::relay::{Relay, RelayOptions};
use crate::harness::{Sandbox, eventually};
use serde_json::Value;

/// The base URL every snippet in `docs/clients/` is written for (the relay's default).
const DOC_BASE_URL: &str = "http://127.0.0.1:8080/v1";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of `docs/clients/`, as the user copies it.
fn snippet(name: &str) -> String {
    let path = repo().join("docs/clients").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A snippet pointed at this relay instead of the default address.
fn configured(name: &str, relay: &Relay) -> String {
    let text = snippet(name);
    assert!(
        text.contains(DOC_BASE_URL),
        "{name} does not use {DOC_BASE_URL}"
    );
    text.replace(DOC_BASE_URL, &relay.url("/v1"))
}

fn codex() -> PathBuf {
    client("node/node_modules/.bin/codex")
}
fn opencode() -> PathBuf {
    client("node/node_modules/.bin/opencode")
}
fn llm() -> PathBuf {
    client(".venv/bin/llm")
}

fn chromium() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .expect("chromium is not on PATH: apt-get install chromium (see .ci/run)")
}

/// The relay token the way `docs/clients/token.sh` gets it: the real `airelays` on PATH,
/// in the relay's own (sandboxed) environment.
async fn token_from_snippet(relay: &Relay) -> String {
    let airelays = relay.sandbox.cmd(&[]);
    let mut sh = Command::new("/bin/sh");
    for (k, v) in airelays.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let bin_dir = Path::new(crate::harness::BIN).parent().unwrap();
    sh.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .arg("-c")
        .arg(format!(
            "{}printf %s \"$AIRELAYS_TOKEN\"",
            snippet("token.sh")
        ));
    let ran = run(sh).await;
    ran.assert_ok();
    assert_eq!(ran.stdout, relay.token, "token.sh gave another token");
    ran.stdout
}

fn items_of_type<'a>(body: &'a Value, kind: &str) -> Vec<&'a Value> {
    body["input"]
        .as_array()
        .map(|items| items.iter().filter(|i| i["type"] == kind).collect())
        .unwrap_or_default()
}

/// The concatenated text of a `function_call_output` output (a string or text parts).
fn output_text(item: &Value) -> String {
    match &item["output"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        other => other.to_string(),
    }
}

/// Asserts the last upstream request carries the tool round trip: a call to `tool`
/// followed by its output containing `marker`, with matching call ids.
fn assert_round_trip_upstream(relay: &Relay, tool: &str, marker: &str) {
    let bodies = relay.upstream_bodies();
    let last = bodies.last().expect("no upstream request");
    let calls = items_of_type(last, "function_call");
    let outputs = items_of_type(last, "function_call_output");
    let call = calls
        .iter()
        .find(|c| c["name"] == tool)
        .unwrap_or_else(|| panic!("no {tool} call in the follow-up: {last:#}"));
    let output = outputs
        .iter()
        .find(|o| o["call_id"] == call["call_id"])
        .unwrap_or_else(|| panic!("no output for the {tool} call: {last:#}"));
    assert!(
        output_text(output).contains(marker),
        "tool output without {marker}: {output:#}"
    );
    // The call before it was the mock's own request for that tool.
    assert!(bodies.len() >= 2, "{} upstream requests", bodies.len());
}

/// Relay access-log lines `POST <path> 200` in `log`, to see which API a client used.
fn posts_in(log: &str, path: &str) -> usize {
    let needle = format!("POST {path} 200");
    log.lines().filter(|l| l.contains(&needle)).count()
}

/// The relay's log once it satisfies `check`. The relay writes a line as it answers, and
/// a client may exit before that line reaches the log file, so this waits (bounded).
async fn relay_log_where(relay: &Relay, what: &str, check: impl Fn(&str) -> bool) -> String {
    let ok = eventually(Duration::from_secs(10), async || check(&relay.stderr_log())).await;
    let log = relay.stderr_log();
    assert!(ok, "the relay log never showed {what}:\n{log}");
    log
}

/// Asserts the client made exactly `n` successful POSTs to `path` and none to `other`.
async fn assert_posts(relay: &Relay, path: &str, n: usize, other: &str) {
    let log = relay_log_where(relay, &format!("{n} POSTs to {path}"), |log| {
        posts_in(log, path) >= n
    })
    .await;
    assert_eq!(posts_in(&log, path), n, "{log}");
    assert_eq!(posts_in(&log, other), 0, "{log}");
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l.trim()).ok())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Codex CLI

/// `codex exec` with `docs/clients/codex-config.toml` in a temporary `CODEX_HOME`.
fn codex_exec(relay: &Relay, home: &ClientHome, token: &str, args: &[&str]) -> Command {
    let mut cmd = codex_command(relay, home, token);
    cmd.args(["exec", "--skip-git-repo-check", "--ephemeral"])
        .args(args);
    cmd
}

/// Codex with `docs/clients/codex-config.toml` in a temporary `CODEX_HOME`.
fn codex_command(relay: &Relay, home: &ClientHome, token: &str) -> Command {
    home.write(
        ".codex/config.toml",
        &configured("codex-config.toml", relay),
    );
    let mut cmd = home.command(&codex());
    cmd.env("CODEX_HOME", home.path().join(".codex"))
        .env("AIRELAYS_TOKEN", token);
    cmd
}

/// One turn of a kept Codex session: the first starts it, the next ones resume it.
async fn codex_turn(relay: &Relay, home: &ClientHome, token: &str, first: bool, prompt: &str) {
    let mut cmd = codex_command(relay, home, token);
    cmd.args(["exec", "--skip-git-repo-check"]);
    if !first {
        cmd.args(["resume", "--last"]);
    }
    cmd.arg(prompt);
    let ran = run(cmd).await;
    ran.assert_ok();
}

/// The `ChatGPT-Account-ID` of every Responses request the mock received, in order.
fn upstream_accounts(relay: &Relay) -> Vec<String> {
    relay
        .mock()
        .state()
        .requests()
        .into_iter()
        .filter(|r| {
            r.path
                .starts_with(crate::harness::relay::UPSTREAM_RESPONSES)
        })
        .filter_map(|r| r.header("chatgpt-account-id").map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_conversation_stays_on_one_account_and_moves_when_it_is_benched() {
    let r = Relay::start(RelayOptions {
        signed_in: false,
        env: vec![("AIRELAYS_ACCOUNTS_STRATEGY", "balanced".into())],
        ..RelayOptions::default()
    })
    .await;
    let home_account = airelays_mock::MockAccount::default();
    let work_account = airelays_mock::MockAccount {
        email: "work@example.com".into(),
        plan: "pro".into(),
        account_id: "99999999-8888-7777-6666-555555555555".into(),
        user_id: "user-work".into(),
    };
    r.sandbox.sign_in_account("default", &home_account).await;
    r.sandbox.sign_in_account("work", &work_account).await;
    let state = r.mock().state();
    state.set_reject_foreign_encrypted(true);
    let both = eventually(Duration::from_secs(20), async || {
        let doc = r.relay_status().await;
        doc["accounts"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    assert!(both, "the relay never saw both accounts");
    let token = token_from_snippet(&r).await;
    let home = ClientHome::new();

    codex_turn(&r, &home, &token, true, "REASON turn 1").await;
    let first = upstream_accounts(&r)
        .last()
        .cloned()
        .expect("turn 1 went upstream");
    let other = if first == home_account.account_id {
        &work_account.account_id
    } else {
        &home_account.account_id
    };
    // The conversation's account fills up: balancing alone would move it, affinity
    // keeps it there while it is usable.
    state.set_weekly_used_for(&first, Some(90));
    state.set_weekly_used_for(other, Some(10));
    for n in 2..=5 {
        codex_turn(&r, &home, &token, false, &format!("REASON turn {n}")).await;
    }
    let so_far = upstream_accounts(&r);
    assert!(so_far.iter().all(|a| *a == first), "{so_far:?}");

    // Its account is benched by a usage limit: the conversation moves, and stays.
    state.set_usage_limited(&first, Some(Duration::from_secs(600)));
    for n in 6..=10 {
        codex_turn(&r, &home, &token, false, &format!("REASON turn {n}")).await;
    }
    let all = upstream_accounts(&r);
    let after: Vec<&String> = all
        .iter()
        .skip(so_far.len())
        .filter(|a| **a != first)
        .collect();
    assert_eq!(
        after.len(),
        5,
        "turns 6 to 10 ran on the other account: {all:?}"
    );
    assert!(after.iter().all(|a| *a == other));
}

/// Codex's own retries are turned off where a test is about a failure.
const CODEX_NO_RETRIES: [&str; 4] = [
    "-c",
    "model_providers.airelays.stream_max_retries=0",
    "-c",
    "model_providers.airelays.request_max_retries=0",
];

#[tokio::test(flavor = "multi_thread")]
async fn codex_answers_through_the_relay() {
    let r = Relay::start(RelayOptions::default()).await;
    let token = token_from_snippet(&r).await;
    let home = ClientHome::new();
    let ran = run(codex_exec(&r, &home, &token, &["say pong"])).await;
    ran.assert_ok();
    assert_eq!(ran.stdout.trim(), "pong", "{ran:#?}");

    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let body = &bodies[0];
    assert_eq!(body["model"], "gpt-5.5");
    assert_eq!(body["stream"], true);
    assert_eq!(body["store"], false);
    let user = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|i| i["role"] == "user")
        .expect("a user message");
    assert_eq!(user["content"][0]["text"], "say pong");
    // Codex's own tools, including non-function ones, reach the upstream untouched.
    let tools = body["tools"].as_array().expect("tools");
    assert!(
        tools.iter().any(|t| t["name"] == "exec_command"),
        "{tools:#?}"
    );
    assert!(
        tools
            .iter()
            .any(|t| t["type"] == "custom" && t["name"] == "apply_patch"),
        "{tools:#?}"
    );
    assert!(
        tools.iter().any(|t| t["type"] == "web_search"),
        "{tools:#?}"
    );
    assert_posts(&r, "/v1/responses", 1, "/v1/chat/completions").await;
    // A custom provider never lists models (the relay reads the catalogue itself).
    let log = r.stderr_log();
    assert!(!log.contains("GET /v1/models"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_runs_the_tool_the_model_asks_for() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    let ran = run(codex_exec(
        &r,
        &home,
        &r.token,
        &["--json", "RUN_TOOL please"],
    ))
    .await;
    ran.assert_ok();
    let events = jsonl(&ran.stdout);
    let command = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
        .unwrap_or_else(|| panic!("no command_execution: {ran:#?}"));
    assert_eq!(command["item"]["exit_code"], 0, "{command:#}");
    assert!(
        command["item"]["command"]
            .as_str()
            .unwrap()
            .contains("echo tool-ok-42")
    );
    assert_eq!(command["item"]["aggregated_output"], "tool-ok-42\n");
    let message = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .unwrap_or_else(|| panic!("no agent_message: {ran:#?}"));
    let text = message["item"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("tool said: ") && text.contains("tool-ok-42"),
        "{text}"
    );
    assert!(events.iter().any(|e| e["type"] == "turn.completed"));

    assert_eq!(r.upstream_bodies().len(), 2);
    assert_round_trip_upstream(&r, "exec_command", "tool-ok-42");
}

/// A wrong token fails at once with the relay's 401, and Codex's own retries of it (five,
/// with the documented config) do not get the loopback address banned: the right token
/// works straight after, even with a ban threshold below Codex's retry count.
#[tokio::test(flavor = "multi_thread")]
async fn codex_with_a_wrong_token_fails_cleanly() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "3".into())],
        ..Default::default()
    })
    .await;
    let home = ClientHome::new();
    let ran = run(codex_exec(&r, &home, "not-the-relay-token", &["say pong"])).await;
    assert_eq!(ran.code, Some(1), "{ran:#?}");
    assert!(ran.stdout.trim().is_empty(), "{ran:#?}");
    assert!(ran.stderr.contains("401 Unauthorized"), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("Missing or invalid airelays bearer token"),
        "{}",
        ran.stderr
    );
    assert!(r.upstream_bodies().is_empty(), "nothing may reach upstream");

    let ran = run(codex_exec(&r, &home, &r.token, &["say pong"])).await;
    ran.assert_ok();
    assert_eq!(ran.stdout.trim(), "pong");
    assert_eq!(r.upstream_bodies().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_reports_a_cut_stream_as_an_error() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    let mut args = CODEX_NO_RETRIES.to_vec();
    args.push("FAULT:cut now");
    let ran = run(codex_exec(&r, &home, &r.token, &args)).await;
    assert_ne!(ran.code, Some(0), "{ran:#?}");
    assert!(
        ran.stderr.contains("stream disconnected before completion"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.trim().is_empty(), "{ran:#?}");
    // One request reached upstream, whose stream the mock cut.
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].to_string().contains("FAULT:cut now"));
    relay_log_where(&r, "the incomplete stream", |log| {
        log.contains("incomplete_stream")
    })
    .await;
}

/// The built-in `openai` provider pointed at the relay (`docs/clients/codex-config-builtin.toml`
/// with the key from `docs/clients/codex-builtin-env.sh`): Codex first tries a WebSocket
/// on `/v1/responses`, the relay answers 426 at once, and Codex falls back to HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn codex_builtin_provider_falls_back_from_websocket() {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    home.write(
        ".codex/config.toml",
        &configured("codex-config-builtin.toml", &r),
    );
    let mut cmd = home.command(Path::new("/bin/sh"));
    cmd.arg("-c")
        .arg(format!(
            "{}exec \"$0\" \"$@\"",
            snippet("codex-builtin-env.sh")
        ))
        .arg(codex())
        .args(["exec", "--skip-git-repo-check", "--ephemeral", "say pong"])
        .env("CODEX_HOME", home.path().join(".codex"))
        .env("AIRELAYS_TOKEN", &r.token);
    let ran = run(cmd).await;
    ran.assert_ok();
    assert_eq!(ran.stdout.trim(), "pong", "{ran:#?}");
    relay_log_where(&r, "the refused WebSocket", |log| {
        log.contains("GET /v1/responses 426")
    })
    .await;
    assert_posts(&r, "/v1/responses", 1, "/v1/chat/completions").await;
    assert_eq!(r.upstream_bodies().len(), 1);
}

// ---------------------------------------------------------------------------------------
// opencode

/// `opencode run --format json` with `docs/clients/<config>` as its global config.
fn opencode_run(relay: &Relay, home: &ClientHome, config: &str, prompt: &str) -> Command {
    home.write(".config/opencode/opencode.json", &configured(config, relay));
    let mut cmd = home.command(&opencode());
    cmd.env("AIRELAYS_TOKEN", &relay.token)
        // No models.dev catalogue, plugins or update checks: the machine is offline
        // except for the npm registry, from which opencode fetches the provider package.
        .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
        .env("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1")
        .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .args(["run", "--format", "json", prompt]);
    cmd
}

async fn opencode_tool_round_trip(config: &str, api_path: &str, other_path: &str) {
    let r = Relay::start(RelayOptions::default()).await;
    let home = ClientHome::new();
    let ran = run(opencode_run(&r, &home, config, "RUN_TOOL please")).await;
    ran.assert_ok();
    let events = jsonl(&ran.stdout);
    let tool = events
        .iter()
        .find(|e| e["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use: {ran:#?}"));
    assert_eq!(tool["part"]["tool"], "bash", "{tool:#}");
    assert_eq!(tool["part"]["state"]["status"], "completed", "{tool:#}");
    assert_eq!(tool["part"]["state"]["output"], "tool-ok-42\n", "{tool:#}");
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "text")
        .filter_map(|e| e["part"]["text"].as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.trim() == "tool said: tool-ok-42"),
        "{texts:?}"
    );
    assert!(!events.iter().any(|e| e["type"] == "error"), "{ran:#?}");

    assert_round_trip_upstream(&r, "bash", "tool-ok-42");
    // The title request, the tool turn and the follow-up used this API only.
    assert_posts(&r, api_path, 3, other_path).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn opencode_on_chat_completions_runs_a_tool() {
    opencode_tool_round_trip(
        "opencode-chat.json",
        "/v1/chat/completions",
        "/v1/responses",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn opencode_on_responses_runs_a_tool() {
    opencode_tool_round_trip(
        "opencode-responses.json",
        "/v1/responses",
        "/v1/chat/completions",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// llm

/// An `llm` home with `docs/clients/llm-extra-openai-models.yaml` and the key stored by
/// `docs/clients/llm-key.sh`.
async fn llm_home(relay: &Relay) -> ClientHome {
    let home = ClientHome::new();
    home.write(
        "llm/extra-openai-models.yaml",
        &configured("llm-extra-openai-models.yaml", relay),
    );
    let venv_bin = llm().parent().unwrap().to_path_buf();
    let mut sh = home.command(Path::new("/bin/sh"));
    sh.arg("-c")
        .arg(snippet("llm-key.sh"))
        .env("LLM_USER_PATH", home.path().join("llm"))
        .env("AIRELAYS_TOKEN", &relay.token)
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", venv_bin.display()),
        );
    run(sh).await.assert_ok();
    home
}

fn llm_command(home: &ClientHome) -> Command {
    let mut cmd = home.command(&llm());
    cmd.env("LLM_USER_PATH", home.path().join("llm"));
    cmd
}

async fn llm_answers_and_runs_a_tool(model: &str, api_path: &str, other_path: &str) {
    let r = Relay::start(RelayOptions::default()).await;
    let home = llm_home(&r).await;

    let mut cmd = llm_command(&home);
    cmd.args(["-m", model, "say pong"]);
    let ran = run(cmd).await;
    ran.assert_ok();
    assert_eq!(ran.stdout.trim(), "pong", "{ran:#?}");
    let bodies = r.upstream_bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["model"], "gpt-5.5");
    assert!(bodies[0]["input"].to_string().contains("say pong"));

    let mut cmd = llm_command(&home);
    cmd.args(["-m", model, "--no-stream", "ECHO:no stream"]);
    let ran = run(cmd).await;
    ran.assert_ok();
    assert_eq!(ran.stdout.trim(), "no stream", "{ran:#?}");

    let mut cmd = llm_command(&home);
    cmd.args(["-m", model, "-T", "llm_version", "--td", "RUN_TOOL now"]);
    let ran = run(cmd).await;
    ran.assert_ok();
    // `--td` prints the tool call on stderr; the answer is all of stdout.
    assert!(
        ran.stderr.contains("Tool call: llm_version({})"),
        "{ran:#?}"
    );
    assert_eq!(ran.stdout.trim(), "tool said: 0.36", "{ran:#?}");
    assert_round_trip_upstream(&r, "llm_version", "0.36");

    assert_posts(&r, api_path, 4, other_path).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn llm_on_chat_completions() {
    llm_answers_and_runs_a_tool("airelays-chat", "/v1/chat/completions", "/v1/responses").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn llm_on_responses() {
    llm_answers_and_runs_a_tool(
        "airelays-responses",
        "/v1/responses",
        "/v1/chat/completions",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// The sign-in page in a real browser

#[tokio::test(flavor = "multi_thread")]
async fn browser_sign_in_page_says_it_succeeded() {
    let chromium = chromium();
    let env = Sandbox::mocked().await;
    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "100"]));
    // The one-time start link: the browser that opens it gets the sign-in cookie the
    // callback asks for, then the redirect to the issuer.
    let url = login
        .line_where(|l| l.starts_with("http://localhost:") && l.contains("/start/"))
        .await;

    let artifacts = repo().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("browser-sign-in.png");
    let _ = std::fs::remove_file(&screenshot);
    let profile = ClientHome::new();
    let mut cmd = profile.command(&chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=800,400",
    ])
    .arg(format!(
        "--user-data-dir={}",
        profile.path().join("chromium").display()
    ))
    .arg(format!("--screenshot={}", screenshot.display()))
    .arg("--dump-dom")
    .arg(&url);
    let ran = run(cmd).await;
    ran.assert_ok();

    // The DOM after following the issuer's redirect to the local callback.
    let dom = &ran.stdout;
    assert!(dom.contains("<title>airelays — Signed in</title>"), "{dom}");
    assert!(dom.contains("<h1>Signed in</h1>"), "{dom}");
    assert!(
        dom.contains(
            "Signed in to ChatGPT as user@example.com. You can close this tab and return to the terminal."
        ),
        "{dom}"
    );
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("Signed in to ChatGPT as user@example.com"),
        "{stdout}"
    );
    assert_eq!(env.mock().state().code_exchange_calls(), 1);
    assert_eq!(env.status_json().await["upstream"]["state"], "ready");
}

// ---------------------------------------------------------------------------------------
// The documentation

/// Every file of `docs/clients/` appears verbatim in `docs/clients.md`, so what users copy
/// is what these tests run.
#[test]
fn docs_show_every_tested_snippet_verbatim() {
    let doc = std::fs::read_to_string(repo().join("docs/clients.md")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(repo().join("docs/clients"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 6, "{names:?}");
    for name in names {
        let text = snippet(&name);
        assert!(
            doc.contains(&format!("```{}\n{text}```", fence_language(&name))),
            "docs/clients.md does not show docs/clients/{name} verbatim in a fenced block"
        );
        assert!(
            doc.contains(&format!("docs/clients/{name}")),
            "docs/clients.md does not name docs/clients/{name}"
        );
    }
}

fn fence_language(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("toml") => "toml",
        Some("json") => "json",
        Some("yaml") => "yaml",
        _ => "sh",
    }
}
