//! Configuration: paths, every key with its default and environment variable, and
//! the precedence flag > environment > file > default (spec §2).
//!
//! Every key is described once in [`KEYS`]; file parsing, environment parsing,
//! error messages and the `config.example.toml` test all read that table, so a key
//! cannot exist in one place and be missing in another.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::translate::DEFAULT_UNSUPPORTED_PARAMETERS;

/// The config file `init` writes and the repository ships, with every key.
pub const EXAMPLE_CONFIG: &str = include_str!("../config.example.toml");

pub const DEFAULT_INSTRUCTIONS: &str =
    "You are a helpful assistant. Follow the user's instructions carefully and answer accurately.";

/// Where configuration and state live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves paths: flag > environment > platform default (`directories`).
    pub fn resolve(
        config_flag: Option<&Path>,
        data_dir_flag: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Paths, ConfigError> {
        let project = directories::ProjectDirs::from("", "", "airelays");
        let config_file = match config_flag {
            Some(p) => p.to_path_buf(),
            None => match non_empty(env("AIRELAYS_CONFIG")) {
                Some(p) => PathBuf::from(p),
                None => project
                    .as_ref()
                    .map(|p| p.config_dir().join("config.toml"))
                    .ok_or_else(no_home)?,
            },
        };
        let data_dir = match data_dir_flag {
            Some(p) => p.to_path_buf(),
            None => match non_empty(env("AIRELAYS_DATA_DIR")) {
                Some(p) => PathBuf::from(p),
                None => project
                    .as_ref()
                    .map(|p| p.data_dir().to_path_buf())
                    .ok_or_else(no_home)?,
            },
        };
        Ok(Paths {
            config_file: absolute(config_file),
            data_dir: absolute(data_dir),
        })
    }

    pub fn default_token_file(&self) -> PathBuf {
        self.data_dir.join("relay-token")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join("relay.lock")
    }
    pub fn state_file(&self) -> PathBuf {
        self.data_dir.join("relay.json")
    }
    pub fn usage_file(&self) -> PathBuf {
        self.data_dir.join("usage.json")
    }
    pub fn auth_file(&self) -> PathBuf {
        self.data_dir.join("auth.json")
    }
    pub fn credentials_index_file(&self) -> PathBuf {
        self.data_dir.join("credentials.json")
    }
    pub fn refresh_lock_file(&self) -> PathBuf {
        self.data_dir.join("refresh.lock")
    }
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

fn no_home() -> ConfigError {
    ConfigError(
        "cannot determine the home directory; set --config and --data-dir (or AIRELAYS_CONFIG and AIRELAYS_DATA_DIR)"
            .into(),
    )
}

/// A configuration problem, phrased for the user: which key, where, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStoreKind {
    Auto,
    Keychain,
    File,
}

