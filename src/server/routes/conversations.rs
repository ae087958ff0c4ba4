//! `/v1/conversations`: OpenAI's Conversations API on the local state store
//! (docs/architecture.md, "The state store"). Writes go through the store's
//! writer, in order with the responses queued before them; reads wait for
//! what was queued before them, so a client reads its own writes.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{Map, Value};

use super::{Answer, json_response};
use crate::server::AppState;
use crate::server::body::read_body;
use crate::server::error::ApiError;
use crate::server::stored::state_error;
use crate::state::items::PageQuery;
use crate::state::{StateError, StateStore, conversations};

/// Routes one `/v1/conversations…` request; `None` when no route matches.
pub(crate) async fn dispatch(
    state: &Arc<AppState>,
    store: &StateStore,
    req: Request<Incoming>,
    segments: &[&str],
) -> Option<Answer> {
    let method = req.method().as_str().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    Some(match (method.as_str(), segments) {
        ("POST", []) => create(state, store, req).await,
        ("GET", [id]) => get(state, store, id).await,
        ("POST", [id]) => update(state, store, req, id).await,
        ("DELETE", [id]) => {
            let owned = id.to_string();
            run(
                state,
                store.write(move |c| conversations::delete(c, &owned)).await,
                id,
            )
        }
        ("GET", [id, "items"]) => list_items(state, store, id, &query).await,
        ("POST", [id, "items"]) => add_items(state, store, req, id).await,
        ("GET", [id, "items", item]) => {
            let (owned, item_owned) = (id.to_string(), item.to_string());
            let read = match store.barrier().await {
                Ok(()) => {
                    store
                        .read(move |c, _| conversations::get_item(c, &owned, &item_owned))
                        .await
                }
                Err(e) => Err(e),
            };
            run_item(state, read, item)
        }
        ("DELETE", [id, "items", item]) => {
            let (owned, item_owned) = (id.to_string(), item.to_string());
            let done = store
                .write(move |c| conversations::delete_item(c, &owned, &item_owned))
                .await;
            run_item(state, done, item)
        }
        _ => return None,
    })
}

/// The methods each conversations path allows, for 405 answers.
pub(crate) fn allowed(segments: &[&str]) -> Option<&'static str> {
    match segments {
        [] => Some("POST"),
        [_] => Some("GET, POST, DELETE"),
        [_, "items"] => Some("GET, POST"),
        [_, "items", _] => Some("GET, DELETE"),
        _ => None,
    }
}

fn run(state: &AppState, r: Result<Value, StateError>, id: &str) -> Answer {
    r.map(|v| json_response(StatusCode::OK, &v))
        .map_err(|e| state_error(state, e, ApiError::stored_not_found("Conversation", id)))
}

fn run_item(state: &AppState, r: Result<Value, StateError>, item: &str) -> Answer {
    r.map(|v| json_response(StatusCode::OK, &v))
        .map_err(|e| state_error(state, e, ApiError::stored_not_found("Item", item)))
}

/// The request's JSON object body (an empty body is an empty object).
async fn object_body(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<Map<String, Value>, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::invalid_request(
            "The request body must be a JSON object.",
            None,
            None,
        )),
    }
}

fn metadata(body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    match body.get("metadata") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) if m.len() <= 16 && m.values().all(Value::is_string) => {
            Ok(m.clone())
        }
        Some(_) => Err(ApiError::invalid_request(
            "`metadata` must be an object of at most 16 string values.",
            Some("metadata".into()),
            Some("invalid_type".into()),
        )),
    }
}

fn items(body: &mut Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    match body.remove("items") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items),
        Some(_) => Err(ApiError::invalid_request(
            "`items` must be an array of item objects.",
            Some("items".into()),
            Some("invalid_type".into()),
        )),
    }
}

async fn create(state: &AppState, store: &StateStore, req: Request<Incoming>) -> Answer {
    let mut body = object_body(state, req).await?;
    let metadata = metadata(&body)?;
    let items = items(&mut body)?;
    let created = store
        .write(move |c| conversations::create(c, &metadata, &items))
        .await;
    run(state, created, "")
}

async fn get(state: &AppState, store: &StateStore, id: &str) -> Answer {
    let owned = id.to_owned();
    let read = match store.barrier().await {
        Ok(()) => store.read(move |c, _| conversations::get(c, &owned)).await,
        Err(e) => Err(e),
    };
    run(state, read, id)
}

async fn update(state: &AppState, store: &StateStore, req: Request<Incoming>, id: &str) -> Answer {
    let body = object_body(state, req).await?;
    let metadata = metadata(&body)?;
    let owned = id.to_owned();
    let updated = store
        .write(move |c| conversations::update(c, &owned, &metadata))
        .await;
    run(state, updated, id)
}

async fn list_items(state: &AppState, store: &StateStore, id: &str, query: &str) -> Answer {
    let q = PageQuery::parse(query).map_err(|(param, allowed)| {
        ApiError::invalid_request(
            format!("`{param}` must be {allowed}."),
            Some(param),
            Some("invalid_value".into()),
        )
    })?;
    let owned = id.to_owned();
    let read = match store.barrier().await {
        Ok(()) => {
            store
                .read(move |c, _| conversations::list_items(c, &owned, &q))
                .await
        }
        Err(e) => Err(e),
    };
    run(state, read, id)
}

async fn add_items(
    state: &AppState,
    store: &StateStore,
    req: Request<Incoming>,
    id: &str,
) -> Answer {
    let mut body = object_body(state, req).await?;
    let items = items(&mut body)?;
    let owned = id.to_owned();
    let added = store
        .write(move |c| conversations::add_items(c, &owned, &items))
        .await
        .map(|data| crate::state::items::list(data, false));
    run(state, added, id)
}
