//! Security review (issue 9), one test per edge: DNS rebinding, cross-origin pages,
//! ban evasion, header injection, path traversal, symlinks, modes, secrets in logs,
//! constant-time comparison, slowloris and request-smuggling shapes. The real binary
//! against the mock upstream; raw sockets where a client library would tidy up.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::harness::relay::{Relay, RelayOptions, error_of, test_client};
use crate::harness::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Upper bound on any raw exchange (a bound, never a synchronisation point).
const RAW_BOUND: Duration = Duration::from_secs(20);

/// Sends raw bytes and reads until the relay closes the connection (bounded).
async fn raw(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(RAW_BOUND, s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The status codes of every response in a raw byte stream.
fn statuses(raw: &str) -> Vec<u16> {
    raw.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| raw.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

/// The header block of the first response, lower-cased names.
fn first_headers(raw: &str) -> Vec<(String, String)> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn client_from(ip: &str) -> reqwest::Client {
    let _ = test_client();
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn dns_rebinding_host_shapes_are_refused() {
    let r = Relay::start(RelayOptions::default()).await;
    let auth = r.bearer();
    for host in [
        "attacker.example",
        "attacker.example:80",
        "localhost.attacker.example",
        "127.0.0.1.nip.io",
        "[::1]evil.example",
        "[::1].evil.example:80",
        "127.0.0.1:8080@evil.example",
        "0x7f000001.evil",
    ] {
        let req = format!(
            "GET /v1/models HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        let out = raw(r.port, req.as_bytes()).await;
        assert_eq!(statuses(&out), vec![403], "{host}: {out}");
        assert!(out.contains("host_not_allowed"), "{host}: {out}");
    }
    // Two Host headers, and none at all.
    let two = format!(
        "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    let out = raw(r.port, two.as_bytes()).await;
    assert!(
        statuses(&out) == vec![403] || statuses(&out) == vec![400],
        "{out}"
    );
    let none =
        format!("GET /v1/models HTTP/1.1\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n");
    let out = raw(r.port, none.as_bytes()).await;
    assert!(
        statuses(&out) == vec![403] || statuses(&out) == vec![400],
        "{out}"
    );
    // Public routes are behind the Host check too (a rebinding page learns nothing).
    let out = raw(
        r.port,
        b"GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&out), vec![403], "{out}");
    // The loopback names with any port are fine.
    for host in [
        "localhost",
        "LOCALHOST:1",
        "127.0.0.1:8080",
        "127.0.0.2",
        "[::1]:8080",
    ] {
        let req = format!(
            "GET /v1/models HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            statuses(&raw(r.port, req.as_bytes()).await),
            vec![200],
            "{host}"
        );
    }
    assert_eq!(r.mock().state().responses_calls(), 0);
}

#[tokio::test]
async fn cross_origin_pages_cannot_use_or_lock_out_the_relay() {
    let r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_ALLOWED_ORIGINS", "http://localhost:5173".into()),
            ("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "3".into()),
        ],
        ..Default::default()
    })
    .await;
    let chat = r#"{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}]}"#;
    // Simple requests a page can send without a preflight, with the token even (as if
    // it had leaked): form-encoded, multipart and text/plain POSTs, from foreign and
    // look-alike origins, and `null` (sandboxed iframes, file://).
    for origin in [
        "https://evil.example",
        "http://localhost:5173.evil.example",
        "http://localhost:51730",
        "null",
        "HTTP://LOCALHOST:5173/x",
    ] {
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let resp = r
                .http
                .post(r.url("/v1/chat/completions"))
                .header("origin", origin)
                .header("content-type", ct)
                .header("authorization", r.bearer())
                .body(chat)
                .send()
                .await
                .unwrap();
            assert!(resp.headers().get("access-control-allow-origin").is_none());
            let (s, _, b) = error_of(resp).await;
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (403, Some("origin_not_allowed")),
                "{origin} {ct}: {b}"
            );
        }
    }
    // A preflight from a foreign origin gets no CORS grant.
    let pre = r
        .http
        .request(reqwest::Method::OPTIONS, r.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    assert_eq!(pre.status(), 403);
    // `<img src>` / `<form>` / link requests: no Origin, no token, Sec-Fetch-Site says
    // cross-site. Refused before auth, so a page cannot ban the user's own address.
    for _ in 0..10 {
        let resp = r
            .http
            .get(r.url("/v1/models"))
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "no-cors")
            .send()
            .await
            .unwrap();
        let (s, _, b) = error_of(resp).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("origin_not_allowed")),
            "{b}"
        );
    }
    // Old browsers without Sec-Fetch-*: a tokenless request is a 401 but not a guess.
    for _ in 0..10 {
        let resp = r.http.get(r.url("/v1/models")).send().await.unwrap();
        let (s, _, b) = error_of(resp).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (401, Some("invalid_api_key")),
            "{b}"
        );
    }
    assert_eq!(
        r.get("/v1/models").send().await.unwrap().status(),
        200,
        "the user is not locked out"
    );
    assert_eq!(r.mock().state().responses_calls(), 0);
}

