"""The OpenAI Python SDK's higher-level helpers against the relay: models.retrieve,
structured outputs (`chat.completions.parse`, `responses.parse` with a Pydantic
model), the chat streaming helper with parallel tool calls, raw responses with the
relay's headers, and the async client.

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw."""

import asyncio
import json

import openai
import pydantic


class Answer(pydantic.BaseModel):
    answer: int


client = openai.OpenAI(max_retries=0)
seen = {}

model = client.models.retrieve("gpt-5.5")
seen["model"] = {"id": model.id, "object": model.object}
try:
    client.models.retrieve("gpt-nope-9")
    seen["unknown_model"] = "no error"
except openai.NotFoundError as e:
    seen["unknown_model"] = {"class": type(e).__name__, "status": e.status_code}

parsed = client.chat.completions.parse(
    model="gpt-5.5", messages=[{"role": "user", "content": "JSON_ANSWER"}], response_format=Answer,
)
seen["chat_parse"] = parsed.choices[0].message.parsed.model_dump()

rparsed = client.responses.parse(model="gpt-5.5", input="JSON_ANSWER", text_format=Answer)
seen["responses_parse"] = rparsed.output_parsed.model_dump()

tools = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "fetch", "parameters": {"type": "object", "properties": {}}}},
]
with client.chat.completions.stream(
    model="gpt-5.5", messages=[{"role": "user", "content": "PARALLEL_TOOLS"}], tools=tools,
) as stream:
    done = [e.name for e in stream if e.type == "tool_calls.function.arguments.done"]
    final = stream.get_final_completion()
message = final.choices[0].message
seen["parallel_stream"] = {
    "arguments_done": done,
    "finish_reason": final.choices[0].finish_reason,
    "calls": [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls or []],
}

raw = client.chat.completions.with_raw_response.create(
    model="gpt-5.5", messages=[{"role": "user", "content": "say pong"}], temperature=0.2, max_tokens=50,
)
seen["raw"] = {
    "ignored": raw.headers.get("x-airelays-ignored-parameters"),
    "request_id": raw.headers.get("x-request-id"),
    "content": raw.parse().choices[0].message.content,
}


async def run_async():
    aclient = openai.AsyncOpenAI(max_retries=0)
    text = ""
    async for event in await aclient.responses.create(model="gpt-5.5", input="say pong", stream=True):
        if event.type == "response.output_text.delta":
            text += event.delta
    chat = await aclient.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "say pong"}])
    await aclient.close()
    return {"responses_stream": text, "chat": chat.choices[0].message.content}


seen["async"] = asyncio.run(run_async())
print(json.dumps(seen))
