//! The Ollama API through the official `ollama` Python and JavaScript libraries,
//! against the relay and the mock upstream: on the relay's own port with the
//! token, and on an `ollama.listen` listener with `ollama.require_token = false`
//! (where `/v1/*` still needs the token). What the libraries saw, and what reached
//! the upstream (the tool result paired as `function_call_output`, the image, the
//! JSON schema).

use std::path::Path;

use super::runner::{ClientHome, client, node_script, python_script, run};
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::Value;

/// A relay with the second listener on a free loopback port, keyless.
async fn keyless_relay() -> Relay {
    Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_OLLAMA_LISTEN", "127.0.0.1:0".into()),
            ("AIRELAYS_OLLAMA_REQUIRE_TOKEN", "false".into()),
        ],
        ..RelayOptions::default()
    })
    .await
}

/// What every run of the client scripts must have seen, whichever library.
fn assert_common(seen: &Value) {
    let version = seen["version"]["version"].as_str().unwrap();
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u64>().is_ok()),
        "{version}"
    );
    let models: Vec<&str> = seen["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert!(models.contains(&"gpt-5.5:latest"), "{models:?}");
    assert!(models.iter().all(|m| m.ends_with(":latest")), "{models:?}");

    let chat = &seen["chat"];
    assert_eq!(chat["content"], "pong", "{seen}");
    assert_eq!(
        chat["model"], "gpt-5.5:latest",
        "the answer echoes the name sent"
    );
    assert_eq!(chat["done"], true);
    assert_eq!(chat["done_reason"], "stop");

    let tools = &seen["tools"];
    assert_eq!(tools["name"], "lookup", "{seen}");
    assert!(tools["arguments"].is_object(), "{tools}");
    assert_eq!(tools["follow_up"], "tool said: ollama-tool-result-7");

    assert_eq!(seen["format"]["answer"], 42);
    assert_eq!(seen["image"], "ollama-image-seen");
    assert_eq!(seen["generate"]["response"], "pong");
    assert_eq!(seen["generate"]["done_reason"], "stop");
    assert_eq!(seen["generate_stream"]["text"].as_str().unwrap().len(), 200);

    assert_eq!(seen["load"], "load");
    assert_eq!(seen["unload"], "unload");
    let running: Vec<&str> = seen["ps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert!(running.contains(&"gpt-5.4-mini:latest"), "{running:?}");
    assert!(running.contains(&"gpt-5.5:latest"), "{running:?}");
    assert!(
        !seen["ps_after_unload"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "gpt-5.4-mini:latest"),
        "{seen}"
    );

    assert_eq!(seen["unknown_model"]["status"], 404, "{seen}");
    assert!(
        seen["unknown_model"]["error"]
            .as_str()
            .unwrap()
            .contains("gpt-nope-9")
    );
    assert!(
        seen["cut"]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a stream cut after its first line ends with an error line: {seen}"
    );
}

/// The library saw the anonymous client refused (token required) or served.
fn assert_anonymous(seen: &Value, keyless: bool) {
    if keyless {
        assert!(seen["anonymous"]["models"].as_u64().unwrap() > 0, "{seen}");
    } else {
        assert_eq!(seen["anonymous"]["status"], 401, "{seen}");
        assert!(
            seen["anonymous"]["error"]
                .as_str()
                .unwrap()
                .contains("bearer token")
        );
    }
}

/// What the Python script alone checks: show, measured stream figures, thinking.
fn assert_python(seen: &Value) {
    let show = &seen["show"];
    let caps: Vec<&str> = show["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for cap in ["completion", "tools", "thinking", "vision"] {
        assert!(caps.contains(&cap), "{caps:?}");
    }
    assert_eq!(show["model_info"]["gpt.context_length"], 272000, "{show}");
    assert!(
        show["modelfile"]
            .as_str()
            .unwrap()
            .contains("ChatGPT backend")
    );

    let stream = &seen["chat_stream"];
    assert_eq!(stream["text"].as_str().unwrap().len(), 300, "{stream}");
    assert!(stream["chunks"].as_u64().unwrap() > 2, "{stream}");
    assert_eq!(stream["done"], true);
    assert_eq!(stream["done_reason"], "stop");
    assert_eq!(stream["model"], "gpt-5.5");
    assert!(stream["eval_count"].as_u64().unwrap() > 0, "{stream}");
    assert!(
        stream["prompt_eval_count"].as_u64().unwrap() > 0,
        "{stream}"
    );
    let total = stream["total_duration"].as_u64().unwrap();
    let parts = stream["eval_duration"].as_u64().unwrap()
        + stream["prompt_eval_duration"].as_u64().unwrap();
    assert!(total > 0 && parts <= total, "measured durations: {stream}");
    assert!(seen["chat"]["total_duration"].as_u64().unwrap() > 0);
    assert!(
        !seen["think"]["thinking"].as_str().unwrap().is_empty(),
        "{seen}"
    );
}

/// What reached the upstream: the tool result as `function_call_output`, the
/// image, the JSON schema, the `think` level as effort.
fn assert_upstream(r: &Relay) {
    let bodies = r.upstream_bodies();
    let items = || {
        bodies
            .iter()
            .flat_map(|b| b["input"].as_array().unwrap().iter())
    };
    assert!(
        items().any(|i| i["type"] == "function_call_output"
            && i["output"] == "ollama-tool-result-7"
            && i["call_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("call_"))),
        "the tool result reaches the upstream paired with its call"
    );
    assert!(
        items().any(|i| i["content"]
            .as_array()
            .is_some_and(|c| c.iter().any(|p| p["type"] == "input_image"
                && p["image_url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("data:image/png;base64,"))))),
        "the image reaches the upstream"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b["text"]["format"]["type"] == "json_schema"),
        "the schema format reaches the upstream"
    );
    assert!(
        bodies
            .iter()
            .all(|b| b["stream"] == true && b["store"] == false)
    );
}

#[tokio::test]
async fn ollama_python_library_on_the_relay_port_with_the_token() {
    let r = Relay::start(RelayOptions::default()).await;
    let seen = python_script("ollama_api.py", &r.url(""), &r.token)
        .await
        .json();
    assert_common(&seen);
    assert_python(&seen);
    assert_anonymous(&seen, false);
    assert_upstream(&r);
    assert!(
        r.upstream_bodies()
            .iter()
            .any(|b| b["reasoning"]["effort"] == "high"),
        "think: \"high\" is the effort"
    );
}

#[tokio::test]
async fn ollama_javascript_library_on_the_relay_port_with_the_token() {
    let r = Relay::start(RelayOptions::default()).await;
    let seen = node_script("ollama_api.mjs", &r.url(""), &r.token)
        .await
        .json();
    assert_common(&seen);
    assert_anonymous(&seen, false);
    assert_upstream(&r);
    assert_eq!(seen["show"]["capabilities"][0], "completion", "{seen}");
}

#[tokio::test]
async fn ollama_libraries_on_a_keyless_second_listener() {
    let r = keyless_relay().await;
    let base = r.ollama_url("");
    let seen = python_script("ollama_api.py", &base, "").await.json();
    assert_common(&seen);
    assert_python(&seen);
    assert_anonymous(&seen, true);
    let seen = node_script("ollama_api.mjs", &base, "").await.json();
    assert_common(&seen);
    assert_anonymous(&seen, true);
    assert_upstream(&r);

    // Ollama's own root answer, and /v1/* there still needs the token.
    let root = r.http.get(r.ollama_url("/")).send().await.unwrap();
    assert_eq!(root.status(), 200);
    assert!(
        root.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(root.text().await.unwrap(), "Ollama is running");
    let anonymous = r.http.get(r.ollama_url("/v1/models")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let keyed = r
        .http
        .get(r.ollama_url("/v1/models"))
        .bearer_auth(&r.token)
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 200);
    // Open WebUI's Ollama connection also calls {url}/v1/chat/completions, with its key.
    let chat: Value = r
        .http
        .post(r.ollama_url("/v1/chat/completions"))
        .bearer_auth(&r.token)
        .json(&serde_json::json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "say pong"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(chat["choices"][0]["message"]["content"], "pong", "{chat}");
    // A web page still cannot use the keyless listener: rebinding, a foreign origin,
    // a cross-site no-cors request.
    let tags = r.ollama_url("/api/tags");
    let refused = [
        r.http.get(&tags).header("host", "evil.example"),
        r.http.get(&tags).header("origin", "https://evil.example"),
        r.http.get(&tags).header("sec-fetch-site", "cross-site"),
    ];
    for req in refused {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403);
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some(),
            "Ollama's envelope: {body}"
        );
    }
    // The relay's own port still needs the token on /api/*.
    let main = r.http.get(r.url("/api/tags")).send().await.unwrap();
    assert_eq!(main.status(), 401);
}

/// `docs/clients/ollama-env.sh`, pointed at this relay: the library needs nothing else.
#[tokio::test]
async fn the_documented_ollama_environment_works() {
    let r = Relay::start(RelayOptions::default()).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let snippet = std::fs::read_to_string(root.join("docs/clients/ollama-env.sh")).unwrap();
    let home = ClientHome::new();
    let mut cmd = home.command(&client(".venv/bin/python"));
    cmd.arg(root.join("tests/clients/python/ollama_env.py"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let vars: Vec<&str> = snippet
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(vars, ["OLLAMA_HOST", "OLLAMA_API_KEY"], "{snippet}");
    assert!(snippet.contains("OLLAMA_HOST=http://127.0.0.1:8080\n"));
    cmd.env("OLLAMA_HOST", r.url(""))
        .env("OLLAMA_API_KEY", &r.token);
    let seen = run(cmd).await.json();
    assert_eq!(seen["content"], "pong", "{seen}");
    assert!(
        seen["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "gpt-5.5:latest")
    );
}
