//! The output items of recent responses, remembered by id, so that a later
//! request's `{"type":"item_reference","id":…}` can be sent upstream as the item
//! itself.
//!
//! The ChatGPT backend stores nothing (`store` is always false), so it cannot
//! resolve a reference. Clients send them anyway: the Vercel AI SDK's Responses
//! model treats an unset `store` as true and replays earlier reasoning (and, after
//! reasoning, assistant text) as bare references to the items of the previous
//! response. The relay saw those items stream past, so it keeps the most recent
//! ones (up to [`RecentItems::DEFAULT_CAPACITY_BYTES`] of JSON) and puts them back in
//! place of the references. A reference to an item it never saw, or has
//! forgotten, is a 400 that says how to send the item instead.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Map, Value};

use super::error::ApiError;

/// Remembered items, shared by every request of the running relay.
#[derive(Clone)]
pub(crate) struct RecentItems {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// id → (insertion number, the item's JSON text as the backend sent it).
    /// Kept as text: an item is parsed only when a reference asks for it, which
    /// most never are. Its size is the text's length.
    by_id: HashMap<String, (u64, Bytes)>,
    /// Insertion order, oldest first; an entry whose number no longer matches
    /// `by_id` was replaced and is skipped.
    order: VecDeque<(u64, String)>,
    next: u64,
    bytes: usize,
    capacity: usize,
}

impl RecentItems {
    /// 16 MiB of item JSON: many turns of reasoning (a few KiB each with its
    /// encrypted content) and text.
    pub(crate) const DEFAULT_CAPACITY_BYTES: usize = 16 * 1024 * 1024;

    pub(crate) fn new(capacity_bytes: usize) -> RecentItems {
        RecentItems {
            inner: Arc::new(Mutex::new(Inner {
                by_id: HashMap::new(),
                order: VecDeque::new(),
                next: 0,
                bytes: 0,
                capacity: capacity_bytes,
            })),
        }
    }

    /// Remembers one output item under its `id`, as its JSON text (`raw`, the
    /// item with its id), evicting the oldest items beyond the capacity.
    pub(crate) fn remember_raw(&self, id: &str, raw: &str) {
        let size = raw.len();
        // Copied before the lock: an item can be megabytes.
        let text = Bytes::copy_from_slice(raw.as_bytes());
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if size > inner.capacity {
            return;
        }
        let n = inner.next;
        inner.next += 1;
        if let Some((_, old)) = inner.by_id.insert(id.to_owned(), (n, text)) {
            inner.bytes -= old.len();
        }
        inner.bytes += size;
        inner.order.push_back((n, id.to_owned()));
        while inner.bytes > inner.capacity {
            let Some((n, id)) = inner.order.pop_front() else {
                break;
            };
            if inner.by_id.get(&id).is_some_and(|(m, _)| *m == n)
                && let Some((_, text)) = inner.by_id.remove(&id)
            {
                inner.bytes -= text.len();
            }
        }
    }

    /// Remembers one output item (a JSON object with an `id`).
    #[cfg(test)]
    pub(crate) fn remember(&self, item: &Value) {
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            self.remember_raw(id, &item.to_string());
        }
    }

    /// The remembered item `id`, without its id: the backend keeps no items, and
    /// Codex, its own client, never sends ids back.
    pub(crate) fn get(&self, id: &str) -> Option<Value> {
        let text = {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.by_id.get(id).map(|(_, text)| text.clone())?
        };
        let mut item: Value = serde_json::from_slice(&text).ok()?;
        if let Value::Object(fields) = &mut item {
            fields.shift_remove("id");
        }
        Some(item)
    }

    /// The number of `item_reference`s in `body["input"]`.
    pub(crate) fn count_references(body: &Map<String, Value>) -> usize {
        match body.get("input") {
            Some(Value::Array(input)) => input.iter().filter(|i| is_reference(i)).count(),
            _ => 0,
        }
    }

    /// The bytes that filling in every `item_reference` adds (each remembered
    /// item's serialised size, per reference), without copying an item; a
    /// reference to an unknown item is a 400.
    pub(crate) fn referenced_bytes(&self, body: &Map<String, Value>) -> Result<u64, ApiError> {
        let Some(Value::Array(input)) = body.get("input") else {
            return Ok(0);
        };
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0u64;
        for (index, item) in input.iter().enumerate().filter(|(_, i)| is_reference(i)) {
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            let (_, text) = inner
                .by_id
                .get(id)
                .ok_or_else(|| unknown_reference(id, index))?;
            total = total.saturating_add(text.len() as u64);
        }
        Ok(total)
    }

    /// Replaces every `item_reference` in `body["input"]` by the remembered item and
    /// returns how many it replaced; a reference to an unknown item is a 400.
    pub(crate) fn resolve_references(
        &self,
        body: &mut Map<String, Value>,
    ) -> Result<usize, ApiError> {
        let Some(Value::Array(input)) = body.get_mut("input") else {
            return Ok(0);
        };
        let mut replaced = 0;
        for (index, item) in input.iter_mut().enumerate() {
            if item.get("type").and_then(Value::as_str) != Some("item_reference") {
                continue;
            }
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            *item = self.get(id).ok_or_else(|| unknown_reference(id, index))?;
            replaced += 1;
        }
        Ok(replaced)
    }
}

