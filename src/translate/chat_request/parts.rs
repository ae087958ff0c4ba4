//! Message content parts: user parts (text, images, files), assistant parts (text,
//! refusals) and the text-only content of the other roles.

use serde_json::{Map, Value};

use super::{take_object, take_present_string, take_string_allow_empty};
use crate::translate::{TranslateError, message_item, user_text_item};

/// The content of a user message → a Responses user message item.
pub(super) fn user_content(content: Option<Value>, param: &str) -> Result<Value, TranslateError> {
    match content {
        Some(Value::String(text)) => Ok(user_text_item(text)),
        Some(Value::Array(parts)) => {
            let parts = parts
                .into_iter()
                .enumerate()
                .map(|(j, part)| user_part(part, &format!("{param}.content[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(message_item("user", parts))
        }
        None | Some(Value::Null) => Err(TranslateError::missing(
            format!("{param}.content"),
            "a string or an array of content parts",
        )),
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.content"),
            "a string or an array of content parts",
        )),
    }
}

/// One part of a user message → a Responses input content part.
fn user_part(part: Value, param: &str) -> Result<Value, TranslateError> {
    let mut part = take_object(part, param)?;
    let part_type = take_present_string(&mut part, "type", param, "a content part type")?;
    let mut out = Map::new();
    match part_type.as_str() {
        "text" | "input_text" => {
            let text = take_string_allow_empty(&mut part, "text", param)?;
            out.insert("type".to_owned(), Value::from("input_text"));
            out.insert("text".to_owned(), Value::String(text));
        }
        "image_url" => image_url_part(part, param, &mut out)?,
        "file" => file_part(part, param, &mut out)?,
        "input_image" | "input_file" => {
            out.insert("type".to_owned(), Value::String(part_type));
            out.extend(part);
        }
        "input_audio" => {
            return Err(TranslateError::param(
                param,
                format!("`{param}` is audio input, which the ChatGPT backend does not accept. Send text or images."),
            )
            .code("unsupported_value"));
        }
        _ => {
            return Err(TranslateError::param(
                format!("{param}.type"),
                format!(
                    "`{param}.type` \"{part_type}\" is not supported. Use text, image_url or file parts."
                ),
            )
            .code("unsupported_value"));
        }
    }
    Ok(Value::Object(out))
}

/// An `image_url` part (a URL string or `{url|file_id, detail}`) → `input_image`.
fn image_url_part(
    mut part: Map<String, Value>,
    param: &str,
    out: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let image_param = format!("{param}.image_url");
    let (mut source, detail) = match part.remove("image_url") {
        Some(Value::String(url)) => {
            let mut source = Map::new();
            source.insert("url".to_owned(), Value::String(url));
            (source, None)
        }
        Some(Value::Object(mut image)) => {
            let detail = image.remove("detail").filter(|d| !d.is_null());
            (image, detail)
        }
        None | Some(Value::Null) => {
            return Err(TranslateError::missing(image_param, "an object with `url`"));
        }
        Some(_) => return Err(TranslateError::invalid_type(image_param, "an object")),
    };
    out.insert("type".to_owned(), Value::from("input_image"));
    match (source.remove("url"), source.remove("file_id")) {
        (Some(Value::String(url)), _) => {
            out.insert("image_url".to_owned(), Value::String(url));
        }
        (None | Some(Value::Null), Some(Value::String(file_id))) => {
            out.insert("file_id".to_owned(), Value::String(file_id));
        }
        _ => {
            return Err(TranslateError::missing(
                format!("{image_param}.url"),
                "an image URL, a data URL or a `file_id`",
            ));
        }
    }
    out.insert(
        "detail".to_owned(),
        detail.unwrap_or_else(|| Value::from("auto")),
    );
    Ok(())
}

/// A `file` part (`{file_id}` or `{file_data, filename}`) → `input_file`.
fn file_part(
    mut part: Map<String, Value>,
    param: &str,
    out: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let file_param = format!("{param}.file");
    let mut file = take_object(part.remove("file").unwrap_or(Value::Null), &file_param)?;
    out.insert("type".to_owned(), Value::from("input_file"));
    match (file.remove("file_id"), file.remove("file_data")) {
        (Some(Value::String(file_id)), _) => {
            out.insert("file_id".to_owned(), Value::String(file_id));
        }
        (_, Some(Value::String(data))) => {
            if let Some(Value::String(filename)) = file.remove("filename") {
                out.insert("filename".to_owned(), Value::String(filename));
            }
            out.insert("file_data".to_owned(), Value::String(data));
        }
        _ => {
            return Err(TranslateError::missing(
                file_param,
                "an object with `file_id`, or `file_data` and `filename`",
            ));
        }
    }
    Ok(())
}

/// The content of an assistant message → output text and refusal parts; empty text
/// is left out.
pub(super) fn assistant_parts(
    content: Option<Value>,
    param: &str,
) -> Result<Vec<Value>, TranslateError> {
    let mut parts = Vec::new();
    match content {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            if !text.is_empty() {
                parts.push(output_text(text));
            }
        }
        Some(Value::Array(items)) => {
            for (j, part) in items.into_iter().enumerate() {
                let part_param = format!("{param}.content[{j}]");
                let mut part = take_object(part, &part_param)?;
                match part.get("type").and_then(Value::as_str) {
                    Some("text" | "output_text") => {
                        let text = take_string_allow_empty(&mut part, "text", &part_param)?;
                        if !text.is_empty() {
                            parts.push(output_text(text));
                        }
                    }
                    Some("refusal") => {
                        let refusal = take_string_allow_empty(&mut part, "refusal", &part_param)?;
                        parts.push(refusal_part(refusal));
                    }
                    _ => {
                        return Err(TranslateError::param(
                            format!("{part_param}.type"),
                            format!(
                                "`{part_param}.type` is not supported in assistant messages. Use text or refusal parts."
                            ),
                        )
                        .code("unsupported_value"));
                    }
                }
            }
        }
        Some(_) => {
            return Err(TranslateError::invalid_type(
                format!("{param}.content"),
                "a string, an array of content parts or null",
            ));
        }
    }
    Ok(parts)
}

