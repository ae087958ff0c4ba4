//! The state store (issue 16): stored responses, `previous_response_id` chains,
//! retrieval and deletion, `item_reference` from the store after a restart and
//! conversations on `responses.create` (here); the byte bound, a corrupt
//! database and `state.enabled = false` (`bounds`); `kill -9` under load
//! (`crash`).

mod bounds;
mod crash;

use crate::harness::mode;
use crate::harness::relay::{Relay, RelayOptions, error_of, sse_events};
use serde_json::{Value, json};

/// Every text of every input item of an upstream request, in order.
fn input_texts(body: &Value) -> Vec<String> {
    crate::harness::relay::input_texts(body, false)
}

/// A `/v1/responses` body for `input`, with `extra` fields merged in.
fn body(input: Value, extra: Value) -> Value {
    let mut b = json!({"model": "gpt-5.5", "input": input});
    for (k, v) in extra.as_object().into_iter().flatten() {
        b[k] = v.clone();
    }
    b
}

/// Creates a response that must succeed; returns it.
async fn create(r: &Relay, body: Value) -> Value {
    let resp = r.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{body}");
    resp.json().await.unwrap()
}

/// Creates a response that must fail; returns the status and the error body.
async fn refused(r: &Relay, body: Value) -> (u16, Value) {
    let (status, _, e) = error_of(r.post("/v1/responses", &body).send().await.unwrap()).await;
    (status, e)
}

async fn get_json(r: &Relay, path: &str) -> Value {
    r.get(path).send().await.unwrap().json().await.unwrap()
}

async fn get_status(r: &Relay, path: &str) -> u16 {
    r.get(path).send().await.unwrap().status().as_u16()
}

async fn delete(r: &Relay, path: &str) -> reqwest::Response {
    r.http
        .delete(r.url(path))
        .header("authorization", r.bearer())
        .send()
        .await
        .unwrap()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn last_upstream(r: &Relay) -> Value {
    r.upstream_bodies().pop().expect("an upstream request")
}

/// A chain of three turns (the second one streamed); returns the responses.
async fn three_turns(r: &Relay) -> Vec<Value> {
    let one = create(r, body(json!("first turn"), json!({}))).await;
    assert_eq!(one["store"], true);
    let extra = json!({"stream": true, "previous_response_id": id_of(&one)});
    let resp = r
        .post("/v1/responses", &body(json!("second turn"), extra))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.unwrap());
    let (_, done) = events
        .iter()
        .find(|(e, _)| e.as_deref() == Some("response.completed"))
        .expect("completed");
    let two = done["response"].clone();
    let input = json!([{"role": "user", "content": "third turn"}]);
    let extra = json!({"previous_response_id": id_of(&two), "instructions": "only now"});
    let three = create(r, body(input, extra)).await;
    assert_eq!(three["previous_response_id"], id_of(&two).as_str());
    vec![one, two, three]
}

#[tokio::test]
async fn chains_send_every_turn_upstream_and_store_only_the_new_input() {
    let r = Relay::start(RelayOptions::default()).await;
    let turns = three_turns(&r).await;
    let sent = last_upstream(&r);
    assert_eq!(
        input_texts(&sent),
        ["first turn", "pong", "second turn", "pong", "third turn"]
    );
    assert!(sent.get("previous_response_id").is_none());
    assert_eq!(sent["store"], false);
    assert_eq!(sent["instructions"], "only now");

    // Retrieval: the stored object, its own input only.
    let (id1, id2, id3) = (id_of(&turns[0]), id_of(&turns[1]), id_of(&turns[2]));
    let got = get_json(&r, &format!("/v1/responses/{id2}")).await;
    assert_eq!(got["id"], id2.as_str());
    assert_eq!(got["previous_response_id"], id1.as_str());
    assert_eq!(got["output"][0]["content"][0]["text"], "pong");
    let items = get_json(&r, &format!("/v1/responses/{id3}/input_items")).await;
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"].as_array().unwrap().len(), 1);
    assert_eq!(items["data"][0]["content"][0]["text"], "third turn");
    assert!(items["data"][0]["id"].as_str().unwrap().starts_with("msg_"));
}

