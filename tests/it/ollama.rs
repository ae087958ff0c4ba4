//! The Ollama API at the HTTP level: Open WebUI's Ollama connection replayed from
//! its recorded request fixtures (checked against what Open WebUI's code reads),
//! Ollama's error envelope and statuses, the second listener's start-up checks,
//! and the status document. The official libraries run in `clients::ollama`.

use crate::harness::relay::{Relay, RelayOptions};
use crate::harness::{Sandbox, stderr};
use serde_json::{Value, json};

const OPENWEBUI_CHAT: &str =
    include_str!("../../src/translate/ollama/fixtures/openwebui_chat.json");
const OPENWEBUI_TITLE: &str =
    include_str!("../../src/translate/ollama/fixtures/openwebui_title.json");
const OPENWEBUI_UNLOAD: &str =
    include_str!("../../src/translate/ollama/fixtures/openwebui_unload.json");

/// Open WebUI's version check: strip `^v` and `-…`, then compare numerically.
fn open_webui_version(v: &str) -> Option<Vec<u64>> {
    let v = v.trim_start_matches('v');
    let v = v.split('-').next()?;
    v.split('.').map(|p| p.parse().ok()).collect()
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn post_raw(r: &Relay, path: &str, body: &str) -> reqwest::Response {
    r.http
        .post(r.url(path))
        .bearer_auth(&r.token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn open_webui_ollama_connection_replayed() {
    let r = Relay::start(RelayOptions::default()).await;
    // Verify: GET /api/version with the key, compared numerically.
    let version: Value = r
        .get("/api/version")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parsed = open_webui_version(version["version"].as_str().unwrap()).unwrap();
    assert!(parsed >= vec![0, 1, 16], "{parsed:?}");

    // Models are keyed by `model`; names carry a tag.
    let tags: Value = r
        .get("/api/tags")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for m in tags["models"].as_array().unwrap() {
        let model = m["model"].as_str().unwrap();
        assert!(model.ends_with(":latest"), "{m}");
        for field in ["name", "modified_at", "size", "digest", "details"] {
            assert!(!m[field].is_null(), "{field} missing: {m}");
        }
    }
    let ps = r.get("/api/ps").send().await.unwrap();
    assert_eq!(ps.status(), 200);

    // Chat with `:latest` appended, streamed as NDJSON; the options are disclosed.
    let resp = post_raw(&r, "/api/chat", OPENWEBUI_CHAT).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let ignored = resp.headers()["x-airelays-ignored-parameters"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ignored.contains("options.temperature"), "{ignored}");
    let lines = lines(&resp.text().await.unwrap());
    let (last, rest) = lines.split_last().unwrap();
    assert!(
        rest.iter()
            .all(|l| l["done"] == false && l["model"] == "gpt-5.5:latest")
    );
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    let text: String = rest
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "pong");

    // Title generation: stream false, one object whose message.content is read.
    let resp = post_raw(&r, "/api/chat", OPENWEBUI_TITLE).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    let title: Value = resp.json().await.unwrap();
    assert_eq!(title["message"]["role"], "assistant");
    assert_eq!(title["message"]["content"], "pong");
    assert_eq!(title["done"], true);

    // The model shows in /api/ps, and Open WebUI's unload removes it without an
    // upstream call.
    let ps: Value = r.get("/api/ps").send().await.unwrap().json().await.unwrap();
    assert_eq!(ps["models"][0]["model"], "gpt-5.5:latest", "{ps}");
    assert!(ps["models"][0]["expires_at"].as_str().is_some());
    let upstream_calls = r.upstream_bodies().len();
    let unload: Value = post_raw(&r, "/api/generate", OPENWEBUI_UNLOAD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unload["done_reason"], "unload");
    assert_eq!(r.upstream_bodies().len(), upstream_calls);
    let ps: Value = r.get("/api/ps").send().await.unwrap().json().await.unwrap();
    assert_eq!(ps["models"], json!([]));
}

#[tokio::test]
async fn ollama_errors_are_ollamas_envelope_with_the_catalogue_status() {
    let r = Relay::start(RelayOptions::default()).await;
    let error = async |resp: reqwest::Response| {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        (status, body["error"].as_str().unwrap().to_owned())
    };
    let anonymous = r.http.get(r.url("/api/tags")).send().await.unwrap();
    let (status, message) = error(anonymous).await;
    assert_eq!(status, 401);
    assert!(message.contains("ollama.require_token"), "{message}");

    let (status, message) = error(post_raw(&r, "/api/embed", r#"{"model":"gpt-5.5"}"#).await).await;
    assert_eq!(status, 501);
    assert!(message.contains("Embeddings"), "{message}");
    for op in ["pull", "delete", "create", "copy", "push"] {
        let (status, message) = error(post_raw(&r, &format!("/api/{op}"), "{}").await).await;
        assert_eq!(status, 403, "{op}");
        assert!(message.contains("ChatGPT plan"), "{message}");
    }
    let (status, message) = error(
        post_raw(
            &r,
            "/api/chat",
            r#"{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}],"options":{"stop":["\n"]}}"#,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message.contains("stop"), "{message}");
    let (status, message) =
        error(post_raw(&r, "/api/show", r#"{"model":"gpt-nope-9:latest"}"#).await).await;
    assert_eq!(status, 404);
    assert!(message.contains("GET /api/tags"), "{message}");
    let (status, _) = error(
        post_raw(
            &r,
            "/api/generate",
            r#"{"model":"gpt-5.5","prompt":"hi","context":[1,2]}"#,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    let wrong_method = r.get("/api/chat").send().await.unwrap();
    let (status, message) = error(wrong_method).await;
    assert_eq!(status, 405);
    assert!(message.contains("POST"), "{message}");
    let (status, _) = error(r.get("/api/nothing").send().await.unwrap()).await;
    assert_eq!(status, 404);
    // Nothing of this reached the upstream.
    assert!(r.upstream_bodies().is_empty());
}

#[tokio::test]
async fn the_second_listener_is_reported_and_keeps_its_token_by_default() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_OLLAMA_LISTEN", "127.0.0.1:0".into())],
        ..RelayOptions::default()
    })
    .await;
    let banner = r.stdout_lines.join("\n");
    assert!(banner.contains("/api/* with the relay token"), "{banner}");
    let anonymous = r.http.get(r.ollama_url("/api/tags")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let keyed = r
        .http
        .get(r.ollama_url("/api/tags"))
        .bearer_auth(&r.token)
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 200);
    // Only Ollama's routes (and /v1) are served there.
    let other = r
        .http
        .get(r.ollama_url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let status = r.sandbox.status_json().await;
    assert_eq!(
        status["server"]["ollama"]["url"],
        format!("http://127.0.0.1:{}", r.ollama_port())
    );
    assert_eq!(status["server"]["ollama"]["require_token"], true);
    let human = r.sandbox.run(&["status"]);
    assert!(
        crate::harness::stdout(&human).contains(&format!(
            "Ollama:    http://127.0.0.1:{} (with the relay token)",
            r.ollama_port()
        )),
        "{}",
        crate::harness::stdout(&human)
    );
    let live = r.relay_status().await;
    assert_eq!(
        live["server"]["ollama"]["url"],
        status["server"]["ollama"]["url"]
    );
}

/// `ollama.require_token = false` off loopback is refused before binding (a TEST-NET
/// address that never binds here), with a one-line reason naming the key.
#[test]
fn a_keyless_ollama_listener_off_loopback_is_refused() {
    let mut sb = Sandbox::new();
    sb.set_env("AIRELAYS_OLLAMA_LISTEN", "192.0.2.1:11434")
        .set_env("AIRELAYS_OLLAMA_REQUIRE_TOKEN", "false");
    let out = sb.run(&["serve", "--port", "0"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("refusing to serve the Ollama API without the relay token on 192.0.2.1:11434")
            && err.contains("ollama.listen resolves to 192.0.2.1, not a loopback address"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!sb.data_dir().join("relay.json").exists());
}

#[test]
fn a_busy_ollama_port_is_one_line_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut sb = Sandbox::new();
    sb.set_env("AIRELAYS_OLLAMA_LISTEN", &addr.to_string());
    let out = sb.run(&["serve", "--port", "0"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot listen on {addr} (ollama.listen)"))
            && err.contains("set ollama.listen to another address"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn ollama_listen_must_be_an_address() {
    let mut sb = Sandbox::new();
    sb.set_env("AIRELAYS_OLLAMA_LISTEN", "11434");
    let out = sb.run(&["status"]);
    let err = stderr(&out);
    assert!(
        !out.status.success()
            && err.contains("AIRELAYS_OLLAMA_LISTEN")
            && err.contains("host:port"),
        "{err}"
    );
}
