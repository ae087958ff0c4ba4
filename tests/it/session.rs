//! The credential session the relay uses: single-flight refresh across tasks and
//! processes, permanent and transient failures, reactive refresh, and the watcher.

use std::sync::Arc;
use std::time::Duration;

use crate::harness::login::*;
use crate::harness::*;
use airelays::auth::{Access, CredentialSession, SessionError, StoreKind};
use airelays_mock::RefreshFailure;
use sha2::{Digest, Sha256};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn session(env: &Sandbox) -> CredentialSession {
    let config = env.config();
    let http = airelays::http::client(&config.upstream).unwrap();
    CredentialSession::new(env.paths(), config, http)
}

/// Seeds the store with a set whose access token has already expired; tokens the
/// mock issues afterwards live a day.
async fn seed_expired(env: &Sandbox) -> airelays::auth::Credentials {
    env.mock().state().set_access_token_lifetime(Duration::ZERO);
    let issued = env.mock().state().issue_tokens();
    env.mock().state().set_access_token_lifetime(DAY);
    env.seed(&issued).await
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the mock backend accepts this access token.
async fn backend_accepts(env: &Sandbox, access: &Access) -> bool {
    let response = browser()
        .get(format!(
            "{}/models?client_version=0.169.0",
            env.mock().backend_url()
        ))
        .header("authorization", format!("Bearer {}", access.access_token))
        .header("chatgpt-account-id", &access.account_id)
        .send()
        .await
        .unwrap();
    response.status().is_success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_cause_exactly_one_refresh() {
    let env = Sandbox::mocked().await;
    let seeded = seed_expired(&env).await;
    env.mock()
        .state()
        .set_refresh_delay(Duration::from_millis(300));
    let session = session(&env);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let s = session.clone();
        tasks.spawn(async move { s.access().await });
    }
    let mut tokens = Vec::new();
    while let Some(result) = tasks.join_next().await {
        tokens.push(result.unwrap().expect("every caller gets a token"));
    }
    assert_eq!(env.mock().state().refresh_calls(), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_ne!(
        &*tokens[0].access_token,
        seeded.tokens.access_token.expose()
    );
    assert_eq!(tokens[0].account_id, "11111111-2222-3333-4444-555555555555");
    assert!(backend_accepts(&env, &tokens[0]).await);

    // The rotated set was persisted, and status reports it.
    let stored = env.store().load().await.unwrap().unwrap();
    assert_eq!(
        stored.credentials.tokens.access_token.expose(),
        &*tokens[0].access_token
    );
    assert_ne!(
        stored.credentials.tokens.refresh_token,
        seeded.tokens.refresh_token
    );
    assert_eq!(session.status().state, "ready");
    assert_eq!(env.status_json().await["upstream"]["state"], "ready");

    // A fresh token needs no refresh.
    session.access().await.unwrap();
    assert_eq!(env.mock().state().refresh_calls(), 1);
    env.assert_no_refresh_token_reused();
}

/// Child half of `two_processes_refresh_once`: refreshes the data dir it is given.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "helper run by two_processes_refresh_once in a child process"]
async fn helper_child_refresh() {
    let (Ok(data_dir), Ok(issuer)) = (
        std::env::var("AIRELAYS_TEST_CHILD_DATA_DIR"),
        std::env::var("AIRELAYS_TEST_CHILD_ISSUER"),
    ) else {
        return;
    };
    let paths = airelays::config::Paths {
        config_file: std::path::PathBuf::from(&data_dir).join("config.toml"),
        data_dir: data_dir.into(),
    };
    let mut config = airelays::config::Config::defaults(&paths);
    config.upstream.issuer_base_url = issuer;
    config.auth.credential_store = airelays::config::CredentialStoreKind::File;
    let http = airelays::http::client(&config.upstream).unwrap();
    let session = CredentialSession::new(paths, config, http);
    let access = session.access().await.expect("child refresh");
    println!("CHILD_TOKEN_SHA256={}", digest(&access.access_token));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_refresh_once() {
    let env = Sandbox::mocked().await;
    seed_expired(&env).await;
    env.mock()
        .state()
        .set_refresh_delay(Duration::from_millis(500));
    let exe = std::env::current_exe().unwrap();
    let spawn = || {
        std::process::Command::new(&exe)
            .args([
                // The full name in the `it` binary: module path, then the function.
                "session::helper_child_refresh",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AIRELAYS_TEST_CHILD_DATA_DIR", &env.paths().data_dir)
            .env("AIRELAYS_TEST_CHILD_ISSUER", env.mock().issuer_url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(), spawn()];
    let mut digests = Vec::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("CHILD_TOKEN_SHA256=").map(|(_, d)| d.trim()))
            .unwrap_or_else(|| panic!("no token line in {stdout}"))
            .to_string();
        digests.push(line);
    }
    assert_eq!(env.mock().state().refresh_calls(), 1);
    assert_eq!(
        digests[0], digests[1],
        "both processes use the same new token"
    );
    let stored = env.store().load().await.unwrap().unwrap();
    assert_eq!(
        digest(stored.credentials.tokens.access_token.expose()),
        digests[0]
    );
    let access = session(&env).access().await.unwrap();
    assert!(backend_accepts(&env, &access).await);
    env.assert_no_refresh_token_reused();
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_refresh_failure_needs_a_new_login_everywhere() {
    let env = Sandbox::mocked().await;
    seed_expired(&env).await;
    env.mock()
        .state()
        .set_refresh_failure(Some(RefreshFailure::Expired));
    let session = session(&env);
    let err = session.access().await.unwrap_err();
    match &err {
        SessionError::RefreshFailed {
            permanent: true,
            message,
            retry_after_secs: None,
        } => {
            assert!(message.contains("refresh token has expired"), "{message}");
            assert!(message.contains("Run `airelays login`"), "{message}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert_eq!(err.code(), "upstream_auth_refresh_failed");
    assert_eq!(err.retry_after_secs(), None);

    // Not retried until the stored credentials change.
    assert!(session.access().await.is_err());
    assert_eq!(env.mock().state().refresh_calls(), 1);
    assert_eq!(session.status().state, "refresh_failed");

    // Another process (the status command) sees it too.
    let status = env.status_json().await;
    assert_eq!(status["upstream"]["state"], "refresh_failed");
    assert!(
        status["upstream"]["detail"]
            .as_str()
            .unwrap()
            .contains("airelays login")
    );
    assert_eq!(status["ready"], false);
    assert!(
        status["next_steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "airelays login")
    );

    // A fresh session in another process does not spend the token again either.
    let again = self::session(&env);
    assert!(matches!(
        again.access().await,
        Err(SessionError::RefreshFailed {
            permanent: true,
            ..
        })
    ));
    assert_eq!(env.mock().state().refresh_calls(), 1);

    // A new login (from another terminal) heals it.
    env.mock().state().set_refresh_failure(None);
    let issued = env.mock().state().issue_tokens();
    env.seed(&issued).await;
    session.reload().await.unwrap();
    let access = session.access().await.unwrap();
    assert_eq!(&*access.access_token, issued.access_token.as_str());
    assert_eq!(session.status().state, "ready");
    assert_eq!(env.status_json().await["upstream"]["state"], "ready");
    env.assert_no_refresh_token_reused();
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_refresh_failure_is_retried_on_the_next_request() {
    let env = Sandbox::mocked().await;
    seed_expired(&env).await;
    env.mock()
        .state()
        .set_refresh_failure(Some(RefreshFailure::Transient500 { times: 1 }));
    let session = session(&env);
    let err = session.access().await.unwrap_err();
    assert!(
        matches!(
            &err,
            SessionError::RefreshFailed {
                permanent: false,
                retry_after_secs: Some(30),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("500"), "{err}");
    assert_eq!(err.retry_after_secs(), Some(30));
    assert_eq!(session.status().state, "refresh_needed");
    assert_eq!(
        env.status_json().await["upstream"]["state"],
        "refresh_needed"
    );

    let access = session
        .access()
        .await
        .expect("recovers on the next request");
    assert!(backend_accepts(&env, &access).await);
    assert_eq!(env.mock().state().refresh_calls(), 2);
    assert_eq!(session.status().state, "ready");
    // The 500 did not spend the token, so the retry sends it again; the token that
    // got the 2xx is never sent again.
    let sent = env.refresh_tokens_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
    session.access().await.unwrap();
    assert_eq!(env.refresh_tokens_sent().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_reloads_then_refreshes_once() {
    let env = Sandbox::mocked().await;
    env.mock().state().set_access_token_lifetime(DAY);
    let issued = env.mock().state().issue_tokens();
    env.seed(&issued).await;
    let session = session(&env);
    let first = session.access().await.unwrap();
    assert_eq!(env.mock().state().refresh_calls(), 0);

    // Another process already refreshed: the store holds a different token, use it.
    let newer = env.mock().state().issue_tokens();
    env.seed(&newer).await;
    let adopted = session.after_unauthorized(&first).await.unwrap();
    assert_eq!(&*adopted.access_token, newer.access_token.as_str());
    assert_eq!(env.mock().state().refresh_calls(), 0);

    // The upstream rejects every token: ten concurrent 401s, one refresh.
    env.mock().state().revoke_all_access_tokens();
    assert!(!backend_accepts(&env, &adopted).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let s = session.clone();
        let rejected = adopted.clone();
        tasks.spawn(async move { s.after_unauthorized(&rejected).await });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.unwrap().unwrap());
    }
    assert_eq!(env.mock().state().refresh_calls(), 1);
    assert!(results.iter().all(|a| *a == results[0] && *a != adopted));
    assert!(backend_accepts(&env, &results[0]).await);
    env.assert_no_refresh_token_reused();
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_login_is_reported_as_such() {
    let env = Sandbox::mocked().await;
    let session = session(&env);
    let err = session.access().await.unwrap_err();
    assert_eq!(err, SessionError::Missing);
    assert_eq!(err.code(), "upstream_auth_missing");
    assert_eq!(
        err.to_string(),
        "No ChatGPT login found. Run `airelays login`."
    );
    assert_eq!(session.status().state, "missing");
}

#[tokio::test(flavor = "multi_thread")]
async fn watcher_picks_up_logout_and_login_from_another_terminal() {
    let env = Sandbox::mocked().await;
    env.mock().state().set_access_token_lifetime(DAY);
    let issued = env.mock().state().issue_tokens();
    env.seed(&issued).await;
    let session = Arc::new(session(&env));
    session.access().await.unwrap();
    let (_stop, shutdown) = airelays::shutdown::channel();
    let watcher = session.spawn_watcher(shutdown);

    let out = env.output(env.cmd(&["logout"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = Arc::clone(&session);
    assert!(
        eventually(Duration::from_secs(10), async || matches!(
            s.access().await,
            Err(SessionError::Missing)
        ))
        .await,
        "the logout was not picked up"
    );

    let out = env.output(env.cmd(&["login", "--device"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stored = env.store().load().await.unwrap().unwrap();
    assert_eq!(stored.kind, StoreKind::File);
    let expected = stored.credentials.tokens.access_token.expose().to_string();
    let s = Arc::clone(&session);
    assert!(
        eventually(Duration::from_secs(10), async || s
            .access()
            .await
            .is_ok_and(|a| *a.access_token == *expected))
        .await,
        "the new login was not picked up"
    );
    assert_eq!(session.status().email.as_deref(), Some("user@example.com"));
    watcher.abort();
}
