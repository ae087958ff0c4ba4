//! The self-checks of `airelays doctor` (docs/doctor-json.md): ordered checks, each
//! `ok`, `warn` or `fail` with a one-line finding and the next step, in the words of
//! the README's troubleshooting table.
//!
//! The engine lives here, below the command line, so that the running relay can run
//! the same checks (`POST /v1/relay/test` calls [`relay_checks`]); `cli::doctor` only
//! parses arguments and prints. One file per group of checks:
//!
//! - [`local`]: the config file, private modes, the relay token, proxy variables;
//! - [`state`]: the full integrity check of the state store;
//! - [`signin`]: the credential store, the sign-in and the refresh token;
//! - [`upstream`]: clock skew, the backend and its model catalogue;
//! - [`live`]: the `--live` streamed probe and tool-call round trip;
//! - [`accounts`], [`each_account`]: with several accounts, each one's sign-in,
//!   upstream and live checks, and the `accounts.pin` rules;
//! - [`relay`]: the running relay and the configured port;
//! - [`clients`]: client configurations on this machine checked against the relay.
//!
//! No check ever prints a secret: tokens appear as fingerprints only.

mod accounts;
mod clients;
mod each_account;
mod live;
mod local;
mod relay;
mod signin;
mod state;
mod upstream;

pub(crate) use upstream::usage_finding as usage_check;

use std::time::Duration;

use serde::Serialize;

use crate::auth::{Access, CredentialSession, Credentials, StoreKind};
use crate::config::{Config, ConfigError, Paths};
use crate::upstream::UpstreamClient;

/// The longest a network check waits (connect, headers and body), except the `--live`
/// probes, which stream an answer.
pub(crate) const NETWORK_TIMEOUT: Duration = Duration::from_secs(20);

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CheckStatus {
    /// Nothing to do.
    Ok,
    /// Works, but something is likely to bite; exit status stays 0.
    Warn,
    /// Broken; `airelays doctor` exits 1.
    Fail,
}

/// One finding, serialised as docs/doctor-json.md describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Check {
    /// The stable id of the check (docs/doctor-json.md lists them).
    pub(crate) id: &'static str,
    /// `ok`, `warn` or `fail`.
    pub(crate) status: CheckStatus,
    /// The finding, one line.
    pub(crate) summary: String,
    /// The next step; `null` when there is nothing to do.
    pub(crate) hint: Option<String>,
    /// Supporting lines (the models listed, the files read); omitted when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) details: Vec<String>,
}

impl Check {
    /// A check with no next step.
    pub(crate) fn ok(id: &'static str, summary: impl Into<String>) -> Check {
        Check {
            id,
            status: CheckStatus::Ok,
            summary: summary.into(),
            hint: None,
            details: Vec::new(),
        }
    }
    /// A warning with its next step.
    pub(crate) fn warn(
        id: &'static str,
        summary: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            status: CheckStatus::Warn,
            hint: Some(hint.into()),
            ..Check::ok(id, summary)
        }
    }
    /// A failure with its next step.
    pub(crate) fn fail(
        id: &'static str,
        summary: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            status: CheckStatus::Fail,
            hint: Some(hint.into()),
            ..Check::ok(id, summary)
        }
    }
    /// Adds supporting lines.
    pub(crate) fn with_details(mut self, details: Vec<String>) -> Check {
        self.details = details;
        self
    }
}

/// The whole report: `ok` is false when any check failed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// No check failed (warnings allowed).
    pub(crate) ok: bool,
    /// The checks, in the order they ran.
    pub(crate) checks: Vec<Check>,
}

impl Report {
    /// The report of `checks`.
    pub(crate) fn of(checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.status != CheckStatus::Fail),
            checks,
        }
    }
}

/// What `airelays doctor` was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// Also spend the refresh token and run the streamed probes.
    pub(crate) live: bool,
    /// The model of the live probes (default: the listed `*-mini`, else the first).
    pub(crate) model: Option<String>,
}

/// Told as checks start and finish (the command line shows progress; the relay's
/// test endpoint ignores it).
pub(crate) trait Progress {
    /// A check starts; `slow` when it waits on the network or the keychain (a spinner
    /// helps).
    fn started(&mut self, title: &str, slow: bool);
    /// A check finished.
    fn finished(&mut self, check: &Check);
}

/// Progress nobody watches.
struct Quiet;

impl Progress for Quiet {
    fn started(&mut self, _title: &str, _slow: bool) {}
    fn finished(&mut self, _check: &Check) {}
}

