//! airelays — one binary that lets a developer use their ChatGPT subscription
//! from any OpenAI-compatible tool on their own machine.
//!
//! # Map of the crate
//!
//! - [`cli`] — the command line (`main.rs` only calls [`cli::main`]): one file per
//!   subcommand, human and `--json` output.
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
//! - [`translate`] — pure translation between the OpenAI APIs clients speak and
//!   the backend's streamed Responses API (no I/O).
//! - [`upstream`] — the Codex backend: the pooled client with its headers and
//!   timeouts, the incremental SSE reader, the model catalogue, usage headers.
//! - [`files`] — the crash-safe local upload store and the inlining of stored
//!   files into requests.
//! - [`server`] — the hyper server: listener and lifecycle, the request guard
//!   and per-IP limits, one module per route family, the error catalogue.
//!
//! # How a request flows
//!
//! `server::serve` accepts a connection; for each request `server::guard` checks
//! Host, Origin/CORS and, on `/v1/*`, the ban, the relay token
//! (`token::TokenVerifier`), the token bucket and the concurrency slot
//! (`server::limits`). `server::routes` picks the handler: for
//! `/v1/chat/completions` and `/v1/responses` the body is translated once
//! (`translate::*::prepare`), the model resolved (`upstream::models`), stored
//! files inlined (`files::inline_files`), then `server::relay` takes an access
//! token from `auth::CredentialSession`, calls `upstream::UpstreamClient` (retry
//! before the first byte, one refresh on 401) and waits for the first meaningful
//! event, so early failures are real statuses. The answer streams back through
//! `server::routes::streaming` — byte for byte for Responses, through
//! `translate::chat_stream` for chat — or is assembled for non-streaming clients.
//! Every error on the way becomes the OpenAI envelope in `server::error`. Data
//! flows one way: route → translate → upstream → translate → route.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod files;
pub mod fsio;
pub mod http;
pub mod server;
pub mod shutdown;
pub mod status;
pub mod token;
pub mod translate;
pub mod upstream;
