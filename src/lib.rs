//! airelays — one binary that lets a developer use their ChatGPT subscription
//! from any OpenAI-compatible tool on their own machine.
//!
//! # Map of the crate
//!
//! - [`cli`] — the command line (`main.rs` only calls [`cli::main`]): one file per
//!   subcommand (a folder for `service`: one generator per service-file format and
//!   the managers that load them), human and `--json` output.
//! - [`config`] — paths and every configuration key, with precedence
//!   flag > environment > file > default.
//! - [`fsio`] — private file I/O: 0700 dirs, 0600 files, atomic replace, file locks.
//! - [`token`] — the relay token clients present, and the constant-time verifier
//!   that follows rotations.
//! - [`status`] — the status document shared by `airelays status --json` and
//!   `GET /v1/relay/status`.
//! - [`http`] — the one outbound HTTP client (rustls, Codex-like identification).
//! - [`auth`] — ChatGPT sign-in (browser and device flows), the credential store
//!   (OS keychain or a 0600 file) and the credential session that refreshes tokens
//!   single-flight for the relay.
//! - [`translate`] — pure translation between the APIs clients speak and the
//!   backend's streamed Responses API (no I/O): the dialect seam and one
//!   implementation per API (Responses, Chat Completions, legacy Completions,
//!   Anthropic Messages, Ollama chat and generate).
//! - [`upstream`] — the Codex backend: the pooled client with its headers and
//!   timeouts, the incremental SSE reader, the decoding of its events, the model
//!   catalogue, usage headers.
//! - [`files`] — the crash-safe local upload store and the inlining of stored
//!   files into requests.
//! - [`server`] — the hyper server: the listeners (the relay's, and the optional
//!   `ollama.listen` one) and lifecycle, shared state, the request guard and
//!   per-IP limits, routing, the relay pipeline, the error catalogue and its
//!   envelopes (OpenAI's, Anthropic's, Ollama's), the router over several
//!   ChatGPT accounts (`server::accounts`) and the saved usage snapshots.
//! - [`doctor`] — the ordered self-checks of `airelays doctor`, also run by the
//!   relay's `POST /v1/relay/test` ([`doctor::relay_checks`]).
//! - `state` — the local SQLite store of Responses and Conversations
//!   (`previous_response_id`, retrieval, the Conversations API) and, with several
//!   accounts, which account issued each piece of encrypted reasoning; written by
//!   one thread off the request path.
//! - [`shutdown`] — the one shutdown signal every background task stops on.
//!
//! # How a request flows
//!
//! `server::serve` accepts a connection; for each request `server::routes` first
//! picks the error envelope from the path (so the guard's own errors are in the
//! client's dialect), then `server::guard` checks Host, Origin/CORS and, on
//! `/v1/*` and `/api/*`, the ban, the relay token (`token::TokenVerifier`), the token bucket and
//! the concurrency slot (`server::limits`). A relayed API is one route line calling
//! the one pipeline, `server::relay::relay::<D>` for its [`translate::dialect::Dialect`]:
//! the dialect translates the body (pure), the pipeline resolves the model
//! (`upstream::models`), expands references and inlines stored files
//! (`files::inline_files`), takes an access token from `auth::CredentialSession`,
//! calls `upstream::UpstreamClient` (retry before the first byte, one refresh on
//! 401) and waits for the first meaningful event, so early failures are real
//! statuses. The answer streams back through the dialect's
//! [`translate::stream::StreamTranslator`] (events decoded once by
//! [`upstream::events`]) or is assembled for non-streaming clients. Every error on
//! the way becomes an `ApiError`, written in the request's envelope in one place.
//! Data flows one way: route → translate → upstream → translate → route.
//!
//! # The dialect seam
//!
//! Translation is a trait ([`translate::dialect::Dialect`], one implementation per
//! client API) so the pipeline is generic over it: each API's hot path is
//! monomorphised, and adding an API is one implementation plus one route line,
//! with no closed list to extend. Error envelopes are an enum instead, because
//! they must be chosen from the path before any body is parsed, for routes that
//! relay nothing too. `docs/architecture.md` walks through adding a dialect.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod cli;
pub mod config;
pub(crate) mod doctor;
pub mod files;
pub mod fsio;
pub mod http;
pub(crate) mod server;
pub mod shutdown;
pub(crate) mod state;
pub(crate) mod status;
pub mod token;
pub mod translate;
pub mod upstream;
