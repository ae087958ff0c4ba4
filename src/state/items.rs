//! Items as they are stored and replayed: every stored item has an id (one is
//! given to input items that came without), and a replayed item goes upstream
//! without it (the backend keeps no items, so it cannot know their ids).
//! Also the one OpenAI list page (`limit`, `order`, `after`, `before`).

use serde_json::{Map, Value, json};

/// The id of a stored item.
pub(crate) fn item_id(item: &Value) -> Option<&str> {
    item.get("id").and_then(Value::as_str)
}

/// An input item as stored: an object with an id (`msg_…` for messages,
/// `item_…` otherwise), `type` filled in for bare messages, and string content
/// as one text part, the way OpenAI's API returns stored items.
pub(crate) fn stored_input(item: &Value) -> Value {
    let Value::Object(fields) = item else {
        return item.clone();
    };
    let mut fields = fields.clone();
    let is_message = match fields.get("type") {
        None => fields.contains_key("role"),
        Some(t) => t == "message",
    };
    if is_message {
        fields.insert("type".into(), Value::from("message"));
        if let Some(Value::String(text)) = fields.get("content") {
            let part = if fields.get("role").and_then(Value::as_str) == Some("assistant") {
                json!({"type": "output_text", "text": text, "annotations": []})
            } else {
                json!({"type": "input_text", "text": text})
            };
            fields.insert("content".into(), Value::Array(vec![part]));
        }
    }
    if !matches!(fields.get("id"), Some(Value::String(_))) {
        let prefix = if is_message { "msg_" } else { "item_" };
        fields.insert("id".into(), Value::from(super::new_id(prefix)));
    }
    Value::Object(fields)
}

/// A stored item as sent upstream again: without its id.
pub(crate) fn replayed(item: &Value) -> Value {
    match item {
        Value::Object(fields) => {
            let mut fields = fields.clone();
            fields.shift_remove("id");
            Value::Object(fields)
        }
        other => other.clone(),
    }
}

/// `asc` or `desc` (OpenAI's default for these lists is `desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// The query of a list request.
#[derive(Debug, Clone)]
pub(crate) struct PageQuery {
    /// 1 to 100, default 20.
    pub(crate) limit: usize,
    /// Default `desc`.
    pub(crate) order: Order,
    /// Start after this item id.
    pub(crate) after: Option<String>,
    /// Stop before this item id.
    pub(crate) before: Option<String>,
}

impl PageQuery {
    /// Parses `limit`, `order`, `after` and `before`; the error names the bad
    /// parameter and what it accepts.
    pub(crate) fn parse(query: &str) -> Result<PageQuery, (String, String)> {
        let mut q = PageQuery {
            limit: 20,
            order: Order::Desc,
            after: None,
            before: None,
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "limit" => {
                    q.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| ("limit".into(), "an integer from 1 to 100".into()))?;
                }
                "order" => {
                    q.order = match v.as_ref() {
                        "asc" => Order::Asc,
                        "desc" => Order::Desc,
                        _ => return Err(("order".into(), "asc or desc".into())),
                    }
                }
                "after" if !v.is_empty() => q.after = Some(v.into_owned()),
                "before" if !v.is_empty() => q.before = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(q)
    }

    /// One page of `items` (given oldest first) as OpenAI's list object.
    pub(crate) fn page(&self, mut items: Vec<Value>) -> Value {
        if self.order == Order::Desc {
            items.reverse();
        }
        let position = |id: &str| items.iter().position(|i| item_id(i) == Some(id));
        let start = match &self.after {
            Some(a) => position(a).map_or(items.len(), |p| p + 1),
            None => 0,
        };
        let end = match &self.before {
            Some(b) => position(b).unwrap_or(items.len()),
            None => items.len(),
        };
        let window: Vec<Value> = if start < end {
            items[start..end].to_vec()
        } else {
            Vec::new()
        };
        let has_more = window.len() > self.limit;
        let data: Vec<Value> = window.into_iter().take(self.limit).collect();
        list(data, has_more)
    }
}

/// OpenAI's list object.
pub(crate) fn list(data: Vec<Value>, has_more: bool) -> Value {
    let first = data.first().and_then(item_id).map(str::to_owned);
    let last = data.last().and_then(item_id).map(str::to_owned);
    let mut m = Map::new();
    m.insert("object".into(), Value::from("list"));
    m.insert("data".into(), Value::Array(data));
    m.insert("first_id".into(), first.map_or(Value::Null, Value::from));
    m.insert("last_id".into(), last.map_or(Value::Null, Value::from));
    m.insert("has_more".into(), Value::Bool(has_more));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_items_get_ids_types_and_parts_and_lose_the_ids_on_replay() {
        let item = stored_input(&json!({"role": "user", "content": "hi"}));
        assert_eq!(item["type"], "message");
        assert_eq!(
            item["content"][0],
            json!({"type": "input_text", "text": "hi"})
        );
        assert!(item_id(&item).unwrap().starts_with("msg_"));
        let out =
            stored_input(&json!({"type": "function_call_output", "call_id": "c", "output": "ok"}));
        assert!(item_id(&out).unwrap().starts_with("item_"));
        let kept =
            stored_input(&json!({"type": "message", "id": "msg_x", "role": "user", "content": []}));
        assert_eq!(item_id(&kept), Some("msg_x"));
        assert!(replayed(&kept).get("id").is_none());
    }

    #[test]
    fn pages_follow_openai_limit_order_after_and_before() {
        let items: Vec<Value> = (0..5).map(|i| json!({"id": format!("i{i}")})).collect();
        let q = PageQuery::parse("limit=2&order=asc").unwrap();
        let p = q.page(items.clone());
        assert_eq!(
            (p["first_id"].as_str(), p["last_id"].as_str()),
            (Some("i0"), Some("i1"))
        );
        assert_eq!(p["has_more"], true);
        let q = PageQuery::parse("limit=2&order=asc&after=i3").unwrap();
        let p = q.page(items.clone());
        assert_eq!(p["data"].as_array().unwrap().len(), 1);
        assert_eq!(p["has_more"], false);
        let q = PageQuery::parse("before=i2").unwrap();
        let p = q.page(items.clone());
        assert_eq!(p["first_id"], "i4");
        assert_eq!(p["last_id"], "i3");
        assert!(PageQuery::parse("limit=0").is_err());
        assert!(PageQuery::parse("order=up").is_err());
    }
}
