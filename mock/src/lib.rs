//! A faithful local stand-in for the two upstreams airelays talks to: the OpenAI OAuth issuer
//! (`https://auth.openai.com`) and the ChatGPT "Codex" backend
//! (`https://chatgpt.com/backend-api/codex`). Every test and benchmark of the relay runs against
//! it, because the real services cannot be reached from the build machine.
//!
//! Both upstreams are served by one HTTP/1.1 (and h2c) server bound to `127.0.0.1`:
//!
//! | stands in for | URL |
//! |---|---|
//! | issuer | `http://127.0.0.1:PORT` ([`MockUpstream::issuer_url`]) |
//! | Codex backend | `http://127.0.0.1:PORT/backend-api/codex` ([`MockUpstream::backend_url`]) |
//! | usage endpoint | `http://127.0.0.1:PORT/backend-api/wham/usage` |
//! | control API | `http://127.0.0.1:PORT/__mock/…` |
//!
//! ```
//! use airelays_mock::{Fault, MockConfig, MockUpstream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let mock = MockUpstream::start(MockConfig::default()).await?;
//! let tokens = mock.state().issue_tokens(); // seed a client with these
//! mock.state().push_fault(Fault::Status500); // its next /responses call gets a 500
//! // … point the client at mock.issuer_url() and mock.backend_url(), run it, then:
//! assert_eq!(mock.state().refresh_calls(), 0);
//! assert!(tokens.refresh_token.starts_with("rt_"));
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Map of the crate
//!
//! A request flows `server` → one route family → `state` (and back out as a response):
//!
//! - `server`: accept loop, connection tasks, shutdown, request recording and the route table.
//! - `issuer`: `/oauth/authorize`, `/oauth/token`, `/oauth/revoke`, the device-code flow.
//! - `backend`: `/backend-api/codex/responses`, `/models`, `/backend-api/wham/usage`, with the
//!   bearer/account checks, body validation and fault injection.
//! - `script`: pure functions that read a Responses request and decide the scripted answer.
//! - `sse`: turns a scripted answer into the streamed event sequence (and stream faults).
//! - `catalog`: the model catalogue, usage payload and rate-limit header values.
//! - `control`: the `/__mock/*` HTTP control API for out-of-process users.
//! - `state`: [`MockState`], counters, knobs, the fault queue, recorded requests.
//! - `accounts`: several accounts at once — [`MockState::issue_tokens_for`] and
//!   [`MockState::set_login_account`] mint credentials for a chosen [`MockAccount`] (its
//!   refreshes stay on it), and per-account knobs keyed by `chatgpt_account_id`: a usage
//!   limit until a reset ([`MockState::set_usage_limited`]), an auth rejection
//!   ([`MockState::set_account_rejected`]), a fault queue ([`MockState::push_fault_for`]),
//!   the weekly window's used percent ([`MockState::set_weekly_used_for`]), a catalogue of
//!   its own ([`MockState::set_models_for`]), the refusal of another account's encrypted
//!   reasoning ([`MockState::set_reject_foreign_encrypted`]), and per-account counters.
//!   With no knob turned, answers are exactly the single-account ones.
//! - `tokens`: JWT minting and the registry of valid access/refresh tokens.
//! - `grants`: authorization codes and device-code grants waiting to be exchanged.
//! - `reply`: small response builders shared by the route families.
//!
//! # Scripted answers (the test vocabulary)
//!
//! `POST /backend-api/codex/responses` answers deterministically from the request. Let *T* be
//! the text of the last `role:"user"` input item (its string content, or its `input_text` parts
//! concatenated) and *O* the last input item when it is a `function_call_output` or
//! `custom_tool_call_output`. Rules, first match wins:
//!
//! 1. *O* exists → text `tool said: <output>` (a string output as is; an array output as its
//!    `input_text` parts concatenated).
//! 2. `FAULT:<name>[:<arg>]` in *T* → the same fault as [`Fault`] (see [`Fault::from_name`] for
//!    the names: `cut`, `failed[:code]`, `incomplete[:reason]`, `usage_limit[:secs]`,
//!    `rate_limited`, `500`, `overloaded`, `401`, `bad_request[:detail]`, `stall[:secs]`,
//!    `stall_headers[:secs]`, `malformed`, `huge_line[:bytes]`, `reset`).
//! 3. `PARALLEL_TOOLS` → two `function_call` items in one response. When a shell tool is offered
//!    (see rule 4) it is called twice, with `tool-ok-42` and `tool-ok-43` markers; otherwise the
//!    first two function tools are called with `{}` (the only one twice if there is one).
//! 4. `RUN_TOOL` → one `function_call` to the best shell tool offered: `exec_command`
//!    `{"cmd":"echo tool-ok-42"}` (Codex), else `bash`
//!    `{"command":"echo tool-ok-42","description":"Print a marker"}` (opencode, AI SDK), else
//!    `shell` `{"command":["bash","-lc","echo tool-ok-42"]}`, else the first `type:"function"`
//!    tool with `{}`. Tools nested in `{"type":"namespace","tools":[…]}` are used only when no
//!    top-level function tool exists. No function tool at all → text `no function tool offered`.
//! 5. `CUSTOM_TOOL` → one `custom_tool_call` to the first `type:"custom"` tool with input
//!    `*** Begin Patch\n*** End Patch\n`; without a custom tool → text `no custom tool offered`.
//! 6. `LONG:<n>` → a text of exactly `n` ASCII bytes, streamed in 100-byte deltas.
//! 7. `ECHO:<rest>` → text `<rest>` (up to the end of the line).
//! 8. `JSON_ANSWER` → text `{"answer":42}`.
//! 9. otherwise → text `pong`.
//!
//! `REASON` anywhere in *T* is a modifier: a reasoning item with a two-delta summary and
//! `encrypted_content` is streamed before the answer chosen by rule 1 or 3–9. (In a tool round
//! trip *T* is still the original prompt, so both turns reason.)
//!
//! Every 200 stream follows the public event order (`response.created`,
//! `response.in_progress`, per item `output_item.added` … `output_item.done`, and finally
//! `response.completed` whose `response.output` holds every final item and whose `usage` is
//! always present). `model` is echoed from the request. Events carry `sequence_number`,
//! `output_index`, `item_id` and `content_index` as upstream does. Events are sent as fast as
//! the client reads them, one body chunk per event.
//!
//! An unknown `FAULT:` name is answered `400 {"detail":"unknown mock fault …"}`.
//!
//! # Fault semantics
//!
//! [`MockState::push_fault`] queues faults (FIFO). A queued fault is consumed by the next
//! `/responses` call that passes the WebSocket, auth, account and body checks, that is, the next
//! call that would otherwise have succeeded. `FAULT:` in the prompt applies to every request
//! that carries it.
//!
//! # Control API (for other processes)
//!
//! | route | effect |
//! |---|---|
//! | `GET /__mock/state` | counters as JSON (plus `pending_faults`) |
//! | `GET /__mock/requests` | recorded requests as a JSON array, oldest first |
//! | `POST /__mock/faults` | queue one fault; body as in [`Fault::from_json`], e.g. `{"type":"cut_mid_stream"}` |
//! | `POST /__mock/tokens` | mint credentials; answers [`IssuedTokens`] as JSON |
//! | `POST /__mock/revoke-access-tokens` | [`MockState::revoke_all_access_tokens`] |
//! | `POST /__mock/reset` | [`MockState::reset`] |
//!
//! Requests to `/__mock/*` are not recorded. The `airelays-mock` binary prints one JSON line
//! `{"issuer_url","backend_url","port"}` (plus `"tokens"` with `--seed-tokens`) and serves
//! until SIGINT/SIGTERM.
//!
//! # Deviations from the real upstreams (deliberate)
//!
//! - `/oauth/authorize` accepts `http://localhost:<any port>/auth/callback`; the real issuer
//!   allows only ports 1455 and 1457. Tests use ephemeral callback ports.
//! - Request bodies with a `Content-Encoding` (e.g. Codex's `zstd`) are refused with 415; the
//!   mock does not decompress.
//! - An unknown refresh token gets the same `401 refresh_token_invalidated` as a revoked one.
//! - A missing or mismatching `ChatGPT-Account-ID` header gets `403 {"detail":…}` (the live
//!   status is unknown).
//! - An authorization code is consumed by its first exchange attempt, even a failed one.
//! - The device token poll answers `400 invalid_request` for an unknown `device_auth_id`, so a
//!   client does not poll a code that can never succeed for 15 minutes.
//! - The default device `interval` is `"0"` so tests do not wait (the real server says `"5"`).
//! - `/oauth/token` reads JSON or form bodies for every grant (Codex sends the code exchange
//!   as a form and the refresh as JSON; what the live server refuses is unknown).
//! - The docs/upstream.md#request-body-rules body checks run in a fixed order (stream, store, instructions, input, unsupported
//!   parameters, system messages) and an unsupported parameter set to `null` is let through.
//! - Item ids, session headers, `originator` and `version` are recorded but never required.
#![forbid(unsafe_code)]

