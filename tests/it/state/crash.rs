//! `kill -9` during 200 concurrent stored responses and conversation appends:
//! after the restart the database passes its full integrity check, and every
//! conversation holds whole turns only (a user message and its answer, never
//! one without the other). The kill point is random; only invariants are
//! asserted, never timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{body, create, get_json, id_of};
use crate::harness::eventually;
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::{Value, json};

/// Every item of a conversation, oldest first, through the list API's paging.
async fn all_items(r: &Relay, cid: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out
            .last()
            .map(|i| format!("&after={}", i["id"].as_str().unwrap()))
            .unwrap_or_default();
        let path = format!("/v1/conversations/{cid}/items?order=asc&limit=100{after}");
        let page = get_json(r, &path).await;
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return out;
        }
    }
}

/// Starts 200 requests at once: conversation turns (half of them streamed),
/// chained responses and plain streamed ones. Counts the answered ones.
fn load(
    r: &Relay,
    convs: &[String],
    root: &str,
    answered: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..200)
        .map(|i| {
            let b = match i % 3 {
                0 => body(
                    json!(format!("turn {i}")),
                    json!({"conversation": convs[i % convs.len()], "stream": i % 2 == 0}),
                ),
                1 => body(
                    json!(format!("resp {i}")),
                    json!({"previous_response_id": root}),
                ),
                _ => body(json!(format!("resp {i}")), json!({"stream": true})),
            };
            let request = r.post("/v1/responses", &b);
            let answered = Arc::clone(answered);
            tokio::spawn(async move {
                if let Ok(resp) = request.send().await
                    && resp.text().await.is_ok()
                {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

/// Whole turns only: user "turn N", then the assistant's "pong".
fn assert_whole_turns(cid: &str, items: &[Value]) {
    assert_eq!(items.len() % 2, 0, "a partial turn in {cid}: {items:?}");
    for pair in items.chunks(2) {
        assert_eq!(pair[0]["role"], "user", "{pair:?}");
        let text = pair[0]["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("turn "), "{pair:?}");
        assert_eq!(pair[1]["role"], "assistant", "{pair:?}");
        assert_eq!(pair[1]["content"][0]["text"], "pong");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_during_stored_responses_and_conversation_appends() {
    let mut r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_RATE_LIMIT_BURST", "100000".into()),
            ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "1000000".into()),
            ("AIRELAYS_CONCURRENT_REQUESTS_PER_IP", "1000".into()),
            ("AIRELAYS_MAX_CONNECTIONS_PER_IP", "1000".into()),
        ],
        ..RelayOptions::default()
    })
    .await;
    let mut convs = Vec::new();
    for _ in 0..8 {
        let resp = r
            .post("/v1/conversations", &json!({}))
            .send()
            .await
            .unwrap();
        convs.push(id_of(&resp.json().await.unwrap()));
    }
    let root = id_of(&create(&r, body(json!("root"), json!({}))).await);
    let answered = Arc::new(AtomicUsize::new(0));
    let kill_after = 20 + rand::random::<u32>() as usize % 130;
    let tasks = load(&r, &convs, &root, &answered);
    let reached = eventually(Duration::from_secs(60), async || {
        answered.load(Ordering::Relaxed) >= kill_after
    })
    .await;
    assert!(reached, "{} answered", answered.load(Ordering::Relaxed));
    r.kill();
    for t in tasks {
        let _ = t.await;
    }

    r.spawn();
    let check = r.sandbox.run(&["state", "check"]);
    assert!(check.status.success(), "{}", crate::harness::stderr(&check));
    for cid in &convs {
        assert_whole_turns(cid, &all_items(&r, cid).await);
    }
    // The store still works after the crash: continue a conversation and the chain.
    create(&r, body(json!("after"), json!({"conversation": convs[0]}))).await;
    create(
        &r,
        body(json!("after"), json!({"previous_response_id": root})),
    )
    .await;
}
