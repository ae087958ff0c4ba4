//! The parameter policy of a chat request: which parameters are translated, which are
//! refused because dropping them would change the answer's meaning, and which are
//! dropped and disclosed (docs/architecture.md, "Product rules").

use serde_json::{Map, Value};

use super::tools::{
    translate_function_call, translate_response_format, translate_tool_choice, translate_tools,
};
use crate::translate::{TranslateError, TranslateOptions, check_store, optional_bool};

/// The parameters of a chat request, checked and translated.
#[derive(Default)]
pub(super) struct ChatParams {
    /// `messages`, untranslated.
    pub(super) messages: Option<Value>,
    /// `stream`: the client wants a streamed answer.
    pub(super) client_stream: bool,
    /// Parameters dropped and disclosed, in request order.
    pub(super) ignored_parameters: Vec<String>,
    /// The parameters the upstream has an equivalent for.
    pub(super) translated: TranslatedParams,
}

/// The translated parameters, waiting to be written into the upstream body.
#[derive(Default)]
pub(super) struct TranslatedParams {
    tools: Vec<Value>,
    tool_choice: Option<Value>,
    legacy_function_call: Option<Value>,
    parallel_tool_calls: Option<Value>,
    reasoning_effort: Option<Value>,
    text_format: Option<Value>,
    verbosity: Option<Value>,
    prompt_cache_key: Option<Value>,
    service_tier: Option<Value>,
}

impl ChatParams {
    /// Walks the request body once, refusing, translating or dropping each parameter.
    pub(super) fn collect(
        body: Map<String, Value>,
        opts: &TranslateOptions,
    ) -> Result<Self, TranslateError> {
        let mut params = ChatParams::default();
        for (key, value) in body {
            if check_refused(&key, &value)? {
                continue;
            }
            match key.as_str() {
                "model" | "stream_options" => {}
                "messages" => params.messages = Some(value),
                "stream" => {
                    params.client_stream = optional_bool(Some(&value), "stream")?.unwrap_or(false);
                }
                _ if value.is_null() => {}
                _ if opts.is_unsupported(&key) => params.ignored_parameters.push(key),
                _ => params.translate(key, value)?,
            }
        }
        Ok(params)
    }

    /// One parameter the upstream has an equivalent for; anything else is disclosed.
    fn translate(&mut self, key: String, value: Value) -> Result<(), TranslateError> {
        let t = &mut self.translated;
        match key.as_str() {
            "tools" => t.tools.extend(translate_tools(value, "tools")?),
            "functions" => t.tools.extend(translate_tools(value, "functions")?),
            "tool_choice" => t.tool_choice = Some(translate_tool_choice(value)?),
            "function_call" => t.legacy_function_call = Some(translate_function_call(value)?),
            "parallel_tool_calls" => {
                optional_bool(Some(&value), "parallel_tool_calls")?;
                t.parallel_tool_calls = Some(value);
            }
            "response_format" => t.text_format = translate_response_format(value)?,
            "reasoning_effort" => {
                t.reasoning_effort = Some(expect_string(value, "reasoning_effort")?);
            }
            "verbosity" => t.verbosity = Some(expect_string(value, "verbosity")?),
            "prompt_cache_key" => {
                t.prompt_cache_key = Some(expect_string(value, "prompt_cache_key")?);
            }
            "service_tier" => t.service_tier = Some(expect_string(value, "service_tier")?),
            _ => self.ignored_parameters.push(key),
        }
        Ok(())
    }
}

