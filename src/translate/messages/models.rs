//! The `claude-*` model aliases: which upstream model (and effort) a Claude
//! model id means, and the Anthropic-shaped model list that shows the mapping.
//! Pure functions over a catalogue slice (docs/upstream.md, "Model catalogue").
//!
//! The map is an ordered list of `{match, model, effort}` rules, the first
//! whose `match` is a case-insensitive substring of the requested id winning.
//! The built-in rules ([`resolve_map`]):
//!
//! | match | model | effort |
//! |---|---|---|
//! | `opus` | the listed model with the lowest `priority` | `high` |
//! | `sonnet` | the same model | its `default_reasoning_level` |
//! | `haiku` | the first listed model whose slug ends in `-mini`, else the default model | the mini's default level, else `low` |
//!
//! A trailing `[1m]` and a date suffix (`-20250514`) or `-latest` are stripped
//! before matching; an id the catalogue knows is used as it is. An effort in the
//! request wins over the rule's; either is lowered to a level the model supports.

use serde_json::{Map, Value};

use crate::translate::ensure_include_reasoning;

/// One catalogue model, as alias resolution needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogueModel {
    /// The slug sent upstream.
    pub id: String,
    /// `visibility: "list"` (a missing value counts as listed).
    pub listed: bool,
    /// Lower first; `0` is Codex's default model.
    pub priority: Option<i64>,
    /// `default_reasoning_level`.
    pub default_effort: Option<String>,
    /// The `effort`s of `supported_reasoning_levels` (empty: unknown).
    pub efforts: Vec<String>,
    /// `display_name`.
    pub display_name: Option<String>,
}

impl CatalogueModel {
    /// Reads one entry of the backend's `/models` answer.
    pub fn from_json(model: &Value) -> Option<CatalogueModel> {
        let text = |key: &str| model.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = text("slug")
            .or_else(|| text("id"))
            .filter(|id| !id.is_empty())?;
        let efforts = model
            .get("supported_reasoning_levels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|level| level.get("effort").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        Some(CatalogueModel {
            id,
            listed: model
                .get("visibility")
                .and_then(Value::as_str)
                .is_none_or(|v| v == "list"),
            priority: model.get("priority").and_then(Value::as_i64),
            default_effort: text("default_reasoning_level"),
            efforts,
            display_name: text("display_name"),
        })
    }
}

/// One rule of `anthropic.model_map` as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRule {
    /// Matched case-insensitively as a substring of the requested id.
    pub pattern: String,
    /// The upstream model; `None` means the default model.
    pub model: Option<String>,
    /// The effort; `None` means the model's default level.
    pub effort: Option<String>,
}

/// A rule with its model resolved against the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// What the rule matches.
    pub pattern: String,
    /// The upstream model.
    pub model: String,
    /// The effort sent when the request names none.
    pub effort: Option<String>,
}

/// Where a requested model id goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The upstream model id (or the requested id, normalised, when nothing matched).
    pub model: String,
    /// The alias's effort, used when the request names none.
    pub effort: Option<String>,
    /// The pattern of the alias that matched.
    pub alias: Option<String>,
}

/// The catalogue's default model: the listed model with the lowest priority.
pub fn default_model(catalogue: &[CatalogueModel]) -> Option<&CatalogueModel> {
    catalogue
        .iter()
        .filter(|m| m.listed)
        .min_by_key(|m| m.priority.unwrap_or(i64::MAX))
}

fn find<'c>(catalogue: &'c [CatalogueModel], id: &str) -> Option<&'c CatalogueModel> {
    catalogue.iter().find(|m| m.id.eq_ignore_ascii_case(id))
}

