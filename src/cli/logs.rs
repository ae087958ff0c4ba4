//! `airelays logs [-f] [--traffic]`: prints the end of the relay's log file
//! (`logs/airelays.log`, written by `serve --log-file` and the service) or of the
//! traffic log (`logs/traffic-YYYY-MM-DD.jsonl`), and with `-f` follows it across
//! rotations and new days, like `tail -F`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::{CliError, CliResult, Context};
use crate::server::log_file::{LOG_FILE_NAME, rotated_name};

/// How often `-f` looks for new lines and for a rotation.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Keep printing lines as they are written, across rotations (Ctrl-C ends)
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// The traffic log (logs/traffic-YYYY-MM-DD.jsonl) instead of the relay's log
    #[arg(long)]
    pub(crate) traffic: bool,
    /// How many of the last lines to print first
    #[arg(short = 'n', long, value_name = "N", default_value_t = 100)]
    pub(crate) lines: usize,
}

/// Which log, and its files from oldest to newest (the last is the one written to).
struct Source {
    dir: PathBuf,
    traffic: bool,
    max_files: u32,
}

impl Source {
    fn files(&self) -> Vec<PathBuf> {
        if self.traffic {
            let mut days: Vec<(jiff::civil::Date, PathBuf)> = std::fs::read_dir(&self.dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let day = crate::server::traffic::day_of(e.file_name().to_str()?)?;
                    Some((day, e.path()))
                })
                .collect();
            days.sort();
            return days.into_iter().map(|(_, p)| p).collect();
        }
        // Rotated files beyond today's limit may exist until the relay next starts.
        (0..self.max_files.max(1) + 8)
            .rev()
            .map(|n| self.dir.join(rotated_name(n)))
            .filter(|p| p.is_file())
            .collect()
    }

    fn current(&self) -> Option<PathBuf> {
        if self.traffic {
            self.files().pop()
        } else {
            Some(self.dir.join(LOG_FILE_NAME)).filter(|p| p.is_file())
        }
    }
}

/// `airelays logs`.
pub(crate) fn run(ctx: &Context, args: &LogsArgs) -> CliResult {
    let source = Source {
        dir: ctx.paths.logs_dir(),
        traffic: args.traffic,
        max_files: ctx.config.logging.max_files,
    };
    let files = source.files();
    if files.is_empty() && !args.follow {
        let what = if args.traffic {
            format!(
                "no traffic log in {} — it is written with logging.traffic_log = true",
                source.dir.display()
            )
        } else {
            format!(
                "no log file {} — the relay writes it with `serve --log-file` or logging.file = true (the service does); otherwise it logs to stderr",
                source.dir.join(LOG_FILE_NAME).display()
            )
        };
        return Err(CliError::new(what));
    }
    let mut out = std::io::stdout().lock();
    if write_tail(&mut out, &files, args.lines).is_err() || !args.follow {
        return Ok(());
    }
    follow(&source, &mut out);
    Ok(())
}

/// The last `n` lines across `files` (oldest first).
fn write_tail(out: &mut impl Write, files: &[PathBuf], n: usize) -> std::io::Result<()> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut lines = 0;
    for path in files.iter().rev() {
        if lines >= n {
            break;
        }
        let bytes = std::fs::read(path).unwrap_or_default();
        let mut start = bytes.len();
        // Walk back over `n - lines` line ends (the file's last newline ends its last line).
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        for (i, b) in body.iter().enumerate().rev() {
            if lines >= n {
                break;
            }
            if *b == b'\n' {
                lines += 1;
                start = i + 1;
            }
        }
        if lines < n && !bytes.is_empty() {
            lines += 1;
            start = 0;
        }
        chunks.push(bytes[start.min(bytes.len())..].to_vec());
    }
    for chunk in chunks.iter().rev() {
        out.write_all(chunk)?;
    }
    out.flush()
}

/// A file being followed: its path, handle and identity.
struct Followed {
    path: PathBuf,
    file: File,
    meta: std::fs::Metadata,
}

impl Followed {
    fn open(path: PathBuf, at_end: bool) -> Option<Followed> {
        let mut file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if at_end {
            file.seek(SeekFrom::End(0)).ok()?;
        }
        Some(Followed { path, file, meta })
    }

    /// Copies what was written since the last call; `Err` when stdout is closed.
    fn copy_new(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let _ = self.file.read_to_end(&mut buf);
        if !buf.is_empty() {
            out.write_all(&buf)?;
            out.flush()?;
        }
        Ok(())
    }

    /// Whether `path` now names another file than the one held (a rotation, a new
    /// day, a file recreated or truncated).
    fn replaced(&mut self, now: Option<&Path>) -> bool {
        let Some(now) = now else { return false };
        if now != self.path {
            return true;
        }
        let Ok(meta) = std::fs::metadata(now) else {
            return false;
        };
        let pos = self.file.stream_position().unwrap_or(0);
        !same_file(&self.meta, &meta) || meta.len() < pos
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.created().ok() == b.created().ok()
}

/// Prints new lines until stdout closes or the user stops it. On a rotation the
/// rest of the old file is printed first, then every newer file from its start
/// (several rotations may happen between two looks).
fn follow(source: &Source, out: &mut impl Write) {
    let mut held = source.current().and_then(|p| Followed::open(p, true));
    loop {
        match held.as_mut() {
            Some(f) => {
                if f.copy_new(out).is_err() {
                    return;
                }
                let now = source.current();
                if f.replaced(now.as_deref()) {
                    // Lines written to the old file just before it was renamed.
                    if f.copy_new(out).is_err() {
                        return;
                    }
                    match newer_than(source, f, out) {
                        Ok(next) => held = next,
                        Err(_) => return,
                    }
                    continue;
                }
            }
            None => held = source.current().and_then(|p| Followed::open(p, false)),
        }
        std::thread::sleep(POLL);
    }
}

/// Prints the files that came after `old` but are no longer the current one, and
/// returns the current file, to be read from its start.
fn newer_than(
    source: &Source,
    old: &Followed,
    out: &mut impl Write,
) -> std::io::Result<Option<Followed>> {
    let mut files: Vec<Followed> = source
        .files()
        .into_iter()
        .filter_map(|p| Followed::open(p, false))
        .collect();
    // The old file's place among them (gone: rotated out, so all of them are newer).
    let after = files
        .iter()
        .position(|g| same_file(&g.meta, &old.meta))
        .map_or(0, |i| i + 1);
    if after >= files.len() {
        // Truncated or recreated in place: the current file again, from its start.
        return Ok(files.pop());
    }
    let current = files.pop();
    for mut g in files.into_iter().skip(after) {
        g.copy_new(out)?;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_spans_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("a");
        let new = dir.path().join("b");
        std::fs::write(&old, "1\n2\n3\n").unwrap();
        std::fs::write(&new, "4\n5\n").unwrap();
        let tail = |n| {
            let mut out = Vec::new();
            write_tail(&mut out, &[old.clone(), new.clone()], n).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(tail(1), "5\n");
        assert_eq!(tail(2), "4\n5\n");
        assert_eq!(tail(4), "2\n3\n4\n5\n");
        assert_eq!(tail(100), "1\n2\n3\n4\n5\n");
        assert_eq!(tail(0), "");
    }
}
