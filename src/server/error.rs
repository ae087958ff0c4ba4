//! The error catalogue (docs/architecture.md#error-envelope-and-catalogue), in
//! one place: every error the relay answers with is built here; `envelope`
//! writes it in the request's dialect.

use http::StatusCode;

/// An error answer. `retry_after` becomes the `Retry-After` header, `account`
/// the `x-airelays-account` header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) code: Option<String>,
    pub(crate) message: String,
    pub(crate) param: Option<String>,
    /// Seconds; `u32` keeps the error small (136 years is enough).
    pub(crate) retry_after: Option<u32>,
    pub(crate) should_retry: Option<bool>,
    /// The account the request was given to, with two or more accounts signed in
    /// (docs/architecture.md#accounts).
    pub(crate) account: Option<Box<str>>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            kind,
            code: code.map(str::to_string),
            message: message.into(),
            param: None,
            retry_after: None,
            should_retry: None,
            account: None,
        }
    }

    pub(crate) fn with_param(mut self, param: Option<String>) -> ApiError {
        self.param = param;
        self
    }

    pub(crate) fn with_retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(u32::try_from(secs.max(1)).unwrap_or(u32::MAX));
        self
    }

    /// This error as the answer of account `name` (named in `x-airelays-account`).
    pub(crate) fn with_account(mut self, name: &str) -> ApiError {
        self.account = Some(name.into());
        self
    }

    // ---- 400 ---------------------------------------------------------------

    pub(crate) fn invalid_request(
        message: impl Into<String>,
        param: Option<String>,
        code: Option<String>,
    ) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        );
        e.param = param;
        e.code = code;
        e
    }

    /// An upstream 400 `{"detail": …}`, carrying the upstream text.
    pub(crate) fn upstream_rejected_request(detail: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            format!("The ChatGPT backend rejected the request: {detail}"),
        )
    }

    /// Codex's built-in provider tries a WebSocket first and falls back to HTTP
    /// cleanly only on 426, as the real backend answers.
    pub(crate) fn upgrade_required() -> ApiError {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "invalid_request_error",
            Some("upgrade_required"),
            "airelays serves the Responses API over HTTP only; WebSocket upgrades are not supported.",
        )
    }

    // ---- 401 / 403 -----------------------------------------------------------

    pub(crate) fn missing_or_invalid_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            "Missing or invalid airelays bearer token. Send `Authorization: Bearer <token>` with the relay token (`airelays token show` prints it).",
        )
    }

    pub(crate) fn wrong_auth_scheme() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            "Missing or invalid airelays bearer token: the Authorization header must be `Authorization: Bearer <token>` (`airelays token show` prints the token).",
        )
    }

    pub(crate) fn host_not_allowed(host: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("host_not_allowed"),
            format!(
                "Host `{}` is not allowed. airelays answers only loopback names (localhost, 127.0.0.1, [::1]); add other names to `security.allowed_hosts` if you really reach it under another name.",
                sanitize(host)
            ),
        )
    }

    pub(crate) fn origin_not_allowed(origin: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("origin_not_allowed"),
            format!(
                "Requests from the web origin `{}` are not allowed. Add it to `security.allowed_origins` if this page should use the relay.",
                sanitize(origin)
            ),
        )
    }

    /// `x-airelays-account` named an account that is not signed in.
    pub(crate) fn unknown_account(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("unknown_account"),
            format!(
                "No ChatGPT account named `{}` is signed in (x-airelays-account). `airelays accounts` lists them; `airelays login --account NAME` adds one.",
                sanitize(name)
            ),
        )
    }

    /// An `accounts.pin` rule matched the request and names an account that is
    /// not signed in: refused as an unknown `x-airelays-account` is.
    pub(crate) fn unknown_pinned_account(name: &str, rule: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("unknown_account"),
            format!(
                "No ChatGPT account named `{}` is signed in (accounts.pin rule `{}`). `airelays login --account {}` adds it; or change the rule. `airelays accounts` lists the accounts.",
                sanitize(name),
                sanitize(rule),
                sanitize(name)
            ),
        )
    }

    // ---- 404 / 405 -----------------------------------------------------------

    pub(crate) fn model_not_found(model: &str, suggestions: &[String]) -> ApiError {
        let hint = if suggestions.is_empty() {
            "GET /v1/models lists the models your plan offers.".to_string()
        } else {
            format!(
                "Did you mean {}? GET /v1/models lists them all.",
                suggestions
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            format!(
                "The model `{}` does not exist or your ChatGPT plan has no access to it. {hint}",
                sanitize(model)
            ),
        )
        .with_param(Some("model".into()))
    }

    pub(crate) fn not_found(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            format!(
                "Unknown route {method} {}. airelays serves /v1/responses, /v1/chat/completions, /v1/completions, /v1/messages, /v1/models, /v1/files and the Ollama API under /api.",
                sanitize(path)
            ),
        )
    }

    pub(crate) fn doubled_v1(path: &str, base_url: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            format!(
                "Unknown route {}: your client's base URL already ends in /v1 and the client adds another. Set the base URL to {base_url} (or drop the /v1 your client appends).",
                sanitize(path)
            ),
        )
    }

    pub(crate) fn method_not_allowed(method: &str, path: &str, allowed: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            None,
            format!(
                "{method} is not allowed on {}; use {allowed}.",
                sanitize(path)
            ),
        )
    }

    /// 403 for Ollama's model management (`/api/pull`, `/api/delete`, …).
    pub(crate) fn models_managed_by_plan(operation: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("models_managed_by_plan"),
            format!(
                "/api/{} is not available: the models come from your ChatGPT plan and cannot be pulled, pushed, created, copied or deleted here. GET /api/tags lists the models you can use.",
                sanitize(operation)
            ),
        );
        e.should_retry = Some(false);
        e
    }

    // ---- 413 / 422 -----------------------------------------------------------

    pub(crate) fn request_too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!(
                "The request body exceeds {limit} bytes (security.max_request_body_bytes). Send less, or raise the limit in the config."
            ),
        )
    }

    /// 413 for a request whose upstream body, with its file and item references
    /// filled in, would pass `security.max_request_body_bytes`.
    pub(crate) fn expanded_too_large(expanded: u64, limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!(
                "With its file and item references filled in, this request would send at least {expanded} bytes upstream, more than the {limit} bytes allowed (security.max_request_body_bytes). Reference fewer or smaller files (each reference inlines the whole file again), or raise the limit in the config."
            ),
        )
        .with_param(Some("input".to_string()))
    }

    /// 400 for a request with more file and item references than the relay expands.
    pub(crate) fn too_many_references(count: usize, max: usize) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("too_many_references"),
            format!(
                "The request has {count} file and item references; the relay expands at most {max} per request. Send fewer references."
            ),
        )
        .with_param(Some("input".to_string()))
    }

    /// 408 for a request body that stopped arriving or took too long.
    pub(crate) fn body_timeout(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            Some("request_timeout"),
            format!(
                "The request body {what}. Send the body without pauses (security.body_read_timeout_seconds, security.body_total_timeout_seconds)."
            ),
        )
    }

    pub(crate) fn file_error(
        status: u16,
        kind: &'static str,
        code: Option<&'static str>,
        message: String,
        param: Option<String>,
    ) -> ApiError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, kind, code, message).with_param(param)
    }

    // ---- the state store (docs/architecture.md, "The state store") -----------

    /// 400 for a `previous_response_id` the store does not have (unknown,
    /// deleted, evicted, or a chain with a missing link), in OpenAI's words.
    pub(crate) fn previous_response_not_found(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("previous_response_not_found"),
            format!("Previous response with id '{}' not found.", sanitize(id)),
        )
        .with_param(Some("previous_response_id".into()))
    }

    /// 404 for a stored object (`Response`, `Conversation`, `Item`) the store
    /// does not have.
    pub(crate) fn stored_not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            format!("{what} with id '{}' not found.", sanitize(id)),
        )
    }

    /// 503 for a request that needs the state store when it cannot be used; the
    /// reason names the file and the fix.
    pub(crate) fn state_unavailable(reason: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            Some("state_unavailable"),
            format!(
                "The local state store is unavailable, so stored responses and conversations cannot be used (stateless requests still work): {reason}"
            ),
        )
    }

    /// 500 for a failed state-store read or write.
    pub(crate) fn state_failed(detail: &str) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            format!(
                "The local state store failed: {detail}. Retry; `airelays doctor` checks the database."
            ),
        )
    }

    // ---- 429 -------------------------------------------------------------------

    pub(crate) fn rate_limited(retry_after: u64, per_minute: u32) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            format!(
                "Request rate limit exceeded for this IP ({per_minute}/min, security.rate_limit_per_minute). Retry after {retry_after} s, reduce client concurrency, or raise the limit in the config."
            ),
        )
        .with_retry_after(retry_after)
    }

    pub(crate) fn too_many_concurrent(limit: u32) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("too_many_concurrent_requests"),
            format!(
                "Too many concurrent requests from this IP (limit {limit}, security.concurrent_requests_per_ip). Wait for a request to finish or raise the limit."
            ),
        )
        .with_retry_after(1)
    }

    pub(crate) fn ip_blocked(retry_after: u64) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("ip_temporarily_blocked"),
            format!(
                "Too many invalid authentication attempts from this IP; it is blocked for {retry_after} more seconds. Fix the client's token (`airelays token show`) and retry after the block."
            ),
        )
        .with_retry_after(retry_after)
    }

    pub(crate) fn usage_limit(message: String, retry_after: Option<u64>) -> ApiError {
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("usage_limit_reached"),
            message,
        );
        match retry_after {
            Some(s) => e.with_retry_after(s),
            None => e,
        }
    }

    /// 429 from the quota guard (`usage.refuse_at_percent`).
    pub(crate) fn usage_guard(
        window: &str,
        used: f64,
        threshold: u64,
        resets: Option<String>,
        retry_after: Option<u64>,
    ) -> ApiError {
        let resets = resets.map_or(String::new(), |t| format!(" until it resets at {t}"));
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("usage_guard"),
            format!(
                "The {window} of your ChatGPT plan is {used:.0}% used, at or past usage.refuse_at_percent ({threshold}%): airelays refuses new requests{resets}, so nothing spends the rest of it unnoticed. For urgent work send the header `x-airelays-override-usage-guard: 1`, or run `airelays serve --ignore-usage-guard`."
            ),
        );
        e.should_retry = Some(false);
        match retry_after {
            Some(s) => e.with_retry_after(s),
            None => e,
        }
    }

    pub(crate) fn upstream_rate_limited(detail: &str, retry_after: Option<u64>) -> ApiError {
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            format!(
                "The ChatGPT backend is rate limiting requests: {}. Retry later.",
                sanitize(detail)
            ),
        );
        match retry_after {
            Some(s) => e.with_retry_after(s),
            None => e,
        }
    }

    // ---- 501 -------------------------------------------------------------------

    pub(crate) fn unsupported_route(what: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "unsupported_error",
            None,
            format!(
                "{what} is not available: the ChatGPT subscription backend has no such endpoint. Use a platform API key for it."
            ),
        );
        e.should_retry = Some(false);
        e
    }

    // ---- 502 / 503 / 504 -----------------------------------------------------

    pub(crate) fn upstream_error(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            Some("upstream_error"),
            message,
        )
    }

    pub(crate) fn incomplete_stream() -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            Some("incomplete_stream"),
            "The ChatGPT backend ended the stream before the response was complete (no response.completed). Retry the request.",
        )
    }

    pub(crate) fn upstream_overloaded(retry_after: u64) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_error",
            Some("upstream_overloaded"),
            "The ChatGPT backend is overloaded. Retry in a few seconds.",
        )
        .with_retry_after(retry_after)
    }

    pub(crate) fn upstream_timeout(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_error",
            Some("upstream_timeout"),
            format!(
                "The ChatGPT backend timed out ({what}). Retry; if it keeps happening check your network, or raise upstream.stream_idle_timeout_seconds."
            ),
        )
    }

    pub(crate) fn auth_rejected() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "authentication_error",
            Some("upstream_auth_rejected"),
            "The ChatGPT backend rejected the stored login even after refreshing it. Run `airelays login`.",
        )
    }

    /// A credential-session failure (docs/auth.md#refresh): the session error says
    /// its own status, type, code and retry time.
    pub(crate) fn from_session(e: &crate::auth::session::SessionError) -> ApiError {
        let error = ApiError::new(e.status(), e.error_type(), Some(e.code()), e.to_string());
        match e.retry_after_secs() {
            Some(secs) => error.with_retry_after(secs),
            None => error,
        }
    }
}

impl From<crate::auth::session::SessionError> for ApiError {
    fn from(e: crate::auth::session::SessionError) -> ApiError {
        ApiError::from_session(&e)
    }
}

/// Client-controlled text echoed in a message: printable, bounded, no control
/// characters (so it can't forge log lines or headers).
pub(crate) fn sanitize(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape_and_headers() {
        let r = ApiError::ip_blocked(42).into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "42");
        let e = ApiError::ip_blocked(42).envelope();
        assert_eq!(e["error"]["type"], "rate_limit_error");
        assert_eq!(e["error"]["code"], "ip_temporarily_blocked");
        assert!(e["error"]["param"].is_null());
        let r = ApiError::unsupported_route("Embeddings").into_response();
        assert_eq!(r.status(), 501);
        assert_eq!(r.headers()["x-should-retry"], "false");
    }

    #[test]
    fn client_text_is_sanitized() {
        let e = ApiError::host_not_allowed("evil\r\nx-injected: 1");
        assert!(!e.message.contains('\r') && !e.message.contains('\n'));
        assert!(sanitize(&"a".repeat(500)).chars().count() <= 201);
    }
}
