//! A bounded soak (issue 9), loopback only: 3,000 mixed requests from 16 workers with
//! random client disconnects, invalid tokens from 127.0.0.2–5 (one loopback identity, banned),
//! occasional upstream faults, and three rotations of the relay token in the middle.
//! Afterwards: nothing active, held or in flight, file descriptors back to the
//! warmed-up baseline, RSS flat between the two halves. The figures are printed
//! (`cargo test --test soak -- --nocapture`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::harness::relay::{Relay, RelayOptions};
use crate::harness::{multipart, multipart_type};
use airelays_mock::Fault;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock};

const WORKERS: usize = 16;
const REQUESTS_PER_HALF: u64 = 1500;
const ATTACKERS: [&str; 4] = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];

fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

struct Shared {
    relay_url: String,
    token: RwLock<String>,
    issued: AtomicU64,
    disconnects: AtomicU64,
    statuses: Mutex<BTreeMap<String, u64>>,
    mock: Arc<airelays_mock::MockState>,
}

impl Shared {
    async fn count(&self, what: String) {
        *self.statuses.lock().await.entry(what).or_default() += 1;
    }
}

/// One worker: requests until the shared budget is spent.
async fn worker(shared: Arc<Shared>, seed: u64, budget: u64) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    loop {
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if n >= budget {
            return;
        }
        if n % 150 == 75 {
            let fault = if n % 300 == 75 {
                Fault::CutMidStream
            } else {
                Fault::Overloaded503
            };
            shared.mock.push_fault(fault);
        }
        // Held while the request is sent and answered, so a rotation waits for it.
        let token = shared.token.read().await;
        let auth = format!("Bearer {}", *token);
        let url = |p: &str| format!("{}{p}", shared.relay_url);
        let kind = rng.random_range(0..100u32);
        let stream = kind % 2 == 0;
        let label;
        let result: Result<u16, ()> = match kind {
            0..=24 => {
                label = "responses";
                let body =
                    json!({"model": "gpt-5.5", "input": format!("soak {n}"), "stream": stream});
                match client
                    .post(url("/v1/responses"))
                    .header("authorization", &auth)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        Ok(s)
                    }
                    Err(_) => Err(()),
                }
            }
            25..=49 => {
                label = "chat";
                let body = json!({"model": "gpt-5.5", "stream": stream, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": format!("soak {n}")}]});
                match client
                    .post(url("/v1/chat/completions"))
                    .header("authorization", &auth)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        Ok(s)
                    }
                    Err(_) => Err(()),
                }
            }
            50..=61 => {
                // The client leaves a long stream after its first chunk.
                label = "disconnect-mid-stream";
                let body = json!({"model": "gpt-5.5", "input": "LONG:200000", "stream": true});
                match client
                    .post(url("/v1/responses"))
                    .header("authorization", &auth)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(mut r) => {
                        let s = r.status().as_u16();
                        let _ = r.chunk().await;
                        drop(r);
                        shared.disconnects.fetch_add(1, Ordering::Relaxed);
                        Ok(s)
                    }
                    Err(_) => Err(()),
                }
            }
            62..=69 => {
                // The client gives up at a random point before or during the answer.
                label = "disconnect-random";
                let body = json!({"model": "gpt-5.5", "input": "LONG:50000", "stream": stream});
                let fut = async {
                    let r = client
                        .post(url("/v1/chat/completions"))
                        .header("authorization", &auth)
                        .json(&body)
                        .send()
                        .await?;
                    r.bytes().await
                };
                let wait = Duration::from_micros(rng.random_range(100..20_000));
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(wait, fut).await {
                    Ok(Ok(_)) => Ok(200),
                    Ok(Err(_)) => Err(()),
                    Err(_) => Ok(0),
                }
            }
            70..=77 => {
                label = "models";
                let path = if kind % 2 == 0 {
                    "/v1/models"
                } else {
                    "/v1/models/gpt-5.5"
                };
                client
                    .get(url(path))
                    .header("authorization", &auth)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|_| ())
            }
            78..=85 => {
                label = "files";
                let data = "soak data ".repeat(100);
                let body = multipart(&format!("soak-{n}.txt"), "text/plain", data.as_bytes());
                match client
                    .post(url("/v1/files"))
                    .header("authorization", &auth)
                    .header("content-type", multipart_type())
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        let v: Value = r.json().await.unwrap_or_default();
                        let id = v["id"].as_str().unwrap_or_default().to_string();
                        let _ = client
                            .get(url(&format!("/v1/files/{id}/content")))
                            .header("authorization", &auth)
                            .send()
                            .await;
                        client
                            .delete(url(&format!("/v1/files/{id}")))
                            .header("authorization", &auth)
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .map_err(|_| ())
                    }
                    Ok(r) => Ok(r.status().as_u16()),
                    Err(_) => Err(()),
                }
            }
            86..=92 => {
                label = "not-found";
                client
                    .get(url("/v1/nothing-here"))
                    .header("authorization", &auth)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|_| ())
            }
            _ => {
                label = "status";
                client
                    .get(url("/v1/relay/status"))
                    .header("authorization", &auth)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|_| ())
            }
        };
        drop(token);
        let what = match result {
            Ok(0) => format!("{label} client-gave-up"),
            Ok(s) => format!("{label} {s}"),
            Err(()) => format!("{label} transport-error"),
        };
        shared.count(what).await;
    }
}

