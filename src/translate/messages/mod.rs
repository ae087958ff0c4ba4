//! The Anthropic Messages dialect (`POST /v1/messages`), the API Claude Code
//! speaks (docs/architecture.md, "The dialect seam"). Requests become Responses
//! bodies in [`request`] (content blocks in `content`), non-streamed answers are
//! `message` objects built in [`response`], streamed answers follow Anthropic's
//! event grammar in [`stream`], the `claude-*` aliases resolve in [`models`] and
//! the text `count_tokens` counts comes from [`count`].
//!
//! ## Thinking signatures
//!
//! The backend's reasoning is opaque: each `reasoning` output item carries an
//! `encrypted_content` blob that must be sent back with the next turn for the
//! model to keep its reasoning. The relay hands it to the client inside the
//! thinking block's `signature` (and reads it back from `signature`, or from a
//! `redacted_thinking` block's `data`):
//!
//! ```text
//! airelays1.<account-tag>.<encrypted_content>
//! ```
//!
//! `airelays1` names the format; the account tag ([`account_tag`], `[A-Za-z0-9_-]`,
//! no dot) names the ChatGPT account whose backend issued the blob (the account
//! that answered: [`AnswerContext::account_tag`]), because another account's
//! backend cannot decrypt it and would fail the whole turn. A thinking block whose
//! signature lacks the prefix (a real Anthropic signature, from a session resumed
//! across base URLs) or names an account that is not signed in is dropped and
//! disclosed in `x-airelays-ignored-parameters` as `content.thinking` (or
//! `content.redacted_thinking`), never sent upstream. One that names another
//! signed-in account becomes a reasoning item listed in
//! [`crate::translate::UpstreamRequest::signed_reasoning`]: the relay drops it
//! (disclosed the same way) when the request runs on another account than the
//! one the signature names.
//!
//! ## Effort
//!
//! `reasoning.effort` comes from the request when it names one, else from the
//! model alias ([`models`]):
//!
//! | request | upstream `reasoning.effort` |
//! |---|---|
//! | `output_config.effort` `low` / `medium` / `high` | the same |
//! | `output_config.effort` `xhigh`, `max` | `xhigh` |
//! | `thinking: {"type":"enabled","budget_tokens":N}`, N ≤ 1024 | `low` |
//! | the same, 1024 < N ≤ 8192 | `medium` |
//! | the same, N > 8192 | `high` |
//! | `thinking: {"type":"adaptive"}`, `disabled` or absent | the alias's effort |
//!
//! `output_config.effort` wins over `thinking.budget_tokens`. With `thinking`
//! `enabled` or `adaptive`, the relay also asks for reasoning summaries
//! (`reasoning.summary: "auto"`) and streams them as thinking blocks; with it
//! `disabled` or absent, no thinking blocks are sent. The effort is lowered to
//! the nearest level the model supports ([`models::clamp_effort`]).

pub mod count;
pub mod models;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod stream;

mod content;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::dialect::{AnswerContext, Dialect, Prepared, id_suffix};
use super::{TranslateError, TranslateOptions};
pub use stream::MessagesStream;

/// The account tag of signatures issued without a known ChatGPT account id.
pub const DEFAULT_ACCOUNT_TAG: &str = "default";

/// The prefix of every thinking signature the relay issues.
pub const SIGNATURE_PREFIX: &str = "airelays1.";

/// Per-request settings of the Messages dialect that do not come from the body.
#[derive(Debug, Clone, Copy)]
pub struct MessagesOptions<'a> {
    /// The account tags whose thinking signatures are accepted (every signed-in
    /// account's); the first is the one issued when the answer names none.
    pub account_tags: &'a [&'a str],
    /// The `X-Claude-Code-Session-Id` header; wins over `metadata.user_id`.
    pub session: Option<&'a str>,
    /// The `X-Claude-Code-Agent-Id` header.
    pub agent: Option<&'a str>,
}

impl Default for MessagesOptions<'_> {
    fn default() -> Self {
        MessagesOptions {
            account_tags: &[DEFAULT_ACCOUNT_TAG],
            session: None,
            agent: None,
        }
    }
}

/// What the `/v1/messages` route knows of a request besides its body.
#[derive(Debug, Clone, Default)]
pub struct MessagesContext {
    /// The account tags whose thinking signatures are accepted.
    pub account_tags: Vec<String>,
    /// The `X-Claude-Code-Session-Id` header.
    pub session: Option<String>,
    /// The `X-Claude-Code-Agent-Id` header.
    pub agent: Option<String>,
    /// The `claude-*` aliases, resolved against the catalogue.
    pub aliases: Vec<models::Alias>,
    /// The model catalogue.
    pub catalogue: Vec<models::CatalogueModel>,
}

/// The Anthropic Messages API.
#[derive(Debug, Clone)]
pub struct Messages {
    /// The model as the client named it, echoed in the answer.
    requested_model: Option<String>,
    /// The client asked for thinking (`enabled` or `adaptive`): answers carry
    /// thinking blocks.
    thinking: bool,
    /// The account tag of the signatures the answer issues, unless the answer
    /// names the account that gave it.
    account_tag: String,
    /// A rough count of the request's input tokens, for `message_start`.
    input_estimate: u64,
}

