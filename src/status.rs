//! The status document, shared by `airelays status --json` and
//! `GET /v1/relay/status`. Schema: `docs/status-json.md`. It never holds a secret:
//! only fingerprints, paths, states and non-secret account facts.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Paths};
use crate::fsio;
use crate::token::{self, TokenSource};

/// This build's version, as the status document reports it.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The status document (docs/status-json.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StatusDocument {
    pub(crate) version: String,
    pub(crate) ready: bool,
    pub(crate) config: ConfigStatus,
    pub(crate) data_dir: String,
    pub(crate) server: ServerStatus,
    pub(crate) relay_token: RelayTokenStatus,
    pub(crate) upstream: UpstreamStatus,
    pub(crate) usage: Option<UsageSnapshot>,
    pub(crate) limits: LimitsStatus,
    pub(crate) uploads: UploadsStatus,
    /// Whether `airelays service install` wrote its file; added in schema version 3.
    pub(crate) service: ServiceFileStatus,
    /// The state store (schema version 3).
    #[serde(default)]
    pub(crate) state: StateStatus,
    pub(crate) next_steps: Vec<String>,
    /// `accounts.strategy`; only with two or more accounts, or one that is not
    /// `default` (schema version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) account_strategy: Option<String>,
    /// Every signed-in account; only with two or more, or one that is not `default`
    /// (schema version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) accounts: Option<Vec<AccountStatus>>,
}

/// One signed-in account in the status document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct AccountStatus {
    /// Its name (`default` for the login made without `--account`).
    pub(crate) name: String,
    /// Its sign-in, as `upstream` shows the default one.
    #[serde(flatten)]
    pub(crate) upstream: UpstreamStatus,
    /// Whether it takes part in failover and balancing (`accounts.pool`).
    pub(crate) pooled: bool,
    /// Why it is out of rotation (`quota` or `transient`), or null (relay status only).
    pub(crate) benched: Option<String>,
    /// Seconds until it is back in rotation, or null.
    pub(crate) benched_for_seconds: Option<u64>,
    /// Its plan usage as last seen, or null.
    pub(crate) usage: Option<UsageSnapshot>,
    /// The last failure of a request on it (relay status only), or null.
    pub(crate) last_error: Option<String>,
    /// The models its catalogue listed at the last fetch (relay status only), or null.
    pub(crate) models: Option<Vec<String>>,
}

impl StatusDocument {
    /// Adds the accounts (when two or more are signed in, or one that is not
    /// `default`): `ready` is then true when at least one of them is usable.
    pub(crate) fn set_accounts(&mut self, strategy: &str, accounts: Vec<AccountStatus>) {
        // One `default` account (or none): the document is exactly as before.
        let only_default = accounts.iter().all(|a| a.name == "default");
        if accounts.len() < 2 && (accounts.is_empty() || only_default) {
            return;
        }
        let usable = accounts
            .iter()
            .any(|a| a.upstream.state.is_ready() && a.benched.is_none());
        self.ready = (self.relay_token.present || !self.relay_token.required) && usable;
        if usable {
            self.next_steps.retain(|s| !s.starts_with("airelays login"));
        }
        self.account_strategy = Some(strategy.to_owned());
        self.accounts = Some(accounts);
    }
}

/// The user service's file (systemd unit, LaunchAgent, task XML): only whether it
/// exists, so `status` stays fast and never asks the service manager
/// (`airelays service status` does).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServiceFileStatus {
    pub(crate) installed: bool,
    /// Where the file is (or would be); `null` without a home directory.
    pub(crate) file: Option<String>,
}

impl ServiceFileStatus {
    fn read(env: &dyn Fn(&str) -> Option<String>) -> ServiceFileStatus {
        let file = crate::config::service_file(env);
        ServiceFileStatus {
            installed: file.as_ref().is_some_and(|f| f.is_file()),
            file: file.map(|f| f.display().to_string()),
        }
    }
}

