"""The OpenAI Agents SDK for Python against the relay's state store: a multi-turn
run chained by previous_response_id, a run on a conversation id, and a run with a
server-managed conversation session (OpenAIConversationsSession), each with a tool
call in the middle of its second turn.

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw."""

import asyncio
import json

from agents import (
    Agent,
    OpenAIConversationsSession,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

client = AsyncOpenAI(max_retries=0)
set_default_openai_client(client, use_for_tracing=False)
set_default_openai_api("responses")
set_tracing_disabled(True)


@function_tool
def get_secret() -> str:
    """Returns the secret word."""
    return "TOOL_OUTPUT_7f3"


agent = Agent(name="assistant", instructions="Be brief.", model="gpt-5.5", tools=[get_secret])


async def main():
    seen = {}
    # previous_response_id: the second run continues the first by id only.
    first = await Runner.run(agent, "CHAIN first question")
    second = await Runner.run(agent, "CHAIN RUN_TOOL now", previous_response_id=first.last_response_id)
    seen["chain"] = {"first": first.final_output, "second": second.final_output, "last_response_id": second.last_response_id}

    # conversation_id: both runs on one stored conversation.
    conv = await client.conversations.create(metadata={"who": "agents"})
    await Runner.run(agent, "CONV first question", conversation_id=conv.id)
    second = await Runner.run(agent, "CONV RUN_TOOL now", conversation_id=conv.id)
    items = await client.conversations.items.list(conv.id, order="asc", limit=100)
    seen["conversation"] = {"id": conv.id, "second": second.final_output, "items": [i.type for i in items.data]}

    # A server-managed conversation session.
    session = OpenAIConversationsSession(openai_client=client)
    await Runner.run(agent, "SESSION first question", session=session)
    second = await Runner.run(agent, "SESSION RUN_TOOL now", session=session)
    stored = await session.get_items()
    seen["session"] = {"second": second.final_output, "items": len(stored)}
    print(json.dumps(seen))


asyncio.run(main())
