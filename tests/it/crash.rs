//! Crash safety (issue 9): `kill -9` at random points during login persistence,
//! token-refresh persistence, relay-token rotation and uploads. On restart nothing is
//! corrupt: the credentials are the old set or the new set (never a mix, never lost),
//! the token file holds the old or the new token, and a file upload is either fully
//! visible or absent with no quota held. The kill points are randomised (bounded
//! delays and byte counts); only the invariants are asserted, never timing.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::harness::relay::{Relay, RelayOptions};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::harness::*;
use rand::Rng;
use serde_json::{Value, json};

fn jwt_claim(jwt: &str, key: &str) -> Value {
    let body = jwt.split('.').nth(1).expect("a JWT");
    let bytes = URL_SAFE_NO_PAD.decode(body).expect("base64url");
    serde_json::from_slice::<Value>(&bytes).expect("JSON claims")[key].clone()
}

/// The stored credential set, checked for consistency: `None` when there is none.
/// Returns the refresh token (which identifies the set).
fn stored_set(auth_file: &Path) -> Option<String> {
    let bytes = match std::fs::read(auth_file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("auth.json unreadable: {e}"),
    };
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "auth.json is corrupt ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let tokens = &doc["tokens"];
    let get = |k: &str| {
        tokens[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("auth.json lacks {k}: {doc}"))
            .to_string()
    };
    let (id, access, refresh) = (get("id_token"), get("access_token"), get("refresh_token"));
    // One issuance mints all three at once: the two JWTs share their issue time.
    assert_eq!(
        jwt_claim(&id, "iat"),
        jwt_claim(&access, "iat"),
        "a mixed credential set: {doc}"
    );
    Some(refresh)
}

fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
                .count()
        })
        .unwrap_or(0)
}

