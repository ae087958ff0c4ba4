//! The mock OAuth issuer: authorize + PKCE, refresh rotation and its knobs, revoke, device flow.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use airelays_mock::{CLIENT_ID, MockUpstream, RefreshFailure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const VERIFIER: &str =
    "a-verifier-that-is-long-enough-to-be-realistic-0123456789abcdefghijklmnopqrstuv";
const REDIRECT: &str = "http://localhost:54321/auth/callback";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorize_path(overrides: &[(&str, Option<&str>)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some(CLIENT_ID)),
        ("redirect_uri", Some(REDIRECT)),
        ("scope", Some("openid profile email offline_access")),
        ("code_challenge", Some(&challenge)),
        ("code_challenge_method", Some("S256")),
        ("id_token_add_organizations", Some("true")),
        ("codex_cli_simplified_flow", Some("true")),
        ("state", Some("st4te")),
        ("originator", Some("codex_cli_rs")),
    ];
    for (key, value) in overrides {
        if let Some(slot) = params.iter_mut().find(|(k, _)| k == key) {
            slot.1 = *value;
        }
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().filter_map(|(k, v)| v.map(|v| (*k, v))))
        .finish();
    format!("/oauth/authorize?{query}")
}

fn location_params(response: &HttpResponse) -> (String, HashMap<String, String>) {
    assert_eq!(response.status, 302, "{}", response.text());
    let location = url::Url::parse(response.header("location").unwrap()).unwrap();
    let params = location.query_pairs().into_owned().collect();
    let base = format!(
        "{}://{}:{}{}",
        location.scheme(),
        location.host_str().unwrap(),
        location.port().unwrap(),
        location.path()
    );
    (base, params)
}

async fn authorize_code(mock: &MockUpstream) -> String {
    let response = get(mock, &authorize_path(&[]), &[]).await;
    let (_, params) = location_params(&response);
    params["code"].clone()
}

async fn exchange(mock: &MockUpstream, code: &str, verifier: &str, redirect: &str) -> HttpResponse {
    post_form(
        mock,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier),
        ],
    )
    .await
}

fn jwt_payload(jwt: &str) -> Value {
    let middle = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(middle).unwrap()).unwrap()
}

async fn refresh_json(mock: &MockUpstream, refresh_token: &str) -> HttpResponse {
    post_json(
        mock,
        "/oauth/token",
        &[],
        &json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token}),
    )
    .await
}

#[tokio::test]
async fn authorize_redirects_back_with_a_code_and_the_same_state() {
    let mock = start().await;
    let response = get(&mock, &authorize_path(&[]), &[]).await;
    let (base, params) = location_params(&response);
    assert_eq!(base, REDIRECT);
    assert_eq!(params["state"], "st4te");
    assert!(!params["code"].is_empty());
}

#[tokio::test]
async fn authorize_rejects_invalid_requests_with_400() {
    let mock = start().await;
    let cases: [(&str, Option<&str>); 9] = [
        ("response_type", Some("token")),
        ("client_id", Some("app_other")),
        ("redirect_uri", Some("http://127.0.0.1:1455/auth/callback")),
        ("redirect_uri", Some("https://localhost:1455/auth/callback")),
        ("redirect_uri", Some("http://localhost/auth/callback")),
        ("redirect_uri", Some("http://localhost:1455/other")),
        ("code_challenge_method", Some("plain")),
        ("code_challenge", None),
        ("state", None),
    ];
    for (key, value) in cases {
        let response = get(&mock, &authorize_path(&[(key, value)]), &[]).await;
        assert_eq!(response.status, 400, "{key}={value:?}");
        assert!(
            response.text().starts_with("Invalid authorize request"),
            "{}",
            response.text()
        );
    }
}

