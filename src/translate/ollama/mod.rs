//! The Ollama dialects: `POST /api/chat` ([`OllamaChat`]) and `POST /api/generate`
//! ([`OllamaGenerate`]), plus the pure JSON the other Ollama routes answer with
//! ([`models`]: `/api/tags`, `/api/show`, `/api/ps`, `/api/version`) and Ollama's
//! error body ([`error_body`]).
//!
//! Requests are rewritten into a Chat Completions body and then follow the chat
//! rules (docs/architecture.md, "Chat Completions request translation"), the same
//! way legacy completions do (docs/architecture.md, "Adding a dialect"):
//!
//! - `model` may carry a tag (`gpt-5.5:latest`, Open WebUI appends `:latest`); the
//!   tag is stripped and the catalogue id goes upstream.
//! - `think`: see `request::Think` for the table. `format: "json"` → a JSON object answer;
//!   a schema object → structured output with `strict: true`.
//! - `options` (`num_predict`, `temperature`, `top_p`, `seed`, `num_ctx`, …) are
//!   removed and disclosed as `options.<name>`; a non-empty `options.stop` is
//!   refused, as `stop` is on chat. `keep_alive` is accepted and not sent upstream
//!   (the route uses it for `/api/ps`, see [`KeepAlive`]).
//! - `stream` defaults to true, as in Ollama.
//! - `/api/generate`: a chat model answers the `prompt` as one user message, so
//!   `raw: true` is accepted but changes nothing (there is no prompt template to
//!   skip); `context` is refused (the backend keeps no context: send the
//!   conversation to `/api/chat`), and so is a non-empty `suffix`. An empty or
//!   missing `prompt` loads or unloads a model in Ollama: the route answers it
//!   with [`generate_load_answer`] and makes no upstream call (an `/api/chat`
//!   body without messages likewise, with [`chat_load_answer`]).
//!
//! Answers are NDJSON lines (`application/x-ndjson`, [`stream::OllamaStream`]) or,
//! with `stream: false`, one object of the same shape with `done: true`.
//!
//! Durations (`total_duration`, `prompt_eval_duration`, `eval_duration`, in ns)
//! are measured, never invented: translation reads no clock, so the dialects are
//! generic over a [`StreamClock`] that the server supplies (`C::default()` is
//! taken when the request is prepared; it is read at the first output line and
//! at the end). `prompt_eval_duration` runs until the first output,
//! `eval_duration` from there to the end; a non-streamed answer reports only
//! `total_duration`. With the default [`NoClock`] the durations are left out.
//! `load_duration` is always 0: no model is loaded.

mod chat;
mod generate;
pub(crate) mod models;
mod request;
pub(crate) mod stream;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use super::dialect::{AnswerContext, Dialect, Prepared};
use super::{TranslateError, TranslateOptions, UpstreamRequest, parse_body};
pub(crate) use generate::{Load, chat_load_answer, generate_load_answer};
use request::Shared;
pub(crate) use request::{KeepAlive, strip_tag};
use stream::{Flavour, OllamaStream};

/// The `Content-Type` of a streamed Ollama answer.
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// The Ollama API version the relay emulates, answered by `GET /api/version`.
/// Clients gate features on it (Open WebUI compares it numerically): 0.12.0 has
/// every feature the dialects serve (`think` levels, `tool_name`, schema `format`).
pub(crate) const OLLAMA_API_VERSION: &str = "0.12.0";

/// Elapsed time since a request was prepared, as the server measures it (e.g. a
/// `std::time::Instant` taken in `Default::default`). The dialects read it at the
/// first output and at the end; translation itself reads no clock.
pub(crate) trait StreamClock: Default + Send + 'static {
    /// Nanoseconds since this clock was created, `None` when nothing is measured.
    fn elapsed_ns(&self) -> Option<u64>;
}

/// A clock that measures nothing: the durations are left out of the answers.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NoClock;

impl StreamClock for NoClock {
    fn elapsed_ns(&self) -> Option<u64> {
        None
    }
}

