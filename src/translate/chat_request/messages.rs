//! Chat messages → instructions and Responses input items, with the tool-call
//! bookkeeping that pairs each tool result with the call it answers.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::parts::{assistant_parts, refusal_part, text_content, user_content};
use super::{take_object, take_present_string, take_string, take_string_allow_empty};
use crate::translate::{TranslateError, message_item};

/// Which kind of tool call an id belongs to, so its answer gets the matching item type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Function,
    Custom,
}

/// The messages, translated.
#[derive(Default)]
pub(super) struct Conversation {
    /// The text of every non-empty system and developer message, in order.
    instructions: Vec<String>,
    /// The Responses input items.
    pub(super) input: Vec<Value>,
    /// call id → kind, for every tool call of an earlier assistant message.
    calls: HashMap<String, CallKind>,
    /// Deprecated `function_call`s not answered yet: (name, synthesized call id).
    legacy_calls: Vec<(String, String)>,
}

impl Conversation {
    /// Translates `messages` in order.
    pub(super) fn translate(messages: Vec<Value>) -> Result<Self, TranslateError> {
        let mut conversation = Conversation {
            input: Vec::with_capacity(messages.len()),
            ..Conversation::default()
        };
        for (i, message) in messages.into_iter().enumerate() {
            conversation.message(i, message)?;
        }
        Ok(conversation)
    }

    /// The upstream `instructions`: the system and developer messages joined by a
    /// blank line, or `default` when there are none.
    pub(super) fn instructions(&mut self, default: &str) -> String {
        let mut parts = std::mem::take(&mut self.instructions);
        match parts.len() {
            0 => default.to_owned(),
            1 => parts.pop().unwrap_or_default(),
            _ => parts.join("\n\n"),
        }
    }

    fn message(&mut self, i: usize, message: Value) -> Result<(), TranslateError> {
        let param = format!("messages[{i}]");
        let mut message = take_object(message, &param)?;
        let role = take_string_allow_empty(&mut message, "role", &param)?;
        let content = message.remove("content");
        match role.as_str() {
            "system" | "developer" => {
                let text = text_content(content, &param)?;
                if !text.is_empty() {
                    self.instructions.push(text);
                }
            }
            "user" => {
                let parts = user_content(content, &param)?;
                self.input.push(parts);
            }
            "assistant" => self.assistant(message, content, &param)?,
            "tool" => self.tool_result(message, content, &param)?,
            "function" => self.function_result(message, content, &param)?,
            _ => {
                return Err(TranslateError::param(
                    format!("{param}.role"),
                    format!(
                        "`{param}.role` \"{role}\" is not supported. Use system, developer, user, assistant or tool."
                    ),
                )
                .code("unsupported_value"));
            }
        }
        Ok(())
    }

    /// A `tool` message: the answer to a tool call of an earlier assistant message.
    fn tool_result(
        &mut self,
        mut message: Map<String, Value>,
        content: Option<Value>,
        param: &str,
    ) -> Result<(), TranslateError> {
        let call_id = take_present_string(
            &mut message,
            "tool_call_id",
            param,
            "the id of the tool call this message answers",
        )?;
        let Some(kind) = self.calls.get(&call_id).copied() else {
            return Err(TranslateError::param(
                format!("{param}.tool_call_id"),
                format!(
                    "`{param}.tool_call_id` is \"{call_id}\", which matches no tool call of an earlier assistant message. Send the assistant message with its `tool_calls` before the tool results."
                ),
            ));
        };
        let output = text_content(content, param)?;
        let item_type = match kind {
            CallKind::Function => "function_call_output",
            CallKind::Custom => "custom_tool_call_output",
        };
        self.input.push(call_output(item_type, call_id, output));
        Ok(())
    }

    /// A deprecated `function` message: the answer to the latest unanswered
    /// `function_call` of that name.
    fn function_result(
        &mut self,
        mut message: Map<String, Value>,
        content: Option<Value>,
        param: &str,
    ) -> Result<(), TranslateError> {
        let name = take_string(&mut message, "name", param)?;
        let Some(position) = self.legacy_calls.iter().rposition(|(n, _)| *n == name) else {
            return Err(TranslateError::param(
                format!("{param}.name"),
                format!(
                    "`{param}` answers the function \"{name}\", but no earlier assistant message called it."
                ),
            ));
        };
        let (_, call_id) = self.legacy_calls.remove(position);
        let output = text_content(content, param)?;
        self.input
            .push(call_output("function_call_output", call_id, output));
        Ok(())
    }

