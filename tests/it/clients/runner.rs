//! Runs the pinned real clients (`scripts/setup-clients` installs them under
//! `tests/clients/`) against a relay: each in a temporary home with a clean
//! environment, in its own process group, bounded by [`CLIENT_TIMEOUT`].
//!
//! A missing venv or `node_modules` fails the test with the command that installs
//! them: these tests are never skipped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Longest a client may run before it is killed and the test fails; a safety net
/// for a hung client, not a timing assertion.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// `tests/clients`, where the scripts, the venv and `node_modules` live.
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// A pinned client installed by `scripts/setup-clients` (relative to `tests/clients`),
/// or a panic that says how to install it.
pub fn client(relative: &str) -> PathBuf {
    let path = clients_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-clients (it installs the pinned Python and Node clients)",
        path.display()
    );
    path
}

/// A temporary home for one client: `HOME`, the XDG dirs and a working directory.
pub struct ClientHome {
    dir: tempfile::TempDir,
}

impl ClientHome {
    pub fn new() -> ClientHome {
        let home = ClientHome {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(home.work()).unwrap();
        std::fs::create_dir_all(home.path()).unwrap();
        home
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `program` with a clean environment: this home, the system PATH, the proxy and CA
    /// settings of the machine (loopback always bypasses a proxy), run in `work()`.
    pub fn command(&self, program: &Path) -> Command {
        let home = self.path();
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .current_dir(self.work())
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8");
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "NODE_EXTRA_CA_CERTS",
            "npm_config_registry",
        ] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        let no_proxy = match std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy")) {
            Ok(list) if !list.is_empty() => format!("{list},127.0.0.1,localhost"),
            _ => "127.0.0.1,localhost".to_string(),
        };
        cmd.env("NO_PROXY", &no_proxy).env("no_proxy", &no_proxy);
        cmd
    }
}

/// What a finished client printed.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn assert_ok(&self) {
        assert_eq!(self.code, Some(0), "{self:#?}");
    }

    /// The one JSON object a client script printed; panics (with stderr) if it failed.
    pub fn json(&self) -> Value {
        self.assert_ok();
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("the client printed no JSON object ({e}):\n{self:#?}"))
    }
}

/// Runs a client to completion in its own process group, with stdin closed, killing the
/// whole group if it outlives [`CLIENT_TIMEOUT`] (and after it exits, so nothing it
/// started lingers). Off the async runtime's threads: the mock upstream serves on them.
pub async fn run(mut cmd: Command) -> Ran {
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = child.id();
        let readers = [
            reader(child.stdout.take().unwrap()),
            reader(child.stderr.take().unwrap()),
        ];
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx.recv_timeout(CLIENT_TIMEOUT);
        // The group's id is the child's pid; this also ends a child that timed out.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let [stdout, stderr] = readers.map(|r| r.join().unwrap());
        let Ok(status) = status else {
            return Err(format!(
                "{cmd:?} did not finish within {CLIENT_TIMEOUT:?} and was killed\nstdout:\n{stdout}\nstderr:\n{stderr}"
            ));
        };
        Ok(Ran {
            code: status.expect("wait").code(),
            stdout,
            stderr,
        })
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `tests/clients/python/<script>` with the venv's Python, the OpenAI SDK
/// variables pointing at `base_url` with `api_key`.
pub async fn python_script(script: &str, base_url: &str, api_key: &str) -> Ran {
    python_script_with(script, &[], base_url, api_key).await
}

/// [`python_script`] with command-line arguments for the script.
pub async fn python_script_with(script: &str, args: &[&str], base_url: &str, api_key: &str) -> Ran {
    let home = ClientHome::new();
    let mut cmd = home.command(&client(".venv/bin/python"));
    cmd.arg(clients_dir().join("python").join(script))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    sdk_run(cmd, base_url, api_key).await
}

/// Runs `tests/clients/node/<script>` with `node` from `tests/clients/node`, the
/// OpenAI SDK variables pointing at `base_url` with `api_key`.
pub async fn node_script(script: &str, base_url: &str, api_key: &str) -> Ran {
    let dir = client("node/node_modules/openai")
        .parent()
        .and_then(Path::parent)
        .expect("tests/clients/node")
        .to_path_buf();
    let home = ClientHome::new();
    let mut cmd = home.command(Path::new("node"));
    cmd.arg(dir.join(script)).current_dir(&dir);
    sdk_run(cmd, base_url, api_key).await
}

async fn sdk_run(mut cmd: Command, base_url: &str, api_key: &str) -> Ran {
    cmd.env("OPENAI_BASE_URL", base_url)
        .env("OPENAI_API_KEY", api_key);
    run(cmd).await
}
