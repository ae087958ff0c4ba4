//! Sign-in edge cases (issue 13, item 6 and its smaller points): each one against the mock
//! issuer, with the mock knob or store hook that provokes it.

mod common;

use std::time::Duration;

use airelays::auth::CredentialSession;
use common::signin::*;

/// A session of the library against the mock, as the relay builds it.
fn session(env: &TestEnv) -> CredentialSession {
    let config = env.config();
    let http = airelays::http::client(&config.upstream).unwrap();
    CredentialSession::new(env.paths.clone(), config, http)
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_without_rotation_keeps_the_old_refresh_token() {
    let env = TestEnv::new().await;
    let mock = env.mock.state();
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
fn serve_refused(sb: &common::Sandbox) -> String {
    let out = sb.run(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stdout(&out));
    let err = common::stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!common::stdout(&out).contains("listening"), "never bound");
    err
}

#[test]
fn relay_tokens_shorter_than_32_characters_are_refused_at_start() {
    let mut sb = common::Sandbox::new();
    sb.set_env("AIRELAYS_BEARER_TOKEN", &"e".repeat(31));
    let err = serve_refused(&sb);
    assert!(
        err.starts_with("error: the relay token from AIRELAYS_BEARER_TOKEN is 31 characters; at least 32 are required"),
        "{err}"
    );
    assert!(!err.contains(&"e".repeat(31)), "the token is not shown");

    let sb = common::Sandbox::new();
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
    let mut sb = common::Sandbox::new();
    let shared = sb.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = shared.join("relay-token");
    sb.set_env("AIRELAYS_BEARER_TOKEN_FILE", file.to_str().unwrap());
    let out = sb.run(&["token", "rotate", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::mode(&shared), 0o755, "not ours: left alone");
    assert_eq!(common::mode(&file), 0o600);

    // A directory it has to create is private.
    let fresh = sb.dir.path().join("fresh/sub/relay-token");
    sb.set_env("AIRELAYS_BEARER_TOKEN_FILE", fresh.to_str().unwrap());
    let out = sb.run(&["token", "rotate"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::mode(fresh.parent().unwrap()), 0o700);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_waits_for_a_refresh_in_flight_and_revokes_the_rotated_token() {
    let env = TestEnv::new().await;
    let mock = env.mock.state();
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
    let out = env.run(env.cmd(&["logout", "--json"])).await;
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
