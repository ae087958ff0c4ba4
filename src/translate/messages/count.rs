//! What `POST /v1/messages/count_tokens` counts: the text of the translated
//! upstream body (instructions, every input text, tool calls and outputs,
//! reasoning summaries, and each tool's name, description and schema), plus the
//! images and files it carries, which a text tokenizer cannot count. The
//! tokenizer itself is plugged in by the route; [`estimate_input_tokens`] is the
//! tokenizer-free estimate a stream's `message_start` carries.

use serde_json::{Map, Value};

use super::{Messages, MessagesOptions};
use crate::translate::{TranslateError, TranslateOptions};

/// Tokens assumed per image or file by [`estimate_input_tokens`] (a detailed
/// 1024×1024 image costs about 765 upstream tokens; documents vary widely).
pub const ATTACHMENT_TOKEN_ESTIMATE: u64 = 800;

/// Bytes of text per token assumed by [`estimate_input_tokens`].
pub const BYTES_PER_TOKEN: u64 = 4;

/// The countable content of a translated request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountInput {
    /// Every text the upstream reads, separated by newlines.
    pub text: String,
    /// Images (`input_image` parts).
    pub images: usize,
    /// Files (`input_file` parts).
    pub files: usize,
}

/// One piece of a translated body.
enum Piece<'a> {
    Text(&'a str),
    Image,
    File,
}

/// The countable content of a Messages request body, translated exactly as
/// `POST /v1/messages` would translate it.
pub fn count_request(
    body: &[u8],
    opts: &TranslateOptions<'_>,
    messages: &MessagesOptions<'_>,
) -> Result<CountInput, TranslateError> {
    let prepared = Messages::prepare_with(body, opts, messages)?;
    Ok(count_input(&prepared.upstream.body))
}

/// The countable content of an upstream body.
pub fn count_input(body: &Map<String, Value>) -> CountInput {
    let mut input = CountInput::default();
    let mut first = true;
    visit(body, &mut |piece| match piece {
        Piece::Text(text) => {
            if !std::mem::take(&mut first) {
                input.text.push('\n');
            }
            input.text.push_str(text);
        }
        Piece::Image => input.images += 1,
        Piece::File => input.files += 1,
    });
    input
}

/// A tokenizer-free estimate of the input tokens of an upstream body: text
/// bytes / [`BYTES_PER_TOKEN`] plus [`ATTACHMENT_TOKEN_ESTIMATE`] per image or
/// file. Nothing is copied.
pub fn estimate_input_tokens(body: &Map<String, Value>) -> u64 {
    // Counted like the text of [`count_input`]: pieces and the newlines between.
    let mut bytes: Option<u64> = None;
    let mut attachments = 0u64;
    visit(body, &mut |piece| match piece {
        Piece::Text(text) => {
            let len = u64::try_from(text.len()).unwrap_or(u64::MAX);
            bytes = Some(bytes.map_or(len, |b| b.saturating_add(len).saturating_add(1)));
        }
        Piece::Image | Piece::File => attachments = attachments.saturating_add(1),
    });
    (bytes.unwrap_or(0) / BYTES_PER_TOKEN)
        .saturating_add(attachments.saturating_mul(ATTACHMENT_TOKEN_ESTIMATE))
}

/// Calls `f` for every countable piece of the body, in order.
fn visit(body: &Map<String, Value>, f: &mut dyn FnMut(Piece<'_>)) {
    if let Some(Value::String(instructions)) = body.get("instructions") {
        f(Piece::Text(instructions));
    }
    for item in body
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        visit_item(item, f);
    }
    for tool in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["name", "description"] {
            if let Some(Value::String(text)) = tool.get(key) {
                f(Piece::Text(text));
            }
        }
        if let Some(parameters) = tool.get("parameters") {
            f(Piece::Text(&parameters.to_string()));
        }
    }
}

fn visit_item(item: &Value, f: &mut dyn FnMut(Piece<'_>)) {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    match text("type") {
        Some("message") => visit_parts(item.get("content"), f),
        Some("function_call") => {
            for key in ["name", "arguments"] {
                if let Some(t) = text(key) {
                    f(Piece::Text(t));
                }
            }
        }
        Some("function_call_output") => match item.get("output") {
            Some(Value::String(output)) => f(Piece::Text(output)),
            parts => visit_parts(parts, f),
        },
        Some("reasoning") => {
            for part in item
                .get("summary")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(Value::String(t)) = part.get("text") {
                    f(Piece::Text(t));
                }
            }
        }
        _ => {}
    }
}

fn visit_parts(parts: Option<&Value>, f: &mut dyn FnMut(Piece<'_>)) {
    for part in parts.and_then(Value::as_array).into_iter().flatten() {
        match part.get("type").and_then(Value::as_str) {
            Some("input_image") => f(Piece::Image),
            Some("input_file") => f(Piece::File),
            _ => {
                if let Some(Value::String(text)) = part.get("text") {
                    f(Piece::Text(text));
                }
            }
        }
    }
}
