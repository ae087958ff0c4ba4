//! The local state store (docs/architecture.md, "The state store"): stored
//! Responses, their chains and Conversations, in one SQLite database under the
//! data dir, so that `previous_response_id`, retrieval and the Conversations API
//! work while the backend itself stays stateless (`store: false` upstream).
//!
//! - [`schema`]: opening, the start-up checks (header, schema version, quick
//!   check), file modes and migrations.
//! - [`writer`]: the one writer thread and its bounded queue. A response is
//!   handed to it without waiting ([`StateStore::enqueue`]); until it is written
//!   it stays in [`pending`], where every lookup sees it (read-your-writes).
//! - [`responses`], [`conversations`]: the reads and writes of each family.
//! - [`evict`]: retention, the byte bound and deletion (whole chains, never a
//!   shortened one).
//! - [`origins`]: which account issued each piece of encrypted reasoning (with
//!   two or more accounts), so it survives a restart.
//!
//! Reads run on a blocking thread (`spawn_blocking`) with a small pool of
//! connections; no lock is held across an `.await`. Nothing here names
//! `crate::server`: the server calls in, never the other way round.

pub(crate) mod conversations;
pub(crate) mod evict;
pub(crate) mod items;
pub(crate) mod origins;
pub(crate) mod pending;
pub(crate) mod responses;
pub(crate) mod schema;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use pending::Pending;
pub(crate) use pending::{Answer, Parts, Record, Unparsed};
use writer::Job;

/// The database file's name in the data dir.
pub(crate) const FILE_NAME: &str = "state.sqlite3";

/// Jobs waiting for the writer, at most.
const QUEUE_JOBS: usize = 4096;

/// Bytes of responses waiting for the writer, at most; past it a response is
/// answered but not stored (and counted).
const QUEUE_BYTES: u64 = 64 * 1024 * 1024;

/// Idle read connections kept open.
const POOL: usize = 4;

/// What the store is configured with (`[state]`).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `state.max_bytes`.
    pub(crate) max_bytes: u64,
    /// `state.retention_days`.
    pub(crate) retention_days: u64,
}

/// Why a state operation failed.
#[derive(Debug)]
pub(crate) enum StateError {
    /// The store is off or could not be opened: the path and the reason.
    Unavailable(String),
    /// No such object (or it was deleted or evicted).
    NotFound,
    /// Loading it would pass the byte limit given (the bytes it would take).
    TooLarge(u64),
    /// The database failed.
    Db(String),
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> StateError {
        StateError::Db(e.to_string())
    }
}

/// Counters shown by `status`.
#[derive(Default)]
pub(crate) struct Counters {
    /// Responses written.
    pub(crate) written: AtomicU64,
    /// Responses answered but not stored: the queue was full, or the write failed.
    pub(crate) dropped: AtomicU64,
}

struct Open {
    jobs: mpsc::Sender<Job>,
    pending: Arc<Pending>,
    pool: Arc<Mutex<Vec<Connection>>>,
    counters: Arc<Counters>,
    stats: Arc<Mutex<Stats>>,
}

/// The handle every request shares; cheap to clone.
#[derive(Clone)]
pub(crate) struct StateStore {
    path: PathBuf,
    open: Result<Arc<Open>, String>,
}

/// What `status` shows of the store.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Stats {
    /// Stored responses (deleted ones kept for their successors not counted).
    pub(crate) responses: u64,
    /// Conversations.
    pub(crate) conversations: u64,
    /// Conversation items.
    pub(crate) items: u64,
    /// Bytes of stored JSON.
    pub(crate) bytes: u64,
}

