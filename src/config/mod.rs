//! Configuration: paths, every key with its default and environment variable, and
//! the precedence flag > environment > file > default (docs/architecture.md,
//! "Product rules").
//!
//! Every key is described once in the `KEYS` table of `keys.rs`; file parsing,
//! environment parsing, error messages and the `config.example.toml` test all read
//! that table, so a key cannot exist in one place and be missing in another.
//! `paths.rs` resolves where the config file and the data directory live.

use std::fmt;
use std::path::PathBuf;

mod accounts;
mod keys;
mod paths;

pub use accounts::{AccountStrategy, AccountsConfig, PinMatch, PinRule};
pub(crate) use keys::commented_example;
pub use paths::Paths;
pub(crate) use paths::service_file;

/// Parameters the upstream rejects, which the relay removes and discloses
/// (docs/architecture.md#removed-and-refused-parameters): the default of
/// `upstream.unsupported_parameters`.
pub const DEFAULT_UNSUPPORTED_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "safety_identifier",
    "metadata",
    "max_output_tokens",
    "max_tokens",
    "max_completion_tokens",
    "truncation",
    "top_logprobs",
    "prompt_cache_retention",
];

/// The config file `init` writes and the repository ships, with every key.
pub(crate) const EXAMPLE_CONFIG: &str = include_str!("../../config.example.toml");

/// `upstream.default_instructions`: sent when the client gives no system or developer text.
pub(crate) const DEFAULT_INSTRUCTIONS: &str =
    "You are a helpful assistant. Follow the user's instructions carefully and answer accurately.";

/// A configuration problem, phrased for the user: which key, where, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(
    /// The message, ready to print.
    pub String,
);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `auth.credential_store`: where ChatGPT credentials are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStoreKind {
    /// The OS keychain when one answers, else a 0600 file.
    Auto,
    /// The OS keychain only.
    Keychain,
    /// A 0600 file in the data directory.
    File,
}

impl CredentialStoreKind {
    /// The config spelling: `auto`, `keychain` or `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStoreKind::Auto => "auto",
            CredentialStoreKind::Keychain => "keychain",
            CredentialStoreKind::File => "file",
        }
    }
}

/// `chat.reasoning_output`: whether Chat Completions answers carry reasoning summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningOutput {
    /// Leave reasoning out, as the OpenAI API does.
    None,
    /// Stream reasoning summaries as `delta.reasoning_content`.
    ReasoningContent,
}

/// `[server]`: the listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `server.host`: the listener address.
    pub host: String,
    /// `server.port`: the listener port; 0 picks a free one.
    pub port: u16,
    /// `server.shutdown_grace_seconds`: how long open streams may finish on shutdown.
    pub shutdown_grace_seconds: u64,
}

/// `[security]`: the relay token, the per-IP limits and the request guards.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityConfig {
    /// `security.require_bearer_auth`: require the relay token on `/v1/*`.
    pub require_bearer_auth: bool,
    /// `security.bearer_token_file`: where the relay token lives.
    pub bearer_token_file: PathBuf,
    /// `security.rate_limit_per_minute`: sustained requests per minute per IP.
    pub rate_limit_per_minute: u32,
    /// `security.rate_limit_burst`: the token bucket's burst size.
    pub rate_limit_burst: u32,
    /// `security.concurrent_requests_per_ip`: requests in flight per IP.
    pub concurrent_requests_per_ip: u32,
    /// `security.failed_auth_max_attempts`: distinct bad tokens before a ban.
    pub failed_auth_max_attempts: u32,
    /// `security.failed_auth_window_seconds`: the window those attempts count in.
    pub failed_auth_window_seconds: u64,
    /// `security.failed_auth_block_seconds`: how long a ban lasts.
    pub failed_auth_block_seconds: u64,
    /// `security.allowed_hosts`: extra accepted `Host` names besides loopback ones.
    pub allowed_hosts: Vec<String>,
    /// `security.allowed_origins`: browser origins allowed by CORS.
    pub allowed_origins: Vec<String>,
    /// `security.max_request_body_bytes`: the largest accepted request body.
    pub max_request_body_bytes: u64,
    /// `security.max_connections`: open connections at once; 0 = the file-descriptor
    /// soft limit minus 128, at most 4,096.
    pub max_connections: u32,
    /// `security.max_connections_per_ip`: open connections per client IP off
    /// loopback (loopback is never capped).
    pub max_connections_per_ip: u32,
    /// `security.body_read_timeout_seconds`: longest wait for the next byte of a
    /// request body.
    pub body_read_timeout_seconds: u64,
    /// `security.body_total_timeout_seconds`: longest time a whole request body (an
    /// upload included) may take.
    pub body_total_timeout_seconds: u64,
}

