//! Tests of the Messages dialect: requests from a body shaped like Claude
//! Code's (`fixtures/claude_code.json`), answers, aliases, counting; the stream
//! grammar is in `tests/stream.rs`.

mod stream;

use serde_json::{Value, json};

use super::models::{self, AliasRule, CatalogueModel};
use super::*;
use crate::translate::{DEFAULT_UNSUPPORTED_PARAMETERS, UpstreamRequest};

const CLAUDE_CODE: &str = include_str!("fixtures/claude_code.json");

fn opts() -> TranslateOptions<'static> {
    static UNSUPPORTED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TranslateOptions {
        unsupported_parameters: UNSUPPORTED.get_or_init(|| {
            DEFAULT_UNSUPPORTED_PARAMETERS
                .iter()
                .map(|s| s.to_string())
                .collect()
        }),
        default_instructions: "You are a helpful assistant.",
        reasoning_summaries: false,
    }
}

fn prepare(body: &Value) -> Result<Prepared<Messages>, TranslateError> {
    Messages::prepare(body.to_string().as_bytes(), &opts())
}

fn upstream(body: Value) -> UpstreamRequest {
    match prepare(&body) {
        Ok(p) => p.upstream,
        Err(e) => panic!("{body} was refused: {e}"),
    }
}

fn refused(body: Value) -> TranslateError {
    match prepare(&body) {
        Ok(p) => panic!("accepted: {:?}", p.upstream.body),
        Err(e) => e,
    }
}

