//! The state store (issue 16): stored responses, `previous_response_id` chains,
//! retrieval and deletion, `item_reference` from the store after a restart,
//! conversations on `responses.create`, the byte bound, a corrupt database, and
//! `state.enabled = false`.

use crate::harness::relay::{Relay, RelayOptions, error_of, sse_events};
use crate::harness::{eventually, mode};
use serde_json::{Value, json};
use std::time::Duration;

/// Every text of every input item of an upstream request, in order.
fn input_texts(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for item in body["input"].as_array().into_iter().flatten() {
        match &item["content"] {
            Value::String(s) => out.push(s.clone()),
            Value::Array(parts) => out.extend(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .map(String::from),
            ),
            _ => {}
        }
        if let Some(o) = item["output"].as_str() {
            out.push(o.to_string());
        }
    }
    out
}

async fn create(r: &Relay, body: Value) -> Value {
    let resp = r.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{body}");
    resp.json().await.unwrap()
}

fn last_upstream(r: &Relay) -> Value {
    r.upstream_bodies().pop().expect("an upstream request")
}

#[tokio::test]
async fn chains_send_every_turn_upstream_and_survive_deletion_and_restart() {
    let mut r = Relay::start(RelayOptions::default()).await;
    let one = create(&r, json!({"model": "gpt-5.5", "input": "first turn"})).await;
    let id1 = one["id"].as_str().unwrap().to_string();
    assert_eq!(one["store"], true);

    // A streamed second turn: its id comes from response.completed.
    let resp = r
        .post("/v1/responses", &json!({"model": "gpt-5.5", "input": "second turn", "stream": true, "previous_response_id": id1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.unwrap());
    let done = events
        .iter()
        .find(|(e, _)| e.as_deref() == Some("response.completed"))
        .expect("completed");
    let id2 = done.1["response"]["id"].as_str().unwrap().to_string();
    let sent = last_upstream(&r);
    assert_eq!(input_texts(&sent), ["first turn", "pong", "second turn"]);
    assert!(sent.get("previous_response_id").is_none());
    assert_eq!(sent["store"], false);

    let three = create(&r, json!({"model": "gpt-5.5", "input": [{"role": "user", "content": "third turn"}], "previous_response_id": id2, "instructions": "only now"})).await;
    let id3 = three["id"].as_str().unwrap().to_string();
    assert_eq!(three["previous_response_id"], id2.as_str());
    assert_eq!(
        input_texts(&last_upstream(&r)),
        ["first turn", "pong", "second turn", "pong", "third turn"]
    );

    // Retrieval: the stored object, its own input only.
    let got: Value = r
        .get(&format!("/v1/responses/{id2}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id2.as_str());
    assert_eq!(got["previous_response_id"], id1.as_str());
    assert_eq!(got["output"][0]["content"][0]["text"], "pong");
    let items: Value = r
        .get(&format!("/v1/responses/{id3}/input_items"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"].as_array().unwrap().len(), 1);
    assert_eq!(items["data"][0]["content"][0]["text"], "third turn");
    assert!(items["data"][0]["id"].as_str().unwrap().starts_with("msg_"));

    // Deleting the middle turn hides it but keeps the chain whole.
    let del: Value = r
        .http
        .delete(r.url(&format!("/v1/responses/{id2}")))
        .header("authorization", r.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        del,
        json!({"id": id2, "object": "response", "deleted": true})
    );
    let (status, _, _) =
        error_of(r.get(&format!("/v1/responses/{id2}")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    let (status, _, e) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "previous_response_id": id2}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert_eq!(e["error"]["param"], "previous_response_id");
    assert_eq!(
        e["error"]["message"],
        format!("Previous response with id '{id2}' not found.")
    );

    // After a crash and a restart the chain is still whole, and an item_reference
    // to an output item of the first turn resolves from the store.
    let msg1 = one["output"][0]["id"].as_str().unwrap().to_string();
    r.kill();
    r.spawn();
    create(
        &r,
        json!({"model": "gpt-5.5", "input": "fourth turn", "previous_response_id": id3}),
    )
    .await;
    assert_eq!(
        input_texts(&last_upstream(&r)),
        [
            "first turn",
            "pong",
            "second turn",
            "pong",
            "third turn",
            "pong",
            "fourth turn"
        ]
    );
    create(&r, json!({"model": "gpt-5.5", "input": [{"role": "user", "content": "ref"}, {"type": "item_reference", "id": msg1}], "store": false})).await;
    let sent = last_upstream(&r);
    assert_eq!(input_texts(&sent), ["ref", "pong"]);
    assert!(
        sent["input"][1].get("id").is_none(),
        "replayed without its id"
    );
}

#[tokio::test]
async fn unknown_unstored_and_refused_requests() {
    let r = Relay::start(RelayOptions::default()).await;
    let (status, _, e) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "previous_response_id": "resp_nope"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert_eq!(
        e["error"]["message"],
        "Previous response with id 'resp_nope' not found."
    );

    let unstored = create(
        &r,
        json!({"model": "gpt-5.5", "input": "x", "store": false}),
    )
    .await;
    let id = unstored["id"].as_str().unwrap();
    let (status, _, _) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "y", "previous_response_id": id}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) =
        error_of(r.get(&format!("/v1/responses/{id}")).send().await.unwrap()).await;
    assert_eq!(status, 404);

    create(
        &r,
        json!({"model": "gpt-5.5", "input": "x", "background": false}),
    )
    .await;
    let (status, _, e) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "background": true}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (400, Some("background"))
    );

    // The database and its WAL files are private.
    let db = r.sandbox.data_dir().join("state.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    assert!(
        r.stderr_log().contains("state.enabled = false"),
        "the privacy line"
    );

    let status = r.relay_status().await;
    assert_eq!(
        status["state"]["responses"], 1,
        "only the stored one: {status}"
    );
    assert!(status["state"]["bytes"].as_u64().unwrap() > 0, "{status}");
}

#[tokio::test]
async fn a_conversation_prefixes_and_appends_whole_turns() {
    let r = Relay::start(RelayOptions::default()).await;
    let conv: Value = r
        .post(
            "/v1/conversations",
            &json!({"items": [{"role": "user", "content": "seed"}], "metadata": {"k": "v"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = conv["id"].as_str().unwrap().to_string();
    assert!(cid.starts_with("conv_"));
    assert_eq!(conv["object"], "conversation");
    create(
        &r,
        json!({"model": "gpt-5.5", "input": "first", "conversation": cid}),
    )
    .await;
    assert_eq!(input_texts(&last_upstream(&r)), ["seed", "first"]);
    let one = create(&r, json!({"model": "gpt-5.5", "input": "second", "conversation": {"id": cid}, "stream": false})).await;
    assert_eq!(one["conversation"]["id"], cid.as_str());
    assert_eq!(
        input_texts(&last_upstream(&r)),
        ["seed", "first", "pong", "second"]
    );
    let items: Value = r
        .get(&format!("/v1/conversations/{cid}/items?order=asc"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["data"].as_array().unwrap().len(), 5, "{items}");

    // A failed or cut response appends nothing.
    let resp = r
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "FAULT:500", "conversation": cid}),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_server_error());
    let resp = r
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "FAULT:cut", "conversation": cid, "stream": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    let items: Value = r
        .get(&format!("/v1/conversations/{cid}/items?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["data"].as_array().unwrap().len(), 5, "{items}");

    let (status, _, e) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "conversation": "conv_nope"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (404, Some("conversation"))
    );
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
    // Ten chains of three turns, each turn ~40 KB: far past 1 MiB in all.
    let filler = "z".repeat(40_000);
    let mut chains: Vec<Vec<String>> = Vec::new();
    for c in 0..10 {
        let mut ids: Vec<String> = Vec::new();
        for t in 0..3 {
            let mut body =
                json!({"model": "gpt-5.5", "input": format!("chain {c} turn {t} {filler}")});
            if let Some(prev) = ids.last() {
                body["previous_response_id"] = json!(prev);
            }
            let resp = r.post("/v1/responses", &body).send().await.unwrap();
            if resp.status() == 400 {
                // The chain was evicted whole meanwhile: never a shortened context.
                let (_, _, e) = error_of(resp).await;
                assert_eq!(e["error"]["code"], "previous_response_not_found");
                break;
            }
            let v: Value = resp.json().await.unwrap();
            ids.push(v["id"].as_str().unwrap().to_string());
        }
        chains.push(ids);
    }
    let evicted = eventually(Duration::from_secs(20), async || {
        r.relay_status().await["state"]["bytes"].as_u64().unwrap() <= 1_048_576
    })
    .await;
    assert!(evicted, "the store stays within state.max_bytes");
    // Delete a middle turn of the newest chain.
    let newest = chains.last().unwrap().clone();
    assert_eq!(newest.len(), 3);
    let del = r
        .http
        .delete(r.url(&format!("/v1/responses/{}", newest[1])))
        .header("authorization", r.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    // Continue every chain: either every earlier turn is sent, or it is refused.
    let (mut continued, mut refused) = (0, 0);
    for (c, ids) in chains.iter().enumerate() {
        let Some(last) = ids.last() else { continue };
        let resp = r.post("/v1/responses", &json!({"model": "gpt-5.5", "input": format!("chain {c} next"), "previous_response_id": last})).send().await.unwrap();
        if resp.status() == 400 {
            let (_, _, e) = error_of(resp).await;
            assert_eq!(e["error"]["code"], "previous_response_not_found");
            refused += 1;
            continue;
        }
        assert_eq!(resp.status(), 200);
        let texts = input_texts(&last_upstream(&r));
        let turns = texts
            .iter()
            .filter(|t| t.starts_with(&format!("chain {c} turn")))
            .count();
        assert_eq!(turns, ids.len(), "chain {c} was sent whole");
        continued += 1;
    }
    assert!(continued >= 1, "the newest chain goes on");
    assert!(refused >= 1, "the oldest chains were evicted whole");
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
    create(&r, json!({"model": "gpt-5.5", "input": "still works"})).await;
    let (status, _, e) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "previous_response_id": "resp_1"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(e["error"]["code"], "state_unavailable");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("state.sqlite3") && message.contains("state.enabled"),
        "{message}"
    );
    let (status, _, _) = error_of(r.get("/v1/conversations/conv_x").send().await.unwrap()).await;
    assert_eq!(status, 503);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        garbage,
        "the file is left untouched"
    );
    let status = r.relay_status().await;
    assert!(
        status["state"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("state.sqlite3")),
        "{status}"
    );
}

#[tokio::test]
async fn state_disabled_restores_the_stateless_answers() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_STATE_ENABLED", "0".into())],
        ..RelayOptions::default()
    })
    .await;
    let (status, _, e) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "previous_response_id": "resp_1"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("unsupported_parameter"))
    );
    let (status, _, _) = error_of(
        r.post(
            "/v1/responses",
            &json!({"model": "gpt-5.5", "input": "x", "store": true}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = error_of(r.get("/v1/conversations/conv_x").send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert!(!r.sandbox.data_dir().join("state.sqlite3").exists());
}

/// Every item of a conversation, oldest first, through the list API's paging.
async fn all_items(r: &Relay, cid: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out
            .last()
            .map(|i| format!("&after={}", i["id"].as_str().unwrap()))
            .unwrap_or_default();
        let page: Value = r
            .get(&format!(
                "/v1/conversations/{cid}/items?order=asc&limit=100{after}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_during_stored_responses_and_conversation_appends() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
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
        let c: Value = r
            .post("/v1/conversations", &json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        convs.push(c["id"].as_str().unwrap().to_string());
    }
    let root = create(&r, json!({"model": "gpt-5.5", "input": "root"})).await;
    let root = root["id"].as_str().unwrap().to_string();
    let answered = Arc::new(AtomicUsize::new(0));
    let kill_after = 20 + rand::random::<u32>() as usize % 130;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let body = match i % 3 {
            0 => {
                json!({"model": "gpt-5.5", "input": format!("turn {i}"), "conversation": convs[i % convs.len()], "stream": i % 2 == 0})
            }
            1 => {
                json!({"model": "gpt-5.5", "input": format!("resp {i}"), "previous_response_id": root})
            }
            _ => json!({"model": "gpt-5.5", "input": format!("resp {i}"), "stream": true}),
        };
        let request = r.post("/v1/responses", &body);
        let answered = Arc::clone(&answered);
        tasks.push(tokio::spawn(async move {
            if let Ok(resp) = request.send().await
                && resp.text().await.is_ok()
            {
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
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
    let mut turns = 0;
    for cid in &convs {
        let items = all_items(&r, cid).await;
        assert_eq!(items.len() % 2, 0, "a partial turn in {cid}: {items:?}");
        for pair in items.chunks(2) {
            assert_eq!(pair[0]["role"], "user", "{pair:?}");
            assert!(
                pair[0]["content"][0]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("turn ")
            );
            assert_eq!(pair[1]["role"], "assistant", "{pair:?}");
            assert_eq!(pair[1]["content"][0]["text"], "pong");
        }
        turns += items.len() / 2;
    }
    // The store still works after the crash: continue a conversation and the chain.
    create(
        &r,
        json!({"model": "gpt-5.5", "input": "after", "conversation": convs[0]}),
    )
    .await;
    create(
        &r,
        json!({"model": "gpt-5.5", "input": "after", "previous_response_id": root}),
    )
    .await;
    assert!(turns <= 67, "{turns} turns");
}
