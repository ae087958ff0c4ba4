//! The KEYS table — every configuration key once, with its environment variable and
//! what it accepts — and the file and environment parsing that read it.

use std::path::{Path, PathBuf};

use super::paths::absolute;
use super::{Config, ConfigError, CredentialStoreKind, EXAMPLE_CONFIG, ReasoningOutput, non_empty};

/// What a key accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Bool,
    Int {
        min: u64,
        max: u64,
    },
    Text,
    Url,
    List,
    /// `anthropic.model_map`: an array of `{match, model, effort}` tables in the
    /// file; `match=model:effort,…` in the environment.
    ModelMap,
    Choice(&'static [&'static str]),
    Path,
    /// A listen address `host:port` (`[v6]:port` for IPv6), or `""` for off.
    Listen,
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
            Kind::ModelMap if from_env => {
                "a comma-separated list of match=model:effort (model and effort optional)".into()
            }
            Kind::ModelMap => {
                "an array of tables {match = \"…\", model = \"…\", effort = \"…\"} (model and effort optional)".into()
            }
            Kind::Choice(options) => format!("one of: {}", options.join(", ")),
            Kind::Path => "a file path".into(),
            Kind::Listen => {
                "an address host:port such as \"127.0.0.1:11434\", or \"\" for off".into()
            }
        }
    }
}

/// One configuration key: its dotted name, environment variable and kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySpec {
    pub(crate) key: &'static str,
    pub(crate) env: Option<&'static str>,
    pub(crate) kind: Kind,
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

/// Every configuration key, in the order of `config.example.toml` and the README's
/// configuration table.
pub(crate) const KEYS: &[KeySpec] = &[
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
    key("upstream.usage_url", "AIRELAYS_USAGE_URL", Kind::Url),
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
        "logging.traffic_retention_days",
        "AIRELAYS_TRAFFIC_RETENTION_DAYS",
        int(1, 3650),
    ),
    key("logging.file", "AIRELAYS_LOG_FILE", Kind::Bool),
    key(
        "logging.max_file_bytes",
        "AIRELAYS_LOG_MAX_FILE_BYTES",
        int(4096, BIG),
    ),
    key("logging.max_files", "AIRELAYS_LOG_MAX_FILES", int(1, 1000)),
    key(
        "chat.reasoning_output",
        "AIRELAYS_CHAT_REASONING_OUTPUT",
        Kind::Choice(&["none", "reasoning_content"]),
    ),
    key(
        "anthropic.model_map",
        "AIRELAYS_ANTHROPIC_MODEL_MAP",
        Kind::ModelMap,
    ),
    key("ollama.listen", "AIRELAYS_OLLAMA_LISTEN", Kind::Listen),
    key(
        "ollama.require_token",
        "AIRELAYS_OLLAMA_REQUIRE_TOKEN",
        Kind::Bool,
    ),
    key(
        "usage.poll_seconds",
        "AIRELAYS_USAGE_POLL_SECONDS",
        int(0, 86_400),
    ),
    key(
        "usage.warn_at_percent",
        "AIRELAYS_USAGE_WARN_AT_PERCENT",
        int(0, 100),
    ),
    key(
        "usage.refuse_at_percent",
        "AIRELAYS_USAGE_REFUSE_AT_PERCENT",
        int(0, 100),
    ),
    key("state.enabled", "AIRELAYS_STATE_ENABLED", Kind::Bool),
    key(
        "state.max_bytes",
        "AIRELAYS_STATE_MAX_BYTES",
        int(1_048_576, BIG),
    ),
    key(
        "state.retention_days",
        "AIRELAYS_STATE_RETENTION_DAYS",
        int(1, 36_500),
    ),
    key(
        "accounts.strategy",
        "AIRELAYS_ACCOUNTS_STRATEGY",
        Kind::Choice(&["ordered", "balanced"]),
    ),
    key("accounts.order", "AIRELAYS_ACCOUNTS_ORDER", Kind::List),
    key("accounts.pool", "AIRELAYS_ACCOUNTS_POOL", Kind::List),
    key("accounts.pin", "AIRELAYS_ACCOUNTS_PIN", Kind::List),
    key(
        "accounts.cooldown_seconds",
        "AIRELAYS_ACCOUNTS_COOLDOWN_SECONDS",
        int(1, 86_400),
    ),
];

/// A parsed, kind-checked value ready to be assigned to a key.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Rules(Vec<super::ModelMapRule>),
    Bool(bool),
    Int(u64),
    Text(String),
    List(Vec<String>),
}