fn kill9(mut child: Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[tokio::test]
async fn kill_during_login_persistence() {
    let env = Sandbox::mocked().await;
    let auth_file = env.paths().data_dir.join("auth.json");
    // One full login, timed, to know where the kill points should fall.
    let started = Instant::now();
    let out = env.output(env.cmd(&["login", "--device"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = started.elapsed();
    let mut current = stored_set(&auth_file).expect("a login stores credentials");
    let (mut completed, mut killed_before, mut changed) = (0, 0, 0);
    let mut rng = rand::rng();
    for _ in 0..20 {
        let child = env
            .cmd(&["login", "--device"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = rng.random_range(0..(full.as_micros() as u64 * 3 / 2).max(1000));
        tokio::time::sleep(Duration::from_micros(delay)).await;
        let mut child = child;
        match child.try_wait().unwrap() {
            Some(_) => completed += 1,
            None => {
                killed_before += 1;
                kill9(child);
            }
        }
        // Old set or new set, never a mix, never lost.
        let now = stored_set(&auth_file).expect("credentials were lost");
        if now != current {
            changed += 1;
            current = now;
        }
    }
    eprintln!(
        "login kills: {killed_before} killed, {completed} completed, {changed} sets replaced (full login {full:?})"
    );
    let status = env.status_json().await;
    assert_eq!(status["upstream"]["state"], "ready", "{status}");
    env.assert_no_refresh_token_reused();
}

#[tokio::test]
async fn kill_during_token_rotation() {
    // Polling with the new token before the relay has seen it counts as failed auth.
    let mut r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "1000".into())],
        ..Default::default()
    })
    .await;
    let token_file = r.sandbox.data_dir().join("relay-token");
    let read = || {
        let t = std::fs::read_to_string(&token_file).expect("the token file exists");
        let t = t.trim().to_string();
        assert!(
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "corrupt token file: {t:?}"
        );
        t
    };
    let mut current = read();
    let (mut rotated, mut killed) = (0, 0);
    let mut rng = rand::rng();
    for _ in 0..40 {
        let child = r
            .sandbox
            .cmd(&[])
            .args(["token", "rotate", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(0..15_000)));
        let mut child = child;
        if child.try_wait().unwrap().is_none() {
            killed += 1;
            kill9(child);
        } else {
            let out = child.wait_with_output().unwrap();
            if out.status.success() {
                assert_eq!(
                    json_of(&out)["token"].as_str().unwrap(),
                    read(),
                    "printed token is the stored one"
                );
            }
        }
        let now = read();
        if now != current {
            rotated += 1;
            current = now;
        }
    }
    eprintln!(
        "rotation kills: {killed} killed, {rotated} tokens replaced, {} temp files left",
        leftovers(&r.sandbox.data_dir())
    );
    // The running relay follows the file, and so does a restarted one.
    r.token = current.clone();
    let mut accepted = false;
    for _ in 0..100 {
        if r.get("/v1/models").send().await.unwrap().status() == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        accepted,
        "the running relay does not accept the stored token"
    );
    kill9(r.child.take().unwrap());
    r.spawn();
    assert_eq!(r.get("/v1/models").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn kill_during_refresh_persistence() {
    // Access tokens that always need a refresh (expiry within 60 s): every model request
    // refreshes and persists the rotated set.
    let mut r = Relay::start(RelayOptions {
        mock: airelays_mock::MockConfig {
            access_token_lifetime: Duration::from_secs(30),
            ..Default::default()
        },
        env: vec![("AIRELAYS_RATE_LIMIT_BURST", "10000".into())],
        ..Default::default()
    })
    .await;
    let auth_file = r.sandbox.data_dir().join("auth.json");
    let started = Instant::now();
    assert_eq!(
        r.post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi"}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let one = started.elapsed();
    assert!(
        r.mock().state().refresh_calls() >= 1,
        "the setup refreshes on every request"
    );
    let mut current = stored_set(&auth_file).unwrap();
    let (mut changed, mut lost_rotations) = (0, 0);
    let mut rng = rand::rng();
    for _ in 0..12 {
        let req = r
            .post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi"}))
            .send();
        let pending = tokio::spawn(req);
        tokio::time::sleep(Duration::from_micros(
            rng.random_range(0..(one.as_micros() as u64 * 2).max(1000)),
        ))
        .await;
        kill9(r.child.take().unwrap());
        let _ = pending.await;
        if stored_set(&auth_file).expect("credentials were lost") != current {
            changed += 1;
        }
        r.spawn();
        // The issuer may have rotated the refresh token just before the kill, with the
        // new set never reaching the disk: that window cannot be closed from this
        // side. The stored set is then the old one (consistent, not lost), and the
        // next refresh is refused as reused; count it, log in again, carry on.
        let resp = r
            .post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi"}))
            .send()
            .await
            .unwrap();
        if resp.status() != 200 {
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body["error"]["code"], "upstream_auth_refresh_failed",
                "{body}"
            );
            lost_rotations += 1;
            r.sandbox.sign_in().await;
            kill9(r.child.take().unwrap());
            r.spawn();
            assert_eq!(
                r.post("/v1/responses", &json!({"model": "gpt-5.5", "input": "hi"}))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                200
            );
        }
        current = stored_set(&auth_file).unwrap();
    }
    eprintln!(
        "refresh kills: 12 kills, {changed} sets replaced at the kill, {lost_rotations} rotations lost in the issuer→disk window"
    );
    assert_eq!(
        json_of(&r.sandbox.run(&["status", "--json"]))["upstream"]["state"],
        "ready"
    );
}

#[tokio::test]
async fn kill_during_uploads() {
    let mut r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_RATE_LIMIT_BURST", "10000".into())],
        ..Default::default()
    })
    .await;
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 32; // 2 MiB per file
    let mut complete: Vec<(String, u8)> = Vec::new();
    let mut rng = rand::rng();
    for i in 0..10u8 {
        // One upload that finishes…
        let data = vec![i; CHUNK * CHUNKS];
        let (_, done) = r
            .upload(&format!("done-{i}.bin"), "application/octet-stream", &data)
            .await;
        complete.push((done["id"].as_str().unwrap().to_string(), i));

        // …and one killed after a random number of bytes (sometimes all of them).
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
        });
        let req = r
            .upload_request()
            .body(reqwest::Body::wrap_stream(stream))
            .send();
        let pending = tokio::spawn(req);
        let send = rng.random_range(0..=CHUNKS + 1);
        let head = multipart_head(&format!("killed-{i}.bin"), "application/octet-stream");
        let _ = tx.send(head).await;
        for _ in 0..send.min(CHUNKS) {
            if tx.send(vec![0xEE; CHUNK]).await.is_err() {
                break;
            }
        }
        if send > CHUNKS {
            let _ = tx.send(multipart_tail()).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..20_000))).await;
        kill9(r.child.take().unwrap());
        drop(tx);
        let _ = pending.await;
        r.spawn();

        // Every finished upload is intact; the killed one is whole or absent; the
        // quota counts exactly what is listed; no temp file survives the restart.
        let list: Value = r
            .get("/v1/files?limit=10000")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed = list["data"].as_array().unwrap();
        let mut sum = 0;
        for f in listed {
            let id = f["id"].as_str().unwrap();
            let bytes = r
                .get(&format!("/v1/files/{id}/content"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(bytes.len() as u64, f["bytes"].as_u64().unwrap(), "{f}");
            assert_eq!(
                bytes.len(),
                CHUNK * CHUNKS,
                "a partial file is visible: {f}"
            );
            match complete.iter().find(|(cid, _)| cid == id) {
                Some((_, fill)) => assert!(bytes.iter().all(|b| b == fill), "{id} corrupted"),
                None => {
                    assert!(
                        f["filename"].as_str().unwrap().starts_with("killed-"),
                        "{f}"
                    );
                    assert!(bytes.iter().all(|b| *b == 0xEE));
                }
            }
            sum += bytes.len() as u64;
        }
        for (id, _) in &complete {
            assert!(
                listed.iter().any(|f| f["id"] == id.as_str()),
                "finished upload {id} lost"
            );
        }
        let status = r.relay_status().await;
        assert_eq!(
            status["uploads"]["files"].as_u64().unwrap(),
            listed.len() as u64
        );
        assert_eq!(status["uploads"]["bytes"].as_u64().unwrap(), sum);
        let tmp = r.sandbox.data_dir().join("uploads/tmp");
        assert_eq!(
            std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0),
            0,
            "temp uploads survive a restart"
        );
    }
}
