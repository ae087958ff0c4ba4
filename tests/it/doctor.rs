//! `airelays doctor` against the mock upstream: a healthy set-up, the upstream down,
//! a revoked refresh token, client configurations that miss the relay, `--live`.

use std::process::{Command, Output};
use std::time::Duration;

use airelays_mock::{MockConfig, RefreshFailure};
use serde_json::Value;

use crate::harness::relay::{Relay, RelayOptions};
use crate::harness::*;

/// Variables of the developer's shell that doctor reads as client configuration.
const CLIENT_VARS: &[&str] = &[
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_KEY",
    "CODEX_HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `airelays doctor <args>` in `sb`, without the caller's client and proxy variables.
fn doctor(sb: &Sandbox, args: &[&str]) -> Command {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let mut cmd = sb.cmd(&all);
    for v in CLIENT_VARS {
        cmd.env_remove(v);
    }
    cmd
}

async fn doctor_json(sb: &Sandbox, cmd: Command) -> (Output, Value) {
    let out = sb.output(cmd).await;
    let json = json_of(&out);
    (out, json)
}

/// The check `id` of a report; panics when it is missing.
fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no `{id}` check in {report:#}"))
}

fn ids(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_setup_passes_every_check_and_the_ids_are_documented() {
    let relay = Relay::start(RelayOptions::default()).await;
    let (out, report) = doctor_json(&relay.sandbox, doctor(&relay.sandbox, &["--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_eq!(report["ok"], true);
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c:#}");
        assert!(
            c["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{c:#}"
        );
        assert!(c.get("hint").is_some(), "{c:#}");
    }
    let expected = [
        "config",
        "private_files",
        "state_store",
        "relay_token",
        "credential_store",
        "signed_in",
        "refresh",
        "clock_skew",
        "proxy",
        "upstream",
        "usage",
        "relay_running",
        "relay_health",
        "relay_auth",
        "port",
        "client_env",
        "client_codex",
        "client_opencode",
        "client_claude",
    ];
    assert_eq!(ids(&report), expected);
    assert!(
        check(&report, "upstream")["summary"]
            .as_str()
            .unwrap()
            .contains("gpt-5.4-mini"),
        "{report:#}"
    );
    let usage = check(&report, "usage")["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        usage.starts_with("plus plan: 5h: 12% used") && usage.contains("7d: 24% used"),
        "{usage}"
    );
    // The refresh token is not spent when no refresh is due.
    assert_eq!(relay.mock().state().refresh_calls(), 0);
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/doctor-json.md"),
    )
    .expect("docs/doctor-json.md");
    for id in expected.iter().chain(&["live_probe", "live_tools"]) {
        assert!(
            docs.contains(&format!("`{id}`")),
            "{id} is not in docs/doctor-json.md"
        );
    }
    assert!(!stdout(&out).contains(&relay.token));

    // The human form: one line per check, no colour or spinner in a pipe.
    let human = relay.sandbox.output(doctor(&relay.sandbox, &[])).await;
    assert_eq!(human.status.code(), Some(0), "{}", stdout(&human));
    let text = stdout(&human);
    assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
    for id in expected {
        assert!(
            text.lines().any(|l| l.starts_with("ok") && l.contains(id)),
            "no ok line for {id}:\n{text}"
        );
    }
    assert!(text.contains("All checks passed."), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_upstream_down_the_upstream_check_fails_naming_the_url() {
    let mut sb = Sandbox::mocked().await;
    sb.set_env("AIRELAYS_PORT", "0");
    assert!(sb.run(&["init"]).status.success());
    sb.sign_in().await;
    let backend = sb.mock().backend_url();
    sb.stop_mock().await;
    let (out, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(report["ok"], false);
    let upstream = check(&report, "upstream");
    assert_eq!(upstream["status"], "fail", "{upstream:#}");
    let summary = upstream["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("{backend}/models")), "{summary}");
    assert!(summary.to_lowercase().contains("connect"), "{summary}");
    assert!(upstream["hint"].as_str().unwrap().contains("HTTPS_PROXY"));
    // The checks after it still ran.
    assert_eq!(check(&report, "relay_running")["status"], "warn");
    assert_eq!(check(&report, "config")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_refresh_token_fails_with_live_and_says_login() {
    let sb = Sandbox::mocked().await;
    assert!(sb.run(&["init"]).status.success());
    let issued = sb.sign_in().await;
    sb.mock()
        .state()
        .set_refresh_failure(Some(RefreshFailure::Invalidated));
    // Without --live a valid access token is not refreshed: nothing spent, all ok.
    let (out, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(check(&report, "refresh")["status"], "ok", "{report:#}");
    assert_eq!(sb.mock().state().refresh_calls(), 0);
    assert!(!stdout(&out).contains(&issued.refresh_token));

    let (out, report) = doctor_json(&sb, doctor(&sb, &["--json", "--live"])).await;
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let refresh = check(&report, "refresh");
    assert_eq!(refresh["status"], "fail", "{refresh:#}");
    assert!(
        refresh["summary"].as_str().unwrap().contains("revoked"),
        "{refresh:#}"
    );
    assert!(refresh["hint"].as_str().unwrap().contains("airelays login"));
    assert_eq!(sb.mock().state().refresh_calls(), 1);
    let text = stdout(&out);
    for secret in [&issued.refresh_token, &issued.access_token] {
        assert!(!text.contains(secret.as_str()));
    }
    // The failure is recorded: the next run says so without asking the issuer.
    let (_, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(check(&report, "signed_in")["status"], "fail");
    assert!(
        check(&report, "signed_in")["hint"]
            .as_str()
            .unwrap()
            .contains("airelays login")
    );
    assert_eq!(sb.mock().state().refresh_calls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_near_expiry_is_refreshed_and_a_revoked_one_says_login() {
    let config = MockConfig {
        access_token_lifetime: Duration::from_secs(30),
        ..MockConfig::default()
    };
    let sb = Sandbox::with_mock(config).await;
    assert!(sb.run(&["init"]).status.success());
    sb.sign_in().await;
    // Due (within the relay's 60 s margin): refreshed once, through the session.
    let (_, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(check(&report, "refresh")["status"], "ok", "{report:#}");
    assert_eq!(sb.mock().state().refresh_calls(), 1);
    sb.assert_no_refresh_token_reused();

    sb.mock()
        .state()
        .set_refresh_failure(Some(RefreshFailure::Expired));
    let (out, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let refresh = check(&report, "refresh");
    assert_eq!(refresh["status"], "fail", "{refresh:#}");
    assert!(refresh["hint"].as_str().unwrap().contains("airelays login"));
}

#[tokio::test(flavor = "multi_thread")]
async fn client_variables_are_checked_against_the_relay() {
    let relay = Relay::start(RelayOptions::default()).await;
    let sb = &relay.sandbox;
    let port = relay.port;
    let fingerprint = sb.status_json().await["relay_token"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    let mut cmd = doctor(sb, &["--json"]);
    cmd.env("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1/v1"))
        .env("OPENAI_API_KEY", &relay.token);
    let (out, report) = doctor_json(sb, cmd).await;
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let env = check(&report, "client_env");
    assert_eq!(env["status"], "warn", "{env:#}");
    assert!(
        env["summary"].as_str().unwrap().contains("/v1/v1"),
        "{env:#}"
    );
    assert_eq!(
        env["hint"],
        format!("export OPENAI_BASE_URL=http://127.0.0.1:{port}/v1")
    );

    let stale = "sk-a-stale-key-that-is-not-the-relay-token-000";
    let mut cmd = doctor(sb, &["--json"]);
    cmd.env("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1"))
        .env("OPENAI_API_KEY", stale)
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}/v1"));
    let (out, report) = doctor_json(sb, cmd).await;
    let env = check(&report, "client_env");
    assert_eq!(env["status"], "warn", "{env:#}");
    let summary = env["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("the relay expects fingerprint {fingerprint}")),
        "{summary}"
    );
    let claude = check(&report, "client_claude");
    assert_eq!(claude["status"], "warn", "{claude:#}");
    assert_eq!(
        claude["hint"],
        format!("export ANTHROPIC_BASE_URL=http://127.0.0.1:{port}")
    );
    for text in [stdout(&out), stderr(&out)] {
        assert!(
            !text.contains(stale) && !text.contains(&relay.token),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_codex_provider_on_another_port_is_named_with_its_line() {
    let relay = Relay::start(RelayOptions::default()).await;
    let sb = &relay.sandbox;
    let other = if relay.port == 9 { 10 } else { 9 };
    let codex = sb.home().join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    let file = codex.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"airelays\"\n\n[model_providers.airelays]\nbase_url = \"http://127.0.0.1:{other}/v1\"\nwire_api = \"responses\"\n\n[model_providers.openai]\nbase_url = \"https://api.openai.com/v1\"\n"
        ),
    )
    .unwrap();
    let (_, report) = doctor_json(sb, doctor(sb, &["--json"])).await;
    let codex = check(&report, "client_codex");
    assert_eq!(codex["status"], "warn", "{codex:#}");
    let summary = codex["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("{}:5", file.display())),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "points at port {other}, but the relay listens on {}",
            relay.port
        )),
        "{summary}"
    );
    assert!(!summary.contains("api.openai.com"), "{summary}");

    // The human form names the file and line too.
    let human = stdout(&sb.output(doctor(sb, &[])).await);
    assert!(human.contains("config.toml:5"), "{human}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keys_client_configs_send_are_compared_by_fingerprint() {
    let relay = Relay::start(RelayOptions::default()).await;
    let sb = &relay.sandbox;
    let codex = sb.home().join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    let file = codex.join("config.toml");
    // A provider at the relay whose env_key holds a stale token: named by fingerprint.
    std::fs::write(
        &file,
        format!(
            "[model_providers.airelays]\nbase_url = \"http://127.0.0.1:{}/v1\"\nenv_key = \"AIRELAYS_TOKEN\"\n",
            relay.port
        ),
    )
    .unwrap();
    let stale = "a-stale-relay-token-from-last-week-0000000000";
    let mut cmd = doctor(sb, &["--json"]);
    cmd.env("AIRELAYS_TOKEN", stale);
    let (out, report) = doctor_json(sb, cmd).await;
    let codex = check(&report, "client_codex");
    assert_eq!(codex["status"], "warn", "{codex:#}");
    let summary = codex["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("AIRELAYS_TOKEN (the key of {}:2)", file.display())),
        "{summary}"
    );
    assert!(
        summary.contains("the relay expects fingerprint"),
        "{summary}"
    );
    assert!(!stdout(&out).contains(stale) && !stdout(&out).contains(&relay.token));

    // opencode's provider at the relay with the right token is ok.
    let opencode = sb.home().join(".config/opencode");
    std::fs::create_dir_all(&opencode).unwrap();
    std::fs::write(
        opencode.join("opencode.json"),
        format!(
            "{{\n  \"provider\": {{\n    \"airelays\": {{\n      \"options\": {{\n        \"baseURL\": \"http://127.0.0.1:{}/v1\",\n        \"apiKey\": \"{{env:AIRELAYS_TOKEN}}\"\n      }}\n    }}\n  }}\n}}\n",
            relay.port
        ),
    )
    .unwrap();
    let mut cmd = doctor(sb, &["--json"]);
    cmd.env("AIRELAYS_TOKEN", &relay.token);
    let (_, report) = doctor_json(sb, cmd).await;
    let opencode = check(&report, "client_opencode");
    assert_eq!(opencode["status"], "ok", "{opencode:#}");
    assert!(
        opencode["summary"]
            .as_str()
            .unwrap()
            .contains("points at the relay"),
        "{opencode:#}"
    );
    assert_eq!(check(&report, "client_codex")["status"], "ok", "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn live_runs_the_probe_and_a_tool_round_trip_and_prints_tokens() {
    let relay = Relay::start(RelayOptions::default()).await;
    let sb = &relay.sandbox;
    let (out, report) = doctor_json(sb, doctor(sb, &["--json", "--live"])).await;
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    for id in ["refresh", "live_probe", "live_tools"] {
        let c = check(&report, id);
        assert_eq!(c["status"], "ok", "{c:#}");
    }
    let probe = check(&report, "live_probe")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(probe.starts_with("gpt-5.4-mini answered"), "{probe}");
    assert!(probe.contains("tokens used"), "{probe}");
    let tools = check(&report, "live_tools")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tools.contains("tool said: doctor-ok"), "{tools}");
    assert!(tools.contains("tokens used"), "{tools}");
    let bodies = relay.upstream_bodies();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    for body in &bodies {
        assert_eq!(body["model"], "gpt-5.4-mini");
        assert!(body.get("max_output_tokens").is_none());
    }
    assert_eq!(bodies[2]["input"][2]["type"], "function_call_output");
    // The refresh went through the session: one refresh, saved, and the running relay
    // still answers with the rotated set.
    assert_eq!(relay.mock().state().refresh_calls(), 1);
    sb.assert_no_refresh_token_reused();
    let resp = relay
        .post(
            "/v1/responses",
            &crate::harness::relay::text_request("hi", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // --model overrides the choice.
    let (_, report) =
        doctor_json(sb, doctor(sb, &["--json", "--live", "--model", "gpt-5.5"])).await;
    let probe = check(&report, "live_probe")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(probe.starts_with("gpt-5.5 answered"), "{probe}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_config_file_is_a_failed_check_not_an_early_exit() {
    let sb = Sandbox::mocked().await;
    assert!(sb.run(&["init"]).status.success());
    std::fs::write(sb.config_file(), "[server\nport = \"x\"\n").unwrap();
    let (out, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let config = check(&report, "config");
    assert_eq!(config["status"], "fail", "{config:#}");
    assert!(
        config["summary"]
            .as_str()
            .unwrap()
            .contains(&sb.config_file().display().to_string())
            || config["hint"]
                .as_str()
                .unwrap()
                .contains(&sb.config_file().display().to_string()),
        "{config:#}"
    );
    // Every other check still ran.
    assert!(ids(&report).contains(&"client_claude".to_string()));
    assert_eq!(check(&report, "signed_in")["status"], "fail");
    assert!(stderr(&out).trim().is_empty() || !stderr(&out).contains("error:"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_running_with_another_token_and_a_busy_port_are_failures() {
    let relay = Relay::start(RelayOptions::default()).await;
    let sb = &relay.sandbox;
    // This shell's token is not the one the relay runs with.
    let other = "another-relay-token-from-this-shell-000000000";
    let mut cmd = doctor(sb, &["--json"]);
    cmd.env("AIRELAYS_BEARER_TOKEN", other);
    let (out, report) = doctor_json(sb, cmd).await;
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let auth = check(&report, "relay_auth");
    assert_eq!(auth["status"], "fail", "{auth:#}");
    assert!(
        auth["summary"]
            .as_str()
            .unwrap()
            .contains("the relay refuses the current token"),
        "{auth:#}"
    );
    assert!(
        check(&report, "relay_token")["summary"]
            .as_str()
            .unwrap()
            .contains("AIRELAYS_BEARER_TOKEN")
    );
    assert!(!stdout(&out).contains(other) && !stdout(&out).contains(&relay.token));

    // No relay for this data dir, and another program holds the configured port.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let mut lone = Sandbox::mocked().await;
    lone.set_env("AIRELAYS_PORT", &port);
    assert!(lone.run(&["init"]).status.success());
    lone.sign_in().await;
    let (out, report) = doctor_json(&lone, doctor(&lone, &["--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let p = check(&report, "port");
    assert_eq!(p["status"], "fail", "{p:#}");
    assert!(
        p["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{port}"))
    );
    assert!(p["hint"].as_str().unwrap().contains("--port 0"));
    drop(busy);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_readable_secret_file_fails_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let sb = Sandbox::mocked().await;
    assert!(sb.run(&["init"]).status.success());
    sb.sign_in().await;
    let auth = sb.data_dir().join("auth.json");
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, report) = doctor_json(&sb, doctor(&sb, &["--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let modes = check(&report, "private_files");
    assert_eq!(modes["status"], "fail", "{modes:#}");
    assert_eq!(modes["hint"], format!("chmod 600 {}", auth.display()));
}

/// The report of `POST /v1/relay/test` with the relay's token.
async fn relay_test(relay: &Relay) -> Value {
    let resp = relay.post("/v1/relay/test", &serde_json::json!({}));
    resp.send().await.unwrap().json().await.unwrap()
}

/// `POST /v1/relay/test`: the relay and upstream checks of `doctor`, run by the
/// relay itself, plus the plan's usage read on demand; the token is required.
#[tokio::test]
async fn the_relay_test_endpoint_runs_the_relay_and_upstream_checks() {
    let mut relay = Relay::start(RelayOptions::default()).await;
    let anonymous = relay
        .http
        .post(relay.url("/v1/relay/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let usage_reads = relay.mock().state().usage_calls();
    let report = relay_test(&relay).await;
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(
        ids(&report),
        [
            "config",
            "relay_token",
            "credential_store",
            "signed_in",
            "clock_skew",
            "upstream",
            "usage"
        ]
    );
    assert!(
        check(&report, "usage")["summary"]
            .as_str()
            .unwrap()
            .contains("7d: 24% used"),
        "{report:#}"
    );
    assert!(
        relay.mock().state().usage_calls() > usage_reads,
        "read on demand"
    );
    assert!(!report.to_string().contains(&relay.token));

    // With the upstream gone, the upstream check fails and names the URL.
    relay.sandbox.stop_mock().await;
    let report = relay_test(&relay).await;
    assert_eq!(report["ok"], false, "{report:#}");
    let upstream = check(&report, "upstream");
    assert_eq!(upstream["status"], "fail");
    assert!(
        upstream["summary"]
            .as_str()
            .unwrap()
            .contains("/backend-api/codex/models"),
        "{upstream}"
    );
}
