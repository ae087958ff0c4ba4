//! The one writer: a thread that owns the write connection and takes jobs from
//! a bounded queue in order, so a response, the conversation it appends to and
//! an API write that came after it are written in the order they happened. Each
//! response is one transaction: a `kill -9` loses at most what is still queued
//! and never leaves half a conversation turn. Retention and the byte bound are
//! enforced here too, off the request path.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use tokio::sync::mpsc;

use super::pending::{Pending, Record};
use super::{Counters, Settings, StateError, evict};

/// A job for the writer.
pub(crate) enum Job {
    /// A finished response (already in [`Pending`]).
    Record(Arc<Record>),
    /// A write of an API route, answered through its own channel.
    Op(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// How often retention runs when nothing else makes it.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Starts the writer thread; it ends when every sender is gone.
pub(crate) fn start(
    conn: Connection,
    jobs: mpsc::Receiver<Job>,
    pending: Arc<Pending>,
    counters: Arc<Counters>,
    settings: Settings,
) {
    let spawned = std::thread::Builder::new()
        .name("airelays-state".into())
        .spawn(move || run(conn, jobs, &pending, &counters, &settings));
    if let Err(e) = spawned {
        tracing::error!("cannot start the state writer: {e}");
    }
}

fn run(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    pending: &Pending,
    counters: &Counters,
    settings: &Settings,
) {
    let mut bytes = evict::total_bytes(&conn).unwrap_or(0);
    let mut last_sweep = Instant::now() - SWEEP_EVERY;
    loop {
        if last_sweep.elapsed() >= SWEEP_EVERY || bytes > settings.max_bytes {
            match evict::enforce(&mut conn, settings) {
                Ok(now) => bytes = now,
                Err(e) => tracing::warn!("state eviction failed: {e:?}"),
            }
            last_sweep = Instant::now();
        }
        let Some(job) = jobs.blocking_recv() else {
            return;
        };
        match job {
            Job::Record(record) => {
                match write_record(&mut conn, &record) {
                    Ok(()) => {
                        bytes = bytes.saturating_add(record.bytes);
                        counters.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            response = record.id.as_str(),
                            "response answered but not stored: {e:?}"
                        );
                    }
                }
                pending.remove(record.seq);
            }
            Job::Op(op) => {
                op(&mut conn);
                // API writes (deletes, conversation items) change the total.
                bytes = evict::total_bytes(&conn).unwrap_or(bytes);
            }
        }
    }
}

/// Writes one response, and its conversation turn, in one transaction.
pub(crate) fn write_record(conn: &mut Connection, r: &Record) -> Result<(), StateError> {
    let tx = conn.transaction()?;
    if r.keep {
        tx.execute(
            "INSERT INTO responses (id, previous_id, root_id, conversation_id, created_ms, model, status, object, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                r.id,
                r.previous,
                r.root,
                r.conversation,
                r.created_ms,
                r.model,
                r.status,
                r.object.to_string(),
                r.bytes as i64
            ],
        )?;
        let seq = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO response_items (response_seq, side, pos, item_id, item) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (side, items) in [(0, &r.input), (1, &r.output)] {
                for (pos, item) in items.iter().enumerate() {
                    insert.execute(params![
                        seq,
                        side,
                        pos as i64,
                        super::items::item_id(item),
                        item.to_string()
                    ])?;
                }
            }
        }
        tx.execute(
            "INSERT INTO chains (root_id, newest_ms) VALUES (?1, ?2)
             ON CONFLICT(root_id) DO UPDATE SET newest_ms = max(newest_ms, excluded.newest_ms)",
            params![r.root, r.created_ms],
        )?;
    }
    if let Some(conversation) = &r.conversation {
        let items = r.input.iter().chain(r.output.iter());
        super::conversations::append(&tx, conversation, Some(&r.id), items, r.created_ms)?;
    }
    tx.commit()?;
    Ok(())
}
