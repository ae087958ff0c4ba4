//! The `/__mock/*` control API and the standalone binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use airelays_mock::IssuedTokens;
use common::*;
use serde_json::{Value, json};

fn tokens_from(value: &Value) -> IssuedTokens {
    IssuedTokens {
        id_token: value["id_token"].as_str().unwrap().to_owned(),
        access_token: value["access_token"].as_str().unwrap().to_owned(),
        refresh_token: value["refresh_token"].as_str().unwrap().to_owned(),
        expires_in: value["expires_in"].as_u64().unwrap(),
        account_id: value["account_id"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn control_api_mints_tokens_queues_faults_and_reports_state() {
    let mock = start().await;
    let minted = post_json(&mock, "/__mock/tokens", &[], &json!({})).await;
    assert_eq!(minted.status, 200);
    let tokens = tokens_from(&minted.json());
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 200);

    let queued = post_json(
        &mock,
        "/__mock/faults",
        &[],
        &json!({"type": "cut_mid_stream"}),
    )
    .await;
    assert_eq!(
        (queued.status, queued.json()),
        (200, json!({"pending_faults": 1}))
    );
    assert!(!responses(&mock, &tokens, &body_for("hi")).await.complete);

    let queued = post_json(
        &mock,
        "/__mock/faults",
        &[],
        &json!({"type": "usage_limit", "resets_in_seconds": 7}),
    )
    .await;
    assert_eq!(queued.status, 200);
    let limited = responses(&mock, &tokens, &body_for("hi")).await;
    assert_eq!(limited.json()["error"]["resets_in_seconds"], 7);

    post_json(
        &mock,
        "/__mock/faults",
        &[],
        &json!({"type": "failed", "code": "insufficient_quota", "message": "no"}),
    )
    .await;
    let failed = responses(&mock, &tokens, &body_for("hi")).await;
    assert_eq!(
        event_json(&failed)[1]["response"]["error"],
        json!({"code": "insufficient_quota", "message": "no"})
    );

    let bad = post_json(&mock, "/__mock/faults", &[], &json!({"type": "nonsense"})).await;
    assert_eq!(bad.status, 400);
    let bad = post_json(
        &mock,
        "/__mock/faults",
        &[],
        &json!({"type": "huge_line", "bytes": "many"}),
    )
    .await;
    assert_eq!(bad.status, 400);

    let state = get(&mock, "/__mock/state", &[]).await.json();
    assert_eq!(state["responses_calls"], 4);
    assert_eq!(state["active_streams"], 0);
    assert_eq!(state["pending_faults"], 0);

    let requests = get(&mock, "/__mock/requests", &[]).await.json();
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 4, "control calls are not recorded");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["path"], "/backend-api/codex/responses");
    assert_eq!(requests[0]["body"]["input"][0]["role"], "user");
    assert!(
        requests[0]["headers"]["authorization"]
            .as_str()
            .unwrap()
            .starts_with("Bearer ")
    );

    let revoked = post_json(&mock, "/__mock/revoke-access-tokens", &[], &json!({})).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(responses(&mock, &tokens, &body_for("hi")).await.status, 401);

    post_json(&mock, "/__mock/faults", &[], &json!({"type": "500"})).await;
    assert_eq!(
        post_json(&mock, "/__mock/reset", &[], &json!({}))
            .await
            .status,
        200
    );
    let state = get(&mock, "/__mock/state", &[]).await.json();
    assert_eq!(
        (
            state["responses_calls"].clone(),
            state["pending_faults"].clone()
        ),
        (json!(0), json!(0))
    );
    assert!(
        get(&mock, "/__mock/requests", &[])
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(get(&mock, "/__mock/unknown", &[]).await.status, 404);
}

#[tokio::test]
async fn binary_prints_one_json_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airelays-mock"))
        .args(["--seed-tokens", "--access-token-lifetime", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let first: Value = serde_json::from_str(line.trim()).unwrap();
    let port = first["port"].as_u64().unwrap();
    assert_eq!(first["issuer_url"], format!("http://127.0.0.1:{port}"));
    assert_eq!(
        first["backend_url"],
        format!("http://127.0.0.1:{port}/backend-api/codex")
    );
    assert_eq!(first["tokens"]["expires_in"], 120);

    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let tokens = tokens_from(&first["tokens"]);
    let headers = auth(&tokens);
    let response = send(
        addr,
        "POST",
        "/backend-api/codex/responses",
        &[
            as_refs(&headers),
            vec![("content-type", "application/json")],
        ]
        .concat(),
        body_for("ECHO:from the binary").to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(streamed_text(&response), "from the binary");

    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn binary_rejects_unknown_arguments() {
    let output = Command::new(env!("CARGO_BIN_EXE_airelays-mock"))
        .arg("--listen-everywhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument"));
}
