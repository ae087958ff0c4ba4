//! The OAuth issuer (`https://auth.openai.com`): browser authorize + PKCE code exchange,
//! refresh with rotation, token exchange, revoke, and the device-code flow.

use hyper::{Response, StatusCode};
use serde_json::json;

use crate::CLIENT_ID;
use crate::grants::{DevicePoll, pkce_challenge};
use crate::reply::{self, Body};
use crate::server::MockRequest;
use crate::state::{IssuedTokens, MockState, RefreshFailure, bump, lock};
use crate::tokens::RefreshDenied;

const SCOPE: &str = "openid profile email offline_access";

/// `400 {"error":<code>,"error_description":<description>}`, the OAuth error shape.
fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    reply::json(
        status,
        &json!({ "error": code, "error_description": description }),
    )
}

/// `{"error":{"code":…,"message":…}}`, the shape of permanent refresh failures.
fn refresh_error(code: &str, message: &str) -> Response<Body> {
    reply::json(
        StatusCode::UNAUTHORIZED,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

fn token_json(tokens: &IssuedTokens) -> serde_json::Value {
    json!({
        "id_token": tokens.id_token,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
        "token_type": "Bearer",
        "scope": SCOPE,
    })
}

fn token_response(tokens: &IssuedTokens) -> Response<Body> {
    reply::json(StatusCode::OK, &token_json(tokens))
}

/// Whether `uri` is `http://localhost:<port>/auth/callback`. Any port is accepted (tests use
/// ephemeral ones); the real issuer allows only 1455 and 1457.
fn is_allowed_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    url.scheme() == "http"
        && url.host_str() == Some("localhost")
        && url.port().is_some()
        && url.path() == "/auth/callback"
        && url.query().is_none()
        && url.fragment().is_none()
}

/// `GET /oauth/authorize`: validates the PKCE authorization request and redirects back to the
/// client's callback with a code (or with the error chosen by the `authorize_error` knob).
pub(crate) fn authorize(state: &MockState, request: &MockRequest) -> Response<Body> {
    let q = request.query_params();
    let get = |key: &str| q.get(key).map(String::as_str).unwrap_or("");
    let problem = if get("response_type") != "code" {
        Some("response_type must be \"code\"")
    } else if get("client_id") != CLIENT_ID {
        Some("unknown client_id")
    } else if !is_allowed_redirect(get("redirect_uri")) {
        Some("redirect_uri must be http://localhost:<port>/auth/callback")
    } else if get("code_challenge_method") != "S256" {
        Some("code_challenge_method must be S256")
    } else if get("code_challenge").is_empty() {
        Some("code_challenge is required")
    } else if get("state").is_empty() {
        Some("state is required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return reply::text(
            StatusCode::BAD_REQUEST,
            &format!("Invalid authorize request: {problem}"),
        );
    }
    let Ok(mut location) = url::Url::parse(get("redirect_uri")) else {
        return reply::text(
            StatusCode::BAD_REQUEST,
            "Invalid authorize request: bad redirect_uri",
        );
    };
    match state.knobs().authorize_error {
        Some(error) => {
            let description = if error == "access_denied" {
                "missing_codex_entitlement".to_owned()
            } else {
                format!("The mock issuer refused this authorization ({error})")
            };
            location
                .query_pairs_mut()
                .append_pair("error", &error)
                .append_pair("error_description", &description)
                .append_pair("state", get("state"));
        }
        None => {
            let code = lock(&state.grants).new_code(
                get("code_challenge"),
                get("redirect_uri"),
                get("client_id"),
            );
            location
                .query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", get("state"));
        }
    }
    reply::redirect(location.as_str())
}

/// `POST /oauth/token`, dispatching on `grant_type` (JSON or form bodies).
pub(crate) async fn token(state: &MockState, request: &MockRequest) -> Response<Body> {
    let params = request.body_params();
    let get = |key: &str| params.get(key).map(String::as_str).unwrap_or("");
    match get("grant_type") {
        "authorization_code" => exchange_code(state, get),
        "refresh_token" => refresh(state, get("client_id"), get("refresh_token")).await,
        "urn:ietf:params:oauth:grant-type:token-exchange" => {
            if get("subject_token").is_empty() {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "subject_token is required",
                )
            } else {
                reply::json(StatusCode::OK, &json!({ "access_token": "sk-mock" }))
            }
        }
        "" => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

fn exchange_code<'a>(state: &MockState, get: impl Fn(&str) -> &'a str) -> Response<Body> {
    bump(&state.counters.code_exchange);
    let invalid = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let Some(grant) = lock(&state.grants).take_code(get("code")) else {
        return invalid("Invalid authorization code (unknown or already used)");
    };
    if grant.is_expired() {
        return invalid("Authorization code expired");
    }
    if grant.client_id != get("client_id") {
        return invalid("client_id does not match the authorization request");
    }
    if grant.redirect_uri != get("redirect_uri") {
        return invalid("redirect_uri does not match the authorization request");
    }
    if pkce_challenge(get("code_verifier")) != grant.challenge {
        return invalid("code_verifier does not match the code_challenge");
    }
    match state.accounts.login_account() {
        Some(account) => token_response(&state.issue_tokens_for(&account)),
        None => token_response(&state.issue_tokens()),
    }
}

async fn refresh(state: &MockState, client_id: &str, refresh_token: &str) -> Response<Body> {
    bump(&state.counters.refresh);
    let delay = state.knobs().refresh_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if client_id.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is required",
        );
    }
    if client_id != CLIENT_ID {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id",
        );
    }
    let forced = state.with_knobs(|k| match k.refresh_failure.take() {
        Some(RefreshFailure::Transient500 { times }) => {
            if times > 1 {
                k.refresh_failure = Some(RefreshFailure::Transient500 { times: times - 1 });
            }
            (times > 0).then_some(RefreshFailure::Transient500 { times })
        }
        other => {
            k.refresh_failure = other.clone();
            other
        }
    });
    match forced {
        Some(RefreshFailure::Expired) => {
            return refresh_error("refresh_token_expired", "Your refresh token has expired.");
        }
        Some(RefreshFailure::Reused) => {
            return refresh_error(
                "refresh_token_reused",
                "Your refresh token has already been used.",
            );
        }
        Some(RefreshFailure::Invalidated) => {
            return refresh_error(
                "refresh_token_invalidated",
                "Your refresh token has been revoked.",
            );
        }
        Some(RefreshFailure::Transient500 { .. }) => {
            return reply::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": "temporary-failure" }),
            );
        }
        None => {}
    }
    if refresh_token.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    }
    let rotate = state.knobs().refresh_rotation;
    let consumed = if rotate {
        lock(&state.tokens).consume_refresh(refresh_token)
    } else {
        lock(&state.tokens).check_refresh(refresh_token)
    };
    let sticky = lock(&state.tokens).sticky_account(refresh_token);
    if let (Ok(()), Some(account)) = (&consumed, &sticky) {
        state.accounts.count_refresh(&account.account_id);
    }
    let issue = || match &sticky {
        Some(account) => state.issue_tokens_for(account),
        None => state.issue_tokens(),
    };
    match consumed {
        Ok(()) if rotate => token_response(&issue()),
        Ok(()) => {
            // No rotation: new id and access tokens, no `refresh_token` field at all.
            let mut response = token_json(&issue());
            if let Some(obj) = response.as_object_mut() {
                obj.remove("refresh_token");
            }
            reply::json(StatusCode::OK, &response)
        }
        Err(RefreshDenied::Reused) => refresh_error(
            "refresh_token_reused",
            "Your refresh token has already been used to generate a new access token. Please try signing in again.",
        ),
        Err(RefreshDenied::Invalidated) => refresh_error(
            "refresh_token_invalidated",
            "Your refresh token has been invalidated. Please try signing in again.",
        ),
    }
}

