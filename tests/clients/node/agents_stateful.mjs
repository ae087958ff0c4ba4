// The OpenAI Agents SDK for JavaScript against the relay's state store: a
// multi-turn run chained by previousResponseId and a run with a server-managed
// conversation session (OpenAIConversationsSession), each with a tool call in the
// middle of its second turn.
//
// Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw.

import {
  Agent,
  OpenAIConversationsSession,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import OpenAI from 'openai';

const client = new OpenAI({ maxRetries: 0 });
setDefaultOpenAIClient(client);
setOpenAIAPI('responses');
setTracingDisabled(true);

const getSecret = tool({
  name: 'get_secret',
  description: 'Returns the secret word.',
  parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
  strict: true,
  execute: async () => 'TOOL_OUTPUT_7f3',
});

const agent = new Agent({ name: 'assistant', instructions: 'Be brief.', model: 'gpt-5.5', tools: [getSecret] });

const seen = {};
const first = await run(agent, 'CHAIN first question');
const second = await run(agent, 'CHAIN RUN_TOOL now', { previousResponseId: first.lastResponseId });
seen.chain = { first: first.finalOutput, second: second.finalOutput, lastResponseId: second.lastResponseId };

const session = new OpenAIConversationsSession({ client });
await run(agent, 'SESSION first question', { session });
const again = await run(agent, 'SESSION RUN_TOOL now', { session });
const items = await session.getItems();
seen.session = { second: again.finalOutput, items: items.length, id: await session.getSessionId() };
console.log(JSON.stringify(seen));
