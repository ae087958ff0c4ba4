//! Inlining stored files into a Responses-shaped request (docs/architecture.md,
//! "Files").
//!
//! The upstream cannot fetch a `file_id`, so every content part that references a
//! stored file is replaced by the file itself:
//! - an image (PNG, JPEG, GIF, WebP by magic bytes) → `input_image` with a data URL;
//! - text up to `uploads.max_inline_text_bytes` → `input_text` naming the file;
//! - anything else (PDF…) → `input_file` with `filename` and a data URL.
//!
//! A file that cannot be sent faithfully — claims to be an image but is not one, text
//! that is not UTF-8 or is too long — is a 422 `unsupported_file`; text is never
//! truncated. Files are read only when referenced, once per request.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::media::{essence, guess_from_name, is_image_type, is_pdf, is_text_type, sniff_image};
use super::{FileError, FileObject, FileStore};

/// Replaces every content part of `body["input"]` that references a stored file by
/// `file_id` with the file's content, and returns how many parts it replaced.
///
/// Parts are looked for in message items (typed or untyped `{"role","content":[…]}`)
/// and in `function_call_output` / `custom_tool_call_output` items whose `output` is a
/// list of parts. A part references a file when it has a string `file_id`, whatever its
/// type; parts without one (inline `image_url`, `file_data`, text) are left untouched.
/// On error the body may be partly rewritten; the request must then be refused.
pub(crate) async fn inline_files(
    body: &mut Map<String, Value>,
    store: &FileStore,
    max_inline_text_bytes: u64,
) -> Result<usize, FileError> {
    // Every referenced id must exist before anything is read.
    let mut ids: Vec<String> = Vec::new();
    for_each_file_part(body, &mut |part| {
        if let Some(id) = file_id_of(part) {
            if store.get(id).is_err() {
                return Err(unknown_file(id));
            }
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_string());
            }
        }
        Ok(())
    })?;
    if ids.is_empty() {
        return Ok(0);
    }

    let mut files: HashMap<String, (FileObject, Bytes)> = HashMap::with_capacity(ids.len());
    for id in ids {
        let loaded = store.read(&id).await.map_err(|e| match e {
            FileError::NotFound { id } => unknown_file(&id),
            other => other,
        })?;
        files.insert(id, loaded);
    }

    let mut inlined = 0;
    for_each_file_part(body, &mut |part| {
        let Some(id) = file_id_of(part) else {
            return Ok(());
        };
        let (obj, content) = files.get(id).ok_or_else(|| unknown_file(id))?;
        let wants_image = matches!(
            part.get("type").and_then(Value::as_str),
            Some("input_image" | "image_url")
        );
        let detail = part
            .get("detail")
            .filter(|d| d.is_string())
            .cloned()
            .unwrap_or_else(|| Value::from("auto"));
        *part = render(obj, content, wants_image, detail, max_inline_text_bytes)?;
        inlined += 1;
        Ok(())
    })?;
    Ok(inlined)
}

/// What inlining a request's file references will add, known from the stored
/// metadata alone: nothing is read or encoded to compute it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InlinePlan {
    /// Content parts that reference a stored file.
    pub references: usize,
    /// Distinct files among them (each is read once).
    pub distinct_files: usize,
    /// An upper bound on the bytes the inlined parts add to the serialised body.
    pub added_bytes: u64,
}

/// Counts the content parts of `body["input"]` that reference a stored file.
pub fn count_file_references(body: &mut Map<String, Value>) -> usize {
    let mut n = 0;
    let _ = for_each_file_part(body, &mut |part| {
        n += usize::from(file_id_of(part).is_some());
        Ok(())
    });
    n
}

/// Plans [`inline_files`] without reading a file: every referenced id must exist,
/// and the size each reference adds is bounded arithmetically (base64 is
/// 4·⌈n/3⌉ plus the data-URL prefix; text at most 6 bytes per byte once JSON
/// escapes it), once per referencing part.
pub fn plan_inlining(
    body: &mut Map<String, Value>,
    store: &FileStore,
    max_inline_text_bytes: u64,
) -> Result<InlinePlan, FileError> {
    let mut plan = InlinePlan::default();
    let mut seen: Vec<String> = Vec::new();
    for_each_file_part(body, &mut |part| {
        let Some(id) = file_id_of(part) else {
            return Ok(());
        };
        let obj = store.get(id).map_err(|_| unknown_file(id))?;
        if !seen.iter().any(|known| known == id) {
            seen.push(id.to_string());
        }
        plan.references += 1;
        let part_len = serde_json::to_string(part).map_or(0, |t| t.len()) as u64;
        plan.added_bytes = plan.added_bytes.saturating_add(rendered_size_bound(
            &obj,
            part_len,
            max_inline_text_bytes,
        ));
        Ok(())
    })?;
    plan.distinct_files = seen.len();
    Ok(plan)
}

