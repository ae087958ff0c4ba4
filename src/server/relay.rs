//! One upstream exchange for a client request: credentials, the call, the retry
//! of transient failures and the single reactive refresh on 401 (all before the
//! first byte reaches the client), then waiting for the first meaningful event so
//! that early failures are real HTTP statuses. Upstream failures are mapped to the
//! error catalogue here, and only here.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use super::error::ApiError;
use super::recent_items::RecentItems;
use super::{AppState, CountGuard, Counter};
use crate::upstream::client::EventStream;
use crate::upstream::sse::SseEvent;
use crate::upstream::{UpstreamError, usage};

/// An upstream stream that produced its first meaningful event.
pub struct OpenStream {
    /// Upstream response headers (the `x-codex-*` ones are forwarded).
    pub headers: HeaderMap,
    /// Events read so far, including the first meaningful one, in order.
    pub head: VecDeque<(SseEvent, Option<Value>)>,
    pub rest: EventStream,
    /// Where the output items of this answer are remembered as they pass.
    pub recent_items: RecentItems,
    /// Held while the upstream request is open.
    pub(crate) _in_flight: CountGuard,
}

/// Events that come before anything worth committing a 200 for.
fn is_preamble(kind: Option<&str>) -> bool {
    matches!(
        kind,
        None | Some("response.created" | "response.in_progress" | "codex.rate_limits")
    )
}

pub fn parse_event(ev: &SseEvent) -> Option<Value> {
    if ev.data.is_empty() {
        return None;
    }
    serde_json::from_slice(&ev.data).ok()
}

/// Sends a prepared body upstream and waits for the first meaningful event.
pub async fn open(
    state: &Arc<AppState>,
    body: Bytes,
    client_headers: &HeaderMap,
) -> Result<OpenStream, ApiError> {
    let mut access = state.credentials.access().await.map_err(ApiError::from)?;
    let mut refreshed = false;
    let mut attempt = 0u32;
    loop {
        let in_flight = CountGuard::new(state, Counter::UpstreamInFlight);
        let result = state
            .upstream
            .post_responses(
                body.clone(),
                &access.access_token,
                &access.account_id,
                client_headers,
            )
            .await;
        let failure = match result {
            Ok(stream) => match first_meaningful(state, stream, in_flight).await {
                Ok(open) => return Ok(open),
                Err(Early::Api(e)) => return Err(e),
                Err(Early::Upstream(e)) => e,
            },
            Err(e) => e,
        };
        if let UpstreamError::Status { headers, .. } = &failure
            && let Some(s) = usage::snapshot_from_headers(headers)
        {
            state.record_usage(s);
        }
        match &failure {
            UpstreamError::Status { status: 401, .. } if !refreshed => {
                tracing::info!("ChatGPT backend answered 401; reloading and refreshing the login");
                access = state
                    .credentials
                    .after_unauthorized(&access)
                    .await
                    .map_err(ApiError::from)?;
                refreshed = true;
                continue;
            }
            UpstreamError::Status { status: 401, .. } => return Err(ApiError::auth_rejected()),
            e if e.is_retryable() && attempt < state.upstream.retry_attempts() => {
                attempt += 1;
                let backoff = Duration::from_millis(200u64 << (attempt - 1).min(4));
                let jitter = Duration::from_millis(rand::random::<u64>() % 50);
                tracing::warn!(
                    "upstream {e}; retry {attempt} in {} ms",
                    (backoff + jitter).as_millis()
                );
                tokio::time::sleep(backoff + jitter).await;
                continue;
            }
            _ => return Err(map_upstream_error(failure)),
        }
    }
}

enum Early {
    Api(ApiError),
    Upstream(UpstreamError),
}

async fn first_meaningful(
    state: &Arc<AppState>,
    mut stream: EventStream,
    in_flight: CountGuard,
) -> Result<OpenStream, Early> {
    if let Some(s) = usage::snapshot_from_headers(&stream.headers) {
        state.record_usage(s);
    }
    let mut head = VecDeque::new();
    loop {
        let ev = match stream.next_event().await {
            Ok(Some(ev)) => ev,
            Ok(None) => return Err(Early::Api(ApiError::incomplete_stream())),
            // A reset before anything meaningful may be retried like a connect failure.
            Err(UpstreamError::Body(m)) => return Err(Early::Upstream(UpstreamError::Connect(m))),
            Err(e) => return Err(Early::Api(map_upstream_error(e))),
        };
        let parsed = parse_event(&ev);
        let kind = parsed
            .as_ref()
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str);
        if let Some(v) = &parsed
            && let Some((code, message)) = crate::translate::failure_of(v)
        {
            return Err(Early::Api(map_failure(code.as_deref(), &message)));
        }
        let preamble = is_preamble(kind);
        head.push_back((ev, parsed));
        if !preamble {
            return Ok(OpenStream {
                headers: std::mem::take(&mut stream.headers),
                head,
                rest: stream,
                recent_items: state.recent_items.clone(),
                _in_flight: in_flight,
            });
        }
    }
}

/// Maps a `response.failed` / `error` event (before the first byte) to a status.
pub fn map_failure(code: Option<&str>, message: &str) -> ApiError {
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

/// The type and code of an in-band error for a failure seen mid-stream.
pub fn in_band_kind(code: Option<&str>) -> (&'static str, String) {
    let e = map_failure(code, "");
    (
        e.kind,
        code.map(str::to_string)
            .or(e.code)
            .unwrap_or_else(|| "upstream_error".into()),
    )
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
pub fn usage_limit_message(body: &Value) -> (String, Option<u64>) {
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
pub fn map_upstream_error(e: UpstreamError) -> ApiError {
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
