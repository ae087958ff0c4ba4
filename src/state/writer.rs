//! The one writer: a thread that owns the write connection and takes jobs from
//! a bounded queue in order, so a response, the conversation it appends to and
//! an API write that came after it are written in the order they happened. Each
//! response is written atomically (a batch is one commit; a response that
//! fails is retried alone under its own savepoint, so it is dropped alone): a
//! `kill -9` loses at most what is still queued and never leaves half a
//! conversation turn. Retention and the byte bound are enforced here too, off
//! the request path.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::Value;
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

    fn wrote(&self, r: &Record, bytes: u64) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.responses += u64::from(r.keep);
        stats.bytes += bytes;
        if r.conversation.is_some() {
            stats.items += (r.input.len() + r.output().len()) as u64;
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

/// Responses written in one transaction at most: half the queue, so the
/// request path still has room while a batch is written.
const BATCH: usize = super::QUEUE_JOBS / 2;

/// The writer writes in the relay's pauses: it gathers responses until none
/// has arrived for this long (docs/architecture.md, "The state store")...
const QUIET: Duration = Duration::from_millis(10);

/// ...or until the oldest has waited this long (a `kill -9` loses at most
/// this much, and what queued behind it), or half the queue is taken. Until
/// then every lookup sees the waiting responses, so nothing waits for them.
const MAX_DELAY: Duration = Duration::from_secs(1);

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
                let batch = gather(&mut jobs, first, &mut next, shared);
                bytes = bytes.saturating_add(write_batch(&mut conn, &batch, shared));
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

/// The responses to write in one commit, from `first` on: everything queued
/// until a pause ([`QUIET`]), [`MAX_DELAY`], [`BATCH`] or half the queue's
/// bytes. An API write stops the gathering (it goes next, in order).
fn gather(
    jobs: &mut mpsc::Receiver<Job>,
    first: Arc<Record>,
    next: &mut Option<Job>,
    shared: &Shared,
) -> Vec<Arc<Record>> {
    let started = Instant::now();
    let mut batch = vec![first];
    let mut open = drain(jobs, &mut batch, next);
    loop {
        let full = batch.len() >= BATCH || shared.pending.bytes() >= super::QUEUE_BYTES / 2;
        if !open || next.is_some() || full || started.elapsed() >= MAX_DELAY {
            return batch;
        }
        std::thread::sleep(QUIET);
        let before = batch.len();
        open = drain(jobs, &mut batch, next);
        if batch.len() == before && next.is_none() {
            // Nothing arrived during the wait: a pause.
            return batch;
        }
    }
}

/// Moves the queued responses into `batch` (up to [`BATCH`]); an API write
/// goes to `next`. `false` when every sender is gone.
fn drain(
    jobs: &mut mpsc::Receiver<Job>,
    batch: &mut Vec<Arc<Record>>,
    next: &mut Option<Job>,
) -> bool {
    while batch.len() < BATCH {
        match jobs.try_recv() {
            Ok(Job::Record(r)) => batch.push(r),
            Ok(other) => {
                *next = Some(other);
                return true;
            }
            Err(mpsc::error::TryRecvError::Empty) => return true,
            Err(mpsc::error::TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// The writer yields to the threads that answer requests: on Linux its own
/// thread gets nice 10, so under CPU contention writes wait, answers do not.
/// (Not 19: at that share a saturated relay starves the writer until the
/// bounded queue fills and responses go unstored.)
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!("state writer: cannot lower its priority: {e}");
    }
}

/// Writes a batch in one transaction. The fast path inserts every response
/// straight into it; when one fails, the transaction is rolled back and the
/// batch written again with each response (and its conversation turn) under its
/// own savepoint, so the failing one is dropped alone. Returns the bytes
/// written; every response leaves the pending set.
pub(super) fn write_batch(conn: &mut Connection, batch: &[Arc<Record>], shared: &Shared) -> u64 {
    let result = match write_all(conn, batch) {
        Ok(written) => Ok(written),
        Err(_) => write_one_by_one(conn, batch, shared),
    };
    let mut bytes = 0;
    match result {
        Ok(written) => {
            for (record, size) in written {
                bytes += size;
                // Counted after the stats, so `written` never runs ahead of them.
                shared.wrote(record, size);
                shared.counters.written.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err((written, e)) => written.iter().for_each(|(r, _)| drop_record(shared, r, &e)),
    }
    for record in batch {
        shared.pending.remove(record.seq);
    }
    bytes
}

/// The whole batch in one transaction, without savepoints (nothing is kept
/// when any insert fails: the transaction rolls back when dropped).
fn write_all<'a>(
    conn: &mut Connection,
    batch: &'a [Arc<Record>],
) -> Result<Vec<(&'a Arc<Record>, u64)>, StateError> {
    let tx = conn.transaction()?;
    let mut written = Vec::with_capacity(batch.len());
    for record in batch {
        written.push((record, insert_record(&tx, record)?));
    }
    tx.commit()?;
    Ok(written)
}

/// Each response written with its stored bytes.
type SizedRecords<'a> = Vec<(&'a Arc<Record>, u64)>;

/// The responses written; on a failed commit, the ones that would have been
/// and why they were not.
type Written<'a> = Result<SizedRecords<'a>, (SizedRecords<'a>, StateError)>;

/// The batch again, each response under its own savepoint.
fn write_one_by_one<'a>(
    conn: &mut Connection,
    batch: &'a [Arc<Record>],
    shared: &Shared,
) -> Written<'a> {
    let mut written = Vec::with_capacity(batch.len());
    let result = (|| -> Result<(), StateError> {
        let mut tx = conn.transaction()?;
        for record in batch {
            let mut sp = tx.savepoint()?;
            match insert_record(&sp, record) {
                Ok(size) => {
                    sp.commit()?;
                    written.push((record, size));
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
    match result {
        Ok(()) => Ok(written),
        Err(e) => Err((written, e)),
    }
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

/// Inserts one response and its conversation turn (the caller commits);
/// returns its stored bytes ([`Record::stored_bytes`]), counted from the text
/// it writes rather than by serialising everything a second time.
fn insert_record(tx: &Connection, r: &Record) -> Result<u64, StateError> {
    let bytes = if r.keep {
        insert_response(tx, r)?
    } else {
        r.stored_bytes()
    };
    if let Some(conversation) = &r.conversation {
        let items = r.input.iter().chain(r.output());
        super::conversations::append(tx, conversation, Some(&r.id), items, r.created_ms)?;
    }
    Ok(bytes)
}

/// The rows of a kept response: the response, its items, its chain's age.
/// Returns the bytes of the JSON text written.
fn insert_response(tx: &Connection, r: &Record) -> Result<u64, StateError> {
    let object = r.object().to_string();
    let items: Vec<(i64, i64, &Value, String)> = [(0, r.input.as_slice()), (1, r.output())]
        .into_iter()
        .flat_map(|(side, items)| {
            items
                .iter()
                .enumerate()
                .map(move |(pos, item)| (side, pos as i64, item, item.to_string()))
        })
        .collect();
    let bytes = (object.len() + items.iter().map(|i| i.3.len()).sum::<usize>()) as u64;
    tx.prepare_cached(
        "INSERT INTO responses (id, previous_id, root_id, conversation_id, created_ms, model, status, object, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        r.id,
        r.previous,
        r.root,
        r.conversation,
        r.created_ms,
        r.model,
        r.status,
        object,
        bytes as i64
    ])?;
    let seq = tx.last_insert_rowid();
    let mut insert = tx.prepare_cached(
        "INSERT INTO response_items (response_seq, side, pos, item_id, item) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (side, pos, item, text) in &items {
        insert.execute(params![seq, side, pos, super::items::item_id(item), text])?;
    }
    tx.prepare_cached(
        "INSERT INTO chains (root_id, newest_ms) VALUES (?1, ?2)
         ON CONFLICT(root_id) DO UPDATE SET newest_ms = max(newest_ms, excluded.newest_ms)",
    )?
    .execute(params![r.root, r.created_ms])?;
    Ok(bytes)
}