/// An upper bound on the serialised size of the part [`render`] makes for `obj`.
fn rendered_size_bound(obj: &FileObject, part_len: u64, max_inline_text_bytes: u64) -> u64 {
    let n = obj.bytes;
    // JSON escaping at most sextuples a byte (`\u001f`).
    let escaped = |len: usize| 6 * len as u64;
    let names = escaped(obj.filename.len()) + escaped(obj.content_type.len());
    let base64 = n.div_ceil(3).saturating_mul(4);
    let declared = essence(&obj.content_type);
    let may_be_text =
        is_text_type(&declared) || guess_from_name(&obj.filename).is_some_and(is_text_type);
    let text = if may_be_text && n <= max_inline_text_bytes {
        n.saturating_mul(6)
    } else {
        0
    };
    // The JSON keys, the type and the data-URL prefix, and what the part carried
    // (its `detail`).
    const WRAPPER: u64 = 128;
    WRAPPER + part_len + names + base64.max(text)
}

/// Calls `f` on every content part of every input item.
fn for_each_file_part(
    body: &mut Map<String, Value>,
    f: &mut dyn FnMut(&mut Value) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let Some(Value::Array(items)) = body.get_mut("input") else {
        return Ok(());
    };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        let is_tool_output = matches!(
            item.get("type").and_then(Value::as_str),
            Some("function_call_output" | "custom_tool_call_output")
        );
        let parts = match item.get_mut("content") {
            Some(Value::Array(parts)) => Some(parts),
            _ if is_tool_output => match item.get_mut("output") {
                Some(Value::Array(parts)) => Some(parts),
                _ => None,
            },
            _ => None,
        };
        for part in parts.into_iter().flatten() {
            f(part)?;
        }
    }
    Ok(())
}

fn file_id_of(part: &Value) -> Option<&str> {
    part.get("file_id").and_then(Value::as_str)
}

