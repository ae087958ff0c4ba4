//! The backend's SSE events, decoded once for every dialect (docs/upstream.md,
//! "SSE events and their order"): which events are preamble, which end a
//! response, what a failure event says, and a borrowed fast path for text
//! deltas. The JSON of an event is parsed lazily, at most once, and only when
//! someone asks for it: the Responses dialect forwards most events unparsed.

use std::borrow::Cow;
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::Value;

use super::sse::SseEvent;

/// The event type of a text delta, the most frequent event of a stream.
pub const TEXT_DELTA: &str = "response.output_text.delta";
/// The event that carries a finished output item.
pub const OUTPUT_ITEM_DONE: &str = "response.output_item.done";

/// One upstream event: its bytes, and its JSON once parsed.
#[derive(Debug)]
pub struct UpstreamEvent {
    sse: SseEvent,
    json: OnceLock<Option<Value>>,
}

impl UpstreamEvent {
    /// Wraps an event read from the stream.
    pub fn new(sse: SseEvent) -> UpstreamEvent {
        UpstreamEvent {
            sse,
            json: OnceLock::new(),
        }
    }

    /// The `event:` name, if the event had one.
    pub fn name(&self) -> Option<&str> {
        self.sse.event.as_deref()
    }

    /// The event type: the `event:` name, else the `type` of the JSON.
    pub fn kind(&self) -> Option<&str> {
        match self.name() {
            Some(name) => Some(name),
            None => self.json().and_then(event_type),
        }
    }

    /// The parsed `data:` JSON (`None` when empty or not JSON).
    pub fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| {
                (!self.sse.data.is_empty())
                    .then(|| serde_json::from_slice(&self.sse.data).ok())
                    .flatten()
            })
            .as_ref()
    }

    /// The finished item of a `response.output_item.done` event: its id and its
    /// JSON text, read without building a JSON tree (the Responses dialect never
    /// needs one). `None` for other events and for items without an id.
    pub fn done_item(&self) -> Option<(String, &str)> {
        if self.kind() != Some(OUTPUT_ITEM_DONE) {
            return None;
        }
        let done: DoneItem<'_> = serde_json::from_slice(&self.sse.data).ok()?;
        let raw = done.item.get();
        Some((item_id(raw)?, raw))
    }

    /// The `data:` text of the event (its JSON), unparsed.
    pub fn data(&self) -> &Bytes {
        &self.sse.data
    }

    /// The exact bytes of the event, as the backend sent them.
    pub fn raw(&self) -> &Bytes {
        &self.sse.raw
    }

    /// The fields of a `response.output_text.delta`, borrowed from the event's
    /// bytes without building a JSON tree; `None` for any other event.
    pub fn text_delta(&self) -> Option<TextDelta<'_>> {
        if self.name() != Some(TEXT_DELTA) {
            return None;
        }
        if let Some(Some(value)) = self.json.get() {
            return TextDelta::of_value(value);
        }
        serde_json::from_slice(&self.sse.data).ok()
    }

    /// Whether this event ends the response.
    pub fn is_terminal(&self) -> bool {
        self.kind().is_some_and(is_terminal)
    }

    /// Whether this event comes before anything worth committing a 200 for.
    pub fn is_preamble(&self) -> bool {
        matches!(
            self.kind(),
            None | Some("response.created" | "response.in_progress" | "codex.rate_limits")
        )
    }

    /// The code and message of a `response.failed` / `error` event.
    pub fn failure(&self) -> Option<Failure> {
        match self.kind()? {
            "response.failed" | "error" => self.json().and_then(failure_of),
            _ => None,
        }
    }
}

/// The item of a `response.output_item.done` event, as its JSON text.
#[derive(serde::Deserialize)]
struct DoneItem<'a> {
    #[serde(borrow)]
    item: &'a serde_json::value::RawValue,
}

/// The `id` of an item's JSON text (an object `done_item` has already read
/// whole), read up to that key and no further: the rest of an item can be
/// megabytes of output. `None` when the item has no string `id`.
fn item_id(raw: &str) -> Option<String> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_str(raw);
    // The visitor stops at the id; serde_json then finds the object unfinished
    // and reports it, which is expected here and ignored.
    let _ = serde::Deserializer::deserialize_map(&mut de, IdVisitor(&mut found));
    found
}

/// Reads the keys of an object until `id`, skipping the values before it.
struct IdVisitor<'a>(&'a mut Option<String>);

impl<'de> serde::de::Visitor<'de> for IdVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an item object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "id" {
                *self.0 = Some(map.next_value::<String>()?);
                return Ok(());
            }
            map.next_value::<serde::de::IgnoredAny>()?;
        }
        Ok(())
    }
}

