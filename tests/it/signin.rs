//! Sign-in edge cases (issue 13, item 6 and its smaller points): each one against the mock
//! issuer, with the mock knob or store hook that provokes it.

use std::time::Duration;

use crate::harness::login::{RunningLogin, browser};
use crate::harness::*;
use airelays::auth::CredentialSession;

/// A session of the library against the mock, as the relay builds it.
fn session(env: &Sandbox) -> CredentialSession {
    let config = env.config();
    let http = airelays::http::client(&config.upstream).unwrap();
    CredentialSession::new(env.paths().clone(), config, http)
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_without_rotation_keeps_the_old_refresh_token() {
    let env = Sandbox::mocked().await;
    let mock = env.mock().state();
    // Every access token is born expired, so each `access()` refreshes.
    mock.set_access_token_lifetime(Duration::ZERO);
    let seeded = env.seed(&mock.issue_tokens()).await;
    mock.set_refresh_rotation(false);
    let session = session(&env);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let access = session
            .access()
            .await
            .expect("a refresh without rotation works");
        assert!(
            !seen.contains(&access.access_token),
            "a new access token each time"
        );
        seen.push(access.access_token);
    }
    assert_eq!(mock.refresh_calls(), 3);
    let sent = env.refresh_tokens_sent();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|t| t == seeded.tokens.refresh_token.expose()),
        "the one refresh token is kept and sent again"
    );
    let stored = env.store().load().await.unwrap().unwrap().credentials;
    assert_eq!(stored.tokens.refresh_token, seeded.tokens.refresh_token);
    assert_eq!(&*seen[2], stored.tokens.access_token.expose());

    // Back to rotation: the kept token is spent once and replaced.
    mock.set_refresh_rotation(true);
    session.access().await.unwrap();
    let stored = env.store().load().await.unwrap().unwrap().credentials;
    assert_ne!(stored.tokens.refresh_token, seeded.tokens.refresh_token);
}

/// `serve` with the given extra environment, expected to refuse before binding.
fn serve_refused(sb: &Sandbox) -> String {
    let out = sb.run(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!stdout(&out).contains("listening"), "never bound");
    err
}

