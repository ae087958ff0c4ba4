//! Routing (docs/architecture.md, "Route table"): the error envelope is chosen
//! from the path first, then the guard runs, then one handler per route family.
//! The relayed APIs are one line each: `relay` with their dialect.

mod conversations;
mod files;
mod messages;
mod models;
mod ollama;
mod public;
mod relay_status;
mod relay_test;
mod responses;

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;

use super::AppState;
use super::Listener;
use super::body::Body;
pub(crate) use super::body::json_response;
use super::envelope::Envelope;
use super::error::ApiError;
use super::guard::{self, Access, Pass, Stop};
use super::relay::{fetch_catalogue, relay};
use crate::translate::TranslateError;
use crate::translate::chat::Chat;
use crate::translate::completions::Completions;
use crate::translate::responses::Responses;

/// What a route handler returns: an answer, or an error in the request's envelope.
pub(crate) type Answer = Result<Response<Body>, ApiError>;

impl From<TranslateError> for ApiError {
    fn from(e: TranslateError) -> ApiError {
        ApiError::invalid_request(e.message, e.param, e.code)
    }
}

fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What the guard checks on a path: the token on `/v1/*` (but a doubled
/// `/v1/v1`, answered with a hint) and `/api/*` — except `/api/*` on the
/// `ollama.listen` listener with `ollama.require_token = false`.
fn access(state: &AppState, which: Listener, path: &str) -> Access {
    if under(path, "/v1") && !under(path, "/v1/v1") {
        Access::Token
    } else if under(path, "/api") {
        if which == Listener::Ollama && !state.config.ollama.require_token {
            Access::Keyless
        } else {
            Access::Token
        }
    } else {
        Access::Public
    }
}

/// Answers one request that came in on listener `which`: envelope, guard, handler.
pub(crate) async fn route(
    state: &Arc<AppState>,
    ip: IpAddr,
    which: Listener,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let envelope = Envelope::of(&path, req.headers());
    let pass = match state.guard.check(&req, ip, access(state, which, &path)) {
        Ok(p) => p,
        Err(Stop::Preflight(origin)) => {
            return guard::preflight(
                &origin,
                req.headers()
                    .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS),
            );
        }
        Err(Stop::Error(e, cors)) => {
            let mut resp = e.into_response_in(envelope);
            if let Some(o) = cors {
                guard::add_cors(resp.headers_mut(), &o);
            }
            return resp;
        }
    };
    let cors = pass.cors_origin.clone();
    let answer = dispatch(state, ip, which, req, &path, pass, envelope);
    let mut resp = crate::server::accounts::LISTENER
        .scope(which, answer)
        .await
        .unwrap_or_else(|e| e.into_response_in(envelope));
    if let Some(o) = cors {
        guard::add_cors(resp.headers_mut(), &o);
    }
    resp
}

