//! HTTP calls to the OAuth issuer (docs/upstream.md, the OAuth part): authorization-code
//! exchange (through `oauth2`, shared by the browser and device flows), refresh,
//! revoke, and the device-code endpoints. Error bodies are read as docs/upstream.md
//! describes the issuer's error shapes.
//!
//! No error produced here ever contains a token: messages carry the HTTP status, the
//! issuer's error code and its human description only.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardRevocableToken, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::credentials::{Secret, TokenUpdate, Tokens};
use crate::config::UpstreamConfig;

/// Scopes of the Codex CLI (docs/upstream.md, the authorize URL).
pub(crate) const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "api.connectors.read",
    "api.connectors.invoke",
];

/// Codes of a 401 refresh answer that mean the refresh token is dead for good.
pub(crate) const PERMANENT_REFRESH_CODES: &[&str] = &[
    "refresh_token_expired",
    "refresh_token_reused",
    "refresh_token_invalidated",
];

/// A failed issuer call.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum IssuerError {
    /// The issuer could not be reached (DNS, connect, TLS, timeout).
    #[error("cannot reach the sign-in server {url}: {reason}")]
    Network { url: String, reason: String },
    /// The issuer answered with an error status.
    #[error("{what} failed: the sign-in server answered {status}{}", detail_suffix(.code, .message))]
    Status {
        what: &'static str,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// The issuer answered 2xx with a body we cannot use.
    #[error("{what} failed: unexpected answer from the sign-in server ({reason})")]
    Malformed { what: &'static str, reason: String },
}

fn detail_suffix(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (_, Some(m)) => format!(": {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, None) => String::new(),
    }
}

impl IssuerError {
    /// Whether a refresh failure is permanent: HTTP 401 with one of
    /// [`PERMANENT_REFRESH_CODES`] (docs/upstream.md, refresh failures).
    pub(crate) fn is_permanent_refresh_failure(&self) -> bool {
        match self {
            IssuerError::Status {
                status: 401,
                code: Some(code),
                ..
            } => PERMANENT_REFRESH_CODES
                .iter()
                .any(|p| p.eq_ignore_ascii_case(code)),
            _ => false,
        }
    }

    /// The issuer's error code, if it gave one.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            IssuerError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// The code and human message of an issuer error body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    /// The issuer's error code.
    pub(crate) code: Option<String>,
    /// The issuer's human message.
    pub(crate) message: Option<String>,
}

/// Reads an error body: the code from `error.code`, `error` (a string) or a top-level
/// `code`; the message from `error_description`, then `error.message`. A short
/// non-JSON body becomes the message.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => parse_error_value(&value),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = (!text.is_empty() && text.len() <= 200 && !text.contains('<'))
                .then(|| text.to_string());
            ErrorBody {
                code: None,
                message,
            }
        }
    }
}

/// [`parse_error_body`] for an already parsed JSON value.
pub(crate) fn parse_error_value(value: &Value) -> ErrorBody {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(300).collect::<String>())
    };
    let error = value.get("error");
    let code = text(error.and_then(|e| e.get("code")))
        .or_else(|| text(error))
        .or_else(|| text(value.get("code")));
    let message = text(value.get("error_description"))
        .or_else(|| text(error.and_then(|e| e.get("message"))))
        .or_else(|| text(value.get("message")))
        .or_else(|| text(value.get("detail")));
    ErrorBody { code, message }
}

/// A device code to show the user (docs/upstream.md, device-code login).
#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    /// The id the polls name.
    pub(crate) device_auth_id: String,
    /// The code the user enters.
    pub(crate) user_code: String,
    /// Seconds between polls (0 allowed).
    pub(crate) interval: u64,
}

/// One device-token poll.
#[derive(Debug)]
pub(crate) enum DevicePoll {
    Pending,
    Approved {
        authorization_code: String,
        code_verifier: String,
    },
}

/// The issuer's error body as oauth2 sees it: any JSON, read by [`parse_error_value`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct IssuerErrorJson(Value);