/// The fields of a `response.output_text.delta` event, borrowed where possible.
#[derive(Debug, serde::Deserialize)]
pub struct TextDelta<'a> {
    /// The text.
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
    /// The message item the text belongs to.
    #[serde(borrow, default)]
    pub item_id: Option<Cow<'a, str>>,
    /// The position of that item in the output.
    #[serde(default)]
    pub output_index: Option<u64>,
}

impl<'a> TextDelta<'a> {
    fn of_value(value: &'a Value) -> Option<TextDelta<'a>> {
        Some(TextDelta {
            delta: Cow::Borrowed(value.get("delta")?.as_str()?),
            item_id: value
                .get("item_id")
                .and_then(Value::as_str)
                .map(Cow::Borrowed),
            output_index: value.get("output_index").and_then(Value::as_u64),
        })
    }
}

/// Identifies an upstream output item across events: by its id when both sides
/// have one, else by `output_index` (some events name only one of the two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    /// The item's `id` (`item_id` on delta events).
    pub id: Option<String>,
    /// Its `output_index`.
    pub index: Option<u64>,
}

impl ItemRef {
    /// The item a delta event (`item_id`, `output_index`) refers to.
    pub fn of_delta(event: &Value) -> ItemRef {
        ItemRef {
            id: event
                .get("item_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            index: event.get("output_index").and_then(Value::as_u64),
        }
    }

    /// An item carried whole (`output_item.added` / `.done`, terminal output).
    pub fn of_item(item: &Value, index: Option<u64>) -> ItemRef {
        ItemRef {
            id: item.get("id").and_then(Value::as_str).map(str::to_owned),
            index,
        }
    }

    /// Known to be the same item.
    pub fn same(&self, other: &ItemRef) -> bool {
        self.names(other.id.as_deref(), other.index)
    }

    /// [`ItemRef::same`] against a borrowed identity.
    pub fn names(&self, id: Option<&str>, index: Option<u64>) -> bool {
        match (self.id.as_deref(), id) {
            (Some(a), Some(b)) => a == b,
            _ => matches!((self.index, index), (Some(a), Some(b)) if a == b),
        }
    }

    /// Known to be another item (an event without any identity is not).
    pub fn differs(&self, other: &ItemRef) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a != b,
            _ => matches!((self.index, other.index), (Some(a), Some(b)) if a != b),
        }
    }

    /// Names neither an id nor an index.
    pub fn is_anonymous(&self) -> bool {
        self.id.is_none() && self.index.is_none()
    }
}

/// The items whose text arrived as deltas, so their final form adds no text
/// again. A delta that names no item at all makes every item count as streamed.
#[derive(Debug, Clone, Default)]
pub struct StreamedItems {
    items: Vec<ItemRef>,
    anonymous: bool,
}

impl StreamedItems {
    /// Records that `item` streamed text.
    pub fn mark(&mut self, item: &ItemRef) {
        if item.is_anonymous() {
            self.anonymous = true;
        } else if !self.items.iter().any(|i| i.same(item)) {
            self.items.push(item.clone());
        }
    }

    /// Whether `item`'s text already went out as deltas.
    pub fn contains(&self, item: &ItemRef) -> bool {
        self.anonymous || self.items.iter().any(|i| i.same(item))
    }
}

/// What a failure event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The backend's error code (or type), e.g. `context_length_exceeded`.
    pub code: Option<String>,
    /// The backend's message.
    pub message: String,
}

/// The `type` of an upstream SSE event (its `data:` JSON).
pub fn event_type(event: &Value) -> Option<&str> {
    event.get("type").and_then(Value::as_str)
}

/// Whether an upstream event of this type ends the response.
pub fn is_terminal(event_type: &str) -> bool {
    matches!(
        event_type,
        "response.completed" | "response.incomplete" | "response.failed" | "error"
    )
}

