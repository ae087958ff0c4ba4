//! `/v1/models`: the catalogue as the backend lists it, and the fallback list when
//! the catalogue is down.

use crate::harness::relay::{Relay, RelayOptions, error_of, expect_error};
use serde_json::{Value, json};

#[tokio::test]
async fn models_catalogue() {
    let r = Relay::start(RelayOptions {
        env: vec![("AIRELAYS_EXTRA_MODELS", "my-local-alias".into())],
        ..Default::default()
    })
    .await;
    let list: Value = r
        .get("/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"gpt-5.5") && ids.contains(&"my-local-alias"));
    assert!(
        !ids.contains(&"codex-auto-review"),
        "hidden models are not listed"
    );
    for m in list["data"].as_array().unwrap() {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_i64() && m["owned_by"].is_string());
    }
    let one: Value = r
        .get("/v1/models/GPT-5.4")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "gpt-5.4");
    let (_, b) = expect_error(r.get("/v1/models/gpt-5.44"), 404, "model_not_found").await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("gpt-5.4"),
        "{b}"
    );
    let (s, _, _) = error_of(
        r.post("/v1/responses", &json!({"model": "gpt-9", "input": "hi"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    // Cached: one catalogue fetch for all of the above.
    assert_eq!(r.mock().state().models_calls(), 1);
}

#[tokio::test]
async fn models_fail_open_when_the_catalogue_is_down() {
    let r = Relay::start(RelayOptions::default()).await;
    r.mock().state().set_models_failure(true);
    let resp = r
        .post(
            "/v1/responses",
            &json!({"model": "some-new-model", "input": "hi"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "forwarded without a catalogue");
    assert_eq!(
        r.mock()
            .state()
            .last_request_to("/backend-api/codex/responses")
            .unwrap()
            .body["model"],
        "some-new-model"
    );
}