impl std::fmt::Display for IssuerErrorJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = parse_error_value(&self.0);
        f.write_str(body.message.or(body.code).as_deref().unwrap_or("error"))
    }
}

impl oauth2::ErrorResponse for IssuerErrorJson {}

/// The token endpoint's answer to a code exchange. Unlike oauth2's standard response,
/// `token_type` is optional and `id_token` is required (Codex requires all three tokens).
#[derive(Debug, Serialize, Deserialize)]
struct CodexTokenResponse {
    access_token: AccessToken,
    #[serde(default = "bearer")]
    token_type: BasicTokenType,
    id_token: Secret,
    refresh_token: Option<RefreshToken>,
    expires_in: Option<u64>,
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl oauth2::TokenResponse for CodexTokenResponse {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

type OAuthClient = oauth2::Client<
    IssuerErrorJson,
    CodexTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An authorization request ready to send the user to.
pub(crate) struct AuthorizeRequest {
    /// The authorize URL (holds the state and PKCE challenge).
    pub(crate) url: url::Url,
    /// The random `state`.
    pub(crate) state: CsrfToken,
    /// The PKCE verifier for the code exchange.
    pub(crate) verifier: PkceCodeVerifier,
}

/// The transport error the oauth2 adapter reports (no secrets: reqwest errors name
/// the URL, which carries none for the token endpoint).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

/// Sends one oauth2 request through reqwest, noting the HTTP status in `seen` (oauth2
/// does not report it for error bodies it cannot parse).
async fn send_oauth(
    http: reqwest::Client,
    seen: Arc<Mutex<Option<u16>>>,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TransportError> {
    let request = reqwest::Request::try_from(request)
        .map_err(|e| TransportError(e.without_url().to_string()))?;
    let response = http
        .execute(request)
        .await
        .map_err(|e| TransportError(e.without_url().to_string()))?;
    if let Ok(mut s) = seen.lock() {
        *s = Some(response.status().as_u16());
    }
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| TransportError(e.without_url().to_string()))?;
    builder
        .body(body.to_vec())
        .map_err(|e| TransportError(e.to_string()))
}

/// Talks to one issuer.
#[derive(Clone)]
pub(crate) struct Issuer {
    http: reqwest::Client,
    base: String,
    client_id: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("base", &self.base).finish()
    }
}

impl Issuer {
    /// An issuer client for `config.issuer_base_url`.
    pub(crate) fn new(http: reqwest::Client, config: &UpstreamConfig) -> Issuer {
        Issuer {
            http,
            base: config.issuer_base_url.trim_end_matches('/').to_string(),
            client_id: config.client_id.clone(),
        }
    }

    /// `<issuer>/codex/device`, where the user enters a device code.
    pub(crate) fn device_verification_url(&self) -> String {
        format!("{}/codex/device", self.base)
    }

    /// `<issuer>/deviceauth/callback`, the redirect URI of device-code exchanges.
    pub(crate) fn device_redirect_uri(&self) -> String {
        format!("{}/deviceauth/callback", self.base)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn oauth_client(&self, redirect_uri: &str) -> Result<OAuthClient, IssuerError> {
        let bad = |reason: String| IssuerError::Malformed {
            what: "sign-in setup",
            reason,
        };
        Ok(oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(self.endpoint("/oauth/authorize")).map_err(|e| bad(e.to_string()))?,
            )
            .set_token_uri(
                TokenUrl::new(self.endpoint("/oauth/token")).map_err(|e| bad(e.to_string()))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_string()).map_err(|e| bad(e.to_string()))?,
            ))
    }

    /// Builds the authorize URL with PKCE S256 (64-byte verifier), a 32-byte state and
    /// the parameters docs/upstream.md lists for the authorize URL.
    pub(crate) fn authorize_request(
        &self,
        redirect_uri: &str,
    ) -> Result<AuthorizeRequest, IssuerError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(64);
        let state = CsrfToken::new_random_len(32);
        let state_for_url = state.clone();
        let (url, _) = self
            .oauth_client(redirect_uri)?
            .authorize_url(move || state_for_url)
            .add_scopes(SCOPES.iter().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            .add_extra_param("id_token_add_organizations", "true")
            .add_extra_param("codex_cli_simplified_flow", "true")
            .add_extra_param("originator", crate::http::ORIGINATOR)
            .url();
        Ok(AuthorizeRequest {
            url,
            state,
            verifier,
        })
    }