    /// An assistant message: its text and refusal as a message item, then its tool
    /// calls (and the deprecated `function_call`) as call items.
    fn assistant(
        &mut self,
        mut message: Map<String, Value>,
        content: Option<Value>,
        param: &str,
    ) -> Result<(), TranslateError> {
        let mut parts = assistant_parts(content, param)?;
        if let Some(Value::String(refusal)) = message.remove("refusal")
            && !refusal.is_empty()
            && !parts
                .iter()
                .any(|p| p.get("type").and_then(Value::as_str) == Some("refusal"))
        {
            parts.push(refusal_part(refusal));
        }
        if !parts.is_empty() {
            self.input.push(message_item("assistant", parts));
        }

        match message.remove("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(calls)) => {
                for (k, call) in calls.into_iter().enumerate() {
                    self.tool_call(call, &format!("{param}.tool_calls[{k}]"))?;
                }
            }
            Some(_) => {
                return Err(TranslateError::invalid_type(
                    format!("{param}.tool_calls"),
                    "an array",
                ));
            }
        }
        match message.remove("function_call") {
            None | Some(Value::Null) => Ok(()),
            Some(call) => self.legacy_function_call(call, &format!("{param}.function_call")),
        }
    }

    /// The deprecated assistant `function_call`, which has no call id.
    fn legacy_function_call(&mut self, call: Value, param: &str) -> Result<(), TranslateError> {
        let mut call = take_object(call, param)?;
        let name = take_string(&mut call, "name", param)?;
        let arguments = arguments_string(call.remove("arguments"));
        // The deprecated API has no call ids; the item position makes one unique.
        let call_id = format!("call_fn_{}", self.input.len());
        self.input
            .push(function_call_item(call_id.clone(), name.clone(), arguments));
        self.legacy_calls.push((name, call_id));
        Ok(())
    }

    /// One entry of an assistant message's `tool_calls`: a function or custom call item.
    fn tool_call(&mut self, call: Value, param: &str) -> Result<(), TranslateError> {
        let mut call = take_object(call, param)?;
        let call_id = take_string(&mut call, "id", param)?;
        let kind = match call.get("type") {
            None | Some(Value::Null) => CallKind::Function,
            Some(Value::String(t)) if t == "function" => CallKind::Function,
            Some(Value::String(t)) if t == "custom" => CallKind::Custom,
            Some(_) => {
                return Err(TranslateError::param(
                    format!("{param}.type"),
                    format!("`{param}.type` must be \"function\" or \"custom\"."),
                )
                .code("unsupported_value"));
            }
        };
        let item = match kind {
            CallKind::Function => {
                let function_param = format!("{param}.function");
                let mut function = take_object(
                    call.remove("function").unwrap_or(Value::Null),
                    &function_param,
                )?;
                let name = take_string(&mut function, "name", &function_param)?;
                let arguments = arguments_string(function.remove("arguments"));
                function_call_item(call_id.clone(), name, arguments)
            }
            CallKind::Custom => {
                let custom_param = format!("{param}.custom");
                let mut custom =
                    take_object(call.remove("custom").unwrap_or(Value::Null), &custom_param)?;
                let name = take_string(&mut custom, "name", &custom_param)?;
                let input = match custom.remove("input") {
                    Some(Value::String(input)) => input,
                    None | Some(Value::Null) => String::new(),
                    Some(_) => {
                        return Err(TranslateError::invalid_type(
                            format!("{custom_param}.input"),
                            "a string",
                        ));
                    }
                };
                let mut item = Map::new();
                item.insert("type".to_owned(), Value::from("custom_tool_call"));
                item.insert("call_id".to_owned(), Value::String(call_id.clone()));
                item.insert("name".to_owned(), Value::String(name));
                item.insert("input".to_owned(), Value::String(input));
                Value::Object(item)
            }
        };
        self.input.push(item);
        self.calls.insert(call_id, kind);
        Ok(())
    }
}

