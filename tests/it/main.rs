//! The integration tests: one test binary (`cargo test --test it`), one module per
//! subject, all built on one harness.
//!
//! Every test runs the real `airelays` binary, or the library's public API, against
//! the in-process mock upstream (`mock/`), on loopback ephemeral ports, in a
//! [`harness::Sandbox`] (a throwaway HOME with scrubbed environment).
//!
//! Layout:
//! - `harness/`: the only shared code. `mod.rs` holds [`harness::Sandbox`] (isolated
//!   home, optional mock upstream, credential seeding), output and JSON Schema
//!   helpers and the multipart builder; `relay.rs` runs `airelays serve`
//!   ([`harness::relay::Relay`]) and holds the error reader
//!   ([`harness::relay::error_of`]); `login.rs` drives a running `airelays login`.
//! - one file per subject, below; `clients/` runs the pinned real clients through
//!   one runner (`clients/runner.rs`; install the clients with
//!   `scripts/setup-clients`; their scripts live in `tests/clients/`, the snippets
//!   the tests check in `docs/clients/`).
//!
//! Run one subject with `cargo test --test it relay::`, one test with
//! `cargo test --test it relay::h2c_prior_knowledge_is_served`.
//!
//! To add a topic module:
//! 1. Put the tests in `tests/it/<topic>.rs` (or `tests/it/<topic>/mod.rs` for
//!    several files); do not add a new file directly under `tests/`, which would
//!    be a separate test binary.
//! 2. Declare it below with `mod <topic>;`, keeping the list in alphabetical order.
//! 3. Import what it needs with `use crate::harness::...`; never copy a helper: if
//!    the harness lacks one that two topics need, add it to `harness/` once. A helper
//!    only one topic uses stays private in that topic's file.
//! 4. Tests that belong to an existing subject go into that subject's file instead.
//!
//! There is no `#![allow(dead_code)]`: a helper nobody calls is a warning, and
//! warnings fail `cargo clippy -- -D warnings`; delete it.

mod harness;

mod accounts;
mod cli;
mod clients;
mod crash;
mod crash_keychain;
mod doctor;
mod faults;
mod files;
mod guard;
mod hardening;
mod login;
mod logs;
mod models;
mod ollama;
mod relay;
mod responses;
mod security;
mod service;
mod session;
mod signin;
mod soak;
mod state;
mod usage;
