//! Static-ish upstream data: the model catalogue (`/codex/models`), the usage payload
//! (`/wham/usage`) and the rate-limit windows reported in `x-codex-*` headers. The windows in
//! the headers and in the usage payload come from the same constants.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::tokens::unix_now;

/// One rate-limit window as the mock reports it.
pub(crate) struct Window {
    pub used_percent: u32,
    pub window_minutes: u64,
    pub reset_after_seconds: u64,
}

/// The 5-hour window.
pub(crate) const PRIMARY: Window = Window {
    used_percent: 12,
    window_minutes: 300,
    reset_after_seconds: 9_000,
};

/// The weekly window.
pub(crate) const SECONDARY: Window = Window {
    used_percent: 24,
    window_minutes: 10_080,
    reset_after_seconds: 345_600,
};

/// The `x-codex-*` rate-limit headers for a primary window (possibly overridden, e.g. at 100%
/// for a usage-limit 429) and the standard secondary window.
pub(crate) fn rate_limit_headers(primary: &Window, plan: &str) -> Vec<(&'static str, String)> {
    let now = unix_now();
    vec![
        (
            "x-codex-primary-used-percent",
            primary.used_percent.to_string(),
        ),
        (
            "x-codex-primary-window-minutes",
            primary.window_minutes.to_string(),
        ),
        (
            "x-codex-primary-reset-at",
            (now + primary.reset_after_seconds).to_string(),
        ),
        (
            "x-codex-primary-reset-after-seconds",
            primary.reset_after_seconds.to_string(),
        ),
        (
            "x-codex-secondary-used-percent",
            SECONDARY.used_percent.to_string(),
        ),
        (
            "x-codex-secondary-window-minutes",
            SECONDARY.window_minutes.to_string(),
        ),
        (
            "x-codex-secondary-reset-at",
            (now + SECONDARY.reset_after_seconds).to_string(),
        ),
        (
            "x-codex-secondary-reset-after-seconds",
            SECONDARY.reset_after_seconds.to_string(),
        ),
        (
            "x-codex-primary-over-secondary-limit-percent",
            "0".to_owned(),
        ),
        ("x-codex-credits-has-credits", "False".to_owned()),
        ("x-codex-credits-unlimited", "False".to_owned()),
        ("x-codex-credits-balance", String::new()),
        ("x-codex-plan-type", plan.to_owned()),
        ("x-codex-active-limit", "codex".to_owned()),
    ]
}

fn window_json(window: &Window, now: u64) -> Value {
    json!({
        "used_percent": window.used_percent,
        "limit_window_seconds": window.window_minutes * 60,
        "reset_after_seconds": window.reset_after_seconds,
        "reset_at": now + window.reset_after_seconds,
    })
}

/// The `GET /backend-api/wham/usage` payload.
pub(crate) fn usage_payload(plan: &str) -> Value {
    let now = unix_now();
    json!({
        "plan_type": plan,
        "rate_limit": {
            "allowed": true,
            "limit_reached": false,
            "primary_window": window_json(&PRIMARY, now),
            "secondary_window": window_json(&SECONDARY, now),
        },
        "credits": {
            "has_credits": false,
            "unlimited": false,
            "balance": "0",
            "approx_local_messages": null,
            "approx_cloud_messages": null,
        },
        "additional_rate_limits": [],
        "rate_limit_reached_type": null,
        "code_review_rate_limit": null,
    })
}

/// A weak ETag derived from the catalogue's content, so overriding the models changes it.
pub(crate) fn models_etag(models: &[Value]) -> String {
    let digest = Sha256::digest(Value::Array(models.to_vec()).to_string().as_bytes());
    format!("W/\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..12]))
}

const BASE_INSTRUCTIONS: &str = "You are Codex, a coding agent based on GPT-5. \
You and the user share the same workspace and collaborate to achieve the user's goals. \
(This is the mock upstream's catalogue; the real text is much longer.)";

fn model(slug: &str, display: &str, description: &str, priority: u32, visibility: &str) -> Value {
    json!({
        "slug": slug,
        "display_name": display,
        "description": description,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [
            {"effort": "low", "description": "Fast responses with lighter reasoning"},
            {"effort": "medium", "description": "Balances speed and reasoning depth for everyday tasks"},
            {"effort": "high", "description": "Greater reasoning depth for complex problems"},
            {"effort": "xhigh", "description": "Extra high reasoning depth for complex problems"}
        ],
        "shell_type": "shell_command",
        "visibility": visibility,
        "supported_in_api": true,
        "priority": priority,
        "minimal_client_version": "0.124.0",
        "available_in_plans": ["plus", "pro", "prolite", "team", "business", "enterprise", "edu"],
        "base_instructions": BASE_INSTRUCTIONS,
        "supports_reasoning_summaries": true,
        "default_reasoning_summary": "none",
        "reasoning_summary_format": "experimental",
        "support_verbosity": true,
        "default_verbosity": "low",
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text_and_image",
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": true,
        "context_window": 272000,
        "max_context_window": 272000,
        "input_modalities": ["text", "image"],
        "prefer_websockets": true,
        "experimental_supported_tools": [],
        "availability_nux": null,
        "upgrade": null
    })
}

/// The catalogue of Codex 0.125 (`models-manager/models.json`), trimmed to what clients read.
pub(crate) fn default_models() -> Vec<Value> {
    vec![
        model(
            "gpt-5.5",
            "GPT-5.5",
            "Frontier model for complex coding, research, and real-world work.",
            0,
            "list",
        ),
        model(
            "gpt-5.4",
            "GPT-5.4",
            "Strong model for everyday coding.",
            1,
            "list",
        ),
        model(
            "gpt-5.4-mini",
            "GPT-5.4-Mini",
            "Small, fast, and cost-efficient model for simpler coding tasks.",
            2,
            "list",
        ),
        model(
            "gpt-5.3-codex",
            "GPT-5.3-Codex",
            "Coding-optimized model.",
            3,
            "list",
        ),
        model("gpt-5.2", "GPT-5.2", "Previous frontier model.", 4, "list"),
        model(
            "codex-auto-review",
            "Codex Auto Review",
            "Model used for automatic code review.",
            5,
            "hide",
        ),
    ]
}
