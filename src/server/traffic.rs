//! The optional JSONL traffic log (`logging.traffic_log`): one line per request
//! with what happened, written off the request path by a background task through
//! a bounded queue (lines are dropped, never waited for, when the disk is slow).
//! It records no bodies and no headers, so no credential can reach it. One file per
//! UTC day, `logs/traffic-YYYY-MM-DD.jsonl`, kept `logging.traffic_retention_days`
//! days (README.md, "Configuration"), so it never grows without bound.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use jiff::civil::Date;
use serde_json::json;

use crate::shutdown::Shutdown;

const QUEUE: usize = 1024;

/// How often the writer thread looks at the shutdown flag while idle.
const POLL: Duration = Duration::from_millis(250);

/// The traffic log's queue. Recording never waits: a full queue drops the line
/// and counts it (`live.traffic_log_lines_dropped`).
pub(crate) struct TrafficLog {
    tx: SyncSender<String>,
    dropped: AtomicU64,
    stop: Arc<AtomicBool>,
}

/// One request, as the traffic log records it.
pub(crate) struct Entry<'a> {
    pub(crate) id: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    pub(crate) model: Option<&'a str>,
    pub(crate) latency: Duration,
    pub(crate) ip: IpAddr,
}

/// The UTC day a line is written on: the clock of the writer thread (a test
/// passes its own).
type Today = fn() -> Date;

fn utc_today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// `traffic-YYYY-MM-DD.jsonl`: the traffic log of one UTC day.
pub(crate) fn file_name(day: Date) -> String {
    format!("{FILE_PREFIX}{day}{FILE_SUFFIX}")
}

const FILE_PREFIX: &str = "traffic-";
const FILE_SUFFIX: &str = ".jsonl";

/// The day of a traffic file's name; `None` for any other file.
pub(crate) fn day_of(name: &str) -> Option<Date> {
    name.strip_prefix(FILE_PREFIX)?
        .strip_suffix(FILE_SUFFIX)?
        .parse()
        .ok()
}

/// Whether a file of `day` is past `retention_days` (today's file counts as one).
fn expired(day: Date, today: Date, retention_days: u64) -> bool {
    let keep = i64::try_from(retention_days.saturating_sub(1)).unwrap_or(i64::MAX);
    match today.checked_sub(jiff::Span::new().days(keep.min(3650))) {
        Ok(oldest) => day < oldest,
        Err(_) => false,
    }
}

/// Deletes the traffic files older than the retention.
fn remove_expired(dir: &Path, today: Date, retention_days: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let day = name.to_str().and_then(day_of);
        if day.is_some_and(|d| expired(d, today, retention_days))
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!("cannot delete the old traffic log {name:?}: {e}");
        }
    }
}

fn open_log(dir: &Path, day: Date) -> Option<std::fs::File> {
    if let Err(e) = crate::fsio::ensure_private_dir(dir) {
        tracing::warn!("traffic log disabled: {e}");
        return None;
    }
    let path = dir.join(file_name(day));
    match crate::fsio::open_private_append(&path) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!("traffic log disabled: cannot open {}: {e}", path.display());
            None
        }
    }
}

/// Where the writer thread writes: the file of the day, switched (and the expired
/// days deleted) when the UTC day changes.
struct DailyFile {
    dir: PathBuf,
    retention_days: u64,
    today: Today,
    day: Date,
    file: std::fs::File,
}

impl DailyFile {
    fn open(dir: PathBuf, retention_days: u64, today: Today) -> Option<DailyFile> {
        let day = today();
        let file = open_log(&dir, day)?;
        remove_expired(&dir, day, retention_days);
        Some(DailyFile {
            dir,
            retention_days,
            today,
            day,
            file,
        })
    }

    /// Appends one line to the file of the current day.
    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let day = (self.today)();
        if day != self.day {
            let file = open_log(&self.dir, day)
                .ok_or_else(|| std::io::Error::other("cannot open the day's traffic log"))?;
            self.file = file;
            self.day = day;
            remove_expired(&self.dir, day, self.retention_days);
        }
        self.file.write_all(line)
    }
}

