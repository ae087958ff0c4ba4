"""Legacy Completions against the relay: the OpenAI Python SDK's
`completions.create` with and without streaming (with
`stream_options.include_usage`), a refused parameter, and LangChain's `OpenAI`
completion LLM (invoke and stream).

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw."""

import json

import openai
from langchain_openai import OpenAI as LangChainOpenAI

client = openai.OpenAI(max_retries=0)
seen = {}

plain = client.completions.create(model="gpt-5.5", prompt="say pong", max_tokens=16)
seen["create"] = {
    "object": plain.object,
    "id": plain.id,
    "text": plain.choices[0].text,
    "finish_reason": plain.choices[0].finish_reason,
    "usage": plain.usage.model_dump() if plain.usage else None,
}

chunks = []
for chunk in client.completions.create(
    model="gpt-5.5", prompt=["LONG:250"], stream=True, stream_options={"include_usage": True},
):
    chunks.append({
        "object": chunk.object,
        "id": chunk.id,
        "choices": [{"text": c.text, "finish_reason": c.finish_reason} for c in chunk.choices],
        "usage": chunk.usage.model_dump() if chunk.usage else None,
    })
seen["stream"] = chunks

try:
    client.completions.create(model="gpt-5.5", prompt="x", echo=True)
    seen["echo"] = "no error"
except openai.BadRequestError as e:
    seen["echo"] = {"class": type(e).__name__, "status": e.status_code, "param": e.body.get("param")}

llm = LangChainOpenAI(model="gpt-5.5", max_retries=0, temperature=0)
seen["langchain_invoke"] = llm.invoke("ECHO:hello from langchain")
seen["langchain_stream"] = "".join(llm.stream("LONG:120"))
print(json.dumps(seen))
