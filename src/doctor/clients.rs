//! Client configurations on this machine checked against the relay
//! (docs/clients.md): `OPENAI_BASE_URL`/`OPENAI_API_KEY`, Codex's
//! `~/.codex/config.toml` providers, opencode's config and Claude Code's
//! `ANTHROPIC_BASE_URL`. Each finding names the variable, or the file and line. A
//! stale key is named by fingerprints only (`token::fingerprint_of`), never shown.

use std::path::{Path, PathBuf};

use super::local::redact_userinfo;
use super::{Check, CheckStatus, Probe, Run, blocking};

mod scan;
use crate::config::is_loopback_host;
use crate::token::{self, RelayToken};

/// Where the relay is, as the clients should see it.
#[derive(Clone)]
struct Target {
    /// The relay's port (running, else configured; `None` for `--port 0`).
    port: Option<u16>,
    /// The relay token's fingerprint, when there is one.
    fingerprint: Option<String>,
    /// The relay token's SHA-256, to recognise it in a variable.
    token: Option<RelayToken>,
}

/// One finding: its status, the line, the next step.
type Finding = (CheckStatus, String, Option<String>);

/// `client_env`, `client_codex`, `client_opencode`, `client_claude`.
pub(super) async fn steps(run: &mut Run<'_>, probe: &Probe) {
    let file = probe.config.security.bearer_token_file.clone();
    let env = probe.env;
    let token = blocking("client_env", move || token::load(&file, &env))
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten()
        .map(|(t, _)| t);
    let port = probe
        .relay
        .as_ref()
        .map(|r| r.port)
        .or(Some(probe.config.server.port))
        .filter(|p| *p != 0);
    let target = Target {
        port,
        fingerprint: token.as_ref().map(RelayToken::fingerprint),
        token,
    };
    run.begin("OpenAI variables", false);
    run.end(openai_env(&target, env));
    let home = env("HOME").map(PathBuf::from);
    let codex_dir = env("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".codex")));
    run.begin("Codex config", false);
    run.end(
        config_file(
            &target,
            "client_codex",
            codex_dir.map(|d| vec![d.join("config.toml")]),
            env,
        )
        .await,
    );
    let xdg = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let opencode = xdg.map(|d| {
        let dir = d.join("opencode");
        vec![dir.join("opencode.json"), dir.join("opencode.jsonc")]
    });
    run.begin("opencode config", false);
    run.end(config_file(&target, "client_opencode", opencode, env).await);
    run.begin("Claude Code variables", false);
    run.end(claude_env(&target, env));
}

/// The check of several findings: the worst status, the lines joined.
fn combine(id: &'static str, none: String, findings: Vec<Finding>) -> Check {
    if findings.is_empty() {
        return Check::ok(id, none);
    }
    let status = findings
        .iter()
        .map(|f| f.0)
        .max_by_key(|s| match s {
            CheckStatus::Ok => 0,
            CheckStatus::Warn => 1,
            CheckStatus::Fail => 2,
        })
        .unwrap_or(CheckStatus::Ok);
    let summary = findings
        .iter()
        .map(|f| f.1.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let hints: Vec<String> = findings.iter().filter_map(|f| f.2.clone()).collect();
    Check {
        id,
        status,
        summary,
        hint: (!hints.is_empty()).then(|| hints.join("; ")),
        details: Vec::new(),
    }
}

/// How a base URL relates to the relay.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Not a loopback URL: another service, not ours to judge.
    Elsewhere,
    /// The relay, spelled right.
    Relay,
    /// Points at the relay's machine, but wrong: the finding and the corrected URL.
    Wrong(String, String),
}

/// Judges `value` as a base URL for the relay; `v1` is whether the client wants the
/// `/v1` suffix (OpenAI clients do; Claude Code appends `/v1/messages` itself).
fn judge(value: &str, target: &Target, v1: bool) -> Verdict {
    let Ok(mut url) = url::Url::parse(value.trim()) else {
        return Verdict::Elsewhere;
    };
    let Some(host) = url.host_str() else {
        return Verdict::Elsewhere;
    };
    if !is_loopback_host(host) {
        return Verdict::Elsewhere;
    }
    let mut problems = Vec::new();
    let port = url.port_or_known_default();
    if let Some(relay) = target.port
        && port != Some(relay)
    {
        problems.push(format!(
            "points at port {}, but the relay listens on {relay}",
            port.map(|p| p.to_string()).unwrap_or_default()
        ));
        let _ = url.set_port(Some(relay));
    }
    let path = url.path().trim_end_matches('/').to_string();
    let fixed_path = if v1 {
        if path.ends_with("/v1/v1") {
            problems.push("ends in a doubled /v1".into());
            path[..path.len() - 3].to_string()
        } else if !path.ends_with("/v1") {
            problems.push("lacks the /v1 suffix".into());
            format!("{path}/v1")
        } else {
            path
        }
    } else if path.ends_with("/v1") {
        problems.push("ends in /v1 (Claude Code appends /v1/messages itself)".into());
        path[..path.len() - 3].to_string()
    } else {
        path
    };
    url.set_path(&fixed_path);
    if problems.is_empty() {
        return Verdict::Relay;
    }
    let corrected = url.as_str().trim_end_matches('/').to_string();
    Verdict::Wrong(problems.join(" and "), corrected)
}

/// A key compared with the relay token, by fingerprint. `label` names it in the
/// finding; `var` is the variable to export, when it comes from one.
fn key_finding(label: &str, var: Option<&str>, value: &str, target: &Target) -> Option<Finding> {
    let expected = target.fingerprint.as_ref()?;
    let value = value.trim();
    if target.token.as_ref().is_some_and(|t| t.expose() == value) {
        return None;
    }
    let theirs = token::fingerprint_of(value.as_bytes());
    let hint = match var {
        Some(var) => format!("export {var}=\"$(airelays token show --json | jq -r .token)\""),
        None => format!("set {label} to the relay token (`airelays token show`)"),
    };
    Some((
        CheckStatus::Warn,
        format!(
            "{label} (fingerprint {theirs}) is not the relay token; the relay expects fingerprint {expected}"
        ),
        Some(hint),
    ))
}

/// A finding for a variable holding a base URL.
fn url_finding(name: &str, value: &str, target: &Target, v1: bool) -> (Option<Finding>, bool) {
    match judge(value, target, v1) {
        Verdict::Elsewhere => (None, false),
        Verdict::Relay => (None, true),
        Verdict::Wrong(problem, corrected) => (
            Some((
                CheckStatus::Warn,
                format!("{name}={} {problem}", redact_userinfo(value)),
                Some(format!("export {name}={corrected}")),
            )),
            true,
        ),
    }
}

/// `client_env`: `OPENAI_BASE_URL` and `OPENAI_API_KEY`.
fn openai_env(target: &Target, env: fn(&str) -> Option<String>) -> Check {
    const ID: &str = "client_env";
    let Some(base) = env("OPENAI_BASE_URL").filter(|v| !v.trim().is_empty()) else {
        return Check::ok(ID, "OPENAI_BASE_URL is not set");
    };
    let (mut findings, at_relay) = {
        let (f, at) = url_finding("OPENAI_BASE_URL", &base, target, true);
        (f.into_iter().collect::<Vec<_>>(), at)
    };
    if !at_relay {
        return Check::ok(ID, format!("OPENAI_BASE_URL={base} is not the relay"));
    }
    match env("OPENAI_API_KEY").filter(|v| !v.trim().is_empty()) {
        None => findings.push((
            CheckStatus::Warn,
            "OPENAI_BASE_URL points at the relay but OPENAI_API_KEY is not set".into(),
            Some("export OPENAI_API_KEY=\"$(airelays token show --json | jq -r .token)\"".into()),
        )),
        Some(key) => findings.extend(key_finding(
            "OPENAI_API_KEY",
            Some("OPENAI_API_KEY"),
            &key,
            target,
        )),
    }
    combine(
        ID,
        format!("OPENAI_BASE_URL={base} and OPENAI_API_KEY match the relay"),
        findings,
    )
}

/// `client_claude`: `ANTHROPIC_BASE_URL` (no `/v1`) and its token.
fn claude_env(target: &Target, env: fn(&str) -> Option<String>) -> Check {
    const ID: &str = "client_claude";
    let Some(base) = env("ANTHROPIC_BASE_URL").filter(|v| !v.trim().is_empty()) else {
        return Check::ok(ID, "ANTHROPIC_BASE_URL is not set");
    };
    let (finding, at_relay) = url_finding("ANTHROPIC_BASE_URL", &base, target, false);
    if !at_relay {
        return Check::ok(ID, format!("ANTHROPIC_BASE_URL={base} is not the relay"));
    }
    let mut findings: Vec<Finding> = finding.into_iter().collect();
    let key = ["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"]
        .into_iter()
        .find_map(|k| env(k).filter(|v| !v.trim().is_empty()).map(|v| (k, v)));
    if let Some((name, value)) = key {
        findings.extend(key_finding(name, Some(name), &value, target));
    }
    combine(
        ID,
        format!("ANTHROPIC_BASE_URL={base} matches the relay"),
        findings,
    )
}

/// `client_codex` / `client_opencode`: every base URL in the first of `files` that
/// exists, judged with its line number, and the key its provider sends (Codex's
/// `env_key`, `CODEX_API_KEY` for `openai_base_url`, opencode's `apiKey`).
async fn config_file(
    target: &Target,
    id: &'static str,
    files: Option<Vec<PathBuf>>,
    env: fn(&str) -> Option<String>,
) -> Check {
    let Some(files) = files else {
        return Check::ok(id, "no home directory to look in");
    };
    let listed = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    let read = blocking(id, move || {
        let file = files.into_iter().find(|f| f.exists())?;
        let text = std::fs::read_to_string(&file);
        Some((file, text))
    })
    .await;
    let (file, text) = match read {
        Err(check) => return check,
        Ok(None) => return Check::ok(id, format!("no {listed}")),
        Ok(Some((file, Err(e)))) => {
            return Check::warn(
                id,
                format!("cannot read {}: {e}", file.display()),
                "check the file's permissions and encoding (UTF-8)",
            );
        }
        Ok(Some((file, Ok(text)))) => (file, text),
    };
    let keys = scan::settings(&text, &["env_key", "apiKey"]);
    let mut findings = Vec::new();
    let mut at_relay = 0;
    for url in scan::settings(&text, &["openai_base_url", "base_url", "baseURL"]) {
        let place = format!("{}:{}", file.display(), url.line);
        let shown_value = redact_userinfo(&url.value);
        match judge(&url.value, target, true) {
            Verdict::Elsewhere => continue,
            Verdict::Relay => at_relay += 1,
            Verdict::Wrong(problem, corrected) => findings.push((
                CheckStatus::Warn,
                format!("{place}: {} = {shown_value} {problem}", url.key),
                Some(format!("set {} to {corrected} in {place}", url.key)),
            )),
        }
        findings.extend(provider_key(&url, &keys, &place, target, env));
    }
    let none = if at_relay == 0 {
        format!("{} has no provider pointing at this machine", shown(&file))
    } else {
        format!(
            "{} points at the relay ({at_relay} provider(s))",
            shown(&file)
        )
    };
    combine(id, none, findings)
}

/// The key a provider pointing at this machine sends, compared with the relay token.
fn provider_key(
    url: &scan::Setting,
    keys: &[scan::Setting],
    place: &str,
    target: &Target,
    env: fn(&str) -> Option<String>,
) -> Option<Finding> {
    let var = match scan::key_of(url, keys)? {
        scan::KeyRef::Env(var) => var,
        scan::KeyRef::Literal(value) => {
            return key_finding(&format!("the apiKey near {place}"), None, &value, target);
        }
    };
    match env(&var).filter(|v| !v.trim().is_empty()) {
        Some(value) => key_finding(
            &format!("{var} (the key of {place})"),
            Some(&var),
            &value,
            target,
        ),
        None => Some((
            CheckStatus::Warn,
            format!("{place} sends the key in {var}, which is not set in this shell"),
            Some(format!(
                "export {var}=\"$(airelays token show --json | jq -r .token)\""
            )),
        )),
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: u16) -> Target {
        Target {
            port: Some(port),
            fingerprint: Some("abc".into()),
            token: None,
        }
    }

    #[test]
    fn base_urls_are_judged_against_the_relay() {
        let t = target(8080);
        assert_eq!(judge("http://127.0.0.1:8080/v1", &t, true), Verdict::Relay);
        assert_eq!(
            judge("https://api.openai.com/v1", &t, true),
            Verdict::Elsewhere
        );
        assert_eq!(
            judge("http://127.0.0.1:8080/v1/v1/", &t, true),
            Verdict::Wrong(
                "ends in a doubled /v1".into(),
                "http://127.0.0.1:8080/v1".into()
            )
        );
        assert_eq!(
            judge("http://localhost:9000/v1", &t, true),
            Verdict::Wrong(
                "points at port 9000, but the relay listens on 8080".into(),
                "http://localhost:8080/v1".into()
            )
        );
        assert_eq!(
            judge("http://127.0.0.1:8080/v1", &t, false),
            Verdict::Wrong(
                "ends in /v1 (Claude Code appends /v1/messages itself)".into(),
                "http://127.0.0.1:8080".into()
            )
        );
        assert_eq!(judge("not a url", &t, true), Verdict::Elsewhere);
    }
}
