//! Browser login (upstream-protocol §1): PKCE S256 and a random state, a callback
//! server on `127.0.0.1:<auth.callback_port>` (the redirect URI says `localhost`),
//! then the code exchange. The callback answers a small HTML page: success, or the
//! error in plain words. A callback with the wrong state gets a 400 page and the login
//! keeps waiting for the right one.

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
pub const CALLBACK_PATH: &str = "/auth/callback";

/// A browser login waiting for its callback.
pub struct PendingBrowserLogin {
    listener: TcpListener,
    url: url::Url,
    shared: Arc<Shared>,
}

struct Shared {
    issuer: Issuer,
    state: String,
    verifier: String,
    redirect_uri: String,
    done: AtomicBool,
    outcome: mpsc::Sender<Result<Tokens, LoginError>>,
}

type Outcome = mpsc::Receiver<Result<Tokens, LoginError>>;

impl PendingBrowserLogin {
    /// Binds the callback port (0 = any free port) and builds the authorize URL.
    pub async fn start(
        issuer: &Issuer,
        port: u16,
    ) -> Result<(PendingBrowserLogin, Outcome), LoginError> {
        let listener =
            TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AddrInUse => LoginError::PortBusy(port),
                    _ => LoginError::Listen {
                        port,
                        reason: e.to_string(),
                    },
                })?;
        let real_port = listener
            .local_addr()
            .map_err(|e| LoginError::Listen {
                port,
                reason: e.to_string(),
            })?
            .port();
        let redirect_uri = format!("http://localhost:{real_port}{CALLBACK_PATH}");
        let request = issuer.authorize_request(&redirect_uri)?;
        let (tx, rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            state: request.state.secret().clone(),
            verifier: request.verifier.secret().clone(),
            redirect_uri,
            done: AtomicBool::new(false),
            outcome: tx,
        });
        Ok((
            PendingBrowserLogin {
                listener,
                url: request.url,
                shared,
            },
            rx,
        ))
    }

    /// The URL the user opens.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Serves callbacks until the login succeeds, fails or `timeout` passes.
    pub async fn finish(
        self,
        mut outcome: Outcome,
        timeout: Duration,
    ) -> Result<Tokens, LoginError> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut connections = tokio::task::JoinSet::new();
        let result = loop {
            tokio::select! {
                accepted = self.listener.accept() => {
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
                }
                Some(result) = outcome.recv() => break result,
                () = &mut deadline => break Err(LoginError::Timeout(timeout.as_secs())),
            }
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

async fn handle(req: Request<hyper::body::Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    if req.uri().path() != CALLBACK_PATH {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This address is not part of the sign-in.",
        );
    }
    let params: std::collections::HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if shared.done.load(Ordering::SeqCst) {
        return page(
            StatusCode::OK,
            "Sign-in already handled",
            "This sign-in has already been handled. You can close this tab and return to the terminal.",
        );
    }
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
        return page(
            StatusCode::OK,
            "Sign-in already handled",
            "This sign-in has already been handled. You can close this tab and return to the terminal.",
        );
    }
    let (status, title, sentence, result) = if let Some(error) = get("error") {
        let description = get("error_description").map(String::from);
        let err = if error == "access_denied"
            && description
                .as_deref()
                .is_some_and(|d| d.contains("missing_codex_entitlement"))
        {
            LoginError::MissingEntitlement
        } else {
            LoginError::Denied {
                code: error.to_string(),
                description,
            }
        };
        let sentence = match &err {
            LoginError::MissingEntitlement => "Codex is not enabled for this ChatGPT workspace. Ask the workspace admin to enable it, or sign in with another account.".to_string(),
            _ => format!("The sign-in was refused ({error}). Return to the terminal and run `airelays login` to try again."),
        };
        (StatusCode::OK, "Sign-in failed", sentence, Err(err))
    } else if let Some(code) = get("code") {
        match shared
            .issuer
            .exchange_code(code, &shared.verifier, &shared.redirect_uri)
            .await
        {
            Ok(tokens) => {
                let email = super::claims::id_claims(tokens.id_token.expose())
                    .email
                    .unwrap_or_else(|| "your ChatGPT account".into());
                (
                    StatusCode::OK,
                    "Signed in",
                    format!(
                        "Signed in to ChatGPT as {email}. You can close this tab and return to the terminal."
                    ),
                    Ok(tokens),
                )
            }
            Err(e) => (
                StatusCode::OK,
                "Sign-in failed",
                format!("{e}. Return to the terminal and run `airelays login` to try again."),
                Err(LoginError::Issuer(e)),
            ),
        }
    } else {
        (
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The sign-in callback carried no authorization code. Return to the terminal and run `airelays login` again.".to_string(),
            Err(LoginError::MissingCode),
        )
    };
    let _ = shared.outcome.try_send(result);
    page(status, title, &sentence)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, sentence: &str) -> Response<Full<Bytes>> {
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
