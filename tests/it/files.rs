//! `/v1/files` over plain HTTP: upload limits and quotas, references that cannot be
//! inlined, and a relay killed mid-upload. (The SDKs' own file round trips are in
//! `clients::sdk`; crash loops over uploads are in `crash`.)

use crate::harness::relay::{Relay, RelayOptions, expect_error};
use crate::harness::{multipart, multipart_head};
use serde_json::{Value, json};

async fn list_files(r: &Relay) -> Vec<Value> {
    let listed: Value = r
        .get("/v1/files")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["data"].as_array().expect("data").clone()
}

/// Names in `<data_dir>/uploads/<sub>`.
fn upload_dir_entries(r: &Relay, sub: &str) -> Vec<String> {
    let dir = r.sandbox.data_dir().join("uploads").join(sub);
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    }
}

#[tokio::test]
async fn upload_limits_refuse_without_storing_anything() {
    let r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_MAX_UPLOAD_BYTES", "1000".into()),
            ("AIRELAYS_MAX_TOTAL_UPLOAD_BYTES", "2500".into()),
        ],
        ..Default::default()
    })
    .await;

    let (_, b) = expect_error(
        r.upload_request()
            .body(multipart("big.bin", "application/octet-stream", &[7; 1001])),
        413,
        "upload_too_large",
    )
    .await;
    assert_eq!(b["error"]["type"], "invalid_request_error", "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("1000"),
        "{b}"
    );
    assert_eq!(list_files(&r).await, Vec::<Value>::new());
    assert_eq!(
        upload_dir_entries(&r, "objects"),
        Vec::<String>::new(),
        "no bytes kept"
    );
    assert_eq!(
        upload_dir_entries(&r, "tmp"),
        Vec::<String>::new(),
        "no temp file left"
    );

    for name in ["a.bin", "b.bin"] {
        let (s, b) = r.upload(name, "application/octet-stream", &[1; 1000]).await;
        assert_eq!(s, 200, "exactly the per-file limit is fine: {b}");
    }
    let (_, b) = expect_error(
        r.upload_request()
            .body(multipart("c.bin", "application/octet-stream", &[2; 1000])),
        413,
        "upload_quota_exceeded",
    )
    .await;
    assert_eq!(b["error"]["type"], "invalid_request_error", "{b}");
    assert_eq!(list_files(&r).await.len(), 2);
    assert_eq!(upload_dir_entries(&r, "objects").len(), 2);
    assert_eq!(upload_dir_entries(&r, "tmp"), Vec::<String>::new());
    let status = r.relay_status().await;
    assert_eq!(
        (
            status["uploads"]["files"].as_u64(),
            status["uploads"]["bytes"].as_u64()
        ),
        (Some(2), Some(2000))
    );
    // What is left of the quota can still be used.
    let (s, b) = r
        .upload("d.bin", "application/octet-stream", &[3; 500])
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn referenced_files_that_cannot_be_inlined_are_refused_before_the_upstream() {
    let r = Relay::start(RelayOptions::default()).await;
    let chat_with = |part: Value| json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": [{"type": "text", "text": "look"}, part]}]});

    // The default inline limit is 1,000,000 bytes: exactly that is sent, one more is 422.
    let (s, at_limit) = r
        .upload("limit.txt", "text/plain", &vec![b'a'; 1_000_000])
        .await;
    assert_eq!(s, 200, "{at_limit}");
    let (s, over) = r
        .upload("over.txt", "text/plain", &vec![b'a'; 1_000_001])
        .await;
    assert_eq!(s, 200, "{over}");
    let resp = r
        .post(
            "/v1/chat/completions",
            &chat_with(json!({"type": "file", "file": {"file_id": at_limit["id"]}})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = r.upstream_parts_for("look");
    assert_eq!(
        sent[1]["text"].as_str().unwrap().len(),
        "Uploaded file `limit.txt` (text/plain):\n\n".len() + 1_000_000
    );

    let calls = r.mock().state().responses_calls();
    for (what, part, code, status) in [
        (
            "text over the inline limit",
            json!({"type": "file", "file": {"file_id": over["id"]}}),
            Some("unsupported_file"),
            422,
        ),
        (
            "unknown file id",
            json!({"type": "file", "file": {"file_id": "file-doesnotexist000000000"}}),
            None,
            400,
        ),
    ] {
        let resp = r
            .post("/v1/chat/completions", &chat_with(part))
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        let b: Value = resp.json().await.unwrap();
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, code),
            "{what}: {b}"
        );
        if status == 400 {
            let m = b["error"]["message"].as_str().unwrap();
            assert!(
                m.contains("file-doesnotexist000000000") && m.contains("POST /v1/files"),
                "{m}"
            );
        }
    }

    // A file that claims to be a PNG but is not one, referenced from both APIs.
    let (s, fake) = r
        .upload("fake.png", "image/png", b"this is not a png")
        .await;
    assert_eq!(s, 200, "{fake}");
    let chat = r.post(
        "/v1/chat/completions",
        &chat_with(json!({"type": "image_url", "image_url": {"file_id": fake["id"]}})),
    );
    let (_, b) = expect_error(chat, 422, "unsupported_file").await;
    assert_eq!(b["error"]["type"], "invalid_request_error", "{b}");
    let responses = json!({"model": "gpt-5.5", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": fake["id"]}]}]});
    let resp = r.post("/v1/responses", &responses);
    let (_, b) = expect_error(resp, 422, "unsupported_file").await;
    assert_eq!(b["error"]["type"], "invalid_request_error", "{b}");
    assert_eq!(
        r.mock().state().responses_calls(),
        calls,
        "no refused request reached the upstream"
    );
}

#[tokio::test]
async fn a_relay_killed_mid_upload_restarts_with_no_partial_file_and_an_exact_quota() {
    const LARGE: usize = 20 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let small = b"kept across the crash\n";
    let mut r = Relay::start(RelayOptions {
        env: vec![
            ("AIRELAYS_MAX_UPLOAD_BYTES", LARGE.to_string()),
            (
                "AIRELAYS_MAX_TOTAL_UPLOAD_BYTES",
                (LARGE + small.len()).to_string(),
            ),
        ],
        ..Default::default()
    })
    .await;
    let (s, kept) = r.upload("kept.txt", "text/plain", small).await;
    assert_eq!(s, 200, "{kept}");
    let before = r.sandbox.status_json().await;
    assert_eq!(
        (
            before["uploads"]["files"].as_u64(),
            before["uploads"]["bytes"].as_u64()
        ),
        (Some(1), Some(small.len() as u64))
    );

    // A 20 MB upload whose bytes the test hands over chunk by chunk, never finishing.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
    });
    let request = r
        .upload_request()
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let in_flight = tokio::spawn(request);
    tx.send(multipart_head("large.bin", "application/octet-stream"))
        .await
        .unwrap();

    // Send until the relay's temp file holds at least 1 MiB (bounded: at most the
    // whole file, then a bounded wait).
    let part_size = || -> u64 {
        let tmp = r.sandbox.data_dir().join("uploads/tmp");
        upload_dir_entries(&r, "tmp")
            .iter()
            .filter(|n| n.ends_with(".part"))
            .filter_map(|n| std::fs::metadata(tmp.join(n)).ok())
            .map(|m| m.len())
            .sum()
    };
    let mut sent = 0;
    while part_size() < 1024 * 1024 && sent + CHUNK < LARGE {
        tx.send(vec![b'x'; CHUNK]).await.unwrap();
        sent += CHUNK;
    }
    for _ in 0..500 {
        if part_size() >= 1024 * 1024 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        part_size() >= 1024 * 1024,
        "the upload never reached the relay's temp file"
    );
    assert_eq!(
        list_files(&r).await.len(),
        1,
        "an upload in progress is not listed"
    );

    r.kill();
    let result = in_flight.await.unwrap();
    assert!(
        result.is_err() || result.unwrap().status() != 200,
        "the killed upload did not succeed"
    );
    drop(tx);
    assert_eq!(
        upload_dir_entries(&r, "tmp").len(),
        1,
        "the crash left its temp file behind"
    );

    r.spawn();
    let files = list_files(&r).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["id"], kept["id"]);
    assert_eq!(
        upload_dir_entries(&r, "tmp"),
        Vec::<String>::new(),
        "the restart removed the partial upload"
    );
    assert_eq!(
        upload_dir_entries(&r, "objects"),
        vec![kept["id"].as_str().unwrap().to_string()]
    );
    let after = r.sandbox.status_json().await;
    assert_eq!(
        after["uploads"], before["uploads"],
        "the quota is exactly what it was"
    );
    let content = r
        .get(&format!(
            "/v1/files/{}/content",
            kept["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), small);

    // No quota leaked: the rest of the total is still available, to the byte.
    let (s, b) = r
        .upload("large.bin", "application/octet-stream", &vec![b'y'; LARGE])
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = expect_error(
        r.upload_request()
            .body(multipart("one.bin", "application/octet-stream", b"1")),
        413,
        "upload_quota_exceeded",
    )
    .await;
    assert_eq!(b["error"]["type"], "invalid_request_error", "{b}");
}
