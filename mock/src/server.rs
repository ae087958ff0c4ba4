//! The listener: accept loop, one task per connection, request recording and the route table.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::reply::{self, Body};
use crate::state::{MockState, RecordedRequest};
use crate::{backend, control, issuer};

/// Request bodies larger than this get 413 (Codex bodies with images reach a few MB).
const MAX_BODY_BYTES: usize = 64 << 20;

/// Returned by a handler to close the connection without writing any response.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset on purpose by the mock")
    }
}

impl std::error::Error for DropConnection {}

/// The running accept loop.
pub(crate) struct ServerHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stops the accept loop, aborts every connection and waits for the loop to end.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }

    /// Aborts the accept loop (and with it every connection) without waiting.
    pub(crate) fn abort(self) {
        self.task.abort();
    }
}

pub(crate) fn spawn(listener: TcpListener, state: Arc<MockState>) -> ServerHandle {
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, state, stopped));
    ServerHandle { stop, task }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<MockState>,
    mut stopped: oneshot::Receiver<()>,
) {
    // Connection tasks live in the JoinSet so that ending this task (shutdown or abort) drops
    // the set, which aborts every open connection and with it every SSE body.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&state)));
                }
                // Out of file descriptors and similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<MockState>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| handle(Arc::clone(&state), request));
    let builder = auto::Builder::new(TokioExecutor::new());
    // Errors here are client disconnects and deliberate resets; nothing to report.
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A fully read request, as the route handlers see it.
pub(crate) struct MockRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The body parsed like [`RecordedRequest::body`].
    pub body: Value,
    /// The body's length in bytes.
    pub raw_len: usize,
}

impl MockRequest {
    /// A header value by name (names are case-insensitive); `None` if absent or not text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query string as a map (the last value of a repeated key wins).
    pub(crate) fn query_params(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    /// The body's top-level string (or scalar) fields, whether it came as JSON or as a form.
    pub(crate) fn body_params(&self) -> HashMap<String, String> {
        let Some(object) = self.body.as_object() else {
            return HashMap::new();
        };
        object
            .iter()
            .filter_map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((k.clone(), value))
            })
            .collect()
    }
}

fn parse_body(headers: &HeaderMap, bytes: &Bytes) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("x-www-form-urlencoded"));
    if !is_form && let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return value;
    }
    if is_form {
        let object: Map<String, Value> = url::form_urlencoded::parse(bytes)
            .into_owned()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Value::Object(object);
    }
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn record(state: &MockState, request: &MockRequest) {
    let mut headers = std::collections::BTreeMap::<String, String>::new();
    for (name, value) in &request.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    let path = match &request.query {
        Some(q) => format!("{}?{q}", request.path),
        None => request.path.clone(),
    };
    state.record(RecordedRequest {
        method: request.method.to_string(),
        path,
        headers,
        body: request.body.clone(),
        raw_body_len: request.raw_len,
    });
}

async fn handle(
    state: Arc<MockState>,
    request: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(reply::detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large (or unreadable)",
            ));
        }
    };
    let request = MockRequest {
        body: parse_body(&parts.headers, &bytes),
        raw_len: bytes.len(),
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
    };
    if !request.path.starts_with("/__mock/") {
        record(&state, &request);
    }
    route(&state, request).await
}

async fn route(
    state: &Arc<MockState>,
    request: MockRequest,
) -> Result<Response<Body>, DropConnection> {
    let response = match (&request.method, request.path.as_str()) {
        (_, "/backend-api/codex/responses") => return backend::responses(state, request).await,
        (&Method::GET, "/backend-api/codex/models") => backend::models(state, &request),
        (&Method::GET, "/backend-api/wham/usage") => backend::usage(state, &request),
        (&Method::GET, "/oauth/authorize") => issuer::authorize(state, &request),
        (&Method::POST, "/oauth/token") => issuer::token(state, &request).await,
        (&Method::POST, "/oauth/revoke") => issuer::revoke(state, &request),
        (&Method::POST, "/api/accounts/deviceauth/usercode") => {
            issuer::device_usercode(state, &request)
        }
        (&Method::POST, "/api/accounts/deviceauth/token") => issuer::device_token(state, &request),
        (&Method::GET, "/codex/device") => issuer::device_page(),
        (_, path) if path.starts_with("/__mock/") => control::handle(state, &request),
        (
            _,
            "/backend-api/codex/models"
            | "/backend-api/wham/usage"
            | "/oauth/authorize"
            | "/oauth/token"
            | "/oauth/revoke"
            | "/api/accounts/deviceauth/usercode"
            | "/api/accounts/deviceauth/token"
            | "/codex/device",
        ) => reply::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        _ => reply::detail(StatusCode::NOT_FOUND, "Not Found"),
    };
    Ok(response)
}
