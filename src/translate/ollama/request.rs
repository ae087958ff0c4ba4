//! What `/api/chat` and `/api/generate` bodies share: the model name and its tag,
//! `stream`, `think`, `format`, `options`, `keep_alive`, and images. The shared
//! fields become a Chat Completions body, which the chat rules then translate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::files::media::sniff_image;
use crate::translate::chat_request;
use crate::translate::{TranslateError, TranslateOptions, UpstreamRequest, optional_bool};

/// What `think` asks for, and what it means upstream.
///
/// | `think` | `reasoning.effort` | reasoning summaries (`message.thinking`) |
/// |---|---|---|
/// | absent or `null` | the model's default (unset) | as `chat.reasoning_output` says |
/// | `true` | the model's default (unset) | requested |
/// | `false` | `low`, the lowest effort every catalogue model supports | not requested |
/// | `"low"`, `"medium"`, `"high"` | as given | requested |
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Think {
    /// Not given.
    Unset,
    /// `true`.
    On,
    /// `false`.
    Off,
    /// `"low"`, `"medium"` or `"high"`.
    Level(String),
}

/// The effort sent for `think: false`.
pub(crate) const THINK_OFF_EFFORT: &str = "low";

impl Think {
    fn parse(value: &Value) -> Result<Think, TranslateError> {
        match value {
            Value::Null => Ok(Think::Unset),
            Value::Bool(true) => Ok(Think::On),
            Value::Bool(false) => Ok(Think::Off),
            Value::String(level) if matches!(level.as_str(), "low" | "medium" | "high") => {
                Ok(Think::Level(level.clone()))
            }
            Value::String(level) => Err(TranslateError::param(
                "think",
                format!(
                    "`think` \"{level}\" is not supported. Use true, false, \"low\", \"medium\" or \"high\"."
                ),
            )
            .code("unsupported_value")),
            _ => Err(TranslateError::invalid_type(
                "think",
                "a boolean or \"low\", \"medium\" or \"high\"",
            )),
        }
    }

    /// The `reasoning_effort` of the chat body.
    fn effort(&self) -> Option<&str> {
        match self {
            Think::Off => Some(THINK_OFF_EFFORT),
            Think::Level(level) => Some(level),
            Think::Unset | Think::On => None,
        }
    }

    /// Whether reasoning summaries are asked for.
    fn summaries(&self, configured: bool) -> bool {
        match self {
            Think::Unset => configured,
            Think::On | Think::Level(_) => true,
            Think::Off => false,
        }
    }
}

/// How long a client asked a model to stay loaded (`keep_alive`), for `/api/ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepAlive {
    /// Not given: Ollama's default, 5 minutes.
    Default,
    /// `0`: unload now.
    Unload,
    /// A positive duration, in seconds.
    Seconds(u64),
    /// A negative duration: forever.
    Forever,
}

impl KeepAlive {
    /// Ollama's default keep-alive, in seconds.
    pub(crate) const DEFAULT_SECONDS: u64 = 300;

    /// Parses `keep_alive`: a number of seconds, or a Go duration string such as
    /// `"5m"`, `"1h30m"`, `"0s"` or `"-1"`. `None` for anything else.
    pub(crate) fn parse(value: Option<&Value>) -> Option<KeepAlive> {
        let seconds = match value {
            None | Some(Value::Null) => return Some(KeepAlive::Default),
            Some(Value::Number(n)) => n.as_f64()?,
            Some(Value::String(s)) => go_duration_seconds(s.trim())?,
            Some(_) => return None,
        };
        Some(if seconds < 0.0 {
            KeepAlive::Forever
        } else if seconds == 0.0 {
            KeepAlive::Unload
        } else {
            // Saturating float → integer conversion; at least one second.
            KeepAlive::Seconds((seconds.ceil() as u64).max(1))
        })
    }

    /// Seconds the model stays listed, `None` for forever.
    pub(crate) fn seconds(self) -> Option<u64> {
        match self {
            KeepAlive::Default => Some(Self::DEFAULT_SECONDS),
            KeepAlive::Unload => Some(0),
            KeepAlive::Seconds(s) => Some(s),
            KeepAlive::Forever => None,
        }
    }
}

