"""The OpenAI Python SDK against the relay: Chat Completions with and without
streaming (with `stream_options.include_usage`) and a two-step tool loop.

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw."""

import json

import openai

client = openai.OpenAI(max_retries=0)
seen = {}
messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "say pong"}]

plain = client.chat.completions.create(model="gpt-5.5", messages=messages)
seen["create"] = {
    "object": plain.object,
    "content": plain.choices[0].message.content,
    "role": plain.choices[0].message.role,
    "finish_reason": plain.choices[0].finish_reason,
    "usage": plain.usage.model_dump() if plain.usage else None,
}

chunks = []
for chunk in client.chat.completions.create(
    model="gpt-5.5", messages=[{"role": "user", "content": "LONG:250"}], stream=True,
    stream_options={"include_usage": True},
):
    chunks.append({
        "object": chunk.object,
        "id": chunk.id,
        "choices": [{
            "role": c.delta.role,
            "content": c.delta.content,
            "finish_reason": c.finish_reason,
        } for c in chunk.choices],
        "usage": chunk.usage.model_dump() if chunk.usage else None,
    })
seen["stream"] = chunks

tools = [{
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
    },
}]
history = [{"role": "user", "content": "RUN_TOOL please"}]
first = client.chat.completions.create(model="gpt-5.5", messages=history, tools=tools)
message = first.choices[0].message
history.append(message)  # the documented pattern: the SDK serialises its own object
for call in message.tool_calls or []:
    history.append({"role": "tool", "tool_call_id": call.id, "content": "tool-ok-42"})
second = client.chat.completions.create(model="gpt-5.5", messages=history, tools=tools)
seen["tool_loop"] = {
    "finish_reason": first.choices[0].finish_reason,
    "content": message.content,
    "calls": [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls or []],
    "final_text": second.choices[0].message.content,
    "final_finish_reason": second.choices[0].finish_reason,
}

# The same loop, streamed: tool-call deltas are assembled as the SDK's users do.
calls = {}
finish = []
for chunk in client.chat.completions.create(model="gpt-5.5", messages=history[:1], tools=tools, stream=True):
    for choice in chunk.choices:
        if choice.finish_reason:
            finish.append(choice.finish_reason)
        for d in choice.delta.tool_calls or []:
            slot = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
            slot["id"] = d.id or slot["id"]
            if d.function and d.function.name:
                slot["name"] += d.function.name
            if d.function and d.function.arguments:
                slot["arguments"] += d.function.arguments
seen["tool_stream"] = {"finish_reasons": finish, "calls": list(calls.values())}

print(json.dumps(seen))
