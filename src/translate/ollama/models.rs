//! The JSON of Ollama's model routes, from catalogue entries (docs/upstream.md,
//! "Model catalogue": `slug`, `visibility`, `context_window`,
//! `supported_reasoning_levels`, `input_modalities`…). Pure: the caller passes
//! the entries and the times.
//!
//! Every model is listed with the tag `latest` (`gpt-5.5:latest`); Open WebUI
//! keys models by `model` and appends `:latest` to names without a tag. A model
//! has no file here, so `size` is 0 and `digest` is a stable stand-in (the
//! SHA-256 of `airelays:<slug>`); `details` says only what is known.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::OLLAMA_API_VERSION;
use super::stream::rfc3339;

/// `{"version":"0.12.0"}` for `GET /api/version`.
pub(crate) fn version() -> Value {
    json!({ "version": OLLAMA_API_VERSION })
}

/// The catalogue id of an entry (`slug`, else `id`).
fn slug(entry: &Value) -> Option<&str> {
    entry
        .get("slug")
        .or_else(|| entry.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Listed in `/api/tags` (`visibility: "list"`, or none).
fn listed(entry: &Value) -> bool {
    entry
        .get("visibility")
        .and_then(Value::as_str)
        .is_none_or(|v| v == "list")
}

/// The Ollama name of a catalogue id: `gpt-5.5` → `gpt-5.5:latest`.
pub(crate) fn tagged(slug: &str) -> String {
    format!("{slug}:latest")
}

/// The model family: the slug up to its first `-` (`gpt-5.5` → `gpt`).
fn family(slug: &str) -> &str {
    slug.split('-')
        .next()
        .filter(|f| !f.is_empty())
        .unwrap_or(slug)
}

/// A stable stand-in digest: 64 hex digits of SHA-256(`airelays:<slug>`).
fn digest(slug: &str) -> String {
    let hash = Sha256::digest(format!("airelays:{slug}").as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// `details`: what is known of a model served by the ChatGPT backend.
fn details(slug: &str) -> Value {
    json!({
        "parent_model": "",
        "format": "",
        "family": family(slug),
        "families": [family(slug)],
        "parameter_size": "",
        "quantization_level": "",
    })
}

/// One model of `/api/tags`.
fn tag_entry(slug: &str, modified_at: &str) -> Value {
    let name = tagged(slug);
    json!({
        "name": name,
        "model": name,
        "modified_at": modified_at,
        "size": 0,
        "digest": digest(slug),
        "details": details(slug),
    })
}

/// `GET /api/tags`: every listed catalogue entry, then each of `extra` (the
/// `models.extra_models`) not already there, with `modified_at` the time the
/// catalogue was fetched (Unix seconds).
pub(crate) fn tags(entries: &[Value], extra: &[String], modified_at: i64) -> Value {
    let modified_at = rfc3339(modified_at);
    let mut slugs: Vec<&str> = entries
        .iter()
        .filter(|e| listed(e))
        .filter_map(slug)
        .collect();
    for extra in extra {
        if !slugs.iter().any(|s| s.eq_ignore_ascii_case(extra)) {
            slugs.push(extra);
        }
    }
    let models: Vec<Value> = slugs
        .iter()
        .map(|slug| tag_entry(slug, &modified_at))
        .collect();
    json!({ "models": models })
}

/// `capabilities` as the catalogue says: `completion` always; `tools` always
/// (the backend takes function tools with every model); `thinking` when the
/// entry lists reasoning levels; `vision` when its input modalities include
/// images.
fn capabilities(entry: &Value) -> Vec<&'static str> {
    let mut capabilities = vec!["completion", "tools"];
    let reasons = entry
        .get("supported_reasoning_levels")
        .and_then(Value::as_array)
        .is_some_and(|levels| !levels.is_empty())
        || entry
            .get("default_reasoning_level")
            .and_then(Value::as_str)
            .is_some_and(|l| l != "none");
    if reasons {
        capabilities.push("thinking");
    }
    let sees = entry
        .get("input_modalities")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|m| m == "image"));
    if sees {
        capabilities.push("vision");
    }
    capabilities
}

/// What the modelfile and template say: there is no local model.
fn served_by(slug: &str) -> String {
    format!(
        "# {slug} is not a local model: it is served by the ChatGPT backend through airelays, \
         using your ChatGPT subscription. There is no model file, template or parameter to change here."
    )
}

/// `POST /api/show` for one catalogue entry (`modified_at` in Unix seconds).
pub(crate) fn show(entry: &Value, modified_at: i64) -> Option<Value> {
    let slug = slug(entry)?;
    let family = family(slug);
    let mut model_info = Map::new();
    model_info.insert("general.architecture".to_owned(), Value::from(family));
    model_info.insert("general.basename".to_owned(), Value::from(slug));
    let context = entry
        .get("context_window")
        .or_else(|| entry.get("max_context_window"))
        .and_then(Value::as_u64);
    if let Some(context) = context {
        model_info.insert(format!("{family}.context_length"), Value::from(context));
    }
    Some(json!({
        "modelfile": served_by(slug),
        "parameters": "",
        "template": served_by(slug),
        "details": details(slug),
        "model_info": model_info,
        "capabilities": capabilities(entry),
        "modified_at": rfc3339(modified_at),
    }))
}

/// `GET /api/ps`: the models used within their `keep_alive` window, as
/// (catalogue id, expiry in Unix seconds) pairs.
pub(crate) fn ps(running: &[(String, i64)]) -> Value {
    let models: Vec<Value> = running
        .iter()
        .map(|(slug, expires_at)| {
            let name = tagged(slug);
            json!({
                "name": name,
                "model": name,
                "size": 0,
                "digest": digest(slug),
                "details": details(slug),
                "expires_at": rfc3339(*expires_at),
                "size_vram": 0,
            })
        })
        .collect();
    json!({ "models": models })
}
