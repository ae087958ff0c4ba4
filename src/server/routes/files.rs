//! `/v1/files`: the local upload store (docs/architecture.md#files-and-inlining).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyStream;
use hyper::body::Incoming;

use super::{Answer, json_response};
use crate::files::{DeletedFile, FileError, ListQuery};
use crate::server::AppState;
use crate::server::body::full;
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
    let stream = BodyStream::new(req.into_body()).filter_map(|frame| async move {
        match frame {
            Ok(f) => f.into_data().ok().map(Ok::<Bytes, hyper::Error>),
            Err(e) => Some(Err(e)),
        }
    });
    let object = state.files.upload(&content_type, Box::pin(stream)).await?;
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
