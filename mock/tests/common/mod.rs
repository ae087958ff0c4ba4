//! A deliberately small HTTP/1.1 client over a raw `TcpStream`, so the tests see exactly what
//! the mock put on the wire: a chunked body that never terminates, a connection closed before
//! any response, an SSE line of any length.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use airelays_mock::{IssuedTokens, MockConfig, MockUpstream};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// False when a chunked body ended without its terminating chunk.
    pub complete: bool,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn events(&self) -> Vec<SseEvent> {
        parse_sse(&self.text())
    }
}

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v);
                }
            }
            SseEvent {
                event,
                data: data.join("\n"),
            }
        })
        .collect()
}

/// The `data` JSON of every event that has one, in order.
pub fn event_json(response: &HttpResponse) -> Vec<Value> {
    response
        .events()
        .iter()
        .filter_map(SseEvent::json)
        .collect()
}

/// The `type` of every JSON event, in order.
pub fn event_types(response: &HttpResponse) -> Vec<String> {
    event_json(response)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut data: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return (body, false);
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (body, false);
        };
        data = &data[line_end + 2..];
        if size == 0 {
            return (body, data.starts_with(b"\r\n"));
        }
        if data.len() < size + 2 {
            body.extend_from_slice(&data[..size.min(data.len())]);
            return (body, false);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no complete response head in {} bytes", raw.len()),
        )
    })?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let (body, complete) = if chunked {
        decode_chunked(rest)
    } else {
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        match length {
            Some(n) => (rest[..n.min(rest.len())].to_vec(), rest.len() >= n),
            None => (rest.to_vec(), true),
        }
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
        complete,
    })
}

/// Sends one request on a fresh connection and reads until the server closes it.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(&request_bytes(method, path, headers, body))
        .await?;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after some data still lets us look at what arrived.
            Err(_) if !raw.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    parse_response(&raw)
}

/// Sends a request and returns the open connection once `needle` has been received.
pub async fn open_until(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    needle: &str,
) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&request_bytes("POST", path, headers, body))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while find(&seen, needle.as_bytes()).is_none() {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before {needle:?} arrived");
        seen.extend_from_slice(&buf[..n]);
    }
    stream
}

/// Polls `condition` (bounded: about 5 s) instead of sleeping a fixed time.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    condition()
}

pub async fn start() -> MockUpstream {
    MockUpstream::start(MockConfig::default()).await.unwrap()
}

pub async fn get(mock: &MockUpstream, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    send(mock.addr(), "GET", path, headers, b"").await.unwrap()
}

pub async fn post_json(
    mock: &MockUpstream,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> HttpResponse {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(mock.addr(), "POST", path, &all, body.to_string().as_bytes())
        .await
        .unwrap()
}

pub async fn post_form(mock: &MockUpstream, path: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    send(
        mock.addr(),
        "POST",
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await
    .unwrap()
}

/// `Authorization` and `ChatGPT-Account-ID` for these tokens.
pub fn auth(tokens: &IssuedTokens) -> Vec<(String, String)> {
    vec![
        (
            "authorization".to_owned(),
            format!("Bearer {}", tokens.access_token),
        ),
        ("ChatGPT-Account-ID".to_owned(), tokens.account_id.clone()),
    ]
}

pub fn as_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

pub fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// A valid Codex-style request body with `input`.
pub fn body_with(input: Value) -> Value {
    json!({
        "model": "gpt-5.5",
        "instructions": "You are a test.",
        "input": input,
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
    })
}

pub fn body_for(prompt: &str) -> Value {
    body_with(json!([user(prompt)]))
}

/// POSTs `body` to `/backend-api/codex/responses` with valid credentials.
pub async fn responses(mock: &MockUpstream, tokens: &IssuedTokens, body: &Value) -> HttpResponse {
    let headers = auth(tokens);
    post_json(
        mock,
        "/backend-api/codex/responses",
        &as_refs(&headers),
        body,
    )
    .await
}

/// The final `response` object of the `response.completed` event.
pub fn completed(response: &HttpResponse) -> Value {
    let events = event_json(response);
    let last = events.last().expect("no events");
    assert_eq!(
        last["type"],
        "response.completed",
        "stream: {}",
        response.text()
    );
    last["response"].clone()
}

/// The concatenated `response.output_text.delta` deltas.
pub fn streamed_text(response: &HttpResponse) -> String {
    event_json(response)
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap().to_owned())
        .collect()
}
