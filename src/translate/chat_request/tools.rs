//! Tools, `tool_choice`, the deprecated `functions`/`function_call` and
//! `response_format` → their flattened Responses forms.

use serde_json::{Map, Value};

use super::{take_object, take_string};
use crate::translate::{TranslateError, json_kind, optional_bool, schema};

/// `tools` (or the deprecated `functions`) → flattened Responses tools.
pub(super) fn translate_tools(value: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    let Value::Array(tools) = value else {
        return Err(TranslateError::invalid_type(param, "an array"));
    };
    let legacy = param == "functions";
    tools
        .into_iter()
        .enumerate()
        .map(|(i, tool)| {
            let tool_param = format!("{param}[{i}]");
            let mut tool = take_object(tool, &tool_param)?;
            if legacy {
                return function_tool(tool, &tool_param);
            }
            match tool.get("type") {
                None | Some(Value::Null) if tool.contains_key("function") => {}
                Some(Value::String(t)) if t == "function" || t == "custom" => {}
                _ => {
                    return Err(TranslateError::param(
                        format!("{tool_param}.type"),
                        format!(
                            "`{tool_param}.type` is not supported. Chat tools must be of type \"function\" or \"custom\"."
                        ),
                    )
                    .code("unsupported_value"));
                }
            }
            if tool.get("type").and_then(Value::as_str) == Some("custom") {
                let custom_param = format!("{tool_param}.custom");
                let custom = take_object(tool.remove("custom").unwrap_or(Value::Null), &custom_param)?;
                custom_tool(custom, &custom_param)
            } else {
                let function_param = format!("{tool_param}.function");
                let function =
                    take_object(tool.remove("function").unwrap_or(Value::Null), &function_param)?;
                function_tool(function, &function_param)
            }
        })
        .collect()
}

/// `{"name","description","parameters","strict"}` → the flattened function tool.
fn function_tool(mut function: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let name = take_string(&mut function, "name", param)?;
    let strict =
        optional_bool(function.get("strict"), &format!("{param}.strict"))?.unwrap_or(false);
    let mut parameters = match function.remove("parameters") {
        None | Some(Value::Null) => {
            let mut empty = Map::new();
            empty.insert("type".to_owned(), Value::from("object"));
            empty.insert("properties".to_owned(), Value::Object(Map::new()));
            Value::Object(empty)
        }
        Some(parameters @ Value::Object(_)) => parameters,
        Some(_) => {
            return Err(TranslateError::invalid_type(
                format!("{param}.parameters"),
                "a JSON schema object",
            ));
        }
    };
    if strict {
        schema::make_strict(&mut parameters);
    }
    let mut tool = Map::new();
    tool.insert("type".to_owned(), Value::from("function"));
    tool.insert("name".to_owned(), Value::String(name));
    if let Some(description) = function.remove("description").filter(|d| !d.is_null()) {
        tool.insert("description".to_owned(), description);
    }
    tool.insert("parameters".to_owned(), parameters);
    tool.insert("strict".to_owned(), Value::Bool(strict));
    Ok(Value::Object(tool))
}

/// `{"name","description","format"}` → the flattened custom tool.
fn custom_tool(mut custom: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let name = take_string(&mut custom, "name", param)?;
    let mut tool = Map::new();
    tool.insert("type".to_owned(), Value::from("custom"));
    tool.insert("name".to_owned(), Value::String(name));
    for key in ["description", "format"] {
        if let Some(value) = custom.remove(key).filter(|v| !v.is_null()) {
            tool.insert(key.to_owned(), value);
        }
    }
    Ok(Value::Object(tool))
}

/// A named tool reference (`{"type":"function","function":{"name"}}` or the custom
/// form) → `{"type","name"}`.
fn named_tool_ref(mut choice: Map<String, Value>, param: &str) -> Result<Value, TranslateError> {
    let kind = match choice.get("type").and_then(Value::as_str) {
        Some("function") => "function",
        Some("custom") => "custom",
        _ => {
            return Err(TranslateError::param(
                format!("{param}.type"),
                format!("`{param}.type` must be \"function\", \"custom\" or \"allowed_tools\"."),
            )
            .code("unsupported_value"));
        }
    };
    let inner_param = format!("{param}.{kind}");
    let mut inner = take_object(choice.remove(kind).unwrap_or(Value::Null), &inner_param)?;
    let name = take_string(&mut inner, "name", &inner_param)?;
    let mut out = Map::new();
    out.insert("type".to_owned(), Value::from(kind));
    out.insert("name".to_owned(), Value::String(name));
    Ok(Value::Object(out))
}

