//! The processes under test: the mock upstream, the airelays relay (and, optionally, an
//! older airelays build as the baseline) and AIRelays 0.22, each in a private temporary
//! home, on 127.0.0.1 only; plus their RSS and CPU time from /proc.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::{Call, Conn};

/// Settings that lift the relays' per-IP limiter out of the way of a load test.
const LIMITS: [(&str, &str); 3] = [
    ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1000000"),
    ("AIRELAYS_RATE_LIMIT_BURST", "1000000"),
    ("AIRELAYS_CONCURRENT_REQUESTS_PER_IP", "100000"),
];

/// A child process that is killed when dropped.
pub struct Proc {
    pub child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl Proc {
    /// Resident set size (VmRSS) and its peak (VmHWM), in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.pid)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub async fn stop(mut self, grace: Duration) {
        signal(self.pid, "TERM").await;
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// Sends signal `name` (TERM, KILL…) to `pid` and waits for `kill` to return; for `Drop`
/// impls, which cannot await.
pub fn signal_blocking(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The pids of `pid`'s children (nginx's workers under its master), from
/// `/proc/<pid>/task/<pid>/children`, or by their parent pid in `/proc/*/stat` where the
/// kernel lacks that file.
pub fn children(pid: u32) -> Vec<u32> {
    if let Ok(list) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        return list
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| stat_fields(child).get(1).and_then(|f| f.parse().ok()) == Some(pid))
        .collect()
}

pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Clock ticks per second of /proc/<pid>/stat (USER_HZ), asked once from `getconf`.
fn ticks_per_second() -> u64 {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The fields of `/proc/<pid>/stat` after the command name (state, ppid, …); empty when
/// the process is gone.
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after.split_whitespace().map(str::to_owned).collect()
}

/// CPU time (utime + stime) of `pid`, all its threads.
pub fn cpu_time(pid: u32) -> Duration {
    let fields = stat_fields(pid);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_secs_f64(ticks as f64 / ticks_per_second() as f64)
}

/// CPU time of `pid` and of its children (nginx: the master and its workers).
pub fn tree_cpu_time(pid: u32) -> Duration {
    children(pid)
        .into_iter()
        .map(cpu_time)
        .fold(cpu_time(pid), |sum, c| sum + c)
}

/// `name` on `PATH`, else in `/usr/sbin` or `/usr/bin` (Debian puts nginx in `/usr/sbin`,
/// which a non-root `PATH` often lacks).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The program at `given` (a `--nginx`/`--wrk PATH`, which must exist), else `name` found
/// by [`find_program`]; the error says how to get it (`install`).
pub fn program(given: Option<&PathBuf>, name: &str, install: &str) -> Result<PathBuf, String> {
    match given {
        Some(p) if p.is_file() => Ok(p.clone()),
        Some(p) => Err(format!("{name}: {} does not exist", p.display())),
        None => find_program(name).ok_or_else(|| format!("{name} not found ({install})")),
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A private scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("airelays-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The mock upstream and the credentials it minted for the direct client.
pub struct Mock {
    pub proc: Proc,
    pub issuer_url: String,
    pub backend_url: String,
    pub access_token: String,
    pub account_id: String,
}

pub async fn start_mock(binary: &Path) -> Result<Mock, String> {
    let mut child = Command::new(binary)
        .arg("--seed-tokens")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("mock has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .map_err(|_| "the mock printed nothing within 20 s".to_owned())?
        .map_err(|e| e.to_string())?
        .ok_or("the mock exited before printing its URLs")?;
    let v: Value = serde_json::from_str(&line).map_err(|e| format!("mock line {line:?}: {e}"))?;
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let port = v["port"].as_u64().ok_or("mock line has no port")? as u16;
    let pid = child.id().ok_or("mock has no pid")?;
    Ok(Mock {
        proc: Proc {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        },
        issuer_url: s("/issuer_url"),
        backend_url: s("/backend_url"),
        access_token: s("/tokens/access_token"),
        account_id: s("/tokens/account_id"),
    })
}

impl Mock {
    /// Mints a fresh credential set (`POST /__mock/tokens`).
    pub async fn mint_tokens(&self) -> Result<Value, String> {
        let mut conn = Conn::open(self.proc.addr).await?;
        let (_, body) = conn
            .exchange(&Call::post_json("/__mock/tokens", "{}".into()), true)
            .await?;
        serde_json::from_slice(&body).map_err(|e| format!("/__mock/tokens: {e}"))
    }
}

/// How to start one relay (ours or AIRelays 0.22) again and again in the same home.
#[derive(Clone)]
pub struct Launcher {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
    pub port: u16,
    pub token: String,
}

impl Launcher {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Starts the server and waits for `/healthz`; also returns the time from spawn to the
    /// first answer.
    pub async fn start(&self) -> Result<(Proc, Duration), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let child = self
            .command(&args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let pid = child.id().ok_or("no pid")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut proc = Proc { child, pid, addr };
        let deadline = Duration::from_secs(60);
        loop {
            if let Ok(mut conn) = Conn::open(addr).await
                && conn.exchange(&Call::get("/healthz"), false).await.is_ok()
            {
                return Ok((proc, started.elapsed()));
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                return Err(format!(
                    "{} exited with {status} before answering /healthz; see {}",
                    self.name,
                    self.log.display()
                ));
            }
            if started.elapsed() > deadline {
                return Err(format!("{} did not answer /healthz in 60 s", self.name));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Runs a one-shot subcommand; its wall time and stdout.
    pub async fn run(&self, args: &[&str]) -> Result<(Duration, Vec<u8>), String> {
        let started = Instant::now();
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            self.command(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output(),
        )
        .await
        .map_err(|_| format!("{} {args:?} took over 60 s", self.name))?
        .map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} {args:?} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok((took, out.stdout))
    }
}

fn home_env(home: &Path, mock: &Mock) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_owned(), home.display().to_string()),
        (
            "XDG_CONFIG_HOME".to_owned(),
            home.join(".config").display().to_string(),
        ),
        (
            "XDG_DATA_HOME".to_owned(),
            home.join(".local/share").display().to_string(),
        ),
        (
            "AIRELAYS_CONFIG".to_owned(),
            home.join("config.toml").display().to_string(),
        ),
        (
            "AIRELAYS_DATA_DIR".to_owned(),
            home.join("data").display().to_string(),
        ),
        (
            "AIRELAYS_UPSTREAM_BASE_URL".to_owned(),
            mock.backend_url.clone(),
        ),
        (
            "AIRELAYS_ISSUER_BASE_URL".to_owned(),
            mock.issuer_url.clone(),
        ),
        ("AIRELAYS_HOST".to_owned(), "127.0.0.1".to_owned()),
    ];
    env.extend(
        LIMITS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// Prepares an airelays binary (named `name` in messages) in `home`: `init`, then `login
/// --device` against the mock (which approves device codes by itself), with the file
/// credential store.
pub async fn prepare_relay(
    name: &'static str,
    binary: &Path,
    home: &Path,
    mock: &Mock,
) -> Result<Launcher, String> {
    std::fs::create_dir_all(home).map_err(|e| e.to_string())?;
    let port = free_port();
    let mut env = home_env(home, mock);
    env.push(("AIRELAYS_CREDENTIAL_STORE".to_owned(), "file".to_owned()));
    env.push(("AIRELAYS_OPEN_BROWSER".to_owned(), "false".to_owned()));
    let mut launcher = Launcher {
        name,
        program: binary.to_path_buf(),
        args: vec!["serve".into(), "--port".into(), port.to_string()],
        env,
        log: home.join("serve.log"),
        port,
        token: String::new(),
    };
    let (_, out) = launcher.run(&["init", "--json"]).await?;
    let v: Value = serde_json::from_slice(&out).map_err(|e| format!("init --json: {e}"))?;
    launcher.token = v
        .pointer("/relay_token/token")
        .and_then(Value::as_str)
        .ok_or("init --json printed no token")?
        .to_owned();
    launcher.run(&["login", "--device"]).await?;
    Ok(launcher)
}

/// Prepares AIRelays 0.22 in `home`: a seeded `auth.json` (its documented format) holding
/// credentials minted by the mock, its limiter raised, the Claude runtime off.
pub async fn prepare_python(program: &Path, home: &Path, mock: &Mock) -> Result<Launcher, String> {
    let data = home.join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let t = mock.mint_tokens().await?;
    let field = |k: &str| t[k].as_str().unwrap_or("").to_owned();
    let now = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S+00:00"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let auth = serde_json::json!({
        "bound_account_id": field("account_id"),
        "tokens": {
            "id_token": field("id_token"),
            "access_token": field("access_token"),
            "refresh_token": field("refresh_token"),
            "account_id": field("account_id"),
        },
        "last_refresh": now,
    });
    std::fs::write(data.join("auth.json"), auth.to_string()).map_err(|e| e.to_string())?;
    let port = free_port();
    let token = "airelays-bench-python-token".to_owned();
    let mut env = home_env(home, mock);
    env.push(("AIRELAYS_BEARER_TOKEN".to_owned(), token.clone()));
    env.push(("AIRELAYS_ENABLE_CLAUDE".to_owned(), "0".to_owned()));
    Ok(Launcher {
        name: "AIRelays 0.22",
        program: program.to_path_buf(),
        args: vec!["serve".into(), "--port".into(), port.to_string()],
        env,
        log: home.join("serve.log"),
        port,
        token,
    })
}
