//! airelays — one binary that lets a developer use their ChatGPT subscription
//! from any OpenAI-compatible tool on their own machine.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod files;
pub mod fsio;
pub mod status;
pub mod token;
