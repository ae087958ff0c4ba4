//! The store's bounds and damage: eviction and deletion never shorten a chain, a
//! corrupt database leaves stateless requests working, and `state.enabled = false`
//! restores the stateless answers.

use super::{body, create, delete, get_status, id_of, input_texts, last_upstream, refused};
use crate::harness::eventually;
use crate::harness::relay::{Relay, RelayOptions};
use serde_json::json;
use std::time::Duration;

/// Chains of three ~40 KB turns, ten of them: far past a 1 MiB store. A chain
/// evicted while it is built ends early, refused as a whole.
async fn fill(r: &Relay) -> Vec<Vec<String>> {
    let filler = "z".repeat(40_000);
    let mut chains = Vec::new();
    for c in 0..10 {
        let mut ids: Vec<String> = Vec::new();
        for t in 0..3 {
            let extra = match ids.last() {
                Some(prev) => json!({"previous_response_id": prev}),
                None => json!({}),
            };
            let b = body(json!(format!("chain {c} turn {t} {filler}")), extra);
            let resp = r.post("/v1/responses", &b).send().await.unwrap();
            if resp.status() == 400 {
                break;
            }
            ids.push(id_of(&resp.json().await.unwrap()));
        }
        chains.push(ids);
    }
    chains
}

#[tokio::test]
async fn eviction_and_deletion_never_shorten_a_chain() {
    let r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_STATE_MAX_BYTES", "1048576".into()),
            ("AIRELAYS_RATE_LIMIT_BURST", "10000".into()),
            ("AIRELAYS_RATE_LIMIT_PER_MINUTE", "100000".into()),
        ],
        ..RelayOptions::default()
    })
    .await;
    let chains = fill(&r).await;
    let evicted = eventually(Duration::from_secs(20), async || {
        r.relay_status().await["state"]["bytes"].as_u64().unwrap() <= 1_048_576
    })
    .await;
    assert!(evicted, "the store stays within state.max_bytes");
    // Delete a middle turn of the newest chain.
    let newest = chains.last().unwrap().clone();
    assert_eq!(newest.len(), 3);
    let del = delete(&r, &format!("/v1/responses/{}", newest[1])).await;
    assert_eq!(del.status(), 200);
    // Continue every chain: either every earlier turn is sent, or it is refused.
    let (mut continued, mut refusals) = (0, 0);
    for (c, ids) in chains.iter().enumerate() {
        let Some(last) = ids.last() else { continue };
        let b = body(
            json!(format!("chain {c} next")),
            json!({"previous_response_id": last}),
        );
        let resp = r.post("/v1/responses", &b).send().await.unwrap();
        if resp.status() == 400 {
            let (_, e) = refused(&r, b).await;
            assert_eq!(e["error"]["code"], "previous_response_not_found");
            refusals += 1;
            continue;
        }
        assert_eq!(resp.status(), 200);
        let texts = input_texts(&last_upstream(&r));
        let prefix = format!("chain {c} turn");
        let turns = texts.iter().filter(|t| t.starts_with(&prefix)).count();
        assert_eq!(turns, ids.len(), "chain {c} was sent whole");
        continued += 1;
    }
    assert!(continued >= 1, "the newest chain goes on");
    assert!(refusals >= 1, "the oldest chains were evicted whole");
}

#[tokio::test]
async fn a_corrupt_database_leaves_stateless_requests_working() {
    let mut r = Relay::start(RelayOptions::default()).await;
    r.kill();
    let db = r.sandbox.data_dir().join("state.sqlite3");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let garbage = b"this is not a database, it is a note someone left here".repeat(100);
    std::fs::write(&db, &garbage).unwrap();
    r.spawn();
    create(&r, body(json!("still works"), json!({}))).await;
    let (status, e) = refused(
        &r,
        body(json!("x"), json!({"previous_response_id": "resp_1"})),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(e["error"]["code"], "state_unavailable");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("state.sqlite3") && message.contains("state.enabled"),
        "{message}"
    );
    assert_eq!(get_status(&r, "/v1/conversations/conv_x").await, 503);
    let same = std::fs::read(&db).unwrap() == garbage;
    assert!(same, "the file is left untouched");
    let status = r.relay_status().await;
    let error = status["state"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("state.sqlite3"), "{status}");
    let check = r.sandbox.run(&["state", "check"]);
    assert!(!check.status.success(), "state check reports the damage");
}

#[tokio::test]
async fn state_disabled_restores_the_stateless_answers() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_STATE_ENABLED", "0".into())],
        ..RelayOptions::default()
    })
    .await;
    let (status, e) = refused(
        &r,
        body(json!("x"), json!({"previous_response_id": "resp_1"})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("unsupported_parameter"))
    );
    let (status, _) = refused(&r, body(json!("x"), json!({"store": true}))).await;
    assert_eq!(status, 400);
    assert_eq!(get_status(&r, "/v1/conversations/conv_x").await, 404);
    assert!(!r.sandbox.data_dir().join("state.sqlite3").exists());
}
