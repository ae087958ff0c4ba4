//! The issuer knobs the sign-in edge tests use: refresh without rotation, and tokens for
//! another account.

mod common;

use airelays_mock::{CLIENT_ID, MockAccount, MockUpstream};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};

async fn refresh(mock: &MockUpstream, refresh_token: &str) -> HttpResponse {
    post_json(
        mock,
        "/oauth/token",
        &[],
        &json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token}),
    )
    .await
}

fn claims(jwt: &str) -> Value {
    let middle = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(middle).unwrap()).unwrap()
}

#[tokio::test]
async fn refresh_without_rotation_omits_the_refresh_token_and_keeps_it_valid() {
    let mock = start().await;
    let first = mock.state().issue_tokens();
    mock.state().set_refresh_rotation(false);
    for _ in 0..3 {
        let answer = refresh(&mock, &first.refresh_token).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let body = answer.json();
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert!(body["access_token"].is_string() && body["id_token"].is_string());
        assert_ne!(body["access_token"], first.access_token.as_str());
    }
    // Rotation back on: the same token is spent once, then it is reused.
    mock.state().set_refresh_rotation(true);
    let rotated = refresh(&mock, &first.refresh_token).await;
    assert_eq!(rotated.status, 200);
    assert!(rotated.json()["refresh_token"].is_string());
    let reused = refresh(&mock, &first.refresh_token).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["error"]["code"], "refresh_token_reused");
    // A reset restores rotation.
    mock.state().set_refresh_rotation(false);
    mock.state().reset();
    let fresh = mock.state().issue_tokens();
    assert!(refresh(&mock, &fresh.refresh_token).await.json()["refresh_token"].is_string());
}

#[tokio::test]
async fn set_account_mints_tokens_for_another_account_until_cleared() {
    let mock = start().await;
    let other = MockAccount {
        email: "other@example.com".into(),
        plan: "pro".into(),
        account_id: "acc-other".into(),
        user_id: "user-other".into(),
    };
    mock.state().set_account(Some(other));
    let tokens = mock.state().issue_tokens();
    assert_eq!(tokens.account_id, "acc-other");
    let id = claims(&tokens.id_token);
    assert_eq!(id["email"], "other@example.com");
    assert_eq!(
        id["https://api.openai.com/auth"]["chatgpt_plan_type"],
        "pro"
    );
    mock.state().set_account(None);
    let back = mock.state().issue_tokens();
    assert_eq!(claims(&back.id_token)["email"], "user@example.com");
}
