//! Public routes: `/healthz` and the small HTML page at `/`.

use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use super::json_response;
use crate::server::AppState;
use crate::server::body::{Body, full};

/// `GET /healthz`: always 200 with the version, for liveness probes.
pub(crate) fn healthz() -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Version, readiness, base URL and how to point a client at it — never a secret
/// or a file path.
pub(crate) fn index(state: &Arc<AppState>) -> Response<Body> {
    let upstream = state.credentials.status();
    let ready = upstream.state.is_ready();
    let base = escape(state.base_url());
    let (badge, note) = if ready {
        (
            "ready",
            "Signed in to ChatGPT; requests are relayed.".to_string(),
        )
    } else {
        (
            "not ready",
            "Not signed in to ChatGPT: run <code>airelays login</code> in a terminal.".to_string(),
        )
    };
    let auth = if state.guard.require_auth {
        "Clients must send <code>Authorization: Bearer &lt;relay token&gt;</code>; <code>airelays token show</code> prints the token."
    } else {
        "Bearer auth is off (loopback only)."
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>airelays</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}}
code,pre{{background:#f3f3f3;border-radius:4px;padding:.1rem .3rem}}pre{{padding:.8rem;overflow-x:auto}}
.badge{{display:inline-block;padding:.1rem .6rem;border-radius:1rem;background:{color};color:#fff;font-size:.9rem}}</style></head>
<body><h1>airelays <small>{version}</small> <span class="badge">{badge}</span></h1>
<p>{note}</p>
<p>OpenAI-compatible base URL: <code>{base}</code></p>
<p>{auth}</p>
<h2>Point a client at it</h2>
<pre>export OPENAI_BASE_URL={base}
export OPENAI_API_KEY="$(airelays token show --json | jq -r .token)"</pre>
<p>Routes: <code>/v1/chat/completions</code>, <code>/v1/responses</code>, <code>/v1/models</code>, <code>/v1/files</code>, <code>/v1/messages</code>, and the Ollama API under <code>/api</code>. Status for scripts: <code>airelays status --json</code>.</p>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        color = if ready { "#2a7d2a" } else { "#b36b00" },
    );
    let mut resp = Response::new(full(html));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