impl CredentialStoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStoreKind::Auto => "auto",
            CredentialStoreKind::Keychain => "keychain",
            CredentialStoreKind::File => "file",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningOutput {
    None,
    ReasoningContent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub shutdown_grace_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityConfig {
    pub require_bearer_auth: bool,
    pub bearer_token_file: PathBuf,
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub concurrent_requests_per_ip: u32,
    pub failed_auth_max_attempts: u32,
    pub failed_auth_window_seconds: u64,
    pub failed_auth_block_seconds: u64,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_request_body_bytes: u64,
    /// Open connections at once; 0 = the file-descriptor soft limit minus 128, at most 4,096.
    pub max_connections: u32,
    /// Open connections per client IP off loopback (loopback is never capped).
    pub max_connections_per_ip: u32,
    /// Longest wait for the next byte of a request body.
    pub body_read_timeout_seconds: u64,
    /// Longest time a whole request body (an upload included) may take.
    pub body_total_timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    pub base_url: String,
    pub issuer_base_url: String,
    pub client_id: String,
    pub client_version: String,
    pub connect_timeout_seconds: u64,
    pub stream_idle_timeout_seconds: u64,
    pub retry_attempts: u32,
    pub unsupported_parameters: Vec<String>,
    pub default_instructions: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelsConfig {
    pub cache_ttl_seconds: u64,
    pub extra_models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    pub credential_store: CredentialStoreKind,
    pub callback_port: u16,
    pub login_timeout_seconds: u64,
    pub open_browser: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UploadsConfig {
    pub max_upload_bytes: u64,
    pub max_total_upload_bytes: u64,
    pub max_inline_text_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggingConfig {
    pub traffic_log: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatConfig {
    pub reasoning_output: ReasoningOutput,
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub security: SecurityConfig,
    pub upstream: UpstreamConfig,
    pub models: ModelsConfig,
    pub auth: AuthConfig,
    pub uploads: UploadsConfig,
    pub logging: LoggingConfig,
    pub chat: ChatConfig,
}

/// What a key accepts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int { min: u64, max: u64 },
    Text,
    Url,
    List,
    Choice(&'static [&'static str]),
    Path,
}

impl Kind {
    fn allowed(&self, from_env: bool) -> String {
        match self {
            Kind::Bool if from_env => "one of 1, true, yes, on, 0, false, no, off".into(),
            Kind::Bool => "true or false".into(),
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Text => "a non-empty string".into(),
            Kind::Url => "an http:// or https:// URL".into(),
            Kind::List if from_env => "a comma-separated list".into(),
            Kind::List => "an array of strings".into(),
            Kind::Choice(options) => format!("one of: {}", options.join(", ")),
            Kind::Path => "a file path".into(),
        }
    }
}

/// One configuration key: its dotted name, environment variable and kind.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub key: &'static str,
    pub env: Option<&'static str>,
    pub kind: Kind,
}

const fn key(key: &'static str, env: &'static str, kind: Kind) -> KeySpec {
    KeySpec {
        key,
        env: Some(env),
        kind,
    }
}

const fn int(min: u64, max: u64) -> Kind {
    Kind::Int { min, max }
}

const U32: u64 = u32::MAX as u64;
const BIG: u64 = 1 << 50;

/// Every configuration key (spec §2), in documentation order.
pub const KEYS: &[KeySpec] = &[
    key("server.host", "AIRELAYS_HOST", Kind::Text),
    key("server.port", "AIRELAYS_PORT", int(0, 65535)),
    key(
        "server.shutdown_grace_seconds",
        "AIRELAYS_SHUTDOWN_GRACE_SECONDS",
        int(0, 86400),
    ),
    key(
        "security.require_bearer_auth",
        "AIRELAYS_REQUIRE_BEARER_AUTH",
        Kind::Bool,
    ),
    key(
        "security.bearer_token_file",
        "AIRELAYS_BEARER_TOKEN_FILE",
        Kind::Path,
    ),
    key(
        "security.rate_limit_per_minute",
        "AIRELAYS_RATE_LIMIT_PER_MINUTE",
        int(1, 1_000_000),
    ),
    key(
        "security.rate_limit_burst",
        "AIRELAYS_RATE_LIMIT_BURST",
        int(1, 1_000_000),
    ),
    key(
        "security.concurrent_requests_per_ip",
        "AIRELAYS_CONCURRENT_REQUESTS_PER_IP",
        int(1, 100_000),
    ),
    key(
        "security.failed_auth_max_attempts",
        "AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS",
        int(1, 1_000_000),
    ),
    key(
        "security.failed_auth_window_seconds",
        "AIRELAYS_FAILED_AUTH_WINDOW_SECONDS",
        int(1, 604_800),
    ),
    key(
        "security.failed_auth_block_seconds",
        "AIRELAYS_FAILED_AUTH_BLOCK_SECONDS",
        int(1, 604_800),
    ),
    key(
        "security.allowed_hosts",
        "AIRELAYS_ALLOWED_HOSTS",
        Kind::List,
    ),
    key(
        "security.allowed_origins",
        "AIRELAYS_ALLOWED_ORIGINS",
        Kind::List,
    ),
    key(
        "security.max_request_body_bytes",
        "AIRELAYS_MAX_REQUEST_BODY_BYTES",
        int(1024, BIG),
    ),
    key(
        "security.max_connections",
        "AIRELAYS_MAX_CONNECTIONS",
        int(0, 1_000_000),
    ),
    key(
        "security.max_connections_per_ip",
        "AIRELAYS_MAX_CONNECTIONS_PER_IP",
        int(1, 1_000_000),
    ),
    key(
        "security.body_read_timeout_seconds",
        "AIRELAYS_BODY_READ_TIMEOUT_SECONDS",
        int(1, 86400),
    ),
    key(
        "security.body_total_timeout_seconds",
        "AIRELAYS_BODY_TOTAL_TIMEOUT_SECONDS",
        int(1, 604_800),
    ),
    key("upstream.base_url", "AIRELAYS_UPSTREAM_BASE_URL", Kind::Url),
    key(
        "upstream.issuer_base_url",
        "AIRELAYS_ISSUER_BASE_URL",
        Kind::Url,
    ),
    key("upstream.client_id", "AIRELAYS_CLIENT_ID", Kind::Text),
    key(
        "upstream.client_version",
        "AIRELAYS_CLIENT_VERSION",
        Kind::Text,
    ),
    key(
        "upstream.connect_timeout_seconds",
        "AIRELAYS_CONNECT_TIMEOUT_SECONDS",
        int(1, 3600),
    ),
    key(
        "upstream.stream_idle_timeout_seconds",
        "AIRELAYS_STREAM_IDLE_TIMEOUT_SECONDS",
        int(1, 86400),
    ),
    key(
        "upstream.retry_attempts",
        "AIRELAYS_RETRY_ATTEMPTS",
        int(0, 10),
    ),
    KeySpec {
        key: "upstream.unsupported_parameters",
        env: None,
        kind: Kind::List,
    },
    KeySpec {
        key: "upstream.default_instructions",
        env: None,
        kind: Kind::Text,
    },
    key(
        "models.cache_ttl_seconds",
        "AIRELAYS_MODELS_CACHE_TTL_SECONDS",
        int(0, 86400),
    ),
    key("models.extra_models", "AIRELAYS_EXTRA_MODELS", Kind::List),
    key(
        "auth.credential_store",
        "AIRELAYS_CREDENTIAL_STORE",
        Kind::Choice(&["auto", "keychain", "file"]),
    ),
    key(
        "auth.callback_port",
        "AIRELAYS_CALLBACK_PORT",
        int(0, 65535),
    ),
    key(
        "auth.login_timeout_seconds",
        "AIRELAYS_LOGIN_TIMEOUT_SECONDS",
        int(1, 86400),
    ),
    key("auth.open_browser", "AIRELAYS_OPEN_BROWSER", Kind::Bool),
    key(
        "uploads.max_upload_bytes",
        "AIRELAYS_MAX_UPLOAD_BYTES",
        int(1, BIG),
    ),
    key(
        "uploads.max_total_upload_bytes",
        "AIRELAYS_MAX_TOTAL_UPLOAD_BYTES",
        int(1, BIG),
    ),
    key(
        "uploads.max_inline_text_bytes",
        "AIRELAYS_MAX_INLINE_TEXT_BYTES",
        int(1, U32),
    ),
    key("logging.traffic_log", "AIRELAYS_TRAFFIC_LOG", Kind::Bool),
    key(
        "chat.reasoning_output",
        "AIRELAYS_CHAT_REASONING_OUTPUT",
        Kind::Choice(&["none", "reasoning_content"]),
    ),
];

/// A parsed, kind-checked value ready to be assigned to a key.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Int(u64),
    Text(String),
    List(Vec<String>),
}

impl Config {
    /// The built-in defaults for a data directory.
    pub fn defaults(paths: &Paths) -> Config {
        Config {
            server: ServerConfig {
                host: "127.0.0.1".into(),
                port: 8080,
                shutdown_grace_seconds: 30,
            },
            security: SecurityConfig {
                require_bearer_auth: true,
                bearer_token_file: paths.default_token_file(),
                rate_limit_per_minute: 120,
                rate_limit_burst: 40,
                concurrent_requests_per_ip: 50,
                failed_auth_max_attempts: 8,
                failed_auth_window_seconds: 300,
                failed_auth_block_seconds: 900,
                allowed_hosts: vec![],
                allowed_origins: vec![],
                max_request_body_bytes: 67_108_864,
                max_connections: 0,
                max_connections_per_ip: 256,
                body_read_timeout_seconds: 30,
                body_total_timeout_seconds: 300,
            },
            upstream: UpstreamConfig {
                base_url: "https://chatgpt.com/backend-api/codex".into(),
                issuer_base_url: "https://auth.openai.com".into(),
                client_id: "app_EMoamEEZ73f0CkXaXp7hrann".into(),
                client_version: "0.169.0".into(),
                connect_timeout_seconds: 30,
                stream_idle_timeout_seconds: 300,
                retry_attempts: 2,
                unsupported_parameters: DEFAULT_UNSUPPORTED_PARAMETERS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                default_instructions: DEFAULT_INSTRUCTIONS.into(),
            },
            models: ModelsConfig {
                cache_ttl_seconds: 300,
                extra_models: vec![],
            },
            auth: AuthConfig {
                credential_store: CredentialStoreKind::Auto,
                callback_port: 1455,
                login_timeout_seconds: 900,
                open_browser: true,
            },
            uploads: UploadsConfig {
                max_upload_bytes: 33_554_432,
                max_total_upload_bytes: 268_435_456,
                max_inline_text_bytes: 1_000_000,
            },
            logging: LoggingConfig { traffic_log: false },
            chat: ChatConfig {
                reasoning_output: ReasoningOutput::None,
            },
        }
    }

    /// Loads the effective configuration: defaults, then the file (if it exists),
    /// then the environment. Command-line flags are applied by the caller last.
    pub fn load(
        paths: &Paths,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::defaults(paths);
        match std::fs::read_to_string(&paths.config_file) {
            Ok(text) => config.apply_toml(&text, &paths.config_file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError(format!(
                    "cannot read the config file {}: {e}",
                    paths.config_file.display()
                )));
            }
        }
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the keys of a TOML document; unknown keys and bad values are errors
    /// naming the key and the file.
    pub fn apply_toml(&mut self, text: &str, file: &Path) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            ConfigError(format!(
                "the config file {} is not valid TOML: {}",
                file.display(),
                e.to_string().trim_end()
            ))
        })?;
        for (section, value) in table {
            let section_keys: Vec<&KeySpec> = KEYS
                .iter()
                .filter(|k| k.key.split('.').next() == Some(section.as_str()))
                .collect();
            if section_keys.is_empty() {
                return Err(ConfigError(format!(
                    "unknown section `[{section}]` in {} — allowed sections: {}",
                    file.display(),
                    sections().join(", ")
                )));
            }
            let toml::Value::Table(entries) = value else {
                return Err(ConfigError(format!(
                    "`{section}` in {} must be a table (`[{section}]`)",
                    file.display()
                )));
            };
            for (name, raw) in entries {
                let full = format!("{section}.{name}");
                let Some(spec) = section_keys.iter().find(|k| k.key == full) else {
                    let allowed: Vec<&str> = section_keys
                        .iter()
                        .map(|k| k.key.split_once('.').map_or(k.key, |(_, n)| n))
                        .collect();
                    return Err(ConfigError(format!(
                        "unknown key `{full}` in {} — allowed keys in [{section}]: {}",
                        file.display(),
                        allowed.join(", ")
                    )));
                };
                let parsed = parse_toml_value(spec.kind, &raw).ok_or_else(|| {
                    ConfigError(format!(
                        "invalid value for `{full}` in {}: {} — expected {}",
                        file.display(),
                        display_toml(&raw),
                        spec.kind.allowed(false)
                    ))
                })?;
                self.assign(spec.key, parsed);
            }
        }
        Ok(())
    }

    /// Applies environment variables (empty values count as unset).
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for spec in KEYS {
            let Some(var) = spec.env else { continue };
            let Some(raw) = non_empty(env(var)) else {
                continue;
            };
            let parsed = parse_env_value(spec.kind, &raw).ok_or_else(|| {
                ConfigError(format!(
                    "invalid value {raw:?} for {var} ({}) — expected {}",
                    spec.key,
                    spec.kind.allowed(true)
                ))
            })?;
            self.assign(spec.key, parsed);
        }
        Ok(())
    }

    /// Cross-key checks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.uploads.max_upload_bytes > self.uploads.max_total_upload_bytes {
            return Err(ConfigError(format!(
                "`uploads.max_upload_bytes` ({}) is larger than `uploads.max_total_upload_bytes` ({}) — raise the total or lower the per-file limit",
                self.uploads.max_upload_bytes, self.uploads.max_total_upload_bytes
            )));
        }
        Ok(())
    }

    fn assign(&mut self, key: &str, value: Value) {
        use Value::*;
        match (key, value) {
            ("server.host", Text(v)) => self.server.host = v,
            ("server.port", Int(v)) => self.server.port = v as u16,
            ("server.shutdown_grace_seconds", Int(v)) => self.server.shutdown_grace_seconds = v,
            ("security.require_bearer_auth", Bool(v)) => self.security.require_bearer_auth = v,
            ("security.bearer_token_file", Text(v)) => {
                self.security.bearer_token_file = absolute(PathBuf::from(v))
            }
            ("security.rate_limit_per_minute", Int(v)) => {
                self.security.rate_limit_per_minute = v as u32
            }
            ("security.rate_limit_burst", Int(v)) => self.security.rate_limit_burst = v as u32,
            ("security.concurrent_requests_per_ip", Int(v)) => {
                self.security.concurrent_requests_per_ip = v as u32
            }
            ("security.failed_auth_max_attempts", Int(v)) => {
                self.security.failed_auth_max_attempts = v as u32
            }
            ("security.failed_auth_window_seconds", Int(v)) => {
                self.security.failed_auth_window_seconds = v
            }
            ("security.failed_auth_block_seconds", Int(v)) => {
                self.security.failed_auth_block_seconds = v
            }
            ("security.allowed_hosts", List(v)) => self.security.allowed_hosts = v,
            ("security.allowed_origins", List(v)) => self.security.allowed_origins = v,
            ("security.max_request_body_bytes", Int(v)) => self.security.max_request_body_bytes = v,
            ("security.max_connections", Int(v)) => self.security.max_connections = v as u32,
            ("security.max_connections_per_ip", Int(v)) => {
                self.security.max_connections_per_ip = v as u32
            }
            ("security.body_read_timeout_seconds", Int(v)) => {
                self.security.body_read_timeout_seconds = v
            }
            ("security.body_total_timeout_seconds", Int(v)) => {
                self.security.body_total_timeout_seconds = v
            }
            ("upstream.base_url", Text(v)) => self.upstream.base_url = v,
            ("upstream.issuer_base_url", Text(v)) => self.upstream.issuer_base_url = v,
            ("upstream.client_id", Text(v)) => self.upstream.client_id = v,
            ("upstream.client_version", Text(v)) => self.upstream.client_version = v,
            ("upstream.connect_timeout_seconds", Int(v)) => {
                self.upstream.connect_timeout_seconds = v
            }
            ("upstream.stream_idle_timeout_seconds", Int(v)) => {
                self.upstream.stream_idle_timeout_seconds = v
            }
            ("upstream.retry_attempts", Int(v)) => self.upstream.retry_attempts = v as u32,
            ("upstream.unsupported_parameters", List(v)) => {
                self.upstream.unsupported_parameters = v
            }
            ("upstream.default_instructions", Text(v)) => self.upstream.default_instructions = v,
            ("models.cache_ttl_seconds", Int(v)) => self.models.cache_ttl_seconds = v,
            ("models.extra_models", List(v)) => self.models.extra_models = v,
            ("auth.credential_store", Text(v)) => {
                self.auth.credential_store = match v.as_str() {
                    "keychain" => CredentialStoreKind::Keychain,
                    "file" => CredentialStoreKind::File,
                    _ => CredentialStoreKind::Auto,
                }
            }
            ("auth.callback_port", Int(v)) => self.auth.callback_port = v as u16,
            ("auth.login_timeout_seconds", Int(v)) => self.auth.login_timeout_seconds = v,
            ("auth.open_browser", Bool(v)) => self.auth.open_browser = v,
            ("uploads.max_upload_bytes", Int(v)) => self.uploads.max_upload_bytes = v,
            ("uploads.max_total_upload_bytes", Int(v)) => self.uploads.max_total_upload_bytes = v,
            ("uploads.max_inline_text_bytes", Int(v)) => self.uploads.max_inline_text_bytes = v,
            ("logging.traffic_log", Bool(v)) => self.logging.traffic_log = v,
            ("chat.reasoning_output", Text(v)) => {
                self.chat.reasoning_output = if v == "reasoning_content" {
                    ReasoningOutput::ReasoningContent
                } else {
                    ReasoningOutput::None
                }
            }
            (other, value) => unreachable!("config key {other} assigned {value:?}"),
        }
    }

    /// Whether the listener address is a loopback address.
    pub fn listens_on_loopback(&self) -> bool {
        is_loopback_host(&self.server.host)
    }
}

