//! Shared helpers for the sign-in tests: a temporary HOME and data dir, the mock
//! upstream, and the real `airelays` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use airelays::auth::{CredentialStore, Credentials, Secret, StoreKind, Tokens};
use airelays::config::{Config, CredentialStoreKind, Paths};
use airelays_mock::{IssuedTokens, MockConfig, MockUpstream};
use serde_json::Value;

pub use super::BIN;

/// Variables a developer's shell may set that would change what the binary does.
const SCRUB: &[&str] = &[
    "AIRELAYS_CONFIG",
    "AIRELAYS_DATA_DIR",
    "AIRELAYS_CREDENTIAL_STORE",
    "AIRELAYS_CALLBACK_PORT",
    "AIRELAYS_OPEN_BROWSER",
    "AIRELAYS_LOGIN_TIMEOUT_SECONDS",
    "AIRELAYS_CLIENT_ID",
    "AIRELAYS_BEARER_TOKEN",
    "SSH_CONNECTION",
    "SSH_TTY",
    "RUST_LOG",
];

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub mock: MockUpstream,
    pub paths: Paths,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        TestEnv::with_mock(MockConfig::default()).await
    }

    pub async fn with_mock(config: MockConfig) -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        let mock = MockUpstream::start(config).await.unwrap();
        let paths = Paths {
            config_file: dir.path().join("config/config.toml"),
            data_dir: dir.path().join("data"),
        };
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        TestEnv { dir, mock, paths }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The binary with a private HOME, the mock as issuer and backend, an ephemeral
    /// callback port and the file store.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(&self.paths.config_file)
            .arg("--data-dir")
            .arg(&self.paths.data_dir)
            .args(args);
        for var in SCRUB {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env("AIRELAYS_ISSUER_BASE_URL", self.mock.issuer_url())
            .env("AIRELAYS_UPSTREAM_BASE_URL", self.mock.backend_url())
            .env("AIRELAYS_CALLBACK_PORT", "0")
            .env("AIRELAYS_CREDENTIAL_STORE", "file")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to completion (off the async runtime's threads).
    pub async fn run(&self, mut cmd: Command) -> Output {
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    pub async fn status_json(&self) -> Value {
        let out = self.run(self.cmd(&["status", "--json"])).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The library configuration matching [`TestEnv::cmd`].
    pub fn config(&self) -> Config {
        let mut config = Config::defaults(&self.paths);
        config.upstream.issuer_base_url = self.mock.issuer_url();
        config.upstream.base_url = self.mock.backend_url();
        config.auth.credential_store = CredentialStoreKind::File;
        config
    }

    pub fn store(&self) -> CredentialStore {
        CredentialStore::new(self.paths.clone(), CredentialStoreKind::File)
    }

    /// Stores a set minted by the mock, as a `login` would.
    pub async fn seed(&self, issued: &IssuedTokens) -> Credentials {
        let creds = credentials_of(issued);
        self.store().save(&creds, StoreKind::File).await.unwrap();
        creds
    }

    /// Every refresh token the mock received, in order.
    pub fn refresh_tokens_sent(&self) -> Vec<String> {
        self.mock
            .state()
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/oauth/token"))
            .filter(|r| r.body.get("grant_type").and_then(Value::as_str) == Some("refresh_token"))
            .filter_map(|r| {
                r.body
                    .get("refresh_token")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect()
    }

    /// Asserts that no refresh token was ever sent twice.
    pub fn assert_no_refresh_token_reused(&self) {
        let sent = self.refresh_tokens_sent();
        let mut unique = sent.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), sent.len(), "a refresh token was sent twice");
    }
}

pub fn credentials_of(issued: &IssuedTokens) -> Credentials {
    Credentials::from_tokens(
        Tokens {
            id_token: Secret::new(issued.id_token.clone()),
            access_token: Secret::new(issued.access_token.clone()),
            refresh_token: Secret::new(issued.refresh_token.clone()),
        },
        jiff::Timestamp::now(),
    )
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `airelays login` whose stdout is read line by line.
pub struct RunningLogin {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub stdout: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl RunningLogin {
    pub fn spawn(mut cmd: Command) -> RunningLogin {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        RunningLogin {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    /// Waits (bounded) for a stdout line matching `pred`.
    pub async fn line_where(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.lines.try_recv() {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                    // The printed link is the one-time start path: play its first hop
                    // (cookie + redirect) and offer the authorize URL it leads to.
                    if line.starts_with("http://localhost:") && line.contains("/start/") {
                        let (status, location, _) = get(&browser(), &line).await;
                        if let Some(authorize) = location.filter(|l| status == 302 && pred(l)) {
                            return authorize;
                        }
                    }
                }
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no matching line; stdout so far: {:?}",
                        self.stdout
                    );
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    panic!("login ended without the line; stdout: {:?}", self.stdout)
                }
            }
        }
    }

    /// Waits for the process to exit; returns (exit code, all stdout, stderr).
    pub async fn finish(mut self) -> (i32, String, String) {
        let mut child = self.child;
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        while let Ok(line) = self.lines.recv() {
            self.stdout.push(line);
        }
        let stderr = self.stderr.join().unwrap();
        (status.code().unwrap_or(-1), self.stdout.join("\n"), stderr)
    }
}

/// An HTTP client that does not follow redirects (the test plays the browser).
pub fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Cookies set by the login's loopback pages, per port: the test is one browser.
static COOKIES: std::sync::Mutex<Vec<(u16, String, String)>> = std::sync::Mutex::new(Vec::new());

fn loopback_port(url: &str) -> Option<u16> {
    let url = url::Url::parse(url).ok()?;
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        .then(|| url.port())
        .flatten()
}

/// GET without following redirects, sending and keeping loopback cookies like a browser.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    let port = loopback_port(url);
    let mut request = client.get(url);
    if let Some(port) = port {
        let jar = COOKIES.lock().unwrap();
        let header: Vec<String> = jar
            .iter()
            .filter(|(p, _, _)| *p == port)
            .map(|(_, n, v)| format!("{n}={v}"))
            .collect();
        if !header.is_empty() {
            request = request.header("cookie", header.join("; "));
        }
    }
    let response = request.send().await.unwrap();
    if let Some(port) = port {
        let mut jar = COOKIES.lock().unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                jar.retain(|(p, n, _)| !(*p == port && n == name));
                jar.push((port, name.to_string(), value.to_string()));
            }
        }
    }
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (status, location, response.text().await.unwrap())
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Polls `cond` until it holds, for at most `limit`.
pub async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if cond().await {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
