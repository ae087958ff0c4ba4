//! The one writer: a thread that owns the write connection and takes jobs from
//! a bounded queue in order, so a response, the conversation it appends to and
//! an API write that came after it are written in the order they happened. Each
//! response is written atomically (its own savepoint inside one commit): a
//! `kill -9` loses at most what is still queued and never leaves half a
//! conversation turn. Retention and the byte bound are enforced here too, off
//! the request path.

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
    /// Reasoning origins to keep (oldest first), and how many to keep at most.
    Origins(Vec<(super::origins::Digest, String)>, usize),
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

/// Responses written in one transaction at most (group commit under load).
const BATCH: usize = 256;

/// After a commit the writer waits this long before it looks at the queue again,
/// so under load the responses of a few milliseconds go in one commit and the
/// request path wakes no thread per response (lookups see queued responses, so
/// nothing waits for the write).
const GROUP_WINDOW: Duration = Duration::from_millis(5);

fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, shared: &Shared, settings: &Settings) {
    lower_priority();
    let mut bytes = evict::total_bytes(&conn).unwrap_or(0);
    let mut last_sweep: Option<Instant> = None;
    let mut next: Option<Job> = None;
    loop {
        if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) || bytes > settings.max_bytes {
            match evict::enforce(&mut conn, settings) {
                Ok(now) => bytes = now,
                Err(e) => tracing::warn!("state eviction failed: {e:?}"),
            }
            shared.recount(&conn);
            last_sweep = Some(Instant::now());
        }
        let Some(job) = next.take().or_else(|| jobs.blocking_recv()) else {
            return;
        };
        match job {
            Job::Record(first) => {
                // The responses already queued behind it go in the same commit.
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match jobs.try_recv() {
                        Ok(Job::Record(r)) => batch.push(r),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                bytes = bytes.saturating_add(write_batch(&mut conn, &batch, shared));
                if next.is_none() {
                    std::thread::sleep(GROUP_WINDOW);
                }
            }
            Job::Op(op, false) => op(&mut conn),
            Job::Origins(rows, cap) => {
                if let Err(e) = super::origins::write(&mut conn, &rows, cap) {
                    tracing::warn!("reasoning origins not kept: {e:?}");
                }
            }
            Job::Op(op, true) => {
                op(&mut conn);
                // API writes (deletes, conversation items) change the totals.
                bytes = evict::total_bytes(&conn).unwrap_or(bytes);
                shared.recount(&conn);
            }
        }
    }
}

/// The writer yields to the threads that answer requests: on Linux its own
/// thread gets nice 10, so under CPU contention writes wait, answers do not.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!("state writer: cannot lower its priority: {e}");
    }
}

/// Writes a batch in one transaction, each response (with its conversation
/// turn) under its own savepoint, so one that fails is dropped alone. Returns
/// the bytes written; every response leaves the pending set.
pub(super) fn write_batch(conn: &mut Connection, batch: &[Arc<Record>], shared: &Shared) -> u64 {
    let mut written = Vec::with_capacity(batch.len());
    let result = (|| -> Result<(), StateError> {
        let mut tx = conn.transaction()?;
        for record in batch {
            let mut sp = tx.savepoint()?;
            match insert_record(&sp, record) {
                Ok(()) => {
                    sp.commit()?;
                    written.push(record);
                }
                Err(e) => {
                    sp.rollback()?;
                    drop_record(shared, record, &e);
                }
            }
        }
        tx.commit()?;
        Ok(())
    })();
    let mut bytes = 0;
    match result {
        Ok(()) => {
            for record in &written {
                bytes += record.bytes;
                // Counted after the stats, so `written` never runs ahead of them.
                shared.wrote(record);
                shared.counters.written.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => written.iter().for_each(|r| drop_record(shared, r, &e)),
    }
    for record in batch {
        shared.pending.remove(record.seq);
    }
    bytes
}

fn drop_record(shared: &Shared, record: &Record, e: &StateError) {
    shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        response = record.id.as_str(),
        "response answered but not stored: {e:?}"
    );
}

/// Writes one response, and its conversation turn, in one transaction.
#[cfg(test)]
pub(crate) fn write_record(conn: &mut Connection, r: &Record) -> Result<(), StateError> {
    let tx = conn.transaction()?;
    insert_record(&tx, r)?;
    tx.commit()?;
    Ok(())
}

/// Inserts one response and its conversation turn (the caller commits).
fn insert_record(tx: &Connection, r: &Record) -> Result<(), StateError> {
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
        super::conversations::append(tx, conversation, Some(&r.id), items, r.created_ms)?;
    }
    Ok(())
}