    /// Exchanges an authorization code (the form body in docs/upstream.md, code exchange).
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, IssuerError> {
        let what = "Token exchange";
        let client = self.oauth_client(redirect_uri)?;
        let status: Arc<Mutex<Option<u16>>> = Arc::default();
        let http = self.http.clone();
        let seen = Arc::clone(&status);
        let send = move |request| send_oauth(http.clone(), Arc::clone(&seen), request);
        let redirect =
            RedirectUrl::new(redirect_uri.to_string()).map_err(|e| IssuerError::Malformed {
                what,
                reason: e.to_string(),
            })?;
        let result = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&send)
            .await;
        let status = status.lock().ok().and_then(|s| *s).unwrap_or(0);
        let response = result.map_err(|e| self.exchange_error(what, status, e))?;
        let refresh = response.refresh_token.ok_or(IssuerError::Malformed {
            what,
            reason: "no refresh_token in the answer".into(),
        })?;
        Ok(Tokens {
            id_token: response.id_token,
            access_token: Secret::new(response.access_token.secret().clone()),
            refresh_token: Secret::new(refresh.secret().clone()),
        })
    }

    /// Reads a failed code exchange: the issuer's error body when it answered with an
    /// error status, else what went wrong on the way.
    fn exchange_error(
        &self,
        what: &'static str,
        status: u16,
        e: RequestTokenError<TransportError, IssuerErrorJson>,
    ) -> IssuerError {
        let failed = !(200..300).contains(&status);
        let from = |parsed: ErrorBody| IssuerError::Status {
            what,
            status,
            code: parsed.code,
            message: parsed.message,
        };
        match e {
            RequestTokenError::ServerResponse(body) => from(parse_error_value(&body.0)),
            RequestTokenError::Parse(_, body) if failed => from(parse_error_body(&body)),
            RequestTokenError::Parse(e, _) => IssuerError::Malformed {
                what,
                reason: format!("missing or invalid field at {}", e.path()),
            },
            RequestTokenError::Request(e) => IssuerError::Network {
                url: self.endpoint("/oauth/token"),
                reason: e.0,
            },
            RequestTokenError::Other(reason) if failed => IssuerError::Status {
                what,
                status,
                code: None,
                message: Some(reason),
            },
            RequestTokenError::Other(reason) => IssuerError::Malformed { what, reason },
        }
    }

    async fn post_json(
        &self,
        path: &str,
        body: &Value,
        timeout: Option<Duration>,
    ) -> Result<(u16, Vec<u8>), IssuerError> {
        let url = self.endpoint(path);
        let mut request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(t) = timeout {
            request = request.timeout(t);
        }
        let network = |e: reqwest::Error| IssuerError::Network {
            url: url.clone(),
            reason: e.without_url().to_string(),
        };
        let response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(network)?;
        Ok((status, bytes.to_vec()))
    }

    fn status_error(what: &'static str, status: u16, body: &[u8]) -> IssuerError {
        let parsed = parse_error_body(body);
        IssuerError::Status {
            what,
            status,
            code: parsed.code,
            message: parsed.message,
        }
    }

    /// Spends a refresh token (the JSON body in docs/upstream.md, token refresh).
    pub(crate) async fn refresh(&self, refresh_token: &Secret) -> Result<TokenUpdate, IssuerError> {
        let what = "Token refresh";
        let body = json!({
            "client_id": self.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose(),
        });
        let (status, bytes) = self
            .post_json("/oauth/token", &body, Some(Duration::from_secs(60)))
            .await?;
        if !(200..300).contains(&status) {
            return Err(Issuer::status_error(what, status, &bytes));
        }
        #[derive(Deserialize)]
        struct Answer {
            id_token: Option<String>,
            access_token: Option<String>,
            refresh_token: Option<String>,
        }
        let answer: Answer =
            serde_json::from_slice(&bytes).map_err(|_| IssuerError::Malformed {
                what,
                reason: "the answer is not the expected JSON object".into(),
            })?;
        let secret = |v: Option<String>| v.filter(|s| !s.is_empty()).map(Secret::new);
        Ok(TokenUpdate {
            id_token: secret(answer.id_token),
            access_token: secret(answer.access_token),
            refresh_token: secret(answer.refresh_token),
        })
    }

    /// Revokes a refresh token (docs/upstream.md, logout), with a 10 s timeout.
    pub(crate) async fn revoke(&self, refresh_token: &Secret) -> Result<(), IssuerError> {
        let what = "Token revocation";
        let body = json!({
            "token": refresh_token.expose(),
            "token_type_hint": "refresh_token",
            "client_id": self.client_id,
        });
        let (status, bytes) = self
            .post_json("/oauth/revoke", &body, Some(Duration::from_secs(10)))
            .await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(Issuer::status_error(what, status, &bytes))
        }
    }

    /// Requests a device code. A 404 means the server has no device-code login.
    pub(crate) async fn device_usercode(&self) -> Result<DeviceCode, IssuerError> {
        let what = "Device-code request";
        let body = json!({ "client_id": self.client_id });
        let (status, bytes) = self
            .post_json(
                "/api/accounts/deviceauth/usercode",
                &body,
                Some(Duration::from_secs(60)),
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(Issuer::status_error(what, status, &bytes));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| IssuerError::Malformed {
            what,
            reason: "the answer is not JSON".into(),
        })?;
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_string())
        };
        let missing = |field: &str| IssuerError::Malformed {
            what,
            reason: format!("no {field} in the answer"),
        };
        Ok(DeviceCode {
            device_auth_id: text("device_auth_id").ok_or_else(|| missing("device_auth_id"))?,
            user_code: text("user_code")
                .or_else(|| text("usercode"))
                .ok_or_else(|| missing("user_code"))?,
            interval: parse_interval(value.get("interval")).unwrap_or(5),
        })
    }

    /// Polls once for device-code approval: 403/404 mean "pending".
    pub(crate) async fn device_poll(&self, code: &DeviceCode) -> Result<DevicePoll, IssuerError> {
        let what = "Device-code sign-in";
        let body = json!({
            "device_auth_id": code.device_auth_id,
            "user_code": code.user_code,
        });
        let (status, bytes) = self
            .post_json(
                "/api/accounts/deviceauth/token",
                &body,
                Some(Duration::from_secs(60)),
            )
            .await?;
        if status == 403 || status == 404 {
            return Ok(DevicePoll::Pending);
        }
        if !(200..300).contains(&status) {
            return Err(Issuer::status_error(what, status, &bytes));
        }
        #[derive(Deserialize)]
        struct Approved {
            authorization_code: String,
            code_verifier: String,
        }
        let approved: Approved =
            serde_json::from_slice(&bytes).map_err(|_| IssuerError::Malformed {
                what,
                reason: "no authorization_code and code_verifier in the answer".into(),
            })?;
        Ok(DevicePoll::Approved {
            authorization_code: approved.authorization_code,
            code_verifier: approved.code_verifier,
        })
    }
}