#[test]
fn relay_tokens_shorter_than_32_characters_are_refused_at_start() {
    let mut sb = Sandbox::new();
    sb.set_env("AIRELAYS_BEARER_TOKEN", &"e".repeat(31));
    let err = serve_refused(&sb);
    assert!(
        err.starts_with("error: the relay token from AIRELAYS_BEARER_TOKEN is 31 characters; at least 32 are required"),
        "{err}"
    );
    assert!(!err.contains(&"e".repeat(31)), "the token is not shown");

    let sb = Sandbox::new();
    let file = sb.data_dir().join("relay-token");
    std::fs::create_dir_all(sb.data_dir()).unwrap();
    std::fs::write(&file, "short-but-ascii-0123456789\n").unwrap();
    let err = serve_refused(&sb);
    assert!(
        err.contains(&format!(
            "the relay token in {} is 26 characters",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("airelays token rotate"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_custom_token_file_does_not_chmod_a_directory_it_did_not_create() {
    use std::os::unix::fs::PermissionsExt;
    let mut sb = Sandbox::new();
    let shared = sb.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = shared.join("relay-token");
    sb.set_env("AIRELAYS_BEARER_TOKEN_FILE", file.to_str().unwrap());
    let out = sb.run(&["token", "rotate", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&shared), 0o755, "not ours: left alone");
    assert_eq!(mode(&file), 0o600);

    // A directory it has to create is private.
    let fresh = sb.dir.path().join("fresh/sub/relay-token");
    sb.set_env("AIRELAYS_BEARER_TOKEN_FILE", fresh.to_str().unwrap());
    let out = sb.run(&["token", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(fresh.parent().unwrap()), 0o700);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_waits_for_a_refresh_in_flight_and_revokes_the_rotated_token() {
    let env = Sandbox::mocked().await;
    let mock = env.mock().state();
    mock.set_access_token_lifetime(Duration::ZERO);
    let seeded = env.seed(&mock.issue_tokens()).await;
    mock.set_access_token_lifetime(Duration::from_secs(3600));
    // The refresh holds refresh.lock while the issuer takes its time.
    mock.set_refresh_delay(Duration::from_secs(2));
    let session = session(&env);
    let refreshing = tokio::spawn({
        let session = session.clone();
        async move { session.access().await }
    });
    assert!(
        eventually(Duration::from_secs(20), async || mock.refresh_calls() == 1).await,
        "the refresh never started"
    );
    let out = env.output(env.cmd(&["logout", "--json"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    refreshing
        .await
        .unwrap()
        .expect("the refresh in flight completes");
    let revoke = mock.last_request_to("/oauth/revoke").expect("a revocation");
    let revoked = revoke.body["token"].as_str().unwrap();
    assert_ne!(
        revoked,
        seeded.tokens.refresh_token.expose(),
        "logout revoked the set the refresh had already spent"
    );
    assert_eq!(
        env.refresh_tokens_sent(),
        [seeded.tokens.refresh_token.expose()]
    );
    assert!(
        env.store().load().await.unwrap().is_none(),
        "and deleted it"
    );
    assert_eq!(mock.revoke_calls(), 1);
}

fn is_start_url(line: &str) -> bool {
    line.starts_with("http://localhost:") && line.contains("/start/")
}

/// Whether this machine has an IPv6 loopback we can bind.
fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_gets_a_one_time_start_link_and_the_callback_needs_its_cookie() {
    let env = Sandbox::mocked().await;
    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "60"]));
    let start = login.line_where(is_start_url).await;
    let secret = start.rsplit('/').next().unwrap();
    assert_eq!(secret.len(), 32, "128 random bits in hex: {start}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    for word in ["state=", "code_challenge", "oauth"] {
        assert!(
            !start.contains(word),
            "no OAuth secret in the link: {start}"
        );
    }

    // The first request sets the cookie and redirects to the issuer.
    let client = browser();
    let response = client.get(&start).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let authorize = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        authorize.starts_with(&env.mock().issuer_url()),
        "{authorize}"
    );
    assert!(authorize.contains("state=") && authorize.contains("code_challenge="));
    let callback = client.get(&authorize).send().await.unwrap();
    let callback = callback.headers()["location"].to_str().unwrap().to_string();

    // Without the cookie (another local user who learnt the callback) it is refused
    // and the login keeps waiting.
    let refused = client.get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("no sign-in cookie"));
    assert_eq!(env.mock().state().code_exchange_calls(), 0);

    // With it, over IPv6 loopback where the system has one.
    let mut target = url::Url::parse(&callback).unwrap();
    if has_ipv6_loopback() {
        target.set_host(Some("[::1]")).unwrap();
    } else {
        eprintln!("no IPv6 loopback here: the callback is tried on 127.0.0.1 only");
    }
    let ok = client
        .get(target.as_str())
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(env.mock().state().code_exchange_calls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_request_to_the_start_link_aborts_the_login() {
    let env = Sandbox::mocked().await;
    let mut login = RunningLogin::spawn(env.cmd(&["login", "--no-browser", "--timeout", "60"]));
    let start = login.line_where(is_start_url).await;
    let client = browser();
    // Whoever comes first (here: the intruder) gets the redirect …
    let first = client.get(&start).send().await.unwrap();
    assert_eq!(first.status(), 302);
    // … and the second request (the real browser) aborts the whole login.
    let second = client.get(&start).send().await.unwrap();
    assert_eq!(second.status(), 409);
    assert!(
        second
            .text()
            .await
            .unwrap()
            .contains("opened a second time")
    );
    let (code, _, stderr) = login.finish().await;
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "error: another process tried to join this sign-in (its one-time link was opened twice), so it was aborted — run `airelays login` again"
    );
    assert_eq!(env.mock().state().code_exchange_calls(), 0);
    assert!(!env.paths().auth_file().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_ipv6_loopback_port_is_a_busy_port() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let env = Sandbox::mocked().await;
    // Only ::1 is taken; 127.0.0.1 is free on that port.
    let holder = std::net::TcpListener::bind("[::1]:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        eprintln!("skipped: port {port} is also taken on 127.0.0.1");
        return;
    }
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
async fn login_says_so_before_replacing_another_accounts_login() {
    let env = Sandbox::mocked().await;
    let mock = env.mock().state();
    env.seed(&mock.issue_tokens()).await;
    mock.set_account(Some(airelays_mock::MockAccount {
        email: "other@example.com".into(),
        plan: "pro".into(),
        account_id: "99999999-8888-7777-6666-555555555555".into(),
        user_id: "user-other".into(),
    }));
    let out = env.output(env.cmd(&["login", "--device"])).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let note = lines
        .iter()
        .position(|l| {
            *l == "Note: this sign-in is for another account: other@example.com (account 99999999-8888-7777-6666-555555555555) replaces the stored login of user@example.com (account 11111111-2222-3333-4444-555555555555)."
        })
        .unwrap_or_else(|| panic!("no account-change line: {stdout}"));
    let signed_in = lines
        .iter()
        .position(|l| l.starts_with("Signed in to ChatGPT as other@example.com"))
        .unwrap();
    assert!(note < signed_in, "said before replacing: {stdout}");
    assert_eq!(
        env.status_json().await["upstream"]["email"],
        "other@example.com"
    );

    // The same account again: no note.
    let out = env.output(env.cmd(&["login", "--device"])).await;
    assert!(out.status.success());
    assert!(
        !text(&out.stdout).contains("another account"),
        "{}",
        text(&out.stdout)
    );
}

/// A keychain in memory whose saves fail while `failing` is set (the store's test hook).
#[derive(Default)]
struct FlakyKeychain {
    entries: std::sync::Mutex<std::collections::HashMap<String, String>>,
    failing: std::sync::atomic::AtomicBool,
}

impl airelays::auth::SecretBackend for FlakyKeychain {
    fn set(&self, user: &str, secret: &str) -> Result<(), airelays::auth::KeychainError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(airelays::auth::KeychainError {
                unusable: false,
                message: "the keyring refused the write".into(),
            });
        }
        let mut entries = self.entries.lock().unwrap();
        entries.insert(user.into(), secret.into());
        Ok(())
    }
    fn get(&self, user: &str) -> Result<Option<String>, airelays::auth::KeychainError> {
        Ok(self.entries.lock().unwrap().get(user).cloned())
    }
    fn delete(&self, user: &str) -> Result<(), airelays::auth::KeychainError> {
        self.entries.lock().unwrap().remove(user);
        Ok(())
    }
}

/// A session on a flaky keychain holding a seeded set whose access token has expired.
async fn flaky_session(
    env: &Sandbox,
    preference: airelays::config::CredentialStoreKind,
) -> (
    CredentialSession,
    std::sync::Arc<FlakyKeychain>,
    airelays::auth::Credentials,
) {
    use airelays::auth::{CredentialStore, StoreKind};
    let mock = env.mock().state();
    mock.set_access_token_lifetime(Duration::ZERO);
    let seeded = credentials_of(&mock.issue_tokens());
    mock.set_access_token_lifetime(Duration::from_secs(3600));
    let backend = std::sync::Arc::new(FlakyKeychain::default());
    let store = CredentialStore::with_backend(env.paths().clone(), preference, backend.clone());
    store.save(&seeded, StoreKind::Keychain).await.unwrap();
    let mut config = env.config();
    config.auth.credential_store = preference;
    let http = airelays::http::client(&config.upstream).unwrap();
    let session =
        CredentialSession::with_backend(env.paths().clone(), config, http, backend.clone());
    backend
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    (session, backend, seeded)
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_keeps_a_rotated_set_in_the_file_while_the_keychain_fails_then_moves_it_back() {
    let env = Sandbox::mocked().await;
    let (session, backend, seeded) =
        flaky_session(&env, airelays::config::CredentialStoreKind::Auto).await;
    let access = session.access().await.expect("auto falls back to the file");
    let auth = env.paths().auth_file();
    assert_eq!(mode(&auth), 0o600);
    let copy = env.store().load().await.unwrap().unwrap().credentials;
    assert_eq!(copy.tokens.access_token.expose(), &*access.access_token);
    assert_ne!(copy.tokens.refresh_token, seeded.tokens.refresh_token);
    let status = session.status();
    assert_eq!(status.credential_store.as_deref(), Some("file"));
    let why = status
        .credential_save_error
        .expect("status shows the failing save");
    assert!(why.contains("the keyring refused the write"), "{why}");
    assert!(!why.contains(copy.tokens.refresh_token.expose()));

    // A restart while the keychain still fails goes on from the file copy.
    drop(session);
    let mut config = env.config();
    config.auth.credential_store = airelays::config::CredentialStoreKind::Auto;
    let http = airelays::http::client(&config.upstream).unwrap();
    let session =
        CredentialSession::with_backend(env.paths().clone(), config, http, backend.clone());
    let again = session
        .access()
        .await
        .expect("the file copy is used after a restart");
    assert_eq!(again, access, "no refresh needed");
    assert_eq!(session.status().credential_store.as_deref(), Some("file"));
    assert!(session.status().credential_save_error.is_some());

    // The keychain works again: the background retry saves there and deletes the copy.
    backend
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(30), async || !auth.exists()).await,
        "the fallback copy was never deleted"
    );
    assert!(
        eventually(Duration::from_secs(5), async || session
            .status()
            .credential_save_error
            .is_none())
        .await
    );
    assert_eq!(
        session.status().credential_store.as_deref(),
        Some("keychain")
    );
    let store = airelays::auth::CredentialStore::with_backend(
        env.paths().clone(),
        airelays::config::CredentialStoreKind::Auto,
        backend.clone(),
    );
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.kind, airelays::auth::StoreKind::Keychain);
    assert_eq!(stored.credentials.tokens, copy.tokens);
    assert_eq!(env.mock().state().refresh_calls(), 1);
    env.assert_no_refresh_token_reused();
}

#[tokio::test(flavor = "multi_thread")]
async fn keychain_never_writes_the_file_and_retries_the_save_in_the_background() {
    let env = Sandbox::mocked().await;
    let (session, backend, _) =
        flaky_session(&env, airelays::config::CredentialStoreKind::Keychain).await;
    let err = session.access().await.unwrap_err();
    assert_eq!(err.code(), "upstream_auth_refresh_failed");
    assert_eq!(err.status(), 503);
    assert!(!env.paths().auth_file().exists(), "never the file");
    let status = session.status();
    let why = status.credential_save_error.expect("shown in status");
    assert!(why.contains("retries in the background"), "{why}");
    assert_eq!(status.detail.as_deref(), Some(why.as_str()));
    assert_eq!(status.credential_store.as_deref(), Some("keychain"));
    // The unsaved set is not handed out, and its spent refresh token is not sent again.
    assert!(session.access().await.is_err());
    assert_eq!(env.mock().state().refresh_calls(), 1);

    backend
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(30), async || session
            .status()
            .credential_save_error
            .is_none())
        .await,
        "the background retry never saved"
    );
    let access = session.access().await.expect("usable once saved");
    let store = airelays::auth::CredentialStore::with_backend(
        env.paths().clone(),
        airelays::config::CredentialStoreKind::Keychain,
        backend.clone(),
    );
    let stored = store.load().await.unwrap().unwrap().credentials;
    assert_eq!(stored.tokens.access_token.expose(), &*access.access_token);
    assert!(!env.paths().auth_file().exists());
    assert_eq!(env.mock().state().refresh_calls(), 1);
    env.assert_no_refresh_token_reused();
}
