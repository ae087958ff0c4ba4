//! The log file of `serve --log-file` (`logging.file`): `<data_dir>/logs/airelays.log`,
//! 0600, rotated by size and kept by count (README.md, "Configuration").
//!
//! `tracing-appender` rotates by time only, and a relay that logs little would keep
//! a file per hour or day forever while a busy one could fill a disk in a day, so
//! this is a small size-based writer instead of a crate: when the next line would
//! take the file past `logging.max_file_bytes`, `airelays.log.N` becomes `.N+1`
//! (the oldest beyond `logging.max_files` is deleted), `airelays.log` becomes `.1`
//! and a new `airelays.log` is started. It only ever runs on the log writer's
//! background thread (`server::log_writer`), so a slow disk never blocks a request.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The current log file's name in the logs directory.
pub(crate) const LOG_FILE_NAME: &str = "airelays.log";

/// The name of the `n`th rotated file (`n` ≥ 1; 0 is the current file).
pub(crate) fn rotated_name(n: u32) -> String {
    if n == 0 {
        LOG_FILE_NAME.to_string()
    } else {
        format!("{LOG_FILE_NAME}.{n}")
    }
}

/// A log file that rotates by size.
pub(crate) struct RotatingFile {
    dir: PathBuf,
    max_bytes: u64,
    max_files: u32,
    file: Option<File>,
    size: u64,
}

impl RotatingFile {
    /// Opens `dir/airelays.log` for appending (creating `dir` 0700); errors say why
    /// the file cannot be used, so `serve` can say it before it starts.
    pub(crate) fn open(dir: &Path, max_bytes: u64, max_files: u32) -> io::Result<RotatingFile> {
        crate::fsio::ensure_private_dir(dir)?;
        let mut file = RotatingFile {
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(1),
            max_files: max_files.max(1),
            file: None,
            size: 0,
        };
        file.remove_beyond_retention();
        file.reopen()?;
        // A file left larger by an earlier run with a higher limit rotates now.
        if file.size >= file.max_bytes {
            file.rotate()?;
        }
        Ok(file)
    }

