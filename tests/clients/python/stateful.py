"""The OpenAI Python SDK against the relay's state store: responses.retrieve,
responses.input_items.list paging, responses.delete, the conversations and
conversations.items surface, and BadRequestError for an unknown
previous_response_id. `stateful.py before` sets up a chain and prints its last id;
`stateful.py after <id>` continues it (the test restarts the relay in between).

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw."""

import json
import sys

import openai

client = openai.OpenAI(max_retries=0)
seen = {}


def text(response):
    return response.output_text


def before():
    first = client.responses.create(model="gpt-5.5", input="STATE first")
    second = client.responses.create(model="gpt-5.5", input="STATE second", previous_response_id=first.id)
    third = client.responses.create(
        model="gpt-5.5",
        input=[{"role": "user", "content": f"item {i}"} for i in range(5)],
        previous_response_id=second.id,
    )
    got = client.responses.retrieve(second.id)
    seen["retrieve"] = {"id": got.id, "previous": got.previous_response_id, "text": got.output_text, "status": got.status}

    page = client.responses.input_items.list(third.id, limit=2, order="asc")
    seen["first_page"] = {"count": len(page.data), "has_more": page.has_more}
    seen["all_items"] = [item.content[0].text for item in client.responses.input_items.list(third.id, limit=2, order="asc")]
    seen["desc_items"] = [item.content[0].text for item in client.responses.input_items.list(third.id)]

    doomed = client.responses.create(model="gpt-5.5", input="STATE doomed")
    client.responses.delete(doomed.id)
    try:
        client.responses.retrieve(doomed.id)
        seen["deleted"] = "still there"
    except openai.NotFoundError as e:
        seen["deleted"] = {"class": type(e).__name__, "status": e.status_code}

    try:
        client.responses.create(model="gpt-5.5", input="x", previous_response_id="resp_doesnotexist")
        seen["unknown"] = "no error"
    except openai.BadRequestError as e:
        seen["unknown"] = {"class": type(e).__name__, "code": e.code, "param": e.param, "message": e.message}

    conv = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "CONVO hello"}], metadata={"topic": "demo"}
    )
    seen["conversation"] = {"id": conv.id, "object": conv.object, "metadata": conv.metadata}
    seen["conversation_retrieved"] = client.conversations.retrieve(conv.id).metadata
    seen["conversation_updated"] = client.conversations.update(conv.id, metadata={"topic": "changed"}).metadata
    added = client.conversations.items.create(conv.id, items=[{"type": "message", "role": "user", "content": "CONVO extra"}])
    extra_id = added.data[0].id
    seen["item_retrieved"] = client.conversations.items.retrieve(extra_id, conversation_id=conv.id).content[0].text
    client.conversations.items.delete(extra_id, conversation_id=conv.id)
    answer = client.responses.create(model="gpt-5.5", input="CONVO next", conversation=conv.id)
    seen["conversation_answer"] = answer.output_text
    items = client.conversations.items.list(conv.id, order="asc")
    seen["conversation_items"] = [[i.role, i.content[0].text] for i in items.data]
    deleted = client.conversations.delete(conv.id)
    seen["conversation_deleted"] = deleted.deleted
    try:
        client.conversations.retrieve(conv.id)
        seen["conversation_gone"] = "still there"
    except openai.NotFoundError as e:
        seen["conversation_gone"] = e.status_code
    seen["chain_last"] = third.id


def after(last):
    answer = client.responses.create(model="gpt-5.5", input="STATE after restart", previous_response_id=last)
    seen["after"] = {"text": answer.output_text, "retrieved": client.responses.retrieve(last).id}


if sys.argv[1] == "before":
    before()
else:
    after(sys.argv[2])
print(json.dumps(seen))