#[tokio::test]
async fn authorize_error_knob_redirects_with_the_error() {
    let mock = start().await;
    mock.state()
        .set_authorize_error(Some("access_denied".into()));
    let (base, params) = location_params(&get(&mock, &authorize_path(&[]), &[]).await);
    assert_eq!(base, REDIRECT);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["error_description"], "missing_codex_entitlement");
    assert_eq!(params["state"], "st4te");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn code_exchange_with_the_right_verifier_returns_working_tokens() {
    let mock = start().await;
    let code = authorize_code(&mock).await;
    let response = exchange(&mock, &code, VERIFIER, REDIRECT).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let tokens = response.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 864_000);
    assert!(tokens["scope"].is_string());
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let id = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "user@example.com");
    assert_eq!(
        id["https://api.openai.com/auth"]["chatgpt_account_id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        id["https://api.openai.com/auth"]["chatgpt_plan_type"],
        "plus"
    );
    assert_eq!(
        id["https://api.openai.com/auth"]["chatgpt_user_id"],
        "user-abc"
    );
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jwt_payload(access);
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    assert_eq!(claims["https://api.openai.com/auth"]["user_id"], "user-abc");
    assert_eq!(mock.state().code_exchange_calls(), 1);

    let bearer = format!("Bearer {access}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "11111111-2222-3333-4444-555555555555"),
    ];
    assert_eq!(
        get(&mock, "/backend-api/wham/usage", &headers).await.status,
        200
    );

    let recorded = mock.state().last_request_to("/oauth/token").unwrap();
    assert_eq!(recorded.body["grant_type"], "authorization_code");
    assert_eq!(
        recorded.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn code_exchange_rejects_a_bad_verifier_and_consumes_the_code() {
    let mock = start().await;
    let code = authorize_code(&mock).await;
    let bad = exchange(&mock, &code, "the-wrong-verifier", REDIRECT).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_grant");
    assert!(
        bad.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );
    let retry = exchange(&mock, &code, VERIFIER, REDIRECT).await;
    assert_eq!(retry.status, 400);
    assert_eq!(retry.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_the_redirect_uri() {
    let mock = start().await;
    let code = authorize_code(&mock).await;
    assert_eq!(exchange(&mock, &code, VERIFIER, REDIRECT).await.status, 200);
    let again = exchange(&mock, &code, VERIFIER, REDIRECT).await;
    assert_eq!(
        (again.status, again.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );

    let code = authorize_code(&mock).await;
    let other = exchange(
        &mock,
        &code,
        VERIFIER,
        "http://localhost:1455/auth/callback",
    )
    .await;
    assert_eq!(other.status, 400);
    assert!(
        other.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );

    let unknown = exchange(&mock, "ac_never_issued", VERIFIER, REDIRECT).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(mock.state().code_exchange_calls(), 4);
}

#[tokio::test]
async fn refresh_rotates_every_token_and_detects_reuse() {
    let mock = start().await;
    let first = mock.state().issue_tokens();
    let rotated = refresh_json(&mock, &first.refresh_token).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let rotated = rotated.json();
    for key in ["id_token", "access_token", "refresh_token"] {
        assert!(rotated[key].is_string(), "{key}");
    }
    assert_ne!(rotated["refresh_token"], first.refresh_token.as_str());
    assert_ne!(rotated["access_token"], first.access_token.as_str());

    let reused = refresh_json(&mock, &first.refresh_token).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["error"]["code"], "refresh_token_reused");
    assert!(reused.json()["error"]["message"].is_string());

    // Form body with a scope (ChatMock/codex-lb style) works with the rotated token.
    let form = post_form(
        &mock,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
            ("scope", "openid profile email"),
        ],
    )
    .await;
    assert_eq!(form.status, 200, "{}", form.text());

    let unknown = refresh_json(&mock, "rt_never_issued").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["error"]["code"], "refresh_token_invalidated");
    assert_eq!(mock.state().refresh_calls(), 4);
}

#[tokio::test]
async fn refresh_requires_a_client_id() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = post_json(
        &mock,
        "/oauth/token",
        &[],
        &json!({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}),
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "invalid_request");
}

#[tokio::test]
async fn refresh_failure_knobs() {
    let mock = start().await;
    let state = mock.state();
    let tokens = state.issue_tokens();
    for (failure, code) in [
        (RefreshFailure::Expired, "refresh_token_expired"),
        (RefreshFailure::Reused, "refresh_token_reused"),
        (RefreshFailure::Invalidated, "refresh_token_invalidated"),
    ] {
        state.set_refresh_failure(Some(failure));
        for _ in 0..2 {
            let response = refresh_json(&mock, &tokens.refresh_token).await;
            assert_eq!(response.status, 401);
            assert_eq!(response.json()["error"]["code"], code);
        }
    }
    state.set_refresh_failure(Some(RefreshFailure::Transient500 { times: 2 }));
    for _ in 0..2 {
        let response = refresh_json(&mock, &tokens.refresh_token).await;
        assert_eq!(response.status, 500);
        assert_eq!(response.json(), json!({"error": "temporary-failure"}));
    }
    // The knob cleared itself, and the token was never consumed by the failed calls.
    assert_eq!(refresh_json(&mock, &tokens.refresh_token).await.status, 200);
    assert_eq!(state.refresh_calls(), 9);
}

#[tokio::test]
async fn refresh_delay_holds_concurrent_callers_and_only_one_rotation_wins() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    mock.state().set_refresh_delay(Duration::from_millis(50));
    let body = json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": tokens.refresh_token}).to_string();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (addr, body) = (mock.addr(), body.clone());
        callers.spawn(async move {
            let headers = [("content-type", "application/json")];
            send(addr, "POST", "/oauth/token", &headers, body.as_bytes())
                .await
                .unwrap()
                .status
        });
    }
    let statuses = callers.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(mock.state().refresh_calls(), 5);
}

