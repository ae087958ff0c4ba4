//! Request bodies. Each workload has a client body (sent to the relays) and the equivalent
//! upstream Responses body (sent straight to the mock); for `/v1/responses` they are the same
//! bytes.

use bytes::Bytes;
use serde_json::{Value, json};

pub const MODEL: &str = "gpt-5.5";
const INSTRUCTIONS: &str = "You are a concise assistant.";
/// What airelays sends upstream when the client sends no instructions (its default
/// `upstream.default_instructions`, src/config.rs).
const RELAY_DEFAULT_INSTRUCTIONS: &str =
    "You are a helpful assistant. Follow the user's instructions carefully and answer accurately.";

/// One workload: what the relays get and what the mock gets directly.
#[derive(Clone)]
pub struct Work {
    pub client_path: &'static str,
    pub client_body: Bytes,
    pub upstream_body: Bytes,
}

fn user_item(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn upstream(input: Vec<Value>, tools: Option<Vec<Value>>, instructions: &str) -> Value {
    let mut body = json!({
        "model": MODEL,
        "instructions": instructions,
        "input": input,
        "stream": true,
        "store": false,
    });
    if let Some(tools) = tools {
        body["tools"] = Value::Array(tools);
        body["tool_choice"] = json!("auto");
        body["parallel_tool_calls"] = json!(true);
    }
    body
}

fn bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("serialise"))
}

/// A streamed Responses request answered "pong" — the same bytes direct and relayed.
pub fn responses(prompt: &str) -> Work {
    let body = bytes(&upstream(vec![user_item(prompt)], None, INSTRUCTIONS));
    Work {
        client_path: "/v1/responses",
        client_body: body.clone(),
        upstream_body: body,
    }
}

/// A streamed chat completion; directly, the equivalent Responses request.
pub fn chat_stream(prompt: &str) -> Work {
    let chat = json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": prompt},
        ],
        "stream": true,
    });
    Work {
        client_path: "/v1/chat/completions",
        client_body: bytes(&chat),
        upstream_body: bytes(&upstream(vec![user_item(prompt)], None, INSTRUCTIONS)),
    }
}

/// A streamed legacy completion (`POST /v1/completions`): the relay answers the `prompt` as
/// one user message under its default instructions; directly, that Responses request.
pub fn completions_stream(prompt: &str) -> Work {
    let legacy = json!({
        "model": MODEL,
        "prompt": prompt,
        "stream": true,
    });
    Work {
        client_path: "/v1/completions",
        client_body: bytes(&legacy),
        upstream_body: bytes(&upstream(
            vec![user_item(prompt)],
            None,
            RELAY_DEFAULT_INSTRUCTIONS,
        )),
    }
}

/// A streamed Anthropic Messages request (`POST /v1/messages`, as Claude Code sends it):
/// the relay answers in Anthropic's event grammar; directly, the equivalent Responses
/// request.
pub fn messages_stream(prompt: &str) -> Work {
    let messages = json!({
        "model": MODEL,
        "max_tokens": 32000,
        "system": [{"type": "text", "text": INSTRUCTIONS}],
        "messages": [{"role": "user", "content": prompt}],
        "stream": true,
    });
    Work {
        client_path: "/v1/messages",
        client_body: bytes(&messages),
        upstream_body: bytes(&upstream(vec![user_item(prompt)], None, INSTRUCTIONS)),
    }
}

/// A streamed Ollama chat request (`POST /api/chat`, streamed by default as Ollama
/// clients send it): the relay answers in NDJSON lines; directly, the equivalent
/// Responses request (the chat rules' default instructions, as on chat).
pub fn ollama_stream(prompt: &str) -> Work {
    let chat = json!({
        "model": format!("{MODEL}:latest"),
        "messages": [{"role": "user", "content": prompt}],
    });
    Work {
        client_path: "/api/chat",
        client_body: bytes(&chat),
        upstream_body: bytes(&upstream(
            vec![user_item(prompt)],
            None,
            RELAY_DEFAULT_INSTRUCTIONS,
        )),
    }
}

/// Text that looks like a coding session: code, quotes, newlines, a little non-ASCII.
fn filler(seed: usize, len: usize) -> String {
    const LINES: [&str; 6] = [
        "fn handle(request: &Request) -> Result<Response, Error> {\n",
        "    let body = serde_json::to_vec(&request.payload)?; // \"encode\"\n",
        "    if body.len() > LIMIT { return Err(Error::TooLarge(body.len())); }\n",
        "}\n\n",
        "The test failed with: assertion `left == right` failed — café, naïve.\n",
        "\tat src/server/routes/mod.rs:142:17\n",
    ];
    let mut out = String::with_capacity(len + 80);
    let mut i = seed;
    while out.len() < len {
        out.push_str(LINES[i % LINES.len()]);
        i += 1;
    }
    out
}

