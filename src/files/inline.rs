//! Inlining stored files into a Responses-shaped request (spec §7).
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
pub async fn inline_files(
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
