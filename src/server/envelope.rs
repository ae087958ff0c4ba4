//! How an [`ApiError`] is written on the wire, one function per dialect: the
//! envelope is chosen from the request's path (and, on shared paths, its
//! headers) before the guard runs, so every answer to a request — the guard's
//! 401/403/413/429 included — is written in its client's dialect. An enum, not
//! part of the `Dialect` trait: errors must be written before any body is parsed,
//! and for routes that relay nothing.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::json;

use super::body::{Body, full};
use super::error::ApiError;
use crate::translate::messages::error_type_for_status;

/// The error envelope of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// `{"error":{"message","type","param","code"}}`.
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
    /// Ollama's `{"error":"…"}`, on `/api/*`.
    Ollama,
}

impl Envelope {
    /// The envelope for a request to `path`: Anthropic on `/v1/messages*`, and on
    /// the shared `/v1/models*` when the request carries `anthropic-version`;
    /// Ollama's on `/api/*`.
    pub(crate) fn of(path: &str, headers: &HeaderMap) -> Envelope {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/api") {
            Envelope::Ollama
        } else if under("/v1/messages")
            || (under("/v1/models") && headers.contains_key("anthropic-version"))
        {
            Envelope::Anthropic
        } else {
            Envelope::OpenAi
        }
    }
}

impl ApiError {
    /// The answer in `envelope`'s wire format.
    pub(crate) fn into_response_in(self, envelope: Envelope) -> Response<Body> {
        match envelope {
            Envelope::OpenAi => self.into_response(),
            Envelope::Anthropic => anthropic(self),
            Envelope::Ollama => ollama(self),
        }
    }

    /// The OpenAI envelope's JSON.
    pub(crate) fn envelope(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }

    /// The answer in the OpenAI envelope.
    pub(crate) fn into_response(self) -> Response<Body> {
        let body = serde_json::to_vec(&self.envelope()).unwrap_or_default();
        respond(&self, self.status, body)
    }
}

/// The Anthropic envelope. Statuses follow Anthropic's table where it differs
/// (an overloaded backend is 529); a usage limit and the client's own errors
/// (4xx but 408 and 429) say `x-should-retry: false`, so the SDKs and Claude Code
/// do not retry what cannot succeed; a missing or wrong token names
/// `ANTHROPIC_AUTH_TOKEN`.
fn anthropic(mut e: ApiError) -> Response<Body> {
    let code = e.code.as_deref().unwrap_or("");
    let status = match code {
        "upstream_overloaded" => StatusCode::from_u16(529).unwrap_or(e.status),
        _ => e.status,
    };
    // Claude Code retries what its SDK is not told to leave alone: a usage limit
    // (it resets hours later) and the client's own errors are final.
    if code == "usage_limit_reached"
        || code == "usage_guard"
        || (400..500).contains(&status.as_u16()) && status != 429 && status != 408
    {
        e.should_retry = Some(false);
    }
    let message = match code {
        "invalid_api_key" => format!(
            "{} Claude Code sends it from ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY): set it to the relay token.",
            e.message
        ),
        "context_length_exceeded" => format!("prompt is too long: {}", e.message),
        _ => e.message.clone(),
    };
    let body = json!({
        "type": "error",
        "error": {"type": error_type_for_status(status.as_u16()), "message": message},
    });
    respond(&e, status, serde_json::to_vec(&body).unwrap_or_default())
}

/// Ollama's envelope, `{"error":"…"}`, with the catalogue's status. The hints name
/// what an Ollama client sets: the key of its connection, `/api/tags`.
fn ollama(e: ApiError) -> Response<Body> {
    let message = match e.code.as_deref() {
        Some("invalid_api_key") => format!(
            "{} Set it as the API key of the app's Ollama connection; for an app that cannot send one, see ollama.listen and ollama.require_token (docs/clients.md).",
            e.message
        ),
        Some("model_not_found") => e
            .message
            .replace("GET /v1/models lists", "GET /api/tags lists"),
        _ => e.message.clone(),
    };
    let body =
        serde_json::to_vec(&crate::translate::ollama::error_body(&message)).unwrap_or_default();
    respond(&e, e.status, body)
}

