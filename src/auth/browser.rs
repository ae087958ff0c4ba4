//! Browser login (docs/auth.md, "Browser flow"): PKCE S256 and a random state, a callback
//! server on `localhost:<auth.callback_port>` (127.0.0.1, and ::1 where the system has
//! IPv6 loopback), then the code exchange.
//!
//! The authorize URL (which carries the `state` and the PKCE challenge) never leaves this
//! process on a command line: the browser is sent to `http://localhost:<port>/start/<128
//! random bits>`, which works once, sets an HttpOnly SameSite=Lax cookie and redirects to
//! the issuer. The callback is accepted only with that cookie and the right `state`. A
//! second request to the start path means another process read the link (it was on
//! `xdg-open`'s command line) and tried to join: the login is aborted. Every answer is a
//! small HTML page: success, or the error in plain words. A callback without the cookie
//! or with the wrong state gets a 400 page and the login keeps waiting for the right one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::LoginError;
use super::credentials::Tokens;
use super::issuer::Issuer;

/// Path of the redirect URI.
pub(crate) const CALLBACK_PATH: &str = "/auth/callback";
/// Prefix of the one-time start path the browser opens.
pub(crate) const START_PREFIX: &str = "/start/";

/// A browser login waiting for its callback.
pub(crate) struct PendingBrowserLogin {
    listeners: Vec<TcpListener>,
    url: url::Url,
    shared: Arc<Shared>,
}

struct Shared {
    issuer: Issuer,
    state: String,
    verifier: String,
    redirect_uri: String,
    authorize_url: String,
    /// The random part of the start path.
    start_secret: String,
    /// `name=value` of the cookie the start path sets.
    cookie_name: String,
    cookie_value: String,
    started: AtomicBool,
    done: AtomicBool,
    outcome: mpsc::Sender<Result<Tokens, LoginError>>,
}

type Outcome = mpsc::Receiver<Result<Tokens, LoginError>>;
type Page = Response<Full<Bytes>>;

fn random_hex<const N: usize>() -> String {
    let bytes: [u8; N] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn listen_error(port: u16, e: &std::io::Error) -> LoginError {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => LoginError::PortBusy(port),
        _ => LoginError::Listen {
            port,
            reason: e.to_string(),
        },
    }
}

/// Whether binding ::1 failed only because this system has no IPv6 loopback.
fn no_ipv6_loopback(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    if let Some(code) = e.raw_os_error() {
        return code == libc::EADDRNOTAVAIL || code == libc::EAFNOSUPPORT;
    }
    e.kind() == std::io::ErrorKind::AddrNotAvailable
}

/// Binds `127.0.0.1:port` and, where the system has IPv6 loopback, `[::1]` on the same
/// port (a browser may resolve `localhost` to either). A port in use on either is busy.
async fn bind_loopback(port: u16) -> Result<(Vec<TcpListener>, u16), LoginError> {
    // With port 0 the kernel picks a port free on 127.0.0.1; it may be taken on ::1, so
    // pick again a few times before calling it busy.
    let attempts = if port == 0 { 8 } else { 1 };
    let mut last = LoginError::PortBusy(port);
    for _ in 0..attempts {
        let v4 = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| listen_error(port, &e))?;
        let real = v4.local_addr().map_err(|e| listen_error(port, &e))?.port();
        match TcpListener::bind(("::1", real)).await {
            Ok(v6) => return Ok((vec![v4, v6], real)),
            Err(e) if no_ipv6_loopback(&e) => return Ok((vec![v4], real)),
            Err(e) => last = listen_error(port, &e),
        }
    }
    Err(last)
}

impl PendingBrowserLogin {
    /// Binds the callback port (0 = any free port) and builds the authorize URL.
    pub(crate) async fn start(
        issuer: &Issuer,
        port: u16,
    ) -> Result<(PendingBrowserLogin, Outcome), LoginError> {
        let (listeners, real_port) = bind_loopback(port).await?;
        let redirect_uri = format!("http://localhost:{real_port}{CALLBACK_PATH}");
        let request = issuer.authorize_request(&redirect_uri)?;
        let start_secret = random_hex::<16>();
        let url = url::Url::parse(&format!(
            "http://localhost:{real_port}{START_PREFIX}{start_secret}"
        ))
        .map_err(|e| LoginError::Listen {
            port,
            reason: e.to_string(),
        })?;
        let (tx, rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            state: request.state.secret().clone(),
            verifier: request.verifier.secret().clone(),
            redirect_uri,
            authorize_url: request.url.to_string(),
            start_secret,
            // Named per port: cookies ignore ports, and two logins may run at once.
            cookie_name: format!("airelays_login_{real_port}"),
            cookie_value: random_hex::<32>(),
            started: AtomicBool::new(false),
            done: AtomicBool::new(false),
            outcome: tx,
        });
        let pending = PendingBrowserLogin {
            listeners,
            url,
            shared,
        };
        Ok((pending, rx))
    }

    /// The URL the user opens: the one-time start path, which holds no OAuth secret.
    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// Serves callbacks until the login succeeds, fails or `timeout` passes.
    pub(crate) async fn finish(
        self,
        mut outcome: Outcome,
        timeout: Duration,
    ) -> Result<Tokens, LoginError> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut connections = tokio::task::JoinSet::new();
        let second = async |l: Option<&TcpListener>| match l {
            Some(l) => l.accept().await,
            None => std::future::pending().await,
        };
        let result = loop {
            let accepted = tokio::select! {
                a = self.listeners[0].accept() => a,
                a = second(self.listeners.get(1)) => a,
                Some(result) = outcome.recv() => break result,
                () = &mut deadline => break Err(LoginError::Timeout(timeout.as_secs())),
            };
            let Ok((stream, _)) = accepted else { continue };
            let shared = Arc::clone(&self.shared);
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(handle(req, shared).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        };
        // Let the page that ended the login reach the browser (bounded: an idle
        // preconnected socket must not hold us up).
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.abort_all();
        result
    }
}

