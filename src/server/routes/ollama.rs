//! The Ollama API (docs/architecture.md, "Ollama"): `/api/version`, `/api/tags`,
//! `/api/show`, `/api/ps`, and `/api/chat` and `/api/generate` relayed through the
//! Ollama dialects with a clock that measures the answer's durations. Bodies that
//! only load or unload a model are answered here without an upstream call.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::Value;

use super::{Answer, json_response};
use crate::server::AppState;
use crate::server::LoggedModel;
use crate::server::body::{Body, full, read_body};
use crate::server::error::ApiError;
use crate::server::guard::Pass;
use crate::server::relay::{fetch_catalogue, relay_prepared, resolve_model, translate_options};
use crate::translate::dialect::{Dialect, Prepared};
use crate::translate::ollama::{
    self, KeepAlive, Load, OllamaChat, OllamaGenerate, StreamClock, models, strip_tag,
};
use crate::translate::{TranslateError, parse_body};

/// Measures an answer from the moment its request was translated.
#[derive(Debug)]
pub(crate) struct Elapsed(Instant);

impl Default for Elapsed {
    fn default() -> Self {
        Elapsed(Instant::now())
    }
}

impl StreamClock for Elapsed {
    fn elapsed_ns(&self) -> Option<u64> {
        Some(u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// `GET /` on the `ollama.listen` listener: what Ollama itself answers.
pub(crate) fn running() -> Response<Body> {
    let mut resp = Response::new(full("Ollama is running"));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// `GET /api/version`: the Ollama API version the relay emulates.
pub(crate) fn version() -> Response<Body> {
    json_response(StatusCode::OK, &models::version())
}

/// `GET /api/tags`: every catalogue model, tagged `:latest`.
pub(crate) async fn tags(state: &Arc<AppState>) -> Answer {
    let (raw, fetched) = state.models.raw(|| fetch_catalogue(state)).await?;
    let tags = models::tags(&raw, &state.config.models.extra_models, fetched);
    Ok(json_response(StatusCode::OK, &tags))
}

/// `GET /api/ps`: the models used within their `keep_alive`.
pub(crate) fn ps(state: &AppState) -> Response<Body> {
    let listed = state.recent_models.listed(now());
    json_response(StatusCode::OK, &models::ps(&listed))
}

/// `POST /api/show` with `{"model"}` (older clients send `{"name"}`).
pub(crate) async fn show(state: &Arc<AppState>, req: Request<Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let body = parse_body(&bytes)?;
    let name = match body.get("model").or_else(|| body.get("name")) {
        Some(Value::String(name)) if !strip_tag(name).is_empty() => name,
        _ => return Err(TranslateError::missing("model", "a model name").into()),
    };
    let id = resolve_model(state, strip_tag(name)).await?;
    let (raw, fetched) = state.models.raw(|| fetch_catalogue(state)).await?;
    let listed = raw.iter().find(|e| {
        e.get("slug")
            .or_else(|| e.get("id"))
            .and_then(Value::as_str)
            .is_some_and(|s| s == id)
    });
    // A model of `models.extra_models` has no catalogue entry: only its name is known.
    let bare = serde_json::json!({ "slug": id });
    let shown = models::show(listed.unwrap_or(&bare), fetched)
        .ok_or_else(|| ApiError::model_not_found(name, &[]))?;
    Ok(json_response(StatusCode::OK, &shown))
}

/// `POST /api/chat`.
pub(crate) async fn chat(state: &Arc<AppState>, req: Request<Incoming>, pass: Pass) -> Answer {
    relay_ollama::<OllamaChat<Elapsed>>(state, req, pass, ollama::chat_load_answer, |d| {
        d.keep_alive()
    })
    .await
}

/// `POST /api/generate`.
pub(crate) async fn generate(state: &Arc<AppState>, req: Request<Incoming>, pass: Pass) -> Answer {
    relay_ollama::<OllamaGenerate<Elapsed>>(state, req, pass, ollama::generate_load_answer, |d| {
        d.keep_alive()
    })
    .await
}

/// Translates and relays one Ollama request. A body the dialect refuses may
/// be a load or unload request (no messages, an empty prompt), answered here;
/// checking only after a refusal keeps ordinary requests to one parse.
async fn relay_ollama<D: Dialect<Context = ()>>(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    pass: Pass,
    load: fn(&[u8], i64) -> Option<Load>,
    keep_alive: fn(&D) -> KeepAlive,
) -> Answer {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let prepared: Prepared<D> = match D::prepare(&bytes, &translate_options(state)) {
        Ok(p) => p,
        Err(e) => {
            return match load(&bytes, now()) {
                Some(l) => answer_load(state, l).await,
                None => Err(e.into()),
            };
        }
    };
    drop(bytes);
    let keep = keep_alive(&prepared.dialect);
    let resp = relay_prepared(state, &parts.headers, prepared, pass).await?;
    if let Some(model) = resp.extensions().get::<LoggedModel>() {
        state.recent_models.touch(&model.0, keep.seconds(), now());
    }
    Ok(resp)
}

/// A load or unload: the model must exist; `/api/ps` follows the request.
async fn answer_load(state: &Arc<AppState>, load: Load) -> Answer {
    let model = resolve_model(state, strip_tag(&load.model)).await?;
    state
        .recent_models
        .touch(&model, load.keep_alive.seconds(), now());
    Ok(json_response(StatusCode::OK, &load.answer))
}
