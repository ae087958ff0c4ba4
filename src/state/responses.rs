//! Reading stored responses: a chain for `previous_response_id`, one response
//! for `GET /v1/responses/{id}`, its input items, and single items for
//! `item_reference`. Queued responses ([`Pending`]) are seen first.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::pending::{Pending, Record};
use super::{StateError, json_len};

/// A stored response as a chain link: its predecessor, its items.
struct Link {
    id: String,
    previous: Option<String>,
    root: String,
    input: Vec<Value>,
    output: Vec<Value>,
}

impl Link {
    fn of_record(r: &Record) -> Link {
        Link {
            id: r.id.clone(),
            previous: r.previous.clone(),
            root: r.root.clone(),
            input: r.input.clone(),
            output: r.output().to_vec(),
        }
    }
}

/// The items of a chain, oldest first, and its root.
pub(crate) struct Chain {
    /// Every input and output item of every turn, oldest first.
    pub(crate) items: Vec<Value>,
    /// The chain's first response.
    pub(crate) root: String,
    /// For each item, the response it came from.
    pub(crate) sources: Vec<String>,
}

/// The whole chain ending at `id`: every turn's input then output, oldest
/// first. `NotFound` when `id` is unknown or deleted, or any link is missing;
/// `TooLarge` past `max_bytes`.
pub(crate) fn chain(
    conn: &Connection,
    pending: &Pending,
    id: &str,
    max_bytes: u64,
) -> Result<Chain, StateError> {
    let queued: Vec<Arc<Record>> = pending.snapshot();
    let find = |id: &str, first: bool| -> Result<Option<Link>, StateError> {
        if let Some(r) = queued.iter().rev().find(|r| r.keep && r.id == id) {
            return Ok(Some(Link::of_record(r)));
        }
        link(conn, id, first)
    };
    let mut turns: Vec<Link> = Vec::new();
    let mut bytes = 0u64;
    let mut next = Some(id.to_owned());
    let mut first = true;
    while let Some(cur) = next.take() {
        let Some(link) = find(&cur, first)? else {
            return Err(StateError::NotFound);
        };
        first = false;
        bytes += link
            .input
            .iter()
            .chain(&link.output)
            .map(json_len)
            .sum::<u64>();
        if bytes > max_bytes {
            return Err(StateError::TooLarge(bytes));
        }
        if turns.len() > 100_000 {
            return Err(StateError::NotFound);
        }
        next = link.previous.clone();
        turns.push(link);
    }
    let root = turns.last().map(|l| l.root.clone()).unwrap_or_default();
    let mut items = Vec::new();
    let mut sources = Vec::new();
    for turn in turns.into_iter().rev() {
        let n = turn.input.len() + turn.output.len();
        sources.extend(std::iter::repeat_n(format!("response '{}'", turn.id), n));
        items.extend(turn.input);
        items.extend(turn.output);
    }
    Ok(Chain {
        items,
        root,
        sources,
    })
}

/// One stored link; a deleted response counts only inside a chain (`first` is
/// false), where its content is kept for its successors.
fn link(conn: &Connection, id: &str, first: bool) -> Result<Option<Link>, StateError> {
    let row: Option<(i64, Option<String>, String, bool)> = conn
        .query_row(
            "SELECT seq, previous_id, root_id, deleted FROM responses WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0)),
        )
        .optional()?;
    let Some((seq, previous, root, deleted)) = row else {
        return Ok(None);
    };
    if deleted && first {
        return Ok(None);
    }
    let (input, output) = items_of(conn, seq)?;
    Ok(Some(Link {
        id: id.to_owned(),
        previous,
        root,
        input,
        output,
    }))
}

fn items_of(conn: &Connection, seq: i64) -> Result<(Vec<Value>, Vec<Value>), StateError> {
    let mut stmt = conn.prepare_cached(
        "SELECT side, item FROM response_items WHERE response_seq = ?1 ORDER BY side, pos",
    )?;
    let mut input = Vec::new();
    let mut output = Vec::new();
    let rows = stmt.query_map([seq], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (side, text) = row?;
        let item = serde_json::from_str(&text).unwrap_or(Value::Null);
        if side == 0 {
            input.push(item);
        } else {
            output.push(item);
        }
    }
    Ok((input, output))
}

/// The Response object of `id` as OpenAI returns it (with `output`), unless it
/// is unknown or deleted.
pub(crate) fn get(conn: &Connection, pending: &Pending, id: &str) -> Result<Value, StateError> {
    if let Some(r) = pending.response(id) {
        return Ok(with_output(r.object().clone(), r.output().to_vec()));
    }
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, object FROM responses WHERE id = ?1 AND deleted = 0",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, object) = row.ok_or(StateError::NotFound)?;
    let (_, output) = items_of(conn, seq)?;
    let object = serde_json::from_str(&object).unwrap_or(Value::Null);
    Ok(with_output(object, output))
}

fn with_output(mut object: Value, output: Vec<Value>) -> Value {
    if let Value::Object(o) = &mut object {
        o.insert("output".into(), Value::Array(output));
    }
    object
}

/// The input items of `id`, oldest first, unless it is unknown or deleted.
pub(crate) fn input_items(
    conn: &Connection,
    pending: &Pending,
    id: &str,
) -> Result<Vec<Value>, StateError> {
    if let Some(r) = pending.response(id) {
        return Ok(r.input.clone());
    }
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM responses WHERE id = ?1 AND deleted = 0",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StateError::NotFound)?;
    Ok(items_of(conn, seq)?.0)
}

/// A stored item by id (for `item_reference`): from a queued response, a
/// stored one, or a conversation.
pub(crate) fn item(
    conn: &Connection,
    pending: &Pending,
    id: &str,
) -> Result<Option<Value>, StateError> {
    for r in pending.snapshot().iter().rev() {
        if let Some(item) = r
            .output()
            .iter()
            .chain(&r.input)
            .find(|i| super::items::item_id(i) == Some(id))
        {
            return Ok(Some(item.clone()));
        }
    }
    let found: Option<String> = conn
        .query_row(
            "SELECT item FROM response_items WHERE item_id = ?1 LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let found = match found {
        Some(f) => Some(f),
        None => conn
            .query_row(
                "SELECT item FROM conversation_items WHERE item_id = ?1 ORDER BY seq DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?,
    };
    Ok(found.and_then(|t| serde_json::from_str(&t).ok()))
}