impl StateStore {
    /// Opens the store at `<data_dir>/state.sqlite3` and starts its writer. A
    /// corrupt or foreign file is left untouched and gives a store whose
    /// operations all fail with [`StateError::Unavailable`]. Returns whether the
    /// database was created now (for the privacy line).
    pub(crate) fn open(data_dir: &Path, settings: Settings) -> (StateStore, bool) {
        let path = data_dir.join(FILE_NAME);
        match schema::open(&path) {
            Ok((conn, created)) => {
                let pending = Arc::new(Pending::default());
                let counters = Arc::new(Counters::default());
                let stats = Arc::new(Mutex::new(evict::stats(&conn).unwrap_or_default()));
                let (tx, rx) = mpsc::channel(QUEUE_JOBS);
                let shared = writer::Shared {
                    pending: Arc::clone(&pending),
                    counters: Arc::clone(&counters),
                    stats: Arc::clone(&stats),
                };
                writer::start(conn, rx, shared, settings);
                let open = Open {
                    jobs: tx,
                    pending,
                    pool: Arc::new(Mutex::new(Vec::new())),
                    counters,
                    stats,
                };
                (
                    StateStore {
                        path,
                        open: Ok(Arc::new(open)),
                    },
                    created,
                )
            }
            Err(reason) => {
                tracing::error!("the state store is unavailable: {reason}");
                (
                    StateStore {
                        path,
                        open: Err(reason),
                    },
                    false,
                )
            }
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Why the store cannot be used, if it cannot.
    pub(crate) fn unavailable(&self) -> Option<&str> {
        self.open.as_ref().err().map(String::as_str)
    }

    fn inner(&self) -> Result<&Arc<Open>, StateError> {
        self.open
            .as_ref()
            .map_err(|r| StateError::Unavailable(r.clone()))
    }

    /// Hands a finished response to the writer without waiting. Until it is
    /// written every lookup sees it. When the queue is full it is not stored:
    /// counted and logged, and the answer goes out anyway.
    pub(crate) fn enqueue(&self, record: Record) {
        let Ok(open) = self.inner() else { return };
        let id = record.id.clone();
        let Some(record) = open.pending.push(record, QUEUE_BYTES) else {
            self.drop_record(&id, "the write queue is full");
            return;
        };
        if open
            .jobs
            .try_send(Job::Record(Arc::clone(&record)))
            .is_err()
        {
            open.pending.remove(record.seq);
            self.drop_record(&record.id, "the write queue is full");
        }
    }

    fn drop_record(&self, id: &str, why: &str) {
        if let Ok(open) = self.inner() {
            open.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(response = id, "response answered but not stored: {why}");
    }

    /// Hands reasoning origins (oldest first) to the writer without waiting; it
    /// keeps the newest `cap`. `false` when the store is unavailable or its queue
    /// is full (they are then not kept across a restart).
    pub(crate) fn record_origins(&self, rows: Vec<(origins::Digest, String)>, cap: usize) -> bool {
        let Ok(open) = self.inner() else { return false };
        open.jobs.try_send(Job::Origins(rows, cap)).is_ok()
    }

    /// The reasoning origins kept by earlier runs, oldest first (at most `cap`).
    pub(crate) async fn load_origins(
        &self,
        cap: usize,
    ) -> Result<Vec<(origins::Digest, String)>, StateError> {
        self.read(move |conn, _| origins::load(conn, cap)).await
    }

    /// Runs `f` on the writer thread, after every job queued before it.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        self.on_writer(f, true).await
    }

    async fn on_writer<T, F>(&self, f: F, changes: bool) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        let open = self.inner()?;
        let (tx, rx) = oneshot::channel();
        let job = Job::Op(
            Box::new(move |conn: &mut Connection| {
                let _ = tx.send(f(conn));
            }),
            changes,
        );
        let stopped = || StateError::Db("the state writer has stopped".into());
        open.jobs.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Runs `f` with a read connection and the responses still queued, on a
    /// blocking thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Pending) -> Result<T, StateError> + Send + 'static,
    {
        let open = Arc::clone(self.inner()?);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = open.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => schema::reader(&path).map_err(StateError::Db)?,
            };
            let result = f(&conn, &open.pending);
            let mut pool = open.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOL {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StateError::Db(format!("a state read failed: {e}")))?
    }

    /// Waits until everything queued so far is written.
    pub(crate) async fn barrier(&self) -> Result<(), StateError> {
        self.on_writer(|_| Ok(()), false).await
    }

    /// The live counters: (written, dropped, queued).
    pub(crate) fn counters(&self) -> (u64, u64, u64) {
        match self.inner() {
            Ok(o) => (
                o.counters.written.load(Ordering::Relaxed),
                o.counters.dropped.load(Ordering::Relaxed),
                o.pending.len() as u64,
            ),
            Err(_) => (0, 0, 0),
        }
    }

    /// Counts and bytes of what is stored, as the writer last counted them.
    pub(crate) fn stats(&self) -> Stats {
        match self.inner() {
            Ok(o) => o.stats.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Err(_) => Stats::default(),
        }
    }
}

/// Counts and bytes of the database at `<data_dir>/state.sqlite3`, read by
/// another process (`airelays status`); `Ok` with zeros when there is none.
/// Only whose file it is and its version are checked: `status` runs often, and
/// the full check reads the whole file (`doctor` and `state check` run it).
pub(crate) fn stats_on_disk(data_dir: &Path) -> Result<Stats, String> {
    let path = data_dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(Stats::default());
    }
    schema::identify_only(&path)?;
    let conn = schema::reader(&path)?;
    evict::stats(&conn).map_err(|e| format!("{e:?}"))
}

/// Deletes everything in the database at `<data_dir>/state.sqlite3`, under
/// SQLite's own lock (a running relay waits for it, then goes on).
pub(crate) fn clear_on_disk(data_dir: &Path) -> Result<(), String> {
    let path = data_dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(());
    }
    schema::check_only(&path)?;
    let mut conn = schema::reader(&path)?;
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(|e| e.to_string())?;
    evict::clear(&mut conn).map_err(|e| format!("cannot clear {}: {e:?}", path.display()))
}

/// The full integrity check of `<data_dir>/state.sqlite3`.
pub(crate) fn check_on_disk(data_dir: &Path) -> Result<(), String> {
    let path = data_dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(());
    }
    schema::check_only(&path)?;
    schema::integrity_check(&path).map_err(|e| {
        format!(
            "the state database {} failed its integrity check ({e}); {}",
            path.display(),
            schema::fix(&path)
        )
    })
}

/// The size on disk of the database and its `-wal` and `-shm` files.
pub(crate) fn file_bytes(data_dir: &Path) -> u64 {
    let path = data_dir.join(FILE_NAME);
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
        })
        .sum()
}

/// A new id: `prefix` and 48 hex digits from the thread's CSPRNG.
pub(crate) fn new_id(prefix: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 24] = rand::random();
    let mut id = String::with_capacity(prefix.len() + 48);
    id.push_str(prefix);
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 15)]));
    }
    id
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The serialised size of a JSON value, counted without building the text.
pub(crate) fn json_len(v: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, v);
    count.0
}

#[cfg(test)]
mod tests;
