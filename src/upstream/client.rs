//! The upstream HTTP client: one pooled reqwest client (rustls, ring), proxy
//! settings from the environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), the
//! Codex identification headers, a connect timeout and an idle timeout between
//! stream chunks (never a total timeout on streams).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::sse::{MAX_EVENT_BYTES, SseEvent, SseReader};
use crate::config::UpstreamConfig;

use crate::http::ORIGINATOR;

/// Client request headers forwarded upstream: Codex conversation and routing
/// headers only (never credentials, cookies or SDK telemetry).
const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "session_id",
    "session-id",
    "thread-id",
    "x-client-request-id",
    "x-codex-turn-state",
    "x-codex-turn-metadata",
    "x-codex-window-id",
    "x-codex-beta-features",
    "x-codex-parent-thread-id",
    "x-codex-installation-id",
    "x-openai-subagent",
];

/// What went wrong talking to the backend, before mapping to the API catalogue.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// Could not connect or the connection failed before a response.
    Connect(String),
    /// Connect, header or idle timeout.
    Timeout(&'static str),
    /// A non-2xx answer, with its body (bounded).
    Status {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
    /// A 2xx answer that is not an event stream / not the JSON expected.
    Malformed(String),
    /// The body failed mid-way (reset, cut).
    Body(String),
}

impl UpstreamError {
    /// Transient failures worth retrying before anything reached the client.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_) => true,
            UpstreamError::Status { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(e) => write!(f, "cannot reach the ChatGPT backend: {e}"),
            UpstreamError::Timeout(what) => write!(f, "timed out ({what})"),
            UpstreamError::Status { status, .. } => write!(f, "HTTP {status}"),
            UpstreamError::Malformed(m) => write!(f, "malformed answer: {m}"),
            UpstreamError::Body(m) => write!(f, "stream failed: {m}"),
        }
    }
}

/// The Codex backend.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    http: reqwest::Client,
    responses_url: String,
    models_url: String,
    usage_url: String,
    client_version: String,
    idle_timeout: Duration,
    retry_attempts: u32,
}

/// An open event stream from the backend.
pub(crate) struct EventStream {
    pub(crate) headers: HeaderMap,
    body: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    reader: SseReader,
    idle_timeout: Duration,
    done: bool,
    /// A body error met by [`EventStream::next_ready`], reported by the next
    /// [`EventStream::next_event`].
    failed: Option<String>,
}

impl EventStream {
    /// The next event; `Ok(None)` at the end of the stream. Fails with a timeout
    /// when the backend stays silent longer than the idle timeout.
    pub(crate) async fn next_event(&mut self) -> Result<Option<SseEvent>, UpstreamError> {
        loop {
            match self.reader.next_event() {
                Ok(Some(ev)) => return Ok(Some(ev)),
                Ok(None) => {}
                Err(e) => return Err(UpstreamError::Malformed(e.to_string())),
            }
            if let Some(e) = self.failed.take() {
                return Err(UpstreamError::Body(e));
            }
            if self.done {
                return Ok(None);
            }
            match tokio::time::timeout(self.idle_timeout, self.body.next()).await {
                Err(_) => {
                    return Err(UpstreamError::Timeout(
                        "no data from the stream within the idle timeout",
                    ));
                }
                Ok(None) => {
                    self.done = true;
                    // A final event without its blank line still counts.
                    if self.reader.pending() > 0 {
                        self.reader.push(b"\n\n");
                    }
                }
                Ok(Some(Ok(chunk))) => self.reader.push(&chunk),
                Ok(Some(Err(e))) => return Err(UpstreamError::Body(error_chain(&e))),
            }
        }
    }
}

