//! `airelays serve`: runs the relay in the foreground until SIGINT/SIGTERM.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{CliError, CliResult, Context, Style};
use crate::fsio::{self, FileLock};
use crate::server::{self, AppParts, AppState};
use crate::status::{RelayStateFile, base_url, running_relay};
use crate::token::{self, TokenVerifier};

/// Exit code when another relay holds the data directory.
pub(crate) const EXIT_ALREADY_RUNNING: u8 = 75;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Listen address [default: server.host]
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Listen port; 0 picks a free one [default: server.port]
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Accept requests without the relay token (loopback listeners only)
    #[arg(long)]
    pub(crate) no_auth: bool,
    /// Let every request through the quota guard (usage.refuse_at_percent)
    #[arg(long)]
    pub(crate) ignore_usage_guard: bool,
    /// Log to <data_dir>/logs/airelays.log (rotated) instead of stderr [config: logging.file]
    #[arg(long)]
    pub(crate) log_file: bool,
}

/// The rotating log file `serve` writes instead of stderr, when `--log-file` or
/// `logging.file` asks for one. `None` when it is not asked for, or when the
/// configuration does not load (`serve` then reports that error itself). A file
/// that cannot be opened is said on stderr, and logs stay there.
pub(crate) fn log_file(
    cli: &super::Cli,
    args: &ServeArgs,
) -> Option<crate::server::log_file::RotatingFile> {
    let ctx = super::Context::load(cli).ok()?;
    if !(args.log_file || ctx.config.logging.file) {
        return None;
    }
    let logs = ctx.paths.logs_dir();
    let logging = &ctx.config.logging;
    match crate::server::log_file::RotatingFile::open(
        &logs,
        logging.max_file_bytes,
        logging.max_files,
    ) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!(
                "airelays: cannot write the log file in {}: {e} — logging to stderr",
                logs.display()
            );
            None
        }
    }
}

/// `airelays serve`: starts the relay in the foreground until a signal stops it.
pub(crate) fn run(mut ctx: Context, args: &ServeArgs) -> CliResult {
    apply_flags(&mut ctx.config, args);
    let config = &ctx.config;
    if !config.security.require_bearer_auth {
        // Before binding: every address the configured host resolves to.
        let host = config
            .server
            .host
            .trim_start_matches('[')
            .trim_end_matches(']');
        let resolved: Vec<std::net::IpAddr> = (host, config.server.port)
            .to_socket_addrs()
            .map(|a| a.map(|a| a.ip()).collect())
            .unwrap_or_default();
        if let Some(bad) = not_loopback("resolves to", &resolved) {
            return Err(no_auth_refused(&config.server.host, &bad));
        }
    }
    check_ollama_listen(config)?;
    fsio::ensure_private_dir(&ctx.paths.data_dir).map_err(|e| {
        CliError::new(format!(
            "cannot create the data directory {}: {e}",
            ctx.paths.data_dir.display()
        ))
    })?;
    let lock = match FileLock::try_acquire(&ctx.paths.lock_file())? {
        Some(l) => l,
        None => {
            let pid = running_relay(&ctx.paths)
                .map(|s| s.pid.to_string())
                .unwrap_or_else(|| "unknown".into());
            return Err(CliError::with_code(
                format!(
                    "Another airelays relay is already running with the data directory {} (pid {pid}).",
                    ctx.paths.data_dir.display()
                ),
                EXIT_ALREADY_RUNNING,
            ));
        }
    };

    let style = Style::stdout();
    let mut notes = Vec::new();
    let token = if config.security.require_bearer_auth {
        match token::load(&config.security.bearer_token_file, &ctx.env)? {
            Some(t) => {
                token::require_strong(&t.0, &t.1)?;
                Some(t)
            }
            None => {
                let (t, _) = token::ensure(&config.security.bearer_token_file)?;
                notes.push(format!(
                    "Created a relay token in {} — `airelays token show` prints it.",
                    config.security.bearer_token_file.display()
                ));
                Some((
                    t,
                    token::TokenSource::File(config.security.bearer_token_file.clone()),
                ))
            }
        }
    } else {
        None
    };

    // The accept loops and the background tasks: requests are served on the
    // connection threads (`server::workers`), so one worker thread is enough.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
    let ignore = args.ignore_usage_guard;
    runtime.block_on(serve_async(ctx, ignore, token, notes, style, lock))
}

