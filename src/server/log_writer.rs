//! The log writer: lines go to stderr (or, with `serve --log-file`, to the rotating
//! file of `server::log_file`) through a bounded in-memory queue drained by one
//! background thread, so a log reader that stops reading (a full pipe, a terminal
//! paused with Ctrl-S) never blocks a request. When the queue is full a line is
//! dropped and counted; the count is shown in `/v1/relay/status`
//! (`live.log_lines_dropped`) and, once writing resumes, the writer thread itself
//! prints one line saying how many were lost (docs/security.md, "Logging never
//! blocks").
//!
//! A line costs the request that logs it one short lock and a copy, never a
//! system call: the writer thread is not woken per line. While lines keep coming
//! it wakes every [`TICK`] and writes what gathered in one write; once the queue
//! has stayed empty for a tick it sleeps until the next line wakes it, so the
//! first line after a pause goes out at once and an idle relay does not wake.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Lines held while stderr is not being read (about 150 KiB of typical lines).
pub(crate) const LOG_QUEUE_LINES: usize = 1024;

/// Bytes held at most, whatever the lines' length.
const QUEUE_BYTES: usize = 1 << 20;

/// How often the writer thread writes while lines keep coming: the longest a
/// line waits under load.
const TICK: Duration = Duration::from_millis(20);

/// How long the guard waits at exit for the queued lines to be written.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// The process's log queue, for its drop count ([`dropped_log_lines`]).
static LOG_QUEUE: OnceLock<Arc<Queue>> = OnceLock::new();

/// Log lines dropped since start because the log output was not being read.
pub(crate) fn dropped_log_lines() -> u64 {
    LOG_QUEUE
        .get()
        .map_or(0, |q| q.dropped.load(Ordering::Relaxed))
}

/// Lines waiting for the writer thread.
#[derive(Default)]
struct Lines {
    text: Vec<u8>,
    count: usize,
}

/// What the requests and the writer thread share.
struct Queue {
    lines: Mutex<Lines>,
    dropped: AtomicU64,
    /// The writer thread sleeps until woken (the queue was empty for a tick).
    sleeping: AtomicBool,
    /// The guard was dropped: write what is left and stop.
    closing: AtomicBool,
    writer: OnceLock<Thread>,
}

impl Queue {
    /// Adds one line, or counts it dropped when the queue is full. Wakes the
    /// writer thread only when it sleeps.
    fn push(&self, line: &[u8]) {
        {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            if lines.count >= LOG_QUEUE_LINES || lines.text.len() + line.len() > QUEUE_BYTES {
                drop(lines);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            lines.text.extend_from_slice(line);
            lines.count += 1;
        }
        // SeqCst pairs with the writer's store before its last look at the
        // queue: either it sees this line, or this sees it asleep.
        if self.sleeping.load(Ordering::SeqCst)
            && self.sleeping.swap(false, Ordering::SeqCst)
            && let Some(t) = self.writer.get()
        {
            t.unpark();
        }
    }

    /// Swaps the queued lines out for `spare` (emptied), keeping both buffers'
    /// capacity; `false` when nothing was queued.
    fn take(&self, spare: &mut Vec<u8>) -> bool {
        spare.clear();
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.count == 0 {
            return false;
        }
        std::mem::swap(&mut lines.text, spare);
        lines.count = 0;
        true
    }
}

/// The writer thread: writes what gathered, then waits a tick, or sleeps until
/// woken once a tick passed with nothing queued.
fn run<W: Write>(queue: &Queue, mut out: W) {
    let mut batch = Vec::new();
    let mut reported = 0;
    loop {
        if queue.take(&mut batch) {
            reported = write_batch(&mut out, &batch, queue, reported);
            std::thread::park_timeout(TICK);
            continue;
        }
        if queue.closing.load(Ordering::SeqCst) {
            return;
        }
        queue.sleeping.store(true, Ordering::SeqCst);
        if queue.lines.lock().unwrap_or_else(|e| e.into_inner()).count > 0
            || queue.closing.load(Ordering::SeqCst)
        {
            queue.sleeping.store(false, Ordering::SeqCst);
            continue;
        }
        std::thread::park();
        queue.sleeping.store(false, Ordering::SeqCst);
    }
}

/// Writes a batch, after a note for the lines dropped since the last note;
/// returns the drop count reported so far. Write errors are ignored: there is
/// nowhere left to report them.
fn write_batch<W: Write>(out: &mut W, batch: &[u8], queue: &Queue, reported: u64) -> u64 {
    let dropped = queue.dropped.load(Ordering::Relaxed);
    if dropped > reported {
        let note = format!(
            "airelays: {} log line(s) were dropped because the log output was not being read ({dropped} since start)\n",
            dropped - reported
        );
        let _ = out.write_all(note.as_bytes());
    }
    let _ = out.write_all(batch);
    let _ = out.flush();
    dropped
}

/// Where `tracing` writes: the queue. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LogWriter {
    queue: Arc<Queue>,
}

