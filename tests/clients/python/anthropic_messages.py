"""The official Anthropic Python SDK against the relay's Messages API:
messages.create with and without streaming, a tool round trip, thinking replayed
on the next turn, models.list, the relay token in both `Authorization` and
`x-api-key`, and the error types for a wrong token and an unknown model.

Reads OPENAI_BASE_URL (the relay's /v1 URL) and OPENAI_API_KEY (the relay token);
prints one JSON object with what it saw."""

import json
import os

import anthropic

base = os.environ["OPENAI_BASE_URL"].removesuffix("/v1")
token = os.environ["OPENAI_API_KEY"]
bearer = anthropic.Anthropic(base_url=base, auth_token=token, max_retries=0)
keyed = anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)
seen = {}

plain = bearer.messages.create(
    model="claude-sonnet-4-5", max_tokens=1024,
    system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=abc;"},
            {"type": "text", "text": "Be brief."}],
    messages=[{"role": "user", "content": "say pong"}],
)
seen["create"] = {
    "type": plain.type, "id": plain.id, "model": plain.model, "role": plain.role,
    "text": plain.content[0].text, "stop_reason": plain.stop_reason,
    "usage": plain.usage.model_dump(),
}

raw = keyed.messages.with_raw_response.create(
    model="claude-haiku-4-5", max_tokens=256, extra_body={"temperature": 0.3},
    messages=[{"role": "user", "content": "say pong"}],
)
seen["keyed"] = {
    "text": raw.parse().content[0].text,
    "ignored": raw.headers.get("x-airelays-ignored-parameters"),
    "upstream_model": raw.headers.get("x-airelays-upstream-model"),
    "request_id": raw.headers.get("request-id"),
}

events = []
with bearer.messages.stream(
    model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": "LONG:250"}],
) as stream:
    for event in stream:
        events.append(event.type)
    final = stream.get_final_message()
seen["stream"] = {
    "events": events, "text": final.content[0].text, "stop_reason": final.stop_reason,
    "output_tokens": final.usage.output_tokens,
}

tools = [{"name": "lookup", "description": "Look a word up", "cache_control": {"type": "ephemeral"},
          "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}}}]
history = [{"role": "user", "content": "RUN_TOOL please"}]
with bearer.messages.stream(model="claude-sonnet-4-5", max_tokens=1024, messages=history, tools=tools) as stream:
    first = stream.get_final_message()
call = next(b for b in first.content if b.type == "tool_use")
history += [
    {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "42"}]},
]
second = bearer.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=history, tools=tools)
seen["tools"] = {
    "stop_reason": first.stop_reason, "name": call.name, "input": call.input, "id": call.id,
    "follow_up": second.content[0].text,
}

turn = [{"role": "user", "content": "REASON about it, then say pong"}]
with bearer.messages.stream(
    model="claude-opus-4-1", max_tokens=4096, messages=turn, thinking={"type": "enabled", "budget_tokens": 2048},
) as stream:
    thought = stream.get_final_message()
blocks = [b.model_dump(exclude_none=True) for b in thought.content]
turn += [{"role": "assistant", "content": blocks}, {"role": "user", "content": "again"}]
again = bearer.messages.create(
    model="claude-opus-4-1", max_tokens=4096, messages=turn, thinking={"type": "enabled", "budget_tokens": 2048},
)
seen["thinking"] = {
    "types": [b["type"] for b in blocks],
    "signature": next((b.get("signature", "") for b in blocks if b["type"] == "thinking"), ""),
    "again": [b.type for b in again.content],
}

png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
seen["image"] = bearer.messages.create(
    model="claude-sonnet-4-5", max_tokens=64,
    messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "text", "text": "PY_IMAGE say pong"},
    ]}],
).content[0].text

seen["models"] = [m.id for m in bearer.models.list(limit=1000).data]
seen["count"] = bearer.messages.count_tokens(
    model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hello world " * 100}],
).input_tokens

try:
    anthropic.Anthropic(base_url=base, auth_token="wrong-" + "x" * 40, max_retries=0).messages.create(
        model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    seen["wrong_token"] = "no error"
except anthropic.AuthenticationError as e:
    seen["wrong_token"] = {"class": type(e).__name__, "status": e.status_code, "message": str(e)}

try:
    bearer.messages.create(model="gpt-nope-9", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    seen["unknown_model"] = "no error"
except anthropic.NotFoundError as e:
    seen["unknown_model"] = {"class": type(e).__name__, "status": e.status_code}

for name, prompt in [("quota", "FAULT:usage_limit"), ("overloaded", "FAULT:overloaded")]:
    try:
        bearer.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": prompt}])
        seen[name] = "no error"
    except anthropic.APIStatusError as e:
        seen[name] = {
            "class": type(e).__name__, "status": e.status_code,
            "type": (e.body or {}).get("error", {}).get("type"),
            "retry_after": e.response.headers.get("retry-after"),
            "should_retry": e.response.headers.get("x-should-retry"),
        }

print(json.dumps(seen))
