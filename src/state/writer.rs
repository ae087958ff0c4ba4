//! The one writer: a thread that owns the write connection and takes jobs from
//! a bounded queue in order, so a response, the conversation it appends to and
//! an API write that came after it are written in the order they happened. Each
//! response is one transaction: a `kill -9` loses at most what is still queued
//! and never leaves half a conversation turn. Retention and the byte bound are
//! enforced here too, off the request path.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use tokio::sync::mpsc;

use super::pending::{Pending, Record};
use super::{Counters, Settings, StateError, Stats, evict};

/// A job for the writer.
pub(crate) enum Job {
    /// A finished response (already in [`Pending`]).
    Record(Arc<Record>),
    /// A write of an API route, answered through its own channel; `false` when
    /// it changes nothing (a barrier).
    Op(Box<dyn FnOnce(&mut Connection) + Send>, bool),
}

/// How often retention runs when nothing else makes it.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What the writer shares with the handles.
pub(crate) struct Shared {
    /// Responses queued and not yet written.
    pub(crate) pending: Arc<Pending>,
    /// Written and dropped responses.
    pub(crate) counters: Arc<Counters>,
    /// What `status` shows, kept current by the writer.
    pub(crate) stats: Arc<Mutex<Stats>>,
}

impl Shared {
    fn recount(&self, conn: &Connection) {
        if let Ok(now) = evict::stats(conn) {
            *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = now;
        }
    }

    fn wrote(&self, r: &Record) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.responses += u64::from(r.keep);
        stats.bytes += r.bytes;
        if r.conversation.is_some() {
            stats.items += (r.input.len() + r.output.len()) as u64;
        }
    }
}

/// Starts the writer thread; it ends when every sender is gone.
pub(crate) fn start(
    conn: Connection,
    jobs: mpsc::Receiver<Job>,
    shared: Shared,
    settings: Settings,
) {
    let spawned = std::thread::Builder::new()
        .name("airelays-state".into())
        .spawn(move || run(conn, jobs, &shared, &settings));
    if let Err(e) = spawned {
        tracing::error!("cannot start the state writer: {e}");
    }
}

fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, shared: &Shared, settings: &Settings) {
    let (pending, counters) = (&shared.pending, &shared.counters);
    let mut bytes = evict::total_bytes(&conn).unwrap_or(0);
    let mut last_sweep: Option<Instant> = None;
    loop {
        if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) || bytes > settings.max_bytes {
            match evict::enforce(&mut conn, settings) {
                Ok(now) => bytes = now,
                Err(e) => tracing::warn!("state eviction failed: {e:?}"),
            }
            shared.recount(&conn);
            last_sweep = Some(Instant::now());
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
                        shared.wrote(&record);
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
            Job::Op(op, false) => op(&mut conn),
            Job::Op(op, true) => {
                op(&mut conn);
                // API writes (deletes, conversation items) change the totals.
                bytes = evict::total_bytes(&conn).unwrap_or(bytes);
                shared.recount(&conn);
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