fn tool(i: usize) -> (Value, Value) {
    let name = format!("tool_{i:02}_{}", ["read", "write", "search", "run"][i % 4]);
    let description = format!(
        "Tool number {i}: {}",
        filler(i, 300).replace('\n', " ").trim()
    );
    let parameters = json!({
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "A path inside the workspace."},
            "query": {"type": "string", "description": "What to look for."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
            "recursive": {"type": "boolean"},
            "options": {
                "type": "object",
                "properties": {
                    "encoding": {"type": "string", "enum": ["utf-8", "latin-1"]},
                    "context_lines": {"type": "integer"}
                },
                "additionalProperties": false
            },
            "tags": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["path"],
        "additionalProperties": false
    });
    let chat = json!({"type": "function", "function": {
        "name": name, "description": description, "parameters": parameters}});
    let flat = json!({"type": "function", "name": name, "description": description,
        "parameters": parameters, "strict": false});
    (chat, flat)
}

/// A non-streaming chat request of about `target` bytes (a long history of user turns,
/// tool calls, tool results and answers) with 24 tools; directly, its Responses form.
pub fn large_chat(target: usize) -> Work {
    let (chat_tools, flat_tools): (Vec<Value>, Vec<Value>) = (0..24).map(tool).unzip();
    let system = format!("{INSTRUCTIONS}\n{}", filler(0, 2000));
    let mut messages = vec![json!({"role": "system", "content": system})];
    let mut input = Vec::new();
    let mut size = 0usize;
    let mut turn = 0usize;
    while size < target {
        let question = filler(turn, 6000);
        let arguments =
            json!({"path": format!("src/file_{turn}.rs"), "query": "handle", "limit": 50})
                .to_string();
        let call_id = format!("call_{turn:05}");
        let name = format!("tool_{:02}_read", (turn * 4) % 24);
        let result = filler(turn + 1, 8000);
        let answer = filler(turn + 2, 2000);
        messages.push(json!({"role": "user", "content": question}));
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]}));
        messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": result}));
        messages.push(json!({"role": "assistant", "content": answer}));
        input.push(user_item(&question));
        input.push(json!({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}));
        input.push(json!({"type": "function_call_output", "call_id": call_id, "output": result}));
        input.push(json!({"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": answer}]}));
        size += question.len() + result.len() + answer.len() + arguments.len() + 200;
        turn += 1;
    }
    let last = "Thanks. Now reply with one word.";
    messages.push(json!({"role": "user", "content": last}));
    input.push(user_item(last));
    let chat = json!({
        "model": MODEL,
        "messages": messages,
        "tools": chat_tools,
        "tool_choice": "auto",
        "stream": false,
    });
    Work {
        client_path: "/v1/chat/completions",
        client_body: bytes(&chat),
        upstream_body: bytes(&upstream(input, Some(flat_tools), &system)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_chat_is_about_two_megabytes_with_24_tools() {
        let w = large_chat(2_000_000);
        assert!((1_900_000..2_300_000).contains(&w.client_body.len()));
        let v: Value = serde_json::from_slice(&w.client_body).unwrap();
        assert_eq!(v["tools"].as_array().unwrap().len(), 24);
        let u: Value = serde_json::from_slice(&w.upstream_body).unwrap();
        assert_eq!(u["stream"], true);
        assert_eq!(u["store"], false);
    }

    #[test]
    fn completions_stream_sends_the_prompt_and_its_upstream_form() {
        let w = completions_stream("LONG:1000");
        assert_eq!(w.client_path, "/v1/completions");
        let v: Value = serde_json::from_slice(&w.client_body).unwrap();
        assert_eq!(v["prompt"], "LONG:1000");
        assert_eq!(v["stream"], true);
        assert!(v.get("messages").is_none());
        let u: Value = serde_json::from_slice(&w.upstream_body).unwrap();
        assert_eq!(u["input"][0]["content"][0]["text"], "LONG:1000");
        assert_eq!(u["instructions"], RELAY_DEFAULT_INSTRUCTIONS);
        assert_eq!(u["stream"], true);
    }
}
