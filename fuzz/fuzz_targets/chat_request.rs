//! Chat Completions request → upstream body: any bytes give a body or a 400, never a
//! panic; the disclosure header is always a valid, bounded header value.
#![no_main]

use airelays::translate::{DEFAULT_UNSUPPORTED_PARAMETERS, TranslateOptions, chat_request};
use libfuzzer_sys::fuzz_target;

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
        match chat_request::prepare(data, &opts) {
            Ok((req, _info)) => {
                assert_eq!(req.body.get("stream"), Some(&serde_json::Value::Bool(true)));
                assert_eq!(req.body.get("store"), Some(&serde_json::Value::Bool(false)));
                assert!(req.body.get("input").is_some_and(|v| v.is_array()));
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
});
