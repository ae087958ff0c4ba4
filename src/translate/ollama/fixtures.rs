//! Request bodies of Ollama clients, in the shapes they send: Open WebUI's Ollama connection
//! (chat with `:latest` appended, title generation with `stream: false`, a tool
//! loop with its own ids, an unload) and the official `ollama` Python library.

pub(crate) const OPENWEBUI_CHAT: &str = include_str!("fixtures/openwebui_chat.json");
pub(crate) const OPENWEBUI_TITLE: &str = include_str!("fixtures/openwebui_title.json");
pub(crate) const OPENWEBUI_TOOL_LOOP: &str = include_str!("fixtures/openwebui_tool_loop.json");
pub(crate) const OPENWEBUI_UNLOAD: &str = include_str!("fixtures/openwebui_unload.json");
pub(crate) const OLLAMA_PYTHON_CHAT: &str = include_str!("fixtures/ollama_python_chat.json");
pub(crate) const OLLAMA_PYTHON_GENERATE: &str =
    include_str!("fixtures/ollama_python_generate.json");