async fn dispatch(
    state: &Arc<AppState>,
    ip: IpAddr,
    which: Listener,
    req: Request<Incoming>,
    path: &str,
    pass: Pass,
    envelope: Envelope,
) -> Answer {
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let m = method.as_str();
    if which == Listener::Ollama && !under(path, "/v1") {
        return dispatch_ollama_listener(state, req, path, &segments, pass).await;
    }
    match (m, segments.as_slice()) {
        ("GET" | "HEAD", ["healthz"]) => Ok(public::healthz()),
        ("GET" | "HEAD", [""]) | ("GET" | "HEAD", []) => Ok(public::index(state)),
        (_, ["api", ..]) => dispatch_ollama(state, req, path, &segments, pass).await,
        (_, ["v1", "v1", ..]) => Err(ApiError::doubled_v1(path, state.base_url())),
        ("GET", ["v1", "models"]) if envelope == Envelope::Anthropic => messages::list(state).await,
        ("GET", ["v1", "models", id]) if envelope == Envelope::Anthropic => {
            messages::get(state, id).await
        }
        ("GET", ["v1", "models"]) => models::list(state).await,
        ("GET", ["v1", "models", id]) => models::get(state, id).await,
        ("GET", ["v1", "responses"]) if is_websocket_upgrade(req.headers()) => {
            Err(ApiError::upgrade_required())
        }
        (_, ["v1", family @ ("responses" | "conversations"), rest @ ..])
            if state.store.is_some() =>
        {
            stateful(state, req, family, rest, pass).await
        }
        ("POST", ["v1", "responses"]) => relay::<Responses>(state, req, pass).await,
        ("POST", ["v1", "chat", "completions"]) => relay::<Chat>(state, req, pass).await,
        ("POST", ["v1", "completions"]) => relay::<Completions>(state, req, pass).await,
        ("POST", ["v1", "messages"]) => messages::create(state, req, pass).await,
        ("POST", ["v1", "messages", "count_tokens"]) => messages::count_tokens(state, req).await,
        ("POST", ["v1", "files"]) => files::upload(state, req).await,
        ("GET", ["v1", "files"]) => files::list(state, req.uri().query().unwrap_or("")),
        ("GET", ["v1", "files", id]) => files::get(state, id),
        ("DELETE", ["v1", "files", id]) => files::delete(state, id).await,
        ("GET", ["v1", "files", id, "content"]) => files::content(state, id).await,
        ("GET", ["v1", "relay", "status"]) => {
            // Release this request's own slot so the counters describe everything else.
            drop(pass);
            Ok(relay_status::get(state, ip).await)
        }
        ("POST", ["v1", "relay", "test"]) => relay_test::post(state).await,
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

/// The routes of the state store (`/v1/responses…`, `/v1/conversations…`).
async fn stateful(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    family: &str,
    rest: &[&str],
    pass: Pass,
) -> Answer {
    let Some(store) = state.store.clone() else {
        return Err(ApiError::not_found(req.method().as_str(), req.uri().path()));
    };
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let answer = if family == "responses" {
        responses::dispatch(state, &store, req, rest, pass).await
    } else {
        conversations::dispatch(state, &store, req, rest).await
    };
    answer.unwrap_or_else(|| {
        let allowed = if family == "responses" {
            responses::allowed(rest)
        } else {
            conversations::allowed(rest)
        };
        Err(match allowed {
            Some(allowed) => ApiError::method_not_allowed(&method, &path, allowed),
            None => ApiError::not_found(&method, &path),
        })
    })
}

/// The `ollama.listen` listener outside `/v1/*` (which it serves as the relay's
/// own listener does: Open WebUI's Ollama connection calls
/// `{url}/v1/chat/completions` too): Ollama's `/` and `/api/*`.
async fn dispatch_ollama_listener(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    path: &str,
    segments: &[&str],
    pass: Pass,
) -> Answer {
    match (req.method().as_str(), segments) {
        ("GET" | "HEAD", [""] | []) => Ok(ollama::running()),
        ("GET" | "HEAD", ["healthz"]) => Ok(public::healthz()),
        (_, ["api", ..]) => dispatch_ollama(state, req, path, segments, pass).await,
        (m, _) => Err(ApiError::not_found(m, path)),
    }
}

/// `/api/*`: the Ollama API.
async fn dispatch_ollama(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    path: &str,
    segments: &[&str],
    pass: Pass,
) -> Answer {
    let m = req.method().as_str();
    match (m, segments) {
        ("GET" | "HEAD", ["api", "version"]) => Ok(ollama::version()),
        ("GET" | "HEAD", ["api", "tags"]) => ollama::tags(state).await,
        ("GET" | "HEAD", ["api", "ps"]) => Ok(ollama::ps(state)),
        ("POST", ["api", "show"]) => ollama::show(state, req).await,
        ("POST", ["api", "chat"]) => ollama::chat(state, req, pass).await,
        ("POST", ["api", "generate"]) => ollama::generate(state, req, pass).await,
        (_, ["api", "embed" | "embeddings"]) => Err(ApiError::unsupported_route(
            "Embeddings (/api/embed, /api/embeddings)",
        )),
        (
            _,
            [
                "api",
                op @ ("pull" | "push" | "create" | "copy" | "delete" | "blobs"),
                ..,
            ],
        ) => Err(ApiError::models_managed_by_plan(op)),
        (_, segs) => match allowed_methods(segs) {
            Some(allowed) => Err(ApiError::method_not_allowed(m, path, allowed)),
            None => Err(ApiError::not_found(m, path)),
        },
    }
}

fn allowed_methods(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["api", "version" | "tags" | "ps"] => Some("GET"),
        ["api", "show" | "chat" | "generate"] => Some("POST"),
        ["healthz"] | [""] | [] => Some("GET"),
        ["v1", "models"] | ["v1", "models", _] | ["v1", "relay", "status"] => Some("GET"),
        ["v1", "relay", "test"] => Some("POST"),
        ["v1", "responses"] | ["v1", "chat", "completions"] | ["v1", "completions"] => Some("POST"),
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