/// The dialect state both endpoints keep for the answer.
#[derive(Debug)]
struct Answer<C> {
    /// The model as the client spelled it (Ollama echoes it in every line).
    client_model: String,
    /// How long the client wants the model kept in `/api/ps`.
    keep_alive: KeepAlive,
    clock: C,
}

impl<C: StreamClock> Answer<C> {
    fn of(shared: &Shared) -> Self {
        Answer {
            client_model: shared.client_model.clone(),
            keep_alive: shared.keep_alive,
            clock: C::default(),
        }
    }

    fn stream(self, flavour: Flavour, answer: &AnswerContext) -> OllamaStream<C> {
        OllamaStream::new(flavour, self.client_model, answer.created, self.clock)
    }

    fn finish(self, flavour: Flavour, response: &Value, answer: &AnswerContext) -> Value {
        let elapsed = self.clock.elapsed_ns();
        stream::final_object(
            flavour,
            &self.client_model,
            answer.created,
            response,
            elapsed,
        )
    }
}

/// `POST /api/chat`.
#[derive(Debug)]
pub(crate) struct OllamaChat<C = NoClock> {
    answer: Answer<C>,
}

impl<C> OllamaChat<C> {
    /// How long the client asked the model to stay listed in `/api/ps`.
    pub(crate) fn keep_alive(&self) -> KeepAlive {
        self.answer.keep_alive
    }
}

impl<C: StreamClock> Dialect for OllamaChat<C> {
    type Stream = OllamaStream<C>;
    type Context = ();

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        let (upstream, shared) = chat::prepare(parse_body(body)?, opts)?;
        let answer = Answer::of(&shared);
        Ok(Prepared {
            upstream,
            dialect: OllamaChat { answer },
        })
    }

    fn stream(self, answer: &AnswerContext) -> OllamaStream<C> {
        self.answer.stream(Flavour::Chat, answer)
    }

    fn finish(self, response: Value, answer: &AnswerContext) -> Value {
        self.answer.finish(Flavour::Chat, &response, answer)
    }
}

/// `POST /api/generate`.
#[derive(Debug)]
pub(crate) struct OllamaGenerate<C = NoClock> {
    answer: Answer<C>,
}

impl<C> OllamaGenerate<C> {
    /// How long the client asked the model to stay listed in `/api/ps`.
    pub(crate) fn keep_alive(&self) -> KeepAlive {
        self.answer.keep_alive
    }
}

impl<C: StreamClock> Dialect for OllamaGenerate<C> {
    type Stream = OllamaStream<C>;
    type Context = ();

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        let (upstream, shared) = generate::prepare(parse_body(body)?, opts)?;
        let answer = Answer::of(&shared);
        Ok(Prepared {
            upstream,
            dialect: OllamaGenerate { answer },
        })
    }

    fn stream(self, answer: &AnswerContext) -> OllamaStream<C> {
        self.answer.stream(Flavour::Generate, answer)
    }

    fn finish(self, response: Value, answer: &AnswerContext) -> Value {
        self.answer.finish(Flavour::Generate, &response, answer)
    }
}

/// Translates an `/api/chat` body into the upstream request (for the fuzz target;
/// the relay goes through [`OllamaChat`]).
pub fn prepare_chat(
    body: &[u8],
    opts: &TranslateOptions<'_>,
) -> Result<UpstreamRequest, TranslateError> {
    Ok(chat::prepare(parse_body(body)?, opts)?.0)
}

/// Translates an `/api/generate` body into the upstream request (for the fuzz
/// target; the relay goes through [`OllamaGenerate`]).
pub fn prepare_generate(
    body: &[u8],
    opts: &TranslateOptions<'_>,
) -> Result<UpstreamRequest, TranslateError> {
    Ok(generate::prepare(parse_body(body)?, opts)?.0)
}

/// Ollama's error body, `{"error":"…"}`, for every Ollama route's failures.
pub(crate) fn error_body(message: &str) -> Value {
    let mut body = Map::new();
    body.insert("error".to_owned(), Value::from(message));
    Value::Object(body)
}