/// The device `interval`: a JSON string (`"5"`) or number; `None` when unreadable.
pub(crate) fn parse_interval(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f.ceil() as u64)
        }),
        _ => None,
    }
    .map(|secs: u64| secs.min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_per_protocol() {
        let b = parse_error_body(br#"{"error":"invalid_grant","error_description":"Bad code"}"#);
        assert_eq!(b.code.as_deref(), Some("invalid_grant"));
        assert_eq!(b.message.as_deref(), Some("Bad code"));
        let b =
            parse_error_body(br#"{"error":{"code":"refresh_token_expired","message":"expired"}}"#);
        assert_eq!(b.code.as_deref(), Some("refresh_token_expired"));
        assert_eq!(b.message.as_deref(), Some("expired"));
        let b = parse_error_body(br#"{"code":"refresh_token_reused"}"#);
        assert_eq!(b.code.as_deref(), Some("refresh_token_reused"));
        assert_eq!(b.message, None);
        let b =
            parse_error_body(br#"{"error":{"code":"x","message":"m"},"error_description":"d"}"#);
        assert_eq!(b.message.as_deref(), Some("d"), "error_description wins");
        let b = parse_error_body(br#"{"error":"temporary-failure"}"#);
        assert_eq!(b.code.as_deref(), Some("temporary-failure"));
        assert_eq!(parse_error_body(b"").code, None);
        assert_eq!(
            parse_error_body(b"Bad Gateway").message.as_deref(),
            Some("Bad Gateway")
        );
        assert_eq!(parse_error_body(b"<html>oops</html>").message, None);
        assert_eq!(parse_error_body(b"[1,2]"), ErrorBody::default());
        assert_eq!(
            parse_error_body(b"\xff\xfe"),
            ErrorBody {
                code: None,
                message: Some("\u{fffd}\u{fffd}".into())
            }
        );
    }

    #[test]
    fn permanent_refresh_failures_are_401_with_known_codes() {
        let err = |status, code: &str| IssuerError::Status {
            what: "Token refresh",
            status,
            code: Some(code.into()),
            message: None,
        };
        assert!(err(401, "refresh_token_expired").is_permanent_refresh_failure());
        assert!(err(401, "REFRESH_TOKEN_REUSED").is_permanent_refresh_failure());
        assert!(err(401, "refresh_token_invalidated").is_permanent_refresh_failure());
        assert!(!err(400, "refresh_token_expired").is_permanent_refresh_failure());
        assert!(!err(401, "invalid_client").is_permanent_refresh_failure());
        assert!(!err(500, "temporary-failure").is_permanent_refresh_failure());
        let text = err(401, "refresh_token_expired").to_string();
        assert!(
            text.contains("401") && text.contains("refresh_token_expired"),
            "{text}"
        );
    }

    #[test]
    fn intervals_as_strings_or_numbers() {
        assert_eq!(parse_interval(Some(&json!("5"))), Some(5));
        assert_eq!(parse_interval(Some(&json!(" 0 "))), Some(0));
        assert_eq!(parse_interval(Some(&json!(3))), Some(3));
        assert_eq!(parse_interval(Some(&json!(1.5))), Some(2));
        assert_eq!(parse_interval(Some(&json!("soon"))), None);
        assert_eq!(parse_interval(Some(&json!(-1))), None);
        assert_eq!(parse_interval(None), None);
    }

    #[test]
    fn authorize_url_has_the_codex_parameters() {
        let paths = crate::config::Paths {
            config_file: "/tmp/x/c.toml".into(),
            data_dir: "/tmp/x/d".into(),
        };
        let config = crate::config::Config::defaults(&paths);
        let issuer = Issuer::new(
            crate::http::client(&config.upstream).unwrap(),
            &config.upstream,
        );
        let req = issuer
            .authorize_request("http://localhost:1455/auth/callback")
            .unwrap();
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        assert_eq!(
            req.url.as_str().split('?').next(),
            Some("https://auth.openai.com/oauth/authorize")
        );
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
        assert_eq!(q["redirect_uri"], "http://localhost:1455/auth/callback");
        assert_eq!(
            q["scope"],
            "openid profile email offline_access api.connectors.read api.connectors.invoke"
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["id_token_add_organizations"], "true");
        assert_eq!(q["codex_cli_simplified_flow"], "true");
        assert_eq!(q["originator"], "codex_cli_rs");
        assert_eq!(q["state"], *req.state.secret());
        assert_eq!(req.state.secret().len(), 43, "32 random bytes, base64url");
        assert_eq!(
            req.verifier.secret().len(),
            86,
            "64 random bytes, base64url"
        );
        use base64::Engine as _;
        use sha2::Digest as _;
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(req.verifier.secret().as_bytes()));
        assert_eq!(q["code_challenge"], expected);
    }
}