async fn serve_async(
    ctx: Context,
    ignore_usage_guard: bool,
    token: Option<(token::RelayToken, token::TokenSource)>,
    notes: Vec<String>,
    style: Style,
    _lock: FileLock,
) -> CliResult {
    let config = ctx.config.clone();
    let (listener, local) = bind_relay(&config).await?;
    let url = base_url(&config.server.host, local.port());
    let ollama = bind_ollama(&config).await?;
    let ollama_url = ollama
        .as_ref()
        .map(|(_, addr)| format!("http://{}", addr_text(addr)));

    let (trigger, shutdown) = crate::shutdown::channel();
    let verifier = TokenVerifier::new(token.clone());
    let token_watcher = verifier.spawn_watcher(Duration::from_millis(500), shutdown.clone());
    let http = crate::http::client(&config.upstream).map_err(|e| CliError::new(e.to_string()))?;
    let credentials = crate::auth::session::CredentialSession::new(
        ctx.paths.clone(),
        config.clone(),
        http.clone(),
    );
    let credentials_watcher = credentials.spawn_watcher(shutdown.clone());
    let files = crate::files::FileStore::open(&ctx.paths.uploads_dir(), (&config.uploads).into())
        .map_err(|e| {
        CliError::new(format!(
            "cannot open the upload store {}: {e}",
            ctx.paths.uploads_dir().display()
        ))
    })?;
    let relay = RelayStateFile {
        pid: std::process::id(),
        host: config.server.host.clone(),
        port: local.port(),
        base_url: url.clone(),
        started_at: crate::upstream::usage::now_rfc3339(),
        ollama_url,
    };
    let state_file = ctx.paths.state_file();
    fsio::write_private_atomic(
        &state_file,
        &serde_json::to_vec_pretty(&relay).unwrap_or_default(),
    )?;
    let store = open_state_store(&ctx.paths.data_dir, &config);
    let state = AppState::new(AppParts {
        config: config.clone(),
        paths: ctx.paths.clone(),
        verifier,
        credentials,
        http,
        files,
        relay,
        store,
        ignore_usage_guard,
    });

    print_banner(&state, &url, token.as_ref(), &notes, &style);

    tokio::spawn(async move {
        shutdown_signal().await;
        trigger.fire();
    });
    let ollama = ollama.map(|(l, _)| l);
    server::serve(Arc::clone(&state), listener, ollama, shutdown).await?;
    if let Some(store) = &state.store {
        // Responses answered during the grace period are written before exit.
        let _ = store.barrier().await;
    }
    let _ = tokio::join!(token_watcher, credentials_watcher);
    let _ = fsio::remove_if_exists(&state_file);
    tracing::info!("stopped");
    Ok(())
}

/// Binds the relay's own listener; with the token off, the bound address must be
/// loopback (checked again after binding).
async fn bind_relay(
    config: &crate::config::Config,
) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), CliError> {
    let addr = format!("{}:{}", bracket(&config.server.host), config.server.port);
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " — another program uses that port; pick another with `airelays serve --port N` (0 = any free port)"
        } else {
            ""
        };
        CliError::new(format!("cannot listen on {addr}: {e}{hint}"))
    })?;
    let local = listener.local_addr()?;
    if !config.security.require_bearer_auth
        && let Some(bad) = not_loopback("is bound to", &[local.ip()])
    {
        return Err(no_auth_refused(&config.server.host, &bad));
    }
    Ok((listener, local))
}

/// The command line's settings, over the file's and the environment's.
fn apply_flags(config: &mut crate::config::Config, args: &ServeArgs) {
    if let Some(h) = &args.host {
        config.server.host = h.clone();
    }
    if let Some(p) = args.port {
        config.server.port = p;
    }
    if args.no_auth {
        config.security.require_bearer_auth = false;
    }
    if args.log_file {
        config.logging.file = true;
    }
}

/// Opens the state store unless `state.enabled` is false. The first start
/// with it prints one line: where conversations are kept, for how long, and
/// how to turn it off (docs/security.md).
fn open_state_store(
    data_dir: &std::path::Path,
    config: &crate::config::Config,
) -> Option<crate::state::StateStore> {
    if !config.state.enabled {
        return None;
    }
    let settings = crate::state::Settings {
        max_bytes: config.state.max_bytes,
        retention_days: config.state.retention_days,
    };
    let (store, created) = crate::state::StateStore::open(data_dir, settings);
    if created {
        eprintln!(
            "airelays keeps /v1/responses answers and conversations in {} for {} days (unless a request sends store: false); turn it off with state.enabled = false (AIRELAYS_STATE_ENABLED=0), wipe it with `airelays state clear`.",
            store.path().display(),
            config.state.retention_days
        );
    }
    if let Some(reason) = store.unavailable() {
        eprintln!("warning: {reason}");
    }
    Some(store)
}