/// What the checks learn and pass on, in order: the credentials, an access token,
/// the catalogue, the running relay.
struct Probe {
    paths: Paths,
    config: Config,
    env: fn(&str) -> Option<String>,
    /// The backend client (`None` only when the TLS backend failed to start).
    upstream: Option<UpstreamClient>,
    /// The same credential session the relay uses, for any refresh.
    session: Option<CredentialSession>,
    /// The stored credential set, its store and any recorded refresh failure.
    creds: Option<(Credentials, StoreKind, Option<String>)>,
    /// An access token to call the backend with.
    access: Option<Access>,
    /// The catalogue fetch (done once, by the clock-skew check).
    catalogue: Option<upstream::Catalogue>,
    /// The running relay, once found.
    relay: Option<crate::status::RelayStateFile>,
}

impl Probe {
    fn new(paths: &Paths, config: &Config, env: fn(&str) -> Option<String>) -> Probe {
        let http = crate::http::client(&config.upstream).ok();
        let upstream = http
            .as_ref()
            .map(|h| UpstreamClient::new(&config.upstream, h.clone()));
        let session = http
            .as_ref()
            .map(|h| CredentialSession::new(paths.clone(), config.clone(), h.clone()));
        Probe {
            paths: paths.clone(),
            config: config.clone(),
            env,
            upstream,
            session,
            creds: None,
            access: None,
            catalogue: None,
            relay: None,
        }
    }
}

/// Runs `work` on a blocking thread (file and keychain work never blocks a runtime
/// worker of the relay); a panic in it becomes a failed check `id`.
async fn blocking<T: Send + 'static>(
    id: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Check> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Check::fail(
            id,
            format!("the check stopped unexpectedly: {e}"),
            "run `airelays doctor` again",
        )
    })
}

/// Records checks and tells `progress`.
struct Run<'a> {
    checks: Vec<Check>,
    progress: &'a mut (dyn Progress + Send),
}

impl Run<'_> {
    fn begin(&mut self, title: &str, slow: bool) {
        self.progress.started(title, slow);
    }
    fn end(&mut self, check: Check) {
        self.progress.finished(&check);
        self.checks.push(check);
    }
}

/// The non-live checks that concern the relay and the upstream: the config file, the
/// relay token, the credential store, the sign-in, clock skew, the backend and its
/// catalogue. `POST /v1/relay/test` runs them from inside the relay: file and keychain
/// work runs on blocking threads, every network call has a timeout, no refresh token
/// is spent and no port is bound.
pub(crate) async fn relay_checks(paths: &Paths, config: &Config) -> Vec<Check> {
    let config_result = Ok(config.clone());
    let mut quiet = Quiet;
    let mut run = Run {
        checks: Vec::new(),
        progress: &mut quiet,
    };
    let mut probe = Probe::new(paths, config, crate::config::process_env);
    run.begin("config file", false);
    run.end(local::config_check(paths, &config_result, crate::config::process_env).await);
    run.begin("relay token", false);
    run.end(local::relay_token(&probe).await);
    signin_steps(&mut run, &mut probe, None).await;
    clock_step(&mut run, &mut probe).await;
    run.begin("upstream", false);
    run.end(upstream::catalogue(&probe));
    other_accounts_step(&mut run, &probe, None).await;
    run.checks
}

/// Every check of `airelays doctor`, in order. `config` is the outcome of loading the
/// config file (on an error the other checks use the defaults).
pub(crate) async fn run_all(
    paths: &Paths,
    config: Result<Config, ConfigError>,
    env: fn(&str) -> Option<String>,
    options: &Options,
    progress: &mut (dyn Progress + Send),
) -> Vec<Check> {
    let effective = match &config {
        Ok(c) => c.clone(),
        Err(_) => defaults_and_env(paths, env),
    };
    let mut probe = Probe::new(paths, &effective, env);
    let mut run = Run {
        checks: Vec::new(),
        progress,
    };
    run.begin("config file", false);
    run.end(local::config_check(paths, &config, env).await);
    run.begin("private files", false);
    run.end(local::private_modes(&probe).await);
    run.begin("state store", false);
    run.end(state::state_store(&probe).await);
    run.begin("relay token", false);
    run.end(local::relay_token(&probe).await);
    signin_steps(&mut run, &mut probe, Some(options)).await;
    run.begin("accounts", false);
    if let Some(check) = accounts::check(&probe).await {
        run.end(check);
    }
    run.begin("account pins", false);
    if let Some(check) = accounts::pins(&probe).await {
        run.end(check);
    }
    clock_step(&mut run, &mut probe).await;
    run.begin("proxy variables", false);
    run.end(local::proxy(env));
    run.begin("upstream", false);
    run.end(upstream::catalogue(&probe));
    run.begin("plan usage", true);
    run.end(upstream::usage(&probe).await);
    let mut others = other_accounts_step(&mut run, &probe, Some(options.live)).await;
    if options.live {
        live::steps(&mut run, &probe, options.model.as_deref()).await;
        let model = options.model.as_deref();
        if !others.is_empty() {
            run.begin("other accounts, live", true);
            if let Some(check) = each_account::live_check(&mut others, model).await {
                run.end(check);
            }
        }
    }
    relay::steps(&mut run, &mut probe).await;
    clients::steps(&mut run, &probe).await;
    run.checks
}

