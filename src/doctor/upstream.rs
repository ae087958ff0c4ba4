//! Checks of the Codex backend: one `GET {base}/models` (with the access token when
//! there is one) tells whether the backend is reachable, lists the plan's models, and
//! carries the `Date` that clock skew is measured against.

use http::HeaderMap;
use serde_json::Value;

use super::{Check, NETWORK_TIMEOUT, Probe};
use crate::upstream::UpstreamError;

/// Clock skew above this is a warning (token expiry checks and TLS start to disagree).
const SKEW_WARN_SECS: i64 = 60;
/// Clock skew above this is a failure (sign-in and refresh can be refused).
const SKEW_FAIL_SECS: i64 = 300;

/// The catalogue fetch, done once.
pub(super) struct Catalogue {
    /// The URL asked.
    url: String,
    /// Whether an access token was sent.
    signed: bool,
    /// The models and the answer's headers, or what went wrong.
    pub(super) outcome: Result<(Vec<Value>, HeaderMap), String>,
    /// The `Date` of any HTTP answer (errors included).
    date: Option<String>,
    /// When the request was sent (Unix seconds); the answer was dated after it.
    sent: i64,
    /// When the answer arrived (Unix seconds); it was dated before it.
    answered: i64,
}

/// Fetches the catalogue (bounded by [`super::NETWORK_TIMEOUT`]) into `probe`.
pub(super) async fn fetch(probe: &mut Probe) {
    let Some(client) = &probe.upstream else {
        return;
    };
    let (token, account) = probe
        .access
        .as_ref()
        .map(|a| (a.access_token.to_string(), a.account_id.clone()))
        .unwrap_or_default();
    let sent = jiff::Timestamp::now().as_second();
    let answer = tokio::time::timeout(
        NETWORK_TIMEOUT,
        client.fetch_models_with_headers(&token, &account),
    )
    .await;
    let answered = jiff::Timestamp::now().as_second();
    let date_of = |h: &HeaderMap| {
        h.get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (outcome, date) = match answer {
        Err(_) => (
            Err(format!("no answer within {} s", NETWORK_TIMEOUT.as_secs())),
            None,
        ),
        Ok(Ok((models, headers))) => {
            let date = date_of(&headers);
            (Ok((models, headers)), date)
        }
        Ok(Err(UpstreamError::Status {
            status,
            headers,
            body,
        })) => {
            let detail = String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string();
            (
                Err(format!("HTTP {status} {detail}").trim().to_string()),
                date_of(&headers),
            )
        }
        Ok(Err(e)) => (Err(e.to_string()), None),
    };
    probe.catalogue = Some(Catalogue {
        url: client.models_url().to_string(),
        signed: !token.is_empty(),
        outcome,
        date,
        sent,
        answered,
    });
}

/// `clock_skew`: this machine's clock against the backend's `Date`.
pub(super) fn clock_skew(probe: &Probe) -> Check {
    const ID: &str = "clock_skew";
    let Some(cat) = &probe.catalogue else {
        return Check::warn(
            ID,
            "not measured: no HTTPS client",
            "see the `upstream` check",
        );
    };
    let Some(date) = &cat.date else {
        return Check::warn(
            ID,
            "not measured: the backend did not answer with a Date",
            "see the `upstream` check",
        );
    };
    let Ok(theirs) = jiff::fmt::rfc2822::parse(date).map(|z| z.timestamp().as_second()) else {
        return Check::warn(
            ID,
            format!("not measured: unreadable Date header {date:?}"),
            "see the `upstream` check",
        );
    };
    let skew = skew_secs(theirs, cat.sent, cat.answered);
    let summary = match skew {
        0 => "this machine's clock agrees with the backend's Date header".to_string(),
        s if s > 0 => format!("this machine's clock is {s} s behind the backend's"),
        s => format!("this machine's clock is {} s ahead of the backend's", -s),
    };
    match skew.abs() {
        s if s > SKEW_FAIL_SECS => Check::fail(ID, summary, "sync the system clock (enable NTP)"),
        s if s > SKEW_WARN_SECS => Check::warn(ID, summary, "sync the system clock (enable NTP)"),
        _ => Check::ok(ID, summary),
    }
}

/// How far the backend's clock (`theirs`) is ahead of ours (negative: behind). The
/// answer was dated between sending and receiving, so the skew is the distance to that
/// interval, widened by the header's 1 s resolution.
fn skew_secs(theirs: i64, sent: i64, answered: i64) -> i64 {
    if theirs < sent - 1 {
        theirs - (sent - 1)
    } else if theirs > answered + 1 {
        theirs - (answered + 1)
    } else {
        0
    }
}

/// `upstream`: the backend answers and the catalogue lists the plan's models.
pub(super) fn catalogue(probe: &Probe) -> Check {
    const ID: &str = "upstream";
    let Some(cat) = &probe.catalogue else {
        return Check::fail(
            ID,
            "the HTTPS client could not be set up",
            "report this as a bug",
        );
    };
    match &cat.outcome {
        Ok((models, _)) => {
            let listed = listed_models(models);
            if listed.is_empty() {
                return Check::warn(
                    ID,
                    format!("{} answered, but the catalogue lists no models", cat.url),
                    "check that your plan includes Codex",
                );
            }
            Check::ok(
                ID,
                format!(
                    "{} lists {} models: {}",
                    cat.url,
                    listed.len(),
                    listed.join(", ")
                ),
            )
            .with_details(listed)
        }
        Err(e) if e.starts_with("HTTP 401") || e.starts_with("HTTP 403") => {
            let hint = if cat.signed {
                "run `airelays login`"
            } else {
                "run `airelays login` (the catalogue needs a sign-in)"
            };
            Check::fail(
                ID,
                format!("{} is reachable but refuses the sign-in: {e}", cat.url),
                hint,
            )
        }
        Err(e) => Check::fail(
            ID,
            format!(
                "cannot read the model catalogue at {}: {}",
                cat.url,
                e.replace(&format!(" for url ({})", cat.url), "")
            ),
            "check your network / HTTPS_PROXY (see the `proxy` check); `upstream.base_url`",
        ),
    }
}

/// `usage`: the plan's usage windows, read from the usage endpoint with the access
/// token the sign-in check found (never refreshed for it). A window past
/// `usage.refuse_at_percent` (or at 100%) fails, past `usage.warn_at_percent` warns.
pub(super) async fn usage(probe: &Probe) -> Check {
    const ID: &str = "usage";
    let (Some(client), Some(access)) = (&probe.upstream, &probe.access) else {
        return Check::warn(
            ID,
            "not read: no usable sign-in",
            "see the `signed_in` check",
        );
    };
    let read = client.fetch_usage(&access.access_token, &access.account_id);
    let payload = match tokio::time::timeout(NETWORK_TIMEOUT, read).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            return Check::warn(
                ID,
                format!("cannot read {}: {e}", client.usage_url()),
                "check your network; `upstream.usage_url` if you use another backend",
            );
        }
        Err(_) => {
            return Check::warn(
                ID,
                format!(
                    "{} did not answer within {} s",
                    client.usage_url(),
                    NETWORK_TIMEOUT.as_secs()
                ),
                "retry; check your network",
            );
        }
    };
    let now = jiff::Timestamp::now().as_second();
    let Some(snapshot) = crate::upstream::usage::snapshot_from_payload(&payload, now) else {
        return Check::warn(
            ID,
            format!("{} answered an unknown shape", client.usage_url()),
            "report this as a bug",
        );
    };
    usage_finding(&snapshot, &probe.config.usage)
}

