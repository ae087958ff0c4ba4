//! The log writer: lines go to stderr (or, with `serve --log-file`, to the rotating
//! file of `server::log_file`) through a bounded queue drained by one
//! background thread (`tracing-appender`'s non-blocking writer, lossy), so a log
//! reader that stops reading (a full pipe, a terminal paused with Ctrl-S) never
//! blocks a request. When the queue is full a line is dropped and counted; the
//! count is shown in `/v1/relay/status` (`live.log_lines_dropped`) and, once
//! writing resumes, the writer thread itself prints one line saying how many
//! were lost (docs/security.md, "Logging never blocks").

use std::io::Write;
use std::sync::{Arc, OnceLock};

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, WorkerGuard};

/// Lines held while stderr is not being read (about 150 KiB of typical lines).
pub(crate) const LOG_QUEUE_LINES: usize = 1024;

/// Bytes of queued lines written at once, at most.
const WRITE_BYTES: usize = 32 * 1024;

static COUNTER: OnceLock<ErrorCounter> = OnceLock::new();

/// Log lines dropped since start because the log output was not being read.
pub(crate) fn dropped_log_lines() -> u64 {
    COUNTER.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// The output as the writer thread sees it: before each line, a note for the lines
/// dropped since the last note. Lines queued together go out in one write: the
/// writer thread flushes whenever the queue is empty, so no line waits.
struct Resuming<W: Write> {
    out: std::io::BufWriter<W>,
    counter: Arc<OnceLock<ErrorCounter>>,
    reported: usize,
}

impl<W: Write> Write for Resuming<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let dropped = self.counter.get().map_or(0, ErrorCounter::dropped_lines);
        if dropped > self.reported {
            let lost = dropped - self.reported;
            self.reported = dropped;
            let note = format!(
                "airelays: {lost} log line(s) were dropped because the log output was not being read ({dropped} since start)\n"
            );
            self.out.write_all(note.as_bytes())?;
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The non-blocking stderr writer and the guard that flushes it at exit (keep it
/// alive for as long as the program logs).
pub(crate) fn stderr() -> (NonBlocking, WorkerGuard) {
    non_blocking(std::io::stderr())
}

/// The non-blocking writer to the rotating log file (`serve --log-file`); rotation
/// happens on the writer thread, never on a request's.
pub(crate) fn file(file: super::log_file::RotatingFile) -> (NonBlocking, WorkerGuard) {
    non_blocking(file)
}

fn non_blocking<W: Write + Send + 'static>(out: W) -> (NonBlocking, WorkerGuard) {
    let shared = Arc::new(OnceLock::new());
    let sink = Resuming {
        out: std::io::BufWriter::with_capacity(WRITE_BYTES, out),
        counter: Arc::clone(&shared),
        reported: 0,
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("airelays-log")
        .finish(sink);
    let _ = shared.set(writer.error_counter());
    let _ = COUNTER.set(writer.error_counter());
    (writer, guard)
}