    /// The path of the current file.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(LOG_FILE_NAME)
    }

    /// Deletes rotated files an earlier run with a higher `logging.max_files` left.
    fn remove_beyond_retention(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let n = name
                .to_str()
                .and_then(|n| n.strip_prefix(LOG_FILE_NAME))
                .and_then(|n| n.strip_prefix('.'))
                .and_then(|n| n.parse::<u32>().ok());
            if n.is_some_and(|n| n >= self.max_files) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = crate::fsio::open_private_append(&self.path())?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// The part of `buf` that goes into the current file: all of it when it
    /// fits, else the whole lines that fit (the writer thread writes many lines
    /// at once; the rest goes in the next call). When not one line fits, the
    /// file is rotated first; a line longer than the limit goes alone into a
    /// fresh file.
    fn fitting<'b>(&mut self, buf: &'b [u8]) -> io::Result<&'b [u8]> {
        let room = self.max_bytes.saturating_sub(self.size);
        if buf.len() as u64 <= room {
            return Ok(buf);
        }
        // `room` < `buf.len()`, so it fits in a usize.
        if let Some(end) = buf[..room as usize].iter().rposition(|&b| b == b'\n') {
            return Ok(&buf[..=end]);
        }
        if self.size > 0 {
            self.rotate()?;
            return self.fitting(buf);
        }
        Ok(match buf.iter().position(|&b| b == b'\n') {
            Some(end) => &buf[..=end],
            None => buf,
        })
    }

    /// Shifts `.N` to `.N+1` (dropping what falls past `max_files`), the current
    /// file to `.1`, and starts an empty current file.
    fn rotate(&mut self) -> io::Result<()> {
        // Closed first: Windows renames an open file only when it was opened to allow it.
        self.file = None;
        let keep = self.max_files - 1;
        if keep == 0 {
            crate::fsio::remove_if_exists(&self.path())?;
        } else {
            crate::fsio::remove_if_exists(&self.dir.join(rotated_name(keep)))?;
            for n in (0..keep).rev() {
                let from = self.dir.join(rotated_name(n));
                if from.exists() {
                    std::fs::rename(&from, self.dir.join(rotated_name(n + 1)))?;
                }
            }
        }
        self.reopen()
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let buf = self.fitting(buf)?;
        if self.file.is_none() {
            self.reopen()?;
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("closed"))?;
        let n = file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writing_past_the_limit_rotates_and_keeps_at_most_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let mut f = RotatingFile::open(&logs, 100, 3).unwrap();
        for i in 0..40 {
            f.write_all(format!("line {i:04} ................\n").as_bytes())
                .unwrap();
        }
        f.flush().unwrap();
        assert_eq!(
            names(&logs),
            ["airelays.log", "airelays.log.1", "airelays.log.2"]
        );
        for name in names(&logs) {
            let len = std::fs::metadata(logs.join(&name)).unwrap().len();
            assert!(len <= 100, "{name} is {len} bytes");
            assert_eq!(crate::fsio::mode_of(&logs.join(&name)), Some(0o600));
        }
        // The newest lines are in the current file, the ones before in .1, whole lines only.
        let current = std::fs::read_to_string(logs.join("airelays.log")).unwrap();
        assert!(
            current.ends_with("line 0039 ................\n"),
            "{current}"
        );
        let previous = std::fs::read_to_string(logs.join("airelays.log.1")).unwrap();
        let last_previous = previous.lines().last().unwrap();
        let first_current = current.lines().next().unwrap();
        let n = |l: &str| l[5..9].parse::<u32>().unwrap();
        assert_eq!(n(last_previous) + 1, n(first_current));
    }

    #[test]
    fn many_lines_in_one_write_fill_each_file_with_whole_lines_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = RotatingFile::open(dir.path(), 100, 3).unwrap();
        let batch: String = (0..12)
            .map(|i| format!("line {i:04} .........\n"))
            .collect();
        f.write_all(batch.as_bytes()).unwrap();
        // A line longer than the limit goes alone into a fresh file.
        let long = format!("{}\n", "x".repeat(150));
        f.write_all(format!("{long}tail\n").as_bytes()).unwrap();
        assert_eq!(
            names(dir.path()),
            ["airelays.log", "airelays.log.1", "airelays.log.2"]
        );
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(read("airelays.log"), "tail\n");
        assert_eq!(read("airelays.log.1"), long);
        // 20-byte lines, five to a file: the batch's last two were in the third.
        let expected: String = (10..12)
            .map(|i| format!("line {i:04} .........\n"))
            .collect();
        assert_eq!(read("airelays.log.2"), expected);
    }

    #[test]
    fn one_file_kept_means_the_file_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = RotatingFile::open(dir.path(), 10, 1).unwrap();
        f.write_all(b"0123456789").unwrap();
        f.write_all(b"abc\n").unwrap();
        assert_eq!(names(dir.path()), ["airelays.log"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("airelays.log")).unwrap(),
            "abc\n"
        );
    }

    #[test]
    fn an_oversized_file_from_an_earlier_run_rotates_at_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("airelays.log"), vec![b'x'; 50]).unwrap();
        let mut f = RotatingFile::open(dir.path(), 20, 2).unwrap();
        f.write_all(b"new\n").unwrap();
        assert_eq!(names(dir.path()), ["airelays.log", "airelays.log.1"]);
        assert_eq!(
            std::fs::read_to_string(f.path()).unwrap(),
            "new\n",
            "the current file starts empty"
        );
    }

    #[test]
    fn files_beyond_a_lowered_max_files_are_deleted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        for n in 1..=4 {
            std::fs::write(dir.path().join(rotated_name(n)), "old\n").unwrap();
        }
        let _f = RotatingFile::open(dir.path(), 100, 2).unwrap();
        assert_eq!(names(dir.path()), ["airelays.log", "airelays.log.1"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        std::os::unix::fs::symlink(&victim, logs.join("airelays.log")).unwrap();
        let err = RotatingFile::open(&logs, 100, 2).err().expect("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    }
}