/// `[upstream]`: the ChatGPT backend, the OAuth issuer and how requests reach them.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    /// `upstream.base_url`: the Codex backend.
    pub base_url: String,
    /// `upstream.issuer_base_url`: the OAuth issuer.
    pub issuer_base_url: String,
    /// `upstream.client_id`: the Codex CLI's OAuth client id.
    pub client_id: String,
    /// `upstream.client_version`: the Codex CLI version announced to the backend.
    pub client_version: String,
    /// `upstream.connect_timeout_seconds`: the connect timeout.
    pub connect_timeout_seconds: u64,
    /// `upstream.stream_idle_timeout_seconds`: the longest silence between stream events.
    pub stream_idle_timeout_seconds: u64,
    /// `upstream.retry_attempts`: retries of transient failures before the first byte.
    pub retry_attempts: u32,
    /// `upstream.unsupported_parameters`: parameters removed and disclosed.
    pub unsupported_parameters: Vec<String>,
    /// `upstream.default_instructions`: sent when the client gives no instructions.
    pub default_instructions: String,
    /// `upstream.usage_url`: the backend's usage endpoint; `None` derives it from
    /// `base_url` (docs/upstream.md, "Usage endpoint").
    pub usage_url: Option<String>,
}

impl UpstreamConfig {
    /// The built-in `[upstream]`: the real backend and issuer, as the Codex CLI
    /// reaches them (docs/upstream.md).
    fn defaults() -> UpstreamConfig {
        UpstreamConfig {
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
            usage_url: None,
        }
    }
}

/// `[usage]`: plan usage polling and the quota guard.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageConfig {
    /// `usage.poll_seconds`: how often the usage endpoint is read while the relay
    /// is in use (0 = only at start and on demand).
    pub poll_seconds: u64,
    /// `usage.warn_at_percent`: a window this full is warned about (0 = never).
    pub warn_at_percent: u64,
    /// `usage.refuse_at_percent`: a window this full refuses new requests with 429
    /// `usage_guard` (0 = off).
    pub refuse_at_percent: u64,
}

/// `[models]`: the model catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelsConfig {
    /// `models.cache_ttl_seconds`: how long the upstream catalogue is cached.
    pub cache_ttl_seconds: u64,
    /// `models.extra_models`: model ids always accepted and listed.
    pub extra_models: Vec<String>,
}

/// `[auth]`: the ChatGPT sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// `auth.credential_store`: where credentials are kept.
    pub credential_store: CredentialStoreKind,
    /// `auth.callback_port`: the local port of the browser-login callback.
    pub callback_port: u16,
    /// `auth.login_timeout_seconds`: how long `airelays login` waits.
    pub login_timeout_seconds: u64,
    /// `auth.open_browser`: open the browser for `airelays login`.
    pub open_browser: bool,
}

/// `[uploads]`: the local file store.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadsConfig {
    /// `uploads.max_upload_bytes`: the largest single upload.
    pub max_upload_bytes: u64,
    /// `uploads.max_total_upload_bytes`: the total bytes kept.
    pub max_total_upload_bytes: u64,
    /// `uploads.max_inline_text_bytes`: the largest text file inlined into a request.
    pub max_inline_text_bytes: u64,
}

/// `[logging]`: the log file and the traffic log.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingConfig {
    /// `logging.traffic_log`: write a redacted JSONL log of requests and responses.
    pub traffic_log: bool,
    /// `logging.traffic_retention_days`: daily traffic files kept (today's included).
    pub traffic_retention_days: u64,
    /// `logging.file`: `serve` logs to `<data_dir>/logs/airelays.log` instead of stderr.
    pub file: bool,
    /// `logging.max_file_bytes`: the log file's size at which it rotates.
    pub max_file_bytes: u64,
    /// `logging.max_files`: log files kept, the current one included.
    pub max_files: u32,
}

/// `[chat]`: Chat Completions options.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatConfig {
    /// `chat.reasoning_output`: whether answers carry reasoning summaries.
    pub reasoning_output: ReasoningOutput,
}

/// `[anthropic]`: the Anthropic Messages API.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnthropicConfig {
    /// `anthropic.model_map`: rules mapping `claude-*` ids to upstream models, in
    /// order, before the built-in `opus`, `sonnet` and `haiku` rules.
    pub model_map: Vec<ModelMapRule>,
}

/// `[state]`: the local store of Responses and Conversations (docs/architecture.md,
/// "The state store").
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// `state.enabled`: keep responses and conversations locally.
    pub enabled: bool,
    /// `state.max_bytes`: the most stored JSON kept; the oldest chains go first.
    pub max_bytes: u64,
    /// `state.retention_days`: chains and conversations unused this long are deleted.
    pub retention_days: u64,
}

/// One `anthropic.model_map` rule: `{match, model, effort}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMapRule {
    /// Matched case-insensitively as a substring of the requested id.
    pub pattern: String,
    /// The upstream model; `None` means the plan's default model.
    pub model: Option<String>,
    /// The reasoning effort; `None` means the model's default level.
    pub effort: Option<String>,
}

