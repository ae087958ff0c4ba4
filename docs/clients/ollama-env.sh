export OLLAMA_HOST=http://127.0.0.1:8080
export OLLAMA_API_KEY="$(airelays token show --json | jq -r .token)"
