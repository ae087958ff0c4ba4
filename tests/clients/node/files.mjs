// The OpenAI Node SDK's Files API against the relay: upload with toFile (undici sends
// the `file` part before `purpose`), list with pagination, retrieve, content, then chat
// and Responses requests that reference the uploads, then delete.
// Reads OPENAI_BASE_URL / OPENAI_API_KEY; prints one JSON object with what it saw
// (file contents as base64, so the test can compare bytes).
import { crc32, deflateSync } from 'node:zlib';
import OpenAI, { toFile } from 'openai';

// A real PNG: signature, IHDR, one IDAT of RGB rows, IEND.
const png = (width, height) => {
  const chunk = (kind, data) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(kind, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(0);
    for (let x = 0; x < width; x++) rows.push((x * 40) % 256, (y * 60) % 256, 200);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
};

const client = new OpenAI({ maxRetries: 0 });
const uploads = {
  'hello.txt': Buffer.from('hello world\nünïcödé ✓\n'),
  'notes.md': Buffer.from('# Notes\n\n- one\n- two\n'),
  'pixel.png': png(3, 2),
};
const seen = { uploaded: {}, created: {}, retrieved: {}, content: {} };
const ids = {};
for (const [name, data] of Object.entries(uploads)) {
  const obj = await client.files.create({ file: await toFile(data, name), purpose: 'user_data' });
  ids[name] = obj.id;
  seen.uploaded[name] = data.toString('base64');
  seen.created[name] = obj;
}

// Auto-pagination, one file per page.
seen.auto_pages = [];
for await (const file of client.files.list({ limit: 1 })) seen.auto_pages.push(file.id);

// The same walk by hand with `after`, until has_more is false.
seen.after_walk = [];
let after;
for (;;) {
  const page = await client.files.list({ limit: 2, order: 'asc', ...(after ? { after } : {}) });
  seen.after_walk.push({ ids: page.data.map((f) => f.id), has_more: page.has_more, first_id: page.body.first_id, last_id: page.body.last_id });
  if (!page.has_more) break;
  after = page.data.at(-1).id;
}

for (const [name, id] of Object.entries(ids)) {
  seen.retrieved[name] = await client.files.retrieve(id);
  const content = await client.files.content(id);
  seen.content[name] = Buffer.from(await content.arrayBuffer()).toString('base64');
}

const chat = await client.chat.completions.create({
  model: 'gpt-5.5',
  messages: [{
    role: 'user',
    content: [
      { type: 'text', text: 'ECHO:chat with files\n' },
      { type: 'file', file: { file_id: ids['hello.txt'] } },
      { type: 'image_url', image_url: { file_id: ids['pixel.png'], detail: 'low' } },
    ],
  }],
});
seen.chat_text = chat.choices[0].message.content;

const resp = await client.responses.create({
  model: 'gpt-5.5',
  input: [{
    role: 'user',
    content: [
      { type: 'input_text', text: 'ECHO:responses with files\n' },
      { type: 'input_file', file_id: ids['notes.md'] },
      { type: 'input_image', file_id: ids['pixel.png'], detail: 'auto' },
    ],
  }],
});
seen.responses_text = resp.output_text;

seen.deleted = [];
for (const id of Object.values(ids)) seen.deleted.push(await client.files.delete(id));
seen.after_delete = [];
for await (const file of client.files.list()) seen.after_delete.push(file.id);
seen.ids = ids;
console.log(JSON.stringify(seen));