/// The writer thread: its blocking writes happen here, never on a runtime
/// worker. Ends when the queue closes or the relay shuts down (after writing
/// what is already queued).
fn write_lines(mut out: DailyFile, rx: Receiver<String>, stop: Arc<AtomicBool>) {
    loop {
        match rx.recv_timeout(POLL) {
            Ok(line) => {
                if out.write_line(line.as_bytes()).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => {
                while let Ok(line) = rx.try_recv() {
                    let _ = out.write_line(line.as_bytes());
                }
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

impl TrafficLog {
    /// Starts the writer thread for `dir/traffic-YYYY-MM-DD.jsonl` (UTC days),
    /// keeping `retention_days` days of files.
    pub(crate) fn start(dir: PathBuf, retention_days: u64) -> TrafficLog {
        TrafficLog::start_with_clock(dir, retention_days, utc_today)
    }

    fn start_with_clock(dir: PathBuf, retention_days: u64, today: Today) -> TrafficLog {
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("airelays-traffic".into())
            .spawn(move || {
                if let Some(out) = DailyFile::open(dir, retention_days, today) {
                    write_lines(out, rx, flag);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("traffic log disabled: cannot start its writer: {e}");
        }
        TrafficLog {
            tx,
            dropped: AtomicU64::new(0),
            stop,
        }
    }

    /// Ends the writer thread once `shutdown` fires.
    pub(crate) async fn stop_on(&self, mut shutdown: Shutdown) {
        shutdown.fired().await;
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Lines dropped because the queue was full (the disk was slower than the
    /// requests) or the writer had stopped.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues one line; never waits.
    pub(crate) fn record(&self, e: Entry<'_>) {
        let path = e.path.split('?').next().unwrap_or(e.path);
        let mut line = json!({
            "ts": crate::upstream::usage::now_rfc3339(),
            "id": e.id,
            "method": e.method,
            "path": path,
            "status": e.status,
            "model": e.model,
            "latency_ms": (e.latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            "client_ip": e.ip.to_string(),
        })
        .to_string();
        line.push('\n');
        if self.tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            id: "req_1",
            method: "GET",
            path: "/v1/models?secret=1",
            status: 200,
            model: None,
            latency: Duration::from_millis(3),
            ip: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn recording_never_waits_and_counts_what_it_drops() {
        // A data dir that cannot be created: the writer stops at once, so every
        // line beyond the queue (or all of them, once it has gone) is dropped.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let log = TrafficLog::start(file.join("logs"), 14);
        for _ in 0..2 * QUEUE {
            log.record(entry());
        }
        assert!(log.dropped() >= QUEUE as u64, "{}", log.dropped());
    }

    #[test]
    fn lines_reach_the_file_without_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let log = TrafficLog::start(dir.path().join("logs"), 14);
        log.record(entry());
        log.stop.store(true, Ordering::Relaxed);
        let path = dir.path().join("logs").join(file_name(utc_today()));
        // Bounded: the writer drains the queue and ends within a few polls.
        let mut text = String::new();
        for _ in 0..400 {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("req_1") {
                break;
            }
            std::thread::sleep(POLL / 10);
        }
        assert!(text.contains("\"path\":\"/v1/models\""), "{text}");
        assert_eq!(log.dropped(), 0);
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn file_names_carry_the_day() {
        assert_eq!(file_name(day("2026-01-02")), "traffic-2026-01-02.jsonl");
        assert_eq!(day_of("traffic-2026-01-02.jsonl"), Some(day("2026-01-02")));
        for other in ["traffic.jsonl", "traffic-2026-13-01.jsonl", "airelays.log"] {
            assert_eq!(day_of(other), None, "{other}");
        }
    }

    #[test]
    fn retention_counts_today_as_one_day() {
        let today = day("2026-03-10");
        assert!(!expired(day("2026-03-10"), today, 1));
        assert!(expired(day("2026-03-09"), today, 1));
        assert!(!expired(day("2026-03-04"), today, 7));
        assert!(expired(day("2026-03-03"), today, 7));
        assert!(
            !expired(day("2026-03-11"), today, 1),
            "a future day is kept"
        );
    }

    static FAKE_DAY: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

    fn fake_today() -> Date {
        day("2026-03-01")
            .checked_add(jiff::Span::new().days(FAKE_DAY.load(Ordering::SeqCst)))
            .unwrap()
    }

    #[test]
    fn a_new_day_starts_a_new_file_and_deletes_expired_days() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        for old in ["traffic-2026-02-01.jsonl", "traffic-2026-02-28.jsonl"] {
            std::fs::write(logs.join(old), "{}\n").unwrap();
        }
        std::fs::write(logs.join("airelays.log"), "kept\n").unwrap();
        let mut out = DailyFile::open(logs.clone(), 2, fake_today).unwrap();
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(&logs)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            names(),
            [
                "airelays.log",
                "traffic-2026-02-28.jsonl",
                "traffic-2026-03-01.jsonl"
            ]
        );
        out.write_line(b"one\n").unwrap();
        FAKE_DAY.store(1, Ordering::SeqCst);
        out.write_line(b"two\n").unwrap();
        assert_eq!(
            names(),
            [
                "airelays.log",
                "traffic-2026-03-01.jsonl",
                "traffic-2026-03-02.jsonl"
            ]
        );
        let read = |n: &str| std::fs::read_to_string(logs.join(n)).unwrap();
        assert_eq!(read("traffic-2026-03-01.jsonl"), "one\n");
        assert_eq!(read("traffic-2026-03-02.jsonl"), "two\n");
    }
}