/// One line being written (`tracing_subscriber` formats a whole event, then
/// writes it in one call).
pub(crate) struct Line<'a> {
    queue: &'a Queue,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.queue.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line { queue: &self.queue }
    }
}

/// Writes what is still queued when dropped (waiting at most [`EXIT_WAIT`]);
/// keep it alive for as long as the program logs.
pub(crate) struct LogGuard {
    queue: Arc<Queue>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.queue.closing.store(true, Ordering::SeqCst);
        if let Some(t) = self.queue.writer.get() {
            t.unpark();
        }
        let _ = self.done.recv_timeout(EXIT_WAIT);
    }
}

/// The non-blocking stderr writer and the guard that flushes it at exit.
pub(crate) fn stderr() -> (LogWriter, LogGuard) {
    non_blocking(std::io::stderr())
}

/// The non-blocking writer to the rotating log file (`serve --log-file`); rotation
/// happens on the writer thread, never on a request's.
pub(crate) fn file(file: super::log_file::RotatingFile) -> (LogWriter, LogGuard) {
    non_blocking(file)
}

fn non_blocking<W: Write + Send + 'static>(out: W) -> (LogWriter, LogGuard) {
    let queue = Arc::new(Queue {
        lines: Mutex::new(Lines::default()),
        dropped: AtomicU64::new(0),
        sleeping: AtomicBool::new(false),
        closing: AtomicBool::new(false),
        writer: OnceLock::new(),
    });
    let (done_tx, done) = std::sync::mpsc::channel();
    let shared = Arc::clone(&queue);
    let spawned = std::thread::Builder::new()
        .name("airelays-log".into())
        .spawn(move || {
            run(&shared, out);
            let _ = done_tx.send(());
        });
    if let Ok(handle) = spawned {
        let _ = queue.writer.set(handle.thread().clone());
    }
    let _ = LOG_QUEUE.set(Arc::clone(&queue));
    (
        LogWriter {
            queue: Arc::clone(&queue),
        },
        LogGuard { queue, done },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose output the test reads back, and which can be held stalled.
    #[derive(Clone, Default)]
    struct Shared {
        out: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Shared::default();
        let (writer, guard) = non_blocking(sink.clone());
        for i in 0..500 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.out.lock().unwrap().clone()).unwrap();
        let expected: String = (0..500).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
    }

    /// A sink that says when a write begins, then waits for the gate.
    struct Gated {
        entered: std::sync::mpsc::Sender<()>,
        gate: Arc<Mutex<()>>,
        inner: Shared,
    }

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _open = self.gate.lock().unwrap();
            self.inner.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_lines_and_the_next_batch_says_so() {
        let sink = Shared::default();
        let gate = Arc::new(Mutex::new(()));
        let closed = gate.lock().unwrap();
        let (entered, writing) = std::sync::mpsc::channel();
        let (writer, guard) = non_blocking(Gated {
            entered,
            gate: Arc::clone(&gate),
            inner: sink.clone(),
        });
        let line = |i: usize| format!("line {i}\n");
        writer.make_writer().write_all(line(0).as_bytes()).unwrap();
        // The writer thread took line 0 and is held writing it: the queue is empty.
        writing.recv().unwrap();
        for i in 1..=LOG_QUEUE_LINES + 10 {
            writer.make_writer().write_all(line(i).as_bytes()).unwrap();
        }
        assert_eq!(dropped_of(&writer), 10);
        drop(closed);
        drop(guard);
        let text = String::from_utf8(sink.out.lock().unwrap().clone()).unwrap();
        let expected: String = (0..=LOG_QUEUE_LINES)
            .map(line)
            .collect::<String>()
            .replacen(
                "line 1\n",
                "airelays: 10 log line(s) were dropped because the log output was not being read (10 since start)\nline 1\n",
                1,
            );
        assert_eq!(text, expected);
    }

    fn dropped_of(writer: &LogWriter) -> u64 {
        writer.queue.dropped.load(Ordering::Relaxed)
    }
}