impl Messages {
    /// [`Dialect::prepare`] with the settings that come from headers and the
    /// signed-in account.
    pub fn prepare_with(
        body: &[u8],
        opts: &TranslateOptions<'_>,
        messages: &MessagesOptions<'_>,
    ) -> Result<Prepared<Messages>, TranslateError> {
        let translated = request::translate(body, opts, messages)?;
        let input_estimate = count::estimate_input_tokens(&translated.upstream.body);
        Ok(Prepared {
            upstream: translated.upstream,
            dialect: Messages {
                requested_model: None,
                thinking: translated.thinking,
                account_tag: messages
                    .account_tags
                    .first()
                    .copied()
                    .unwrap_or(DEFAULT_ACCOUNT_TAG)
                    .to_owned(),
                input_estimate,
            },
        })
    }

    /// Whether the answer carries thinking blocks.
    pub fn thinking(&self) -> bool {
        self.thinking
    }

    /// `msg_…` for an answer.
    fn message_id(answer: &AnswerContext) -> String {
        format!("msg_{}", id_suffix(&answer.nonce, 24))
    }
}

impl Dialect for Messages {
    type Stream = MessagesStream;
    type Context = MessagesContext;

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        Messages::prepare_with(body, opts, &MessagesOptions::default())
    }

    /// Translates with the request's session and account, and sends a `claude-*`
    /// id to the upstream model (and effort) its alias names.
    fn prepare_in(
        body: &[u8],
        opts: &TranslateOptions<'_>,
        context: MessagesContext,
    ) -> Result<Prepared<Self>, TranslateError> {
        let tags: Vec<&str> = context.account_tags.iter().map(String::as_str).collect();
        let options = MessagesOptions {
            account_tags: &tags,
            session: context.session.as_deref(),
            agent: context.agent.as_deref(),
        };
        let mut prepared = Messages::prepare_with(body, opts, &options)?;
        let requested = std::mem::take(&mut prepared.upstream.model);
        let choice = models::choose(&requested, &context.aliases, &context.catalogue);
        models::apply_choice(&mut prepared.upstream.body, &choice, &context.catalogue);
        prepared.upstream.model = choice.model;
        prepared.dialect.requested_model = Some(requested);
        Ok(prepared)
    }

    fn stream(self, answer: &AnswerContext) -> MessagesStream {
        MessagesStream::new(
            Messages::message_id(answer),
            self.requested_model
                .as_deref()
                .unwrap_or(&answer.requested_model),
            answer.account_tag.clone().unwrap_or(self.account_tag),
            self.thinking,
            self.input_estimate,
        )
    }

    fn finish(self, response: Value, answer: &AnswerContext) -> Value {
        response::message_from_response(
            &response,
            &response::AnswerInfo {
                id: Messages::message_id(answer),
                model: self
                    .requested_model
                    .as_deref()
                    .unwrap_or(&answer.requested_model),
                account_tag: answer.account_tag.as_deref().unwrap_or(&self.account_tag),
                thinking: self.thinking,
            },
        )
    }
}

/// The account tag for a ChatGPT account id: the first 12 hex digits of its
/// SHA-256 (the id itself never appears in a signature).
pub fn account_tag(account_id: &str) -> String {
    let digest = Sha256::digest(account_id.as_bytes());
    hex_prefix(&digest, 12)
}

/// The tag of the account whose id is `account_id`; [`DEFAULT_ACCOUNT_TAG`] when
/// the id is not known.
pub fn tag_for(account_id: Option<&str>) -> String {
    match account_id {
        Some(id) if !id.is_empty() => account_tag(id),
        _ => DEFAULT_ACCOUNT_TAG.to_owned(),
    }
}

/// The signature carrying a reasoning item's encrypted content.
pub fn sign(account_tag: &str, encrypted_content: &str) -> String {
    format!("{SIGNATURE_PREFIX}{account_tag}.{encrypted_content}")
}

/// The encrypted content of a signature this relay issued for `account_tag`;
/// `None` for any other signature (foreign, another account, or empty content).
pub fn verify_signature<'s>(signature: &'s str, account_tag: &str) -> Option<&'s str> {
    signature_parts(signature)
        .filter(|(tag, _)| *tag == account_tag)
        .map(|(_, content)| content)
}

/// The account tag and encrypted content of a signature this relay issued (for
/// any account); `None` for a foreign signature or empty content.
pub fn signature_parts(signature: &str) -> Option<(&str, &str)> {
    let rest = signature.strip_prefix(SIGNATURE_PREFIX)?;
    let (tag, content) = rest.split_once('.')?;
    (!content.is_empty()).then_some((tag, content))
}

/// A stable `prompt_cache_key` for a Claude Code session (and agent, and model):
/// `claude-` and the first 32 hex digits of a SHA-256 over the three, so
/// consecutive turns of one session share the upstream prompt cache.
pub fn prompt_cache_key(session: &str, agent: Option<&str>, model: &str) -> String {
    let mut hash = Sha256::new();
    for part in [session, agent.unwrap_or(""), model] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    format!("claude-{}", hex_prefix(&hash.finalize(), 32))
}

/// The Anthropic error `type` for an HTTP status (Anthropic's table: 400
/// `invalid_request_error`, 401 `authentication_error`, 403 `permission_error`,
/// 404 `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`, 529
/// `overloaded_error`, 500 `api_error`; the relay's 503 is overloaded too, its
/// 408 and 422 invalid requests). Also what the HTTP error envelope of the Anthropic
/// routes uses.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        400 | 408 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The first `len` lowercase hex digits of `bytes`.
fn hex_prefix(bytes: &[u8], len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests;