/// The local state store: on or off, usable or why not, what it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub(crate) struct StateStatus {
    pub(crate) enabled: bool,
    pub(crate) path: String,
    pub(crate) available: bool,
    /// Why the store cannot be used (names the file and the fix).
    pub(crate) error: Option<String>,
    pub(crate) responses: u64,
    pub(crate) conversations: u64,
    pub(crate) items: u64,
    pub(crate) bytes: u64,
    pub(crate) file_bytes: u64,
    pub(crate) max_bytes: u64,
    pub(crate) retention_days: u64,
}

impl StateStatus {
    /// The status of the store at `<data_dir>/state.sqlite3`, from `stats` (its
    /// counts, or why it cannot be used).
    pub(crate) fn of(
        paths: &Paths,
        config: &Config,
        stats: Result<crate::state::Stats, String>,
    ) -> StateStatus {
        let enabled = config.state.enabled;
        let (available, error, stats) = match stats {
            Ok(s) => (enabled, None, s),
            Err(e) => (false, Some(e), crate::state::Stats::default()),
        };
        StateStatus {
            enabled,
            path: paths
                .data_dir
                .join(crate::state::FILE_NAME)
                .display()
                .to_string(),
            available,
            error,
            responses: stats.responses,
            conversations: stats.conversations,
            items: stats.items,
            bytes: stats.bytes,
            file_bytes: crate::state::file_bytes(&paths.data_dir),
            max_bytes: config.state.max_bytes,
            retention_days: config.state.retention_days,
        }
    }
}

/// The config file and whether it exists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ConfigStatus {
    pub(crate) path: String,
    pub(crate) exists: bool,
}

/// Whether a relay runs, and where it listens (or would).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServerStatus {
    pub(crate) running: bool,
    pub(crate) pid: Option<u32>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) base_url: String,
    pub(crate) started_at: Option<String>,
    /// The Ollama API's second listener (`ollama.listen`); added in schema version 3.
    pub(crate) ollama: OllamaListenerStatus,
}

/// The `ollama.listen` listener: its address when on, and whether `/api/*` there
/// needs the relay token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct OllamaListenerStatus {
    /// `http://host:port` of the running relay's second listener (the configured
    /// one when no relay runs); `null` when off.
    pub(crate) url: Option<String>,
    /// `ollama.require_token`.
    pub(crate) require_token: bool,
}

/// The relay token: required, present, where from, and its fingerprint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RelayTokenStatus {
    pub(crate) required: bool,
    pub(crate) present: bool,
    /// `file`, `env` or `none`.
    pub(crate) source: String,
    pub(crate) file: String,
    pub(crate) fingerprint: Option<String>,
}

/// The upstream sign-in state, serialised as the status JSON spells it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamState {
    /// Signed in with a usable access token.
    Ready,
    /// No stored ChatGPT login.
    #[default]
    Missing,
    /// The access token has expired; the relay refreshes it on the next request.
    RefreshNeeded,
    /// The refresh token was refused; only a new login helps.
    RefreshFailed,
}

impl UpstreamState {
    /// The JSON spelling (`ready`, `missing`, `refresh_needed`, `refresh_failed`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UpstreamState::Ready => "ready",
            UpstreamState::Missing => "missing",
            UpstreamState::RefreshNeeded => "refresh_needed",
            UpstreamState::RefreshFailed => "refresh_failed",
        }
    }

    /// Whether requests can be relayed without the user signing in again.
    pub(crate) fn is_ready(self) -> bool {
        self == UpstreamState::Ready
    }

    /// Whether the user must run `airelays login`: `refresh_needed` heals itself on
    /// the relay's next request, so only a missing or permanently failed sign-in
    /// needs the user.
    pub(crate) fn needs_login(self) -> bool {
        matches!(self, UpstreamState::Missing | UpstreamState::RefreshFailed)
    }
}

