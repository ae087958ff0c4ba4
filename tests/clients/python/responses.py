"""The OpenAI Python SDK against the relay: models, the Responses API with and
without streaming, `responses.stream()`, and a two-step function-tool loop.

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw."""

import json

import openai

client = openai.OpenAI(max_retries=0)
seen = {}

seen["models"] = [m.id for m in client.models.list()]

plain = client.responses.create(model="gpt-5.5", input="say pong")
seen["create"] = {"id": plain.id, "status": plain.status, "output_text": plain.output_text}

events, deltas = [], []
for event in client.responses.create(model="gpt-5.5", input="say pong", stream=True):
    events.append(event.type)
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
seen["create_stream"] = {"events": events, "text": "".join(deltas)}

with client.responses.stream(model="gpt-5.5", input="LONG:250") as stream:
    streamed = [e.delta for e in stream if e.type == "response.output_text.delta"]
    final = stream.get_final_response()
seen["stream_helper"] = {"deltas": len(streamed), "text": "".join(streamed), "final_text": final.output_text}

tools = [{
    "type": "function",
    "name": "lookup",
    "description": "Look a word up",
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
}]
history = [{"role": "user", "content": "RUN_TOOL please"}]
first = client.responses.create(model="gpt-5.5", input=history, tools=tools)
calls = [item for item in first.output if item.type == "function_call"]
for call in calls:
    history.append({"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments})
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "tool-ok-42"})
second = client.responses.create(model="gpt-5.5", input=history, tools=tools)
seen["tool_loop"] = {
    "calls": [{"name": c.name, "arguments": json.loads(c.arguments), "call_id": c.call_id} for c in calls],
    "final_text": second.output_text,
}

print(json.dumps(seen))
