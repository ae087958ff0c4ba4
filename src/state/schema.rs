//! Opening the database: what start-up checks (the header, the application id
//! and schema version, `PRAGMA quick_check`), the file modes (0600 database,
//! `-wal` and `-shm`, in the 0700 data dir), the pragmas (WAL,
//! `secure_delete`) and the migrations. A file that fails a check is never
//! written to: the caller reports it and the relay goes on without state.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// `PRAGMA application_id` of an airelays state database ("ARLY").
pub(crate) const APPLICATION_ID: i64 = 0x4152_4c59;

/// The schema version this build writes; older ones are migrated.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// The first 16 bytes of every SQLite database file.
const HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Migrations: `MIGRATIONS[n]` takes version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    previous_id TEXT,
    root_id TEXT NOT NULL,
    conversation_id TEXT,
    created_ms INTEGER NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    object TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL
);
CREATE INDEX responses_previous ON responses(previous_id);
CREATE INDEX responses_root ON responses(root_id);
CREATE TABLE response_items (
    response_seq INTEGER NOT NULL REFERENCES responses(seq) ON DELETE CASCADE,
    side INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    item_id TEXT,
    item TEXT NOT NULL,
    PRIMARY KEY (response_seq, side, pos)
) WITHOUT ROWID;
CREATE INDEX response_items_id ON response_items(item_id);
CREATE TABLE chains (
    root_id TEXT PRIMARY KEY,
    newest_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX chains_newest ON chains(newest_ms);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    metadata TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_updated ON conversations(updated_ms);
CREATE TABLE conversation_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    response_id TEXT,
    item TEXT NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE INDEX conversation_items_conversation ON conversation_items(conversation_id, seq);
CREATE INDEX conversation_items_id ON conversation_items(item_id);
CREATE INDEX conversation_items_response ON conversation_items(response_id);
"#];

/// Opens (creating it if missing) and checks the database, migrates it and
/// returns the writer's connection and whether the file was created now. The
/// error says what is wrong with the file and how to fix it.
pub(crate) fn open(path: &Path) -> Result<(Connection, bool), String> {
    let created = !path.exists();
    if created {
        if let Some(dir) = path.parent() {
            crate::fsio::ensure_private_dir(dir).map_err(|e| e.to_string())?;
        }
        crate::fsio::create_private(path)
            .map_err(|e| format!("cannot create the state database {}: {e}", path.display()))?;
    } else {
        check_header(path)?;
    }
    let conn = Connection::open_with_flags(path, flags()).map_err(|e| broken(path, &e))?;
    check(&conn, path)?;
    configure(&conn).map_err(|e| broken(path, &e))?;
    migrate(&conn).map_err(|e| broken(path, &e))?;
    tighten_modes(path);
    Ok((conn, created))
}

/// The start-up checks alone, without writing anything (for `state clear` and
/// `state check`).
pub(crate) fn check_only(path: &Path) -> Result<(), String> {
    check_header(path)?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| broken(path, &e))?;
    check(&conn, path)
}

/// Whose file it is and its schema version, without reading the whole file (for
/// `status`, which runs often; `doctor` and `state check` check it in full).
pub(crate) fn identify_only(path: &Path) -> Result<(), String> {
    check_header(path)?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| broken(path, &e))?;
    identify(&conn, path)
}

/// A read connection to a database [`open`] already checked.
pub(crate) fn reader(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open_with_flags(path, flags()).map_err(|e| broken(path, &e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// The fix every "unavailable" message names.
pub(crate) fn fix(path: &Path) -> String {
    format!(
        "move the file away (or delete it, which deletes the stored responses and conversations) and restart the relay, or set state.enabled = false; `airelays doctor` (or `airelays state check`) checks it in full: {}",
        path.display()
    )
}

fn broken(path: &Path, e: &dyn std::fmt::Display) -> String {
    format!(
        "the state database {} cannot be used ({e}); {}",
        path.display(),
        fix(path)
    )
}

fn check_header(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| broken(path, &e))?;
    let n = file.read(&mut head).map_err(|e| broken(path, &e))?;
    if n == 0 {
        return Ok(());
    }
    if n < 16 || &head != HEADER {
        return Err(broken(path, &"it is not an SQLite database"));
    }
    Ok(())
}

/// Read-only checks: whose file it is, its schema version, `quick_check`.
fn check(conn: &Connection, path: &Path) -> Result<(), String> {
    identify(conn, path)?;
    let quick: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| broken(path, &e))?;
    if quick != "ok" {
        return Err(broken(path, &format!("quick_check: {quick}")));
    }
    Ok(())
}

/// Whose file it is and its schema version: reads a few pages, whatever the
/// size of the store.
fn identify(conn: &Connection, path: &Path) -> Result<(), String> {
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| broken(path, &e))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| broken(path, &e))?;
    if app != APPLICATION_ID && !(app == 0 && tables == 0) {
        return Err(broken(path, &"it is an SQLite database of another program"));
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| broken(path, &e))?;
    if version > SCHEMA_VERSION {
        return Err(broken(
            path,
            &format!(
                "its schema version {version} is newer than this airelays understands ({SCHEMA_VERSION}); upgrade airelays"
            ),
        ));
    }
    Ok(())
}

/// A full `PRAGMA integrity_check` (for `doctor` and the tests).
pub(crate) fn integrity_check(path: &Path) -> Result<(), String> {
    let conn = reader(path)?;
    let result: String = conn
        .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if result == "ok" { Ok(()) } else { Err(result) }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidQuery);
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals and temporary indices in memory, not in temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", n as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The `-wal` and `-shm` files take the database's mode from SQLite; this makes
/// sure of it for files an older run left behind.
fn tighten_modes(path: &Path) {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        let mode = std::fs::metadata(&p).map(|m| m.permissions().mode() & 0o777);
        if mode.is_ok_and(|m| m != 0o600) {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_created_private_and_checked_again_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        let (conn, created) = open(&path).unwrap();
        assert!(created);
        conn.execute("INSERT INTO chains VALUES ('r', 1)", [])
            .unwrap();
        drop(conn);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (_conn, created) = open(&path).unwrap();
        assert!(!created);
        integrity_check(&path).unwrap();
    }

    #[test]
    fn a_foreign_or_corrupt_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        std::fs::write(&path, b"not a database at all, just text").unwrap();
        let e = open(&path).unwrap_err();
        assert!(
            e.contains("not an SQLite database") && e.contains("state.enabled"),
            "{e}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"not a database at all, just text"
        );

        let other = dir.path().join("other.sqlite3");
        let c = Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(c);
        let before = std::fs::read(&other).unwrap();
        let e = open(&other).unwrap_err();
        assert!(e.contains("another program"), "{e}");
        assert_eq!(std::fs::read(&other).unwrap(), before);
    }
}