impl EventStream {
    /// The next event if it is already here — buffered, or readable from the connection
    /// without waiting; `None` otherwise (the end of the stream and errors are left for
    /// [`EventStream::next_event`] to report).
    pub(crate) fn next_ready(&mut self) -> Option<SseEvent> {
        loop {
            if let Ok(Some(ev)) = self.reader.next_event() {
                return Some(ev);
            }
            if self.done || self.failed.is_some() || self.reader.pending() > MAX_EVENT_BYTES {
                return None;
            }
            match self.body.next().now_or_never()? {
                Some(Ok(chunk)) => self.reader.push(&chunk),
                Some(Err(e)) => {
                    self.failed = Some(error_chain(&e));
                    return None;
                }
                None => {
                    self.done = true;
                    if self.reader.pending() > 0 {
                        self.reader.push(b"\n\n");
                    }
                }
            }
        }
    }
}

/// How long, and how many bytes, a finished stream may take to reach its end in the
/// background (see [`EventStream::release`]).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
const RELEASE_LIMIT: usize = 1 << 20;

impl EventStream {
    /// Called once the terminal event was relayed: reads what is left of the body (the
    /// chunked terminator, usually already here) so that the connection goes back to the
    /// pool. Dropping an unfinished body makes hyper close the connection, which costs a
    /// new TCP connection per request. Whatever does not arrive at once is read by a
    /// background task, bounded by `RELEASE_TIMEOUT` and `RELEASE_LIMIT`.
    pub(crate) fn release(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let mut body = std::mem::replace(&mut self.body, futures_util::stream::empty().boxed());
        let mut left = RELEASE_LIMIT;
        loop {
            match body.next().now_or_never() {
                Some(Some(Ok(chunk))) if chunk.len() <= left => left -= chunk.len(),
                Some(None) => return,
                Some(_) => return,
                None => break,
            }
        }
        tokio::spawn(async move {
            let _ = tokio::time::timeout(RELEASE_TIMEOUT, async move {
                while let Some(Ok(chunk)) = body.next().await {
                    if chunk.len() > left {
                        return;
                    }
                    left -= chunk.len();
                }
            })
            .await;
        });
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

impl UpstreamClient {
    pub(crate) fn new(config: &UpstreamConfig, http: reqwest::Client) -> UpstreamClient {
        let base = config.base_url.trim_end_matches('/');
        UpstreamClient {
            http,
            responses_url: format!("{base}/responses"),
            models_url: format!("{base}/models?client_version={}", config.client_version),
            usage_url: config
                .usage_url
                .clone()
                .unwrap_or_else(|| super::usage::usage_url(base)),
            client_version: config.client_version.clone(),
            idle_timeout: Duration::from_secs(config.stream_idle_timeout_seconds),
            retry_attempts: config.retry_attempts,
        }
    }

    pub(crate) fn retry_attempts(&self) -> u32 {
        self.retry_attempts
    }

    fn common_headers(&self, token: &str, account_id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            let mut v = v;
            v.set_sensitive(true);
            h.insert(http::header::AUTHORIZATION, v);
        }
        if !account_id.is_empty()
            && let Ok(v) = HeaderValue::from_str(account_id)
        {
            h.insert("chatgpt-account-id", v);
        }
        h.insert("originator", HeaderValue::from_static(ORIGINATOR));
        if let Ok(v) = HeaderValue::from_str(&self.client_version) {
            h.insert("version", v);
        }
        h
    }

    /// One attempt of `POST /responses`. Returns the open event stream on 2xx.
    pub(crate) async fn post_responses(
        &self,
        body: Bytes,
        token: &str,
        account_id: &str,
        client_headers: &HeaderMap,
    ) -> Result<EventStream, UpstreamError> {
        let mut headers = self.common_headers(token, account_id);
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for name in FORWARDED_REQUEST_HEADERS {
            if let Some(v) = client_headers.get(*name) {
                headers.insert(HeaderName::from_static(name), v.clone());
            }
        }
        let send = self
            .http()
            .post(&self.responses_url)
            .headers(headers)
            .body(body)
            .send();
        let resp = match tokio::time::timeout(self.idle_timeout, send).await {
            Err(_) => {
                return Err(UpstreamError::Timeout(
                    "no response headers within the idle timeout",
                ));
            }
            Ok(Err(e)) if e.is_timeout() => return Err(UpstreamError::Timeout("connect timeout")),
            Ok(Err(e)) => return Err(UpstreamError::Connect(error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if !(200..300).contains(&status) {
            let body = read_bounded(resp, 64 * 1024, self.idle_timeout).await;
            return Err(UpstreamError::Status {
                status,
                headers,
                body,
            });
        }
        let is_sse = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            return Err(UpstreamError::Malformed(format!(
                "expected an event stream, got content type {:?}",
                headers.get(http::header::CONTENT_TYPE)
            )));
        }
        Ok(EventStream {
            headers,
            body: resp.bytes_stream().boxed(),
            reader: SseReader::new(),
            idle_timeout: self.idle_timeout,
            done: false,
            failed: None,
        })
    }

    /// `GET /models?client_version=…` → the raw catalogue entries.
    pub(crate) async fn fetch_models(
        &self,
        token: &str,
        account_id: &str,
    ) -> Result<Vec<serde_json::Value>, UpstreamError> {
        self.fetch_models_with_headers(token, account_id)
            .await
            .map(|(models, _)| models)
    }

    /// The URL of the model catalogue (`airelays doctor` names it in its findings).
    pub(crate) fn models_url(&self) -> &str {
        &self.models_url
    }

    /// [`UpstreamClient::fetch_models`] with the answer's headers (`airelays doctor`
    /// reads its `Date` to measure clock skew).
    pub(crate) async fn fetch_models_with_headers(
        &self,
        token: &str,
        account_id: &str,
    ) -> Result<(Vec<serde_json::Value>, HeaderMap), UpstreamError> {
        let headers = self.common_headers(token, account_id);
        let (body, headers) = self
            .get_bounded(&self.models_url, headers, "model catalogue", 16 << 20)
            .await?;
        #[derive(serde::Deserialize)]
        struct Catalogue {
            models: Vec<serde_json::Value>,
        }
        serde_json::from_slice::<Catalogue>(&body)
            .map(|c| (c.models, headers))
            .map_err(|e| UpstreamError::Malformed(format!("model catalogue: {e}")))
    }

    /// The plan-usage endpoint this client reads.
    pub(crate) fn usage_url(&self) -> &str {
        &self.usage_url
    }

    /// Reads the plan's usage (docs/upstream.md, "Usage endpoint").
    pub(crate) async fn fetch_usage(
        &self,
        token: &str,
        account_id: &str,
    ) -> Result<serde_json::Value, UpstreamError> {
        let mut headers = self.common_headers(token, account_id);
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let (body, _) = self
            .get_bounded(&self.usage_url, headers, "usage endpoint", 1 << 20)
            .await?;
        serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Malformed(format!("usage endpoint: {e}")))
    }
}

impl UpstreamClient {
    /// The connection thread's own client when it has one (`server::workers`),
    /// so the upstream connection is driven by the thread that serves the
    /// request; else the shared one.
    fn http(&self) -> reqwest::Client {
        crate::http::thread_client().unwrap_or_else(|| self.http.clone())
    }

    /// `GET url` with `headers`: the body (at most `limit` bytes) and headers of a
    /// 2xx answer, or the answer as `UpstreamError::Status`; `what` names it in a
    /// timeout.
    async fn get_bounded(
        &self,
        url: &str,
        headers: HeaderMap,
        what: &'static str,
        limit: usize,
    ) -> Result<(Bytes, HeaderMap), UpstreamError> {
        let send = self.http().get(url).headers(headers).send();
        let resp = match tokio::time::timeout(self.idle_timeout, send).await {
            Err(_) => return Err(UpstreamError::Timeout(what)),
            Ok(Err(e)) => return Err(UpstreamError::Connect(error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = read_bounded(resp, limit, self.idle_timeout).await;
        if !(200..300).contains(&status) {
            return Err(UpstreamError::Status {
                status,
                headers,
                body,
            });
        }
        Ok((body, headers))
    }
}

async fn read_bounded(resp: reqwest::Response, limit: usize, idle: Duration) -> Bytes {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(idle, stream.next()).await {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Bytes::from(out)
}
