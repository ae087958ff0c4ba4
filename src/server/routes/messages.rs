//! The Anthropic Messages API (docs/architecture.md, "Anthropic Messages"):
//! `POST /v1/messages`, relayed through the Messages dialect with the request's
//! Claude Code session and the `claude-*` aliases resolved against the model
//! catalogue, and the Anthropic-shaped model list that `GET /v1/models` answers
//! when a request carries `anthropic-version`.

use std::sync::Arc;

use http::{HeaderMap, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::{Answer, json_response};
use crate::server::AppState;
use crate::server::body::read_body;
use crate::server::error::ApiError;
use crate::server::guard::Pass;
use crate::server::relay::{fetch_catalogue, relay_in, translate_options};
use crate::server::tokenizer;
use crate::translate::messages::count::{ATTACHMENT_TOKEN_ESTIMATE, count_request};
use crate::translate::messages::models::{self, Alias, AliasRule, CatalogueModel};
use crate::translate::messages::{Messages, MessagesContext, MessagesOptions};

/// `POST /v1/messages` (any query string, e.g. Claude Code's `?beta=true`).
pub(crate) async fn create(state: &Arc<AppState>, req: Request<Incoming>, pass: Pass) -> Answer {
    let context = context(state, req.headers()).await;
    relay_in::<Messages>(state, req, pass, context).await
}

/// `POST /v1/messages/count_tokens`: the request translated as `/v1/messages`
/// would translate it, its text counted with `o200k_base`, plus
/// `ATTACHMENT_TOKEN_ESTIMATE` per image or file — an estimate of what the
/// upstream will count (docs/architecture.md, "Anthropic Messages"). Counted on a
/// blocking thread: the tokenizer loads on first use.
pub(crate) async fn count_tokens(state: &Arc<AppState>, req: Request<Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let context = context(state, &parts.headers).await;
    let state = Arc::clone(state);
    let counted = tokio::task::spawn_blocking(move || {
        let tags: Vec<&str> = context.account_tags.iter().map(String::as_str).collect();
        let options = MessagesOptions {
            account_tags: &tags,
            session: context.session.as_deref(),
            agent: context.agent.as_deref(),
        };
        let input = count_request(&bytes, &translate_options(&state), &options)?;
        let text = tokenizer::count(&input.text)
            .ok_or_else(|| ApiError::upstream_error("The token counter could not be loaded."))?;
        let attachments = (input.images + input.files) as u64 * ATTACHMENT_TOKEN_ESTIMATE;
        Ok::<u64, ApiError>(text as u64 + attachments)
    })
    .await
    .map_err(|e| ApiError::upstream_error(format!("Counting failed: {e}")))??;
    Ok(json_response(
        StatusCode::OK,
        &json!({"input_tokens": counted}),
    ))
}

/// `GET /v1/models` for Anthropic clients: the `claude-*` aliases (each showing
/// its mapping) and the upstream ids.
pub(crate) async fn list(state: &Arc<AppState>) -> Answer {
    let (catalogue, aliases, created) = aliases(state).await?;
    Ok(json_response(
        StatusCode::OK,
        &models::model_list(&aliases, &catalogue, created),
    ))
}

/// `GET /v1/models/{id}` for Anthropic clients.
pub(crate) async fn get(state: &Arc<AppState>, id: &str) -> Answer {
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
    let (catalogue, aliases, created) = aliases(state).await?;
    models::model_entry(&id, &aliases, &catalogue, created)
        .map(|model| json_response(StatusCode::OK, &model))
        .ok_or_else(|| ApiError::model_not_found(&id, &[]))
}

/// The `claude-*` aliases as the relay resolves them now, for `/v1/relay/status`
/// (against the last catalogue read; empty before the first).
pub(crate) fn resolved_aliases(state: &AppState) -> serde_json::Value {
    let raw = state.models.cached_raw().unwrap_or_default();
    let (_, aliases) = resolve(state, &raw);
    serde_json::Value::Array(
        aliases
            .iter()
            .map(|a| json!({"match": a.pattern, "model": a.model, "effort": a.effort}))
            .collect(),
    )
}

/// The catalogue and the aliases resolved against it.
async fn aliases(state: &AppState) -> Result<(Vec<CatalogueModel>, Vec<Alias>, i64), ApiError> {
    let (raw, created) = state.models.raw(|| fetch_catalogue(state)).await?;
    let (catalogue, aliases) = resolve(state, &raw);
    Ok((catalogue, aliases, created))
}

/// `anthropic.model_map` and the built-in rules, resolved against `raw`.
fn resolve(state: &AppState, raw: &[serde_json::Value]) -> (Vec<CatalogueModel>, Vec<Alias>) {
    let catalogue: Vec<CatalogueModel> = raw.iter().filter_map(CatalogueModel::from_json).collect();
    let rules: Vec<AliasRule> = state
        .config
        .anthropic
        .model_map
        .iter()
        .map(|r| AliasRule {
            pattern: r.pattern.clone(),
            model: r.model.clone(),
            effort: r.effort.clone(),
        })
        .collect();
    let aliases = models::resolve_map(&rules, &catalogue);
    (catalogue, aliases)
}

/// The request's session and account, and the aliases. A catalogue that cannot be
/// read leaves the aliases empty: the model is then resolved as it is spelled, and
/// the usual model errors apply.
async fn context(state: &AppState, headers: &HeaderMap) -> MessagesContext {
    let (catalogue, aliases) = match aliases(state).await {
        Ok((catalogue, aliases, _)) => (catalogue, aliases),
        Err(_) => (Vec::new(), Vec::new()),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // Every signed-in account's signatures are accepted; the relay drops those of
    // another account than the one the request runs on (docs/architecture.md#accounts).
    let account_tags = state
        .accounts
        .signature_tags()
        .into_iter()
        .map(|(tag, _)| tag)
        .collect();
    MessagesContext {
        account_tags,
        session: header("x-claude-code-session-id"),
        agent: header("x-claude-code-agent-id"),
        aliases,
        catalogue,
    }
}
