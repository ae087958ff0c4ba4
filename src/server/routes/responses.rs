//! `/v1/responses` with the state store (docs/architecture.md, "The state
//! store"): create (chained by `previous_response_id` or on a `conversation`,
//! recorded unless `store: false`), retrieve, list input items, delete. With
//! `state.enabled = false` the route table sends `POST` to the stateless
//! relay and the rest are not routed.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::{Answer, json_response};
use crate::server::AppState;
use crate::server::body::read_body;
use crate::server::error::ApiError;
use crate::server::guard::Pass;
use crate::server::relay::{relay_prepared, translate_options};
use crate::server::stored::{self, Stored, state_error};
use crate::state::StateStore;
use crate::state::items::PageQuery;
use crate::translate::dialect::Dialect;
use crate::translate::responses::Responses;

/// Routes one `/v1/responses…` request; `None` when no route matches.
pub(crate) async fn dispatch(
    state: &Arc<AppState>,
    store: &StateStore,
    req: Request<Incoming>,
    segments: &[&str],
    pass: Pass,
) -> Option<Answer> {
    let query = req.uri().query().unwrap_or("").to_owned();
    Some(match (req.method().as_str(), segments) {
        ("POST", []) => create(state, store, req, pass).await,
        ("GET", [id]) => get(state, store, id).await,
        ("DELETE", [id]) => delete(state, store, id).await,
        ("GET", [id, "input_items"]) => input_items(state, store, id, &query).await,
        _ => return None,
    })
}

/// The methods each responses path allows, for 405 answers.
pub(crate) fn allowed(segments: &[&str]) -> Option<&'static str> {
    match segments {
        [] => Some("POST"),
        [_] => Some("GET, DELETE"),
        [_, "input_items"] => Some("GET"),
        _ => None,
    }
}

/// `POST /v1/responses` with state.
pub(crate) async fn create(
    state: &Arc<AppState>,
    store: &StateStore,
    req: Request<Incoming>,
    pass: Pass,
) -> Answer {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let opts = translate_options(state);
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&bytes) else {
        // Not a JSON object: the stateless translation says what is wrong.
        let prepared = Responses::prepare(&bytes, &opts)?;
        return relay_prepared(state, &parts.headers, prepared, pass).await;
    };
    drop(bytes);
    let context = stored::prepare(state, store, body).await?;
    let prepared = Stored::prepare_in(&[], &opts, context)?;
    relay_prepared(state, &parts.headers, prepared, pass).await
}

/// `GET /v1/responses/{id}`.
pub(crate) async fn get(state: &AppState, store: &StateStore, id: &str) -> Answer {
    store.barrier().await.map_err(|e| not_found(state, e, id))?;
    let owned = id.to_owned();
    let object = store
        .read(move |conn, pending| crate::state::responses::get(conn, pending, &owned))
        .await
        .map_err(|e| not_found(state, e, id))?;
    Ok(json_response(StatusCode::OK, &object))
}

/// `GET /v1/responses/{id}/input_items`.
pub(crate) async fn input_items(
    state: &AppState,
    store: &StateStore,
    id: &str,
    query: &str,
) -> Answer {
    let q = PageQuery::parse(query).map_err(|(param, allowed)| {
        ApiError::invalid_request(
            format!("`{param}` must be {allowed}."),
            Some(param),
            Some("invalid_value".into()),
        )
    })?;
    store.barrier().await.map_err(|e| not_found(state, e, id))?;
    let owned = id.to_owned();
    let items = store
        .read(move |conn, pending| crate::state::responses::input_items(conn, pending, &owned))
        .await
        .map_err(|e| not_found(state, e, id))?;
    Ok(json_response(StatusCode::OK, &q.page(items)))
}

/// `DELETE /v1/responses/{id}`.
pub(crate) async fn delete(state: &AppState, store: &StateStore, id: &str) -> Answer {
    let owned = id.to_owned();
    store
        .write(move |conn| crate::state::evict::delete_response(conn, &owned))
        .await
        .map_err(|e| not_found(state, e, id))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "object": "response", "deleted": true}),
    ))
}

fn not_found(state: &AppState, e: crate::state::StateError, id: &str) -> ApiError {
    state_error(state, e, ApiError::stored_not_found("Response", id))
}
