"""The OpenAI Python SDK's typed errors from the relay: a wrong key and an unknown
model. Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object."""

import json

import openai

seen = {}

bad = openai.OpenAI(api_key="sk-wrong", max_retries=0)
try:
    bad.models.list()
    seen["wrong_key"] = "no error"
except openai.AuthenticationError as e:
    seen["wrong_key"] = {"class": type(e).__name__, "status": e.status_code, "code": e.code, "message": e.message}

client = openai.OpenAI(max_retries=0)
for name, call in [
    ("unknown_model_chat", lambda: client.chat.completions.create(model="gpt-nope-9", messages=[{"role": "user", "content": "hi"}])),
    ("unknown_model_responses", lambda: client.responses.create(model="gpt-nope-9", input="hi")),
]:
    try:
        call()
        seen[name] = "no error"
    except openai.NotFoundError as e:
        seen[name] = {"class": type(e).__name__, "status": e.status_code, "code": e.code, "message": e.message}

print(json.dumps(seen))