#[tokio::test]
async fn token_exchange_returns_an_api_key() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = post_form(
        &mock,
        "/oauth/token",
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", CLIENT_ID),
            ("requested_token", "openai-api-key"),
            ("subject_token", &tokens.id_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ],
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"access_token": "sk-mock"}));
}

#[tokio::test]
async fn revoke_makes_the_refresh_token_unusable() {
    let mock = start().await;
    let tokens = mock.state().issue_tokens();
    let response = post_json(
        &mock,
        "/oauth/revoke",
        &[],
        &json!({"token": tokens.refresh_token, "token_type_hint": "refresh_token", "client_id": CLIENT_ID}),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({}));
    assert_eq!(mock.state().revoke_calls(), 1);
    let refresh = refresh_json(&mock, &tokens.refresh_token).await;
    assert_eq!(refresh.status, 401);
    assert_eq!(refresh.json()["error"]["code"], "refresh_token_invalidated");
}

async fn usercode(mock: &MockUpstream) -> HttpResponse {
    post_json(
        mock,
        "/api/accounts/deviceauth/usercode",
        &[],
        &json!({"client_id": CLIENT_ID}),
    )
    .await
}

async fn poll(mock: &MockUpstream, device: &Value) -> HttpResponse {
    post_json(
        mock,
        "/api/accounts/deviceauth/token",
        &[],
        &json!({"device_auth_id": device["device_auth_id"], "user_code": device["user_code"]}),
    )
    .await
}

#[tokio::test]
async fn device_flow_is_pending_then_yields_a_code_for_the_device_callback() {
    let mock = start().await;
    mock.state().set_device_pending_polls(3);
    let device = usercode(&mock).await;
    assert_eq!(device.status, 200);
    let device = device.json();
    assert_eq!(
        device["interval"],
        json!("0"),
        "interval must be a JSON string"
    );
    let user_code = device["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 10);
    assert_eq!(&user_code[4..5], "-");

    let pending: Vec<u16> = [
        poll(&mock, &device).await,
        poll(&mock, &device).await,
        poll(&mock, &device).await,
    ]
    .iter()
    .map(|r| r.status)
    .collect();
    assert_eq!(pending, [403, 404, 403]);

    let approved = poll(&mock, &device).await;
    assert_eq!(approved.status, 200);
    let approved = approved.json();
    let verifier = approved["code_verifier"].as_str().unwrap();
    assert_eq!(approved["code_challenge"], challenge(verifier));

    let callback = format!("{}/deviceauth/callback", mock.issuer_url());
    let code = approved["authorization_code"].as_str().unwrap();
    let wrong = exchange(&mock, code, verifier, REDIRECT).await;
    assert_eq!(
        wrong.status, 400,
        "the device code is bound to the device callback"
    );

    let device = usercode(&mock).await.json();
    for _ in 0..3 {
        assert_eq!(poll(&mock, &device).await.status / 100, 4);
    }
    let approved = poll(&mock, &device).await.json();
    let tokens = exchange(
        &mock,
        approved["authorization_code"].as_str().unwrap(),
        approved["code_verifier"].as_str().unwrap(),
        &callback,
    )
    .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    assert!(
        tokens.json()["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("rt_")
    );
    assert_eq!(mock.state().device_usercode_calls(), 2);
    assert_eq!(mock.state().device_token_polls(), 8);
}

#[tokio::test]
async fn device_flow_knobs() {
    let mock = start().await;
    let state = mock.state();
    state.set_device_interval("5");
    assert_eq!(usercode(&mock).await.json()["interval"], json!("5"));

    state.set_device_never_approve(true);
    state.set_device_pending_polls(0);
    let device = usercode(&mock).await.json();
    for _ in 0..4 {
        assert!(matches!(poll(&mock, &device).await.status, 403 | 404));
    }
    state.set_device_never_approve(false);
    assert_eq!(poll(&mock, &device).await.status, 200);

    let unknown = poll(
        &mock,
        &json!({"device_auth_id": "nope", "user_code": "ABCD-12345"}),
    )
    .await;
    assert_eq!(unknown.status, 400);

    state.set_device_enabled(false);
    assert_eq!(usercode(&mock).await.status, 404);
}

#[tokio::test]
async fn device_page_is_html() {
    let mock = start().await;
    let page = get(&mock, "/codex/device", &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().contains("<html>"));
}
