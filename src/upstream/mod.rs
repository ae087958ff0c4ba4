//! Everything that talks to the ChatGPT Codex backend: the pooled HTTPS client
//! with the Codex identification headers and timeouts ([`client`]), the
//! incremental SSE reader ([`sse`]), the model catalogue cache ([`models`]) and
//! the usage headers ([`usage`]).

pub mod client;
pub mod events;
pub mod models;
pub mod sse;
pub mod usage;

pub use client::{UpstreamClient, UpstreamError};
