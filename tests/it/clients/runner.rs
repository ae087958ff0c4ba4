//! Runs the pinned real clients (`scripts/setup-clients` installs them under
//! `tests/clients/`) against a relay, each with a temporary HOME.
//!
//! A client script prints one JSON object on stdout; [`ClientRun::json`] parses it.
//! A missing venv or `node_modules` fails the test with the command that installs
//! them: these tests are never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Longest a client may run before it is killed and the test fails; a safety net
/// for a hung client, not a timing assertion.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// `tests/clients`, where the scripts, the venv and `node_modules` live.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// The venv's Python, or a panic that says how to create it.
pub fn python() -> PathBuf {
    let p = clients_dir().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-clients (it installs the pinned Python and Node clients)",
        p.display()
    );
    p
}

/// `tests/clients/node`, after checking that its `node_modules` is installed.
pub fn node_dir() -> PathBuf {
    let dir = clients_dir().join("node");
    assert!(
        dir.join("node_modules/openai").exists(),
        "{} is missing: run scripts/setup-clients (it installs the pinned Python and Node clients)",
        dir.join("node_modules").display()
    );
    dir
}

/// What a client process did.
pub struct ClientRun {
    pub what: String,
    pub output: Output,
}

impl ClientRun {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The one JSON object the script printed; panics (with stderr) if it failed.
    pub fn json(&self) -> Value {
        assert!(
            self.output.status.success(),
            "{} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!(
                "{} printed no JSON object ({e}):\n{}\nstderr:\n{}",
                self.what,
                self.stdout(),
                self.stderr()
            )
        })
    }
}

/// A client command with an isolated environment: a fresh HOME, no proxies, and the
/// OpenAI SDK variables pointing at `base_url` with `api_key`.
pub struct Client {
    cmd: Command,
    what: String,
    _home: tempfile::TempDir,
}

impl Client {
    /// `tests/clients/python/<script>` run by the venv's Python.
    pub fn python(script: &str, base_url: &str, api_key: &str) -> Client {
        let mut cmd = Command::new(python());
        cmd.arg(clients_dir().join("python").join(script));
        Client::new(cmd, script, base_url, api_key)
    }

    /// `tests/clients/node/<script>` run by `node` from `tests/clients/node`.
    pub fn node(script: &str, base_url: &str, api_key: &str) -> Client {
        let dir = node_dir();
        let mut cmd = Command::new("node");
        cmd.arg(dir.join(script)).current_dir(&dir);
        Client::new(cmd, script, base_url, api_key)
    }

    fn new(mut cmd: Command, what: &str, base_url: &str, api_key: &str) -> Client {
        let home = tempfile::tempdir().expect("client home");
        for (k, _) in std::env::vars() {
            let lower = k.to_ascii_lowercase();
            if lower.ends_with("_proxy") || k.starts_with("OPENAI_") || k.starts_with("AIRELAYS_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_CACHE_HOME", home.path().join(".cache"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("OPENAI_BASE_URL", base_url)
            .env("OPENAI_API_KEY", api_key);
        Client {
            cmd,
            what: what.to_string(),
            _home: home,
        }
    }

    /// Runs the client to the end without blocking the async runtime (the mock
    /// upstream serves on it), killing it if it outlives [`CLIENT_TIMEOUT`].
    pub async fn run(mut self) -> ClientRun {
        let child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", self.what));
        let pid = child.id();
        let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
        let output = match tokio::time::timeout(CLIENT_TIMEOUT, waiting).await {
            Ok(joined) => joined.expect("client waiter").expect("client output"),
            Err(_) => {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
                panic!("{} did not finish within {CLIENT_TIMEOUT:?}", self.what);
            }
        };
        ClientRun {
            what: self.what,
            output,
        }
    }
}
