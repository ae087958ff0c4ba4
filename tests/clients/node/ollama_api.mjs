// The official `ollama` JavaScript library against the relay's Ollama API: version,
// list, show, ps, chat streamed and not (tools with a tool-result follow-up, think, a
// JSON schema format, an image), generate streamed and not, loading and unloading, an
// unknown model, a cut stream, and a client without the relay token.
// Reads OPENAI_BASE_URL (the Ollama base URL) and OPENAI_API_KEY (the relay token;
// empty: none is sent); prints one JSON object.
import { Ollama } from 'ollama';

const host = process.env.OPENAI_BASE_URL;
const token = process.env.OPENAI_API_KEY ?? '';
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const client = new Ollama({ host, headers });
const seen = {};

seen.version = await client.version();
seen.list = (await client.list()).models.map((m) => ({ model: m.model, size: m.size }));
const shown = await client.show({ model: 'gpt-5.5:latest' });
seen.show = { capabilities: shown.capabilities, model_info: shown.model_info };

const plain = await client.chat({
  model: 'gpt-5.5:latest',
  messages: [{ role: 'user', content: 'say pong' }],
  options: { temperature: 0.2 },
});
seen.chat = { content: plain.message.content, done: plain.done, model: plain.model, done_reason: plain.done_reason };

const tools = [{
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Look a word up',
    parameters: { type: 'object', properties: { word: { type: 'string' } } },
  },
}];
const history = [{ role: 'user', content: 'RUN_TOOL please' }];
const first = await client.chat({ model: 'gpt-5.5', messages: history, tools, stream: false });
const call = first.message.tool_calls[0];
history.push(first.message);
history.push({ role: 'tool', content: 'ollama-tool-result-7', tool_name: call.function.name });
let followUp = '';
for await (const part of await client.chat({ model: 'gpt-5.5', messages: history, tools, stream: true })) {
  followUp += part.message.content;
}
seen.tools = { name: call.function.name, arguments: call.function.arguments, follow_up: followUp };

let thinking = '';
for await (const part of await client.chat({
  model: 'gpt-5.5', messages: [{ role: 'user', content: 'REASON, then say pong' }], think: true, stream: true,
})) {
  thinking += part.message.thinking ?? '';
}
seen.think = { thinking };

const schema = { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] };
const formatted = await client.chat({ model: 'gpt-5.5', messages: [{ role: 'user', content: 'JSON_ANSWER' }], format: schema });
seen.format = JSON.parse(formatted.message.content);

const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
seen.image = (await client.chat({
  model: 'gpt-5.5', messages: [{ role: 'user', content: 'ECHO:ollama-image-seen', images: [png] }],
})).message.content;

const generated = await client.generate({ model: 'gpt-5.5', prompt: 'say pong' });
seen.generate = { response: generated.response, done: generated.done, done_reason: generated.done_reason };
let streamed = '';
let chunks = 0;
for await (const part of await client.generate({ model: 'gpt-5.5:latest', prompt: 'LONG:200', stream: true })) {
  streamed += part.response;
  chunks += 1;
}
seen.generate_stream = { chunks, text: streamed };

seen.load = (await client.generate({ model: 'gpt-5.4-mini', prompt: '' })).done_reason;
seen.ps = (await client.ps()).models.map((m) => ({ model: m.model, expires_at: m.expires_at }));
seen.unload = (await client.generate({ model: 'gpt-5.4-mini', prompt: '', keep_alive: 0 })).done_reason;
seen.ps_after_unload = (await client.ps()).models.map((m) => m.model);

try {
  await client.chat({ model: 'gpt-nope-9', messages: [{ role: 'user', content: 'hi' }] });
  seen.unknown_model = 'no error';
} catch (e) {
  seen.unknown_model = { status: e.status_code, error: e.error };
}

try {
  let text = '';
  for await (const part of await client.chat({
    model: 'gpt-5.5', messages: [{ role: 'user', content: 'LONG:400 FAULT:cut' }], stream: true,
  })) {
    text += part.message.content;
  }
  seen.cut = { no_error: text };
} catch (e) {
  seen.cut = { error: e.message };
}

try {
  const anonymous = await new Ollama({ host }).list();
  seen.anonymous = { models: anonymous.models.length };
} catch (e) {
  seen.anonymous = { status: e.status_code, error: e.error };
}

console.log(JSON.stringify(seen));
