//! A real relay process against the in-process mock upstream, on ephemeral
//! loopback ports, with an isolated home.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::signin::credentials_of;
use airelays::auth::StoreKind;
use airelays::config::{CredentialStoreKind, Paths};
use airelays_mock::{IssuedTokens, MockConfig, MockUpstream};

use super::Sandbox;

pub struct Relay {
    pub sandbox: Sandbox,
    pub mock: MockUpstream,
    pub child: Option<Child>,
    pub port: u16,
    pub token: String,
    pub http: reqwest::Client,
    pub stdout_lines: Vec<String>,
}

pub struct RelayOptions {
    pub signed_in: bool,
    pub env: Vec<(&'static str, String)>,
    pub mock: MockConfig,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            signed_in: true,
            env: Vec::new(),
            mock: MockConfig::default(),
        }
    }
}

pub fn paths_of(sb: &Sandbox) -> Paths {
    Paths {
        config_file: sb.config_file(),
        data_dir: sb.data_dir(),
    }
}

/// Stores credentials minted by the mock, as `airelays login` would.
pub async fn seed_login(sb: &Sandbox, mock: &MockUpstream) -> IssuedTokens {
    let issued = mock.state().issue_tokens();
    let store = airelays::auth::CredentialStore::new(paths_of(sb), CredentialStoreKind::File);
    std::fs::create_dir_all(sb.data_dir()).unwrap();
    store
        .save(&credentials_of(&issued), StoreKind::File)
        .await
        .expect("seed credentials");
    issued
}

impl Relay {
    pub async fn start(opts: RelayOptions) -> Relay {
        let mock = MockUpstream::start(opts.mock).await.expect("mock upstream");
        let mut sandbox = Sandbox::new();
        sandbox
            .set_env("AIRELAYS_UPSTREAM_BASE_URL", &mock.backend_url())
            .set_env("AIRELAYS_ISSUER_BASE_URL", &mock.issuer_url())
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
            seed_login(&sandbox, &mock).await;
        }
        let mut relay = Relay {
            sandbox,
            mock,
            child: None,
            port: 0,
            token,
            http: test_client(),
            stdout_lines: Vec::new(),
        };
        relay.spawn();
        relay
    }

    /// Starts the relay process and waits for its banner (the real port).
    pub fn spawn(&mut self) {
        let mut child = self
            .sandbox
            .cmd()
            .arg("serve")
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

    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(self.sandbox.dir.path().join("relay.stderr")).unwrap_or_default()
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
