//! `airelays login` / `logout` / `status` end to end: the real binary against the mock
//! issuer, with the test playing the browser.

use crate::harness::login::*;
use crate::harness::*;
use serde_json::Value;

const EMAIL: &str = "user@example.com";
const ACCOUNT: &str = "11111111-2222-3333-4444-555555555555";

fn is_authorize_url(line: &str) -> bool {
    line.starts_with("http://127.0.0.1:") && line.contains("/oauth/authorize?")
}

/// Asserts that none of the stored tokens appears in `haystacks`.
fn assert_no_tokens(env: &Sandbox, haystacks: &[&str]) {
    let raw = std::fs::read_to_string(env.paths().auth_file()).unwrap();
    let doc: Value = serde_json::from_str(&raw).unwrap();
    for key in ["id_token", "access_token", "refresh_token"] {
        let token = doc["tokens"][key].as_str().unwrap();
        assert!(token.len() > 8);
        for h in haystacks {
            assert!(!h.contains(token), "{key} leaked into output");
        }
    }
}

fn assert_ready(status: &Value, store: &str) {
    let up = &status["upstream"];
    assert_eq!(up["state"], "ready", "{status:#}");
    assert_eq!(up["email"], EMAIL);
    assert_eq!(up["plan"], "plus");
    assert_eq!(up["account_id"], ACCOUNT);
    assert_eq!(up["credential_store"], store);
    assert!(up["access_expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(up["last_refresh"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_login_stores_private_credentials_and_status_is_ready() {
    let env = Sandbox::mocked().await;
    let before = env.status_json().await;
    assert_eq!(before["upstream"]["state"], "missing");

    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "60"]));
    let url = login.line_where(is_authorize_url).await;
    let browser = browser();
    let (status, location, _) = get(&browser, &url).await;
    assert_eq!(status, 302);
    let callback = location.unwrap();
    assert!(callback.starts_with("http://localhost:"), "{callback}");
    let (status, _, page) = get(&browser, &callback).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(
            "Signed in to ChatGPT as {EMAIL}. You can close this tab and return to the terminal."
        )),
        "{page}"
    );
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains(&format!(
            "Signed in to ChatGPT as {EMAIL} (plan plus, account {ACCOUNT})."
        )),
        "{stdout}"
    );
    assert!(stdout.contains("auth.json"), "{stdout}");
    assert_eq!(env.mock().state().code_exchange_calls(), 1);

    assert_eq!(mode(&env.paths().auth_file()), 0o600);
    assert_eq!(mode(&env.paths().data_dir), 0o700);
    let status = env.status_json().await;
    assert_ready(&status, "file");
    let human = env.output(env.cmd(&["status"])).await;
    assert_no_tokens(
        &env,
        &[&status.to_string(), &text(&human.stdout), &stdout, &stderr],
    );

    // The authorize request carried the Codex parameters.
    let authorize = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        q["scope"],
        "openid profile email offline_access api.connectors.read api.connectors.invoke"
    );
    assert_eq!(q["originator"], "codex_cli_rs");
    assert_eq!(q["codex_cli_simplified_flow"], "true");
    assert_eq!(q["id_token_add_organizations"], "true");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_mismatch_gets_400_and_the_login_keeps_waiting() {
    let env = Sandbox::mocked().await;
    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "60"]));
    let url = login.line_where(is_authorize_url).await;
    let browser = browser();
    let (_, location, _) = get(&browser, &url).await;
    let callback = url::Url::parse(&location.unwrap()).unwrap();
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, "forged".into())
            } else {
                (k, v)
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, _, page) = get(&browser, forged.as_str()).await;
    assert_eq!(status, 400);
    assert!(page.contains("state mismatch"), "{page}");

    let (status, _, page) = get(&browser, callback.as_str()).await;
    assert_eq!(status, 200);
    assert!(page.contains("Signed in to ChatGPT as"), "{page}");
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_ready(&env.status_json().await, "file");
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_consent_fails_with_the_reason() {
    let env = Sandbox::mocked().await;
    env.mock()
        .state()
        .set_authorize_error(Some("access_denied".into()));
    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "60"]));
    let url = login.line_where(is_authorize_url).await;
    let browser = browser();
    let (_, location, _) = get(&browser, &url).await;
    let (_, _, page) = get(&browser, &location.unwrap()).await;
    assert!(page.contains("Codex is not enabled"), "{page}");
    let (code, _, stderr) = login.finish().await;
    assert_eq!(code, 1);
    let line = stderr.trim();
    assert!(!line.contains('\n'), "one line: {stderr}");
    assert!(line.starts_with("error: Codex is not enabled"), "{stderr}");
    assert!(line.contains("missing_codex_entitlement"), "{stderr}");
    assert_eq!(env.status_json().await["upstream"]["state"], "missing");

    // Any other refusal names the code.
    env.mock()
        .state()
        .set_authorize_error(Some("server_error".into()));
    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "60"]));
    let url = login.line_where(is_authorize_url).await;
    let (_, location, _) = get(&browser, &url).await;
    let (_, _, page) = get(&browser, &location.unwrap()).await;
    assert!(page.contains("refused (server_error)"), "{page}");
    let (code, _, stderr) = login.finish().await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: the sign-in was refused (server_error"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_callback_port_names_the_port_and_the_device_flow() {
    let env = Sandbox::mocked().await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut cmd = env.cmd(&["login", "--no-browser"]);
    cmd.env("AIRELAYS_CALLBACK_PORT", port.to_string());
    let out = env.output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "error: port {port} is busy — close the other login or use `airelays login --device`"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_login_times_out_clearly() {
    let env = Sandbox::mocked().await;
    let out = env
        .output(env.cmd(&["login", "--no-browser", "--timeout", "1"]))
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: no sign-in completed within 1 s — run `airelays login` again"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn device_login_polls_until_approved() {
    let env = Sandbox::mocked().await;
    env.mock().state().set_device_pending_polls(3);
    let out = env
        .output(env.cmd(&["login", "--device", "--timeout", "60"]))
        .await;
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{}/codex/device", env.mock().issuer_url())),
        "{stdout}"
    );
    assert!(stdout.contains("Never share this code"), "{stdout}");
    assert!(
        stdout.contains(&format!("Signed in to ChatGPT as {EMAIL}")),
        "{stdout}"
    );
    assert!(env.mock().state().device_token_polls() >= 4);
    assert_eq!(env.mock().state().code_exchange_calls(), 1);
    let status = env.status_json().await;
    assert_ready(&status, "file");
    assert_eq!(mode(&env.paths().auth_file()), 0o600);
    assert_no_tokens(&env, &[&status.to_string(), &stdout, &stderr]);
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_machines_use_the_device_flow_automatically() {
    let env = Sandbox::mocked().await;
    let mut cmd = env.cmd(&["login", "--timeout", "60"]);
    cmd.env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22");
    let out = env.output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("/codex/device"));
    assert_eq!(env.mock().state().device_usercode_calls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn device_code_never_approved_times_out() {
    let env = Sandbox::mocked().await;
    env.mock().state().set_device_never_approve(true);
    let out = env
        .output(env.cmd(&["login", "--device", "--timeout", "1"]))
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: the device code was not approved within 1 s — run `airelays login --device` again"
    );
    assert_eq!(env.mock().state().code_exchange_calls(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn device_flow_not_enabled_points_to_the_browser() {
    let env = Sandbox::mocked().await;
    env.mock().state().set_device_enabled(false);
    let out = env.output(env.cmd(&["login", "--device"])).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "error: device-code login is not enabled on this server — use the browser login"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_and_deletes_and_is_idempotent() {
    let env = Sandbox::mocked().await;
    let out = env.output(env.cmd(&["login", "--device"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let refresh_token = {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(env.paths().auth_file()).unwrap()).unwrap();
        doc["tokens"]["refresh_token"].as_str().unwrap().to_string()
    };

    let out = env.output(env.cmd(&["logout", "--json"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"revoked": true, "deleted": true, "store": "file"})
    );
    assert_eq!(env.mock().state().revoke_calls(), 1);
    let revoke = env.mock().state().last_request_to("/oauth/revoke").unwrap();
    assert_eq!(revoke.body["token"], refresh_token.as_str());
    assert_eq!(revoke.body["token_type_hint"], "refresh_token");
    assert_eq!(revoke.body["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert!(!env.paths().auth_file().exists());
    assert_eq!(env.status_json().await["upstream"]["state"], "missing");

    let out = env.output(env.cmd(&["logout", "--json"])).await;
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"revoked": false, "deleted": false, "store": null})
    );
    let out = env.output(env.cmd(&["logout"])).await;
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("nothing to do"));
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_store_without_a_keychain_falls_back_to_the_file_with_one_warning() {
    let env = Sandbox::mocked().await;
    let mut cmd = env.cmd(&["login", "--device"]);
    cmd.env("AIRELAYS_CREDENTIAL_STORE", "auto")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", env.dir.path().join("no-such-bus").display()),
        )
        .env("XDG_RUNTIME_DIR", env.dir.path().join("no-runtime-dir"));
    let out = env.output(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with("warning: no usable OS keychain"),
        "{stderr}"
    );
    assert!(
        warnings[0].contains(&env.paths().auth_file().display().to_string()),
        "{stderr}"
    );
    assert!(env.paths().auth_file().exists());
    let mut status_cmd = env.cmd(&["status", "--json"]);
    status_cmd.env("AIRELAYS_CREDENTIAL_STORE", "auto");
    let status: Value = serde_json::from_slice(&env.output(status_cmd).await.stdout).unwrap();
    assert_ready(&status, "file");

    // Forcing the keychain there is an error with the way out, before any sign-in.
    let mut cmd = env.cmd(&["login", "--device"]);
    cmd.env("AIRELAYS_CREDENTIAL_STORE", "keychain").env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", env.dir.path().join("no-such-bus").display()),
    );
    let usercode_calls = env.mock().state().device_usercode_calls();
    let out = env.output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: the OS keychain is not usable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("auth.credential_store = \"file\""),
        "{stderr}"
    );
    assert_eq!(env.mock().state().device_usercode_calls(), usercode_calls);
}

/// The OS keychain for real. Runs only with `AIRELAYS_TEST_KEYCHAIN=1` (CI runs it in
/// a D-Bus session with an unlocked gnome-keyring), and then must not skip.
#[tokio::test(flavor = "multi_thread")]
async fn keychain_store_for_real_when_enabled() {
    if std::env::var("AIRELAYS_TEST_KEYCHAIN").as_deref() != Ok("1") {
        eprintln!("skipped: set AIRELAYS_TEST_KEYCHAIN=1 inside a keyring session to run");
        return;
    }
    let env = Sandbox::mocked().await;
    // The keyring daemon of the session lives under the real HOME the CI set up.
    let real_home = std::env::var("HOME").unwrap();
    let keychain_cmd = |args: &[&str], store: &str| {
        let mut cmd = env.cmd(args);
        cmd.env("AIRELAYS_CREDENTIAL_STORE", store)
            .env("HOME", &real_home);
        cmd
    };
    let out = env
        .output(keychain_cmd(&["login", "--device"], "keychain"))
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "AIRELAYS_TEST_KEYCHAIN=1 but the keychain login failed: {stderr}"
    );
    assert!(stderr.trim().is_empty(), "no warning expected: {stderr}");
    assert!(text(&out.stdout).contains("OS keychain"));
    assert!(!env.paths().auth_file().exists());
    let index: Value =
        serde_json::from_slice(&std::fs::read(env.paths().credentials_index_file()).unwrap())
            .unwrap();
    assert_eq!(mode(&env.paths().credentials_index_file()), 0o600);
    let generation = index["generation"].as_str().unwrap().to_string();
    let chunks = index["chunks"].as_u64().unwrap();
    for i in 0..chunks {
        let entry =
            keyring::Entry::new("airelays", &format!("credentials.{generation}.{i}")).unwrap();
        assert!(
            entry.get_password().is_ok(),
            "chunk {i} missing from the keychain"
        );
    }
    let status: Value = serde_json::from_slice(
        &env.output(keychain_cmd(&["status", "--json"], "keychain"))
            .await
            .stdout,
    )
    .unwrap();
    assert_ready(&status, "keychain");

    // `auto` picks the keychain when it works, and replaces the old generation.
    let out = env
        .output(keychain_cmd(&["login", "--device"], "auto"))
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).trim().is_empty(), "{}", text(&out.stderr));
    let index2: Value =
        serde_json::from_slice(&std::fs::read(env.paths().credentials_index_file()).unwrap())
            .unwrap();
    assert_ne!(index2["generation"], index["generation"]);
    let old = keyring::Entry::new("airelays", &format!("credentials.{generation}.0")).unwrap();
    assert!(matches!(old.get_password(), Err(keyring::Error::NoEntry)));

    let out = env
        .output(keychain_cmd(&["logout", "--json"], "auto"))
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"revoked": true, "deleted": true, "store": "keychain"})
    );
    let generation2 = index2["generation"].as_str().unwrap();
    let entry = keyring::Entry::new("airelays", &format!("credentials.{generation2}.0")).unwrap();
    assert!(matches!(entry.get_password(), Err(keyring::Error::NoEntry)));
    assert!(!env.paths().credentials_index_file().exists());
}
