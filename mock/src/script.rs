//! Decides the scripted answer to a Responses request (the vocabulary is documented in the
//! crate root). Pure functions of the request body, so they are unit-tested here.

use serde_json::{Value, json};

use crate::state::Fault;

/// A function call the mock will make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ToolCall {
    pub name: String,
    /// The JSON arguments, as the string the Responses API carries.
    pub arguments: String,
}

/// What the assistant "says".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Text(String),
    /// A text of exactly this many ASCII bytes, streamed in 100-byte deltas.
    Long(usize),
    FunctionCalls(Vec<ToolCall>),
    CustomToolCall {
        name: String,
        input: String,
    },
}

/// The full decision for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Script {
    /// Stream a reasoning item before the answer.
    pub reasoning: bool,
    pub answer: Answer,
    /// A `FAULT:<name>` found in the prompt.
    pub fault: Option<Fault>,
}

/// Largest `LONG:<n>` honoured, to keep a typo from exhausting memory.
const MAX_LONG_BYTES: usize = 256 << 20;

pub(crate) const CUSTOM_TOOL_INPUT: &str = "*** Begin Patch\n*** End Patch\n";

/// Decides the answer to a (validated) request body. An unknown `FAULT:` name is an error,
/// reported to the client as a 400.
pub(crate) fn decide(body: &Value) -> Result<Script, String> {
    let input = body
        .get("input")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let text = last_user_text(input);
    let reasoning = text.contains("REASON");
    if let Some(output) = trailing_tool_output(input) {
        return Ok(Script {
            reasoning,
            answer: Answer::Text(format!("tool said: {output}")),
            fault: None,
        });
    }
    let fault = fault_in(&text).transpose()?;
    let answer = if text.contains("PARALLEL_TOOLS") {
        parallel_calls(tools)
    } else if text.contains("RUN_TOOL") {
        match best_function_tool(tools) {
            Some(name) => Answer::FunctionCalls(vec![call_for(&name, "tool-ok-42")]),
            None => Answer::Text("no function tool offered".to_owned()),
        }
    } else if text.contains("CUSTOM_TOOL") {
        match first_custom_tool(tools) {
            Some(name) => Answer::CustomToolCall {
                name,
                input: CUSTOM_TOOL_INPUT.to_owned(),
            },
            None => Answer::Text("no custom tool offered".to_owned()),
        }
    } else if let Some(n) = long_request(&text) {
        Answer::Long(n)
    } else if let Some(rest) = after_marker(&text, "ECHO:") {
        Answer::Text(
            rest.lines()
                .next()
                .unwrap_or("")
                .trim_end_matches('\r')
                .to_owned(),
        )
    } else if text.contains("JSON_ANSWER") {
        Answer::Text(r#"{"answer":42}"#.to_owned())
    } else {
        Answer::Text("pong".to_owned())
    };
    Ok(Script {
        reasoning,
        answer,
        fault,
    })
}

fn after_marker<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

/// The concatenated text of a message `content` (a string, or `input_text`/`text` parts).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| {
                matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("input_text" | "text")
                )
            })
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// The text of the last `role:"user"` message (items with or without `type:"message"`).
pub(crate) fn last_user_text(input: &[Value]) -> String {
    input
        .iter()
        .rev()
        .find(|item| {
            item.get("role").and_then(Value::as_str) == Some("user")
                && matches!(
                    item.get("type").and_then(Value::as_str),
                    None | Some("message")
                )
        })
        .and_then(|item| item.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// The output of the last input item when it is a tool output.
pub(crate) fn trailing_tool_output(input: &[Value]) -> Option<String> {
    let last = input.last()?;
    match last.get("type").and_then(Value::as_str) {
        Some("function_call_output" | "custom_tool_call_output") => {
            Some(last.get("output").map(content_text).unwrap_or_default())
        }
        _ => None,
    }
}

fn fault_in(text: &str) -> Option<Result<Fault, String>> {
    let rest = after_marker(text, "FAULT:")?;
    let token = rest
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches(['.', ',', ';', '!', '?', '"', '\'', ')']);
    let (name, arg) = match token.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (token, None),
    };
    Some(Fault::from_name(name, arg))
}

fn long_request(text: &str) -> Option<usize> {
    let rest = after_marker(text, "LONG:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<usize>().ok().map(|n| n.min(MAX_LONG_BYTES))
}

/// `n` bytes of readable ASCII.
pub(crate) fn long_text(n: usize) -> String {
    const PATTERN: &str = "The quick brown fox jumps over the lazy dog. ";
    let mut text = PATTERN.repeat(n / PATTERN.len() + 1);
    text.truncate(n);
    text
}

fn tool_name(tool: &Value) -> Option<&str> {
    tool.get("name")
        .and_then(Value::as_str)
        .or_else(|| tool.get("function")?.get("name")?.as_str())
}

fn is_function(tool: &Value) -> bool {
    tool.get("type").and_then(Value::as_str) == Some("function")
}

/// Names of the function tools offered: top-level ones, or, only when there are none, those
/// nested in `namespace` tools.
fn function_tool_names(tools: &[Value]) -> Vec<String> {
    let top: Vec<String> = tools
        .iter()
        .filter(|t| is_function(t))
        .filter_map(tool_name)
        .map(str::to_owned)
        .collect();
    if !top.is_empty() {
        return top;
    }
    tools
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("namespace"))
        .filter_map(|t| t.get("tools").and_then(Value::as_array))
        .flatten()
        .filter(|t| {
            matches!(
                t.get("type").and_then(Value::as_str),
                None | Some("function")
            )
        })
        .filter_map(tool_name)
        .map(str::to_owned)
        .collect()
}

/// Shell tools of the real clients: Codex (`exec_command`, `shell`), opencode
/// (`bash`) and Claude Code (`Bash`).
const SHELL_TOOLS: [&str; 4] = ["exec_command", "bash", "Bash", "shell"];

fn best_shell_tool(names: &[String]) -> Option<String> {
    SHELL_TOOLS
        .iter()
        .find(|shell| names.iter().any(|n| n == *shell))
        .map(|s| (*s).to_owned())
}

fn best_function_tool(tools: &[Value]) -> Option<String> {
    let names = function_tool_names(tools);
    best_shell_tool(&names).or_else(|| names.into_iter().next())
}

/// A call to `name`: shell tools run `echo <marker>`, anything else gets `{}`.
fn call_for(name: &str, marker: &str) -> ToolCall {
    let command = format!("echo {marker}");
    let arguments = match name {
        "exec_command" => json!({ "cmd": command }),
        "bash" | "Bash" => json!({ "command": command, "description": "Print a marker" }),
        "shell" => json!({ "command": ["bash", "-lc", command] }),
        _ => json!({}),
    };
    ToolCall {
        name: name.to_owned(),
        arguments: arguments.to_string(),
    }
}

fn parallel_calls(tools: &[Value]) -> Answer {
    let names = function_tool_names(tools);
    let calls = if let Some(shell) = best_shell_tool(&names) {
        vec![
            call_for(&shell, "tool-ok-42"),
            call_for(&shell, "tool-ok-43"),
        ]
    } else {
        match names.as_slice() {
            [] => return Answer::Text("no function tool offered".to_owned()),
            [only] => vec![call_for(only, "tool-ok-42"), call_for(only, "tool-ok-43")],
            [first, second, ..] => vec![
                call_for(first, "tool-ok-42"),
                call_for(second, "tool-ok-43"),
            ],
        }
    };
    Answer::FunctionCalls(calls)
}

fn first_custom_tool(tools: &[Value]) -> Option<String> {
    tools
        .iter()
        .find(|t| t.get("type").and_then(Value::as_str) == Some("custom"))
        .and_then(tool_name)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn body(input: Value, tools: Value) -> Value {
        json!({ "model": "gpt-5.5", "input": input, "tools": tools })
    }

    fn user(text: &str) -> Value {
        json!({ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": text }] })
    }

    fn answer(text: &str, tools: Value) -> Answer {
        decide(&body(json!([user(text)]), tools)).unwrap().answer
    }

    fn function(name: &str) -> Value {
        json!({ "type": "function", "name": name, "parameters": {} })
    }

    #[test]
    fn default_is_pong_and_uses_only_the_last_user_message() {
        let input = json!([user("ECHO:old"), {"role": "assistant", "content": "x"}, {"role": "user", "content": "hi"}]);
        assert_eq!(
            decide(&body(input, json!([]))).unwrap().answer,
            Answer::Text("pong".into())
        );
    }

    #[test]
    fn echo_json_long() {
        assert_eq!(
            answer("say ECHO:hello world\nmore", json!([])),
            Answer::Text("hello world".into())
        );
        assert_eq!(
            answer("JSON_ANSWER please", json!([])),
            Answer::Text(r#"{"answer":42}"#.into())
        );
        assert_eq!(answer("LONG:1000", json!([])), Answer::Long(1000));
        assert_eq!(long_text(1000).len(), 1000);
    }

    #[test]
    fn run_tool_prefers_codex_then_opencode_then_shell() {
        let codex = answer(
            "RUN_TOOL",
            json!([function("write_stdin"), function("exec_command")]),
        );
        assert_eq!(
            codex,
            Answer::FunctionCalls(vec![ToolCall {
                name: "exec_command".into(),
                arguments: r#"{"cmd":"echo tool-ok-42"}"#.into()
            }])
        );
        let Answer::FunctionCalls(calls) =
            answer("RUN_TOOL", json!([function("edit"), function("bash")]))
        else {
            panic!()
        };
        assert_eq!(calls[0].name, "bash");
        let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
        assert_eq!(args["command"], "echo tool-ok-42");
        let Answer::FunctionCalls(calls) = answer("RUN_TOOL", json!([function("shell")])) else {
            panic!()
        };
        assert_eq!(
            calls[0].arguments,
            r#"{"command":["bash","-lc","echo tool-ok-42"]}"#
        );
        let Answer::FunctionCalls(calls) = answer(
            "RUN_TOOL",
            json!([{"type": "web_search"}, {"type": "function", "function": {"name": "get_time"}}]),
        ) else {
            panic!()
        };
        assert_eq!(
            (calls[0].name.as_str(), calls[0].arguments.as_str()),
            ("get_time", "{}")
        );
    }

    #[test]
    fn namespace_tools_only_when_nothing_else() {
        let nested = json!({"type": "namespace", "name": "ns", "tools": [function("spawn")]});
        let Answer::FunctionCalls(calls) = answer("RUN_TOOL", json!([nested.clone()])) else {
            panic!()
        };
        assert_eq!(calls[0].name, "spawn");
        let Answer::FunctionCalls(calls) = answer("RUN_TOOL", json!([nested, function("view")]))
        else {
            panic!()
        };
        assert_eq!(calls[0].name, "view");
        assert_eq!(
            answer("RUN_TOOL", json!([])),
            Answer::Text("no function tool offered".into())
        );
    }

    #[test]
    fn parallel_and_custom() {
        let Answer::FunctionCalls(calls) =
            answer("PARALLEL_TOOLS", json!([function("a"), function("b")]))
        else {
            panic!()
        };
        assert_eq!(
            calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let Answer::FunctionCalls(calls) =
            answer("PARALLEL_TOOLS", json!([function("a"), function("bash")]))
        else {
            panic!()
        };
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|c| c.name == "bash"));
        assert_ne!(calls[0].arguments, calls[1].arguments);
        assert_eq!(
            answer(
                "CUSTOM_TOOL",
                json!([function("a"), {"type": "custom", "name": "apply_patch"}])
            ),
            Answer::CustomToolCall {
                name: "apply_patch".into(),
                input: CUSTOM_TOOL_INPUT.into()
            }
        );
    }

    #[test]
    fn tool_output_wins_over_markers() {
        let input = json!([user("RUN_TOOL"), {"type": "function_call", "call_id": "c", "name": "bash", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "tool-ok-42\n"}]);
        assert_eq!(
            decide(&body(input, json!([]))).unwrap().answer,
            Answer::Text("tool said: tool-ok-42\n".into())
        );
        let input = json!([user("x"), {"type": "custom_tool_call_output", "call_id": "c",
            "output": [{"type": "input_text", "text": "Done"}, {"type": "input_image", "image_url": "data:"}]}]);
        assert_eq!(
            decide(&body(input, json!([]))).unwrap().answer,
            Answer::Text("tool said: Done".into())
        );
    }

    #[test]
    fn reason_is_a_modifier_and_faults_parse() {
        let s = decide(&body(json!([user("REASON then ECHO:hi")]), json!([]))).unwrap();
        assert!(s.reasoning);
        assert_eq!(s.answer, Answer::Text("hi".into()));
        let s = decide(&body(json!([user("please FAULT:stall:2.")]), json!([]))).unwrap();
        assert_eq!(
            s.fault,
            Some(Fault::StallAfterFirstEvent(Duration::from_secs(2)))
        );
        let s = decide(&body(
            json!([user("FAULT:failed:rate_limit_exceeded")]),
            json!([]),
        ))
        .unwrap();
        assert!(
            matches!(s.fault, Some(Fault::Failed { ref code, .. }) if code == "rate_limit_exceeded")
        );
        assert!(decide(&body(json!([user("FAULT:nope")]), json!([]))).is_err());
    }
}