/// `[ollama]`: the Ollama API and its optional second listener.
#[derive(Debug, Clone, PartialEq)]
pub struct OllamaConfig {
    /// `ollama.listen`: a second listener for apps that hard-code Ollama's address
    /// (`127.0.0.1:11434`); `None` when off.
    pub listen: Option<String>,
    /// `ollama.require_token`: whether `/api/*` on that listener needs the relay
    /// token (loopback listeners only may turn it off; `/v1/*` always needs it).
    pub require_token: bool,
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[security]`.
    pub security: SecurityConfig,
    /// `[upstream]`.
    pub upstream: UpstreamConfig,
    /// `[models]`.
    pub models: ModelsConfig,
    /// `[auth]`.
    pub auth: AuthConfig,
    /// `[uploads]`.
    pub uploads: UploadsConfig,
    /// `[logging]`.
    pub logging: LoggingConfig,
    /// `[chat]`.
    pub chat: ChatConfig,
    /// `[anthropic]`.
    pub anthropic: AnthropicConfig,
    /// `[ollama]`.
    pub ollama: OllamaConfig,
    /// `[usage]`.
    pub usage: UsageConfig,
    /// `[state]`.
    pub state: StateConfig,
    /// `[accounts]`.
    pub accounts: AccountsConfig,
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
            upstream: UpstreamConfig::defaults(),
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
            logging: LoggingConfig {
                traffic_log: false,
                traffic_retention_days: 14,
                file: false,
                max_file_bytes: 10_485_760,
                max_files: 5,
            },
            chat: ChatConfig {
                reasoning_output: ReasoningOutput::None,
            },
            anthropic: AnthropicConfig::default(),
            ollama: OllamaConfig {
                listen: None,
                require_token: true,
            },
            usage: UsageConfig {
                poll_seconds: 300,
                warn_at_percent: 90,
                refuse_at_percent: 0,
            },
            state: StateConfig {
                enabled: true,
                max_bytes: 1 << 30,
                retention_days: 30,
            },
            accounts: AccountsConfig::default(),
        }
    }

    /// Loads the effective configuration: defaults, then the file (if it exists),
    /// then the environment. Command-line flags are applied by the caller last.
    pub(crate) fn load(
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

    /// Cross-key checks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.uploads.max_upload_bytes > self.uploads.max_total_upload_bytes {
            return Err(ConfigError(format!(
                "`uploads.max_upload_bytes` ({}) is larger than `uploads.max_total_upload_bytes` ({}) — raise the total or lower the per-file limit",
                self.uploads.max_upload_bytes, self.uploads.max_total_upload_bytes
            )));
        }
        self.accounts.validate()
    }

    /// Whether the listener address is a loopback address.
    pub fn listens_on_loopback(&self) -> bool {
        is_loopback_host(&self.server.host)
    }
}

/// Every environment variable that sets a configuration key or path
/// (`AIRELAYS_CONFIG`, `AIRELAYS_DATA_DIR` and each key's), for `service install`
/// to carry into the service.
pub(crate) fn setting_env_vars() -> impl Iterator<Item = &'static str> {
    ["AIRELAYS_CONFIG", "AIRELAYS_DATA_DIR"]
        .into_iter()
        .chain(keys::KEYS.iter().filter_map(|k| k.env))
}

/// Reads a variable of this process's environment: the `env` lookup every loader
/// takes outside tests.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// True for `localhost`, `127.0.0.0/8`, `::1` (with or without brackets).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::keys::KEYS;
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
    fn the_model_map_is_an_ordered_array_of_tables_or_an_env_list() {
        let p = paths();
        let mut c = Config::defaults(&p);
        c.apply_toml(
            "[anthropic]\nmodel_map = [{ match = \"Opus\", model = \"gpt-5.5\", effort = \"xhigh\" }, { match = \"haiku\" }]\n",
            &p.config_file,
        )
        .unwrap();
        let rule = |pattern: &str, model: Option<&str>, effort: Option<&str>| ModelMapRule {
            pattern: pattern.into(),
            model: model.map(Into::into),
            effort: effort.map(Into::into),
        };
        assert_eq!(
            c.anthropic.model_map,
            [
                rule("opus", Some("gpt-5.5"), Some("xhigh")),
                rule("haiku", None, None)
            ]
        );
        c.apply_env(&env_of(&[(
            "AIRELAYS_ANTHROPIC_MODEL_MAP",
            "sonnet=gpt-5.5-mini:low, haiku=:minimal",
        )]))
        .unwrap();
        assert_eq!(
            c.anthropic.model_map,
            [
                rule("sonnet", Some("gpt-5.5-mini"), Some("low")),
                rule("haiku", None, Some("minimal"))
            ]
        );
        let err = Config::defaults(&p)
            .apply_toml(
                "[anthropic]\nmodel_map = [{ pattern = \"opus\" }]\n",
                &p.config_file,
            )
            .unwrap_err();
        assert!(err.to_string().contains("anthropic.model_map"), "{err}");
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
