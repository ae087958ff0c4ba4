//! The status document (spec §8), shared by `airelays status --json` and
//! `GET /v1/relay/status`. Schema: `docs/status-json.md`. It never holds a secret:
//! only fingerprints, paths, states and non-secret account facts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Paths};
use crate::fsio;
use crate::token::{self, TokenSource};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusDocument {
    pub version: String,
    pub ready: bool,
    pub config: ConfigStatus,
    pub data_dir: String,
    pub server: ServerStatus,
    pub relay_token: RelayTokenStatus,
    pub upstream: UpstreamStatus,
    pub usage: Option<UsageSnapshot>,
    pub limits: LimitsStatus,
    pub uploads: UploadsStatus,
    pub next_steps: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigStatus {
    pub path: String,
    pub exists: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerStatus {
    pub running: bool,
    pub pid: Option<u32>,
    pub host: String,
    pub port: u16,
    pub base_url: String,
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelayTokenStatus {
    pub required: bool,
    pub present: bool,
    /// `file`, `env` or `none`.
    pub source: String,
    pub file: String,
    pub fingerprint: Option<String>,
}

/// Upstream sign-in state: `ready`, `missing`, `refresh_needed`, `refresh_failed`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpstreamStatus {
    pub state: String,
    pub email: Option<String>,
    pub plan: Option<String>,
    pub account_id: Option<String>,
    /// `keychain` or `file` when credentials exist; the configured preference otherwise.
    pub credential_store: Option<String>,
    pub last_refresh: Option<String>,
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
    pub fn missing() -> UpstreamStatus {
        UpstreamStatus {
            state: "missing".into(),
            ..Default::default()
        }
    }
}

/// The last snapshot of the upstream `x-codex-*` usage headers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageSnapshot {
    pub observed_at: String,
    pub plan: Option<String>,
    pub windows: Vec<UsageWindow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageWindow {
    pub window_minutes: u64,
    pub used_percent: f64,
    pub resets_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LimitsStatus {
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub concurrent_requests_per_ip: u32,
    pub failed_auth_max_attempts: u32,
    pub failed_auth_window_seconds: u64,
    pub failed_auth_block_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadsStatus {
    pub files: u64,
    pub bytes: u64,
    pub max_upload_bytes: u64,
    pub max_total_upload_bytes: u64,
}

/// What `serve` writes to `relay.json` for `status` to read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelayStateFile {
    pub pid: u32,
    pub host: String,
    pub port: u16,
    pub base_url: String,
    pub started_at: String,
}

/// The parts of the document that come from other subsystems.
pub struct StatusInputs {
    pub upstream: UpstreamStatus,
    pub uploads: (u64, u64),
    /// Overrides what `relay.json` says (used by the running relay itself).
    pub live_server: Option<RelayStateFile>,
}

pub fn base_url(host: &str, port: u16) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    format!("http://{host}:{port}/v1")
}

/// Reads the state file of a running relay; `None` when no relay holds the lock.
pub fn running_relay(paths: &Paths) -> Option<RelayStateFile> {
    if !fsio::FileLock::is_held(&paths.lock_file()) {
        return None;
    }
    let bytes = fsio::read_private(&paths.state_file()).ok()??;
    serde_json::from_slice(&bytes).ok()
}

pub fn read_usage(path: &Path) -> Option<UsageSnapshot> {
    let bytes = fsio::read_private(path).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Builds the status document from local state only (no network).
pub fn collect(
    paths: &Paths,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    inputs: StatusInputs,
) -> StatusDocument {
    let token = token::load(&config.security.bearer_token_file, env);
    let (present, source, fingerprint) = match &token {
        Ok(Some((t, src))) => (true, src.label().to_string(), Some(t.fingerprint())),
        _ => (false, "none".to_string(), None),
    };
    let server = match inputs.live_server.or_else(|| running_relay(paths)) {
        Some(s) => ServerStatus {
            running: true,
            pid: Some(s.pid),
            host: s.host,
            port: s.port,
            base_url: s.base_url,
            started_at: Some(s.started_at),
        },
        None => ServerStatus {
            running: false,
            pid: None,
            host: config.server.host.clone(),
            port: config.server.port,
            base_url: base_url(&config.server.host, config.server.port),
            started_at: None,
        },
    };
    let required = config.security.require_bearer_auth;
    let upstream = inputs.upstream;
    let ready = (present || !required) && upstream.state == "ready";

    let mut next_steps = Vec::new();
    if required && !present {
        next_steps.push("airelays init".to_string());
    }
    // `refresh_needed` heals itself on the relay's next request; only a missing or
    // permanently failed sign-in needs the user.
    match upstream.state.as_str() {
        "ready" | "refresh_needed" => {}
        _ => next_steps.push("airelays login".to_string()),
    }
    if !server.running {
        next_steps.push("airelays serve".to_string());
    }

    StatusDocument {
        version: VERSION.to_string(),
        ready,
        config: ConfigStatus {
            path: paths.config_file.display().to_string(),
            exists: paths.config_file.is_file(),
        },
        data_dir: paths.data_dir.display().to_string(),
        server,
        relay_token: RelayTokenStatus {
            required,
            present,
            source,
            file: match &token {
                Ok(Some((_, TokenSource::Env))) => String::new(),
                _ => config.security.bearer_token_file.display().to_string(),
            },
            fingerprint,
        },
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
        next_steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_brackets_ipv6() {
        assert_eq!(base_url("127.0.0.1", 8080), "http://127.0.0.1:8080/v1");
        assert_eq!(base_url("::1", 9), "http://[::1]:9/v1");
    }
}
