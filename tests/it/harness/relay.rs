//! A real relay process against the in-process mock upstream, on ephemeral
//! loopback ports, with an isolated home.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use airelays_mock::MockConfig;
use serde_json::Value;

use super::Sandbox;

/// A relay process (`airelays serve`) in its own sandbox, with the mock upstream.
pub struct Relay {
    pub sandbox: Sandbox,
    pub child: Option<Child>,
    pub port: u16,
    pub token: String,
    pub http: reqwest::Client,
    pub stdout_lines: Vec<String>,
    /// Extra `serve` arguments, kept across restarts.
    pub serve_args: Vec<&'static str>,
}

/// The mock backend's Responses endpoint, where every relayed request ends up.
pub const UPSTREAM_RESPONSES: &str = "/backend-api/codex/responses";

/// How [`Relay::start`] sets the relay up.
pub struct RelayOptions {
    pub signed_in: bool,
    pub env: Vec<(&'static str, String)>,
    pub mock: MockConfig,
    /// Arguments after `serve`.
    pub serve_args: Vec<&'static str>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            signed_in: true,
            env: Vec::new(),
            mock: MockConfig::default(),
            serve_args: Vec::new(),
        }
    }
}

impl Relay {
    pub async fn start(opts: RelayOptions) -> Relay {
        let mut sandbox = Sandbox::with_mock(opts.mock).await;
        sandbox
            .set_env("AIRELAYS_PORT", "0")
            .set_env("AIRELAYS_STREAM_IDLE_TIMEOUT_SECONDS", "5")
            .set_env("AIRELAYS_SHUTDOWN_GRACE_SECONDS", "5");
        for (k, v) in &opts.env {
            sandbox.set_env(k, v);
        }
        let init = sandbox.run(&["init", "--json"]);
        assert!(init.status.success(), "{}", super::stderr(&init));
        let token = super::json_of(&init)["relay_token"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if opts.signed_in {
            sandbox.sign_in().await;
        }
        let mut relay = Relay {
            sandbox,
            child: None,
            port: 0,
            token,
            http: test_client(),
            stdout_lines: Vec::new(),
            serve_args: opts.serve_args,
        };
        relay.spawn();
        relay
    }

    /// Starts the relay process and waits for its banner (the real port).
    pub fn spawn(&mut self) {
        let mut child = self
            .sandbox
            .cmd(&[&["serve"], self.serve_args.as_slice()].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn relay");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let port = loop {
            let line = lines
                .next()
                .expect("relay exited before its banner")
                .expect("read banner");
            seen.push(line.clone());
            if let Some(url) = line.trim().strip_prefix("Base URL:") {
                let url = url.trim();
                let port = url.rsplit(':').next().unwrap().trim_end_matches("/v1");
                break port.parse::<u16>().expect("port in banner");
            }
        };
        for line in lines.by_ref() {
            let line = line.expect("read banner");
            let last = line.contains("Stop with Ctrl-C");
            seen.push(line);
            if last {
                break;
            }
        }
        // Keep draining stdout so the relay never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let stderr = child.stderr.take().unwrap();
        let log = self.sandbox.dir.path().join("relay.stderr");
        std::thread::spawn(move || {
            // Appended across restarts; the sandbox may be gone when a killed relay's
            // pipe closes at the end of a test.
            let mut reader = BufReader::new(stderr);
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                Ok(mut f) => drop(std::io::copy(&mut reader, &mut f)),
                Err(_) => drop(std::io::copy(&mut reader, &mut std::io::sink())),
            }
        });
        self.stdout_lines = seen;
        self.port = port;
        self.child = Some(child);
    }

