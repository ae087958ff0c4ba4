//! The request/answer half of the dialect seam: one [`Dialect`] per client API.
//! The relay's pipeline (`server::relay`) is generic over it, so adding an API
//! is one implementation of this trait plus one route line
//! (docs/architecture.md, "Adding a dialect").

use serde_json::Value;

use super::stream::StreamTranslator;
use super::{TranslateError, TranslateOptions, UpstreamRequest};

/// What every dialect's answer is built from, besides the upstream events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerContext {
    /// The model as the client spelled it.
    pub requested_model: String,
    /// The catalogue's model id the request was sent to.
    pub model: String,
    /// When the answer was created (Unix seconds).
    pub created: i64,
    /// Random bytes for the answer's id (translation itself draws none).
    pub nonce: [u8; 32],
    /// The tag of the account that answers (docs/architecture.md#accounts): the
    /// thinking signatures of a Messages answer carry it. `None` outside the relay.
    pub account_tag: Option<String>,
}

/// A translated request and the dialect state its answer needs.
#[derive(Debug)]
pub struct Prepared<D> {
    /// The upstream body and what the pipeline needs to know about it.
    pub upstream: UpstreamRequest,
    /// The dialect's own state for the answer.
    pub dialect: D,
}

/// One client API relayed onto the backend's streamed Responses API.
pub trait Dialect: Sized + Send + 'static {
    /// The translator of streamed answers.
    type Stream: StreamTranslator + 'static;

    /// What the route knows of the request besides its body (headers, the model
    /// catalogue); `()` for dialects that need nothing else.
    type Context: Send;

    /// Parses a client body and translates it into the upstream request.
    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError>;

    /// [`Dialect::prepare`] with the route's context; by default the context is
    /// not needed.
    fn prepare_in(
        body: &[u8],
        opts: &TranslateOptions<'_>,
        context: Self::Context,
    ) -> Result<Prepared<Self>, TranslateError> {
        let _ = context;
        Self::prepare(body, opts)
    }

    /// The translator for a streamed answer.
    fn stream(self, answer: &AnswerContext) -> Self::Stream;

    /// The non-streamed answer, from the upstream Response object assembled from
    /// the whole stream.
    fn finish(self, response: Value, answer: &AnswerContext) -> Value;
}

/// Up to 32 characters of `[A-Za-z0-9]` from the nonce, for answer ids such as
/// `chatcmpl-…`.
pub fn id_suffix(nonce: &[u8; 32], len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    nonce
        .iter()
        .take(len)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_suffixes_are_alphanumeric_of_the_asked_length_and_differ_by_nonce() {
        let a = id_suffix(&[7; 32], 29);
        let b = id_suffix(&[200; 32], 29);
        assert_eq!(a.len(), 29);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(id_suffix(&[0; 32], 40).len(), 32);
    }
}