mod accounts;
mod backend;
mod catalog;
mod control;
mod grants;
mod issuer;
mod reply;
mod script;
mod server;
mod sse;
mod state;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use state::{
    Fault, IssuedTokens, MAX_RECORDED_REQUESTS, MockState, RecordedRequest, RefreshFailure,
};

/// The client id of the Codex CLI, the only one the mock issuer accepts.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// Settings fixed when the mock starts; most can be changed later through [`MockState`].
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Lifetime of issued access tokens (`exp` claim and `expires_in`). Default 10 days.
    pub access_token_lifetime: Duration,
    /// How many device-token polls answer "pending" before success. Default 1.
    pub device_pending_polls: u32,
    /// The `interval` string returned by the device user-code endpoint. Default `"0"`.
    pub device_interval: String,
    /// The ChatGPT account every issued token belongs to.
    pub account: MockAccount,
    /// Port to bind on 127.0.0.1; 0 (the default) picks an ephemeral port.
    pub port: u16,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            access_token_lifetime: Duration::from_secs(10 * 24 * 3600),
            device_pending_polls: 1,
            device_interval: "0".to_owned(),
            account: MockAccount::default(),
            port: 0,
        }
    }
}

/// The identity carried in the issued JWTs and expected in `ChatGPT-Account-ID`.
#[derive(Clone, Debug)]
pub struct MockAccount {
    pub email: String,
    /// `chatgpt_plan_type`, e.g. `plus`.
    pub plan: String,
    /// `chatgpt_account_id`, sent back by clients as `ChatGPT-Account-ID`.
    pub account_id: String,
    /// `chatgpt_user_id` and `user_id`.
    pub user_id: String,
}