#[tokio::test]
async fn ban_evasion_attempts_fail_and_the_right_token_is_served() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "4".into())],
        ..Default::default()
    })
    .await;
    let attacker = client_from("127.0.0.2");
    // Guesses in every shape count: bearer in any case, other schemes, empty bearer.
    for header in [
        "Bearer guess-1",
        "bearer guess-2",
        "Basic Z3Vlc3M6Mw==",
        "Bearer  guess-4",
    ] {
        let resp = attacker
            .get(r.url("/v1/models"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{header}");
    }
    // Banned now: a wrong token is 429 (and not counted again) from a new
    // connection, with a spoofed X-Forwarded-For / Forwarded, on a path variant,
    // and from any other loopback address (one identity).
    let fresh = client_from("127.0.0.2");
    for (name, value) in [
        ("x-forwarded-for", "127.0.0.9"),
        ("forwarded", "for=127.0.0.9"),
        ("x-real-ip", "127.0.0.9"),
    ] {
        let resp = fresh
            .get(r.url("/v1/models"))
            .header("authorization", "Bearer guess-5")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("retry-after").is_some());
        let (s, _, b) = error_of(resp).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (429, Some("ip_temporarily_blocked")),
            "{name}: {b}"
        );
    }
    for path in [
        "/v1/models/",
        "/v1//models",
        "/v1/relay/status",
        "/v1/files?x=1",
    ] {
        let resp = fresh
            .get(r.url(path))
            .header("authorization", "Bearer guess-6")
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(resp).await.0, 429, "{path}");
    }
    let neighbour = client_from("127.0.0.3");
    let resp = neighbour
        .get(r.url("/v1/models"))
        .header("authorization", "Bearer guess-7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(resp).await.0,
        429,
        "127.0.0.3 is the same identity"
    );
    // Raw: a pipelined burst of guesses on one keep-alive connection is banned too.
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from(([127, 0, 0, 2], 0))).unwrap();
    let mut conn = s
        .connect(SocketAddr::from(([127, 0, 0, 1], r.port)))
        .await
        .unwrap();
    let guess =
        "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer guess-8\r\n\r\n";
    let last = "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer guess-9\r\nConnection: close\r\n\r\n";
    conn.write_all(format!("{guess}{last}").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(RAW_BOUND, conn.read_to_end(&mut buf)).await;
    assert_eq!(statuses(&String::from_utf8_lossy(&buf)), vec![429, 429]);
    // The right token is served from the banned identity: another local user
    // cannot lock the owner's tools out (issue 13).
    for client in [&fresh, &neighbour] {
        let resp = client
            .get(r.url("/v1/models"))
            .header("authorization", r.bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);
    // Public routes stay open for the banned address.
    assert_eq!(
        fresh.get(r.url("/healthz")).send().await.unwrap().status(),
        200
    );
    let status = r.relay_status().await;
    assert_eq!(
        status["live"]["caller"]["recent_auth_failures"], 0,
        "{status}"
    );
    assert!(
        status["live"]["caller"]["blocked_for_seconds"]
            .as_u64()
            .unwrap()
            > 0,
        "{status}"
    );
}

#[tokio::test]
async fn header_injection_through_client_text_is_impossible() {
    let r = Relay::start(RelayOptions::default()).await;
    let auth = r.bearer();
    // Client text echoed in error messages (path, model, Host) stays in the JSON body.
    let req = format!(
        "GET /v1/models/%0D%0ASet-Cookie:%20a=b HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    let out = raw(r.port, req.as_bytes()).await;
    assert!(
        first_headers(&out).iter().all(|(k, _)| k != "set-cookie"),
        "{out}"
    );
    let body = json!({"model": "x\r\nSet-Cookie: a=b", "input": "hi", "temperature\r\nx-evil": 1, "temperature": 1});
    let resp = r.post("/v1/responses", &body).send().await.unwrap();
    assert!(resp.headers().get("set-cookie").is_none() && resp.headers().get("x-evil").is_none());
    let resp = r.post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi", "temperature\r\nx-evil: 1": 1, "temperature": 1})).send().await.unwrap();
    assert!(resp.headers().get("x-evil").is_none());
    assert_eq!(
        resp.headers()["x-airelays-ignored-parameters"],
        "temperature"
    );
    let _ = resp.bytes().await;
    // A file name with quotes, backslashes, control and separator characters comes back
    // in one well-formed Content-Disposition header.
    for name in [
        "a\\\".txt",
        "a\\\\\\\";x=1.txt",
        "ok\u{85}\u{2028}.txt",
        "x%0d%0aSet-Cookie: b=c.txt",
        "résumé \"final\".txt",
    ] {
        let up = r.upload(name, "text/plain", b"hello").await.1;
        let id = up["id"].as_str().unwrap_or_else(|| panic!("{up}"));
        let req = format!(
            "GET /v1/files/{id}/content HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        let out = raw(r.port, req.as_bytes()).await;
        let headers = first_headers(&out);
        assert!(
            headers.iter().all(|(k, _)| k != "set-cookie" && k != "x"),
            "{name}: {out}"
        );
        assert_eq!(
            headers
                .iter()
                .filter(|(k, _)| k == "content-disposition")
                .count(),
            1,
            "{name}: {out}"
        );
        assert!(out.ends_with("hello"), "{name}: {out}");
    }
    // The CORS preflight echoes the requested header list only for allowed origins.
    let pre = raw(r.port, b"OPTIONS /v1/models HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Headers: x\r\nConnection: close\r\n\r\n").await;
    assert!(
        first_headers(&pre)
            .iter()
            .all(|(k, _)| !k.starts_with("access-control-")),
        "{pre}"
    );
}

#[tokio::test]
async fn path_traversal_in_file_ids_and_names() {
    let r = Relay::start(RelayOptions::default()).await;
    let secret = std::fs::read_to_string(r.sandbox.data_dir().join("relay-token")).unwrap();
    let auth = r.bearer();
    for path in [
        "/v1/files/..%2Frelay-token",
        "/v1/files/..%2F..%2Frelay-token/content",
        "/v1/files/file-..%2F..%2Frelay-token/content",
        "/v1/files/../relay-token/content",
        "/v1/files/%2e%2e/%2e%2e/relay-token",
        "/v1/files/file-abc%00/content",
        "/v1/files/file-abc%2F..%2F..%2Fauth.json/content",
        "/v1/files/..\\..\\relay-token/content",
    ] {
        for method in ["GET", "DELETE"] {
            let req = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
            );
            let out = raw(r.port, req.as_bytes()).await;
            let s = statuses(&out);
            assert!(
                s == vec![404] || s == vec![400] || s == vec![405],
                "{method} {path}: {out}"
            );
            assert!(!out.contains(secret.trim()), "{path} leaked the token");
        }
    }
    assert!(
        r.sandbox.data_dir().join("relay-token").exists(),
        "nothing was deleted"
    );
    // A file name is only metadata: directory parts are dropped, nothing is written
    // outside the store.
    for name in [
        "../../../../escape.txt",
        "..\\..\\escape2.txt",
        "/etc/escape3.txt",
    ] {
        let up = r.upload(name, "text/plain", b"x").await.1;
        let stored = up["filename"].as_str().unwrap();
        assert!(
            stored.starts_with("escape") && !stored.contains(['/', '\\']),
            "{up}"
        );
    }
    let mut found = Vec::new();
    walk(r.sandbox.dir.path(), &mut found);
    let escaped: Vec<_> = found.iter().filter(|p| p.contains("escape")).collect();
    assert!(escaped.is_empty(), "{escaped:?}");
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        out.push(p.display().to_string());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, out);
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_in_the_data_dir_are_never_followed() {
    use std::os::unix::fs::symlink;
    // The relay token file as a link: rotation and serve refuse, the target is untouched.
    let sb = Sandbox::new();
    assert!(sb.run(&["init"]).status.success());
    let token_file = sb.data_dir().join("relay-token");
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "not yours\n").unwrap();
    std::fs::remove_file(&token_file).unwrap();
    symlink(&elsewhere, &token_file).unwrap();
    let out = sb.run(&["token", "rotate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    let out = sb.run(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "not yours\n");

    // The uploads dir as a link: serve refuses rather than storing files elsewhere.
    let sb = Sandbox::new();
    assert!(sb.run(&["init"]).status.success());
    let target = sb.dir.path().join("other-dir");
    std::fs::create_dir(&target).unwrap();
    symlink(&target, sb.data_dir().join("uploads")).unwrap();
    let out = sb.run(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);

    // auth.json as a link: a login refuses to write through it.
    let env = crate::harness::Sandbox::mocked().await;
    std::fs::create_dir_all(&env.paths().data_dir).unwrap();
    let target = env.dir.path().join("stolen.json");
    std::fs::write(&target, "{}").unwrap();
    symlink(&target, env.paths().data_dir.join("auth.json")).unwrap();
    let out = env.output(env.cmd(&["login", "--device"])).await;
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}");

    // The traffic log as a link: the relay serves but never appends through it.
    let mut r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_TRAFFIC_LOG", "1".into())],
        ..Default::default()
    })
    .await;
    r.terminate();
    let victim = r.sandbox.dir.path().join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    let traffic = r.sandbox.traffic_log();
    let _ = std::fs::remove_file(&traffic);
    symlink(&victim, &traffic).unwrap();
    r.spawn();
    for _ in 0..5 {
        assert_eq!(
            r.get("/v1/relay/status").send().await.unwrap().status(),
            200
        );
    }
    r.terminate();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
}

