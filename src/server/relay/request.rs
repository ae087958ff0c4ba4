//! The upstream request of a translated client request: the model resolved
//! against the catalogue, `item_reference`s expanded, stored files inlined, and
//! the body serialised once.

use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;

use super::failure::map_upstream_error;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::translate::{
    SignedReasoning, TranslateOptions, UpstreamRequest, ignored_parameters_header,
};
use crate::upstream::models::Resolution;

/// A request ready to be sent upstream.
pub(crate) struct UpstreamBody {
    /// The serialised upstream body.
    pub(crate) body: Bytes,
    /// The catalogue's model id.
    pub(crate) model: String,
    /// The model as the client spelled it.
    pub(crate) requested_model: String,
    /// The `x-airelays-ignored-parameters` header, when something was removed.
    pub(crate) ignored: Option<HeaderValue>,
    /// Reasoning sent back inside signatures that name their account.
    pub(crate) signed_reasoning: Vec<SignedReasoning>,
}

/// The relay settings translation depends on.
pub(crate) fn translate_options(state: &AppState) -> TranslateOptions<'_> {
    TranslateOptions {
        unsupported_parameters: &state.config.upstream.unsupported_parameters,
        default_instructions: &state.config.upstream.default_instructions,
        reasoning_summaries: state.config.chat.reasoning_output
            == crate::config::ReasoningOutput::ReasoningContent,
    }
}

/// Fetches the model catalogue with the current login.
pub(crate) async fn fetch_catalogue(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let accounts = state.accounts.all();
    if accounts.len() >= 2 {
        return crate::server::accounts::models::fetch_union(state, &accounts).await;
    }
    let access = state.credentials.access().await?;
    state
        .upstream
        .fetch_models(&access.access_token, &access.account_id)
        .await
        .map_err(map_upstream_error)
}

/// Resolves the requested model to the catalogue's spelling (or 404).
pub(crate) async fn resolve_model(state: &AppState, requested: &str) -> Result<String, ApiError> {
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

/// Resolves the model, expands references and inlines files (within the byte
/// budget, checked before anything is read), and serialises the upstream body once.
pub(crate) async fn upstream_body(
    state: &AppState,
    mut prepared: UpstreamRequest,
) -> Result<UpstreamBody, ApiError> {
    let model = resolve_model(state, &prepared.model).await?;
    crate::server::expansion::expand_references(state, &mut prepared.body).await?;
    prepared
        .body
        .insert("model".into(), Value::String(model.clone()));
    let body = serde_json::to_vec(&prepared.body).map_err(|e| {
        ApiError::invalid_request(format!("Could not encode the request: {e}"), None, None)
    })?;
    let ignored = ignored_parameters_header(&prepared.ignored_parameters)
        .and_then(|h| HeaderValue::from_str(&h).ok());
    Ok(UpstreamBody {
        body: Bytes::from(body),
        model,
        requested_model: prepared.model,
        ignored,
        signed_reasoning: prepared.signed_reasoning,
    })
}
