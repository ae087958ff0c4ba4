"""The OpenAI Python SDK's Files API against the relay: upload (multipart with
`purpose` before `file`), list with pagination, retrieve, content, then chat and
Responses requests that reference the uploads, then delete.

Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw
(file contents as base64, so the test can compare bytes)."""

import base64
import json
import struct
import zlib

import openai


def png(width, height):
    """A real PNG: signature, IHDR, one IDAT of RGB rows, IEND."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"".join(bytes([x * 40 % 256, y * 60 % 256, 200]) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


client = openai.OpenAI(max_retries=0)
uploads = {
    "hello.txt": ("hello world\nünïcödé ✓\n".encode(), "text/plain"),
    "notes.md": (b"# Notes\n\n- one\n- two\n", "text/markdown"),
    "pixel.png": (png(3, 2), "image/png"),
}
seen = {"uploaded": {}, "created": {}}
ids = {}
for name, (data, content_type) in uploads.items():
    obj = client.files.create(file=(name, data, content_type), purpose="user_data")
    ids[name] = obj.id
    seen["uploaded"][name] = base64.b64encode(data).decode()
    seen["created"][name] = obj.model_dump()

# Auto-pagination, one file per page.
seen["auto_pages"] = [f.id for f in client.files.list(limit=1)]

# The same walk by hand with `after`, until has_more is false.
walk, after = [], None
while True:
    page = client.files.list(limit=2, order="asc", **({"after": after} if after else {}))
    walk.append({"ids": [f.id for f in page.data], "has_more": page.has_more, "first_id": page.first_id, "last_id": page.last_id})
    if not page.has_more:
        break
    after = page.data[-1].id
seen["after_walk"] = walk

seen["retrieved"] = {name: client.files.retrieve(fid).model_dump() for name, fid in ids.items()}
seen["content"] = {name: base64.b64encode(client.files.content(fid).read()).decode() for name, fid in ids.items()}

chat = client.chat.completions.create(
    model="gpt-5.5",
    messages=[{
        "role": "user",
        "content": [
            {"type": "text", "text": "ECHO:chat with files\n"},
            {"type": "file", "file": {"file_id": ids["hello.txt"]}},
            {"type": "image_url", "image_url": {"file_id": ids["pixel.png"], "detail": "low"}},
        ],
    }],
)
seen["chat_text"] = chat.choices[0].message.content

resp = client.responses.create(
    model="gpt-5.5",
    input=[{
        "role": "user",
        "content": [
            {"type": "input_text", "text": "ECHO:responses with files\n"},
            {"type": "input_file", "file_id": ids["notes.md"]},
            {"type": "input_image", "file_id": ids["pixel.png"], "detail": "auto"},
        ],
    }],
)
seen["responses_text"] = resp.output_text

seen["deleted"] = [client.files.delete(fid).model_dump() for fid in ids.values()]
seen["after_delete"] = [f.id for f in client.files.list()]
seen["ids"] = ids
print(json.dumps(seen))