/// True for `localhost`, `127.0.0.0/8`, `::1` (with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KEYS {
        let s = k.key.split('.').next().unwrap_or(k.key);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn parse_toml_value(kind: Kind, raw: &toml::Value) -> Option<Value> {
    match (kind, raw) {
        (Kind::Bool, toml::Value::Boolean(b)) => Some(Value::Bool(*b)),
        (Kind::Int { min, max }, toml::Value::Integer(i)) => {
            let v = u64::try_from(*i).ok()?;
            (min..=max).contains(&v).then_some(Value::Int(v))
        }
        (Kind::List, toml::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(|s| s.trim().to_string()))
            .collect::<Option<Vec<_>>>()
            .map(|v| Value::List(v.into_iter().filter(|s| !s.is_empty()).collect())),
        (_, toml::Value::String(s)) => parse_text(kind, s),
        _ => None,
    }
}

fn parse_env_value(kind: Kind, raw: &str) -> Option<Value> {
    let raw = raw.trim();
    match kind {
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(Value::Bool(true)),
            "0" | "false" | "no" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
        Kind::Int { min, max } => {
            let v: u64 = raw.parse().ok()?;
            (min..=max).contains(&v).then_some(Value::Int(v))
        }
        Kind::List => Some(Value::List(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        )),
        _ => parse_text(kind, raw),
    }
}

