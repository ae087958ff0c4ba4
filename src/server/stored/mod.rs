//! Stateful `POST /v1/responses` (docs/architecture.md, "The state store"):
//! before the pipeline runs, `previous_response_id` or `conversation` become the
//! stored items prepended to the new input, `item_reference`s are filled in
//! from recent items or the store, and a [`Recorder`] is made that hands the
//! finished response to the store's writer. The upstream always sees one full
//! conversation with `store: false`.

mod dialect;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::AppState;
use super::error::ApiError;
use super::expansion::MAX_REFERENCES;
use crate::state::items::{replayed, stored_input};
use crate::state::{StateError, StateStore, conversations, json_len, responses};

pub(crate) use dialect::{Recorder, Stored, StoredContext};

/// What a stateful request asked for.
struct Asked {
    keep: bool,
    previous: Option<String>,
    conversation: Option<String>,
}

/// Takes `store`, `previous_response_id` and `conversation` out of the body.
fn take_asked(body: &mut Map<String, Value>) -> Result<Asked, ApiError> {
    let keep = match body.shift_remove("store") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(invalid_type("store", "a boolean")),
    };
    let previous = match body.shift_remove("previous_response_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(invalid_type("previous_response_id", "a string")),
    };
    let conversation = match body.shift_remove("conversation") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                return Err(invalid_type(
                    "conversation",
                    "a conversation id or {\"id\": …}",
                ));
            }
        },
        Some(_) => {
            return Err(invalid_type(
                "conversation",
                "a conversation id or {\"id\": …}",
            ));
        }
    };
    if previous.is_some() && conversation.is_some() {
        return Err(ApiError::invalid_request(
            "`previous_response_id` and `conversation` cannot be used together: a response continues either a chain or a conversation.",
            Some("conversation".into()),
            Some("invalid_request".into()),
        ));
    }
    Ok(Asked {
        keep,
        previous,
        conversation,
    })
}

fn invalid_type(param: &str, expected: &str) -> ApiError {
    ApiError::invalid_request(
        format!("`{param}` must be {expected}."),
        Some(param.into()),
        Some("invalid_type".into()),
    )
}

/// `input` as a list of items: a string is one user message.
fn input_items(body: &mut Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    // Taken in place, so the key keeps its position (and the disclosure header its order).
    match body.get_mut("input").map(Value::take) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![crate::translate::user_text_item(text)]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid_type("input", "a string or an array of input items")),
    }
}

/// Maps a store failure; `not_found` is the error for [`StateError::NotFound`].
pub(crate) fn state_error(state: &AppState, e: StateError, not_found: ApiError) -> ApiError {
    match e {
        StateError::NotFound => not_found,
        StateError::Unavailable(reason) => ApiError::state_unavailable(&reason),
        StateError::TooLarge(bytes) => {
            ApiError::expanded_too_large(bytes, state.config.security.max_request_body_bytes)
        }
        StateError::Db(detail) => {
            tracing::warn!("state store: {detail}");
            ApiError::state_failed(&detail)
        }
    }
}

/// The stored prefix and the expanded new input, read on a blocking thread.
struct Loaded {
    prefix: Vec<Value>,
    /// For each prefix item, where it came from (a response or the conversation).
    sources: Vec<String>,
    input: Vec<Value>,
    root: Option<String>,
}

/// Prepares a Responses body for the pipeline: prefix, references, recorder.
pub(crate) async fn prepare(
    state: &Arc<AppState>,
    store: &StateStore,
    mut body: Map<String, Value>,
) -> Result<StoredContext, ApiError> {
    let asked = take_asked(&mut body)?;
    let input = input_items(&mut body)?;
    let stateful = asked.previous.is_some() || asked.conversation.is_some();
    if let Some(reason) = store.unavailable() {
        if stateful {
            return Err(ApiError::state_unavailable(reason));
        }
        // Stateless still works: answered, not stored.
        body.insert("input".into(), Value::Array(input));
        return Ok(StoredContext {
            body,
            recorder: None,
        });
    }
    let references = input.iter().filter(|i| is_reference(i)).count();
    if references > MAX_REFERENCES {
        return Err(ApiError::too_many_references(references, MAX_REFERENCES));
    }
    let loaded = load(state, store, &asked, input).await?;
    check_files(state, &loaded)?;
    let recorder = (asked.keep || asked.conversation.is_some()).then(|| Recorder {
        store: store.clone(),
        keep: asked.keep,
        previous: asked.previous.clone(),
        root: loaded.root.clone(),
        conversation: asked.conversation.clone(),
        input: loaded.input.iter().map(stored_input).collect(),
    });
    let mut upstream: Vec<Value> = loaded.prefix.iter().map(replayed).collect();
    upstream.extend(loaded.input);
    body.insert("input".into(), Value::Array(upstream));
    Ok(StoredContext { body, recorder })
}