/// A Go duration (`"300ms"`, `"1h30m"`, `"-5m"`) or a bare number of seconds.
fn go_duration_seconds(s: &str) -> Option<f64> {
    if let Ok(seconds) = s.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut total = 0.0;
    let mut parts = 0;
    while !rest.is_empty() && parts < 16 {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..number_len)?.parse().ok()?;
        rest = rest.get(number_len..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest.get(..unit_len)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = rest.get(unit_len..)?;
        total += number * scale;
        parts += 1;
    }
    (rest.is_empty() && parts > 0 && total.is_finite()).then_some(sign * total)
}

/// The catalogue id of an Ollama model name: `gpt-5.5:latest` → `gpt-5.5`.
pub(crate) fn strip_tag(name: &str) -> &str {
    match name.rsplit_once(':') {
        Some((base, tag)) if !base.is_empty() && !tag.contains('/') => base,
        _ => name,
    }
}

/// The fields of a request both endpoints share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The model as the client spelled it.
    pub(crate) client_model: String,
    /// The catalogue id (tag stripped).
    pub(crate) model: String,
    /// Whether the client wants a stream (Ollama's default: yes).
    pub(crate) stream: bool,
    /// What `think` asked for.
    pub(crate) think: Think,
    /// The chat `response_format`, from `format`.
    pub(crate) format: Option<Value>,
    /// `keep_alive`, for `/api/ps`.
    pub(crate) keep_alive: KeepAlive,
    /// Removed parameters, in request order.
    pub(crate) ignored: Vec<String>,
}

impl Shared {
    /// Reads `model` (required).
    pub(crate) fn new(body: &Map<String, Value>) -> Result<Shared, TranslateError> {
        let client_model = match body.get("model") {
            Some(Value::String(m)) if !strip_tag(m).is_empty() && !m.starts_with(':') => m.clone(),
            Some(Value::String(_)) => {
                return Err(TranslateError::param(
                    "model",
                    "`model` must name a model, e.g. \"gpt-5.5\" or \"gpt-5.5:latest\". GET /api/tags lists them.",
                ));
            }
            None | Some(Value::Null) => {
                return Err(TranslateError::missing("model", "a model name"));
            }
            Some(_) => return Err(TranslateError::invalid_type("model", "a string")),
        };
        Ok(Shared {
            model: strip_tag(&client_model).to_owned(),
            client_model,
            stream: true,
            think: Think::Unset,
            format: None,
            keep_alive: KeepAlive::Default,
            ignored: Vec::new(),
        })
    }

    /// Handles one field both endpoints share, and gives back any other field.
    pub(crate) fn field(
        &mut self,
        key: String,
        value: Value,
    ) -> Result<Option<(String, Value)>, TranslateError> {
        match key.as_str() {
            "model" => {}
            "stream" => self.stream = optional_bool(Some(&value), "stream")?.unwrap_or(true),
            "think" => self.think = Think::parse(&value)?,
            "format" => self.format = response_format(value)?,
            "options" => self.options(value)?,
            "keep_alive" => {
                self.keep_alive = KeepAlive::parse(Some(&value)).ok_or_else(|| {
                    TranslateError::invalid_type(
                        "keep_alive",
                        "a number of seconds or a duration such as \"5m\"",
                    )
                })?;
            }
            "logprobs" => {
                if optional_bool(Some(&value), "logprobs")? == Some(true) {
                    return Err(refuse(
                        "logprobs",
                        "`logprobs` is not supported: the ChatGPT backend returns no token log probabilities. Remove it or set it to false.",
                    ));
                }
            }
            _ => return Ok(Some((key, value))),
        }
        Ok(None)
    }

    /// Records a field the endpoint does not use (`null` and `""` count as absent).
    pub(crate) fn ignore(&mut self, key: String, value: &Value) {
        if !value.is_null() && value != "" {
            self.ignored.push(key);
        }
    }

    /// `options`: every entry removed and disclosed; a non-empty `stop` refused.
    fn options(&mut self, value: Value) -> Result<(), TranslateError> {
        let options = match value {
            Value::Null => return Ok(()),
            Value::Object(options) => options,
            _ => return Err(TranslateError::invalid_type("options", "an object")),
        };
        for (name, value) in options {
            if name == "stop" && !empty_stop(&value) {
                return Err(refuse(
                    "options.stop",
                    "`options.stop` sequences are not supported by the ChatGPT backend. Remove them and trim the answer yourself.",
                ));
            }
            if !value.is_null() {
                self.ignored.push(format!("options.{name}"));
            }
        }
        Ok(())
    }

