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

use crate::translate::DEFAULT_UNSUPPORTED_PARAMETERS;

mod keys;
mod paths;

#[cfg(test)]
use keys::KEYS;
pub(crate) use keys::commented_example;
pub use paths::Paths;

/// The config file `init` writes and the repository ships, with every key.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config.example.toml");

pub const DEFAULT_INSTRUCTIONS: &str =
    "You are a helpful assistant. Follow the user's instructions carefully and answer accurately.";

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

    /// Whether the listener address is a loopback address.
    pub fn listens_on_loopback(&self) -> bool {
        is_loopback_host(&self.server.host)
    }
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
