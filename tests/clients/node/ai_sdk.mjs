// The Vercel AI SDK against the relay: generateText and streamText on both of its
// OpenAI models, openai.chat(...) (Chat Completions) and openai(...) (Responses),
// plain and with a tool loop the mock drives (it calls the `bash` tool).
// Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';

const openai = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });

const executed = [];
const tools = {
  bash: tool({
    description: 'Run a shell command',
    inputSchema: jsonSchema({
      type: 'object',
      properties: { command: { type: 'string' }, description: { type: 'string' } },
      required: ['command'],
    }),
    // Never runs anything: answers with the marker the mock asked to echo.
    execute: async ({ command }) => {
      executed.push(command);
      return command.replace(/^echo /, '');
    },
  }),
};

const summary = (result, text) => ({
  text,
  steps: result.steps.length,
  finish_reason: result.finishReason,
  tool_calls: result.steps.flatMap((s) => s.toolCalls.map((c) => ({ name: c.toolName, input: c.input }))),
  tool_results: result.steps.flatMap((s) => s.toolResults.map((r) => r.output)),
  total_tokens: result.totalUsage?.totalTokens ?? null,
});

const run = async (model) => {
  const plain = await generateText({ model, prompt: 'say pong' });
  const streamedPlain = streamText({ model, prompt: 'say pong' });
  const loop = await generateText({ model, prompt: 'RUN_TOOL please', tools, stopWhen: stepCountIs(3) });
  const streamedLoop = streamText({ model, prompt: 'RUN_TOOL please', tools, stopWhen: stepCountIs(3) });
  let loopText = '';
  for await (const delta of streamedLoop.textStream) loopText += delta;
  return {
    generate: { text: plain.text, finish_reason: plain.finishReason },
    stream: { text: await streamedPlain.text, finish_reason: await streamedPlain.finishReason },
    generate_tool_loop: summary(loop, loop.text),
    stream_tool_loop: summary({
      steps: await streamedLoop.steps,
      finishReason: await streamedLoop.finishReason,
      totalUsage: await streamedLoop.totalUsage,
    }, loopText),
  };
};

const seen = { chat: await run(openai.chat('gpt-5.5')), responses: await run(openai('gpt-5.5')) };
seen.executed = executed;
console.log(JSON.stringify(seen));
