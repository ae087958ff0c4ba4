//! A running `airelays login` read line by line, and a browser-like HTTP client
//! for the sign-in tests.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