/// `tool_choice` → the Responses `tool_choice`.
pub(super) fn translate_tool_choice(value: Value) -> Result<Value, TranslateError> {
    match value {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => {
            Ok(Value::String(mode))
        }
        Value::String(mode) => Err(TranslateError::param(
            "tool_choice",
            format!("`tool_choice` \"{mode}\" is not supported. Use auto, none, required or a named tool."),
        )
        .code("unsupported_value")),
        Value::Object(mut choice) => {
            if choice.get("type").and_then(Value::as_str) != Some("allowed_tools") {
                return named_tool_ref(choice, "tool_choice");
            }
            let param = "tool_choice.allowed_tools";
            let mut allowed = take_object(choice.remove("allowed_tools").unwrap_or(Value::Null), param)?;
            let mode = allowed.remove("mode").unwrap_or_else(|| Value::from("auto"));
            let tools = match allowed.remove("tools") {
                Some(Value::Array(tools)) => tools
                    .into_iter()
                    .enumerate()
                    .map(|(i, tool)| {
                        let tool_param = format!("{param}.tools[{i}]");
                        named_tool_ref(take_object(tool, &tool_param)?, &tool_param)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(TranslateError::missing(format!("{param}.tools"), "an array of tools")),
            };
            let mut out = Map::new();
            out.insert("type".to_owned(), Value::from("allowed_tools"));
            out.insert("mode".to_owned(), mode);
            out.insert("tools".to_owned(), Value::Array(tools));
            Ok(Value::Object(out))
        }
        other => Err(TranslateError::invalid_type(
            "tool_choice",
            &format!("a string or an object, not {}", json_kind(&other)),
        )),
    }
}

/// The deprecated `function_call` choice → `tool_choice`.
pub(super) fn translate_function_call(value: Value) -> Result<Value, TranslateError> {
    match value {
        Value::String(mode) if mode == "auto" || mode == "none" => Ok(Value::String(mode)),
        Value::Object(mut choice) => {
            let name = take_string(&mut choice, "name", "function_call")?;
            let mut out = Map::new();
            out.insert("type".to_owned(), Value::from("function"));
            out.insert("name".to_owned(), Value::String(name));
            Ok(Value::Object(out))
        }
        _ => Err(TranslateError::invalid_type(
            "function_call",
            "\"auto\", \"none\" or {\"name\": …}",
        )),
    }
}

/// `response_format` → `text.format`, or `None` for plain text.
pub(super) fn translate_response_format(value: Value) -> Result<Option<Value>, TranslateError> {
    let mut format = take_object(value, "response_format")?;
    let mut out = Map::new();
    match format.get("type").and_then(Value::as_str) {
        Some("text") => return Ok(None),
        Some("json_object") => {
            out.insert("type".to_owned(), Value::from("json_object"));
        }
        Some("json_schema") => {
            let param = "response_format.json_schema";
            let mut spec = take_object(format.remove("json_schema").unwrap_or(Value::Null), param)?;
            let name = match spec.remove("name") {
                Some(Value::String(name)) if !name.is_empty() => name,
                None | Some(Value::Null) => "response".to_owned(),
                Some(_) => {
                    return Err(TranslateError::invalid_type(
                        format!("{param}.name"),
                        "a non-empty string",
                    ));
                }
            };
            let strict =
                optional_bool(spec.get("strict"), &format!("{param}.strict"))?.unwrap_or(false);
            let mut schema = match spec.remove("schema") {
                Some(schema @ Value::Object(_)) => schema,
                None | Some(Value::Null) => {
                    return Err(TranslateError::missing(
                        format!("{param}.schema"),
                        "a JSON schema object",
                    ));
                }
                Some(_) => {
                    return Err(TranslateError::invalid_type(
                        format!("{param}.schema"),
                        "a JSON schema object",
                    ));
                }
            };
            if strict {
                schema::make_strict(&mut schema);
            }
            out.insert("type".to_owned(), Value::from("json_schema"));
            out.insert("name".to_owned(), Value::String(name));
            out.insert("schema".to_owned(), schema);
            out.insert("strict".to_owned(), Value::Bool(strict));
            if let Some(description) = spec.remove("description").filter(|d| !d.is_null()) {
                out.insert("description".to_owned(), description);
            }
        }
        _ => {
            return Err(TranslateError::param(
                "response_format.type",
                "`response_format.type` must be \"text\", \"json_object\" or \"json_schema\".",
            )
            .code("unsupported_value"));
        }
    }
    Ok(Some(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::translate::chat_request::test_support::{err, ok};

    #[test]
    fn tools_are_flattened() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
                {"type":"function","function":{"name":"a","description":"A","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}},
                {"type":"function","function":{"name":"b"}},
                {"type":"function","function":{"name":"c","strict":true,"parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer"}},"required":["q"]}}},
                {"type":"custom","custom":{"name":"apply_patch","description":"Patch","format":{"type":"text"}}}
            ]}),
        );
        assert_eq!(
            req.body["tools"],
            json!([
                {"type":"function","name":"a","description":"A","parameters":{"type":"object","properties":{"q":{"type":"string"}}},"strict":false},
                {"type":"function","name":"b","parameters":{"type":"object","properties":{}},"strict":false},
                {"type":"function","name":"c","parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":["integer","null"]}},"required":["q","n"],"additionalProperties":false},"strict":true},
                {"type":"custom","name":"apply_patch","description":"Patch","format":{"type":"text"}}
            ])
        );
    }

    #[test]
    fn unsupported_tool_types_are_rejected() {
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
                {"type":"function","function":{"name":"a"}},
                {"type":"web_search_preview"}
            ]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[1].type"));
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[0].function.name"));
        let e = err(json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}}));
        assert_eq!(e.param.as_deref(), Some("tools"));
    }

    #[test]
    fn tool_choice_forms() {
        let base = |choice: Value| {
            ok(json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":choice}))
                .body["tool_choice"]
                .clone()
        };
        for mode in ["auto", "none", "required"] {
            assert_eq!(base(json!(mode)), json!(mode));
        }
        assert_eq!(
            base(json!({"type":"function","function":{"name":"f"}})),
            json!({"type":"function","name":"f"})
        );
        assert_eq!(
            base(json!({"type":"custom","custom":{"name":"apply_patch"}})),
            json!({"type":"custom","name":"apply_patch"})
        );
        assert_eq!(
            base(
                json!({"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[
                {"type":"function","function":{"name":"a"}},{"type":"custom","custom":{"name":"b"}}]}})
            ),
            json!({"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"a"},{"type":"custom","name":"b"}]})
        );
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"any"}),
        );
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function"}}),
        );
        assert_eq!(e.param.as_deref(), Some("tool_choice.function"));
    }

    #[test]
    fn response_formats() {
        let format = |rf: Value| {
            ok(json!({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":rf}))
                .body
                .get("text")
                .cloned()
        };
        assert_eq!(format(json!({"type":"text"})), None);
        assert_eq!(
            format(json!({"type":"json_object"})),
            Some(json!({"format":{"type":"json_object"}}))
        );
        assert_eq!(
            format(
                json!({"type":"json_schema","json_schema":{"name":"person","description":"A person",
                "schema":{"type":"object","properties":{"name":{"type":"string"}}}}})
            ),
            Some(json!({"format":{"type":"json_schema","name":"person",
                "schema":{"type":"object","properties":{"name":{"type":"string"}}},"strict":false,"description":"A person"}}))
        );
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}),
        );
        assert_eq!(e.param.as_deref(), Some("response_format.type"));
        let e = err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}),
        );
        assert_eq!(
            e.param.as_deref(),
            Some("response_format.json_schema.schema")
        );
    }

    #[test]
    fn strict_json_schema_is_normalised() {
        let req = ok(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"verbosity":"high",
            "response_format":{"type":"json_schema","json_schema":{"name":"order","strict":true,"schema":{
                "type":"object",
                "properties":{
                    "customer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string"}},"required":["name"]},
                    "lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"note":{"type":"string"}},"required":["sku"]}},
                    "coupon":{"type":"string"}
                },
                "required":["customer","lines"]
            }}}}),
        );
        assert_eq!(
            req.body["text"],
            json!({"format":{"type":"json_schema","name":"order","schema":{
                "type":"object",
                "properties":{
                    "customer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":["string","null"]}},"required":["name","email"],"additionalProperties":false},
                    "lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"note":{"type":["string","null"]}},"required":["sku","note"],"additionalProperties":false}},
                    "coupon":{"type":["string","null"]}
                },
                "required":["customer","lines","coupon"],
                "additionalProperties":false
            },"strict":true},"verbosity":"high"})
        );
    }
}
