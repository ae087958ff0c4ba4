//! A line scanner for client config files (Codex's TOML, opencode's JSON/JSONC): the
//! string settings doctor judges, with their line numbers and TOML section. Lines, not
//! a parser, because every finding must name its line and a half-edited file must
//! still be read; anything it does not recognise is skipped, never an error.

/// One `key = "value"` (TOML) or `"key": "value"` (JSON) setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Setting {
    /// 1-based line number.
    pub(super) line: usize,
    /// The key, as asked for.
    pub(super) key: &'static str,
    /// The string value.
    pub(super) value: String,
    /// The last TOML `[section]` header above it (empty at the top).
    pub(super) section: String,
}

/// Where a provider's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyRef {
    /// An environment variable.
    Env(String),
    /// The key itself, written in the file (compared by fingerprint, never shown).
    Literal(String),
}

/// Every setting of `keys` in `text`, in order (comment lines skipped).
pub(super) fn settings(text: &str, keys: &[&'static str]) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut section = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') && !t.contains('"') {
            section = t.to_string();
            continue;
        }
        if let Some((key, value)) = keys.iter().find_map(|k| value_of(t, k).map(|v| (*k, v))) {
            out.push(Setting {
                line: i + 1,
                key,
                value,
                section: section.clone(),
            });
        }
    }
    out
}

/// The key sent by the provider whose base URL is `url`: `CODEX_API_KEY` for Codex's
/// `openai_base_url`, the `env_key` of a Codex `[model_providers.*]` section, or the
/// `apiKey` of an opencode provider (`{env:NAME}` or a literal, within 6 lines).
pub(super) fn key_of(url: &Setting, keys: &[Setting]) -> Option<KeyRef> {
    match url.key {
        "openai_base_url" => Some(KeyRef::Env("CODEX_API_KEY".into())),
        "base_url" => keys
            .iter()
            .find(|k| k.key == "env_key" && k.section == url.section)
            .map(|k| KeyRef::Env(k.value.clone())),
        _ => {
            let near = keys
                .iter()
                .filter(|k| k.key == "apiKey" && k.line.abs_diff(url.line) <= 6)
                .min_by_key(|k| k.line.abs_diff(url.line))?;
            let v = near.value.trim();
            Some(
                match v.strip_prefix("{env:").and_then(|r| r.strip_suffix('}')) {
                    Some(var) => KeyRef::Env(var.to_string()),
                    None => KeyRef::Literal(v.to_string()),
                },
            )
        }
    }
}

/// `key = "v"`, `"key": "v"` or `key: "v"` at the start of `line` → `v`.
fn value_of(line: &str, key: &str) -> Option<String> {
    let rest = line
        .strip_prefix('"')
        .and_then(|r| r.strip_prefix(key))
        .and_then(|r| r.strip_prefix('"'))
        .or_else(|| line.strip_prefix(key))?;
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(':'))?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &rest[1..];
    body.find(quote).map(|end| body[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URLS: &[&str] = &["openai_base_url", "base_url", "baseURL"];

    fn lines(found: &[Setting]) -> Vec<(usize, &str, &str)> {
        found
            .iter()
            .map(|s| (s.line, s.key, s.value.as_str()))
            .collect()
    }

    #[test]
    fn settings_are_found_with_their_lines() {
        let toml = "model = \"x\"\n\n[model_providers.a]\nbase_url = \"http://127.0.0.1:9/v1\" # c\n# base_url = \"no\"\nopenai_base_url='http://h/v1'\n";
        let found = settings(toml, URLS);
        assert_eq!(
            lines(&found),
            [
                (4, "base_url", "http://127.0.0.1:9/v1"),
                (6, "openai_base_url", "http://h/v1")
            ]
        );
        assert_eq!(found[0].section, "[model_providers.a]");
        let json = "{\n  \"options\": {\n    \"baseURL\": \"http://127.0.0.1:8080/v1\",\n";
        assert_eq!(
            lines(&settings(json, URLS)),
            [(3, "baseURL", "http://127.0.0.1:8080/v1")]
        );
        assert!(settings("base_url = 3\n\"baseURL\"\n\"baseURL\": \"unclosed", URLS).is_empty());
    }

    #[test]
    fn the_key_of_each_provider_is_found() {
        let toml = "[model_providers.a]\nbase_url = \"http://127.0.0.1:8080/v1\"\nenv_key = \"AIRELAYS_TOKEN\"\n[model_providers.b]\nbase_url = \"http://127.0.0.1:9/v1\"\n";
        let urls = settings(toml, URLS);
        let keys = settings(toml, &["env_key", "apiKey"]);
        assert_eq!(
            key_of(&urls[0], &keys),
            Some(KeyRef::Env("AIRELAYS_TOKEN".into()))
        );
        assert_eq!(key_of(&urls[1], &keys), None);
        let json = "\"options\": {\n  \"baseURL\": \"http://127.0.0.1:8080/v1\",\n  \"apiKey\": \"{env:AIRELAYS_TOKEN}\"\n},\n\"o2\": {\n \"apiKey\": \"literal\",\n \"baseURL\": \"http://127.0.0.1:8080/v1\"\n}";
        let urls = settings(json, URLS);
        let keys = settings(json, &["env_key", "apiKey"]);
        assert_eq!(
            key_of(&urls[0], &keys),
            Some(KeyRef::Env("AIRELAYS_TOKEN".into()))
        );
        assert_eq!(
            key_of(&urls[1], &keys),
            Some(KeyRef::Literal("literal".into()))
        );
        let builtin = settings("openai_base_url = \"http://127.0.0.1:8080/v1\"", URLS);
        assert_eq!(
            key_of(&builtin[0], &[]),
            Some(KeyRef::Env("CODEX_API_KEY".into()))
        );
    }
}
