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
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod files;
pub mod fsio;
pub mod http;
pub mod server;
pub mod status;
pub mod token;
pub mod translate;
pub mod upstream;
