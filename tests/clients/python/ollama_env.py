"""The `ollama` Python library configured only by the environment of
docs/clients/ollama-env.sh (OLLAMA_HOST, OLLAMA_API_KEY): the module-level client,
as a user's script would use it. Prints one JSON object."""

import json

import ollama

print(json.dumps({
    "models": [m.model for m in ollama.list().models],
    "content": ollama.chat(model="gpt-5.5", messages=[{"role": "user", "content": "say pong"}]).message.content,
}))
