//! Private file I/O: every file airelays writes that may hold a secret or state
//! goes through here.
//!
//! Invariants:
//! - directories we create are 0700, files 0600 (on Unix);
//! - a replaced file is either the old or the new content, never a mix: we write a
//!   temp file in the same directory, fsync it, rename it over the target and fsync
//!   the directory so the rename itself survives a crash;
//! - we refuse to follow a symlink where we expect a private directory or file, so a
//!   planted link cannot redirect secrets elsewhere.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

/// Creates `path` (and missing parents) as a private directory, and tightens the mode
/// of `path` itself to 0700 if it already exists with looser permissions.
pub(crate) fn ensure_private_dir(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(io::Error::other(format!(
                "{} is a symbolic link; airelays keeps private state only in a real directory",
                path.display()
            )));
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(io::Error::other(format!(
                "{} exists and is not a directory",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(path)?;
        }
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        let meta = fs::metadata(path)?;
        if meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Atomically replaces `path` with `contents`, as a 0600 file. The parent directory
/// must exist (see [`ensure_private_dir`]).
pub(crate) fn write_private_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    refuse_symlink(path)?;
    remove_stale_temps(path);
    let tmp = temp_path_for(path);
    let result = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A temp file older than this was left by a writer that died (kill -9, power loss)
/// between creating it and renaming it; no live writer takes anywhere near as long.
pub(crate) const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(300);

/// Removes temp files of `path` left behind by writers that died mid-write, so that
/// crashes do not accumulate copies of secrets. Best effort.
fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates a new private (0600) file, failing if it exists.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600).custom_flags(libc_nofollow());
    options.open(path)
}

/// Opens (creating it if missing) a private file for appending: 0600, never through
/// a symbolic link, and a file left readable by others (an older version, a hand
/// edit) is made private first. For log files.
pub(crate) fn open_private_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(0o600).custom_flags(libc_nofollow());
    let file = match options.open(path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(symlink_error(path)),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Reads a private file, or `None` when it does not exist. Refuses symlinks: the file is
/// opened with `O_NOFOLLOW`, so a link planted between a check and the open cannot
/// redirect the read.
pub(crate) fn read_private(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc_nofollow());
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(symlink_error(path)),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(Some(bytes))
}

/// Creates `path` and its missing parents as 0700 directories; a directory that already
/// exists is left as it is (its mode belongs to whoever made it).
pub(crate) fn create_dir_if_missing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() || meta.file_type().is_symlink() => Ok(()),
        Ok(_) => Err(io::Error::other(format!(
            "{} exists and is not a directory",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(path)
        }
        Err(e) => Err(e),
    }
}

/// Removes a file; a missing file is not an error.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Fsyncs a directory so that renames and unlinks inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Unix permission bits of a path (for tests); `None` elsewhere.
#[cfg(test)]
pub(crate) fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// An exclusive advisory lock on a file, released on drop (or when the process
/// dies, which is what makes it a reliable "is a relay running?" signal).
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Takes the lock without waiting; `Ok(None)` when another process holds it.
    pub(crate) fn try_acquire(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Takes the lock, waiting for the holder to release it.
    pub(crate) fn acquire(path: &Path) -> io::Result<FileLock> {
        let file = open_lock_file(path)?;
        file.lock()?;
        Ok(FileLock { file })
    }

    /// Whether some process currently holds the lock at `path` (probe and release).
    pub(crate) fn is_held(path: &Path) -> bool {
        if !path.exists() {
            return false;
        }
        matches!(FileLock::try_acquire(path), Ok(None))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    refuse_symlink(path)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)
}

fn refuse_symlink(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(symlink_error(path)),
        _ => Ok(()),
    }
}

fn symlink_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link; airelays does not follow links for private files",
        path.display()
    ))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let suffix: u64 = rand::random();
    parent_dir(path).join(format!(".{name}.tmp-{suffix:016x}"))
}

/// `O_NOFOLLOW`, so that creating a temp file never writes through a planted link.
#[cfg(unix)]
fn libc_nofollow() -> i32 {
    libc::O_NOFOLLOW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_private_file_and_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("state");
        ensure_private_dir(&sub).unwrap();
        let target = sub.join("secret");
        write_private_atomic(&target, b"one").unwrap();
        write_private_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&target), Some(0o600));
            assert_eq!(mode_of(&sub), Some(0o700));
        }
        let leftovers: Vec<_> = fs::read_dir(&sub)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left behind");
    }

    #[test]
    fn stale_temp_files_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret");
        let stale = dir.path().join(".secret.tmp-00000000deadbeef");
        let fresh = dir.path().join(".secret.tmp-00000000cafebabe");
        let other = dir.path().join(".other.tmp-00000000deadbeef");
        for p in [&stale, &fresh, &other] {
            fs::write(p, b"half a secret").unwrap();
        }
        let old = std::time::SystemTime::now() - STALE_TEMP_AGE * 2;
        for p in [&stale, &other] {
            let f = OpenOptions::new().write(true).open(p).unwrap();
            f.set_modified(old).unwrap();
        }
        write_private_atomic(&target, b"new").unwrap();
        assert!(!stale.exists(), "a dead writer's temp file is cleaned up");
        assert!(fresh.exists(), "a live writer's temp file is left alone");
        assert!(other.exists(), "only this file's temps are touched");
    }

    #[cfg(unix)]
    #[test]
    fn loose_directory_mode_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("loose");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&sub).unwrap();
        assert_eq!(mode_of(&sub), Some(0o700));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::write(&real, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(write_private_atomic(&link, b"y").is_err());
        assert!(read_private(&link).is_err());
        assert_eq!(fs::read(&real).unwrap(), b"x");
        let dir_link = dir.path().join("dirlink");
        std::os::unix::fs::symlink(dir.path(), &dir_link).unwrap();
        assert!(ensure_private_dir(&dir_link).is_err());
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.lock");
        let first = FileLock::try_acquire(&path).unwrap().expect("first lock");
        assert!(FileLock::try_acquire(&path).unwrap().is_none());
        assert!(FileLock::is_held(&path));
        drop(first);
        assert!(!FileLock::is_held(&path));
        assert!(FileLock::try_acquire(&path).unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn existing_directories_keep_their_mode_new_ones_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
        create_dir_if_missing(&shared).unwrap();
        assert_eq!(mode_of(&shared), Some(0o755), "not ours: left alone");
        let fresh = shared.join("a/b");
        create_dir_if_missing(&fresh).unwrap();
        assert_eq!(mode_of(&fresh), Some(0o700));
        assert_eq!(mode_of(&shared.join("a")), Some(0o700));
    }

    #[cfg(unix)]
    #[test]
    fn read_private_refuses_links_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::write(&real, b"secret").unwrap();
        assert_eq!(read_private(&real).unwrap().unwrap(), b"secret");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = read_private(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nope"), &dangling).unwrap();
        assert!(
            read_private(&dangling).is_err(),
            "a dangling link is not 'missing'"
        );
        assert!(read_private(dir.path()).is_err());
    }

    #[test]
    fn read_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_private(&dir.path().join("nope")).unwrap().is_none());
    }
}