impl fmt::Display for UpstreamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the JSON spelling, as callers that read the JSON do.
impl PartialEq<&str> for UpstreamState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The `ready` rule of the status document: the relay token is present (or not
/// required) and the upstream sign-in is ready.
pub(crate) fn is_ready(relay_token: &RelayTokenStatus, upstream: UpstreamState) -> bool {
    (relay_token.present || !relay_token.required) && upstream.is_ready()
}

/// The upstream sign-in: its state and the non-secret account facts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpstreamStatus {
    /// `ready`, `missing`, `refresh_needed` or `refresh_failed`.
    pub state: UpstreamState,
    /// The account's email, from the ID token.
    pub email: Option<String>,
    /// The ChatGPT plan (e.g. `plus`, `pro`).
    pub plan: Option<String>,
    /// The ChatGPT account id.
    pub account_id: Option<String>,
    /// `keychain` or `file` when credentials exist; the configured preference otherwise.
    pub credential_store: Option<String>,
    /// When the tokens were last refreshed (RFC 3339).
    pub last_refresh: Option<String>,
    /// When the access token expires (RFC 3339).
    pub access_expires_at: Option<String>,
    /// A human sentence when the state needs attention (e.g. why a refresh failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why refreshed credentials could not be saved to their store, while airelays
    /// retries in the background (relay status only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_save_error: Option<String>,
}

impl UpstreamStatus {
    /// The status when no login is stored.
    pub(crate) fn missing() -> UpstreamStatus {
        UpstreamStatus {
            state: UpstreamState::Missing,
            ..Default::default()
        }
    }
}

/// The plan's usage as last seen: from the backend's usage endpoint (polled) or
/// from the `x-codex-*` headers of an answer (docs/status-json.md, `usage`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageSnapshot {
    /// When the figures were read (RFC 3339).
    pub observed_at: String,
    /// The plan the backend names.
    pub plan: Option<String>,
    /// One entry per usage window.
    pub windows: Vec<UsageWindow>,
    /// Where the figures come from: `poll` (the usage endpoint) or `headers`
    /// (schema version 3; older snapshots read as `headers`).
    #[serde(default = "headers_source")]
    pub source: String,
    /// The plan's credits, when the backend reports them (schema version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<UsageCredits>,
    /// Why the last poll failed, when it did after this snapshot was read: the
    /// snapshot is kept, and `observed_at` says how old it is (schema version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_error: Option<String>,
}

fn headers_source() -> String {
    "headers".to_owned()
}

/// The plan's credits (`credits` of the usage endpoint, or the
/// `x-codex-credits-*` headers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageCredits {
    /// Whether the plan has credits.
    pub has_credits: bool,
    /// Whether they are unlimited.
    pub unlimited: bool,
    /// The balance, as the backend writes it.
    pub balance: Option<String>,
}

/// One usage window of the subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageWindow {
    /// The window's length.
    pub window_minutes: u64,
    /// How much of it is used.
    pub used_percent: f64,
    /// When it resets (RFC 3339).
    pub resets_at: Option<String>,
    /// The window's id, from its length, never from the slot it arrived in:
    /// `5h`, `7d`, `30d`, otherwise `<minutes>m` (schema version 3).
    #[serde(default)]
    pub id: String,
    /// For a limit of its own (`additional_rate_limits`): its `limit_name`; such a
    /// window meters only some models or features (schema version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_name: Option<String>,
    /// For a limit of its own: the `metered_feature` it meters (schema version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered_feature: Option<String>,
}

/// The per-IP limits in force.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct LimitsStatus {
    pub(crate) rate_limit_per_minute: u32,
    pub(crate) rate_limit_burst: u32,
    pub(crate) concurrent_requests_per_ip: u32,
    pub(crate) failed_auth_max_attempts: u32,
    pub(crate) failed_auth_window_seconds: u64,
    pub(crate) failed_auth_block_seconds: u64,
}

/// The file store's use and limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct UploadsStatus {
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) max_upload_bytes: u64,
    pub(crate) max_total_upload_bytes: u64,
}

/// What `serve` writes to `relay.json` for `status` to read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelayStateFile {
    /// The relay's process id.
    pub pid: u32,
    /// The address it listens on.
    pub host: String,
    /// The port it listens on.
    pub port: u16,
    /// The OpenAI-compatible base URL (`http://host:port/v1`).
    pub base_url: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The `ollama.listen` listener's URL (`http://host:port`), when it serves one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ollama_url: Option<String>,
}

