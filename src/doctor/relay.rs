//! Checks of the local relay: running (`relay.json` under its held lock), answering
//! `/healthz`, accepting the current relay token, and the configured port free or
//! held by this relay. (Command line only: the relay's own test endpoint never runs
//! these, and never binds a port.)

use std::time::Duration;

use super::{Check, Probe, Run, blocking};
use crate::status::RelayStateFile;

/// The longest a loopback request to the relay may take.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(5);

/// `relay_running`, `relay_health`, `relay_auth` and `port`.
pub(super) async fn steps(run: &mut Run<'_>, probe: &mut Probe) {
    run.begin("relay running", false);
    let paths = probe.paths.clone();
    let found = match blocking("relay_running", move || {
        crate::status::running_relay(&paths)
    })
    .await
    {
        Err(check) => {
            run.end(check);
            None
        }
        Ok(Some(state)) => {
            run.end(Check::ok(
                "relay_running",
                format!(
                    "pid {} serves {} since {}",
                    state.pid, state.base_url, state.started_at
                ),
            ));
            Some(state)
        }
        Ok(None) => {
            run.end(Check::warn(
                "relay_running",
                "no relay is running for this data directory",
                "run `airelays serve`",
            ));
            None
        }
    };
    if let Some(state) = &found {
        let client = loopback_client();
        run.begin("relay /healthz", true);
        let healthy = health(client.as_ref(), state).await;
        let answered = healthy.status == super::CheckStatus::Ok;
        run.end(healthy);
        if answered {
            run.begin("relay token accepted", true);
            run.end(token_accepted(client.as_ref(), state, probe).await);
        }
    }
    probe.relay = found;
    run.begin("port", false);
    run.end(port(probe).await);
}

/// A plain client for the relay on loopback: never through a proxy.
fn loopback_client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(LOCAL_TIMEOUT)
        .build()
        .ok()
}

/// `http://host:port` of the relay, a wildcard listener reached on loopback.
pub(super) fn origin(state: &RelayStateFile) -> String {
    let base = state.base_url.trim_end_matches("/v1");
    base.replace("://0.0.0.0:", "://127.0.0.1:")
        .replace("://[::]:", "://[::1]:")
}

async fn health(client: Option<&reqwest::Client>, state: &RelayStateFile) -> Check {
    const ID: &str = "relay_health";
    let url = format!("{}/healthz", origin(state));
    let Some(client) = client else {
        return Check::fail(ID, "no HTTP client", "report this as a bug");
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => Check::ok(ID, format!("{url} answers {}", r.status())),
        Ok(r) => Check::fail(
            ID,
            format!("{url} answers {}", r.status()),
            "restart the relay (`airelays serve`)",
        ),
        Err(e) => Check::fail(
            ID,
            format!("{url} does not answer: {}", e.without_url()),
            "restart the relay (`airelays serve`); `airelays status` shows the base URL",
        ),
    }
}

/// `relay_auth`: an authenticated `GET /v1/relay/status` with the current token.
async fn token_accepted(
    client: Option<&reqwest::Client>,
    state: &RelayStateFile,
    probe: &Probe,
) -> Check {
    const ID: &str = "relay_auth";
    let file = probe.config.security.bearer_token_file.clone();
    let env = probe.env;
    let token = blocking(ID, move || crate::token::load(&file, &env))
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
    let url = format!("{}/v1/relay/status", origin(state));
    let (Some(client), Some((token, _))) = (client, token) else {
        return Check::warn(ID, "not tested: no relay token here", "run `airelays init`");
    };
    let fingerprint = token.fingerprint();
    let sent = client.get(&url).bearer_auth(token.expose()).send().await;
    match sent {
        Ok(r) if r.status().is_success() => Check::ok(
            ID,
            format!("the relay accepts the current token (fingerprint {fingerprint})"),
        ),
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => Check::fail(
            ID,
            format!("the relay refuses the current token (fingerprint {fingerprint})"),
            "restart the relay: it runs with another token (AIRELAYS_BEARER_TOKEN or another data directory?)",
        ),
        Ok(r) => Check::fail(
            ID,
            format!("{url} answers {}", r.status()),
            "see `airelays status`; restart the relay",
        ),
        Err(e) => Check::fail(
            ID,
            format!("{url} does not answer: {}", e.without_url()),
            "restart the relay (`airelays serve`)",
        ),
    }
}

/// `port`: the configured port is free, or held by this relay.
async fn port(probe: &Probe) -> Check {
    const ID: &str = "port";
    let host = probe.config.server.host.clone();
    let port = probe.config.server.port;
    if port == 0 {
        return Check::ok(ID, "server.port = 0: the relay picks a free port");
    }
    if let Some(state) = &probe.relay
        && state.port == port
    {
        return Check::ok(
            ID,
            format!("{host}:{port} is held by this relay (pid {})", state.pid),
        );
    }
    let bind_host = host.clone();
    let bound = blocking(ID, move || {
        std::net::TcpListener::bind((bind_host.trim_matches(['[', ']']), port)).map(drop)
    })
    .await;
    match bound {
        Err(check) => check,
        Ok(Ok(())) => Check::ok(ID, format!("{host}:{port} is free")),
        Ok(Err(e)) if probe.relay.is_some() => Check::warn(
            ID,
            format!("{host}:{port} is taken ({e}); this relay listens elsewhere"),
            "clients configured for the port must use the relay's base URL (`airelays status`)",
        ),
        Ok(Err(e)) => Check::fail(
            ID,
            format!("cannot listen on {host}:{port}: {e}"),
            "`airelays serve --port 0` (any free port) or `--port N`",
        ),
    }
}
