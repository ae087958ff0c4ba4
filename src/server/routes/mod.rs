//! Routing (spec §5.2): the guard first, then one handler per route family.

mod chat;
mod files;
mod models;
mod public;
mod relay_status;
mod responses;
mod streaming;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;

use super::body::{Body, read_body};
use super::error::ApiError;
use super::guard::{self, Pass, Stop};
use super::{AppState, LoggedModel};
use crate::translate::{TranslateError, TranslateOptions};
use crate::upstream::models::Resolution;

pub type Answer = Result<Response<Body>, ApiError>;

impl From<TranslateError> for ApiError {
    fn from(e: TranslateError) -> ApiError {
        ApiError::invalid_request(e.message, e.param, e.code)
    }
}

/// Which group a path belongs to, for the guard and for 404/405 answers.
fn is_protected(path: &str) -> bool {
    (path == "/v1" || path.starts_with("/v1/")) && !path.starts_with("/v1/v1/") && path != "/v1/v1"
}

pub async fn route(state: &Arc<AppState>, ip: IpAddr, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let protected = is_protected(&path);
    let pass = match state.guard.check(&req, ip, protected) {
        Ok(p) => p,
        Err(Stop::Preflight(origin)) => {
            return guard::preflight(
                &origin,
                req.headers()
                    .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS),
            );
        }
        Err(Stop::Error(e, cors)) => {
            let mut resp = e.into_response();
            if let Some(o) = cors {
                guard::add_cors(resp.headers_mut(), &o);
            }
            return resp;
        }
    };
    let cors = pass.cors_origin.clone();
    let mut resp = dispatch(state, ip, req, &path, pass)
        .await
        .unwrap_or_else(ApiError::into_response);
    if let Some(o) = cors {
        guard::add_cors(resp.headers_mut(), &o);
    }
    resp
}

async fn dispatch(
    state: &Arc<AppState>,
    ip: IpAddr,
    req: Request<Incoming>,
    path: &str,
    pass: Pass,
) -> Answer {
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let m = method.as_str();
    match (m, segments.as_slice()) {
        ("GET" | "HEAD", ["healthz"]) => Ok(public::healthz()),
        ("GET" | "HEAD", [""]) | ("GET" | "HEAD", []) => Ok(public::index(state)),
        (_, ["v1", "v1", ..]) => Err(ApiError::doubled_v1(path, state.base_url())),
        ("GET", ["v1", "models"]) => models::list(state).await,
        ("GET", ["v1", "models", id]) => models::get(state, id).await,
        ("GET", ["v1", "responses"]) if is_websocket_upgrade(req.headers()) => {
            Ok(responses::upgrade_required())
        }
        ("POST", ["v1", "responses"]) => responses::create(state, req, pass).await,
        ("POST", ["v1", "chat", "completions"]) => chat::create(state, req, pass).await,
        ("POST", ["v1", "files"]) => files::upload(state, req).await,
        ("GET", ["v1", "files"]) => files::list(state, req.uri().query().unwrap_or("")),
        ("GET", ["v1", "files", id]) => files::get(state, id),
        ("DELETE", ["v1", "files", id]) => files::delete(state, id).await,
        ("GET", ["v1", "files", id, "content"]) => files::content(state, id).await,
        ("GET", ["v1", "relay", "status"]) => {
            // Release this request's own slot so the counters describe everything else.
            drop(pass);
            Ok(relay_status::get(state, ip))
        }
        (_, ["v1", "embeddings"]) => {
            Err(ApiError::unsupported_route("Embeddings (/v1/embeddings)"))
        }
        (_, ["v1", "audio", ..]) => Err(ApiError::unsupported_route("Audio (/v1/audio)")),
        (_, ["v1", "images", ..]) => {
            Err(ApiError::unsupported_route("Image generation (/v1/images)"))
        }
        (_, ["v1", r, ..]) if r.starts_with("realtime") => Err(ApiError::unsupported_route(
            "The Realtime API (/v1/realtime)",
        )),
        (_, segs) => match allowed_methods(segs) {
            Some(allowed) => Err(ApiError::method_not_allowed(m, path, allowed)),
            None => Err(ApiError::not_found(m, path)),
        },
    }
}

fn allowed_methods(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["healthz"] | [""] | [] => Some("GET"),
        ["v1", "models"] | ["v1", "models", _] | ["v1", "relay", "status"] => Some("GET"),
        ["v1", "responses"] | ["v1", "chat", "completions"] => Some("POST"),
        ["v1", "files"] => Some("GET, POST"),
        ["v1", "files", _] => Some("GET, DELETE"),
        ["v1", "files", _, "content"] => Some("GET"),
        _ => None,
    }
}

fn is_websocket_upgrade(h: &HeaderMap) -> bool {
    h.get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub fn translate_options(state: &AppState) -> TranslateOptions<'_> {
    TranslateOptions {
        unsupported_parameters: &state.config.upstream.unsupported_parameters,
        default_instructions: &state.config.upstream.default_instructions,
        reasoning_summaries: state.config.chat.reasoning_output
            == crate::config::ReasoningOutput::ReasoningContent,
    }
}

/// Fetches the model catalogue with the current login.
pub async fn fetch_catalogue(state: &AppState) -> Result<Vec<serde_json::Value>, ApiError> {
    let access = state.credentials.access().await?;
    state
        .upstream
        .fetch_models(&access.access_token, &access.account_id)
        .await
        .map_err(super::relay::map_upstream_error)
}

/// Resolves the requested model to the catalogue's spelling (or 404).
pub async fn resolve_model(state: &AppState, requested: &str) -> Result<String, ApiError> {
    match state
        .models
        .resolve(requested, || fetch_catalogue(state))
        .await
    {
        Resolution::Known(id) | Resolution::Unverified(id) => Ok(id),
        Resolution::Unknown { suggestions } => {
            Err(ApiError::model_not_found(requested, &suggestions))
        }
    }
}

/// Resolves the model, serialises the upstream body once, and returns it with the
/// disclosure header for removed parameters.
pub async fn finish_request(
    state: &AppState,
    mut prepared: crate::translate::UpstreamRequest,
) -> Result<(Bytes, String, Option<HeaderValue>), ApiError> {
    let model = resolve_model(state, &prepared.model).await?;
    super::expansion::expand_references(state, &mut prepared.body).await?;
    prepared
        .body
        .insert("model".into(), serde_json::Value::String(model.clone()));
    let body = serde_json::to_vec(&prepared.body).map_err(|e| {
        ApiError::invalid_request(format!("Could not encode the request: {e}"), None, None)
    })?;
    let ignored = crate::translate::ignored_parameters_header(&prepared.ignored_parameters)
        .and_then(|h| HeaderValue::from_str(&h).ok());
    Ok((Bytes::from(body), model, ignored))
}

/// Response headers common to relayed answers.
pub fn relayed_headers(
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
    resp.extensions_mut().insert(LoggedModel(model.to_string()));
}

pub fn json_response(status: http::StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(super::body::full(
        serde_json::to_vec(value).unwrap_or_default(),
    ));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn is_head(method: &Method) -> bool {
    method == Method::HEAD
}
