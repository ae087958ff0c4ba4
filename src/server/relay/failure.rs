//! How upstream failures become the error catalogue's answers: a failure event
//! or a transport/status failure before the first byte, and the classification of
//! a failure after it (docs/architecture.md, "Errors before and after the first
//! byte"). This is the one place upstream failures are mapped.

use http::HeaderMap;
use serde_json::Value;

use crate::server::error::ApiError;
use crate::translate::stream::StreamFailure;
use crate::upstream::UpstreamError;

/// Maps a `response.failed` / `error` event (before the first byte) to a status.
pub(crate) fn map_failure(code: Option<&str>, message: &str) -> ApiError {
    match code.unwrap_or("") {
        "context_length_exceeded" | "invalid_prompt" | "cyber_policy" | "invalid_request_error" => {
            ApiError::invalid_request(message.to_string(), None, code.map(str::to_string))
        }
        "rate_limit_exceeded" => ApiError::upstream_rate_limited(message, retry_hint(message)),
        "insufficient_quota" | "usage_not_included" | "usage_limit_reached" => {
            ApiError::usage_limit(
                format!("ChatGPT usage limit: {message}"),
                retry_hint(message),
            )
        }
        "server_is_overloaded" | "slow_down" => {
            ApiError::upstream_overloaded(retry_hint(message).unwrap_or(5))
        }
        _ => ApiError::upstream_error(format!("The ChatGPT backend failed to answer: {message}")),
    }
}

/// A failure after the first byte, classified like the same failure before it.
pub(crate) fn in_band(e: &ApiError) -> StreamFailure<'_> {
    StreamFailure {
        status: e.status.as_u16(),
        kind: e.kind,
        code: Some(e.code.as_deref().unwrap_or("upstream_error")),
        message: &e.message,
    }
}

/// The error for a `response.failed` / `error` event seen mid-stream: classified
/// by [`map_failure`], keeping the backend's own code.
pub(crate) fn late_failure(code: Option<String>, message: String) -> ApiError {
    let mut e = map_failure(code.as_deref(), "");
    e.code = code.or(e.code);
    e.message = message;
    e
}

/// "…try again in 1.2s" → 2 (seconds, rounded up).
fn retry_hint(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("try again in")? + "try again in".len();
    let rest = lower[at..].trim_start();
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = num.parse().ok()?;
    let unit = rest[num.len()..].trim_start();
    let secs = if unit.starts_with("ms") {
        value / 1000.0
    } else {
        value
    };
    Some(secs.ceil().max(1.0) as u64)
}

fn detail_of(body: &[u8]) -> String {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let from_json = v.as_ref().and_then(|v| {
        v.get("detail")
            .and_then(Value::as_str)
            .or_else(|| v.pointer("/error/message").and_then(Value::as_str))
            .or_else(|| v.get("error").and_then(Value::as_str))
            .map(str::to_string)
    });
    from_json.unwrap_or_else(|| {
        String::from_utf8_lossy(&body[..body.len().min(300)])
            .trim()
            .to_string()
    })
}

fn header_secs(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .map(|s| s.ceil().max(1.0) as u64)
}

/// The user-facing usage-limit message: plan and local reset time.
pub(crate) fn usage_limit_message(body: &Value) -> (String, Option<u64>) {
    let e = body.get("error").unwrap_or(body);
    let plan = e
        .get("plan_type")
        .and_then(Value::as_str)
        .unwrap_or("ChatGPT");
    let resets_in = e
        .get("resets_in_seconds")
        .and_then(Value::as_f64)
        .map(|s| s.ceil().max(0.0) as u64);
    let resets_at = e.get("resets_at").and_then(Value::as_i64).or_else(|| {
        let s = i64::try_from(resets_in?).ok()?;
        jiff::Timestamp::now().as_second().checked_add(s)
    });
    let when = resets_at
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map(|t| {
            let zoned = t.to_zoned(jiff::tz::TimeZone::system());
            format!(
                " It resets at {} local time",
                zoned.strftime("%Y-%m-%d %H:%M %Z")
            )
        })
        .unwrap_or_default();
    let wait = resets_in
        .map(|s| format!(" (in {}h {:02}m)", s / 3600, (s % 3600) / 60))
        .unwrap_or_default();
    (
        format!(
            "You've hit the usage limit of your ChatGPT {plan} plan.{when}{wait}. Wait for the reset or check your plan's usage at https://chatgpt.com/codex/settings/usage."
        ),
        resets_in,
    )
}

