//! Which account issued each piece of encrypted reasoning, kept across restarts
//! (docs/architecture.md#accounts): one row per digest (`reasoning_digest`, never
//! the content) and the account's name, newest last, at most the cap the caller
//! gives (the oldest rows go first).
//!
//! The table is created by its first write, and the server writes only with two or
//! more accounts signed in, so a single-account database never gets it. It lies
//! outside the numbered migrations on purpose: an older airelays opens a database
//! that has it unchanged (it ignores the table), and `state clear`, which deletes
//! stored content, leaves it (it holds none).

use rusqlite::{Connection, params};

use super::StateError;

/// A reasoning digest (`crate::translate::reasoning_digest`).
pub(crate) type Digest = [u8; 16];

const CREATE: &str = "CREATE TABLE IF NOT EXISTS reasoning_origins (
    seq INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    account TEXT NOT NULL
)";

/// Adds `rows` (oldest first) in one transaction, then deletes the oldest rows
/// past `cap`. Rows are only ever appended and trimmed from the oldest end, so
/// `seq` stays contiguous and "the newest `cap`" is one range.
pub(crate) fn write(
    conn: &mut Connection,
    rows: &[(Digest, String)],
    cap: usize,
) -> Result<(), StateError> {
    let tx = conn.transaction()?;
    tx.execute_batch(CREATE)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO reasoning_origins (digest, account) VALUES (?1, ?2)
             ON CONFLICT(digest) DO UPDATE SET account = excluded.account",
        )?;
        for (digest, account) in rows {
            insert.execute(params![&digest[..], account])?;
        }
    }
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    tx.execute(
        "DELETE FROM reasoning_origins WHERE seq <= (SELECT max(seq) FROM reasoning_origins) - ?1",
        params![cap],
    )?;
    tx.commit()?;
    Ok(())
}

/// The newest `cap` rows, oldest first; none when the table does not exist (a
/// database only ever used with one account). Reads only.
pub(crate) fn load(conn: &Connection, cap: usize) -> Result<Vec<(Digest, String)>, StateError> {
    let exists: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'reasoning_origins'",
        [],
        |r| r.get(0),
    )?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    let mut stmt =
        conn.prepare("SELECT digest, account FROM reasoning_origins ORDER BY seq DESC LIMIT ?1")?;
    let rows = stmt.query_map(params![cap], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (digest, account) = row?;
        // A row some other program wrote with a digest of another length is skipped.
        if let Ok(digest) = Digest::try_from(digest.as_slice()) {
            out.push((digest, account));
        }
    }
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        [n; 16]
    }

    #[test]
    fn rows_come_back_oldest_first_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, _) = crate::state::schema::open(&dir.path().join("s.sqlite3")).unwrap();
        assert!(load(&conn, 10).unwrap().is_empty(), "no table: nothing");
        let tables = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'reasoning_origins'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(tables(&conn), 0, "loading creates nothing");
        let rows: Vec<(Digest, String)> = (1..=5).map(|n| (digest(n), format!("a{n}"))).collect();
        write(&mut conn, &rows, 3).unwrap();
        let names = |conn: &Connection| -> Vec<String> {
            load(conn, 10)
                .unwrap()
                .into_iter()
                .map(|(_, a)| a)
                .collect()
        };
        assert_eq!(
            names(&conn),
            ["a3", "a4", "a5"],
            "the oldest past the cap go"
        );
        // A digest seen again keeps its place and takes the new account.
        write(
            &mut conn,
            &[(digest(4), "b4".into()), (digest(6), "a6".into())],
            3,
        )
        .unwrap();
        assert_eq!(names(&conn), ["b4", "a5", "a6"]);
        assert_eq!(
            load(&conn, 2).unwrap().len(),
            2,
            "the newest within the cap"
        );
        assert_eq!(load(&conn, 2).unwrap()[1].1, "a6");
        conn.execute(
            "INSERT INTO reasoning_origins (digest, account) VALUES (x'01', 'odd')",
            [],
        )
        .unwrap();
        assert!(names(&conn).iter().all(|a| a != "odd"), "bad rows skipped");
    }
}