/// The part that replaces a reference to `obj`.
fn render(
    obj: &FileObject,
    content: &[u8],
    wants_image: bool,
    detail: Value,
    max_inline_text_bytes: u64,
) -> Result<Value, FileError> {
    if let Some(mime) = sniff_image(content) {
        return Ok(json!({
            "type": "input_image",
            "image_url": data_url(mime, content),
            "detail": detail,
        }));
    }

    let name = &obj.filename;
    let declared = essence(&obj.content_type);
    let named = guess_from_name(name);
    let image_claim = if is_image_type(&declared) {
        Some(format!("is declared as {declared}"))
    } else if let Some(named) = named.filter(|t| is_image_type(t)) {
        Some(format!("is named like an image ({named})"))
    } else if wants_image {
        Some("is referenced as an image".to_string())
    } else {
        None
    };
    if let Some(claim) = image_claim {
        return Err(FileError::unsupported(format!(
            "File `{name}` ({}) {claim}, but its content is not a PNG, JPEG, GIF or WebP image, the image formats the model accepts. Convert it to one of them and upload it again.",
            obj.id
        )));
    }

    if is_pdf(content) {
        return Ok(file_part(name, "application/pdf", content));
    }

    let utf8 = std::str::from_utf8(content).ok();
    let declared_text = is_text_type(&declared);
    let named_text = named.filter(|t| is_text_type(t));
    let text_type = if declared_text {
        Some(declared.as_str())
    } else if utf8.is_some() {
        named_text
    } else {
        None
    };
    if let Some(text_type) = text_type {
        let Some(text) = utf8 else {
            return Err(FileError::unsupported(format!(
                "File `{name}` ({}) is declared as {declared} but is not valid UTF-8 text. Convert it to UTF-8 and upload it again.",
                obj.id
            )));
        };
        if content.len() as u64 > max_inline_text_bytes {
            return Err(FileError::unsupported(format!(
                "File `{name}` ({}) is {} bytes of text, more than the {max_inline_text_bytes} bytes the relay inlines into a request (uploads.max_inline_text_bytes). Split the file or raise uploads.max_inline_text_bytes; it is never truncated.",
                obj.id,
                content.len()
            )));
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        return Ok(json!({
            "type": "input_text",
            "text": format!("Uploaded file `{name}` ({text_type}):\n\n{text}"),
        }));
    }

    let mime = if declared.is_empty() {
        "application/octet-stream"
    } else {
        declared.as_str()
    };
    Ok(file_part(name, mime, content))
}

fn file_part(filename: &str, mime: &str, content: &[u8]) -> Value {
    json!({
        "type": "input_file",
        "filename": filename,
        "file_data": data_url(mime, content),
    })
}

fn data_url(mime: &str, content: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    format!("data:{mime};base64,{encoded}")
}

/// A 400 for a reference to a file this relay does not have.
fn unknown_file(id: &str) -> FileError {
    FileError::bad_request(
        FileError::NotFound {
            id: id.chars().take(100).collect(),
        }
        .to_string(),
        Some("input"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::testutil::*;

    const MAX_TEXT: u64 = 1_000_000;
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png body";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0 body";
    const GIF: &[u8] = b"GIF89a\x01\0\x01\0 body";
    const WEBP: &[u8] = b"RIFF\x1a\0\0\0WEBPVP8 body";

    fn store(dir: &std::path::Path) -> FileStore {
        FileStore::open(dir, limits(2_000_000, 10_000_000)).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn request(parts: Value) -> Map<String, Value> {
        let body = json!({
            "model": "gpt-5",
            "input": [{"type": "message", "role": "user", "content": parts}],
        });
        body.as_object().unwrap().clone()
    }

    async fn inline(body: &mut Map<String, Value>, store: &FileStore) -> Result<usize, FileError> {
        assert_send(inline_files(body, store, MAX_TEXT)).await
    }

    fn part(body: &Map<String, Value>, i: usize) -> &Value {
        &body["input"][0]["content"][i]
    }

    #[tokio::test]
    async fn the_plan_bounds_the_inlined_size_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let text = put(&store, "a\"b.txt", "text/plain", b"line\n\x01\ttab \"q\"\n").await;
        let png = put(&store, "shot.png", "image/png", PNG).await;
        let pdf = put(&store, "doc.pdf", "application/pdf", b"%PDF-1.7 body").await;
        let mut body = request(json!([
            {"type": "input_file", "file_id": text.id},
            {"type": "input_image", "file_id": png.id, "detail": "high"},
            {"type": "input_file", "file_id": pdf.id},
            {"type": "input_file", "file_id": pdf.id},
            {"type": "input_text", "text": "no reference"},
        ]));
        assert_eq!(count_file_references(&mut body), 4);
        let before = serde_json::to_vec(&body).unwrap().len() as u64;
        let plan = plan_inlining(&mut body, &store, MAX_TEXT).unwrap();
        assert_eq!((plan.references, plan.distinct_files), (4, 3));
        inline(&mut body, &store).await.unwrap();
        let after = serde_json::to_vec(&body).unwrap().len() as u64;
        assert!(
            after <= before + plan.added_bytes,
            "{after} > {before} + {}",
            plan.added_bytes
        );
        let mut unknown = request(json!([{"type": "input_file", "file_id": "file-nope"}]));
        assert_eq!(
            plan_inlining(&mut unknown, &store, MAX_TEXT)
                .unwrap_err()
                .status(),
            400
        );
    }

    #[tokio::test]
    async fn text_file_becomes_input_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let f = put(&store, "hello.txt", "text/plain", b"hello world\n").await;
        let mut body = request(json!([
            {"type": "input_text", "text": "Summarise this"},
            {"type": "input_file", "file_id": f.id},
        ]));
        assert_eq!(inline(&mut body, &store).await.unwrap(), 1);
        assert_eq!(
            part(&body, 0),
            &json!({"type": "input_text", "text": "Summarise this"})
        );
        assert_eq!(
            part(&body, 1),
            &json!({"type": "input_text", "text": "Uploaded file `hello.txt` (text/plain):\n\nhello world\n"})
        );
        assert_eq!(body["model"], "gpt-5");
    }

    #[tokio::test]
    async fn node_uploads_of_code_are_text_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let f = put_with(&store, node_body("main.py", b"print('hi')\n", "user_data")).await;
        // A declared type the relay does not know as text, with a text name and UTF-8
        // content (a leading BOM is dropped), is text too.
        let g = put(
            &store,
            "lib.rs",
            "application/x-rust",
            b"\xef\xbb\xbffn main() {}",
        )
        .await;
        let mut body = request(json!([
            {"type": "input_file", "file_id": f.id},
            {"type": "input_text", "text": "see", "file_id": g.id},
        ]));
        assert_eq!(inline(&mut body, &store).await.unwrap(), 2);
        assert_eq!(
            part(&body, 0)["text"],
            "Uploaded file `main.py` (text/x-python):\n\nprint('hi')\n"
        );
        assert_eq!(
            part(&body, 1)["text"],
            "Uploaded file `lib.rs` (text/x-rust):\n\nfn main() {}"
        );
    }

    #[tokio::test]
    async fn png_becomes_a_data_url_with_the_requested_detail() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let f = put(&store, "shot.png", "image/png", PNG).await;
        let mut body = request(json!([
            {"type": "input_image", "file_id": f.id, "detail": "high"},
            {"type": "input_image", "file_id": f.id},
            {"type": "input_file", "file_id": f.id},
        ]));
        assert_eq!(inline(&mut body, &store).await.unwrap(), 3);
        let url = format!("data:image/png;base64,{}", b64(PNG));
        assert_eq!(
            part(&body, 0),
            &json!({"type": "input_image", "image_url": url, "detail": "high"})
        );
        assert_eq!(
            part(&body, 1),
            &json!({"type": "input_image", "image_url": url, "detail": "auto"})
        );
        assert_eq!(part(&body, 2), part(&body, 1));
    }

    #[tokio::test]
    async fn jpeg_gif_webp_are_sniffed_whatever_the_declared_type() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        for (bytes, mime) in [
            (JPEG, "image/jpeg"),
            (GIF, "image/gif"),
            (WEBP, "image/webp"),
        ] {
            // Node style: octet-stream and a name that says nothing.
            let f = put_with(&store, node_body("blob", bytes, "vision")).await;
            let mut body = request(json!([{"type": "input_file", "file_id": f.id}]));
            assert_eq!(inline(&mut body, &store).await.unwrap(), 1);
            assert_eq!(
                part(&body, 0)["image_url"],
                format!("data:{mime};base64,{}", b64(bytes)),
                "{mime}"
            );
            assert_eq!(part(&body, 0)["type"], "input_image");
        }
    }

    #[tokio::test]
    async fn a_fake_image_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let by_type = put(&store, "pic", "image/png", b"definitely not a png").await;
        let by_name = put_with(&store, node_body("pic.png", b"not a png either", "vision")).await;
        let text = put(&store, "a.txt", "text/plain", b"words").await;
        for (id, claim) in [
            (&by_type.id, "declared as image/png"),
            (&by_name.id, "image/png"),
        ] {
            let mut body = request(json!([{"type": "input_file", "file_id": id}]));
            let e = inline(&mut body, &store).await.unwrap_err();
            assert_eq!((e.status(), e.code()), (422, Some("unsupported_file")));
            let msg = e.to_string();
            assert!(msg.contains(claim) && msg.contains(id.as_str()), "{msg}");
            assert!(msg.contains("PNG, JPEG, GIF or WebP"), "{msg}");
        }
        let mut body = request(json!([{"type": "input_image", "file_id": text.id}]));
        let e = inline(&mut body, &store).await.unwrap_err();
        assert!(e.to_string().contains("referenced as an image"), "{e}");
    }

    #[tokio::test]
    async fn text_over_the_inline_limit_is_refused_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let at = put(&store, "at.txt", "text/plain", &vec![b'a'; 1_000_000]).await;
        let over = put(&store, "big.log", "text/plain", &vec![b'a'; 1_000_001]).await;

        let mut body = request(json!([{"type": "input_file", "file_id": at.id}]));
        assert_eq!(inline(&mut body, &store).await.unwrap(), 1);
        let text = part(&body, 0)["text"].as_str().unwrap();
        assert!(text.ends_with(&"a".repeat(1_000_000)));

        let mut body = request(json!([{"type": "input_file", "file_id": over.id}]));
        let e = inline(&mut body, &store).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (422, Some("unsupported_file")));
        let msg = e.to_string();
        for needle in [
            "big.log",
            "1000001",
            "1000000",
            "uploads.max_inline_text_bytes",
        ] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
    }

    #[tokio::test]
    async fn declared_text_that_is_not_utf8_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let f = put(&store, "latin1.txt", "text/plain", b"caf\xe9").await;
        let mut body = request(json!([{"type": "input_file", "file_id": f.id}]));
        let e = inline(&mut body, &store).await.unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }

    #[tokio::test]
    async fn pdf_and_other_files_become_input_file_data_urls() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
        let a = put(&store, "paper.pdf", "application/pdf", pdf).await;
        let b = put_with(&store, node_body("scan", pdf, "user_data")).await;
        let c = put(
            &store,
            "data.bin",
            "application/octet-stream",
            b"\x00\x01\x02",
        )
        .await;
        let mut body = request(json!([
            {"type": "input_file", "file_id": a.id},
            {"type": "input_file", "file_id": b.id},
            {"type": "input_file", "file_id": c.id},
        ]));
        assert_eq!(inline(&mut body, &store).await.unwrap(), 3);
        let pdf_url = format!("data:application/pdf;base64,{}", b64(pdf));
        assert_eq!(
            part(&body, 0),
            &json!({"type": "input_file", "filename": "paper.pdf", "file_data": pdf_url})
        );
        assert_eq!(part(&body, 1)["file_data"], pdf_url.as_str());
        assert_eq!(part(&body, 1)["filename"], "scan");
        assert_eq!(
            part(&body, 2)["file_data"],
            format!(
                "data:application/octet-stream;base64,{}",
                b64(b"\x00\x01\x02")
            )
        );
    }

    #[tokio::test]
    async fn unknown_ids_are_a_400_naming_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let f = put(&store, "a.txt", "text/plain", b"a").await;
        for id in ["file-doesnotexist", "../etc/passwd", "file-../../x"] {
            let mut body = request(json!([
                {"type": "input_file", "file_id": f.id},
                {"type": "input_file", "file_id": id},
            ]));
            let before = body.clone();
            let e = inline(&mut body, &store).await.unwrap_err();
            assert_eq!((e.status(), e.param()), (400, Some("input")));
            let msg = e.to_string();
            assert!(msg.contains(&format!("`{id}`")), "{msg}");
            assert!(msg.contains("POST /v1/files"), "{msg}");
            assert_eq!(body, before, "nothing is rewritten when an id is unknown");
        }
    }

    #[tokio::test]
    async fn parts_without_file_id_are_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let original = json!({
            "model": "gpt-5",
            "instructions": "be brief",
            "input": [
                {"type": "message", "role": "developer", "content": "plain string content"},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                    {"type": "input_image", "image_url": "https://example.com/x.png"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"},
                    {"type": "input_file", "file_id": null, "file_url": "https://example.com/a.pdf"},
                ]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"file_id\":\"file-x\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "a string"},
                {"type": "reasoning", "summary": [], "encrypted_content": "…"},
                "not an object",
            ],
            "tools": [{"type": "function", "name": "f", "parameters": {"file_id": {"type": "string"}}}],
        });
        let mut body = original.as_object().unwrap().clone();
        assert_eq!(inline(&mut body, &store).await.unwrap(), 0);
        assert_eq!(Value::Object(body), original);

        for input in [json!("just a string"), json!(null)] {
            let mut body = json!({"input": input}).as_object().unwrap().clone();
            assert_eq!(inline(&mut body, &store).await.unwrap(), 0);
        }
        let mut body = Map::new();
        assert_eq!(inline(&mut body, &store).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn untyped_messages_and_tool_outputs_are_inlined() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let text = put(&store, "notes.md", "text/markdown", b"# Notes").await;
        let png = put(&store, "chart.png", "image/png", PNG).await;
        let mut body = json!({
            "input": [
                {"role": "user", "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_file", "file_id": text.id},
                ]},
                {"type": "function_call_output", "call_id": "c1", "output": [
                    {"type": "input_text", "text": "tool result"},
                    {"type": "input_image", "file_id": png.id, "detail": "low"},
                ]},
                {"type": "custom_tool_call_output", "call_id": "c2", "output": [
                    {"type": "input_file", "file_id": text.id},
                ]},
            ]
        })
        .as_object()
        .unwrap()
        .clone();
        assert_eq!(inline(&mut body, &store).await.unwrap(), 3);
        let input = &body["input"];
        assert_eq!(input[0]["role"], "user");
        assert_eq!(input[0]["content"][0]["text"], "look");
        assert_eq!(
            input[0]["content"][1]["text"],
            "Uploaded file `notes.md` (text/markdown):\n\n# Notes"
        );
        assert_eq!(input[1]["call_id"], "c1");
        assert_eq!(input[1]["output"][0]["text"], "tool result");
        assert_eq!(
            input[1]["output"][1],
            json!({"type": "input_image", "image_url": format!("data:image/png;base64,{}", b64(PNG)), "detail": "low"})
        );
        assert_eq!(input[2]["output"][0]["type"], "input_text");
    }
}
