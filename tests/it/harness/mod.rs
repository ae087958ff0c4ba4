//! The one harness of the integration tests: an isolated home for the real binary
//! ([`Sandbox`]), optionally wired to the in-process mock upstream, plus the helpers
//! every topic shares (outputs, JSON Schema check, multipart bodies, error reader).

pub mod login;
pub mod relay;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use airelays::auth::{CredentialStore, Credentials, Secret, StoreKind, Tokens};
use airelays::config::{Config, CredentialStoreKind, Paths};
use airelays_mock::{IssuedTokens, MockAccount, MockConfig, MockUpstream};
use serde_json::Value;

/// The real `airelays` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_airelays");

/// Variables outside the `AIRELAYS_` prefix that a developer's shell may set and that
/// would change what the binary does (every `AIRELAYS_*` variable is removed too).
const SCRUB: &[&str] = &["RUST_LOG", "NO_COLOR", "SSH_CONNECTION", "SSH_TTY"];

/// A temporary HOME with XDG dirs, so the binary never touches the real user's state;
/// with [`Sandbox::with_mock`], the mock upstream is its issuer and backend.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    mock: Option<MockUpstream>,
}

impl Sandbox {
    /// A sandbox with no upstream (commands that never leave the machine).
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        Sandbox {
            dir,
            env: Vec::new(),
            mock: None,
        }
    }

    /// A sandbox whose binary signs in with, and relays to, a fresh mock upstream.
    pub async fn with_mock(config: MockConfig) -> Sandbox {
        let mock = MockUpstream::start(config).await.expect("mock upstream");
        let mut sandbox = Sandbox::new();
        sandbox.mock = Some(mock);
        sandbox
    }

    /// A sandbox with the default mock upstream.
    pub async fn mocked() -> Sandbox {
        Sandbox::with_mock(MockConfig::default()).await
    }

    /// The mock upstream; panics for a sandbox made with [`Sandbox::new`].
    pub fn mock(&self) -> &MockUpstream {
        self.mock
            .as_ref()
            .expect("this sandbox has no mock upstream")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn config_file(&self) -> PathBuf {
        self.home().join(".config/airelays/config.toml")
    }
    pub fn data_dir(&self) -> PathBuf {
        self.home().join(".local/share/airelays")
    }
    /// Today's traffic log (`logs/traffic-YYYY-MM-DD.jsonl`, a UTC day).
    pub fn traffic_log(&self) -> PathBuf {
        let today = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        self.data_dir()
            .join("logs")
            .join(format!("traffic-{today}.jsonl"))
    }
    /// The paths the binary resolves in this sandbox (its XDG defaults).
    pub fn paths(&self) -> Paths {
        Paths {
            config_file: self.config_file(),
            data_dir: self.data_dir(),
        }
    }

    /// Stops the mock upstream; commands keep pointing at its (now closed) address.
    pub async fn stop_mock(&mut self) {
        if let Some(mock) = self.mock.take() {
            let (issuer, backend) = (mock.issuer_url(), mock.backend_url());
            self.set_env("AIRELAYS_ISSUER_BASE_URL", &issuer)
                .set_env("AIRELAYS_UPSTREAM_BASE_URL", &backend);
            mock.shutdown().await;
        }
    }

    /// Adds a variable to every command this sandbox makes from now on.
    pub fn set_env(&mut self, k: &str, v: &str) -> &mut Sandbox {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The binary with `args`, a clean isolated environment, the file credential
    /// store, stdin closed and, with a mock, the mock as issuer and backend and an
    /// ephemeral callback port.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let home = self.home();
        let mut c = Command::new(BIN);
        c.args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("AIRELAYS_") || SCRUB.contains(&k.as_str()) {
                c.env_remove(k);
            }
        }
        c.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("AIRELAYS_CREDENTIAL_STORE", "file")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(mock) = &self.mock {
            c.env("AIRELAYS_ISSUER_BASE_URL", mock.issuer_url())
                .env("AIRELAYS_UPSTREAM_BASE_URL", mock.backend_url())
                .env("AIRELAYS_CALLBACK_PORT", "0");
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs the binary with `args` to completion (for tests without a runtime).
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run airelays")
    }

    /// Runs `cmd` to completion off the async runtime's threads (the mock serves on it).
    pub async fn output(&self, mut cmd: Command) -> Output {
        tokio::task::spawn_blocking(move || cmd.output().expect("run airelays"))
            .await
            .expect("output waiter")
    }

    /// `status --json`, which must succeed.
    pub async fn status_json(&self) -> Value {
        let out = self.output(self.cmd(&["status", "--json"])).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    /// The library configuration matching [`Sandbox::cmd`].
    pub fn config(&self) -> Config {
        let mut config = Config::defaults(&self.paths());
        config.upstream.issuer_base_url = self.mock().issuer_url();
        config.upstream.base_url = self.mock().backend_url();
        config.auth.credential_store = CredentialStoreKind::File;
        config
    }

    /// The file credential store the binary uses in this sandbox.
    pub fn store(&self) -> CredentialStore {
        CredentialStore::new(self.paths(), CredentialStoreKind::File)
    }

    /// Stores a set minted by the mock, as a `login` would.
    pub async fn seed(&self, issued: &IssuedTokens) -> Credentials {
        let creds = credentials_of(issued);
        self.store()
            .save(&creds, StoreKind::File)
            .await
            .expect("seed credentials");
        creds
    }

    /// Has the mock mint a set and stores it: the sandbox is signed in.
    pub async fn sign_in(&self) -> IssuedTokens {
        let issued = self.mock().state().issue_tokens();
        self.seed(&issued).await;
        issued
    }

    /// Has the mock mint a set for `account` and stores it as account `name`'s, as
    /// `airelays login --account name` would (`default`: today's files).
    pub async fn sign_in_account(&self, name: &str, account: &MockAccount) -> IssuedTokens {
        let issued = self.mock().state().issue_tokens_for(account);
        CredentialStore::new(
            airelays::auth::accounts::account_paths(&self.paths(), name),
            CredentialStoreKind::File,
        )
        .save(&credentials_of(&issued), StoreKind::File)
        .await
        .expect("seed account");
        issued
    }

    /// Every refresh token the mock received, in order.
    pub fn refresh_tokens_sent(&self) -> Vec<String> {
        self.mock()
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

/// The stored form of a set the mock minted.
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
pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}
pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

pub fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
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

/// The boundary of every multipart body the tests build.
const BOUNDARY: &str = "airelays-test-boundary";

/// The `Content-Type` of a body built by [`multipart`].
pub fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The head of a `/v1/files` upload as the OpenAI SDKs order it (`purpose`, then the
/// `file` part's headers, `filename` written as given); the file's bytes and
/// [`multipart_tail`] follow.
pub fn multipart_head(filename: &str, content_type: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes()
}

/// The closing delimiter after the file's bytes.
pub fn multipart_tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

/// A whole `/v1/files` upload body (send it with [`multipart_type`]).
pub fn multipart(filename: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
    [
        multipart_head(filename, content_type),
        data.to_vec(),
        multipart_tail(),
    ]
    .concat()
}

pub fn status_schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-schema.json");
    serde_json::from_slice(&std::fs::read(path).expect("schema")).expect("schema json")
}

/// Checks `value` against the subset of JSON Schema the project's schemas use
/// (type incl. unions, required, properties, additionalProperties:false, enum,
/// items). Returns every violation with its JSON path.
pub fn schema_errors(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    errors
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn check(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let ok = match t {
            Value::String(s) => type_matches(s, v),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|s| type_matches(s, v)),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: expected type {t}, got {v}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{at}: {v} not in {options:?}"));
    }
    if let Value::Object(map) = v {
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    errors.push(format!("{at}: missing required `{r}`"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, child) in map {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, child, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected property `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{at}[{i}]"), errors);
        }
    }
}