#[tokio::test]
async fn a_deleted_middle_turn_keeps_its_chain_whole_across_a_crash() {
    let mut r = Relay::start(RelayOptions::default()).await;
    let turns = three_turns(&r).await;
    let (id2, id3) = (id_of(&turns[1]), id_of(&turns[2]));
    let del: Value = delete(&r, &format!("/v1/responses/{id2}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        del,
        json!({"id": id2, "object": "response", "deleted": true})
    );
    assert_eq!(get_status(&r, &format!("/v1/responses/{id2}")).await, 404);
    let (status, e) = refused(&r, body(json!("x"), json!({"previous_response_id": id2}))).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert_eq!(e["error"]["param"], "previous_response_id");
    assert_eq!(
        e["error"]["message"],
        format!("Previous response with id '{id2}' not found.")
    );

    // After a crash and a restart the chain is still whole, and an item_reference
    // to an output item of the first turn resolves from the store.
    let msg1 = turns[0]["output"][0]["id"].as_str().unwrap().to_string();
    r.kill();
    r.spawn();
    create(
        &r,
        body(json!("fourth"), json!({"previous_response_id": id3})),
    )
    .await;
    let texts = input_texts(&last_upstream(&r));
    assert_eq!(texts.len(), 7, "{texts:?}");
    assert_eq!(
        (texts[0].as_str(), texts[6].as_str()),
        ("first turn", "fourth")
    );
    let input = json!([{"role": "user", "content": "ref"}, {"type": "item_reference", "id": msg1}]);
    create(&r, body(input, json!({"store": false}))).await;
    let sent = last_upstream(&r);
    assert_eq!(input_texts(&sent), ["ref", "pong"]);
    assert!(
        sent["input"][1].get("id").is_none(),
        "replayed without its id"
    );
    let privacy = r
        .stderr_log()
        .matches("keeps /v1/responses answers")
        .count();
    assert_eq!(
        privacy, 1,
        "the privacy line is printed on the first start only"
    );

    // `state clear` wipes the store under a running relay.
    let out = r.sandbox.run(&["state", "clear"]);
    assert!(out.status.success(), "{}", crate::harness::stderr(&out));
    assert_eq!(get_status(&r, &format!("/v1/responses/{id3}")).await, 404);
    let (status, _) = refused(&r, body(json!("x"), json!({"previous_response_id": id3}))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unknown_unstored_and_refused_requests() {
    let r = Relay::start(RelayOptions::default()).await;
    let unknown = json!({"previous_response_id": "resp_nope"});
    let (status, e) = refused(&r, body(json!("x"), unknown)).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert_eq!(
        e["error"]["message"],
        "Previous response with id 'resp_nope' not found."
    );

    let unstored = create(&r, body(json!("x"), json!({"store": false}))).await;
    let id = id_of(&unstored);
    let (status, _) = refused(&r, body(json!("y"), json!({"previous_response_id": id}))).await;
    assert_eq!(status, 400);
    assert_eq!(get_status(&r, &format!("/v1/responses/{id}")).await, 404);

    create(&r, body(json!("x"), json!({"background": false}))).await;
    let (status, e) = refused(&r, body(json!("x"), json!({"background": true}))).await;
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
    // The writer counts what it wrote; the store:false answer is never counted.
    r.wait_for_status("the stored response is written", |s| {
        s["live"]["state"]["written"] == 1
    })
    .await;
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
    let seed = json!({"items": [{"role": "user", "content": "seed"}], "metadata": {"k": "v"}});
    let conv: Value = r
        .post("/v1/conversations", &seed)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = id_of(&conv);
    assert!(cid.starts_with("conv_"));
    assert_eq!(conv["object"], "conversation");
    create(&r, body(json!("first"), json!({"conversation": cid}))).await;
    assert_eq!(input_texts(&last_upstream(&r)), ["seed", "first"]);
    let extra = json!({"conversation": {"id": cid}});
    let one = create(&r, body(json!("second"), extra)).await;
    assert_eq!(one["conversation"]["id"], cid.as_str());
    assert_eq!(
        input_texts(&last_upstream(&r)),
        ["seed", "first", "pong", "second"]
    );
    let items_path = format!("/v1/conversations/{cid}/items?limit=100");
    let count = async || {
        get_json(&r, &items_path).await["data"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count().await, 5);

    // A failed or cut response appends nothing.
    let resp = r
        .post(
            "/v1/responses",
            &body(json!("FAULT:500"), json!({"conversation": cid})),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_server_error());
    let extra = json!({"conversation": cid, "stream": true});
    let resp = r
        .post("/v1/responses", &body(json!("FAULT:cut"), extra))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    assert_eq!(count().await, 5);

    let (status, e) = refused(&r, body(json!("x"), json!({"conversation": "conv_nope"}))).await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (404, Some("conversation"))
    );
}

#[tokio::test]
async fn stored_files_are_inlined_again_on_replay_and_a_deleted_one_is_named() {
    let r = Relay::start(RelayOptions::default()).await;
    let (status, file) = r
        .upload("notes.txt", "text/plain", b"the notes say 42")
        .await;
    assert_eq!(status, 200, "{file}");
    let fid = id_of(&file);
    let part = json!({"type": "input_file", "file_id": fid});
    let input =
        json!([{"role": "user", "content": [{"type": "input_text", "text": "read"}, part]}]);
    let one = create(&r, body(input, json!({}))).await;
    let stored = get_json(&r, &format!("/v1/responses/{}/input_items", id_of(&one))).await;
    assert_eq!(
        stored["data"][0]["content"][1]["file_id"],
        fid.as_str(),
        "kept before inlining"
    );
    let extra = json!({"previous_response_id": id_of(&one)});
    let two = create(&r, body(json!("again"), extra)).await;
    let replay = last_upstream(&r).to_string();
    assert!(
        replay.contains("the notes say 42"),
        "inlined again: {replay}"
    );

    assert_eq!(delete(&r, &format!("/v1/files/{fid}")).await.status(), 200);
    let extra = json!({"previous_response_id": id_of(&two)});
    let (status, e) = refused(&r, body(json!("third"), extra)).await;
    assert_eq!(status, 400);
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&fid) && message.contains(&id_of(&one)),
        "{message}"
    );
}
