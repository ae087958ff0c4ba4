//! `/v1/files`: the local upload store (docs/architecture.md#files-and-inlining).

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::{Answer, json_response};
use crate::files::{DeletedFile, FileError, ListQuery};
use crate::server::AppState;
use crate::server::body::{BodyDeadlines, BodyError, full};
use crate::server::error::ApiError;

impl From<FileError> for ApiError {
    fn from(e: FileError) -> ApiError {
        if let FileError::Io(io) = &e {
            tracing::error!("file store I/O error: {io}");
        }
        ApiError::file_error(
            e.status(),
            e.error_type(),
            e.code(),
            e.to_string(),
            e.param().map(str::to_string),
        )
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub(crate) async fn upload(state: &Arc<AppState>, req: Request<Incoming>) -> Answer {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // A body that stops arriving or takes too long is a 408, uploads included; the
    // store sees the timeout as a failed body stream and keeps nothing.
    let timed_out: Arc<Mutex<Option<&'static str>>> = Arc::default();
    let seen = Arc::clone(&timed_out);
    let stream = BodyDeadlines::start(state)
        .stream(req.into_body())
        .inspect(move |item| {
            if let Err(BodyError::TimedOut(what)) = item {
                *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
            }
        });
    let stored = state.files.upload(&content_type, stream).await;
    if let Some(what) = *timed_out.lock().unwrap_or_else(|e| e.into_inner()) {
        return Err(ApiError::body_timeout(what));
    }
    let object = stored?;
    tracing::info!(id = %object.id, bytes = object.bytes, "file stored");
    Ok(json_response(StatusCode::OK, &to_json(&object)))
}

pub(crate) fn list(state: &Arc<AppState>, query: &str) -> Answer {
    let page = state.files.list(&ListQuery::from_query_string(query)?)?;
    Ok(json_response(StatusCode::OK, &to_json(&page)))
}

pub(crate) fn get(state: &Arc<AppState>, id: &str) -> Answer {
    Ok(json_response(
        StatusCode::OK,
        &to_json(&state.files.get(id)?),
    ))
}

pub(crate) async fn content(state: &Arc<AppState>, id: &str) -> Answer {
    let (object, bytes) = state.files.read(id).await?;
    let mut resp = Response::new(full(bytes));
    let ct = HeaderValue::from_str(&object.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert(http::header::CONTENT_TYPE, ct);
    let disposition = format!(
        "attachment; filename=\"{}\"",
        object
            .filename
            .replace(['"', '\\'], "_")
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut()
            .insert(http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

pub(crate) async fn delete(state: &Arc<AppState>, id: &str) -> Answer {
    state.files.delete(id).await?;
    Ok(json_response(
        StatusCode::OK,
        &to_json(&DeletedFile::new(id)),
    ))
}