#[cfg(unix)]
#[tokio::test]
async fn files_and_directories_are_private() {
    let mut r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_TRAFFIC_LOG", "1".into())],
        ..Default::default()
    })
    .await;
    assert!(r.upload("p.txt", "text/plain", b"private").await.1["id"].is_string());
    assert_eq!(
        r.post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi"}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    r.terminate();
    let data = r.sandbox.data_dir();
    let mut all = Vec::new();
    walk(&data, &mut all);
    assert!(all.iter().any(|p| p.contains("logs/traffic-")), "{all:?}");
    assert!(all.iter().any(|p| p.ends_with("auth.json")), "{all:?}");
    assert_eq!(mode(&data), 0o700);
    for p in &all {
        let meta = std::fs::symlink_metadata(p).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(Path::new(p)), want, "{p}");
    }
    // A traffic log left world-readable is made private on the next start.
    let log = r.sandbox.traffic_log();
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    r.spawn();
    assert_eq!(
        r.get("/v1/relay/status").send().await.unwrap().status(),
        200
    );
    r.terminate();
    assert_eq!(mode(&log), 0o600);
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    secrets_never_reach(false).await;
}

/// The same with `logging.file` on: the rotating `logs/airelays.log` instead of stderr.
#[tokio::test]
async fn secrets_never_reach_the_log_file() {
    secrets_never_reach(true).await;
}