    /// The mock upstream behind this relay.
    pub fn mock(&self) -> &airelays_mock::MockUpstream {
        self.sandbox.mock()
    }

    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(self.sandbox.dir.path().join("relay.stderr")).unwrap_or_default()
    }

    /// The port of the `ollama.listen` listener, from the banner's `Ollama:` line.
    pub fn ollama_port(&self) -> u16 {
        self.stdout_lines
            .iter()
            .find_map(|l| l.trim().strip_prefix("Ollama:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|url| url.rsplit(':').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no Ollama listener in the banner: {:?}", self.stdout_lines))
    }

    /// A URL on the `ollama.listen` listener.
    pub fn ollama_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ollama_port())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header("authorization", self.bearer())
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("authorization", self.bearer())
            .json(body)
    }

    /// A `POST /v1/files` with the token; add a [`super::multipart`] body.
    pub fn upload_request(&self) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/v1/files"))
            .header("authorization", self.bearer())
            .header("content-type", super::multipart_type())
    }

    /// Uploads `data` as `filename` with the part type `content_type`; returns the
    /// status and the JSON answer (the file object or an error).
    pub async fn upload(
        &self,
        filename: &str,
        content_type: &str,
        data: &[u8],
    ) -> (u16, serde_json::Value) {
        let body = super::multipart(filename, content_type, data);
        let resp = self.upload_request().body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON answer"))
    }

    /// The bodies of the upstream Responses requests the mock received, oldest first.
    pub fn upstream_bodies(&self) -> Vec<serde_json::Value> {
        self.mock()
            .state()
            .requests()
            .into_iter()
            .filter(|q| q.method == "POST" && q.path.starts_with(UPSTREAM_RESPONSES))
            .map(|q| q.body)
            .collect()
    }

    /// The user message parts of the upstream request whose last user text starts
    /// with `marker`.
    pub fn upstream_parts_for(&self, marker: &str) -> Vec<serde_json::Value> {
        let body = self
            .upstream_bodies()
            .into_iter()
            .find(|b| last_user_text(b).starts_with(marker))
            .unwrap_or_else(|| panic!("no upstream request for {marker}"));
        let item = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|i| i["role"] == "user")
            .unwrap()
            .clone();
        item["content"].as_array().unwrap().clone()
    }

    pub async fn relay_status(&self) -> serde_json::Value {
        self.get("/v1/relay/status")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls `check` on the relay status until it holds (bounded).
    pub async fn wait_for_status(
        &self,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        for _ in 0..200 {
            let s = self.relay_status().await;
            if check(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "relay status never satisfied: {what}: {}",
            self.relay_status().await
        );
    }

    /// Kills the relay with SIGKILL (a crash: no shutdown code runs) and reaps it.
    /// [`Relay::spawn`] starts it again on the same data dir.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the relay");
            child.wait().expect("reap the relay");
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The text of the last user message of an upstream request.
pub fn last_user_text(body: &serde_json::Value) -> String {
    let item = body["input"]
        .as_array()
        .and_then(|items| items.iter().rev().find(|i| i["role"] == "user"))
        .unwrap_or_else(|| panic!("no user item in {body}"));
    match &item["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        other => panic!("odd content {other}"),
    }
}

/// A text request to `/v1/responses`.
pub fn text_request(prompt: &str, stream: bool) -> Value {
    serde_json::json!({"model": "gpt-5.5", "input": prompt, "stream": stream})
}

/// Parses an SSE body into (event name, data JSON) pairs.
pub fn sse_events(body: &str) -> Vec<(Option<String>, serde_json::Value)> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut event = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            }
        }
        if data.is_empty() {
            continue;
        }
        let value = serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
        out.push((event, value));
    }
    out
}

/// A plain HTTP client for tests (rustls needs its provider installed once).
pub fn test_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("test client")
}

/// Reads an error answer: status, `Retry-After`, and the OpenAI error envelope
/// (checked to have a message, type, param and code).
pub async fn error_of(resp: reqwest::Response) -> (u16, Option<String>, serde_json::Value) {
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: serde_json::Value = resp.json().await.expect("error body is JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["error"].get("type").is_some()
            && body["error"].get("param").is_some()
            && body["error"].get("code").is_some(),
        "{body}"
    );
    (status, retry, body)
}

/// Sends a request that must fail with `status` and error `code`; returns its
/// `Retry-After` and the error envelope.
pub async fn expect_error(
    req: reqwest::RequestBuilder,
    status: u16,
    code: &str,
) -> (Option<String>, serde_json::Value) {
    let (s, retry, body) = error_of(req.send().await.expect("request sent")).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    (retry, body)
}

/// Every text of every input item of an upstream request, in order: message
/// parts and tool outputs, and with `calls` a `call:<name>` for each function call.
pub fn input_texts(body: &serde_json::Value, calls: bool) -> Vec<String> {
    let mut out = Vec::new();
    for item in body["input"].as_array().into_iter().flatten() {
        match &item["content"] {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(parts) => out.extend(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .map(String::from),
            ),
            _ => {}
        }
        if let Some(o) = item["output"].as_str() {
            out.push(o.to_string());
        }
        if calls && item["type"] == "function_call" {
            out.push(format!("call:{}", item["name"].as_str().unwrap_or("")));
        }
    }
    out
}
