// The OpenAI Node SDK against the relay: models, Chat Completions with and without
// streaming (with include_usage) and a two-step tool loop, the Responses API with and
// without streaming and its tool loop, and a wrong key.
// Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw.
import OpenAI, { AuthenticationError, NotFoundError } from 'openai';

const client = new OpenAI({ maxRetries: 0 });
const seen = {};

seen.models = [];
for await (const model of client.models.list()) seen.models.push(model.id);

const plain = await client.chat.completions.create({
  model: 'gpt-5.5',
  messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'say pong' }],
});
seen.chat = {
  object: plain.object,
  role: plain.choices[0].message.role,
  content: plain.choices[0].message.content,
  finish_reason: plain.choices[0].finish_reason,
  usage: plain.usage ?? null,
};

const chunks = [];
const stream = await client.chat.completions.create({
  model: 'gpt-5.5',
  messages: [{ role: 'user', content: 'LONG:250' }],
  stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  chunks.push({
    object: chunk.object,
    id: chunk.id,
    choices: chunk.choices.map((c) => ({
      role: c.delta.role ?? null,
      content: c.delta.content ?? null,
      finish_reason: c.finish_reason,
    })),
    usage: chunk.usage ?? null,
  });
}
seen.chat_stream = chunks;

const chatTools = [{
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Look a word up',
    parameters: { type: 'object', properties: { word: { type: 'string' } } },
  },
}];
const history = [{ role: 'user', content: 'RUN_TOOL please' }];
const first = await client.chat.completions.create({ model: 'gpt-5.5', messages: history, tools: chatTools });
const message = first.choices[0].message;
history.push(message);
for (const call of message.tool_calls ?? []) {
  history.push({ role: 'tool', tool_call_id: call.id, content: 'tool-ok-42' });
}
const second = await client.chat.completions.create({ model: 'gpt-5.5', messages: history, tools: chatTools });
seen.chat_tool_loop = {
  finish_reason: first.choices[0].finish_reason,
  content: message.content,
  calls: (message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
  final_text: second.choices[0].message.content,
};

// The streaming helper assembles tool-call deltas into a final message.
const runner = client.chat.completions.stream({ model: 'gpt-5.5', messages: history.slice(0, 1), tools: chatTools });
const streamedCompletion = await runner.finalChatCompletion();
seen.chat_tool_stream = {
  finish_reason: streamedCompletion.choices[0].finish_reason,
  calls: (streamedCompletion.choices[0].message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
};

const response = await client.responses.create({ model: 'gpt-5.5', input: 'say pong' });
seen.responses = { status: response.status, output_text: response.output_text };

const events = [];
let text = '';
for await (const event of await client.responses.create({ model: 'gpt-5.5', input: 'say pong', stream: true })) {
  events.push(event.type);
  if (event.type === 'response.output_text.delta') text += event.delta;
}
seen.responses_stream = { events, text };

const helper = client.responses.stream({ model: 'gpt-5.5', input: 'LONG:250' });
let helperText = '';
helper.on('response.output_text.delta', (e) => { helperText += e.delta; });
const final = await helper.finalResponse();
seen.responses_helper = { text: helperText, final_text: final.output_text };

const tools = [{
  type: 'function',
  name: 'lookup',
  description: 'Look a word up',
  parameters: { type: 'object', properties: {}, additionalProperties: false },
  strict: false,
}];
const input = [{ role: 'user', content: 'RUN_TOOL please' }];
const r1 = await client.responses.create({ model: 'gpt-5.5', input, tools });
const calls = r1.output.filter((item) => item.type === 'function_call');
for (const call of calls) {
  input.push({ type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments });
  input.push({ type: 'function_call_output', call_id: call.call_id, output: 'tool-ok-42' });
}
const r2 = await client.responses.create({ model: 'gpt-5.5', input, tools });
seen.responses_tool_loop = {
  calls: calls.map((c) => ({ name: c.name, call_id: c.call_id, arguments: c.arguments })),
  final_text: r2.output_text,
};

const errorOf = async (call) => {
  try {
    await call();
    return 'no error';
  } catch (e) {
    if (!(e instanceof AuthenticationError || e instanceof NotFoundError)) throw e;
    return { class: e.constructor.name, status: e.status, code: e.code ?? null, message: e.message };
  }
};
const bad = new OpenAI({ apiKey: 'sk-wrong', maxRetries: 0 });
seen.wrong_key = await errorOf(() => bad.models.list());
seen.unknown_model = await errorOf(() => client.responses.create({ model: 'gpt-nope-9', input: 'hi' }));

console.log(JSON.stringify(seen));