/// A JSON error answer with the catalogue's retry headers.
fn respond(e: &ApiError, status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(secs) = e.retry_after {
        h.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(retry) = e.should_retry {
        h.insert(
            "x-should-retry",
            HeaderValue::from_static(if retry { "true" } else { "false" }),
        );
    }
    if let Some(v) = e
        .account
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        h.insert(super::accounts::ACCOUNT_HEADER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(resp: Response<Body>) -> serde_json::Value {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_envelope_follows_the_path_and_the_anthropic_header() {
        let none = HeaderMap::new();
        let mut anthropic = HeaderMap::new();
        anthropic.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        assert_eq!(Envelope::of("/v1/messages", &none), Envelope::Anthropic);
        assert_eq!(
            Envelope::of("/v1/messages/count_tokens", &none),
            Envelope::Anthropic
        );
        assert_eq!(Envelope::of("/v1/messagesx", &none), Envelope::OpenAi);
        assert_eq!(Envelope::of("/v1/models", &none), Envelope::OpenAi);
        assert_eq!(Envelope::of("/v1/models", &anthropic), Envelope::Anthropic);
        assert_eq!(
            Envelope::of("/v1/models/claude-x", &anthropic),
            Envelope::Anthropic
        );
        assert_eq!(
            Envelope::of("/v1/chat/completions", &anthropic),
            Envelope::OpenAi
        );
        assert_eq!(Envelope::of("/api/chat", &none), Envelope::Ollama);
        assert_eq!(Envelope::of("/api", &none), Envelope::Ollama);
        assert_eq!(Envelope::of("/apix", &none), Envelope::OpenAi);
    }

    #[tokio::test]
    async fn ollama_errors_are_one_error_string_with_the_catalogue_status() {
        let r = ApiError::missing_or_invalid_token().into_response_in(Envelope::Ollama);
        assert_eq!(r.status(), 401);
        let b = body_of(r).await;
        assert_eq!(b.as_object().unwrap().len(), 1, "{b}");
        assert!(b["error"].as_str().unwrap().contains("bearer token"), "{b}");
        let r = ApiError::model_not_found("nope", &[]).into_response_in(Envelope::Ollama);
        assert_eq!(r.status(), 404);
        assert!(body_of(r).await["error"].as_str().unwrap().contains("nope"));
    }

    #[tokio::test]
    async fn anthropic_errors_use_anthropics_types_and_statuses() {
        let r = ApiError::missing_or_invalid_token().into_response_in(Envelope::Anthropic);
        assert_eq!(r.status(), 401);
        let b = body_of(r).await;
        assert_eq!(b["type"], "error");
        assert_eq!(b["error"]["type"], "authentication_error");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ANTHROPIC_AUTH_TOKEN")
        );

        let r = ApiError::upstream_overloaded(5).into_response_in(Envelope::Anthropic);
        assert_eq!(r.status(), 529);
        assert_eq!(r.headers()["retry-after"], "5");
        assert_eq!(body_of(r).await["error"]["type"], "overloaded_error");

        let r =
            ApiError::usage_limit("limit".into(), Some(60)).into_response_in(Envelope::Anthropic);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["x-should-retry"], "false");
        assert_eq!(body_of(r).await["error"]["type"], "rate_limit_error");

        let e = ApiError::invalid_request("too long", None, Some("context_length_exceeded".into()));
        let b = body_of(e.into_response_in(Envelope::Anthropic)).await;
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("prompt is too long")
        );

        let r = ApiError::model_not_found("claude-x", &[]).into_response_in(Envelope::Anthropic);
        assert_eq!(r.status(), 404);
        assert_eq!(body_of(r).await["error"]["type"], "not_found_error");
    }

    #[test]
    fn an_error_of_one_account_names_it_in_every_envelope() {
        for envelope in [Envelope::OpenAi, Envelope::Anthropic, Envelope::Ollama] {
            let plain = ApiError::upstream_overloaded(5).into_response_in(envelope);
            assert!(plain.headers().get("x-airelays-account").is_none());
            let named = ApiError::upstream_overloaded(5)
                .with_account("work")
                .into_response_in(envelope);
            assert_eq!(named.headers()["x-airelays-account"], "work");
        }
    }
}
