// The OpenAI Node SDK's higher-level helpers against the relay: models.retrieve,
// `chat.completions.runTools` (the SDK runs the tool loop itself), the chat streaming
// helper with parallel tool calls, structured output parsing, and raw responses with
// the relay's headers. Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object.
import OpenAI from 'openai';

const client = new OpenAI({ maxRetries: 0 });
const seen = {};

const model = await client.models.retrieve('gpt-5.5');
seen.model = { id: model.id, object: model.object };

const calledWith = [];
const runner = client.chat.completions.runTools({
  model: 'gpt-5.5',
  messages: [{ role: 'user', content: 'RUN_TOOL please' }],
  tools: [{
    type: 'function',
    function: {
      name: 'lookup',
      description: 'Look a word up',
      parameters: { type: 'object', properties: {} },
      parse: JSON.parse,
      function: async (args) => {
        calledWith.push(args);
        return 'tool-ok-42';
      },
    },
  }],
});
seen.run_tools = { final_content: await runner.finalContent(), called_with: calledWith };

const tools = ['lookup', 'fetch'].map((name) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: {} } },
}));
const stream = client.chat.completions.stream({
  model: 'gpt-5.5',
  messages: [{ role: 'user', content: 'PARALLEL_TOOLS' }],
  tools,
  stream_options: { include_usage: true },
});
const argumentsDone = [];
stream.on('tool_calls.function.arguments.done', (e) => argumentsDone.push(e.name));
const final = await stream.finalChatCompletion();
seen.parallel_stream = {
  arguments_done: argumentsDone,
  finish_reason: final.choices[0].finish_reason,
  calls: (final.choices[0].message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
  total_tokens: final.usage?.total_tokens ?? null,
};

const parsed = await client.chat.completions.parse({
  model: 'gpt-5.5',
  messages: [{ role: 'user', content: 'JSON_ANSWER' }],
  response_format: {
    type: 'json_schema',
    json_schema: {
      name: 'answer',
      strict: true,
      schema: { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'], additionalProperties: false },
    },
  },
});
seen.chat_parse = parsed.choices[0].message.parsed;

const { data, response } = await client.responses
  .create({ model: 'gpt-5.5', input: 'say pong', temperature: 0.2, max_output_tokens: 50 })
  .withResponse();
seen.raw = {
  ignored: response.headers.get('x-airelays-ignored-parameters'),
  request_id: response.headers.get('x-request-id'),
  output_text: data.output_text,
  request_id_prop: data._request_id ?? null,
};
console.log(JSON.stringify(seen));
