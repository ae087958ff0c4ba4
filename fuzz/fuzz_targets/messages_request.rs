//! Anthropic Messages request → upstream body: any bytes give a body or a 400,
//! never a panic; the upstream body always has `stream: true`, `store: false`
//! and `input` as a list, and serialises; the disclosure header is a valid,
//! bounded header value; counting and model-alias resolution never panic.
#![no_main]

use airelays::translate::messages::models::{self, CatalogueModel};
use airelays::translate::messages::{Messages, MessagesOptions, count};
use airelays::translate::{DEFAULT_UNSUPPORTED_PARAMETERS, TranslateOptions};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn catalogue() -> Vec<CatalogueModel> {
    let models = json!([
        {"slug":"gpt-5.5","priority":0,"default_reasoning_level":"medium",
            "supported_reasoning_levels":[{"effort":"low"},{"effort":"medium"},{"effort":"high"}]},
        {"slug":"gpt-5.4-mini","priority":2,"visibility":"list"}
    ]);
    models
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(CatalogueModel::from_json)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let unsupported: Vec<String> = DEFAULT_UNSUPPORTED_PARAMETERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let opts = TranslateOptions {
        unsupported_parameters: &unsupported,
        default_instructions: "You are a helpful assistant.",
        reasoning_summaries: false,
    };
    let session = MessagesOptions {
        session: Some("fuzz-session"),
        ..MessagesOptions::default()
    };
    match Messages::prepare_with(data, &opts, &session) {
        Ok(prepared) => {
            let mut body = prepared.upstream.body;
            assert_eq!(body.get("stream"), Some(&Value::Bool(true)));
            assert_eq!(body.get("store"), Some(&Value::Bool(false)));
            assert!(body.get("input").is_some_and(Value::is_array));
            assert!(body.get("instructions").is_some_and(Value::is_string));
            assert!(body.get("prompt_cache_key").is_some_and(Value::is_string));
            if let Some(h) =
                airelays::translate::ignored_parameters_header(&prepared.upstream.ignored_parameters)
            {
                assert!(h.len() <= 2048);
                http::HeaderValue::from_str(&h).expect("a valid header value");
            }
            let counted = count::count_input(&body);
            let estimate = count::estimate_input_tokens(&body);
            let bytes = u64::try_from(counted.text.len()).unwrap_or(u64::MAX);
            assert!(estimate >= bytes / count::BYTES_PER_TOKEN);
            let cat = catalogue();
            let map = models::resolve_map(&[], &cat);
            let choice = models::choose(&prepared.upstream.model, &map, &cat);
            models::apply_choice(&mut body, &choice, &cat);
            assert_eq!(body.get("model"), Some(&Value::String(choice.model)));
            if body.contains_key("reasoning") {
                let include = body.get("include").and_then(Value::as_array);
                assert!(include.is_some_and(|i| i.iter().any(|e| e == "reasoning.encrypted_content")));
            }
            serde_json::to_vec(&body).expect("the upstream body serialises");
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            if let Some(p) = &e.param {
                assert!(!p.contains(['\r', '\n']));
            }
        }
    }
});