impl TranslatedParams {
    /// Writes the translated parameters into `upstream`, in the upstream's key order.
    /// Returns whether reasoning is on, so the caller asks for encrypted reasoning.
    pub(super) fn write_into(
        self,
        upstream: &mut Map<String, Value>,
        opts: &TranslateOptions,
    ) -> bool {
        if !self.tools.is_empty() {
            upstream.insert("tools".to_owned(), Value::Array(self.tools));
        }
        if let Some(choice) = self.tool_choice.or(self.legacy_function_call) {
            upstream.insert("tool_choice".to_owned(), choice);
        }
        if let Some(parallel) = self.parallel_tool_calls {
            upstream.insert("parallel_tool_calls".to_owned(), parallel);
        }
        let reasoning_on = self.reasoning_effort.is_some() || opts.reasoning_summaries;
        if reasoning_on {
            let mut reasoning = Map::new();
            if let Some(effort) = self.reasoning_effort {
                reasoning.insert("effort".to_owned(), effort);
            }
            if opts.reasoning_summaries {
                reasoning.insert("summary".to_owned(), Value::from("auto"));
            }
            upstream.insert("reasoning".to_owned(), Value::Object(reasoning));
        }
        if self.text_format.is_some() || self.verbosity.is_some() {
            let mut text = Map::new();
            if let Some(format) = self.text_format {
                text.insert("format".to_owned(), format);
            }
            if let Some(verbosity) = self.verbosity {
                text.insert("verbosity".to_owned(), verbosity);
            }
            upstream.insert("text".to_owned(), Value::Object(text));
        }
        if let Some(key) = self.prompt_cache_key {
            upstream.insert("prompt_cache_key".to_owned(), key);
        }
        if let Some(tier) = self.service_tier {
            upstream.insert("service_tier".to_owned(), tier);
        }
        reasoning_on
    }
}