fn parse_text(kind: Kind, s: &str) -> Option<Value> {
    let trimmed = s.trim();
    match kind {
        Kind::Text | Kind::Path if !trimmed.is_empty() => Some(Value::Text(s.to_string())),
        Kind::Url => {
            let url = url::Url::parse(trimmed).ok()?;
            let ok = matches!(url.scheme(), "http" | "https") && url.host().is_some();
            ok.then(|| Value::Text(trimmed.trim_end_matches('/').to_string()))
        }
        Kind::Choice(options) if options.contains(&trimmed) => Some(Value::Text(trimmed.into())),
        _ => None,
    }
}

fn display_toml(v: &toml::Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(80)])
    } else {
        s
    }
}

/// The example config with every `key = value` line commented out, as written by
/// `airelays init`: it documents every key without pinning today's defaults.
pub fn commented_example() -> String {
    let mut out = String::with_capacity(EXAMPLE_CONFIG.len() + 256);
    let mut in_multiline = false;
    for line in EXAMPLE_CONFIG.lines() {
        let trimmed = line.trim_start();
        let is_assignment =
            !trimmed.starts_with('#') && !trimmed.starts_with('[') && !trimmed.is_empty();
        if is_assignment || in_multiline {
            out.push_str("# ");
            if trimmed.ends_with('[') {
                in_multiline = true;
            } else if in_multiline && trimmed.starts_with(']') {
                in_multiline = false;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn paths() -> Paths {
        Paths {
            config_file: PathBuf::from("/tmp/airelays-test/config.toml"),
            data_dir: PathBuf::from("/tmp/airelays-test/data"),
        }
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn example_config_parses_to_the_defaults_and_lists_every_key() {
        let p = paths();
        let mut parsed = Config::defaults(&p);
        // Start from values that differ from every default, so a key missing from
        // the example would leave a difference behind.
        parsed.server.port = 1;
        parsed.security.rate_limit_burst = 1;
        parsed.upstream.unsupported_parameters.clear();
        parsed.upstream.default_instructions.clear();
        parsed.apply_toml(EXAMPLE_CONFIG, &p.config_file).unwrap();
        assert_eq!(parsed, Config::defaults(&p));

        let table: toml::Table = toml::from_str(EXAMPLE_CONFIG).unwrap();
        for spec in KEYS {
            let (section, name) = spec.key.split_once('.').unwrap();
            let present = table
                .get(section)
                .and_then(|s| s.as_table())
                .is_some_and(|s| s.contains_key(name));
            let documented = EXAMPLE_CONFIG.contains(&format!("# {name} = "));
            assert!(
                present || documented,
                "config.example.toml does not mention {}",
                spec.key
            );
            if let Some(var) = spec.env {
                assert!(
                    EXAMPLE_CONFIG.contains(var),
                    "config.example.toml does not name {var}"
                );
            }
        }
    }

    #[test]
    fn commented_example_parses_to_defaults() {
        let p = paths();
        let mut c = Config::defaults(&p);
        c.apply_toml(&commented_example(), &p.config_file).unwrap();
        assert_eq!(c, Config::defaults(&p));
        assert!(commented_example().contains("# port = 8080"));
    }

    #[test]
    fn precedence_env_over_file_over_default() {
        let p = paths();
        let mut c = Config::defaults(&p);
        c.apply_toml(
            "[server]\nport = 9000\nhost = \"127.0.0.2\"\n",
            &p.config_file,
        )
        .unwrap();
        c.apply_env(&env_of(&[("AIRELAYS_PORT", "9100"), ("AIRELAYS_HOST", "")]))
            .unwrap();
        assert_eq!(c.server.port, 9100);
        assert_eq!(c.server.host, "127.0.0.2", "empty env counts as unset");
    }

    #[test]
    fn unknown_key_names_key_file_and_allowed_keys() {
        let p = paths();
        let err = Config::defaults(&p)
            .apply_toml("[server]\nprot = 1\n", &p.config_file)
            .unwrap_err();
        assert!(err.0.contains("`server.prot`"), "{err}");
        assert!(err.0.contains("config.toml"), "{err}");
        assert!(err.0.contains("port"), "{err}");
        let err = Config::defaults(&p)
            .apply_toml("[sever]\nport = 1\n", &p.config_file)
            .unwrap_err();
        assert!(
            err.0.contains("[sever]") && err.0.contains("server"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_key_value_and_allowed() {
        let p = paths();
        let err = Config::defaults(&p)
            .apply_toml("[server]\nport = 70000\n", &p.config_file)
            .unwrap_err();
        assert!(
            err.0.contains("`server.port`") && err.0.contains("70000"),
            "{err}"
        );
        assert!(err.0.contains("0 to 65535"), "{err}");
        let err = Config::defaults(&p)
            .apply_env(&env_of(&[("AIRELAYS_REQUIRE_BEARER_AUTH", "maybe")]))
            .unwrap_err();
        assert!(err.0.contains("AIRELAYS_REQUIRE_BEARER_AUTH"), "{err}");
        assert!(err.0.contains("security.require_bearer_auth"), "{err}");
        assert!(err.0.contains("\"maybe\""), "{err}");
        let err = Config::defaults(&p)
            .apply_env(&env_of(&[("AIRELAYS_CREDENTIAL_STORE", "vault")]))
            .unwrap_err();
        assert!(err.0.contains("auto, keychain, file"), "{err}");
        let err = Config::defaults(&p)
            .apply_env(&env_of(&[("AIRELAYS_UPSTREAM_BASE_URL", "ftp://x")]))
            .unwrap_err();
        assert!(err.0.contains("URL"), "{err}");
    }

    #[test]
    fn booleans_and_lists_from_env() {
        let p = paths();
        for (raw, want) in [
            ("1", true),
            ("YES", true),
            ("on", true),
            ("off", false),
            ("0", false),
        ] {
            let mut c = Config::defaults(&p);
            c.apply_env(&env_of(&[("AIRELAYS_TRAFFIC_LOG", raw)]))
                .unwrap();
            assert_eq!(c.logging.traffic_log, want, "{raw}");
        }
        let mut c = Config::defaults(&p);
        c.apply_env(&env_of(&[("AIRELAYS_EXTRA_MODELS", "a, b,,c ")]))
            .unwrap();
        assert_eq!(c.models.extra_models, vec!["a", "b", "c"]);
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let p = paths();
        let err = Config::defaults(&p)
            .apply_toml("[server\nport=1", &p.config_file)
            .unwrap_err();
        assert!(
            err.0.contains("not valid TOML") && err.0.contains("config.toml"),
            "{err}"
        );
    }

    #[test]
    fn upload_limits_are_consistent() {
        let p = paths();
        let mut c = Config::defaults(&p);
        c.uploads.max_upload_bytes = c.uploads.max_total_upload_bytes + 1;
        assert!(
            c.validate()
                .unwrap_err()
                .0
                .contains("uploads.max_upload_bytes")
        );
    }

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.2", "example.com", "::"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
