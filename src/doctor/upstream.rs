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
