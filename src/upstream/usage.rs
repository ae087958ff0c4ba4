//! The upstream's `x-codex-*` usage headers → a [`UsageSnapshot`] for `status`.

use http::HeaderMap;

use crate::status::{UsageSnapshot, UsageWindow};

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
        window_minutes: minutes,
        used_percent: used,
        resets_at: reset_at.and_then(rfc3339_from_epoch),
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
    fn no_headers_no_snapshot() {
        assert!(snapshot_from_headers(&HeaderMap::new()).is_none());
    }
}