/// The code and message of a `response.failed` or `error` event, `None` for any
/// other event.
pub fn failure_of(event: &Value) -> Option<Failure> {
    let error = match event_type(event)? {
        "response.failed" => event.get("response").and_then(|r| r.get("error")),
        "error" => Some(event.get("error").unwrap_or(event)),
        _ => return None,
    };
    let text = |key: &str| {
        error
            .and_then(|e| e.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let code = text("code").or_else(|| text("type"));
    let message = text("message")
        .unwrap_or_else(|| "The upstream model failed to produce a response.".to_owned());
    Some(Failure { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_done_item_is_read_with_its_id_wherever_the_id_is() {
        let done = |item: serde_json::Value| {
            let data = json!({"type": OUTPUT_ITEM_DONE, "output_index": 0, "item": item});
            event(Some(OUTPUT_ITEM_DONE), &data.to_string())
        };
        let long = "x\"y".repeat(10_000);
        for item in [
            json!({"id": "msg_1", "type": "message", "content": [{"text": long}]}),
            json!({"type": "message", "content": [{"text": long, "id": "not_this"}], "id": "msg_1"}),
        ] {
            let e = done(item.clone());
            let (id, raw) = e.done_item().unwrap();
            assert_eq!(id, "msg_1");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(raw).unwrap(),
                item
            );
        }
        // An escaped key is still the id.
        let escaped =
            r#"{"type":"response.output_item.done","item":{"type":"message","i\u0064":"msg_1"}}"#;
        let e = event(Some(OUTPUT_ITEM_DONE), escaped);
        assert_eq!(e.done_item().map(|(id, _)| id).as_deref(), Some("msg_1"));
        assert!(done(json!({"type": "message"})).done_item().is_none());
        assert!(
            done(json!({"id": 7, "type": "message"}))
                .done_item()
                .is_none()
        );
        let other = event(Some(TEXT_DELTA), r#"{"item": {"id": "msg_1"}}"#);
        assert!(other.done_item().is_none());
    }

    fn event(name: Option<&str>, data: &str) -> UpstreamEvent {
        let mut raw = String::new();
        if let Some(n) = name {
            raw.push_str(&format!("event: {n}\n"));
        }
        raw.push_str(&format!("data: {data}\n\n"));
        UpstreamEvent::new(SseEvent {
            event: name.map(str::to_owned),
            data: Bytes::from(data.to_owned()),
            raw: Bytes::from(raw),
        })
    }

    #[test]
    fn kinds_come_from_the_name_or_the_json() {
        let named = event(Some("response.created"), "{}");
        assert_eq!(named.kind(), Some("response.created"));
        assert!(named.is_preamble() && !named.is_terminal());
        let anonymous = event(None, r#"{"type":"response.completed","response":{}}"#);
        assert_eq!(anonymous.kind(), Some("response.completed"));
        assert!(anonymous.is_terminal());
        assert!(event(None, "not json").is_preamble());
    }

    #[test]
    fn text_deltas_are_read_borrowed_or_from_the_parsed_json() {
        let data =
            r#"{"type":"response.output_text.delta","item_id":"m1","output_index":0,"delta":"hi"}"#;
        let e = event(Some(TEXT_DELTA), data);
        let d = e.text_delta().unwrap();
        assert_eq!(
            (d.delta.as_ref(), d.item_id.as_deref(), d.output_index),
            ("hi", Some("m1"), Some(0))
        );
        assert!(matches!(d.delta, Cow::Borrowed(_)));
        assert!(e.json().is_some());
        assert_eq!(e.text_delta().unwrap().delta, "hi");
        assert!(event(Some("response.created"), data).text_delta().is_none());
    }

    #[test]
    fn failures_name_code_and_message() {
        let failed = json!({"type":"response.failed","response":{"error":{"code":"server_is_overloaded","message":"busy"}}});
        assert_eq!(
            failure_of(&failed),
            Some(Failure {
                code: Some("server_is_overloaded".into()),
                message: "busy".into()
            })
        );
        let bare = json!({"type":"error","code":"x"});
        assert_eq!(failure_of(&bare).unwrap().code.as_deref(), Some("x"));
        assert!(failure_of(&json!({"type":"response.completed"})).is_none());
        let e = event(Some("error"), r#"{"type":"error","message":"m"}"#);
        assert_eq!(e.failure().unwrap().message, "m");
    }

    #[test]
    fn terminal_events() {
        for t in [
            "response.completed",
            "response.incomplete",
            "response.failed",
            "error",
        ] {
            assert!(is_terminal(t), "{t}");
        }
        for t in ["response.created", "response.output_text.delta", ""] {
            assert!(!is_terminal(t), "{t}");
        }
    }

    #[test]
    fn event_type_reads_the_type_field() {
        assert_eq!(
            event_type(&json!({"type":"response.created"})),
            Some("response.created")
        );
        assert_eq!(event_type(&json!({"type":1})), None);
        assert_eq!(event_type(&json!([])), None);
    }

    #[test]
    fn failure_of_reads_failed_and_error_events() {
        let failed = json!({"type":"response.failed","response":{"error":{"code":"context_length_exceeded","message":"too long"}}});
        assert_eq!(
            failure_of(&failed),
            Some(Failure {
                code: Some("context_length_exceeded".to_owned()),
                message: "too long".to_owned()
            })
        );
        let flat = json!({"type":"error","code":"rate_limit_exceeded","message":"slow down"});
        assert_eq!(
            failure_of(&flat),
            Some(Failure {
                code: Some("rate_limit_exceeded".to_owned()),
                message: "slow down".to_owned()
            })
        );
        let nested = json!({"type":"error","error":{"type":"server_error","message":"boom"}});
        assert_eq!(
            failure_of(&nested),
            Some(Failure {
                code: Some("server_error".to_owned()),
                message: "boom".to_owned()
            })
        );
        let bare = json!({"type":"response.failed"});
        let failure = failure_of(&bare).unwrap();
        assert_eq!(failure.code, None);
        assert!(!failure.message.is_empty());
        assert_eq!(failure_of(&json!({"type":"response.completed"})), None);
    }
}