impl Default for MockAccount {
    fn default() -> Self {
        MockAccount {
            email: "user@example.com".to_owned(),
            plan: "plus".to_owned(),
            account_id: "11111111-2222-3333-4444-555555555555".to_owned(),
            user_id: "user-abc".to_owned(),
        }
    }
}

/// A running mock upstream. Dropping it stops the server (aborting open connections);
/// [`MockUpstream::shutdown`] does the same and waits for the accept loop to end.
pub struct MockUpstream {
    addr: SocketAddr,
    state: Arc<MockState>,
    server: Option<server::ServerHandle>,
}

impl MockUpstream {
    /// Binds `127.0.0.1:<config.port>` (0 = ephemeral) and serves in a tokio task.
    pub async fn start(config: MockConfig) -> std::io::Result<MockUpstream> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState::new(config, format!("http://{addr}")));
        let server = server::spawn(listener, Arc::clone(&state));
        Ok(MockUpstream {
            addr,
            state,
            server: Some(server),
        })
    }

    /// The bound address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, standing in for `https://auth.openai.com`.
    pub fn issuer_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/backend-api/codex`, standing in for
    /// `https://chatgpt.com/backend-api/codex`.
    pub fn backend_url(&self) -> String {
        format!("http://{}/backend-api/codex", self.addr)
    }

    /// Counters, knobs and recorded requests, usable while the server runs.
    pub fn state(&self) -> &Arc<MockState> {
        &self.state
    }

    /// Stops accepting, aborts open connections and waits for the server task to finish.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
