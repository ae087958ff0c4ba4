//! Responses handed to the writer and not yet written. Every lookup checks
//! here first, so the turn a client sends milliseconds after
//! `response.completed` sees the one before it (read-your-writes).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::json_len;

/// A response's output items and its Response object without `output`.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// Its output items.
    pub(crate) output: Vec<Value>,
    /// The Response object without `output`.
    pub(crate) object: Value,
}

/// An answer kept as the backend's JSON text, parsed into [`Parts`] off the
/// answering path: by the writer, or by the first lookup that needs it.
pub(crate) trait Unparsed: Send + Sync + std::fmt::Debug {
    /// The parts (empty when the text is not a response).
    fn parse(&self) -> Parts;
}

/// The answer of a [`Record`]: parsed once, when first asked for.
#[derive(Debug)]
pub(crate) struct Answer {
    parts: OnceLock<Parts>,
    unparsed: Option<Box<dyn Unparsed>>,
}

impl Answer {
    /// An answer that is already parsed.
    pub(crate) fn parsed(parts: Parts) -> Answer {
        Answer {
            parts: OnceLock::from(parts),
            unparsed: None,
        }
    }

    /// An answer parsed on first use.
    pub(crate) fn unparsed(text: Box<dyn Unparsed>) -> Answer {
        Answer {
            parts: OnceLock::new(),
            unparsed: Some(text),
        }
    }

    fn parts(&self) -> &Parts {
        self.parts.get_or_init(|| {
            self.unparsed
                .as_ref()
                .map_or_else(Parts::default, |u| u.parse())
        })
    }
}

/// One finished response, as it will be stored.
#[derive(Debug)]
pub(crate) struct Record {
    /// Enqueue order (set by [`Pending::push`]).
    pub(crate) seq: u64,
    /// The response id (`resp_…`).
    pub(crate) id: String,
    /// Whether the response itself is kept (`store` was not false). A response
    /// with `store: false` on a conversation still appends to it.
    pub(crate) keep: bool,
    /// The predecessor (`previous_response_id`), when chained.
    pub(crate) previous: Option<String>,
    /// The first response of its chain (itself when not chained).
    pub(crate) root: String,
    /// The conversation it appends to.
    pub(crate) conversation: Option<String>,
    /// When it was created, in milliseconds.
    pub(crate) created_ms: i64,
    /// The model.
    pub(crate) model: String,
    /// `completed` or `incomplete`.
    pub(crate) status: String,
    /// Its own new input items (after `item_reference` expansion, before file
    /// inlining), each with an id.
    pub(crate) input: Vec<Value>,
    /// Its output and Response object.
    pub(crate) answer: Answer,
    /// What it holds in the queue, in bytes (an upper bound of its stored size:
    /// [`Record::stored_bytes`] is exact).
    pub(crate) bytes: u64,
}

impl Record {
    /// Its output items (parsed now if they were not yet).
    pub(crate) fn output(&self) -> &[Value] {
        &self.answer.parts().output
    }

    /// The Response object without `output` (parsed now if it was not yet).
    pub(crate) fn object(&self) -> &Value {
        &self.answer.parts().object
    }

    /// Serialised size of the Response object and every item: what the store
    /// counts against `state.max_bytes`.
    pub(crate) fn stored_bytes(&self) -> u64 {
        json_len(self.object())
            + self
                .input
                .iter()
                .chain(self.output())
                .map(json_len)
                .sum::<u64>()
    }
}

/// The queue's mirror: records in enqueue order.
#[derive(Default)]
pub(crate) struct Pending {
    records: Mutex<VecDeque<Arc<Record>>>,
    bytes: AtomicU64,
    next: AtomicU64,
}

impl Pending {
    /// Adds a record unless the queued bytes would pass `max_bytes` (one record
    /// always fits an empty queue); sets its seq.
    pub(crate) fn push(&self, mut record: Record, max_bytes: u64) -> Option<Arc<Record>> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = self.bytes.load(Ordering::Relaxed);
        if bytes.saturating_add(record.bytes) > max_bytes && !records.is_empty() {
            return None;
        }
        record.seq = self.next.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(record.bytes, Ordering::Relaxed);
        let record = Arc::new(record);
        records.push_back(Arc::clone(&record));
        Some(record)
    }

    /// Forgets a record (written, or dropped).
    pub(crate) fn remove(&self, seq: u64) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = records.iter().position(|r| r.seq == seq)
            && let Some(r) = records.remove(i)
        {
            self.bytes.fetch_sub(r.bytes, Ordering::Relaxed);
        }
    }

    /// Bytes of the records waiting.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Records waiting.
    pub(crate) fn len(&self) -> usize {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A copy of the queue (cheap: the records are shared).
    pub(crate) fn snapshot(&self) -> Vec<Arc<Record>> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().cloned().collect()
    }

    /// The queued response `id`, if it is kept.
    pub(crate) fn response(&self, id: &str) -> Option<Arc<Record>> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().rev().find(|r| r.keep && r.id == id).cloned()
    }
}
