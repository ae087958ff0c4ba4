//! Everything that talks to the ChatGPT Codex backend: the pooled HTTPS client
//! with the Codex identification headers and timeouts ([`client`]), the
//! incremental SSE reader ([`sse`]), the model catalogue cache ([`models`]) and
//! the usage headers ([`usage`]).

pub(crate) mod client;
pub mod events;
pub(crate) mod models;
pub mod sse;
pub(crate) mod usage;

pub(crate) use client::{UpstreamClient, UpstreamError};