/// `POST /oauth/revoke {token, token_type_hint, client_id?}` → `200 {}`.
pub(crate) fn revoke(state: &MockState, request: &MockRequest) -> Response<Body> {
    bump(&state.counters.revoke);
    let params = request.body_params();
    match params.get("token").filter(|t| !t.is_empty()) {
        Some(token) => {
            lock(&state.tokens).revoke(token);
            reply::json(StatusCode::OK, &json!({}))
        }
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        ),
    }
}

/// `POST /api/accounts/deviceauth/usercode {client_id}`.
pub(crate) fn device_usercode(state: &MockState, request: &MockRequest) -> Response<Body> {
    bump(&state.counters.device_usercode);
    let knobs = state.knobs();
    if !knobs.device_enabled {
        return reply::detail(StatusCode::NOT_FOUND, "Not Found");
    }
    if request.body_params().get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id",
        );
    }
    let (device_auth_id, user_code) = lock(&state.grants).new_device(knobs.device_pending_polls);
    reply::json(
        StatusCode::OK,
        &json!({
            "device_auth_id": device_auth_id,
            "user_code": user_code,
            "interval": knobs.device_interval,
        }),
    )
}

/// `POST /api/accounts/deviceauth/token {device_auth_id, user_code}`: 403/404 while pending
/// (alternating, starting with 403), then the authorization code and the server-made PKCE pair.
pub(crate) fn device_token(state: &MockState, request: &MockRequest) -> Response<Body> {
    bump(&state.counters.device_token_polls);
    let params = request.body_params();
    let get = |key: &str| params.get(key).map(String::as_str).unwrap_or("");
    let never_approve = state.knobs().device_never_approve;
    let redirect_uri = format!("{}/deviceauth/callback", state.issuer_url());
    let poll = lock(&state.grants).poll_device(
        get("device_auth_id"),
        get("user_code"),
        never_approve,
        &redirect_uri,
        CLIENT_ID,
    );
    match poll {
        DevicePoll::Pending { nth } => {
            let status = if nth % 2 == 0 {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            };
            oauth_error(
                status,
                "authorization_pending",
                "The user has not approved this device code yet",
            )
        }
        DevicePoll::Approved {
            authorization_code,
            code_challenge,
            code_verifier,
        } => reply::json(
            StatusCode::OK,
            &json!({
                "authorization_code": authorization_code,
                "code_challenge": code_challenge,
                "code_verifier": code_verifier,
            }),
        ),
        DevicePoll::Unknown => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unknown device_auth_id or user_code",
        ),
    }
}

/// `GET /codex/device`: where a user would type the code.
pub(crate) fn device_page() -> Response<Body> {
    reply::html(
        StatusCode::OK,
        "<!doctype html>\n<html><head><title>Mock device sign-in</title></head>\
         <body><h1>Enter your code</h1><p>This mock approves device codes by itself \
         after the configured number of polls.</p></body></html>\n",
    )
}