/// The configured rules followed by the built-in `opus`, `sonnet` and `haiku`
/// rules that no configured rule replaces, resolved against the catalogue. With
/// no default model (an empty catalogue) only rules naming a model remain.
pub fn resolve_map(rules: &[AliasRule], catalogue: &[CatalogueModel]) -> Vec<Alias> {
    let default = default_model(catalogue);
    let mut map: Vec<Alias> = rules
        .iter()
        .filter_map(|rule| {
            let model = match &rule.model {
                Some(model) => find(catalogue, model).map_or(model.as_str(), |m| m.id.as_str()),
                None => default?.id.as_str(),
            };
            let effort = rule
                .effort
                .clone()
                .or_else(|| find(catalogue, model).and_then(|m| m.default_effort.clone()));
            Some(Alias {
                pattern: rule.pattern.to_ascii_lowercase(),
                model: model.to_owned(),
                effort,
            })
        })
        .collect();
    let Some(default) = default else {
        return map;
    };
    let mini = catalogue
        .iter()
        .find(|m| m.listed && m.id.to_ascii_lowercase().ends_with("-mini"));
    let built_in = [
        ("opus", default, Some("high".to_owned())),
        ("sonnet", default, default.default_effort.clone()),
        match mini {
            Some(mini) => ("haiku", mini, mini.default_effort.clone()),
            None => ("haiku", default, Some("low".to_owned())),
        },
    ];
    for (pattern, model, effort) in built_in {
        if !rules
            .iter()
            .any(|r| r.pattern.eq_ignore_ascii_case(pattern))
        {
            map.push(Alias {
                pattern: pattern.to_owned(),
                model: model.id.clone(),
                effort,
            });
        }
    }
    map
}