fn simple(extra: Value) -> Value {
    let mut body = json!({"model":"claude-sonnet-4-5","max_tokens":1024,
        "messages":[{"role":"user","content":"Hi"}]});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

fn input(body: Value) -> Vec<Value> {
    upstream(body).body["input"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn claude_code() -> Value {
    serde_json::from_str(CLAUDE_CODE).unwrap_or(Value::Null)
}

#[test]
fn claude_code_request_translates_every_field() {
    let req = upstream(claude_code());
    let body = &req.body;
    assert_eq!(req.model, "claude-sonnet-4-5-20250929[1m]");
    assert!(req.client_stream);
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["store"], json!(false));
    let instructions = body["instructions"].as_str().unwrap_or_default();
    assert!(!instructions.contains("x-anthropic-billing-header"));
    assert!(instructions.starts_with("You are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool"));
    assert_eq!(
        body["reasoning"],
        json!({"summary":"auto"}),
        "adaptive thinking leaves the effort to the alias"
    );
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["tool_choice"], json!("auto"));
    assert_eq!(
        body["tools"][0],
        json!({"type":"function","name":"Bash","description":"Executes a bash command.",
            "parameters":{"type":"object","properties":{"command":{"type":"string"},"description":{"type":"string"}},
                "required":["command"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"},
            "strict":false})
    );
    for tool in body["tools"].as_array().into_iter().flatten() {
        assert!(tool.get("cache_control").is_none() && tool.get("defer_loading").is_none());
    }
    assert_eq!(body["tools"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        req.ignored_parameters,
        [
            "max_tokens",
            "context_management",
            "metadata",
            "temperature",
            "content.thinking",
            "content.mystery_block_2027"
        ]
    );
    let key = body["prompt_cache_key"].as_str().unwrap_or_default();
    assert_eq!(
        key,
        prompt_cache_key(
            "5e6f7a8b-1111-4222-8333-444455556666",
            None,
            "claude-sonnet-4-5-20250929[1m]"
        )
    );
}

#[test]
fn claude_code_history_becomes_items_in_order() {
    let items = input(claude_code());
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| {
            i.get("role")
                .or(i.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "user",
            "reasoning",
            "assistant",
            "function_call",
            "function_call_output",
            "function_call_output",
            "user",
            "developer"
        ]
    );
    assert_eq!(
        items[0]["content"][2],
        json!({"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk","detail":"auto"})
    );
    assert_eq!(
        items[1],
        json!({"type":"reasoning","summary":[{"type":"summary_text","text":"The user wants a listing."}],
            "encrypted_content":"gAAAAABoZW5jLXJz"})
    );
    assert_eq!(
        items[2]["content"],
        json!([{"type":"output_text","text":"I'll list the files."}])
    );
    assert_eq!(
        items[3],
        json!({"type":"function_call","call_id":"toolu_01A","name":"Bash",
            "arguments":"{\"command\":\"ls\",\"description\":\"List files\"}"})
    );
    assert_eq!(
        items[4],
        json!({"type":"function_call_output","call_id":"toolu_01A","output":"Cargo.toml\nsrc"})
    );
    assert_eq!(items[5]["output"], json!("Error: command not found"));
    assert_eq!(
        items[6]["content"],
        json!([{"type":"input_text","text":"Thanks. Now explain src."}])
    );
    assert_eq!(
        items[7]["content"],
        json!([{"type":"input_text","text":"The user switched to plan mode."}])
    );
    let text = serde_json::to_string(&items).unwrap_or_default();
    assert!(
        !text.contains("EqQBCkYIBxgCKkDo3"),
        "a foreign signature went upstream"
    );
    assert!(!text.contains("Old reasoning from Anthropic"));
}

#[test]
fn system_as_a_string_and_the_default_instructions() {
    let body = upstream(simple(
        json!({"system":"x-anthropic-billing-header: cc=1;\nBe brief."}),
    ))
    .body;
    assert_eq!(body["instructions"], json!("Be brief."));
    let body = upstream(simple(json!({}))).body;
    assert_eq!(body["instructions"], json!("You are a helpful assistant."));
    let body = upstream(simple(
        json!({"system":[{"type":"text","text":"x-anthropic-billing-header: a"}]}),
    ))
    .body;
    assert_eq!(body["instructions"], json!("You are a helpful assistant."));
    let err = refused(simple(json!({"system":7})));
    assert_eq!(err.param.as_deref(), Some("system"));
}

#[test]
fn thinking_budgets_and_effort_map_by_the_documented_table() {
    let effort = |extra: Value| upstream(simple(extra)).body.get("reasoning").cloned();
    for (budget, expected) in [
        (1024, "low"),
        (1025, "medium"),
        (8192, "medium"),
        (8193, "high"),
        (31999, "high"),
    ] {
        assert_eq!(
            effort(json!({"thinking":{"type":"enabled","budget_tokens":budget}})),
            Some(json!({"effort":expected,"summary":"auto"})),
            "{budget}"
        );
    }
    for (anthropic, expected) in [
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "xhigh"),
        ("max", "xhigh"),
    ] {
        assert_eq!(
            effort(json!({"output_config":{"effort":anthropic}})),
            Some(json!({"effort":expected}))
        );
    }
    assert_eq!(
        effort(
            json!({"thinking":{"type":"enabled","budget_tokens":500},"output_config":{"effort":"max"}})
        ),
        Some(json!({"effort":"xhigh","summary":"auto"})),
        "output_config.effort wins over the budget"
    );
    assert_eq!(effort(json!({"thinking":{"type":"disabled"}})), None);
    assert_eq!(effort(json!({})), None);
    let p = prepare(&simple(json!({"thinking":{"type":"disabled"}}))).ok();
    assert_eq!(p.map(|p| p.dialect.thinking()), Some(false));
    assert_eq!(
        refused(simple(json!({"output_config":{"effort":"ultra"}})))
            .param
            .as_deref(),
        Some("output_config.effort")
    );
    assert_eq!(
        refused(simple(json!({"thinking":{"type":"sometimes"}})))
            .param
            .as_deref(),
        Some("thinking.type")
    );
}

#[test]
fn tool_choice_forms_and_parallel_calls() {
    let choice = |tc: Value| {
        let body = upstream(simple(json!({"tool_choice":tc}))).body;
        (
            body.get("tool_choice").cloned(),
            body.get("parallel_tool_calls").cloned(),
        )
    };
    assert_eq!(choice(json!({"type":"auto"})), (Some(json!("auto")), None));
    assert_eq!(
        choice(json!({"type":"any"})),
        (Some(json!("required")), None)
    );
    assert_eq!(choice(json!({"type":"none"})), (Some(json!("none")), None));
    assert_eq!(
        choice(json!({"type":"tool","name":"Bash","disable_parallel_tool_use":true})),
        (
            Some(json!({"type":"function","name":"Bash"})),
            Some(json!(false))
        )
    );
    assert_eq!(
        refused(simple(json!({"tool_choice":{"type":"tool"}})))
            .param
            .as_deref(),
        Some("tool_choice.name")
    );
    assert!(
        refused(simple(json!({"tool_choice":{"type":"maybe"}})))
            .message
            .contains("auto")
    );
}

#[test]
fn removed_parameters_are_disclosed_and_stop_sequences_refused() {
    let req = upstream(simple(json!({"temperature":0.2,"top_p":0.9,"top_k":40,
        "context_management":{"edits":[]},"service_tier":"auto","stop_sequences":[],"container":null})));
    assert_eq!(
        req.ignored_parameters,
        [
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "context_management",
            "service_tier"
        ]
    );
    for key in [
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "metadata",
        "stop_sequences",
    ] {
        assert!(req.body.get(key).is_none(), "{key} went upstream");
    }
    let err = refused(simple(json!({"stop_sequences":["\n\nHuman:"]})));
    assert_eq!(err.param.as_deref(), Some("stop_sequences"));
    assert_eq!(err.code.as_deref(), Some("unsupported_parameter"));
}

#[test]
fn server_tools_are_dropped_and_disclosed() {
    let req = upstream(simple(json!({"tools":[
        {"type":"web_search_20250305","name":"web_search","max_uses":5},
        {"name":"NoSchema"},
        {"type":"custom","name":"Grep","input_schema":{"type":"object"}}
    ]})));
    let names: Vec<&str> = req.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["NoSchema", "Grep"]);
    assert!(
        req.ignored_parameters
            .contains(&"tools.web_search".to_owned())
    );
    assert_eq!(
        refused(simple(json!({"tools":[{"name":"x","input_schema":"{}"}]})))
            .param
            .as_deref(),
        Some("tools[0].input_schema")
    );
}

#[test]
fn images_documents_and_tool_results_with_images() {
    let items = input(simple(json!({"messages":[{"role":"user","content":[
        {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}},
        {"type":"document","title":"spec.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}},
        {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0y"}},
        {"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"hello"}},
        {"type":"document","source":{"type":"content","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}},
        {"type":"image","source":{"type":"file","file_id":"file-abc"}}
    ]},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Shot","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[
        {"type":"text","text":"captured"},
        {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}
    ]}]}]})));
    assert_eq!(
        items[0]["content"],
        json!([
            {"type":"input_image","image_url":"https://example.com/a.png","detail":"auto"},
            {"type":"input_file","filename":"spec.pdf","file_data":"data:application/pdf;base64,JVBERi0x"},
            {"type":"input_file","filename":"document.pdf","file_data":"data:application/pdf;base64,JVBERi0y"},
            {"type":"input_text","text":"notes\n\nhello"},
            {"type":"input_text","text":"a\n\nb"},
            {"type":"input_image","file_id":"file-abc","detail":"auto"}
        ])
    );
    assert_eq!(
        items[2]["output"],
        json!([{"type":"input_text","text":"captured"},
            {"type":"input_image","image_url":"data:image/jpeg;base64,/9j/","detail":"auto"}])
    );
    let err = refused(simple(
        json!({"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]}),
    ));
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].source.media_type")
    );
}

#[test]
fn server_tool_blocks_and_unknown_blocks_are_kept_as_text_or_disclosed() {
    let req = upstream(simple(json!({"messages":[
        {"role":"user","content":[{"type":"text","text":"search"}]},
        {"role":"assistant","content":[
            {"type":"server_tool_use","id":"srv_1","name":"web_search","input":{"query":"rust"}},
            {"type":"web_search_tool_result","tool_use_id":"srv_1","content":[
                {"type":"web_search_result","title":"Rust","url":"https://rust-lang.org","encrypted_content":"zz"}]},
            {"type":"redacted_thinking","data":"not-ours"},
            {"type":"citations_delta_2030","text":"kept text"},
            {"type":"tool_addition","tools":[{"name":"x"}]}
        ]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[
            {"type":"tool_reference","tool_name":"Grep"}]}]}
    ]})));
    let assistant = req.body["input"][1]["content"].clone();
    assert_eq!(
        assistant,
        json!([
            {"type":"output_text","text":"[server_tool_use web_search: {\"query\":\"rust\"}]"},
            {"type":"output_text","text":"[web_search_tool_result]\nRust (https://rust-lang.org)"},
            {"type":"output_text","text":"kept text"}
        ])
    );
    assert_eq!(req.body["input"][2]["output"], json!("Tool loaded: Grep"));
    assert_eq!(
        req.ignored_parameters,
        [
            "max_tokens",
            "content.redacted_thinking",
            "content.tool_addition"
        ]
    );
}

#[test]
fn signatures_round_trip_only_for_this_account() {
    let signature = sign("acct1", "gAAAA-enc_=");
    assert_eq!(signature, "airelays1.acct1.gAAAA-enc_=");
    assert_eq!(verify_signature(&signature, "acct1"), Some("gAAAA-enc_="));
    assert_eq!(verify_signature(&signature, "acct2"), None);
    assert_eq!(verify_signature("airelays1.acct1.", "acct1"), None);
    assert_eq!(verify_signature("EqQBCkYIBxgC", "acct1"), None);
    let tag = account_tag("acc-123");
    assert_eq!(tag.len(), 12);
    assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(tag, account_tag("acc-124"));
    let body = json!({"model":"m","messages":[{"role":"assistant","content":[
        {"type":"redacted_thinking","data":sign(&tag, "enc")}]}]});
    let tags = [tag.as_str()];
    let ours = MessagesOptions {
        account_tags: &tags,
        ..MessagesOptions::default()
    };
    let p = Messages::prepare_with(body.to_string().as_bytes(), &opts(), &ours).ok();
    let items = p.map(|p| p.upstream.body["input"].clone());
    assert_eq!(
        items,
        Some(json!([{"type":"reasoning","summary":[],"encrypted_content":"enc"}]))
    );
    let theirs = upstream(body);
    assert_eq!(theirs.body["input"], json!([]));
    assert_eq!(theirs.ignored_parameters, ["content.redacted_thinking"]);
}

#[test]
fn prompt_cache_keys_are_stable_and_the_header_session_wins() {
    let a = prompt_cache_key("s1", Some("agent"), "claude-opus");
    assert_eq!(a, prompt_cache_key("s1", Some("agent"), "claude-opus"));
    assert!(a.starts_with("claude-") && a.len() == 39);
    assert_ne!(a, prompt_cache_key("s1", None, "claude-opus"));
    assert_ne!(a, prompt_cache_key("s2", Some("agent"), "claude-opus"));
    assert_ne!(
        prompt_cache_key("ab", None, "c"),
        prompt_cache_key("a", None, "bc")
    );
    let body = claude_code();
    let header = MessagesOptions {
        session: Some("header-session"),
        agent: Some("sub-1"),
        ..MessagesOptions::default()
    };
    let p = Messages::prepare_with(body.to_string().as_bytes(), &opts(), &header).ok();
    let model = "claude-sonnet-4-5-20250929[1m]";
    assert_eq!(
        p.map(|p| p.upstream.body["prompt_cache_key"].clone()),
        Some(json!(prompt_cache_key(
            "header-session",
            Some("sub-1"),
            model
        )))
    );
    let json_user = json!({"user_id": "{\"device_id\":\"d\",\"session_id\":\"s-json\"}"});
    assert_eq!(
        request::session_of_metadata(&json_user).as_deref(),
        Some("s-json")
    );
    assert_eq!(
        request::session_of_metadata(&json!({"user_id":"user_x"})),
        None
    );
    assert!(
        upstream(simple(json!({})))
            .body
            .get("prompt_cache_key")
            .is_none()
    );
}

#[test]
fn bad_bodies_are_clear_errors() {
    assert!(refused(json!({"messages":[]})).message.contains("model"));
    assert_eq!(
        refused(json!({"model":"m"})).param.as_deref(),
        Some("messages")
    );
    let err = refused(json!({"model":"m","messages":[{"role":"robot","content":"x"}]}));
    assert_eq!(err.param.as_deref(), Some("messages[0].role"));
    let err = refused(
        json!({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result"}]}]}),
    );
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].tool_use_id")
    );
    let err = refused(
        json!({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","name":"x"}]}]}),
    );
    assert_eq!(err.param.as_deref(), Some("messages[0].content[0].id"));
    assert!(Messages::prepare(b"{", &opts()).is_err());
    assert!(Messages::prepare(b"[]", &opts()).is_err());
}

#[test]
fn error_types_follow_the_status() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (503, "overloaded_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
        (502, "api_error"),
        (504, "api_error"),
    ] {
        assert_eq!(error_type_for_status(status), kind, "{status}");
    }
}

fn answer() -> AnswerContext {
    AnswerContext {
        requested_model: "claude-sonnet-4-5".into(),
        model: "gpt-5.5".into(),
        created: 1_700_000_000,
        nonce: [5; 32],
        account_tag: None,
    }
}

fn assembled(transcript: &str) -> Value {
    let mut assembler = crate::translate::responses_response::ResponseAssembler::new();
    for event in crate::translate::fixtures::events(transcript) {
        assembler.on_event(&event);
    }
    assembler.into_response()
}

fn dialect(thinking: bool) -> Messages {
    let body = simple(json!({"thinking":{"type": if thinking {"adaptive"} else {"disabled"}}}));
    match prepare(&body) {
        Ok(p) => p.dialect,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn non_streamed_message_with_thinking_text_and_usage() {
    use crate::translate::fixtures::SSE_TEXT_REASONING;
    let message = dialect(true).finish(assembled(SSE_TEXT_REASONING), &answer());
    assert_eq!(
        message,
        json!({"id": format!("msg_{}", id_suffix(&[5; 32], 24)),"type":"message","role":"assistant",
            "model":"claude-sonnet-4-5","content":[
                {"type":"thinking","thinking":"**Responding to a greeting**",
                    "signature":"airelays1.default.gAAAAABoQ2VuY3J5cHRlZC1ibG9i"},
                {"type":"text","text":"Hello! How can I help?"}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":290,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":58}})
    );
    let message = dialect(false).finish(assembled(SSE_TEXT_REASONING), &answer());
    assert_eq!(message["content"].as_array().map(Vec::len), Some(1));
}

#[test]
fn answers_sign_with_the_account_that_answered() {
    use crate::translate::fixtures::SSE_TEXT_REASONING;
    let work = AnswerContext {
        account_tag: Some("0123456789ab".into()),
        ..answer()
    };
    let signed = "airelays1.0123456789ab.gAAAAABoQ2VuY3J5cHRlZC1ibG9i";
    let message = dialect(true).finish(assembled(SSE_TEXT_REASONING), &work);
    assert_eq!(message["content"][0]["signature"], signed);
    use crate::translate::stream::{StreamOut, StreamTranslator};
    let mut stream = dialect(true).stream(&work);
    let mut bytes = Vec::new();
    for event in crate::translate::fixtures::upstream_events(SSE_TEXT_REASONING) {
        let mut out = StreamOut::Empty;
        stream.on_event(&event, &mut out);
        bytes.extend_from_slice(&out.into_bytes().unwrap_or_default());
    }
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(signed), "{text}");
}

#[test]
fn signatures_of_every_accepted_account_become_reasoning_it_is_remembered_by() {
    let home = account_tag("acc-home");
    let work = account_tag("acc-work");
    let body = json!({"model":"m","messages":[
        {"role":"user","content":"hi"},
        {"role":"assistant","content":[
            {"type":"thinking","thinking":"a","signature":sign(&home, "enc-home")},
            {"type":"redacted_thinking","data":sign(&work, "enc-work")},
            {"type":"thinking","thinking":"b","signature":sign("gone00000000", "enc-gone")},
            {"type":"text","text":"hello"}]}]});
    let tags = [home.as_str(), work.as_str()];
    let options = MessagesOptions {
        account_tags: &tags,
        ..MessagesOptions::default()
    };
    let p = Messages::prepare_with(body.to_string().as_bytes(), &opts(), &options).unwrap();
    let text = p.upstream.body["input"].to_string();
    assert!(
        text.contains("enc-home") && text.contains("enc-work"),
        "{text}"
    );
    assert!(
        !text.contains("enc-gone"),
        "an account not signed in: dropped"
    );
    assert_eq!(p.upstream.ignored_parameters, ["content.thinking"]);
    let signed: Vec<(&str, &str)> = p
        .upstream
        .signed_reasoning
        .iter()
        .map(|s| (s.account_tag.as_str(), s.parameter))
        .collect();
    assert_eq!(
        signed,
        [
            (home.as_str(), "content.thinking"),
            (work.as_str(), "content.redacted_thinking")
        ]
    );
    assert_eq!(
        p.upstream.signed_reasoning[0].digest,
        crate::translate::reasoning_digest("enc-home")
    );
    assert_eq!(tag_for(Some("acc-home")), home);
    assert_eq!(tag_for(Some("")), DEFAULT_ACCOUNT_TAG);
    assert_eq!(tag_for(None), DEFAULT_ACCOUNT_TAG);
}

#[test]
fn non_streamed_tool_use_refusal_and_max_tokens() {
    use crate::translate::fixtures::{SSE_INCOMPLETE, SSE_PARALLEL_TOOLS, SSE_REFUSAL};
    let message = dialect(false).finish(assembled(SSE_PARALLEL_TOOLS), &answer());
    assert_eq!(message["stop_reason"], json!("tool_use"));
    assert_eq!(
        message["content"],
        json!([{"type":"tool_use","id":"call_A","name":"get_weather","input":{"city":"Paris"}},
            {"type":"tool_use","id":"call_B","name":"get_weather","input":{"city":"Tokyo"}}])
    );
    let message = dialect(false).finish(assembled(SSE_REFUSAL), &answer());
    assert_eq!(message["stop_reason"], json!("refusal"));
    assert_eq!(
        message["content"][0]["text"],
        json!("I can't help with that.")
    );
    let message = dialect(false).finish(assembled(SSE_INCOMPLETE), &answer());
    assert_eq!(message["stop_reason"], json!("max_tokens"));
    assert_eq!(
        response::tool_input("not json"),
        json!({"arguments":"not json"})
    );
    assert_eq!(response::tool_input(""), json!({}));
}

fn catalogue(with_mini: bool) -> Vec<CatalogueModel> {
    let mut models = json!([
        {"slug":"gpt-5.4","priority":1,"visibility":"list","default_reasoning_level":"medium",
            "supported_reasoning_levels":[{"effort":"low"},{"effort":"medium"},{"effort":"high"}]},
        {"slug":"gpt-5.5","priority":0,"visibility":"list","default_reasoning_level":"medium","display_name":"GPT-5.5",
            "supported_reasoning_levels":[{"effort":"low"},{"effort":"medium"},{"effort":"high"},{"effort":"xhigh"}]},
        {"slug":"codex-auto-review","priority":5,"visibility":"hide"}
    ]);
    if with_mini && let Value::Array(list) = &mut models {
        list.push(json!({"slug":"gpt-5.4-mini","priority":2,"default_reasoning_level":"low"}));
    }
    models
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(CatalogueModel::from_json)
        .collect()
}

#[test]
fn default_aliases_follow_the_catalogue() {
    let cat = catalogue(true);
    let map = models::resolve_map(&[], &cat);
    let pick = |id: &str| {
        let c = models::choose(id, &map, &cat);
        (c.model, c.effort)
    };
    let some = |m: &str, e: &str| (m.to_owned(), Some(e.to_owned()));
    assert_eq!(pick("claude-opus-4-5-20251101"), some("gpt-5.5", "high"));
    assert_eq!(
        pick("claude-sonnet-4-5-20250929[1m]"),
        some("gpt-5.5", "medium")
    );
    assert_eq!(pick("claude-haiku-4-5"), some("gpt-5.4-mini", "low"));
    assert_eq!(pick("GPT-5.4"), ("gpt-5.4".to_owned(), None));
    assert_eq!(
        pick("codex-auto-review"),
        ("codex-auto-review".to_owned(), None)
    );
    assert_eq!(
        pick("claude-instant-1"),
        ("claude-instant-1".to_owned(), None)
    );
    let no_mini = catalogue(false);
    let map = models::resolve_map(&[], &no_mini);
    assert_eq!(
        models::choose("claude-3-5-haiku-latest", &map, &no_mini)
            .effort
            .as_deref(),
        Some("low")
    );
    assert!(models::resolve_map(&[], &[]).is_empty());
}

#[test]
fn configured_rules_come_first_and_replace_built_ins() {
    let cat = catalogue(true);
    let rules = [
        AliasRule {
            pattern: "Opus".into(),
            model: Some("GPT-5.4".into()),
            effort: None,
        },
        AliasRule {
            pattern: "fast".into(),
            model: None,
            effort: Some("low".into()),
        },
    ];
    let map = models::resolve_map(&rules, &cat);
    let patterns: Vec<&str> = map.iter().map(|a| a.pattern.as_str()).collect();
    assert_eq!(patterns, ["opus", "fast", "sonnet", "haiku"]);
    let c = models::choose("claude-opus-4-1", &map, &cat);
    assert_eq!(
        (c.model.as_str(), c.effort.as_deref()),
        ("gpt-5.4", Some("medium"))
    );
    let c = models::choose("my-fast-model", &map, &cat);
    assert_eq!(
        (c.model.as_str(), c.effort.as_deref()),
        ("gpt-5.5", Some("low"))
    );
}

#[test]
fn the_request_effort_wins_and_is_clamped_to_the_model() {
    let cat = catalogue(true);
    let map = models::resolve_map(&[], &cat);
    let apply = |extra: Value, model: &str| {
        let mut body = upstream(simple(extra)).body;
        models::apply_choice(&mut body, &models::choose(model, &map, &cat), &cat);
        (
            body["model"].clone(),
            body.get("reasoning").cloned(),
            body.get("include").cloned(),
        )
    };
    let (model, reasoning, include) = apply(json!({}), "claude-opus-4-5");
    assert_eq!(model, json!("gpt-5.5"));
    assert_eq!(reasoning, Some(json!({"effort":"high"})));
    assert_eq!(include, Some(json!(["reasoning.encrypted_content"])));
    let (_, reasoning, _) = apply(json!({"output_config":{"effort":"low"}}), "claude-opus-4-5");
    assert_eq!(reasoning, Some(json!({"effort":"low"})));
    let (_, reasoning, _) = apply(
        json!({"thinking":{"type":"adaptive"},"output_config":{"effort":"max"}}),
        "gpt-5.4",
    );
    assert_eq!(reasoning, Some(json!({"effort":"high","summary":"auto"})));
    let (_, reasoning, _) = apply(json!({}), "gpt-5.4");
    assert_eq!(reasoning, None);
    let m = CatalogueModel {
        efforts: vec!["medium".into(), "high".into()],
        ..CatalogueModel::default()
    };
    assert_eq!(models::clamp_effort("low", Some(&m)), "medium");
    assert_eq!(models::clamp_effort("xhigh", Some(&m)), "high");
    assert_eq!(models::clamp_effort("weird", None), "weird");
}

#[test]
fn normalisation_strips_context_and_date_suffixes() {
    assert_eq!(
        models::normalize("claude-sonnet-4-5-20250929[1m]"),
        "claude-sonnet-4-5"
    );
    assert_eq!(models::normalize("claude-opus-4-5[1M]"), "claude-opus-4-5");
    assert_eq!(
        models::normalize("claude-3-5-haiku-latest"),
        "claude-3-5-haiku"
    );
    assert_eq!(models::normalize("gpt-5.5"), "gpt-5.5");
    assert_eq!(models::normalize("é"), "é");
    assert_eq!(models::normalize("ab[1m]é"), "ab[1m]é");
}

#[test]
fn anthropic_model_list_shows_the_mapping() {
    let cat = catalogue(true);
    let map = models::resolve_map(&[], &cat);
    let list = models::model_list(&map, &cat, 1_761_000_000);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "claude-opus",
            "claude-sonnet",
            "claude-haiku",
            "gpt-5.4",
            "gpt-5.5",
            "gpt-5.4-mini"
        ]
    );
    assert_eq!(
        list["data"][1],
        json!({"type":"model","id":"claude-sonnet","display_name":"claude-sonnet → gpt-5.5 (medium)",
            "created_at":"2025-10-20T22:40:00Z"})
    );
    assert_eq!(list["data"][4]["display_name"], json!("GPT-5.5"));
    assert_eq!(
        (&list["has_more"], &list["first_id"], &list["last_id"]),
        (&json!(false), &json!("claude-opus"), &json!("gpt-5.4-mini"))
    );
    let one = models::model_entry("claude-sonnet-4-5-20250929", &map, &cat, 0);
    assert_eq!(
        one.map(|m| m["display_name"].clone()),
        Some(json!("claude-sonnet-4-5-20250929 → gpt-5.5 (medium)"))
    );
    assert!(models::model_entry("codex-auto-review", &map, &cat, 0).is_some());
    assert!(models::model_entry("llama-3", &map, &cat, 0).is_none());
    let empty = models::model_list(&[], &[], 0);
    assert_eq!(
        empty,
        json!({"data":[],"has_more":false,"first_id":null,"last_id":null})
    );
}

#[test]
fn count_input_has_the_texts_tools_and_attachments() {
    let body = claude_code().to_string();
    let counted = count::count_request(body.as_bytes(), &opts(), &MessagesOptions::default());
    let Ok(counted) = counted else {
        panic!("not counted")
    };
    assert_eq!((counted.images, counted.files), (1, 0));
    for needle in [
        "You are Claude Code",
        "List the files",
        "The user wants a listing.",
        "Bash",
        "{\"command\":\"ls\"",
        "Cargo.toml\nsrc",
        "Executes a bash command.",
        "\"file_path\"",
        "plan mode",
    ] {
        assert!(counted.text.contains(needle), "{needle} is not counted");
    }
    assert!(!counted.text.contains("billing-header"));
    let prepared = prepare(&claude_code()).ok();
    let estimate = prepared.map(|p| count::estimate_input_tokens(&p.upstream.body));
    let text_bytes = u64::try_from(counted.text.len()).unwrap_or_default();
    let expected = text_bytes / count::BYTES_PER_TOKEN + count::ATTACHMENT_TOKEN_ESTIMATE;
    assert_eq!(estimate, Some(expected));
}
