//! Bodies: reading a request body within its limits, and response bodies (whole
//! buffers for JSON answers, streams for SSE).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::HeaderMap;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;

use super::AppState;
use super::error::ApiError;

pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// How long a request body may take: the wait for each next byte, and the whole
/// body (`security.body_read_timeout_seconds`, `security.body_total_timeout_seconds`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyDeadlines {
    read: Duration,
    total: Instant,
}

/// Why a body stopped before its end.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// No byte for the read timeout, or past the total deadline: 408.
    TimedOut(&'static str),
    /// The connection failed while reading.
    Read(hyper::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TimedOut(what) => write!(f, "the request body {what}"),
            BodyError::Read(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl BodyError {
    /// The answer for a body that did not arrive.
    pub(crate) fn into_api(self) -> ApiError {
        match self {
            BodyError::TimedOut(what) => ApiError::body_timeout(what),
            BodyError::Read(e) => ApiError::invalid_request(
                format!("Could not read the request body: {e}"),
                None,
                None,
            ),
        }
    }
}

impl BodyDeadlines {
    /// The deadlines of a body whose reading starts now.
    pub(crate) fn start(state: &AppState) -> BodyDeadlines {
        let s = &state.config.security;
        BodyDeadlines {
            read: Duration::from_secs(s.body_read_timeout_seconds),
            total: Instant::now() + Duration::from_secs(s.body_total_timeout_seconds),
        }
    }

    /// The next data chunk of `body` (`None` at its end), within both deadlines.
    pub(crate) async fn next_chunk(&self, body: &mut Incoming) -> Result<Option<Bytes>, BodyError> {
        loop {
            let idle = Instant::now() + self.read;
            let (until, what) = if idle < self.total {
                (idle, "stopped arriving")
            } else {
                (self.total, "took too long")
            };
            match tokio::time::timeout_at(until.into(), body.frame()).await {
                Err(_) => return Err(BodyError::TimedOut(what)),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(BodyError::Read(e)),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// `body` as a stream of chunks within both deadlines (for uploads).
    pub(crate) fn stream(
        self,
        body: Incoming,
    ) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + Unpin + 'static {
        Box::pin(futures_util::stream::unfold(
            Some(body),
            move |body| async move {
                let mut body = body?;
                match self.next_chunk(&mut body).await {
                    Ok(Some(chunk)) => Some((Ok(chunk), Some(body))),
                    Ok(None) => None,
                    Err(e) => Some((Err(e), None)),
                }
            },
        ))
    }
}

/// Reads a request body, refusing more than `security.max_request_body_bytes`,
/// and answering 408 when it stops arriving or takes too long.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    mut body: Incoming,
) -> Result<Bytes, ApiError> {
    let limit = state.config.security.max_request_body_bytes;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::request_too_large(limit));
    }
    let deadlines = BodyDeadlines::start(state);
    let first = usize::try_from(declared.unwrap_or(0).min(1 << 20)).unwrap_or(0);
    let mut buf = BytesMut::with_capacity(first);
    while let Some(chunk) = deadlines
        .next_chunk(&mut body)
        .await
        .map_err(BodyError::into_api)?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::request_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A JSON answer with `status`.
pub(crate) fn json_response(
    status: http::StatusCode,
    value: &serde_json::Value,
) -> http::Response<Body> {
    let mut resp = http::Response::new(full(serde_json::to_vec(value).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