/// A requested id without a trailing `[1m]`, date suffix or `-latest`.
pub fn normalize(requested: &str) -> &str {
    let mut id = requested.trim();
    let cut = id.len().saturating_sub(4);
    if let (Some(stem), Some(tail)) = (id.get(..cut), id.get(cut..))
        && tail.eq_ignore_ascii_case("[1m]")
    {
        id = stem;
    }
    if let Some(stem) = id.strip_suffix("-latest") {
        return stem;
    }
    match id.rsplit_once('-') {
        Some((stem, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => stem,
        _ => id,
    }
}

/// Where `requested` goes: a catalogue id as it is, else the first matching
/// alias, else the normalised id unchanged (for the usual model resolution).
pub fn choose(requested: &str, map: &[Alias], catalogue: &[CatalogueModel]) -> Choice {
    let normalized = normalize(requested);
    for id in [requested, normalized] {
        if let Some(model) = find(catalogue, id) {
            return Choice {
                model: model.id.clone(),
                effort: None,
                alias: None,
            };
        }
    }
    let lower = normalized.to_ascii_lowercase();
    match map
        .iter()
        .find(|a| !a.pattern.is_empty() && lower.contains(&a.pattern))
    {
        Some(alias) => Choice {
            model: alias.model.clone(),
            effort: alias.effort.clone(),
            alias: Some(alias.pattern.clone()),
        },
        None => Choice {
            model: normalized.to_owned(),
            effort: None,
            alias: None,
        },
    }
}

/// Upstream effort levels, lowest first.
const EFFORT_ORDER: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

/// `effort` lowered to the nearest level the model supports (the lowest
/// supported one when none is lower); unchanged when the levels are unknown.
pub fn clamp_effort(effort: &str, model: Option<&CatalogueModel>) -> String {
    let Some(model) = model.filter(|m| !m.efforts.is_empty()) else {
        return effort.to_owned();
    };
    if model.efforts.iter().any(|e| e == effort) {
        return effort.to_owned();
    }
    let rank = |e: &str| EFFORT_ORDER.iter().position(|o| *o == e);
    let wanted = rank(effort).unwrap_or(EFFORT_ORDER.len());
    let supported = || model.efforts.iter().filter_map(|e| Some((rank(e)?, e)));
    supported()
        .filter(|(r, _)| *r <= wanted)
        .max_by_key(|(r, _)| *r)
        .or_else(|| supported().min_by_key(|(r, _)| *r))
        .map_or_else(|| effort.to_owned(), |(_, e)| e.clone())
}

/// Applies a choice to a translated body: its `model`, and `reasoning.effort`
/// from the request or else the alias, lowered to what the model supports.
pub fn apply_choice(body: &mut Map<String, Value>, choice: &Choice, catalogue: &[CatalogueModel]) {
    body.insert("model".to_owned(), Value::String(choice.model.clone()));
    let requested = body
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(effort) = requested.or_else(|| choice.effort.clone()) else {
        return;
    };
    let effort = clamp_effort(&effort, find(catalogue, &choice.model));
    let reasoning = body
        .entry("reasoning")
        .or_insert_with(|| Value::Object(Map::new()));
    if !reasoning.is_object() {
        *reasoning = Value::Object(Map::new());
    }
    if let Value::Object(reasoning) = reasoning {
        reasoning.insert("effort".to_owned(), Value::String(effort));
    }
    // `include` is always a list in a translated body, so this cannot fail.
    let _ = ensure_include_reasoning(body);
}

/// The alias id shown for a pattern: `claude-<pattern>`.
fn alias_id(pattern: &str) -> String {
    if pattern.starts_with("claude") {
        pattern.to_owned()
    } else {
        format!("claude-{pattern}")
    }
}

/// `claude-sonnet → gpt-5.5 (medium)`.
fn alias_display(alias: &Alias) -> String {
    let id = alias_id(&alias.pattern);
    match &alias.effort {
        Some(effort) => format!("{id} → {} ({effort})", alias.model),
        None => format!("{id} → {}", alias.model),
    }
}

/// One Anthropic model object.
pub fn model_object(id: &str, display_name: &str, created: i64) -> Value {
    let created_at = jiff::Timestamp::from_second(created)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string();
    let mut model = Map::new();
    model.insert("type".to_owned(), Value::from("model"));
    model.insert("id".to_owned(), Value::from(id));
    model.insert("display_name".to_owned(), Value::from(display_name));
    model.insert("created_at".to_owned(), Value::String(created_at));
    Value::Object(model)
}

/// The models an Anthropic client sees: the aliases first, then the listed
/// upstream ids.
fn entries(map: &[Alias], catalogue: &[CatalogueModel]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for alias in map.iter().filter(|a| !a.pattern.is_empty()) {
        let id = alias_id(&alias.pattern);
        if !out.iter().any(|(known, _)| *known == id) {
            out.push((id, alias_display(alias)));
        }
    }
    for model in catalogue.iter().filter(|m| m.listed) {
        let display = model
            .display_name
            .clone()
            .unwrap_or_else(|| model.id.clone());
        out.push((model.id.clone(), display));
    }
    out
}

/// The Anthropic model list: `{"data":[…],"has_more":false,"first_id","last_id"}`.
pub fn model_list(map: &[Alias], catalogue: &[CatalogueModel], created: i64) -> Value {
    let entries = entries(map, catalogue);
    let data: Vec<Value> = entries
        .iter()
        .map(|(id, display)| model_object(id, display, created))
        .collect();
    let edge =
        |e: Option<&(String, String)>| e.map_or(Value::Null, |(id, _)| Value::from(id.as_str()));
    let mut list = Map::new();
    list.insert("data".to_owned(), Value::Array(data));
    list.insert("has_more".to_owned(), Value::Bool(false));
    list.insert("first_id".to_owned(), edge(entries.first()));
    list.insert("last_id".to_owned(), edge(entries.last()));
    Value::Object(list)
}

/// One model for `GET /v1/models/{id}`: a listed entry, a hidden catalogue
/// model, or any id an alias matches (`claude-sonnet-4-5-20250929`); `None` for
/// an unknown id.
pub fn model_entry(
    id: &str,
    map: &[Alias],
    catalogue: &[CatalogueModel],
    created: i64,
) -> Option<Value> {
    if let Some((known, display)) = entries(map, catalogue)
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(id))
    {
        return Some(model_object(&known, &display, created));
    }
    if let Some(model) = find(catalogue, id) {
        let display = model.display_name.as_deref().unwrap_or(&model.id);
        return Some(model_object(&model.id, display, created));
    }
    let choice = choose(id, map, catalogue);
    let alias = map
        .iter()
        .find(|a| Some(&a.pattern) == choice.alias.as_ref())?;
    let display = alias_display(alias).replacen(&alias_id(&alias.pattern), id, 1);
    Some(model_object(id, &display, created))
}