/// Checks a parameter whose removal would change the answer's meaning: errors if the
/// request asks for something the backend cannot do, and returns whether `key` was
/// one of these parameters (a harmless value is then dropped silently).
fn check_refused(key: &str, value: &Value) -> Result<bool, TranslateError> {
    match key {
        "n" => check_n(value)?,
        "stop" => check_stop(value)?,
        "logprobs" => {
            if optional_bool(Some(value), "logprobs")? == Some(true) {
                return Err(refuse(
                    "logprobs",
                    "`logprobs` is not supported: the ChatGPT backend returns no token log probabilities. Remove it or set it to false.",
                ));
            }
        }
        "logit_bias" => check_logit_bias(value)?,
        "audio" => {
            if !value.is_null() {
                return Err(refuse(
                    "audio",
                    "`audio` output is not supported by the ChatGPT backend. Remove the parameter.",
                ));
            }
        }
        "modalities" => check_modalities(value)?,
        "store" => check_store(Some(value))?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `stream_options.include_usage`.
pub(super) fn include_usage(stream_options: Option<&Value>) -> Result<bool, TranslateError> {
    match stream_options {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Object(options)) => Ok(optional_bool(
            options.get("include_usage"),
            "stream_options.include_usage",
        )?
        .unwrap_or(false)),
        Some(_) => Err(TranslateError::invalid_type("stream_options", "an object")),
    }
}

/// An error for a parameter the relay cannot honour and must not drop.
fn refuse(param: &str, message: &str) -> TranslateError {
    TranslateError::param(param, message).code("unsupported_parameter")
}

/// `n`: only one choice.
fn check_n(value: &Value) -> Result<(), TranslateError> {
    if value.is_null() || value.as_f64() == Some(1.0) {
        return Ok(());
    }
    Err(refuse(
        "n",
        "Only `n: 1` is supported: the ChatGPT backend generates one choice per request. Send several requests instead.",
    ))
}

/// `stop`: only none or empty.
fn check_stop(value: &Value) -> Result<(), TranslateError> {
    let empty = match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if empty {
        return Ok(());
    }
    Err(refuse(
        "stop",
        "`stop` sequences are not supported by the ChatGPT backend. Remove the parameter and trim the answer yourself.",
    ))
}

/// `logit_bias`: only none or empty.
fn check_logit_bias(value: &Value) -> Result<(), TranslateError> {
    match value {
        Value::Null => Ok(()),
        Value::Object(bias) if bias.is_empty() => Ok(()),
        _ => Err(refuse(
            "logit_bias",
            "`logit_bias` is not supported by the ChatGPT backend. Remove the parameter.",
        )),
    }
}

/// `modalities`: text only.
fn check_modalities(value: &Value) -> Result<(), TranslateError> {
    let text_only = match value {
        Value::Null => true,
        Value::Array(m) => m.len() == 1 && m.iter().all(|v| v == "text"),
        _ => false,
    };
    if text_only {
        return Ok(());
    }
    Err(refuse(
        "modalities",
        "Only `modalities: [\"text\"]` is supported: the ChatGPT backend answers with text only.",
    ))
}

/// `value` if it is a string, else a type error naming `param`.
fn expect_string(value: Value, param: &str) -> Result<Value, TranslateError> {
    if value.is_string() {
        Ok(value)
    } else {
        Err(TranslateError::invalid_type(param, "a string"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::translate::chat_request::test_support::{chat, err, ok, run_with};

    #[test]
    fn parallel_tool_calls_and_pass_through_fields() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "parallel_tool_calls":false,"prompt_cache_key":"k1","service_tier":"priority","verbosity":"low"}),
        );
        assert_eq!(req.body["parallel_tool_calls"], json!(false));
        assert_eq!(req.body["prompt_cache_key"], json!("k1"));
        assert_eq!(req.body["service_tier"], json!("priority"));
        assert_eq!(req.body["text"], json!({"verbosity":"low"}));
        assert!(!req.body.contains_key("reasoning"));
        assert!(!req.body.contains_key("include"));
    }

    #[test]
    fn reasoning_effort_and_summaries() {
        let body = json!({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"});
        let (req, _) = run_with(&body, false).expect("translates");
        assert_eq!(req.body["reasoning"], json!({"effort":"high"}));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
        let (req, _) = run_with(&body, true).expect("translates");
        assert_eq!(
            req.body["reasoning"],
            json!({"effort":"high","summary":"auto"})
        );
        let (req, _) =
            run_with(&chat(json!([{"role":"user","content":"x"}])), true).expect("translates");
        assert_eq!(req.body["reasoning"], json!({"summary":"auto"}));
        assert_eq!(req.body["include"], json!(["reasoning.encrypted_content"]));
    }

    #[test]
    fn meaning_changing_parameters_are_refused() {
        for (param, value) in [
            ("n", json!(2)),
            ("n", json!(0)),
            ("stop", json!("END")),
            ("stop", json!(["a", "b"])),
            ("logprobs", json!(true)),
            ("logit_bias", json!({"50256": -100})),
            ("audio", json!({"voice":"alloy","format":"wav"})),
            ("modalities", json!(["text", "audio"])),
            ("store", json!(true)),
        ] {
            let mut body = chat(json!([{"role":"user","content":"x"}]));
            body[param] = value;
            let e = err(body);
            assert_eq!(e.param.as_deref(), Some(param));
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn harmless_no_ops_are_dropped_silently() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "n":1,"stop":null,"logprobs":false,"modalities":["text"],"logit_bias":{},"store":false,
            "stop_empty_check":null}),
        );
        assert!(
            req.ignored_parameters.is_empty(),
            "{:?}",
            req.ignored_parameters
        );
        for p in ["n", "stop", "logprobs", "modalities", "logit_bias"] {
            assert!(!req.body.contains_key(p), "{p}");
        }
        let req = ok(json!({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[]}));
        assert!(req.ignored_parameters.is_empty());
    }

    #[test]
    fn sampling_and_unknown_parameters_are_dropped_and_disclosed_in_order() {
        let req = ok(
            json!({"temperature":0.7,"model":"m","messages":[{"role":"user","content":"x"}],
            "max_completion_tokens":100,"web_search_options":{},"top_p":null,"user":"u1","prediction":{"type":"content","content":"x"}}),
        );
        assert_eq!(
            req.ignored_parameters,
            [
                "temperature",
                "max_completion_tokens",
                "web_search_options",
                "user",
                "prediction"
            ]
        );
        for p in [
            "temperature",
            "max_completion_tokens",
            "web_search_options",
            "top_p",
            "user",
            "prediction",
        ] {
            assert!(!req.body.contains_key(p), "{p}");
        }
    }
}