/// The configuration without the (broken) file: the defaults and the environment,
/// else the defaults alone.
fn defaults_and_env(paths: &Paths, env: fn(&str) -> Option<String>) -> Config {
    let without_file = Paths {
        config_file: paths.data_dir.join("doctor: no config file"),
        data_dir: paths.data_dir.clone(),
    };
    match Config::load(&without_file, &env) {
        Ok(c) => c,
        Err(_) => Config::defaults(paths),
    }
}

/// The credential store, the sign-in and (for `airelays doctor`, `options` given)
/// the refresh token.
async fn signin_steps(run: &mut Run<'_>, probe: &mut Probe, options: Option<&Options>) {
    run.begin("credential store", true);
    run.end(signin::store(probe).await);
    run.begin("signed in", false);
    let signed_in = signin::signed_in(probe);
    run.end(signed_in);
    if let Some(options) = options
        && probe.creds.is_some()
    {
        run.begin("refresh token", true);
        let check = signin::refresh(probe, options.live).await;
        run.end(check);
    }
}

/// `accounts_upstream`, when accounts other than `default` are signed in: their
/// probes, for the live checks that may follow.
async fn other_accounts_step(
    run: &mut Run<'_>,
    probe: &Probe,
    refresh: Option<bool>,
) -> Vec<each_account::AccountProbe> {
    let names = each_account::others(probe).await;
    if names.is_empty() {
        return Vec::new();
    }
    run.begin("other accounts", true);
    let others = each_account::probe_others(probe, names, refresh).await;
    if let Some(check) = each_account::upstream_check(&others) {
        run.end(check);
    }
    others
}

/// Fetches the catalogue once (the `upstream` check reports it later) and measures
/// clock skew against the answer's `Date`.
async fn clock_step(run: &mut Run<'_>, probe: &mut Probe) {
    run.begin("clock skew", true);
    upstream::fetch(probe).await;
    run.end(upstream::clock_skew(probe));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_shape_is_the_documented_one() {
        let report = Report::of(vec![
            Check::ok("config", "fine"),
            Check::warn("proxy", "odd", "fix it").with_details(vec!["a".into()]),
        ]);
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["checks"][0]["status"], "ok");
        assert_eq!(v["checks"][0]["hint"], serde_json::Value::Null);
        assert!(v["checks"][0].get("details").is_none());
        assert_eq!(v["checks"][1]["status"], "warn");
        assert_eq!(v["checks"][1]["hint"], "fix it");
        let failed = Report::of(vec![Check::fail("upstream", "down", "retry")]);
        assert!(!failed.ok);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn relay_checks_run_the_relay_and_upstream_checks_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_file: dir.path().join("config.toml"),
            data_dir: dir.path().join("data"),
        };
        let mut config = Config::defaults(&paths);
        config.auth.credential_store = crate::config::CredentialStoreKind::File;
        // A closed port: refused at once, never the real backend.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        config.upstream.base_url = format!("http://127.0.0.1:{port}/backend-api/codex");
        fn send<T: Send>(t: T) -> T {
            t
        }
        // The relay awaits it in a request handler: the future must be `Send`.
        let checks = send(relay_checks(&paths, &config)).await;
        let ids: Vec<&str> = checks.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                "config",
                "relay_token",
                "credential_store",
                "signed_in",
                "clock_skew",
                "upstream"
            ]
        );
        let status = |id: &str| checks.iter().find(|c| c.id == id).unwrap().status;
        assert_eq!(status("config"), CheckStatus::Ok);
        assert_eq!(status("relay_token"), CheckStatus::Fail);
        assert_eq!(status("signed_in"), CheckStatus::Fail);
        assert_eq!(status("upstream"), CheckStatus::Fail);
        let upstream = checks.iter().find(|c| c.id == "upstream").unwrap();
        assert!(
            upstream.summary.contains(&format!("127.0.0.1:{port}")),
            "{upstream:?}"
        );
        // It binds no port and spends nothing: nothing was written to the data dir.
        assert!(!paths.data_dir.join("relay.lock").exists());
    }
}