/// The parts of the document that come from other subsystems.
pub(crate) struct StatusInputs {
    pub(crate) upstream: UpstreamStatus,
    pub(crate) uploads: (u64, u64),
    /// Overrides what `relay.json` says (used by the running relay itself).
    pub(crate) live_server: Option<RelayStateFile>,
    /// The state store's counts, or why it cannot be used.
    pub(crate) state: Result<crate::state::Stats, String>,
}

/// The OpenAI-compatible base URL for a listener, IPv6 hosts bracketed.
pub(crate) fn base_url(host: &str, port: u16) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    format!("http://{host}:{port}/v1")
}

/// Reads the state file of a running relay; `None` when no relay holds the lock.
pub(crate) fn running_relay(paths: &Paths) -> Option<RelayStateFile> {
    if !fsio::FileLock::is_held(&paths.lock_file()) {
        return None;
    }
    let bytes = fsio::read_private(&paths.state_file()).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Reads the last usage snapshot; `None` when absent or unreadable.
pub(crate) fn read_usage(path: &Path) -> Option<UsageSnapshot> {
    let bytes = fsio::read_private(path).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Builds the status document from local state only (no network).
pub(crate) fn collect(
    paths: &Paths,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    inputs: StatusInputs,
) -> StatusDocument {
    let relay_token = relay_token_status(config, env);
    let server = server_status(paths, config, inputs.live_server);
    let upstream = inputs.upstream;
    let ready = is_ready(&relay_token, upstream.state);
    let next_steps = next_steps(&relay_token, upstream.state, server.running);
    StatusDocument {
        version: VERSION.to_string(),
        ready,
        config: ConfigStatus {
            path: paths.config_file.display().to_string(),
            exists: paths.config_file.is_file(),
        },
        data_dir: paths.data_dir.display().to_string(),
        server,
        relay_token,
        upstream,
        usage: read_usage(&paths.usage_file()),
        limits: LimitsStatus {
            rate_limit_per_minute: config.security.rate_limit_per_minute,
            rate_limit_burst: config.security.rate_limit_burst,
            concurrent_requests_per_ip: config.security.concurrent_requests_per_ip,
            failed_auth_max_attempts: config.security.failed_auth_max_attempts,
            failed_auth_window_seconds: config.security.failed_auth_window_seconds,
            failed_auth_block_seconds: config.security.failed_auth_block_seconds,
        },
        uploads: UploadsStatus {
            files: inputs.uploads.0,
            bytes: inputs.uploads.1,
            max_upload_bytes: config.uploads.max_upload_bytes,
            max_total_upload_bytes: config.uploads.max_total_upload_bytes,
        },
        service: ServiceFileStatus::read(env),
        state: StateStatus::of(paths, config, inputs.state),
        next_steps,
        account_strategy: None,
        accounts: None,
    }
}

/// The relay token as this process's configuration and environment see it.
fn relay_token_status(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> RelayTokenStatus {
    let token = token::load(&config.security.bearer_token_file, env);
    let (present, source, fingerprint) = match &token {
        Ok(Some((t, src))) => (true, src.label().to_string(), Some(t.fingerprint())),
        _ => (false, "none".to_string(), None),
    };
    RelayTokenStatus {
        required: config.security.require_bearer_auth,
        present,
        source,
        file: match &token {
            Ok(Some((_, TokenSource::Env))) => String::new(),
            _ => config.security.bearer_token_file.display().to_string(),
        },
        fingerprint,
    }
}

/// The running relay (`live`, else `relay.json` under a held lock), or the
/// configured address when none runs.
fn server_status(paths: &Paths, config: &Config, live: Option<RelayStateFile>) -> ServerStatus {
    let require_token = config.ollama.require_token;
    match live.or_else(|| running_relay(paths)) {
        Some(s) => ServerStatus {
            running: true,
            pid: Some(s.pid),
            host: s.host,
            port: s.port,
            base_url: s.base_url,
            started_at: Some(s.started_at),
            ollama: OllamaListenerStatus {
                url: s.ollama_url,
                require_token,
            },
        },
        None => ServerStatus {
            running: false,
            pid: None,
            host: config.server.host.clone(),
            port: config.server.port,
            base_url: base_url(&config.server.host, config.server.port),
            started_at: None,
            ollama: OllamaListenerStatus {
                url: config
                    .ollama
                    .listen
                    .as_deref()
                    .map(|l| format!("http://{l}")),
                require_token,
            },
        },
    }
}

/// The commands the user still has to run, in order.
fn next_steps(
    relay_token: &RelayTokenStatus,
    upstream: UpstreamState,
    running: bool,
) -> Vec<String> {
    let mut next_steps = Vec::new();
    if relay_token.required && !relay_token.present {
        next_steps.push("airelays init".to_string());
    }
    if upstream.needs_login() {
        next_steps.push("airelays login".to_string());
    }
    if !running {
        next_steps.push("airelays serve".to_string());
    }
    next_steps
}

#[cfg(test)]
mod tests {
    #[test]
    fn accounts_appear_only_beside_or_instead_of_default() {
        let paths = crate::config::Paths {
            config_file: "/nonexistent/config.toml".into(),
            data_dir: "/nonexistent/data".into(),
        };
        let config = crate::config::Config::defaults(&paths);
        let env = |_: &str| None;
        let inputs = || super::StatusInputs {
            upstream: super::UpstreamStatus::missing(),
            uploads: (0, 0),
            live_server: None,
            state: Ok(crate::state::Stats::default()),
        };
        let account = |name: &str, ready: bool| super::AccountStatus {
            name: name.into(),
            upstream: super::UpstreamStatus {
                state: if ready {
                    super::UpstreamState::Ready
                } else {
                    super::UpstreamState::Missing
                },
                ..Default::default()
            },
            pooled: true,
            benched: None,
            benched_for_seconds: None,
            usage: None,
            last_error: None,
            models: None,
        };
        let mut doc = super::collect(&paths, &config, &env, inputs());
        let before = serde_json::to_value(&doc).unwrap();
        doc.set_accounts("ordered", vec![account("default", true)]);
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            before,
            "one default: unchanged"
        );
        doc.set_accounts("ordered", vec![account("work", true)]);
        assert_eq!(doc.accounts.as_ref().map(Vec::len), Some(1));
        assert!(
            doc.next_steps
                .iter()
                .all(|s| !s.starts_with("airelays login"))
        );
    }

    use super::*;

    #[test]
    fn base_url_brackets_ipv6() {
        assert_eq!(base_url("127.0.0.1", 8080), "http://127.0.0.1:8080/v1");
        assert_eq!(base_url("::1", 9), "http://[::1]:9/v1");
    }

    #[test]
    fn upstream_state_serialises_as_the_schema_spells_it() {
        for (state, text) in [
            (UpstreamState::Ready, "ready"),
            (UpstreamState::Missing, "missing"),
            (UpstreamState::RefreshNeeded, "refresh_needed"),
            (UpstreamState::RefreshFailed, "refresh_failed"),
        ] {
            let json = serde_json::to_string(&state).expect("serialises");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(state.to_string(), text);
            assert_eq!(state, text);
            let back: UpstreamState = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, state);
        }
        assert!(serde_json::from_str::<UpstreamState>("\"signed_in\"").is_err());
    }

    #[test]
    fn ready_needs_the_token_when_required_and_a_ready_sign_in() {
        let token = |required, present| RelayTokenStatus {
            required,
            present,
            source: "none".into(),
            file: String::new(),
            fingerprint: None,
        };
        assert!(is_ready(&token(true, true), UpstreamState::Ready));
        assert!(is_ready(&token(false, false), UpstreamState::Ready));
        assert!(!is_ready(&token(true, false), UpstreamState::Ready));
        assert!(!is_ready(&token(true, true), UpstreamState::RefreshNeeded));
        assert_eq!(
            next_steps(&token(true, false), UpstreamState::Missing, false),
            ["airelays init", "airelays login", "airelays serve"]
        );
        assert!(next_steps(&token(true, true), UpstreamState::RefreshNeeded, true).is_empty());
        assert_eq!(
            next_steps(&token(false, false), UpstreamState::RefreshFailed, true),
            ["airelays login"]
        );
    }
}
