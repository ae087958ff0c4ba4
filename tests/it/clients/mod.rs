//! Real clients against the relay: the OpenAI Python and Node SDKs and the Vercel AI
//! SDK (`sdk`), and the Codex CLI, opencode, llm and Chromium (`agents`). They are
//! installed, pinned, under `tests/clients/` by `scripts/setup-clients`; a missing
//! install fails the test with that command (these tests are never skipped).

mod agents;
mod anthropic;
mod claude_code;
mod completions;
mod ollama;
mod runner;
mod sdk;
mod stateful;
