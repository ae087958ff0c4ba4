//! Log files: `serve` with `logging.file` writes `logs/airelays.log` and rotates it
//! by size keeping `logging.max_files`; `airelays logs -f` follows it across a
//! rotation without losing a line; daily traffic files past
//! `logging.traffic_retention_days` are deleted; `airelays logs` without a file
//! says how to get one.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::relay::{Relay, RelayOptions};
use crate::harness::{Sandbox, eventually, mode, stderr};

/// The names in `logs/` that start with `airelays.log`.
fn log_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("airelays.log"))
        .collect();
    v.sort();
    v
}

/// One request (`/healthz`: never rate-limited); returns the id the relay logs it under.
async fn request(r: &Relay) -> String {
    let resp = r.http.get(r.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.headers()["x-request-id"].to_str().unwrap().to_string()
}

/// A running `airelays logs -f -n 0`, its output drained into a buffer.
struct Follower {
    child: std::process::Child,
    seen: Arc<Mutex<String>>,
    drain: std::thread::JoinHandle<()>,
}

impl Follower {
    fn start(sandbox: &Sandbox) -> Follower {
        let mut child = sandbox
            .cmd(&["logs", "-f", "-n", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn logs -f");
        let seen = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stdout.take().unwrap();
        let sink = Arc::clone(&seen);
        let drain = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push_str(&text);
            }
        });
        Follower { child, seen, drain }
    }

    /// What it printed so far.
    fn seen(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drain.join().unwrap();
    }
}

#[tokio::test]
async fn the_log_file_rotates_and_logs_follow_reads_across_the_rotation() {
    let mut r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_LOG_FILE", "1".into()),
            ("AIRELAYS_LOG_MAX_FILE_BYTES", "4096".into()),
            ("AIRELAYS_LOG_MAX_FILES", "3".into()),
        ],
        ..Default::default()
    })
    .await;
    let logs = r.sandbox.data_dir().join("logs");
    let banner = r.stdout_lines.join("\n");
    assert!(
        banner.contains(&format!(
            "Log file:  {}",
            logs.join("airelays.log").display()
        )),
        "{banner}"
    );
    let follower = Follower::start(&r.sandbox);
    let shows = |id: &str| follower.seen().contains(id);

    // Following has begun once a new line shows up.
    let mut first = String::new();
    let following = eventually(Duration::from_secs(10), async || {
        first = request(&r).await;
        let deadline = std::time::Instant::now() + Duration::from_millis(500);
        while std::time::Instant::now() < deadline && !shows(&first) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shows(&first)
    })
    .await;
    assert!(following, "logs -f printed nothing: {}", follower.seen());

    // Every request from here on, across two rotations, reaches the follower.
    let mut ids = Vec::new();
    while !log_files(&logs).contains(&"airelays.log.2".to_string()) {
        ids.push(request(&r).await);
        assert!(ids.len() < 2000, "no rotation: {:?}", log_files(&logs));
    }
    for _ in 0..5 {
        ids.push(request(&r).await);
    }
    let all_seen = eventually(Duration::from_secs(10), async || {
        ids.iter().all(|id| shows(id))
    })
    .await;
    let missing: Vec<&String> = ids.iter().filter(|id| !shows(id)).collect();
    assert!(
        all_seen,
        "logs -f lost {} of {} lines",
        missing.len(),
        ids.len()
    );

    // Far past the limit: still three files, none larger than the limit.
    for _ in 0..60 {
        request(&r).await;
    }
    r.terminate();
    assert_eq!(
        log_files(&logs),
        ["airelays.log", "airelays.log.1", "airelays.log.2"]
    );
    for name in log_files(&logs) {
        let path = logs.join(&name);
        assert!(std::fs::metadata(&path).unwrap().len() <= 4096, "{name}");
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    assert!(
        !r.stderr_log().contains("GET /healthz"),
        "the log went to the file, not stderr"
    );
    follower.stop();
}

#[tokio::test]
async fn traffic_files_past_the_retention_are_deleted() {
    let mut r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_TRAFFIC_LOG", "1".into()),
            ("AIRELAYS_TRAFFIC_RETENTION_DAYS", "3".into()),
        ],
        ..Default::default()
    })
    .await;
    r.terminate();
    let logs = r.sandbox.data_dir().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let day = |n: i64| today.checked_sub(jiff::Span::new().days(n)).unwrap();
    let name = |d: jiff::civil::Date| format!("traffic-{d}.jsonl");
    for n in [2, 3, 40] {
        std::fs::write(logs.join(name(day(n))), "{\"old\":true}\n").unwrap();
    }
    r.spawn();
    let id = request(&r).await;
    let gone = eventually(Duration::from_secs(10), async || {
        !logs.join(name(day(3))).exists()
            && std::fs::read_to_string(r.sandbox.traffic_log()).is_ok_and(|t| t.contains(&id))
    })
    .await;
    assert!(
        gone,
        "{:?}",
        std::fs::read_dir(&logs).unwrap().collect::<Vec<_>>()
    );
    assert!(!logs.join(name(day(40))).exists());
    assert!(
        logs.join(name(day(2))).exists(),
        "within the retention: kept"
    );
    let out = r.sandbox.run(&["logs", "--traffic", "-n", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(last.lines().count(), 1, "{last}");
    assert!(last.contains(&id), "{last}");
    r.terminate();
}

#[test]
fn logs_without_a_log_file_says_how_to_get_one() {
    let sb = Sandbox::new();
    for (args, hint) in [
        (&["logs"][..], "serve --log-file"),
        (&["logs", "--traffic"][..], "logging.traffic_log"),
    ] {
        let out = sb.run(args);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(hint), "{err}");
    }
}