/// Maps a transport or status failure (before the first byte) to the catalogue.
pub(crate) fn map_upstream_error(e: UpstreamError) -> ApiError {
    match e {
        UpstreamError::Connect(m) => ApiError::upstream_error(format!(
            "Cannot reach the ChatGPT backend: {m}. Check your network, proxy settings (HTTPS_PROXY) and upstream.base_url."
        )),
        UpstreamError::Timeout(what) => ApiError::upstream_timeout(what),
        UpstreamError::Malformed(m) => {
            ApiError::upstream_error(format!("The ChatGPT backend sent a malformed answer: {m}"))
        }
        UpstreamError::Body(m) => {
            ApiError::upstream_error(format!("The connection to the ChatGPT backend failed: {m}"))
        }
        UpstreamError::Status {
            status,
            headers,
            body,
        } => {
            let detail = detail_of(&body);
            match status {
                400 | 422 => ApiError::upstream_rejected_request(&detail),
                401 | 403 => ApiError::auth_rejected(),
                429 => {
                    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let kind = parsed
                        .pointer("/error/type")
                        .or_else(|| parsed.pointer("/error/code"))
                        .and_then(Value::as_str);
                    if kind == Some("usage_limit_reached") || kind == Some("usage_not_included") {
                        let (message, retry) = usage_limit_message(&parsed);
                        ApiError::usage_limit(
                            message,
                            retry.or_else(|| header_secs(&headers, "retry-after")),
                        )
                    } else {
                        ApiError::upstream_rate_limited(
                            &detail,
                            header_secs(&headers, "retry-after"),
                        )
                    }
                }
                503 => {
                    ApiError::upstream_overloaded(header_secs(&headers, "retry-after").unwrap_or(5))
                }
                504 => ApiError::upstream_timeout("the backend's gateway timed out"),
                s => ApiError::upstream_error(format!(
                    "The ChatGPT backend answered HTTP {s}: {detail}. Retry shortly."
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn retry_hints() {
        assert_eq!(
            retry_hint("Rate limit reached. Please try again in 1.2s."),
            Some(2)
        );
        assert_eq!(retry_hint("try again in 300ms"), Some(1));
        assert_eq!(retry_hint("try again later"), None);
    }

    #[test]
    fn failures_map_to_statuses() {
        assert_eq!(
            map_failure(Some("context_length_exceeded"), "too long").status,
            400
        );
        let e = map_failure(Some("rate_limit_exceeded"), "try again in 1.5s");
        assert_eq!((e.status.as_u16(), e.retry_after), (429, Some(2)));
        assert_eq!(map_failure(Some("server_is_overloaded"), "").status, 503);
        assert_eq!(map_failure(None, "boom").status, 502);
    }

    #[test]
    fn status_mapping() {
        let st = |status: u16, body: &str| UpstreamError::Status {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        };
        let e = map_upstream_error(st(
            400,
            r#"{"detail":"Unsupported parameter: temperature"}"#,
        ));
        assert_eq!(e.status, 400);
        assert!(e.message.contains("Unsupported parameter: temperature"));
        let e = map_upstream_error(st(
            429,
            r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":1777936568,"resets_in_seconds":13872}}"#,
        ));
        assert_eq!(e.code.as_deref(), Some("usage_limit_reached"));
        assert_eq!(e.retry_after, Some(13872));
        assert!(
            e.message.contains("plus") && e.message.contains("local time"),
            "{}",
            e.message
        );
        assert_eq!(
            map_upstream_error(st(503, r#"{"error":{"code":"server_is_overloaded"}}"#))
                .code
                .as_deref(),
            Some("upstream_overloaded")
        );
        assert_eq!(map_upstream_error(st(500, "oops")).status, 502);
        assert_eq!(
            map_upstream_error(UpstreamError::Timeout("idle")).status,
            504
        );
    }

    #[test]
    fn usage_message_names_plan_and_wait() {
        let (m, r) =
            usage_limit_message(&json!({"error":{"plan_type":"pro","resets_in_seconds":3700}}));
        assert!(m.contains("pro plan") && m.contains("(in 1h 01m)"), "{m}");
        assert_eq!(r, Some(3700));
    }

    #[test]
    fn absurd_reset_times_do_not_overflow() {
        for secs in [9.223372036e18, 9.2e18, 1.8e19, 1e300, -5.0] {
            let (m, _) = usage_limit_message(&json!({"error":{"resets_in_seconds": secs}}));
            assert!(m.contains("usage limit"), "{m}");
        }
    }
}
