//! The one relay pipeline every client API goes through (docs/architecture.md,
//! "The request flow"): read the body, let the dialect translate it, resolve the
//! model, expand references and inline files, open the upstream stream (retry
//! before the first byte, one refresh on 401, past the preamble so early
//! failures are real statuses), then stream through the dialect's translator or
//! assemble a non-streamed answer. Route handlers are one call of `relay`.

mod assemble;
pub(crate) mod failure;
mod open;
mod request;
mod stream;

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::body::{Body, json_response, read_body};
use super::error::ApiError;
use super::guard::Pass;
use super::{AppState, LoggedModel};
use crate::translate::dialect::{AnswerContext, Dialect, Prepared};

pub(crate) use request::{fetch_catalogue, resolve_model, translate_options};

/// Relays one client request in dialect `D` and produces the client's answer.
pub(crate) async fn relay<D: Dialect<Context = ()>>(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    pass: Pass,
) -> Result<Response<Body>, ApiError> {
    relay_in::<D>(state, req, pass, ()).await
}

/// [`relay`] for a dialect that takes a context from its route.
pub(crate) async fn relay_in<D: Dialect>(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    pass: Pass,
    context: D::Context,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let opts = request::translate_options(state);
    let prepared = D::prepare_in(&bytes, &opts, context)?;
    drop(bytes);
    relay_prepared(state, &parts.headers, prepared, pass).await
}

/// [`relay`] for a request its route has already read and translated (a route
/// that answers some bodies itself, such as Ollama's load requests).
pub(crate) async fn relay_prepared<D: Dialect>(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    prepared: Prepared<D>,
    pass: Pass,
) -> Result<Response<Body>, ApiError> {
    let Prepared { upstream, dialect } = prepared;
    let client_stream = upstream.client_stream;
    let request = request::upstream_body(state, upstream).await?;
    let plan = open::plan(state, &request.body, &request.model, headers)?;
    state.usage.note_request();
    let mut answer = AnswerContext {
        requested_model: request.requested_model,
        model: request.model,
        created: jiff::Timestamp::now().as_second(),
        nonce: rand::random(),
        account_tag: None,
    };
    let hints = if plan.multi {
        state.accounts.hints(&request.signed_reasoning)
    } else {
        Vec::new()
    };
    let mut open = open::open(state, plan, request.body, &hints, headers).await?;
    // Thinking signatures name the account that answered.
    answer.account_tag = Some(crate::translate::messages::tag_for(Some(&open.account_id)));
    let upstream_headers = std::mem::take(&mut open.headers);
    let account = Arc::clone(&open.account);
    let name = open.multi.then(|| account.name.clone());
    let ignored = with_dropped_reasoning(request.ignored, &open.dropped_reasoning);
    let mut resp = if client_stream {
        stream::respond(state, open, dialect.stream(&answer), pass)
    } else {
        let response = assemble::assemble(open).await.map_err(|e| match &name {
            Some(a) => e.with_account(a),
            None => e,
        })?;
        drop(pass);
        json_response(StatusCode::OK, &dialect.finish(response, &answer))
    };
    relayed_headers(&mut resp, &upstream_headers, ignored, &answer.model);
    usage_headers(&mut resp, &account.usage.derived());
    if let Some(v) = name.and_then(|a| HeaderValue::from_str(&a).ok()) {
        resp.headers_mut()
            .insert(crate::server::accounts::ACCOUNT_HEADER, v);
    }
    Ok(resp)
}

/// The `x-airelays-ignored-parameters` value, naming the encrypted reasoning of
/// another account when some was dropped (docs/architecture.md#accounts): each
/// name once, after what translation removed.
fn with_dropped_reasoning(
    ignored: Option<HeaderValue>,
    dropped: &[&'static str],
) -> Option<HeaderValue> {
    if dropped.is_empty() {
        return ignored;
    }
    let mut list = ignored
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    for name in dropped {
        if !list.split(',').any(|n| n == *name) {
            if !list.is_empty() {
                list.push(',');
            }
            list.push_str(name);
        }
    }
    HeaderValue::from_str(&list).ok().or(ignored)
}

/// The plan's usage on every relayed answer (docs/architecture.md, "Plan usage").
fn usage_headers(resp: &mut Response<Body>, usage: &super::usage::Derived) {
    let h = resp.headers_mut();
    for (name, value) in &usage.headers {
        h.insert(name.clone(), value.clone());
    }
    if let Some(w) = &usage.warning {
        h.insert(super::usage::WARNING_HEADER, w.clone());
    }
}

/// Response headers common to relayed answers: the backend's usage headers, the
/// disclosure of removed parameters, and the model for the log line.
fn relayed_headers(
    resp: &mut Response<Body>,
    upstream: &HeaderMap,
    ignored: Option<HeaderValue>,
    model: &str,
) {
    let h = resp.headers_mut();
    for (name, value) in upstream {
        if crate::upstream::usage::is_forwarded_header(name.as_str()) {
            h.append(name.clone(), value.clone());
        }
    }
    if let Some(v) = ignored {
        h.insert("x-airelays-ignored-parameters", v);
    }
    if let Ok(v) = HeaderValue::from_str(model) {
        h.insert("x-airelays-upstream-model", v);
    }
    resp.extensions_mut().insert(LoggedModel(model.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_reasoning_is_named_once_after_what_translation_removed() {
        let header = |v: Option<HeaderValue>| v.map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(with_dropped_reasoning(None, &[]), None);
        let removed = Some(HeaderValue::from_static("max_tokens"));
        let names = [
            "content.thinking",
            "content.thinking",
            "input.reasoning.encrypted_content",
        ];
        assert_eq!(
            header(with_dropped_reasoning(removed, &names)).as_deref(),
            Some("max_tokens,content.thinking,input.reasoning.encrypted_content")
        );
        assert_eq!(
            header(with_dropped_reasoning(None, &names[..1])).as_deref(),
            Some("content.thinking")
        );
    }
}