/// Function arguments as the JSON string the upstream wants. Some clients send an
/// object; it is serialised.
fn arguments_string(arguments: Option<Value>) -> String {
    match arguments {
        Some(Value::String(arguments)) => arguments,
        None | Some(Value::Null) => "{}".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// A Responses `function_call` item.
fn function_call_item(call_id: String, name: String, arguments: String) -> Value {
    let mut item = Map::new();
    item.insert("type".to_owned(), Value::from("function_call"));
    item.insert("call_id".to_owned(), Value::String(call_id));
    item.insert("name".to_owned(), Value::String(name));
    item.insert("arguments".to_owned(), Value::String(arguments));
    Value::Object(item)
}

/// A tool-call answer item of `item_type`.
fn call_output(item_type: &str, call_id: String, output: String) -> Value {
    let mut item = Map::new();
    item.insert("type".to_owned(), Value::from(item_type));
    item.insert("call_id".to_owned(), Value::String(call_id));
    item.insert("output".to_owned(), Value::String(output));
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::translate::chat_request::test_support::{chat, err, input_of, ok};

    #[test]
    fn system_and_developer_messages_become_instructions() {
        let req = ok(chat(json!([
            {"role":"system","content":"First."},
            {"role":"user","content":"hi"},
            {"role":"developer","content":[{"type":"text","text":"Second"},{"type":"text","text":"part."}]},
            {"role":"system","content":""}
        ])));
        assert_eq!(req.body["instructions"], json!("First.\n\nSecond\npart."));
        assert_eq!(req.body["input"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn multi_turn_tool_loop() {
        let input = input_of(json!([
            {"role":"user","content":"weather in Paris and Tokyo?"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_A","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_B","type":"function","function":{"name":"get_weather","arguments":{"city":"Tokyo"}}}
            ]},
            {"role":"tool","tool_call_id":"call_A","content":"18C"},
            {"role":"tool","tool_call_id":"call_B","content":[{"type":"text","text":"25C"},{"type":"text","text":"sunny"}]},
            {"role":"assistant","content":"Paris 18C, Tokyo 25C."},
            {"role":"user","content":"thanks"}
        ]));
        assert_eq!(
            input,
            json!([
                {"type":"message","role":"user","content":[{"type":"input_text","text":"weather in Paris and Tokyo?"}]},
                {"type":"function_call","call_id":"call_A","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
                {"type":"function_call","call_id":"call_B","name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"},
                {"type":"function_call_output","call_id":"call_A","output":"18C"},
                {"type":"function_call_output","call_id":"call_B","output":"25C\nsunny"},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Paris 18C, Tokyo 25C."}]},
                {"type":"message","role":"user","content":[{"type":"input_text","text":"thanks"}]}
            ])
        );
    }

    #[test]
    fn assistant_text_with_tool_calls_and_refusals() {
        let input = input_of(json!([
            {"role":"user","content":"go"},
            {"role":"assistant","content":"Let me check.","tool_calls":[
                {"id":"c1","type":"function","function":{"name":"f"}}
            ]},
            {"role":"assistant","content":[{"type":"text","text":"Part"},{"type":"refusal","refusal":"No."}]},
            {"role":"assistant","content":null,"refusal":"I won't."},
            {"role":"assistant","content":""}
        ]));
        assert_eq!(
            input,
            json!([
                {"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},
                {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Part"},{"type":"refusal","refusal":"No."}]},
                {"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"I won't."}]}
            ])
        );
    }

    #[test]
    fn custom_tool_calls_and_outputs() {
        let input = input_of(json!([
            {"role":"user","content":"patch it"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_P","type":"custom","custom":{"name":"apply_patch","input":"*** Begin Patch"}}
            ]},
            {"role":"tool","tool_call_id":"call_P","content":"Done"}
        ]));
        assert_eq!(
            input[1],
            json!({"type":"custom_tool_call","call_id":"call_P","name":"apply_patch","input":"*** Begin Patch"})
        );
        assert_eq!(
            input[2],
            json!({"type":"custom_tool_call_output","call_id":"call_P","output":"Done"})
        );
    }

    #[test]
    fn tool_message_must_answer_an_earlier_call() {
        let e = err(chat(json!([
            {"role":"user","content":"x"},
            {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_2","content":"r"}
        ])));
        assert_eq!(e.param.as_deref(), Some("messages[2].tool_call_id"));
        assert!(e.message.contains("call_2"));
        let e = err(chat(json!([
            {"role":"tool","tool_call_id":"call_1","content":"r"},
            {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f"}}]}
        ])));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
        let e = err(chat(json!([{"role":"tool","content":"r"}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
        let e = err(chat(
            json!([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_calls[0].id"));
        let e = err(chat(
            json!([{"role":"assistant","tool_calls":[{"id":"c","type":"web"}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_calls[0].type"));
    }

    #[test]
    fn deprecated_function_role_and_function_call() {
        let req = ok(json!({"model":"m","messages":[
            {"role":"user","content":"time?"},
            {"role":"assistant","content":null,"function_call":{"name":"now","arguments":"{}"}},
            {"role":"function","name":"now","content":"12:00"}
        ],
        "functions":[{"name":"now","description":"Current time","parameters":{"type":"object","properties":{}}}],
        "function_call":{"name":"now"}}));
        let input = &req.body["input"];
        assert_eq!(input[1]["type"], json!("function_call"));
        assert_eq!(input[1]["name"], json!("now"));
        assert_eq!(input[2]["type"], json!("function_call_output"));
        assert_eq!(input[2]["output"], json!("12:00"));
        assert_eq!(input[1]["call_id"], input[2]["call_id"]);
        assert_eq!(
            req.body["tools"],
            json!([{"type":"function","name":"now","description":"Current time","parameters":{"type":"object","properties":{}},"strict":false}])
        );
        assert_eq!(
            req.body["tool_choice"],
            json!({"type":"function","name":"now"})
        );
        assert!(req.ignored_parameters.is_empty());

        let e = err(chat(
            json!([{"role":"function","name":"now","content":"x"}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].name"));
    }
}
