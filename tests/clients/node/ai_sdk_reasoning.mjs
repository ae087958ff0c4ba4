// The Vercel AI SDK's Responses model with a reasoning model, as apps use it: a tool
// loop (generateText and streamText) and a second conversation turn. With `store`
// left unset the SDK replays the earlier reasoning and assistant text as
// `item_reference`s, which the relay must resolve (the backend stores nothing).
// Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';

const openai = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const model = openai('gpt-5.5');
const providerOptions = { openai: { reasoningSummary: 'auto' } };
const tools = {
  bash: tool({
    description: 'Run a shell command',
    inputSchema: jsonSchema({ type: 'object', properties: { command: { type: 'string' } }, required: ['command'] }),
    execute: async ({ command }) => command.replace(/^echo /, ''),
  }),
};
const seen = {};

const loop = await generateText({ model, prompt: 'REASON RUN_TOOL please', tools, stopWhen: stepCountIs(3), providerOptions });
seen.generate_tool_loop = { text: loop.text, steps: loop.steps.length, reasoning: loop.reasoningText ?? null };

const streamed = streamText({ model, prompt: 'REASON RUN_TOOL please', tools, stopWhen: stepCountIs(3), providerOptions });
let streamedText = '';
for await (const delta of streamed.textStream) streamedText += delta;
seen.stream_tool_loop = { text: streamedText, steps: (await streamed.steps).length };

const first = await generateText({ model, prompt: 'REASON say pong', providerOptions });
const second = await generateText({
  model,
  messages: [{ role: 'user', content: 'REASON say pong' }, ...first.response.messages, { role: 'user', content: 'ECHO:second turn' }],
  providerOptions,
});
seen.two_turns = { first: first.text, second: second.text };
console.log(JSON.stringify(seen));