/// An address guessing tokens: 401s until banned, then 429s.
async fn attacker(shared: Arc<Shared>, ip: &'static str, tries: u32) -> (u32, u32) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let (mut unauthorized, mut banned) = (0, 0);
    for i in 0..tries {
        let resp = client
            .post(format!("{}/v1/chat/completions", shared.relay_url))
            .header("authorization", format!("Bearer guess-{ip}-{i}"))
            .json(&json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            401 => unauthorized += 1,
            429 => banned += 1,
            s => panic!("attacker {ip} got {s}"),
        }
    }
    (unauthorized, banned)
}

/// Rotates the relay token while workers run: waits for in-flight requests (write
/// lock), rotates through the CLI, polls with the old token until the relay refuses
/// it (one failed attempt), then hands the new token to the workers.
async fn rotate(shared: &Shared, r: &Relay) {
    let mut token = shared.token.write().await;
    let out = r.sandbox.run(&["token", "rotate", "--json"]);
    assert!(out.status.success());
    let new = crate::harness::json_of(&out)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..200 {
        let resp = client
            .get(format!("{}/v1/relay/status", shared.relay_url))
            .header("authorization", format!("Bearer {}", *token))
            .send()
            .await
            .unwrap();
        let s = resp.status();
        // A wrong token from the banned loopback identity is a 429 ban answer.
        let banned = s == 429
            && resp
                .text()
                .await
                .unwrap_or_default()
                .contains("ip_temporarily_blocked");
        if s == 401 || banned {
            *token = new;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the relay never switched to the rotated token");
}

async fn run_half(shared: &Arc<Shared>, r: &Relay, seed: u64, budget: u64, rotations: &[u64]) {
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        tasks.push(tokio::spawn(worker(
            Arc::clone(shared),
            seed * 100 + w as u64,
            budget,
        )));
    }
    for &at in rotations {
        while shared.issued.load(Ordering::Relaxed) < at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rotate(shared, r).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_mixed_traffic_with_disconnects_bans_and_rotations() {
    let bounded = tokio::time::timeout(Duration::from_secs(300), soak()).await;
    assert!(
        bounded.is_ok(),
        "the soak did not finish within its 300 s bound (a hang)"
    );
}

async fn soak() {
    let r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1000000".into()),
            ("AIRELAYS_RATE_LIMIT_BURST", "1000000".into()),
            ("AIRELAYS_CONCURRENT_REQUESTS_PER_IP", "64".into()),
            ("AIRELAYS_FAILED_AUTH_MAX_ATTEMPTS", "5".into()),
        ],
        ..Default::default()
    })
    .await;
    let pid = r.child.as_ref().unwrap().id();
    let shared = Arc::new(Shared {
        relay_url: format!("http://127.0.0.1:{}", r.port),
        token: RwLock::new(r.token.clone()),
        issued: AtomicU64::new(0),
        disconnects: AtomicU64::new(0),
        statuses: Mutex::new(BTreeMap::new()),
        mock: Arc::clone(r.mock().state()),
    });
    let started = Instant::now();

    // Warm-up: the same mix, so pools and caches reach their working size.
    run_half(&shared, &r, 1, 300, &[]).await;
    settle(&shared, &r).await;
    let base_fds = fds(pid);
    let base_rss = proc_status(pid, "VmRSS:");
    let base_threads = proc_status(pid, "Threads:");

    // First half, with attackers and a rotation in the middle.
    shared.issued.store(0, Ordering::Relaxed);
    let attack = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut out = Vec::new();
            for ip in ATTACKERS {
                out.push(attacker(Arc::clone(&shared), ip, 25).await);
            }
            out
        })
    };
    run_half(&shared, &r, 2, REQUESTS_PER_HALF, &[500, 1000]).await;
    let attacks = attack.await.unwrap();
    settle(&shared, &r).await;
    let mid_rss = proc_status(pid, "VmRSS:");

    // Second half, one more rotation.
    shared.issued.store(0, Ordering::Relaxed);
    run_half(&shared, &r, 3, REQUESTS_PER_HALF, &[750]).await;
    let status = settle(&shared, &r).await;
    let end_rss = proc_status(pid, "VmRSS:");

    // File descriptors return to the warmed-up baseline once clients are gone
    // (idle keep-alive connections close when the workers' clients drop).
    let mut end_fds = fds(pid);
    for _ in 0..300 {
        if end_fds <= base_fds + 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        end_fds = fds(pid);
    }
    let end_threads = proc_status(pid, "Threads:");
    let statuses = shared.statuses.lock().await.clone();
    let total: u64 = statuses.values().sum();
    eprintln!(
        "soak figures: requests={} (+{} warm-up, +{} attacker) disconnects={} elapsed={:.1}s\n  rss_kb baseline={base_rss} after_half1={mid_rss} final={end_rss}\n  fds baseline={base_fds} final={end_fds}\n  threads baseline={base_threads} final={end_threads}\n  attackers (401s, 429s)={attacks:?}\n  outcomes={statuses:#?}\n  live={}",
        total - 300,
        300,
        ATTACKERS.len() * 25,
        shared.disconnects.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        status["live"],
    );

    assert_eq!(total, 300 + 2 * REQUESTS_PER_HALF);
    for (what, n) in &statuses {
        let ok = what.ends_with(" 200")
            || what.ends_with("client-gave-up")
            || what == "not-found 404"
            // Injected upstream faults: overloaded, or a stream cut before its first event.
            || ((what.starts_with("responses") || what.starts_with("chat") || what.starts_with("disconnect")) && (what.ends_with(" 503") || what.ends_with(" 502")))
            // A client that gives up mid-body sees its own transport error.
            || what == "disconnect-random transport-error";
        assert!(ok, "unexpected outcome {what} ×{n}: {statuses:#?}");
    }
    // All loopback addresses are one identity: the first attacker's 5 guesses ban
    // every later one too (issue 13).
    assert_eq!(
        attacks,
        vec![(5, 20), (0, 25), (0, 25), (0, 25)],
        "loopback is banned after 5 guesses"
    );
    assert_eq!(status["uploads"]["files"], 0, "{status}");
    assert!(
        end_fds <= base_fds + 8,
        "file descriptors leaked: {base_fds} → {end_fds}"
    );
    assert!(
        end_rss <= mid_rss + 32 * 1024,
        "RSS grew in the second half: {mid_rss} → {end_rss} kB"
    );
    assert!(
        end_rss <= base_rss + 96 * 1024,
        "RSS grew: {base_rss} → {end_rss} kB"
    );
    assert_eq!(r.mock().state().active_streams(), 0);
}

/// Waits until nothing is active, held or in flight, relay- and mock-side.
async fn settle(shared: &Shared, r: &Relay) -> Value {
    let token = shared.token.read().await.clone();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut last = Value::Null;
    for _ in 0..400 {
        last = client
            .get(format!("{}/v1/relay/status", shared.relay_url))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let live = &last["live"];
        if live["active_streams"] == 0
            && live["held_slots"] == 0
            && live["upstream_requests_in_flight"] == 0
            && r.mock().state().active_streams() == 0
        {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the relay never settled: {last}");
}