/// Replaces each `item_reference` by the item from recent responses or the
/// store; `Ok(Err((id, index)))` names the first one found nowhere. The items
/// filled in count against `limit` (docs/security.md, "Request expansion").
fn expand_references(
    conn: &rusqlite::Connection,
    pending: &crate::state::pending::Pending,
    recent: &super::recent_items::RecentItems,
    input: &mut [Value],
    limit: u64,
) -> Result<Result<(), (String, usize)>, StateError> {
    let mut bytes = 0u64;
    for (index, item) in input.iter_mut().enumerate() {
        if !is_reference(item) {
            continue;
        }
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let found = match recent.get(&id) {
            Some(found) => found,
            None => match responses::item(conn, pending, &id)? {
                Some(found) => replayed(&found),
                None => return Ok(Err((id, index))),
            },
        };
        bytes = bytes.saturating_add(json_len(&found));
        if bytes > limit {
            return Err(StateError::TooLarge(bytes));
        }
        *item = found;
    }
    Ok(Ok(()))
}

async fn load(
    state: &Arc<AppState>,
    store: &StateStore,
    asked: &Asked,
    mut input: Vec<Value>,
) -> Result<Loaded, ApiError> {
    let limit = state.config.security.max_request_body_bytes;
    let previous = asked.previous.clone();
    let conversation = asked.conversation.clone();
    let recent = state.recent_items.clone();
    if previous.is_none() && conversation.is_none() && !input.iter().any(is_reference) {
        return Ok(Loaded {
            prefix: Vec::new(),
            sources: Vec::new(),
            input,
            root: None,
        });
    }
    let result = store
        .read(move |conn, pending| {
            if let Err(missing) = expand_references(conn, pending, &recent, &mut input, limit)? {
                return Ok(Err(missing));
            }
            let (prefix, sources, root) = match (&previous, &conversation) {
                (Some(p), _) => {
                    let chain = responses::chain(conn, pending, p, limit)?;
                    (chain.items, chain.sources, Some(chain.root))
                }
                (None, Some(c)) => {
                    let items = conversations::prefix(conn, pending, c, limit)?;
                    let sources = vec![format!("conversation '{c}'"); items.len()];
                    (items, sources, None)
                }
                (None, None) => (Vec::new(), Vec::new(), None),
            };
            Ok(Ok(Loaded {
                prefix,
                sources,
                input,
                root,
            }))
        })
        .await;
    match result {
        Ok(Ok(loaded)) => Ok(loaded),
        Ok(Err((id, index))) => Err(super::recent_items::unknown_reference(&id, index)),
        Err(e) => Err(match (&asked.previous, &asked.conversation) {
            (Some(p), _) => state_error(state, e, ApiError::previous_response_not_found(p)),
            (None, Some(c)) => state_error(
                state,
                e,
                ApiError::stored_not_found("Conversation", c)
                    .with_param(Some("conversation".into())),
            ),
            _ => state_error(state, e, ApiError::state_failed("not found")),
        }),
    }
}

/// A replayed item whose stored file was deleted since: a 400 naming the file
/// and the response (or conversation) that referenced it, before anything is
/// sent (the files themselves are inlined again by the pipeline).
fn check_files(state: &AppState, loaded: &Loaded) -> Result<(), ApiError> {
    for (item, source) in loaded.prefix.iter().zip(&loaded.sources) {
        let Some(file) = file_id_in(item) else {
            continue;
        };
        if state.files.get(file).is_err() {
            return Err(ApiError::invalid_request(
                format!(
                    "The stored input of {source} references the file '{}', which is no longer stored in this relay. Upload it again and resend the conversation, or start a new one.",
                    super::error::sanitize(file)
                ),
                Some("input".into()),
                Some("file_not_found".into()),
            ));
        }
    }
    Ok(())
}

/// The first `file_id` anywhere in an item.
fn file_id_in(v: &Value) -> Option<&str> {
    match v {
        Value::Object(o) => o
            .get("file_id")
            .and_then(Value::as_str)
            .or_else(|| o.values().find_map(file_id_in)),
        Value::Array(a) => a.iter().find_map(file_id_in),
        _ => None,
    }
}

fn is_reference(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("item_reference")
}