async fn handle(req: Request<hyper::body::Incoming>, shared: Arc<Shared>) -> Page {
    let path = req.uri().path();
    if let Some(secret) = path.strip_prefix(START_PREFIX) {
        return start_page(secret, &shared);
    }
    if path != CALLBACK_PATH {
        return not_found();
    }
    if shared.done.load(Ordering::SeqCst) {
        return already_handled();
    }
    if !has_login_cookie(&req, &shared) {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in link does not match",
            "This callback did not come from the browser that opened the sign-in (no sign-in cookie). Open the link printed by the latest `airelays login` in your browser.",
        );
    }
    let params = query_params(&req);
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let state_ok =
        get("state").is_some_and(|s| bool::from(s.as_bytes().ct_eq(shared.state.as_bytes())));
    if !state_ok {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in link does not match",
            "This callback does not belong to the sign-in the terminal is waiting for (state mismatch). Use the link printed by the latest `airelays login`.",
        );
    }
    if shared.done.swap(true, Ordering::SeqCst) {
        return already_handled();
    }
    let (status, title, sentence, result) = callback_outcome(&params, &shared).await;
    let _ = shared.outcome.try_send(result);
    page(status, title, &sentence)
}

/// `GET /start/<secret>`: the first request gets the cookie and the redirect to the
/// issuer; any later one aborts the login (someone else has the link).
fn start_page(secret: &str, shared: &Shared) -> Page {
    if !bool::from(secret.as_bytes().ct_eq(shared.start_secret.as_bytes())) {
        return not_found();
    }
    if shared.started.swap(true, Ordering::SeqCst) {
        if !shared.done.swap(true, Ordering::SeqCst) {
            let _ = shared.outcome.try_send(Err(LoginError::Joined));
        }
        return page(
            StatusCode::CONFLICT,
            "Sign-in aborted",
            "This sign-in link was opened a second time, so another process may have tried to join the sign-in. airelays aborted it to be safe. Run `airelays login` again in the terminal.",
        );
    }
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Lax; Path=/",
        shared.cookie_name, shared.cookie_value
    );
    let headers = response.headers_mut();
    for (name, value) in [
        (hyper::header::LOCATION, shared.authorize_url.as_str()),
        (hyper::header::SET_COOKIE, cookie.as_str()),
        (hyper::header::CACHE_CONTROL, "no-store"),
        (hyper::header::CONNECTION, "close"),
    ] {
        if let Ok(value) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

fn has_login_cookie<B>(req: &Request<B>, shared: &Shared) -> bool {
    req.headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| {
            name == shared.cookie_name
                && bool::from(value.as_bytes().ct_eq(shared.cookie_value.as_bytes()))
        })
}

fn query_params<B>(req: &Request<B>) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

type CallbackOutcome = (StatusCode, &'static str, String, Result<Tokens, LoginError>);

/// What an accepted callback means: an issuer error, a code to exchange, or nothing.
async fn callback_outcome(params: &HashMap<String, String>, shared: &Shared) -> CallbackOutcome {
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(error) = get("error") {
        let err = refusal(error, get("error_description").map(String::from));
        let sentence = match &err {
            LoginError::MissingEntitlement => "Codex is not enabled for this ChatGPT workspace. Ask the workspace admin to enable it, or sign in with another account.".to_string(),
            _ => format!("The sign-in was refused ({error}). Return to the terminal and run `airelays login` to try again."),
        };
        return (StatusCode::OK, "Sign-in failed", sentence, Err(err));
    }
    let Some(code) = get("code") else {
        return (
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The sign-in callback carried no authorization code. Return to the terminal and run `airelays login` again.".to_string(),
            Err(LoginError::MissingCode),
        );
    };
    match shared
        .issuer
        .exchange_code(code, &shared.verifier, &shared.redirect_uri)
        .await
    {
        Ok(tokens) => {
            let email = super::claims::id_claims(tokens.id_token.expose())
                .email
                .unwrap_or_else(|| "your ChatGPT account".into());
            let sentence = format!(
                "Signed in to ChatGPT as {email}. You can close this tab and return to the terminal."
            );
            (StatusCode::OK, "Signed in", sentence, Ok(tokens))
        }
        Err(e) => (
            StatusCode::OK,
            "Sign-in failed",
            format!("{e}. Return to the terminal and run `airelays login` to try again."),
            Err(LoginError::Issuer(e)),
        ),
    }
}

/// The login error for an `error=` callback.
fn refusal(error: &str, description: Option<String>) -> LoginError {
    let entitlement = error == "access_denied"
        && description
            .as_deref()
            .is_some_and(|d| d.contains("missing_codex_entitlement"));
    if entitlement {
        LoginError::MissingEntitlement
    } else {
        LoginError::Denied {
            code: error.to_string(),
            description,
        }
    }
}

fn not_found() -> Page {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This address is not part of the sign-in.",
    )
}

fn already_handled() -> Page {
    page(
        StatusCode::OK,
        "Sign-in already handled",
        "This sign-in has already been handled. You can close this tab and return to the terminal.",
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, sentence: &str) -> Page {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>airelays — {t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style>\
         </head><body><h1>{t}</h1><p>{s}</p></body></html>\n",
        t = escape(title),
        s = escape(sentence)
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}