/// Whether `ollama.listen` may be served without the token: it (and, with
/// `--no-auth`, its `/v1/*`) must resolve to loopback addresses only. Checked
/// before binding; [`bind_ollama`] checks the bound address again.
fn check_ollama_listen(config: &crate::config::Config) -> CliResult {
    let Some(listen) = &config.ollama.listen else {
        return Ok(());
    };
    if config.ollama.require_token && config.security.require_bearer_auth {
        return Ok(());
    }
    let resolved: Vec<std::net::IpAddr> = listen
        .to_socket_addrs()
        .map(|a| a.map(|a| a.ip()).collect())
        .unwrap_or_default();
    match not_loopback("resolves to", &resolved) {
        Some(bad) => Err(keyless_ollama_refused(listen, &bad)),
        None => Ok(()),
    }
}

fn keyless_ollama_refused(listen: &str, why: &str) -> CliError {
    CliError::new(format!(
        "refusing to serve the Ollama API without the relay token on {listen} (ollama.listen {why}) — set ollama.require_token = true, or listen on 127.0.0.1"
    ))
}

/// Binds `ollama.listen` when set; a busy port is a one-line error naming the key.
async fn bind_ollama(
    config: &crate::config::Config,
) -> Result<Option<(tokio::net::TcpListener, std::net::SocketAddr)>, CliError> {
    let Some(listen) = &config.ollama.listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " — another program (Ollama itself?) uses that port: stop it, or set ollama.listen to another address"
        } else {
            " — check ollama.listen"
        };
        CliError::new(format!(
            "cannot listen on {listen} (ollama.listen): {e}{hint}"
        ))
    })?;
    let local = listener.local_addr()?;
    let keyless = !config.ollama.require_token || !config.security.require_bearer_auth;
    if keyless && let Some(bad) = not_loopback("is bound to", &[local.ip()]) {
        return Err(keyless_ollama_refused(listen, &bad));
    }
    Ok(Some((listener, local)))
}

/// `host:port`, an IPv6 host bracketed.
fn addr_text(addr: &std::net::SocketAddr) -> String {
    format!("{}:{}", bracket(&addr.ip().to_string()), addr.port())
}

/// Why `--no-auth` may not serve on these addresses: `None` when all are loopback
/// (an IPv4-mapped loopback included) and there is at least one.
fn not_loopback(what: &str, addrs: &[std::net::IpAddr]) -> Option<String> {
    if addrs.is_empty() {
        return Some(format!("{what} no address"));
    }
    addrs
        .iter()
        .find(|ip| !ip.to_canonical().is_loopback())
        .map(|ip| format!("{what} {ip}, not a loopback address"))
}

fn no_auth_refused(host: &str, why: &str) -> CliError {
    CliError::new(format!(
        "refusing to serve without the relay token on {host} ({why}) — remove --no-auth / require_bearer_auth = false, or listen on 127.0.0.1"
    ))
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn print_banner(
    state: &AppState,
    url: &str,
    token: Option<&(token::RelayToken, token::TokenSource)>,
    notes: &[String],
    style: &Style,
) {
    let upstream = state.credentials.status();
    let auth = match token {
        Some((t, token::TokenSource::Env)) => format!(
            "bearer token from AIRELAYS_BEARER_TOKEN (fingerprint {})",
            t.fingerprint()
        ),
        Some((t, token::TokenSource::File(p))) => format!(
            "bearer token (fingerprint {}, file {})",
            t.fingerprint(),
            p.display()
        ),
        None => style.yellow("off — any local program may use the relay"),
    };
    let signed_in = if upstream.state.is_ready() {
        format!(
            "{} ({} plan)",
            upstream.email.as_deref().unwrap_or("signed in"),
            upstream.plan.as_deref().unwrap_or("unknown")
        )
    } else {
        style.yellow(&format!(
            "{} — run `airelays login` in another terminal",
            upstream.state
        ))
    };
    outln!(
        "{} {} — relaying to ChatGPT",
        style.bold("airelays"),
        env!("CARGO_PKG_VERSION")
    );
    outln!("  Base URL:  {url}");
    outln!("  Auth:      {auth}");
    if let Some(ollama) = &state.relay.ollama_url {
        let note = if state.config.ollama.require_token && token.is_some() {
            "/api/* with the relay token".to_string()
        } else {
            style.yellow(
                "/api/* without a token — any local program may use your subscription through it",
            )
        };
        outln!("  Ollama:    {ollama} ({note}; /v1/* always with the token)");
    }
    outln!("  Sign-in:   {signed_in}");
    if state.config.logging.file {
        let log = state
            .paths
            .logs_dir()
            .join(crate::server::log_file::LOG_FILE_NAME);
        outln!("  Log file:  {} (`airelays logs -f`)", log.display());
    }
    for n in notes {
        outln!("  Note:      {n}");
    }
    outln!("  Next:      export OPENAI_BASE_URL={url}");
    if token.is_some() {
        outln!(
            "             export OPENAI_API_KEY=\"$(airelays token show --json | jq -r .token)\""
        );
    }
    outln!("  Stop with Ctrl-C.");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("signal received");
}