async fn secrets_never_reach(log_file: bool) {
    let mut env = vec![
        ("AIRELAYS_TRAFFIC_LOG", "1".into()),
        ("RUST_LOG", "debug".into()),
    ];
    if log_file {
        env.push(("AIRELAYS_LOG_FILE", "1".into()));
    }
    let mut r = Relay::start(RelayOptions {
        env,
        ..Default::default()
    })
    .await;
    let auth_file = r.sandbox.data_dir().join("auth.json");
    let creds_before: Value = serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    let wrong = "Bearer wrong-guess-0123456789abcdefghijklmnopqrstuv";
    assert_eq!(
        r.http
            .get(r.url("/v1/models?api_key=query-secret-123"))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "hi", "stream": true})
        )
        .send()
        .await
        .unwrap()
        .status(),
        200
    );
    assert_eq!(
        r.post(
            "/v1/chat/completions",
            &json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]})
        )
        .send()
        .await
        .unwrap()
        .status(),
        200
    );
    // Anthropic clients: a wrong and then the right token in x-api-key.
    let wrong_key = "wrong-x-api-key-0123456789abcdefghijklmnop";
    let messages = json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    for (key, status) in [(wrong_key.to_string(), 401), (r.token.clone(), 200)] {
        let resp = r
            .http
            .post(r.url("/v1/messages"))
            .header("x-api-key", key)
            .json(&messages)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status);
    }
    // A refresh (new tokens), a rotation (new relay token), uploads.
    r.mock().state().revoke_all_access_tokens();
    assert_eq!(
        r.post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi"}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let old_token = r.token.clone();
    let rotated = json_of(&r.sandbox.run(&["token", "rotate", "--json"]));
    r.token = rotated["token"].as_str().unwrap().to_string();
    // Poll with the old token until it is refused (one failed attempt), then use the new one.
    let mut switched = false;
    for _ in 0..200 {
        let old = r
            .http
            .get(r.url("/v1/models"))
            .header("authorization", format!("Bearer {old_token}"))
            .send()
            .await
            .unwrap();
        if old.status() == 401 {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(switched);
    assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);
    let creds_after: Value = serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    r.terminate();

    let mut secrets: Vec<String> = vec![
        old_token,
        r.token.clone(),
        wrong[7..].to_string(),
        "query-secret-123".into(),
        wrong_key.into(),
    ];
    for creds in [&creds_before, &creds_after] {
        for key in ["id_token", "access_token", "refresh_token"] {
            let t = creds["tokens"][key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {creds}"));
            secrets.push(t.to_string());
        }
    }
    assert_ne!(
        creds_before["tokens"]["refresh_token"], creds_after["tokens"]["refresh_token"],
        "a refresh happened"
    );
    let stderr_log = r.stderr_log();
    let file_log =
        std::fs::read_to_string(r.sandbox.data_dir().join("logs/airelays.log")).unwrap_or_default();
    let traffic = std::fs::read_to_string(r.sandbox.traffic_log()).unwrap();
    assert!(traffic.lines().count() >= 4, "{traffic}");
    let (log, other) = if log_file {
        (&file_log, &stderr_log)
    } else {
        (&stderr_log, &file_log)
    };
    assert!(log.contains("POST /v1/responses"), "{log}");
    assert!(!other.contains("POST /v1/responses"), "{other}");
    for s in &secrets {
        // Any 16-character piece of a secret would be a leak.
        let probe = &s[s.len().saturating_sub(16)..];
        assert!(
            !stderr_log.contains(probe),
            "stderr holds a secret piece {probe}"
        );
        assert!(
            !file_log.contains(probe),
            "the log file holds a secret piece {probe}"
        );
        assert!(
            !traffic.contains(probe),
            "traffic log holds a secret piece {probe}"
        );
    }
}

#[test]
fn token_comparison_is_constant_time() {
    use airelays::token::{RelayToken, TokenSource, TokenVerifier};
    let t = RelayToken::generate();
    let v = TokenVerifier::new(Some((t.clone(), TokenSource::Env)));
    let real = t.expose();
    assert!(v.check(Some(format!("Bearer {real}").as_bytes())).is_ok());
    // Prefixes, extensions, one-character changes, other lengths: all refused the
    // same way (the verifier compares SHA-256 digests with `subtle`, so neither the
    // position of the first difference nor the length can show in the timing).
    let mut wrong = vec![
        real[..42].to_string(),
        format!("{real}x"),
        String::new(),
        "x".repeat(4096),
    ];
    let mut flipped = real.as_bytes().to_vec();
    flipped[0] ^= 1;
    wrong.push(String::from_utf8(flipped).unwrap());
    for w in &wrong {
        assert!(
            v.check(Some(format!("Bearer {w}").as_bytes())).is_err(),
            "{w}"
        );
    }
    // Guard against a regression to a plain comparison.
    let src = include_str!("../../src/token.rs");
    let check = &src[src.find("fn verify(").unwrap()..];
    let check = &check[..check.find("\n    }\n").unwrap()];
    assert!(
        check.contains("Sha256::digest(presented)") && check.contains("ct_eq"),
        "{check}"
    );
    assert!(
        !check.contains("== presented") && !check.contains("presented =="),
        "{check}"
    );
    let browser = include_str!("../../src/auth/browser.rs");
    assert!(
        browser.contains("ct_eq(shared.state"),
        "the OAuth state is compared in constant time"
    );
}

#[tokio::test]
async fn slowloris_connections_are_closed_and_do_not_starve_others() {
    let r = Relay::start(RelayOptions::default()).await;
    // 64 clients that never finish their headers, one byte a second.
    let mut slow = Vec::new();
    for _ in 0..64 {
        let mut s = TcpStream::connect(("127.0.0.1", r.port)).await.unwrap();
        s.write_all(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // A connection that sends nothing at all, and one that goes idle after a request.
    let idle = TcpStream::connect(("127.0.0.1", r.port)).await.unwrap();
    let mut kept = TcpStream::connect(("127.0.0.1", r.port)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 4096];
    assert!(kept.read(&mut first).await.unwrap() > 0);
    // Meanwhile the relay serves everyone else.
    for _ in 0..10 {
        assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);
    }
    let trickle = async {
        let mut closed = 0usize;
        for _round in 0..40 {
            for s in slow.iter_mut() {
                if s.write_all(b"a").await.is_err() {
                    continue;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            closed = 0;
            for s in slow.iter_mut() {
                let mut b = [0u8; 512];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
                    Ok(Ok(_)) => closed += 1, // a 408/400 answer before the close
                    Err(_) => {}
                }
            }
            if closed == slow.len() {
                break;
            }
        }
        closed
    };
    let closed = trickle.await;
    assert_eq!(closed, 64, "slow header senders were not disconnected");
    let mut idle = idle;
    let mut b = [0u8; 64];
    let r_idle = tokio::time::timeout(Duration::from_secs(30), idle.read(&mut b)).await;
    assert!(
        matches!(r_idle, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection is never closed"
    );
    let mut rest = Vec::new();
    let r_kept = tokio::time::timeout(Duration::from_secs(60), kept.read_to_end(&mut rest)).await;
    assert!(
        r_kept.is_ok(),
        "an idle keep-alive connection is never closed"
    );
    assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn request_smuggling_shapes_are_refused_or_framed_safely() {
    let r = Relay::start(RelayOptions::default()).await;
    let auth = r.bearer();
    let smuggled = format!(
        "GET /v1/smuggled-marker HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    let head = |extra: &str| {
        format!(
            "POST /v1/responses HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n{extra}\r\n"
        )
    };
    let chunked_then_smuggled = format!("0\r\n\r\n{smuggled}");
    let n = chunked_then_smuggled.len();
    let cases: Vec<(&str, String)> = vec![
        (
            "CL.CL differing",
            format!(
                "{}{}",
                head(&format!("Content-Length: 5\r\nContent-Length: {n}\r\n")),
                chunked_then_smuggled
            ),
        ),
        (
            "CL list",
            format!(
                "{}{}",
                head(&format!("Content-Length: 5, {n}\r\n")),
                chunked_then_smuggled
            ),
        ),
        (
            "CL.TE",
            format!(
                "{}{}",
                head(&format!(
                    "Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "TE.CL",
            format!(
                "{}{}",
                head(&format!(
                    "Transfer-Encoding: chunked\r\nContent-Length: {n}\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "TE chunked,identity",
            format!(
                "{}{}",
                head(&format!(
                    "Transfer-Encoding: chunked, identity\r\nContent-Length: {n}\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "TE xchunked",
            format!(
                "{}{}",
                head(&format!(
                    "Transfer-Encoding: xchunked\r\nContent-Length: {n}\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "TE twice",
            format!(
                "{}{}",
                head("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"),
                chunked_then_smuggled
            ),
        ),
        (
            "TE space before colon",
            format!(
                "{}{}",
                head(&format!(
                    "Transfer-Encoding : chunked\r\nContent-Length: {n}\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "TE obs-fold",
            format!(
                "{}{}",
                head(&format!(
                    "Transfer-Encoding:\r\n chunked\r\nContent-Length: {n}\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "TE tab",
            format!(
                "{}{}",
                head(&format!(
                    "Transfer-Encoding:\tchunked\r\nContent-Length: {n}\r\n"
                )),
                chunked_then_smuggled
            ),
        ),
        (
            "CL plus sign",
            format!(
                "{}{}",
                head(&format!("Content-Length: +{n}\r\n")),
                chunked_then_smuggled
            ),
        ),
        (
            "CL hex",
            format!(
                "{}{}",
                head("Content-Length: 0x5\r\n"),
                chunked_then_smuggled
            ),
        ),
        (
            "bad chunk size",
            format!(
                "{}5;\r\nhello\r\nfffffffffffffffff\r\n\r\n{smuggled}",
                head("Transfer-Encoding: chunked\r\n"),
            ),
        ),
    ];
    let mut outcomes = Vec::new();
    for (name, req) in &cases {
        let out = raw(r.port, req.as_bytes()).await;
        let s = statuses(&out);
        let by = if out.contains("\"error\"") {
            "relay"
        } else {
            "hyper"
        };
        outcomes.push(format!("{name}: {s:?} from {by}"));
        // Never two answers from one ambiguous message: the bytes after it are never
        // taken for a second request.
        assert!(
            !out.contains("smuggled-marker"),
            "{name} smuggled a request: {out}"
        );
        assert!(s.len() <= 1, "{name}: {out}");
        if let Some(first) = s.first() {
            assert!(
                *first == 400 || *first == 501 || *first == 413,
                "{name}: {out}"
            );
        }
    }
    eprintln!("smuggling outcomes: {outcomes:#?}");
    // A clean pipelined pair still works (keep-alive is not broken by the checks).
    let body = r#"{"model":"gpt-5.5","input":"hi"}"#;
    let pair = format!(
        "{}{}{}",
        head(&format!("Content-Length: {}\r\n", body.len())),
        body,
        smuggled
    );
    let out = raw(r.port, pair.as_bytes()).await;
    assert_eq!(statuses(&out), vec![200, 404], "{out}");
    assert_eq!(
        r.http.get(r.url("/healthz")).send().await.unwrap().status(),
        200
    );
}
