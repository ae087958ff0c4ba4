// The official Anthropic TypeScript SDK and the Vercel AI SDK's Anthropic provider
// against the relay's Messages API: messages.create with and without streaming, a
// tool round trip with its tool_result, an image, models.list, the error classes for
// a wrong token and an unknown model; then generateText, streamText and a tool loop
// through @ai-sdk/anthropic. Reads OPENAI_BASE_URL (the relay's /v1 URL) and
// OPENAI_API_KEY (the relay token); prints one JSON object with what it saw.
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';

const base = process.env.OPENAI_BASE_URL.replace(/\/v1$/, '');
const token = process.env.OPENAI_API_KEY;
const client = new Anthropic({ baseURL: base, authToken: token, apiKey: null, maxRetries: 0 });
const seen = {};

const plain = await client.messages.create({
  model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'say pong' }],
});
seen.create = { type: plain.type, model: plain.model, text: plain.content[0].text, stop_reason: plain.stop_reason };

let streamed = '';
const stream = client.messages.stream({
  model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'LONG:300' }],
});
stream.on('text', (t) => { streamed += t; });
const final = await stream.finalMessage();
seen.stream = { text_length: streamed.length, stop_reason: final.stop_reason };

const tools = [{ name: 'lookup', description: 'Look a word up', input_schema: { type: 'object', properties: {} } }];
const history = [{ role: 'user', content: 'RUN_TOOL please' }];
const first = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: history, tools });
const call = first.content.find((b) => b.type === 'tool_use');
history.push({ role: 'assistant', content: first.content });
history.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '42' }] });
const second = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: history, tools });
seen.tools = { stop_reason: first.stop_reason, name: call.name, follow_up: second.content[0].text };

// A 1x1 PNG.
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const image = await client.messages.create({
  model: 'claude-sonnet-4-5', max_tokens: 1024,
  messages: [{ role: 'user', content: [
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
    { type: 'text', text: 'IMAGE_MARKER say pong' },
  ] }],
});
seen.image = image.content[0].text;

const models = [];
for await (const m of client.models.list({ limit: 1000 })) models.push(m.id);
seen.models = models;

const error = async (f) => {
  try { await f(); return 'no error'; } catch (e) { return { class: e.constructor.name, status: e.status }; }
};
seen.wrong_token = await error(() => new Anthropic({ baseURL: base, authToken: 'wrong-' + 'x'.repeat(40), apiKey: null, maxRetries: 0 })
  .messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
seen.unknown_model = await error(() => client.messages.create({
  model: 'gpt-nope-9', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
seen.quota = await error(() => client.messages.create({
  model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'FAULT:usage_limit' }] }));
seen.overloaded = await error(() => client.messages.create({
  model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'FAULT:overloaded' }] }));
const counted = await client.messages.countTokens({
  model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hello world '.repeat(100) }] });
seen.count = counted.input_tokens;

const anthropic = createAnthropic({ baseURL: `${base}/v1`, apiKey: token });
const model = anthropic('claude-sonnet-4-5');
const text = await generateText({ model, prompt: 'say pong' });
const streamedText = streamText({ model, prompt: 'LONG:200' });
let aiStream = '';
for await (const part of streamedText.textStream) aiStream += part;
const executed = [];
const loop = await generateText({
  model,
  prompt: 'RUN_TOOL please',
  stopWhen: stepCountIs(3),
  tools: {
    bash: tool({
      description: 'Run a shell command',
      inputSchema: jsonSchema({ type: 'object', properties: { command: { type: 'string' } }, required: ['command'] }),
      execute: async ({ command }) => { executed.push(command); return command.replace(/^echo /, ''); },
    }),
  },
});
seen.ai_sdk = { text: text.text, stream_length: aiStream.length, loop_text: loop.text, executed, steps: loop.steps.length };

console.log(JSON.stringify(seen));