/// The `usage` finding for a snapshot, against the warning and guard thresholds.
pub(crate) fn usage_finding(
    s: &crate::status::UsageSnapshot,
    config: &crate::config::UsageConfig,
) -> Check {
    const ID: &str = "usage";
    let plan = s.plan.as_deref().unwrap_or("unknown");
    let lines: Vec<String> = s
        .windows
        .iter()
        .map(|w| {
            let name = w
                .limit_name
                .as_ref()
                .map_or(w.id.clone(), |l| format!("{} {l}", w.id));
            let resets = w.resets_at.as_deref().map_or("reset unknown".into(), |t| {
                format!("resets {}", crate::upstream::usage::local_time(t))
            });
            format!("{name}: {:.0}% used, {resets}", w.used_percent)
        })
        .collect();
    let summary = format!(
        "{plan} plan: {}",
        if lines.is_empty() {
            "no window reported".into()
        } else {
            lines.join("; ")
        }
    );
    let fullest = s.windows.iter().map(|w| w.used_percent).fold(0.0, f64::max);
    let refuse = config.refuse_at_percent;
    if fullest >= 100.0 || (refuse > 0 && fullest >= refuse as f64) {
        Check::fail(ID, summary, "wait for the reset; the relay refuses requests until then (`usage.refuse_at_percent`, or the plan's own limit)")
            .with_details(lines)
    } else if config.warn_at_percent > 0 && fullest >= config.warn_at_percent as f64 {
        Check::warn(
            ID,
            summary,
            "a window is nearly used up; `airelays status` shows when it resets",
        )
        .with_details(lines)
    } else {
        Check::ok(ID, summary).with_details(lines)
    }
}

/// The ids of the catalogue entries with `visibility: "list"` (or none), in order.
pub(super) fn listed_models(models: &[Value]) -> Vec<String> {
    models
        .iter()
        .filter(|m| {
            m.get("visibility")
                .and_then(Value::as_str)
                .is_none_or(|v| v == "list")
        })
        .filter_map(|m| m.get("slug").or_else(|| m.get("id"))?.as_str())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_the_distance_to_the_round_trip() {
        assert_eq!(skew_secs(100, 100, 102), 0);
        assert_eq!(skew_secs(99, 100, 102), 0);
        assert_eq!(skew_secs(103, 100, 102), 0);
        assert_eq!(skew_secs(200, 100, 102), 97);
        assert_eq!(skew_secs(0, 100, 102), -99);
        let date = "Mon, 07 Dec 2026 20:18:30 GMT";
        let parsed = jiff::fmt::rfc2822::parse(date).unwrap().timestamp();
        assert_eq!(parsed.to_string(), "2026-12-07T20:18:30Z");
    }

    #[test]
    fn only_listed_models_are_named() {
        let models = serde_json::json!([
            {"slug": "a", "visibility": "list"},
            {"slug": "hidden", "visibility": "hide"},
            {"id": "b"},
            {"visibility": "list"}
        ]);
        assert_eq!(listed_models(models.as_array().unwrap()), ["a", "b"]);
    }
}
