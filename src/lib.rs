//! airelays — one binary that lets a developer use their ChatGPT subscription
//! from any OpenAI-compatible tool on their own machine.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod fsio;
pub mod http;
pub mod status;
pub mod token;
