//! airelays — one binary that lets a developer use their ChatGPT subscription
//! from any OpenAI-compatible tool on their own machine.
//!
//! - `cli/`: argument parsing and one file per subcommand.
//! - `config`: paths and every configuration key.
//! - `fsio`: private (0600/0700), atomic file writes and file locks.
//! - `token`: the relay token local clients present.
//! - `http`: the one outbound HTTP client (Codex-like identification).
//! - `auth/`: ChatGPT sign-in (browser and device flows), the credential store
//!   (keychain or file) and the credential session that refreshes tokens
//!   (see `docs/auth.md`).
//! - `status`: the status document shared by `airelays status` and the relay.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod fsio;
pub mod http;
pub mod status;
pub mod token;
