//! `POST /v1/responses`: near pass-through (spec §6.1).

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::streaming::{self, Mode};
use super::{Answer, finish_request, json_response, read_body, relayed_headers, translate_options};
use crate::server::AppState;
use crate::server::body::{Body, full};
use crate::server::guard::Pass;
use crate::server::relay;
use crate::translate::responses_request;

pub async fn create(state: &Arc<AppState>, req: Request<Incoming>, pass: Pass) -> Answer {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let prepared = responses_request::prepare(&bytes, &translate_options(state))?;
    drop(bytes);
    let client_stream = prepared.client_stream;
    let (upstream_body, model, ignored) = finish_request(state, prepared).await?;
    let mut open = relay::open(state, upstream_body, &parts.headers).await?;
    let upstream_headers = std::mem::take(&mut open.headers);

    let mut resp = if client_stream {
        streaming::respond(state, open, Mode::Raw, pass)
    } else {
        let response = streaming::assemble(open).await?;
        drop(pass);
        json_response(StatusCode::OK, &response)
    };
    relayed_headers(&mut resp, &upstream_headers, ignored, &model);
    Ok(resp)
}

/// Codex's built-in provider tries a WebSocket first and falls back to HTTP
/// cleanly only on 426, like the real backend answers.
pub fn upgrade_required() -> Response<Body> {
    let mut resp = Response::new(full(
        r#"{"error":{"message":"airelays serves the Responses API over HTTP only; WebSocket upgrades are not supported.","type":"invalid_request_error","param":null,"code":"upgrade_required"}}"#,
    ));
    *resp.status_mut() = StatusCode::UPGRADE_REQUIRED;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
