"""The official `ollama` Python library against the relay's Ollama API: list, show,
ps, the version, chat streamed and not (with tools and a tool-result follow-up,
think, a JSON schema format, an image), generate streamed and not, loading and
unloading, an unknown model, and a client without the relay token.

Reads OPENAI_BASE_URL (the Ollama base URL: the relay's root, or the
`ollama.listen` listener) and OPENAI_API_KEY (the relay token; empty: none is
sent); prints one JSON object with what it saw."""

import base64
import json
import os

import ollama

host = os.environ["OPENAI_BASE_URL"]
token = os.environ.get("OPENAI_API_KEY", "")
headers = {"Authorization": f"Bearer {token}"} if token else {}
client = ollama.Client(host=host, headers=headers)
seen = {}

# The library has no version call: its own HTTP client asks, as apps do.
seen["version"] = client._client.get("/api/version").json()

listed = client.list()
seen["list"] = [{"model": m.model, "size": m.size, "digest": m.digest, "family": m.details.family}
                for m in listed.models]

shown = client.show("gpt-5.5")
seen["show"] = {
    "capabilities": shown.capabilities,
    "model_info": dict(shown.modelinfo or {}),
    "modelfile": shown.modelfile,
    "family": shown.details.family,
}

parts, last = [], None
for chunk in client.chat(model="gpt-5.5", messages=[{"role": "user", "content": "LONG:300"}], stream=True):
    parts.append(chunk.message.content or "")
    last = chunk
seen["chat_stream"] = {
    "chunks": len(parts), "text": "".join(parts), "done": last.done, "done_reason": last.done_reason,
    "eval_count": last.eval_count, "prompt_eval_count": last.prompt_eval_count,
    "total_duration": last.total_duration, "eval_duration": last.eval_duration,
    "prompt_eval_duration": last.prompt_eval_duration, "model": last.model,
}

plain = client.chat(model="gpt-5.5:latest", messages=[{"role": "user", "content": "say pong"}],
                    options={"temperature": 0.2, "num_predict": 64}, keep_alive="10m")
seen["chat"] = {"content": plain.message.content, "done": plain.done, "model": plain.model,
                "done_reason": plain.done_reason, "total_duration": plain.total_duration}


def lookup(word: str = "") -> str:
    """Look a word up.

    Args:
      word: the word
    """
    return "ollama-tool-result-7"


history = [{"role": "user", "content": "RUN_TOOL please"}]
first = client.chat(model="gpt-5.5", messages=history, tools=[lookup], stream=False)
call = first.message.tool_calls[0]
history.append(first.message)
history.append({"role": "tool", "content": lookup(), "tool_name": call.function.name})
second = client.chat(model="gpt-5.5", messages=history, tools=[lookup])
seen["tools"] = {"name": call.function.name, "arguments": dict(call.function.arguments),
                 "follow_up": second.message.content}

thinking = ""
for chunk in client.chat(model="gpt-5.5", messages=[{"role": "user", "content": "REASON, then say pong"}],
                         think="high", stream=True):
    thinking += chunk.message.thinking or ""
seen["think"] = {"thinking": thinking}

schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
formatted = client.chat(model="gpt-5.5", messages=[{"role": "user", "content": "JSON_ANSWER"}], format=schema)
seen["format"] = json.loads(formatted.message.content)

png = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
seen["image"] = client.chat(model="gpt-5.5", messages=[
    {"role": "user", "content": "ECHO:ollama-image-seen", "images": [png]}]).message.content

generated = client.generate(model="gpt-5.5", prompt="say pong", system="Be brief.")
seen["generate"] = {"response": generated.response, "done": generated.done, "done_reason": generated.done_reason}
streamed = [c.response for c in client.generate(model="gpt-5.5:latest", prompt="LONG:200", stream=True)]
seen["generate_stream"] = {"chunks": len(streamed), "text": "".join(streamed)}

seen["load"] = client.generate(model="gpt-5.4-mini", prompt="").done_reason
seen["ps"] = [{"model": m.model, "expires_at": m.expires_at.isoformat() if m.expires_at else None}
              for m in client.ps().models]
seen["unload"] = client.generate(model="gpt-5.4-mini", prompt="", keep_alive=0).done_reason
seen["ps_after_unload"] = [m.model for m in client.ps().models]

try:
    client.chat(model="gpt-nope-9", messages=[{"role": "user", "content": "hi"}])
    seen["unknown_model"] = "no error"
except ollama.ResponseError as e:
    seen["unknown_model"] = {"status": e.status_code, "error": e.error}

try:
    parts = [c.message.content for c in client.chat(
        model="gpt-5.5", messages=[{"role": "user", "content": "LONG:400 FAULT:cut"}], stream=True)]
    seen["cut"] = {"no_error": "".join(parts)}
except ollama.ResponseError as e:
    seen["cut"] = {"error": e.error}

try:
    anonymous = ollama.Client(host=host).list()
    seen["anonymous"] = {"models": len(anonymous.models)}
except ollama.ResponseError as e:
    seen["anonymous"] = {"status": e.status_code, "error": e.error}

print(json.dumps(seen))
