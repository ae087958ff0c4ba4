//! The one outbound HTTP client: pooled, rustls with the ring provider, the configured
//! connect timeout, the system proxy settings (reqwest's default), and Codex-like
//! identification (`originator` and `User-Agent`, docs/upstream.md#request-headers) so the issuer
//! and the backend see the same client the Codex CLI is.
//!
//! Sign-in uses it for the issuer; the relay's upstream client reuses it.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::SetOnce;

use crate::config::UpstreamConfig;

/// The proxy variables this client (reqwest's system proxy) and most clients
/// honour, upper and lower case.
pub(crate) const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The `originator` header value of the Codex CLI.
pub const ORIGINATOR: &str = "codex_cli_rs";

/// The HTTPS client could not be set up (the TLS backend failed to initialise).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTPS client: {0}")]
pub struct ClientError(String);

/// `codex_cli_rs/<client_version> (<os>; <arch>) airelays/<version>`.
pub fn user_agent(config: &UpstreamConfig) -> String {
    format!(
        "{ORIGINATOR}/{} ({}; {}) airelays/{}",
        config.client_version,
        std::env::consts::OS,
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    )
}

/// Installs the ring crypto provider for rustls, once per process.
pub(crate) fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err means another provider is already the process default, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A connection thread's own upstream client (`server::workers`), whose pooled
/// connections that thread's runtime drives. It is built the first time the
/// thread relays a request, on the thread's blocking pool (building reads the
/// system's root certificates), so neither start-up nor a request waits for it;
/// until it is there the shared client serves.
struct ThreadClient {
    config: UpstreamConfig,
    built: Arc<SetOnce<reqwest::Client>>,
    started: Cell<bool>,
}

thread_local! {
    static THREAD_CLIENT: RefCell<Option<ThreadClient>> = const { RefCell::new(None) };
}

/// Gives this thread an upstream client of its own, built from `config` when
/// first needed ([`thread_client`]).
pub(crate) fn give_thread_a_client(config: UpstreamConfig) {
    THREAD_CLIENT.with(|c| {
        *c.borrow_mut() = Some(ThreadClient {
            config,
            built: Arc::new(SetOnce::new()),
            started: Cell::new(false),
        });
    });
}

/// This thread's own upstream client when it has one and it is built. The
/// first call on a connection thread starts the build (in a runtime only).
pub(crate) fn thread_client() -> Option<reqwest::Client> {
    THREAD_CLIENT.with(|c| {
        let c = c.borrow();
        let own = c.as_ref()?;
        if let Some(client) = own.built.get() {
            return Some(client.clone());
        }
        if !own.started.get() && tokio::runtime::Handle::try_current().is_ok() {
            own.started.set(true);
            let (config, built) = (own.config.clone(), Arc::clone(&own.built));
            tokio::task::spawn_blocking(move || match client(&config) {
                Ok(client) => {
                    let _ = built.set(client);
                }
                Err(e) => {
                    tracing::warn!("a connection thread keeps the shared upstream client: {e}")
                }
            });
        }
        None
    })
}

/// Waits until this thread's own client is built (false: it has none).
#[cfg(test)]
pub(crate) async fn thread_client_built() -> bool {
    let Some(built) = THREAD_CLIENT.with(|c| c.borrow().as_ref().map(|o| Arc::clone(&o.built)))
    else {
        return false;
    };
    built.wait().await;
    true
}

/// Builds the shared client. Clone it freely: clones share one connection pool.
pub fn client(config: &UpstreamConfig) -> Result<reqwest::Client, ClientError> {
    install_crypto_provider();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "originator",
        reqwest::header::HeaderValue::from_static(ORIGINATOR),
    );
    reqwest::Client::builder()
        .user_agent(user_agent(config))
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(config.connect_timeout_seconds))
        .build()
        .map_err(|e| ClientError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Paths};

    #[test]
    fn user_agent_names_codex_and_airelays() {
        let paths = Paths {
            config_file: "/tmp/x/config.toml".into(),
            data_dir: "/tmp/x/data".into(),
        };
        let config = Config::defaults(&paths);
        let ua = user_agent(&config.upstream);
        assert!(ua.starts_with("codex_cli_rs/0.169.0 ("), "{ua}");
        assert!(
            ua.ends_with(&format!("airelays/{}", env!("CARGO_PKG_VERSION"))),
            "{ua}"
        );
        assert!(client(&config.upstream).is_ok());
    }
}
