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
