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
use crate::state::items::{replayed, stored_input};
use crate::state::{StateError, StateStore, conversations, responses};

pub(crate) use dialect::{Recorder, Stored, StoredContext};

/// What a stateful request asked for.
struct Asked {
    keep: bool,
    previous: Option<String>,
    conversation: Option<String>,
}

/// Takes `store`, `previous_response_id` and `conversation` out of the body.
fn take_asked(body: &mut Map<String, Value>) -> Result<Asked, ApiError> {
    let keep = match body.remove("store") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(invalid_type("store", "a boolean")),
    };
    let previous = match body.remove("previous_response_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(invalid_type("previous_response_id", "a string")),
    };
    let conversation = match body.remove("conversation") {
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
    match body.remove("input") {
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
    let loaded = load(state, store, &asked, input).await?;
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
    let needs_refs = input.iter().any(is_reference);
    if previous.is_none() && conversation.is_none() && !needs_refs {
        return Ok(Loaded {
            prefix: Vec::new(),
            input,
            root: None,
        });
    }
    let result = store
        .read(move |conn, pending| {
            let mut missing = None;
            for (index, item) in input
                .iter_mut()
                .enumerate()
                .filter(|(_, i)| is_reference(i))
            {
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                match recent.get(&id) {
                    Some(found) => *item = found,
                    None => match responses::item(conn, pending, &id)? {
                        Some(found) => *item = replayed(&found),
                        None => {
                            missing = Some((id, index));
                            break;
                        }
                    },
                }
            }
            if let Some(missing) = missing {
                return Ok(Err(missing));
            }
            let (prefix, root) = match (&previous, &conversation) {
                (Some(p), _) => {
                    let chain = responses::chain(conn, pending, p, limit)?;
                    (chain.items, Some(chain.root))
                }
                (None, Some(c)) => (conversations::prefix(conn, pending, c, limit)?, None),
                (None, None) => (Vec::new(), None),
            };
            Ok(Ok(Loaded {
                prefix,
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

fn is_reference(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("item_reference")
}