    /// The chat body for `messages` (and `tools`), translated by the chat rules.
    pub(crate) fn translate(
        &mut self,
        messages: Vec<Value>,
        tools: Option<Value>,
        opts: &TranslateOptions<'_>,
    ) -> Result<UpstreamRequest, TranslateError> {
        let mut chat = Map::with_capacity(8);
        chat.insert("model".to_owned(), Value::String(self.model.clone()));
        chat.insert("messages".to_owned(), Value::Array(messages));
        chat.insert("stream".to_owned(), Value::Bool(self.stream));
        if let Some(tools) = tools {
            chat.insert("tools".to_owned(), tools);
        }
        if let Some(format) = self.format.take() {
            chat.insert("response_format".to_owned(), format);
        }
        if let Some(effort) = self.think.effort() {
            chat.insert("reasoning_effort".to_owned(), Value::from(effort));
        }
        let opts = TranslateOptions {
            reasoning_summaries: self.think.summaries(opts.reasoning_summaries),
            ..*opts
        };
        let (mut upstream, _info) = chat_request::prepare_map(chat, &opts)?;
        let mut ignored = std::mem::take(&mut self.ignored);
        ignored.append(&mut upstream.ignored_parameters);
        upstream.ignored_parameters = ignored;
        upstream.model.clone_from(&self.model);
        Ok(upstream)
    }
}

fn refuse(param: &str, message: &str) -> TranslateError {
    TranslateError::param(param, message).code("unsupported_parameter")
}

fn empty_stop(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `format` → the chat `response_format`: `"json"` → a JSON object, a schema
/// object → a strict JSON schema, `""` or `null` → plain text.
fn response_format(value: Value) -> Result<Option<Value>, TranslateError> {
    let mut format = Map::new();
    match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) if s == "json" => {
            format.insert("type".to_owned(), Value::from("json_object"));
        }
        Value::String(s) => {
            return Err(TranslateError::param(
                "format",
                format!("`format` \"{s}\" is not supported. Use \"json\" or a JSON schema object."),
            )
            .code("unsupported_value"));
        }
        Value::Object(schema) => {
            let mut spec = Map::new();
            spec.insert("name".to_owned(), Value::from("response"));
            spec.insert("schema".to_owned(), Value::Object(schema));
            spec.insert("strict".to_owned(), Value::Bool(true));
            format.insert("type".to_owned(), Value::from("json_schema"));
            format.insert("json_schema".to_owned(), Value::Object(spec));
        }
        _ => {
            return Err(TranslateError::invalid_type(
                "format",
                "\"json\" or a JSON schema object",
            ));
        }
    }
    Ok(Some(Value::Object(format)))
}

/// `images` of a message → chat `image_url` parts with data URLs.
pub(crate) fn image_parts(value: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    let images = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(images) => images,
        _ => {
            return Err(TranslateError::invalid_type(
                param,
                "an array of base64 strings",
            ));
        }
    };
    images
        .into_iter()
        .enumerate()
        .map(|(j, image)| {
            let image_param = format!("{param}[{j}]");
            let Value::String(data) = image else {
                return Err(TranslateError::invalid_type(image_param, "a base64 string"));
            };
            let mut url = Map::new();
            url.insert(
                "url".to_owned(),
                Value::String(data_url(data, &image_param)?),
            );
            let mut part = Map::new();
            part.insert("type".to_owned(), Value::from("image_url"));
            part.insert("image_url".to_owned(), Value::Object(url));
            Ok(Value::Object(part))
        })
        .collect()
}

/// A base64 image → `data:<mime>;base64,…`, the type sniffed from its first bytes.
/// A data URL is kept as it is.
fn data_url(data: String, param: &str) -> Result<String, TranslateError> {
    if data.starts_with("data:image/") {
        return Ok(data);
    }
    let head_len = data.len().min(24) / 4 * 4;
    let head = data
        .get(..head_len)
        .and_then(|head| STANDARD.decode(head).ok());
    let Some(head) = head.filter(|h| !h.is_empty()) else {
        return Err(TranslateError::param(
            param,
            format!("`{param}` is not base64: send the image bytes base64-encoded."),
        ));
    };
    let Some(mime) = sniff_image(&head) else {
        return Err(TranslateError::param(
            param,
            format!(
                "`{param}` is not a PNG, JPEG, GIF or WebP image, the formats the model accepts."
            ),
        )
        .code("unsupported_value"));
    };
    let mut url = String::with_capacity(data.len() + 32);
    url.push_str("data:");
    url.push_str(mime);
    url.push_str(";base64,");
    url.push_str(&data);
    Ok(url)
}
