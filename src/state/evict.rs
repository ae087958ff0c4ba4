//! Bounds and deletion. Retention (`state.retention_days`) and the byte bound
//! (`state.max_bytes`) evict whole chains, the chain whose newest turn is
//! oldest first (a conversation counts as one chain), so no chain is ever
//! shortened: a later turn either finds every link or gets
//! `previous_response_not_found`. A deleted response is hidden at once and its
//! content kept while a later turn still references it. Every delete is
//! followed by a WAL checkpoint (with `secure_delete` on), so deleted content
//! does not linger in the files.

use rusqlite::{Connection, OptionalExtension};

use super::{Settings, StateError, Stats, now_ms};

/// Bytes of stored JSON.
pub(crate) fn total_bytes(conn: &Connection) -> Result<u64, StateError> {
    let n: i64 = conn.query_row(
        "SELECT (SELECT coalesce(sum(bytes), 0) FROM responses)
              + (SELECT coalesce(sum(bytes), 0) FROM conversation_items)",
        [],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// Evicts what retention and the byte bound require; returns the bytes left.
pub(crate) fn enforce(conn: &mut Connection, settings: &Settings) -> Result<u64, StateError> {
    let days = i64::try_from(settings.retention_days).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(days.saturating_mul(86_400_000));
    let mut total = total_bytes(conn)?;
    let mut evicted = 0u64;
    while let Some(victim) = oldest(conn)? {
        let expired = victim.newest_ms() < cutoff;
        if !expired && total <= settings.max_bytes {
            break;
        }
        let tx = conn.transaction()?;
        let freed: i64 = match &victim {
            Victim::Chain(root, _) => {
                let freed = tx.query_row(
                    "SELECT coalesce(sum(bytes), 0) FROM responses WHERE root_id = ?1",
                    [root],
                    |r| r.get(0),
                )?;
                tx.execute("DELETE FROM responses WHERE root_id = ?1", [root])?;
                tx.execute("DELETE FROM chains WHERE root_id = ?1", [root])?;
                freed
            }
            Victim::Conversation(id, _) => {
                let freed = tx.query_row(
                    "SELECT coalesce(sum(bytes), 0) FROM conversation_items WHERE conversation_id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                tx.execute("DELETE FROM conversations WHERE id = ?1", [id])?;
                freed
            }
        };
        tx.commit()?;
        total = total.saturating_sub(freed.max(0) as u64);
        evicted += 1;
    }
    if evicted > 0 {
        tracing::info!(
            evicted,
            "state: evicted chains and conversations past retention or state.max_bytes"
        );
        checkpoint(conn);
        total = total_bytes(conn)?;
    }
    Ok(total)
}

enum Victim {
    Chain(String, i64),
    Conversation(String, i64),
}

impl Victim {
    fn newest_ms(&self) -> i64 {
        match self {
            Victim::Chain(_, t) | Victim::Conversation(_, t) => *t,
        }
    }
}

fn oldest(conn: &Connection) -> Result<Option<Victim>, StateError> {
    let chain: Option<(String, i64)> = conn
        .query_row(
            "SELECT root_id, newest_ms FROM chains ORDER BY newest_ms LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let conversation: Option<(String, i64)> = conn
        .query_row(
            "SELECT id, updated_ms FROM conversations ORDER BY updated_ms LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match (chain, conversation) {
        (Some(c), Some(v)) if v.1 < c.1 => Some(Victim::Conversation(v.0, v.1)),
        (Some(c), _) => Some(Victim::Chain(c.0, c.1)),
        (None, Some(v)) => Some(Victim::Conversation(v.0, v.1)),
        (None, None) => None,
    })
}

/// Truncates the WAL, so deleted pages do not linger in it.
pub(crate) fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!("state: WAL checkpoint failed: {e}");
    }
}

/// Deletes response `id`: hidden at once, its content removed when no later
/// turn references it (and so on up its chain). `NotFound` when it is unknown
/// or already deleted.
pub(crate) fn delete_response(conn: &mut Connection, id: &str) -> Result<(), StateError> {
    let tx = conn.transaction()?;
    let changed = tx.execute(
        "UPDATE responses SET deleted = 1 WHERE id = ?1 AND deleted = 0",
        [id],
    )?;
    if changed == 0 {
        return Err(StateError::NotFound);
    }
    let mut next = Some(id.to_owned());
    while let Some(cur) = next.take() {
        let row: Option<(i64, Option<String>, String)> = tx
            .query_row(
                "SELECT deleted, previous_id, root_id FROM responses WHERE id = ?1",
                [&cur],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((1, previous, root)) = row else {
            break;
        };
        let successors: i64 = tx.query_row(
            "SELECT count(*) FROM responses WHERE previous_id = ?1",
            [&cur],
            |r| r.get(0),
        )?;
        if successors > 0 {
            break;
        }
        tx.execute("DELETE FROM responses WHERE id = ?1", [&cur])?;
        tx.execute(
            "DELETE FROM chains WHERE root_id = ?1 AND NOT EXISTS (SELECT 1 FROM responses WHERE root_id = ?1)",
            [&root],
        )?;
        next = previous;
    }
    tx.commit()?;
    checkpoint(conn);
    Ok(())
}

/// Deletes everything (`airelays state clear`).
pub(crate) fn clear(conn: &mut Connection) -> Result<(), StateError> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "DELETE FROM response_items; DELETE FROM responses; DELETE FROM chains;
         DELETE FROM conversation_items; DELETE FROM conversations;",
    )?;
    tx.commit()?;
    checkpoint(conn);
    conn.execute_batch("VACUUM")?;
    checkpoint(conn);
    Ok(())
}

/// Counts and bytes for `status`.
pub(crate) fn stats(conn: &Connection) -> Result<Stats, StateError> {
    let count = |sql: &str| -> Result<u64, StateError> {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    };
    Ok(Stats {
        responses: count("SELECT count(*) FROM responses WHERE deleted = 0")?,
        conversations: count("SELECT count(*) FROM conversations")?,
        items: count("SELECT count(*) FROM conversation_items")?,
        bytes: total_bytes(conn)?,
    })
}

/// Whether a response row exists (deleted or not), for tests.
#[cfg(test)]
pub(crate) fn exists(conn: &Connection, id: &str) -> bool {
    conn.query_row("SELECT 1 FROM responses WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .ok()
        .flatten()
        .is_some()
}
