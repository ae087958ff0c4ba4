//! Hardening II (issue 13), one test per item: a log reader that stops reading,
//! idle and half-open connections, expansion of file and item references, the ban
//! and the right token, slow bodies, and `--no-auth` address checks. The real
//! binary against the mock upstream; raw sockets where a client library would
//! tidy up.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::relay::{Relay, RelayOptions, expect_error};
use common::*;
use serde_json::{Value, json};

/// Upper bound on any single exchange (a bound, never a synchronisation point).
const BOUND: Duration = Duration::from_secs(20);

/// Options that lift the per-IP request rate, for tests that send many requests.
fn unthrottled() -> RelayOptions {
    RelayOptions {
        env: vec![
            ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1000000".into()),
            ("AIRELAYS_RATE_LIMIT_BURST", "1000000".into()),
        ],
        ..RelayOptions::default()
    }
}

async fn live(r: &Relay, field: &str) -> u64 {
    let s = r.relay_status().await;
    s["live"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("live.{field} missing: {s}"))
}

/// Item 1: with stdout and stderr going to pipes nobody reads, the relay keeps
/// answering (before the fix it froze after about 500 requests, `/healthz`
/// included); the lines it could not write are counted, and once the reader
/// comes back one line says how many were lost. The one test that deliberately
/// leaves the relay's output undrained, bounded in count and time.
#[tokio::test]
async fn a_log_reader_that_stops_reading_never_blocks_a_request() {
    let mut r = Relay::start(unthrottled()).await;
    r.kill();
    let mut child = r
        .sandbox
        .cmd()
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relay");
    // Read the banner for the port, then never read stdout or stderr again.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no banner");
        if let Some(url) = line.trim().strip_prefix("Base URL:") {
            break url
                .trim()
                .trim_end_matches("/v1")
                .rsplit(':')
                .next()
                .unwrap()
                .parse::<u16>()
                .unwrap();
        }
    };
    let stderr = child.stderr.take().unwrap();
    r.port = port;
    r.child = Some(child);

    for i in 0..5000u32 {
        let path = if i % 250 == 0 {
            "/healthz"
        } else {
            "/v1/models"
        };
        let resp = tokio::time::timeout(BOUND, r.get(path).send())
            .await
            .unwrap_or_else(|_| panic!("request {i} ({path}) got no answer"))
            .unwrap();
        assert_eq!(resp.status(), 200, "request {i} ({path})");
    }
    let dropped = live(&r, "log_lines_dropped").await;
    assert!(
        dropped > 0,
        "the log queue never filled: the test proved nothing"
    );

    // The reader comes back: the next line written says what was lost.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut noted = false;
    for _ in 0..200 {
        assert_eq!(r.get("/healthz").send().await.unwrap().status(), 200);
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) if l.contains("log line(s) were dropped") => {
                noted = true;
                break;
            }
            _ => {}
        }
        while let Ok(l) = rx.try_recv() {
            if l.contains("log line(s) were dropped") {
                noted = true;
            }
        }
        if noted {
            break;
        }
    }
    assert!(noted, "no line said how many log lines were dropped");
}

fn client_from(ip: &str) -> reqwest::Client {
    let _ = common::relay::test_client();
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Eight distinct wrong tokens (the default `security.failed_auth_max_attempts`)
/// from `from` against the relay at `base`, then the right token is still served
/// and one more wrong guess from `neighbour` is 429.
async fn ban_then_right_token(r: &Relay, base: &str, from: &str, neighbour: &str) {
    let attacker = client_from(from);
    for n in 0..8 {
        let resp = attacker
            .get(format!("{base}/v1/models"))
            .header("authorization", format!("Bearer wrong-guess-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "guess {n} from {from}");
    }
    let right = attacker
        .get(format!("{base}/v1/models"))
        .header("authorization", r.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200, "the right token from {from}");
    let other = client_from(neighbour);
    expect_error(
        other
            .get(format!("{base}/v1/models"))
            .header("authorization", "Bearer one-more-guess"),
        429,
        "ip_temporarily_blocked",
    )
    .await;
    let right = other
        .get(format!("{base}/v1/models"))
        .header("authorization", r.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200, "the right token from {neighbour}");
}

/// Item 4: another local user cannot lock the owner out by guessing, and cannot
/// evade the ban by rotating through 127.0.0.0/8. A relay listens on one address,
/// so the IPv6 half runs against a relay on [::1] (the unit tests in
/// `server::limits` show ::1, 127.0.0.0/8 and ::ffff:127.0.0.0/104 share one entry).
#[tokio::test]
async fn a_ban_never_refuses_the_right_token_and_covers_all_of_loopback() {
    let r = Relay::start(RelayOptions::default()).await;
    let base = format!("http://127.0.0.1:{}", r.port);
    ban_then_right_token(&r, &base, "127.0.0.1", "127.0.0.3").await;

    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("skipping the ::1 half: this machine has no IPv6 loopback");
        return;
    }
    let v6 = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_HOST", "::1".into())],
        ..RelayOptions::default()
    })
    .await;
    let base = format!("http://[::1]:{}", v6.port);
    ban_then_right_token(&v6, &base, "::1", "::1").await;
}
