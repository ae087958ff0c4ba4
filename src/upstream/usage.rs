//! The plan's usage, from the backend's usage endpoint (docs/upstream.md, "Usage
//! endpoint") or the `x-codex-*` headers of an answer, as a [`UsageSnapshot`].
//! Windows are named by their length, never by the slot they arrive in: some plans
//! report the weekly window as `primary_window` with no secondary one.

use http::HeaderMap;
use serde_json::Value;

use crate::status::{UsageCredits, UsageSnapshot, UsageWindow};

/// A window's id from its length in minutes: `5h`, `7d`, `30d`, else `<minutes>m`.
pub(crate) fn window_id(minutes: u64) -> String {
    match minutes {
        300 => "5h".to_owned(),
        10_080 => "7d".to_owned(),
        43_200 => "30d".to_owned(),
        m => format!("{m}m"),
    }
}

/// The usage endpoint for a backend base URL: a trailing `/codex` replaced by
/// `/wham/usage` (`…/backend-api/codex` → `…/backend-api/wham/usage`), otherwise
/// `{base}/api/codex/usage`.
pub(crate) fn usage_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    match base.strip_suffix("/codex") {
        Some(root) => format!("{root}/wham/usage"),
        None => format!("{base}/api/codex/usage"),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub(crate) fn rfc3339_from_epoch(secs: i64) -> Option<String> {
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
}

/// An RFC 3339 time as the user's local time (`2026-12-09 14:00 CET`), or the text
/// as it is when it does not parse.
pub(crate) fn local_time(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => t
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

fn window(h: &HeaderMap, prefix: &str, now: i64) -> Option<UsageWindow> {
    let used: f64 = header(h, &format!("x-codex-{prefix}-used-percent"))?
        .parse()
        .ok()?;
    let minutes: u64 = header(h, &format!("x-codex-{prefix}-window-minutes"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let reset_at: Option<i64> = header(h, &format!("x-codex-{prefix}-reset-at"))
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            header(h, &format!("x-codex-{prefix}-reset-after-seconds"))
                .and_then(|v| v.parse::<i64>().ok())
                .map(|s| now + s)
        });
    // Codex reports a window only if something in it is non-zero.
    if used == 0.0 && minutes == 0 && reset_at.is_none() {
        return None;
    }
    Some(UsageWindow {
        id: window_id(minutes),
        window_minutes: minutes,
        used_percent: used,
        resets_at: reset_at.and_then(rfc3339_from_epoch),
        limit_name: None,
        metered_feature: None,
    })
}

fn credits_from_headers(h: &HeaderMap) -> Option<UsageCredits> {
    let flag = |name: &str| match header(h, name)?.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    Some(UsageCredits {
        has_credits: flag("x-codex-credits-has-credits")?,
        unlimited: flag("x-codex-credits-unlimited")?,
        balance: header(h, "x-codex-credits-balance").map(str::to_owned),
    })
}

/// Reads a snapshot from upstream response headers; `None` when there is none.
pub(crate) fn snapshot_from_headers(h: &HeaderMap) -> Option<UsageSnapshot> {
    let now = jiff::Timestamp::now().as_second();
    let windows: Vec<UsageWindow> = ["primary", "secondary"]
        .iter()
        .filter_map(|p| window(h, p, now))
        .collect();
    let plan = header(h, "x-codex-plan-type").map(str::to_string);
    if windows.is_empty() && plan.is_none() {
        return None;
    }
    Some(UsageSnapshot {
        observed_at: now_rfc3339(),
        plan,
        windows,
        source: "headers".to_owned(),
        credits: credits_from_headers(h),
        poll_error: None,
    })
}

/// Updates `previous` with a snapshot read from an answer's headers: the headers
/// carry the plan's main windows only, so the limits of their own and the credits
/// of the last poll are kept.
pub(crate) fn merge_headers(
    previous: Option<&UsageSnapshot>,
    mut fresh: UsageSnapshot,
) -> UsageSnapshot {
    if let Some(prev) = previous {
        fresh.windows.extend(
            prev.windows
                .iter()
                .filter(|w| w.limit_name.is_some())
                .cloned(),
        );
        if fresh.credits.is_none() {
            fresh.credits = prev.credits.clone();
        }
        if fresh.plan.is_none() {
            fresh.plan = prev.plan.clone();
        }
    }
    fresh
}

/// One window object of the usage endpoint (`used_percent`,
/// `limit_window_seconds`, `reset_after_seconds`, `reset_at`).
fn payload_window(v: &Value, now: i64, limit: Option<(&str, Option<&str>)>) -> Option<UsageWindow> {
    let used = v.get("used_percent")?.as_f64()?;
    let seconds = v
        .get("limit_window_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let reset_at = v
        .get("reset_at")
        .and_then(Value::as_i64)
        .or_else(|| Some(now + v.get("reset_after_seconds")?.as_i64()?));
    let minutes = seconds / 60;
    Some(UsageWindow {
        id: window_id(minutes),
        window_minutes: minutes,
        used_percent: used,
        resets_at: reset_at.and_then(rfc3339_from_epoch),
        limit_name: limit.map(|(name, _)| name.to_owned()),
        metered_feature: limit.and_then(|(_, f)| f.map(str::to_owned)),
    })
}

/// The windows of one `rate_limit` object (either slot may be null).
fn rate_limit_windows(
    rate_limit: Option<&Value>,
    now: i64,
    limit: Option<(&str, Option<&str>)>,
) -> Vec<UsageWindow> {
    let Some(rl) = rate_limit else {
        return Vec::new();
    };
    ["primary_window", "secondary_window"]
        .iter()
        .filter_map(|slot| rl.get(*slot).filter(|w| !w.is_null()))
        .filter_map(|w| payload_window(w, now, limit))
        .collect()
}

/// A snapshot from the usage endpoint's payload (`RateLimitStatusPayload`):
/// `rate_limit`'s windows, each `additional_rate_limits` entry's windows under its
/// `limit_name`, the plan and the credits. `None` when it is not such a payload.
pub(crate) fn snapshot_from_payload(payload: &Value, now: i64) -> Option<UsageSnapshot> {
    let object = payload.as_object()?;
    if !object.contains_key("rate_limit") && !object.contains_key("plan_type") {
        return None;
    }
    let mut windows = rate_limit_windows(payload.get("rate_limit"), now, None);
    for extra in payload
        .get("additional_rate_limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = extra
            .get("limit_name")
            .and_then(Value::as_str)
            .unwrap_or("additional");
        let feature = extra.get("metered_feature").and_then(Value::as_str);
        windows.extend(rate_limit_windows(
            extra.get("rate_limit"),
            now,
            Some((name, feature)),
        ));
    }
    let credits = payload.get("credits").and_then(|c| {
        Some(UsageCredits {
            has_credits: c.get("has_credits")?.as_bool()?,
            unlimited: c.get("unlimited")?.as_bool()?,
            balance: c.get("balance").and_then(|b| match b {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        })
    });
    Some(UsageSnapshot {
        observed_at: rfc3339_from_epoch(now).unwrap_or_else(now_rfc3339),
        plan: payload
            .get("plan_type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        windows,
        source: "poll".to_owned(),
        credits,
        poll_error: None,
    })
}

/// Whether a response header should be forwarded to the client (the usage and
/// model headers Codex-style clients read).
pub(crate) fn is_forwarded_header(name: &str) -> bool {
    name.starts_with("x-codex-")
        || name == "x-models-etag"
        || name == "openai-model"
        || name == "x-reasoning-included"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_windows_and_plan() {
        let mut h = HeaderMap::new();
        h.insert("x-codex-primary-used-percent", "12.5".parse().unwrap());
        h.insert("x-codex-primary-window-minutes", "300".parse().unwrap());
        h.insert("x-codex-primary-reset-at", "1773860656".parse().unwrap());
        h.insert("x-codex-secondary-used-percent", "0".parse().unwrap());
        h.insert("x-codex-secondary-window-minutes", "0".parse().unwrap());
        h.insert("x-codex-secondary-reset-at", "".parse().unwrap());
        h.insert("x-codex-plan-type", "plus".parse().unwrap());
        let s = snapshot_from_headers(&h).unwrap();
        assert_eq!(s.plan.as_deref(), Some("plus"));
        assert_eq!(s.windows.len(), 1, "an all-zero window is not reported");
        assert_eq!(s.windows[0].window_minutes, 300);
        assert_eq!(s.windows[0].used_percent, 12.5);
        assert_eq!(
            s.windows[0].resets_at.as_deref(),
            Some("2026-03-18T19:04:16Z")
        );
    }

    #[test]
    fn windows_are_named_by_their_length() {
        assert_eq!(window_id(300), "5h");
        assert_eq!(window_id(10_080), "7d");
        assert_eq!(window_id(43_200), "30d");
        assert_eq!(window_id(15), "15m");
    }

    #[test]
    fn the_usage_url_follows_the_base_url() {
        assert_eq!(
            usage_url("https://chatgpt.com/backend-api/codex"),
            "https://chatgpt.com/backend-api/wham/usage"
        );
        assert_eq!(
            usage_url("http://127.0.0.1:9/backend-api/codex/"),
            "http://127.0.0.1:9/backend-api/wham/usage"
        );
        assert_eq!(
            usage_url("https://proxy.example/v2"),
            "https://proxy.example/v2/api/codex/usage"
        );
    }

    #[test]
    fn the_payload_gives_windows_by_length_limits_of_their_own_and_credits() {
        let payload = serde_json::json!({
            "plan_type": "plus",
            "rate_limit": {
                "allowed": true, "limit_reached": false,
                "primary_window": {"used_percent": 6, "limit_window_seconds": 18000, "reset_after_seconds": 12000, "reset_at": 1779791385},
                "secondary_window": {"used_percent": 24, "limit_window_seconds": 604800, "reset_after_seconds": 434757, "reset_at": 1780208142}
            },
            "credits": {"has_credits": false, "unlimited": false, "balance": "0"},
            "additional_rate_limits": [
                {"limit_name": "codex_other", "metered_feature": "codex_other",
                 "rate_limit": {"primary_window": {"used_percent": 70, "limit_window_seconds": 900, "reset_after_seconds": 300, "reset_at": 1779790000}, "secondary_window": null}}
            ]
        });
        let s = snapshot_from_payload(&payload, 1_779_780_000).unwrap();
        let ids: Vec<&str> = s.windows.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["5h", "7d", "15m"]);
        assert_eq!(s.windows[1].used_percent, 24.0);
        assert_eq!(s.windows[2].limit_name.as_deref(), Some("codex_other"));
        assert_eq!(s.plan.as_deref(), Some("plus"));
        assert_eq!(s.source, "poll");
        assert_eq!(s.credits.unwrap().balance.as_deref(), Some("0"));
    }

    #[test]
    fn a_weekly_window_in_the_primary_slot_is_the_weekly_window() {
        let payload = serde_json::json!({
            "plan_type": "free",
            "rate_limit": {
                "primary_window": {"used_percent": 100, "limit_window_seconds": 604800, "reset_after_seconds": 60},
                "secondary_window": null
            },
            "credits": null, "additional_rate_limits": null
        });
        let s = snapshot_from_payload(&payload, 1_000).unwrap();
        assert_eq!(s.windows.len(), 1);
        assert_eq!(s.windows[0].id, "7d");
        assert_eq!(
            s.windows[0].resets_at.as_deref(),
            Some("1970-01-01T00:17:40Z")
        );
        assert!(snapshot_from_payload(&serde_json::json!({"detail": "x"}), 0).is_none());
    }

    #[test]
    fn headers_update_the_main_windows_and_keep_the_polled_rest() {
        let polled = snapshot_from_payload(
            &serde_json::json!({
                "plan_type": "pro",
                "rate_limit": {"primary_window": {"used_percent": 1, "limit_window_seconds": 18000}},
                "credits": {"has_credits": true, "unlimited": false, "balance": "5"},
                "additional_rate_limits": [{"limit_name": "spark", "rate_limit": {"primary_window": {"used_percent": 50, "limit_window_seconds": 18000}}}]
            }),
            0,
        )
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-codex-primary-used-percent", "40".parse().unwrap());
        h.insert("x-codex-primary-window-minutes", "300".parse().unwrap());
        let merged = merge_headers(Some(&polled), snapshot_from_headers(&h).unwrap());
        assert_eq!(merged.source, "headers");
        assert_eq!(merged.windows.len(), 2);
        assert_eq!(merged.windows[0].used_percent, 40.0);
        assert_eq!(merged.windows[1].limit_name.as_deref(), Some("spark"));
        assert_eq!(merged.plan.as_deref(), Some("pro"));
        assert!(merged.credits.is_some());
    }

    #[test]
    fn no_headers_no_snapshot() {
        assert!(snapshot_from_headers(&HeaderMap::new()).is_none());
    }
}