impl Config {
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
    pub(crate) fn apply_env(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
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

    /// The `[security]` keys of [`Config::assign`].
    fn assign_security(&mut self, key: &str, value: Value) {
        use Value::*;
        match (key, value) {
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
            (other, value) => unreachable!("config key {other} assigned {value:?}"),
        }
    }

    fn assign(&mut self, key: &str, value: Value) {
        use Value::*;
        match (key, value) {
            ("server.host", Text(v)) => self.server.host = v,
            ("server.port", Int(v)) => self.server.port = v as u16,
            ("server.shutdown_grace_seconds", Int(v)) => self.server.shutdown_grace_seconds = v,
            (key, value) if key.starts_with("security.") => self.assign_security(key, value),
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
            ("upstream.usage_url", Text(v)) => self.upstream.usage_url = Some(v),
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
            ("logging.traffic_retention_days", Int(v)) => self.logging.traffic_retention_days = v,
            ("logging.file", Bool(v)) => self.logging.file = v,
            ("logging.max_file_bytes", Int(v)) => self.logging.max_file_bytes = v,
            ("logging.max_files", Int(v)) => self.logging.max_files = v as u32,
            ("chat.reasoning_output", Text(v)) => {
                self.chat.reasoning_output = if v == "reasoning_content" {
                    ReasoningOutput::ReasoningContent
                } else {
                    ReasoningOutput::None
                }
            }
            ("anthropic.model_map", Rules(v)) => self.anthropic.model_map = v,
            ("ollama.listen", Text(v)) => self.ollama.listen = non_empty(Some(v)),
            ("ollama.require_token", Bool(v)) => self.ollama.require_token = v,
            ("usage.poll_seconds", Int(v)) => self.usage.poll_seconds = v,
            ("usage.warn_at_percent", Int(v)) => self.usage.warn_at_percent = v,
            ("usage.refuse_at_percent", Int(v)) => self.usage.refuse_at_percent = v,
            ("state.enabled", Bool(v)) => self.state.enabled = v,
            ("state.max_bytes", Int(v)) => self.state.max_bytes = v,
            ("state.retention_days", Int(v)) => self.state.retention_days = v,
            ("accounts.strategy", Text(v)) => {
                self.accounts.strategy = if v == "balanced" {
                    super::AccountStrategy::Balanced
                } else {
                    super::AccountStrategy::Ordered
                }
            }
            ("accounts.order", List(v)) => self.accounts.order = v,
            ("accounts.pool", List(v)) => self.accounts.pool = v,
            ("accounts.pin", List(v)) => self.accounts.pin = v,
            ("accounts.cooldown_seconds", Int(v)) => self.accounts.cooldown_seconds = v,
            (other, value) => unreachable!("config key {other} assigned {value:?}"),
        }
    }
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

fn parse_toml_value(kind: Kind, raw: &toml::Value) -> Option<Value> {
    match (kind, raw) {
        (Kind::Bool, toml::Value::Boolean(b)) => Some(Value::Bool(*b)),
        (Kind::Int { min, max }, toml::Value::Integer(i)) => {
            let v = u64::try_from(*i).ok()?;
            (min..=max).contains(&v).then_some(Value::Int(v))
        }
        (Kind::ModelMap, toml::Value::Array(items)) => items
            .iter()
            .map(rule_of_table)
            .collect::<Option<Vec<_>>>()
            .map(Value::Rules),
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
        Kind::ModelMap => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(rule_of_text)
            .collect::<Option<Vec<_>>>()
            .map(Value::Rules),
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

/// `{match = "opus", model = "gpt-5.5", effort = "high"}`.
fn rule_of_table(item: &toml::Value) -> Option<super::ModelMapRule> {
    let table = item.as_table()?;
    if table
        .keys()
        .any(|k| !matches!(k.as_str(), "match" | "model" | "effort"))
    {
        return None;
    }
    let text = |key: &str| match table.get(key) {
        None => Some(None),
        Some(v) => v.as_str().map(trimmed),
    };
    Some(super::ModelMapRule {
        pattern: trimmed(table.get("match")?.as_str()?)?.to_ascii_lowercase(),
        model: text("model")?,
        effort: text("effort")?,
    })
}

/// `opus=gpt-5.5:high`, `haiku=:low`, `sonnet`.
fn rule_of_text(rule: &str) -> Option<super::ModelMapRule> {
    let (pattern, target) = rule.split_once('=').unwrap_or((rule, ""));
    let (model, effort) = target.split_once(':').unwrap_or((target, ""));
    Some(super::ModelMapRule {
        pattern: trimmed(pattern)?.to_ascii_lowercase(),
        model: trimmed(model),
        effort: trimmed(effort),
    })
}

/// `s` without surrounding blanks, `None` when nothing is left.
fn trimmed(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
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
        Kind::Listen if trimmed.is_empty() || is_listen_address(trimmed) => {
            Some(Value::Text(trimmed.into()))
        }
        _ => None,
    }
}

/// `host:port` with a host and a numeric port (`[v6]:port` for IPv6).
fn is_listen_address(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let host = match host.strip_prefix('[') {
        Some(v6) => match v6.strip_suffix(']') {
            Some(v6) => v6,
            None => return false,
        },
        None if host.contains(':') => return false,
        None => host,
    };
    !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
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
pub(crate) fn commented_example() -> String {
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
