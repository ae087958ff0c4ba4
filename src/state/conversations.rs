//! Conversations: their objects, their items, and the prefix a response created
//! with `conversation` reads. Writes run on the writer thread (in order with
//! the responses queued before them); a response's turn is appended in the
//! same transaction that stores the response ([`super::writer::write_record`]).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

use super::items::{Order, PageQuery, item_id, list, stored_input};
use super::pending::Pending;
use super::{StateError, json_len, new_id, now_ms};

/// OpenAI's conversation object.
fn object(id: &str, created_ms: i64, metadata: &str) -> Value {
    let metadata: Value = serde_json::from_str(metadata).unwrap_or_else(|_| json!({}));
    json!({"id": id, "object": "conversation", "created_at": created_ms / 1000, "metadata": metadata})
}

/// Creates a conversation with its first items.
pub(crate) fn create(
    conn: &mut Connection,
    metadata: &Map<String, Value>,
    items: &[Value],
) -> Result<Value, StateError> {
    let id = new_id("conv_");
    let now = now_ms();
    let metadata = Value::Object(metadata.clone()).to_string();
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO conversations (id, created_ms, updated_ms, metadata) VALUES (?1, ?2, ?2, ?3)",
        params![id, now, metadata],
    )?;
    let stored: Vec<Value> = items.iter().map(stored_input).collect();
    append(&tx, &id, None, stored.iter(), now)?;
    tx.commit()?;
    Ok(object(&id, now, &metadata))
}

/// The conversation object.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Value, StateError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT created_ms, metadata FROM conversations WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (created, metadata) = row.ok_or(StateError::NotFound)?;
    Ok(object(id, created, &metadata))
}

/// Replaces the metadata.
pub(crate) fn update(
    conn: &mut Connection,
    id: &str,
    metadata: &Map<String, Value>,
) -> Result<Value, StateError> {
    let changed = conn.execute(
        "UPDATE conversations SET metadata = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id, Value::Object(metadata.clone()).to_string(), now_ms()],
    )?;
    if changed == 0 {
        return Err(StateError::NotFound);
    }
    get(conn, id)
}

/// Deletes a conversation and its items.
pub(crate) fn delete(conn: &mut Connection, id: &str) -> Result<Value, StateError> {
    let changed = conn.execute("DELETE FROM conversations WHERE id = ?1", [id])?;
    if changed == 0 {
        return Err(StateError::NotFound);
    }
    super::evict::checkpoint(conn);
    Ok(json!({"id": id, "object": "conversation.deleted", "deleted": true}))
}

/// Appends items (already with ids) in a transaction; a conversation deleted in
/// the meantime gets nothing.
pub(crate) fn append<'a>(
    tx: &Connection,
    conversation: &str,
    response: Option<&str>,
    items: impl Iterator<Item = &'a Value>,
    now: i64,
) -> Result<(), StateError> {
    let updated = tx
        .prepare_cached("UPDATE conversations SET updated_ms = max(updated_ms, ?2) WHERE id = ?1")?
        .execute(params![conversation, now])?;
    if updated == 0 {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO conversation_items (conversation_id, item_id, response_id, item, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for item in items {
        let text = item.to_string();
        insert.execute(params![
            conversation,
            item_id(item).unwrap_or_default(),
            response,
            text,
            text.len() as i64
        ])?;
    }
    Ok(())
}

/// Adds items through the API; returns them as stored (with ids).
pub(crate) fn add_items(
    conn: &mut Connection,
    id: &str,
    items: &[Value],
) -> Result<Vec<Value>, StateError> {
    get(conn, id)?;
    let stored: Vec<Value> = items.iter().map(stored_input).collect();
    let tx = conn.transaction()?;
    append(&tx, id, None, stored.iter(), now_ms())?;
    tx.commit()?;
    Ok(stored)
}

/// One page of the conversation's items.
pub(crate) fn list_items(conn: &Connection, id: &str, q: &PageQuery) -> Result<Value, StateError> {
    get(conn, id)?;
    let cursor = |item: &Option<String>| -> Result<Option<i64>, StateError> {
        match item {
            None => Ok(None),
            Some(item) => Ok(conn
                .query_row(
                    "SELECT seq FROM conversation_items WHERE conversation_id = ?1 AND item_id = ?2",
                    params![id, item],
                    |r| r.get(0),
                )
                .optional()?),
        }
    };
    let (after, before) = (cursor(&q.after)?, cursor(&q.before)?);
    let (cmp_after, cmp_before, dir) = match q.order {
        Order::Asc => (">", "<", "ASC"),
        Order::Desc => ("<", ">", "DESC"),
    };
    let mut sql = String::from("SELECT item FROM conversation_items WHERE conversation_id = ?1");
    if after.is_some() {
        sql.push_str(&format!(" AND seq {cmp_after} ?2"));
    }
    if before.is_some() {
        sql.push_str(&format!(" AND seq {cmp_before} ?3"));
    }
    sql.push_str(&format!(" ORDER BY seq {dir} LIMIT ?4"));
    let mut stmt = conn.prepare(&sql)?;
    let limit = q.limit as i64 + 1;
    let bind = params![id, after.unwrap_or(0), before.unwrap_or(0), limit];
    let mut data = Vec::new();
    let rows = stmt.query_map(bind, |r| r.get::<_, String>(0))?;
    for row in rows {
        data.push(serde_json::from_str(&row?).unwrap_or(Value::Null));
    }
    let has_more = data.len() > q.limit;
    data.truncate(q.limit);
    Ok(list(data, has_more))
}

/// One item.
pub(crate) fn get_item(conn: &Connection, id: &str, item: &str) -> Result<Value, StateError> {
    get(conn, id)?;
    let text: String = conn
        .query_row(
            "SELECT item FROM conversation_items WHERE conversation_id = ?1 AND item_id = ?2",
            params![id, item],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StateError::NotFound)?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Deletes one item; returns the conversation.
pub(crate) fn delete_item(
    conn: &mut Connection,
    id: &str,
    item: &str,
) -> Result<Value, StateError> {
    let conversation = get(conn, id)?;
    let changed = conn.execute(
        "DELETE FROM conversation_items WHERE conversation_id = ?1 AND item_id = ?2",
        params![id, item],
    )?;
    if changed == 0 {
        return Err(StateError::NotFound);
    }
    super::evict::checkpoint(conn);
    Ok(conversation)
}

/// Every item of the conversation, oldest first, with its queued turns: the
/// prefix of a response created with `conversation`.
pub(crate) fn prefix(
    conn: &Connection,
    pending: &Pending,
    id: &str,
    max_bytes: u64,
) -> Result<Vec<Value>, StateError> {
    let queued = pending.snapshot();
    get(conn, id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT item, bytes FROM conversation_items WHERE conversation_id = ?1 ORDER BY seq",
    )?;
    let mut items = Vec::new();
    let mut bytes = 0u64;
    let rows = stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (text, size) = row?;
        bytes += size.max(0) as u64;
        if bytes > max_bytes {
            return Err(StateError::TooLarge(bytes));
        }
        items.push(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    for r in queued
        .iter()
        .filter(|r| r.conversation.as_deref() == Some(id))
    {
        let written: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM conversation_items WHERE response_id = ?1 LIMIT 1",
                [&r.id],
                |row| row.get(0),
            )
            .optional()?;
        if written.is_none() {
            bytes += r.input.iter().chain(r.output()).map(json_len).sum::<u64>();
            if bytes > max_bytes {
                return Err(StateError::TooLarge(bytes));
            }
            items.extend(r.input.iter().cloned());
            items.extend(r.output().iter().cloned());
        }
    }
    Ok(items)
}