fn is_reference(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("item_reference")
}

/// The 400 for an `item_reference` to an item neither remembered nor stored.
pub(crate) fn unknown_reference(id: &str, index: usize) -> ApiError {
    ApiError::invalid_request(
        format!(
            "input[{index}] is an item_reference to {:?}, an item this relay does not have: neither among its recent responses nor in its state store (the ChatGPT backend itself stores nothing, so the relay fills references in from what it kept; responses sent with store: false, deleted or evicted ones, and everything when state.enabled is false are not kept). Send the item itself instead of a reference (with the Vercel AI SDK: providerOptions: {{ openai: {{ store: false }} }}).",
            id.chars().take(100).collect::<String>()
        ),
        Some(format!("input[{index}]")),
        Some("item_not_found".to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn done(item: Value) -> Value {
        json!({"type": "response.output_item.done", "output_index": 0, "item": item})
    }

    /// What the relay does with an upstream event as it passes.
    fn observe(items: &RecentItems, event: &Value) {
        let data = bytes::Bytes::from(event.to_string());
        let event = crate::upstream::events::UpstreamEvent::new(crate::upstream::sse::SseEvent {
            event: event["type"].as_str().map(str::to_owned),
            raw: data.clone(),
            data,
        });
        if let Some((id, raw)) = event.done_item() {
            items.remember_raw(&id, raw);
        }
    }

    fn body(input: Value) -> Map<String, Value> {
        json!({"model": "gpt-5.5", "input": input})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn references_become_the_remembered_items_without_their_ids() {
        let items = RecentItems::new(RecentItems::DEFAULT_CAPACITY_BYTES);
        let reasoning = json!({"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Plan"}], "encrypted_content": "gAAA"});
        let text = json!({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "hi", "annotations": []}]});
        observe(&items, &done(reasoning));
        observe(&items, &done(text));
        observe(
            &items,
            &json!({"type": "response.output_text.delta", "item_id": "msg_1", "delta": "x"}),
        );

        // As the AI SDK sends a tool loop's second step with store left unset.
        let mut b = body(json!([
            {"role": "user", "content": [{"type": "input_text", "text": "REASON RUN_TOOL"}]},
            {"type": "item_reference", "id": "rs_1"},
            {"type": "item_reference", "id": "msg_1"},
            {"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
        ]));
        assert_eq!(items.resolve_references(&mut b).unwrap(), 2);
        assert_eq!(
            b["input"][1],
            json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "Plan"}], "encrypted_content": "gAAA"})
        );
        assert_eq!(b["input"][2]["type"], "message");
        assert_eq!(b["input"][2]["content"][0]["text"], "hi");
        assert!(b["input"][2].get("id").is_none());
        assert_eq!(
            b["input"][3]["call_id"], "call_1",
            "other items are untouched"
        );
    }

    #[test]
    fn an_unknown_reference_is_a_400_that_says_what_to_send() {
        let items = RecentItems::new(1024);
        let mut b = body(
            json!([{"role": "user", "content": "hi"}, {"type": "item_reference", "id": "rs_gone"}]),
        );
        let e = items.resolve_references(&mut b).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(
            (e.param.as_deref(), e.code.as_deref()),
            (Some("input[1]"), Some("item_not_found"))
        );
        assert!(
            e.message.contains("rs_gone") && e.message.contains("store: false"),
            "{}",
            e.message
        );
        let mut plain = body(json!("a string input"));
        assert_eq!(items.resolve_references(&mut plain).unwrap(), 0);
    }

    #[test]
    fn the_oldest_items_are_forgotten_beyond_the_capacity() {
        let items = RecentItems::new(260);
        for i in 0..10 {
            items.remember(
                &json!({"id": format!("msg_{i}"), "type": "message", "content": "x".repeat(40)}),
            );
        }
        assert!(items.get("msg_9").is_some() && items.get("msg_8").is_some());
        assert!(items.get("msg_0").is_none());
        let inner = items.inner.lock().unwrap();
        assert!(
            inner.bytes <= 260
                && inner.bytes == inner.by_id.values().map(|(_, t)| t.len()).sum::<usize>()
        );
        drop(inner);

        // Seeing an id again replaces it; its older slot does not evict the new one.
        items.remember(&json!({"id": "msg_8", "type": "message", "content": "new"}));
        for i in 10..12 {
            items.remember(
                &json!({"id": format!("msg_{i}"), "type": "message", "content": "y".repeat(40)}),
            );
        }
        assert_eq!(items.get("msg_8").unwrap()["content"], "new");
        // An item larger than everything is not kept (and evicts nothing).
        items.remember(&json!({"id": "msg_big", "content": "z".repeat(500)}));
        assert!(items.get("msg_big").is_none() && items.get("msg_11").is_some());
    }
}