/// An assistant `output_text` part.
fn output_text(text: String) -> Value {
    let mut part = Map::new();
    part.insert("type".to_owned(), Value::from("output_text"));
    part.insert("text".to_owned(), Value::String(text));
    Value::Object(part)
}

/// An assistant `refusal` part.
pub(super) fn refusal_part(refusal: String) -> Value {
    let mut part = Map::new();
    part.insert("type".to_owned(), Value::from("refusal"));
    part.insert("refusal".to_owned(), Value::String(refusal));
    Value::Object(part)
}

/// The text of a system, developer, tool or function message: a string, or text
/// parts joined with newlines.
pub(super) fn text_content(content: Option<Value>, param: &str) -> Result<String, TranslateError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.into_iter().enumerate() {
                let part_param = format!("{param}.content[{j}]");
                let mut part = take_object(part, &part_param)?;
                match part.get("type").and_then(Value::as_str) {
                    Some("text" | "input_text" | "output_text") => {
                        texts.push(take_string_allow_empty(&mut part, "text", &part_param)?);
                    }
                    _ => {
                        return Err(TranslateError::param(
                            format!("{part_param}.type"),
                            format!(
                                "`{part_param}.type` is not supported here: this message accepts text parts only."
                            ),
                        )
                        .code("unsupported_value"));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
        Some(_) => Err(TranslateError::invalid_type(
            format!("{param}.content"),
            "a string or an array of text parts",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::translate::chat_request::test_support::{chat, err, input_of};

    #[test]
    fn user_parts_text_images_and_files() {
        let input = input_of(json!([{"role":"user","content":[
            {"type":"text","text":"Look:"},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
            {"type":"image_url","image_url":"https://example.com/dog.jpg"},
            {"type":"image_url","image_url":{"file_id":"file-img1","detail":"low"}},
            {"type":"file","file":{"file_id":"file-abc"}},
            {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}
        ]}]));
        assert_eq!(
            input,
            json!([{"type":"message","role":"user","content":[
                {"type":"input_text","text":"Look:"},
                {"type":"input_image","image_url":"https://example.com/cat.png","detail":"auto"},
                {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"},
                {"type":"input_image","image_url":"https://example.com/dog.jpg","detail":"auto"},
                {"type":"input_image","file_id":"file-img1","detail":"low"},
                {"type":"input_file","file_id":"file-abc"},
                {"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}
            ]}])
        );
    }

    #[test]
    fn bad_user_parts_are_rejected_with_their_path() {
        let e = err(chat(json!([{"role":"user","content":[
            {"type":"text","text":"x"},
            {"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}
        ]}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1]"));
        assert!(e.message.contains("audio"));
        let e = err(chat(
            json!([{"role":"user","content":[{"type":"video","video":{}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
        let e = err(chat(
            json!([{"role":"user","content":[{"type":"image_url","image_url":{}}]}]),
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].image_url.url")
        );
        let e = err(chat(
            json!([{"role":"user","content":[{"type":"file","file":{"filename":"x"}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].file"));
        let e = err(chat(json!([{"role":"user"}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].content"));
        let e = err(chat(json!([{"role":"wizard","content":"x"}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = err(chat(json!(["hello"])));
        assert_eq!(e.param.as_deref(), Some("messages[0]"));
    }
}
