//! Bodies: reading a request body within its limits, and response bodies (whole
//! buffers for JSON answers, streams for SSE).

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full, Limited, combinators::UnsyncBoxBody};
use hyper::body::Incoming;

use super::AppState;
use super::error::ApiError;

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

/// Reads a request body, refusing more than `security.max_request_body_bytes`.
pub async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Bytes, ApiError> {
    let limit = state.config.security.max_request_body_bytes;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::request_too_large(limit));
    }
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::request_too_large(limit))
        }
        Err(e) => Err(ApiError::invalid_request(
            format!("Could not read the request body: {e}"),
            None,
            None,
        )),
    }
}

/// A JSON answer with `status`.
pub fn json_response(status: http::StatusCode, value: &serde_json::Value) -> http::Response<Body> {
    let mut resp = http::Response::new(full(serde_json::to_vec(value).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
