//! Ollama `/api/chat` and `/api/generate` requests → upstream body: any bytes give
//! a body or a 400 through both translators, never a panic; the upstream body has
//! `stream: true`, `store: false` and `input` as a list, the model has no tag, and
//! the disclosure header is a valid, bounded header value.
#![no_main]

use airelays::translate::{DEFAULT_UNSUPPORTED_PARAMETERS, TranslateOptions, ollama};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let unsupported: Vec<String> = DEFAULT_UNSUPPORTED_PARAMETERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for reasoning_summaries in [false, true] {
        let opts = TranslateOptions {
            unsupported_parameters: &unsupported,
            default_instructions: "You are a helpful assistant.",
            reasoning_summaries,
        };
        for result in [
            ollama::prepare_chat(data, &opts),
            ollama::prepare_generate(data, &opts),
        ] {
            match result {
                Ok(req) => {
                    assert_eq!(req.body.get("stream"), Some(&Value::Bool(true)));
                    assert_eq!(req.body.get("store"), Some(&Value::Bool(false)));
                    assert!(req.body.get("input").is_some_and(Value::is_array));
                    assert!(req.body.get("instructions").is_some_and(Value::is_string));
                    assert_eq!(
                        req.body.get("model"),
                        Some(&Value::from(req.model.as_str()))
                    );
                    assert!(!req.model.is_empty());
                    serde_json::to_vec(&req.body).expect("the upstream body serialises");
                    if let Some(h) =
                        airelays::translate::ignored_parameters_header(&req.ignored_parameters)
                    {
                        assert!(h.len() <= 2048);
                        http::HeaderValue::from_str(&h).expect("a valid header value");
                    }
                }
                Err(e) => {
                    assert!(!e.message.is_empty());
                    if let Some(p) = &e.param {
                        assert!(!p.contains(['\r', '\n']));
                    }
                }
            }
        }
    }
});
