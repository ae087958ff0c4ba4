//! The request guard (docs/architecture.md#request-guard-order), in order: Host check (DNS rebinding), Origin
//! check and CORS, then for the protected paths (`/v1/*`, `/api/*`): bearer token
//! (a wrong one from a banned identity is 429), token bucket, concurrency.

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::body::{Body, empty};
use super::error::ApiError;
use super::limits::{IpLimits, SlotGuard};
use crate::config::is_loopback_host;
use crate::token::{AuthFailure, TokenVerifier};

pub(crate) struct Guard {
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) allowed_origins: Vec<String>,
    /// The listeners' own hosts (the relay's, and `ollama.listen`'s when set),
    /// accepted as a Host header.
    pub(crate) listen_hosts: Vec<String>,
    pub(crate) require_auth: bool,
    pub(crate) verifier: TokenVerifier,
    pub(crate) limits: Arc<IpLimits>,
    pub(crate) per_minute: u32,
    pub(crate) concurrent: u32,
}

/// What a path asks of the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `/`, `/healthz`: Host and Origin only.
    Public,
    /// `/v1/*`, `/api/*`: the relay token, the ban, the bucket and concurrency.
    Token,
    /// `/api/*` on the `ollama.listen` listener with `ollama.require_token = false`:
    /// everything [`Access::Token`] checks but the token (docs/security.md,
    /// "The Ollama listener").
    Keyless,
}

/// What passed the guard: the in-flight slot (for `/v1/*`) and the allowed
/// origin to echo in CORS headers.
pub(crate) struct Pass {
    _slot: Option<SlotGuard>,
    pub(crate) cors_origin: Option<HeaderValue>,
}

/// What the guard decided instead of passing the request on.
pub(crate) enum Stop {
    Error(Box<ApiError>, Option<HeaderValue>),
    Preflight(HeaderValue),
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        // `[v6]` or `[v6]:port`; anything else after the bracket is not a host.
        return match rest.split_once(']') {
            Some((h, "")) => h,
            Some((h, port))
                if port
                    .strip_prefix(':')
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                h
            }
            _ => "",
        };
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

impl Guard {
    fn host_allowed(&self, authority: &str) -> bool {
        let host = host_of(authority.trim());
        if host.is_empty() {
            return false;
        }
        is_loopback_host(host)
            || self
                .listen_hosts
                .iter()
                .any(|l| host.eq_ignore_ascii_case(host_of(l)))
            || self
                .allowed_hosts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(authority.trim()))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let o = origin.trim().trim_end_matches('/');
        self.allowed_origins
            .iter()
            .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(o))
    }

    /// Runs the guard for a request to a path that asks for `access`.
    pub(crate) fn check<B>(
        &self,
        req: &Request<B>,
        ip: IpAddr,
        access: Access,
    ) -> Result<Pass, Stop> {
        let protected = access != Access::Public;
        let refuse = |e: ApiError| Stop::Error(Box::new(e), None);
        self.check_host(req).map_err(refuse)?;
        let headers = req.headers();
        let cors_origin = self.check_origin(headers).map_err(refuse)?;
        if req.method() == Method::OPTIONS
            && let Some(o) = cors_origin
        {
            return Err(Stop::Preflight(o));
        }
        // A browser's no-cors request (`<img src>`, a form, a link) from another site
        // carries no Origin but says where it comes from; it never has the token, so
        // it is refused like a foreign Origin before it can touch the ban counter.
        if protected && cors_origin.is_none() && is_cross_site_fetch(headers) {
            return Err(refuse(ApiError::origin_not_allowed("(a cross-site page)")));
        }
        if !protected {
            return Ok(Pass {
                _slot: None,
                cors_origin,
            });
        }
        match self.check_client(headers, ip, access == Access::Token) {
            Ok(slot) => Ok(Pass {
                _slot: Some(slot),
                cors_origin,
            }),
            Err(e) => Err(Stop::Error(Box::new(e), cors_origin)),
        }
    }

    /// Step 1: the Host header (HTTP/2 carries it as the `:authority` of the URI).
    fn check_host<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        let headers = req.headers();
        // Two Host headers are a malformed request (RFC 9112 §3.2): never pick one.
        if headers.get_all(http::header::HOST).iter().nth(1).is_some() {
            return Err(ApiError::host_not_allowed("(several Host headers)"));
        }
        let host_header = headers
            .get(http::header::HOST)
            .map(|v| v.to_str().unwrap_or("(not text)").trim());
        let target = req.uri().authority().map(|a| a.as_str());
        // An absolute-form target (HTTP/1) or `:authority` (HTTP/2) and a Host header
        // must name the same thing: a proxy or cache in between may use either.
        if let (Some(h), Some(t)) = (host_header, target)
            && !h.eq_ignore_ascii_case(t)
        {
            return Err(ApiError::host_not_allowed(&format!(
                "{h} (the request target names {t})"
            )));
        }
        let authority = host_header.or(target).unwrap_or_default();
        if !self.host_allowed(authority) {
            return Err(ApiError::host_not_allowed(authority));
        }
        Ok(())
    }

    /// Step 2: the Origin, echoed in CORS headers when allowed.
    fn check_origin(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
        let Some(v) = headers.get(http::header::ORIGIN) else {
            return Ok(None);
        };
        let origin = v.to_str().unwrap_or("");
        if !self.origin_allowed(origin) {
            return Err(ApiError::origin_not_allowed(origin));
        }
        Ok(Some(v.clone()))
    }

    /// The credential a request presents and whether it verifies: the
    /// `Authorization: Bearer` header, or only when that is absent, `x-api-key`
    /// (Anthropic clients send one or the other). A wrong `x-api-key` counts toward
    /// the ban exactly like a wrong bearer token.
    fn presented_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> (Option<&'h [u8]>, Result<(), AuthFailure>) {
        if let Some(v) = headers.get(http::header::AUTHORIZATION) {
            return (Some(v.as_bytes()), self.verifier.check(Some(v.as_bytes())));
        }
        match headers.get("x-api-key") {
            Some(v) => (Some(v.as_bytes()), self.verifier.check_key(v.as_bytes())),
            None => (None, Err(AuthFailure::Missing)),
        }
    }

    /// Step 3, on protected paths: token (when `token` and the relay requires
    /// one), ban, bucket, concurrency. A token that verifies is served even from a
    /// banned identity: the ban bounds guessing, it must not let another local user
    /// lock the owner's tools out (docs/security.md, "Failed-auth ban").
    fn check_client(
        &self,
        headers: &HeaderMap,
        ip: IpAddr,
        token: bool,
    ) -> Result<SlotGuard, ApiError> {
        let banned = self.limits.check_ban(ip);
        if self.require_auth && token {
            let (presented, verdict) = self.presented_token(headers);
            if let Err(failure) = verdict {
                // While banned, a wrong token is answered 429 and not counted again.
                if let Err(secs) = banned {
                    return Err(ApiError::ip_blocked(secs));
                }
                // Only a presented credential is a guess. A request without one is
                // what any web page can make the browser send (a page cannot add an
                // Authorization header cross-origin without a preflight, which the
                // Origin check refuses), so counting it would let a page lock the
                // user's own tools out.
                if failure != AuthFailure::Missing {
                    self.limits.record_auth_failure(ip, presented);
                }
                return Err(match failure {
                    AuthFailure::WrongScheme => ApiError::wrong_auth_scheme(),
                    AuthFailure::Missing | AuthFailure::Invalid => {
                        ApiError::missing_or_invalid_token()
                    }
                });
            }
        } else if let Err(secs) = banned {
            return Err(ApiError::ip_blocked(secs));
        }
        if let Err(secs) = self.limits.take_token(ip) {
            return Err(ApiError::rate_limited(secs, self.per_minute));
        }
        self.limits
            .acquire_slot(ip)
            .ok_or_else(|| ApiError::too_many_concurrent(self.concurrent))
    }
}

/// `Sec-Fetch-Site: cross-site` or `same-site` (browsers send it on every request):
/// a page on another origin made this request.
fn is_cross_site_fetch(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("cross-site") || v.eq_ignore_ascii_case("same-site")
        })
}

/// Adds the CORS headers for an allowed origin.
pub(crate) fn add_cors(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(http::header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-request-id, request-id, retry-after, x-should-retry, x-airelays-ignored-parameters, x-airelays-upstream-model, x-airelays-usage-warning, x-airelays-usage-5h-used-percent, x-airelays-usage-5h-resets-at, x-airelays-usage-7d-used-percent, x-airelays-usage-7d-resets-at, x-airelays-usage-30d-used-percent, x-airelays-usage-30d-resets-at, x-airelays-account",
        ),
    );
}

/// The answer to a CORS preflight from an allowed origin.
pub(crate) fn preflight(
    origin: &HeaderValue,
    requested_headers: Option<&HeaderValue>,
) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    add_cors(h, origin);
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        requested_headers
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type")),
    );
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::limits::LimitSettings;
    use crate::token::{RelayToken, TokenSource};
    use std::time::Duration;

    fn guard(token: &RelayToken) -> Guard {
        Guard {
            allowed_hosts: vec!["relay.lan".into()],
            allowed_origins: vec!["http://localhost:3000".into()],
            listen_hosts: vec!["127.0.0.1".into()],
            require_auth: true,
            verifier: TokenVerifier::new(Some((token.clone(), TokenSource::Env))),
            limits: IpLimits::new(LimitSettings {
                per_minute: 60,
                burst: 100,
                concurrent: 10,
                max_failures: 2,
                failure_window: Duration::from_secs(60),
                block: Duration::from_secs(60),
            }),
            per_minute: 60,
            concurrent: 10,
        }
    }

    fn req(host: &str, origin: Option<&str>, auth: Option<&str>) -> Request<()> {
        let mut b = Request::builder().uri("/v1/models").header("host", host);
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap()
    }

    fn code(r: Result<Pass, Stop>) -> Option<String> {
        match r {
            Ok(_) => None,
            Err(Stop::Error(e, _)) => e.code,
            Err(Stop::Preflight(_)) => Some("preflight".into()),
        }
    }

    #[test]
    fn host_names() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let good = format!("Bearer {}", t.expose());
        for h in [
            "localhost:8080",
            "127.0.0.1",
            "[::1]:9",
            "LOCALHOST",
            "relay.lan:8080",
        ] {
            assert_eq!(
                code(g.check(&req(h, None, Some(&good)), ip, Access::Token)),
                None,
                "{h}"
            );
        }
        for h in [
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "",
            "localhost.attacker",
            "[::1]evil.example",
            "[::1].evil.example:80",
            "[::1]:80x",
            "[::1",
        ] {
            assert_eq!(
                code(g.check(&req(h, None, Some(&good)), ip, Access::Token)).as_deref(),
                Some("host_not_allowed"),
                "{h}"
            );
        }
    }

    #[test]
    fn several_host_headers_are_refused() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let good = format!("Bearer {}", t.expose());
        let mut r = req("localhost", None, Some(&good));
        r.headers_mut()
            .append("host", HeaderValue::from_static("evil.example"));
        assert_eq!(
            code(g.check(&r, ip, Access::Token)).as_deref(),
            Some("host_not_allowed")
        );
    }

    #[test]
    fn host_and_target_authority_must_agree() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let good = format!("Bearer {}", t.expose());
        let with = |uri: &str, host: Option<&str>| {
            let mut b = Request::builder()
                .uri(uri)
                .header("authorization", good.as_str());
            if let Some(h) = host {
                b = b.header("host", h);
            }
            b.body(()).unwrap()
        };
        for (uri, host) in [
            ("http://localhost:8080/v1/models", Some("LOCALHOST:8080")),
            ("http://127.0.0.1:8080/v1/models", None),
            ("/v1/models", Some("127.0.0.1:8080")),
        ] {
            assert_eq!(
                code(g.check(&with(uri, host), ip, Access::Token)),
                None,
                "{uri}"
            );
        }
        for (uri, host) in [
            ("http://evil.example/v1/models", Some("localhost")),
            ("http://localhost:8080/v1/models", Some("127.0.0.1:8080")),
            ("http://localhost:8080/v1/models", Some("localhost:9")),
            ("http://evil.example/v1/models", None),
        ] {
            assert_eq!(
                code(g.check(&with(uri, host), ip, Access::Token)).as_deref(),
                Some("host_not_allowed"),
                "{uri} {host:?}"
            );
        }
    }

    #[test]
    fn origins_and_preflight() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let good = format!("Bearer {}", t.expose());
        assert_eq!(
            code(g.check(
                &req("localhost", Some("http://localhost:3000"), Some(&good)),
                ip,
                Access::Token
            )),
            None
        );
        assert_eq!(
            code(g.check(
                &req("localhost", Some("https://evil.example"), Some(&good)),
                ip,
                Access::Token
            ))
            .as_deref(),
            Some("origin_not_allowed")
        );
        assert_eq!(
            code(g.check(
                &req("localhost", Some("null"), Some(&good)),
                ip,
                Access::Token
            ))
            .as_deref(),
            Some("origin_not_allowed")
        );
        let mut pre = req("localhost", Some("http://localhost:3000"), None);
        *pre.method_mut() = Method::OPTIONS;
        assert_eq!(
            code(g.check(&pre, ip, Access::Token)).as_deref(),
            Some("preflight")
        );
    }

    #[test]
    fn origin_rejections_do_not_count_as_auth_failures() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..5 {
            g.check(
                &req("localhost", Some("https://evil.example"), None),
                ip,
                Access::Token,
            )
            .ok();
        }
        assert!(g.limits.check_ban(ip).is_ok());
    }

    #[test]
    fn the_right_token_is_served_from_a_banned_identity() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            code(g.check(
                &req("localhost", None, Some("Bearer wrong")),
                ip,
                Access::Token
            ))
            .as_deref(),
            Some("invalid_api_key")
        );
        assert_eq!(
            code(g.check(&req("localhost", None, Some("wrong")), ip, Access::Token)).as_deref(),
            Some("invalid_api_key")
        );
        assert!(g.limits.check_ban(ip).is_err());
        let good = format!("Bearer {}", t.expose());
        for from in ["127.0.0.2", "127.0.0.1", "::1", "::ffff:127.0.0.7"] {
            let from: IpAddr = from.parse().unwrap();
            assert_eq!(
                code(g.check(&req("localhost", None, Some(&good)), from, Access::Token)),
                None,
                "{from}"
            );
            // A wrong token while banned is 429 and does not extend the ban.
            assert_eq!(
                code(g.check(
                    &req("localhost", None, Some("Bearer other")),
                    from,
                    Access::Token
                ))
                .as_deref(),
                Some("ip_temporarily_blocked"),
                "{from}"
            );
        }
        assert_eq!(g.limits.describe(ip)["recent_auth_failures"], 0);
    }

    #[test]
    fn requests_without_a_token_never_start_a_ban() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.4".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(
                code(g.check(&req("localhost", None, None), ip, Access::Token)).as_deref(),
                Some("invalid_api_key")
            );
        }
        let good = format!("Bearer {}", t.expose());
        assert_eq!(
            code(g.check(&req("localhost", None, Some(&good)), ip, Access::Token)),
            None
        );
    }

    #[test]
    fn cross_site_no_cors_requests_are_refused_before_auth() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        for site in ["cross-site", "same-site"] {
            let mut r = req("127.0.0.1:8080", None, Some("Basic dTpw"));
            r.headers_mut()
                .insert("sec-fetch-site", HeaderValue::from_static(site));
            for _ in 0..3 {
                assert_eq!(
                    code(g.check(&r, ip, Access::Token)).as_deref(),
                    Some("origin_not_allowed")
                );
            }
        }
        assert!(g.limits.check_ban(ip).is_ok());
        // Typed into the address bar (`none`) or same-origin: not a foreign page.
        let good = format!("Bearer {}", t.expose());
        for site in ["none", "same-origin"] {
            let mut r = req("localhost", None, Some(&good));
            r.headers_mut()
                .insert("sec-fetch-site", HeaderValue::from_static(site));
            assert_eq!(code(g.check(&r, ip, Access::Token)), None);
        }
    }

    #[test]
    fn public_paths_skip_auth_and_limits() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.3".parse().unwrap();
        assert_eq!(
            code(g.check(&req("localhost", None, None), ip, Access::Public)),
            None
        );
    }

    #[test]
    fn keyless_paths_skip_only_the_token() {
        let t = RelayToken::generate();
        let g = guard(&t);
        let ip: IpAddr = "127.0.0.6".parse().unwrap();
        assert_eq!(
            code(g.check(&req("localhost", None, None), ip, Access::Keyless)),
            None
        );
        // Host, Origin and the cross-site check still run.
        assert_eq!(
            code(g.check(&req("evil.example", None, None), ip, Access::Keyless)).as_deref(),
            Some("host_not_allowed")
        );
        assert_eq!(
            code(g.check(
                &req("localhost", Some("http://evil.example"), None),
                ip,
                Access::Keyless
            ))
            .as_deref(),
            Some("origin_not_allowed")
        );
        let mut r = req("localhost", None, None);
        r.headers_mut()
            .insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert_eq!(
            code(g.check(&r, ip, Access::Keyless)).as_deref(),
            Some("origin_not_allowed")
        );
        // The concurrency limit still holds: ten slots, then 429.
        let held: Vec<Pass> = (0..10)
            .map(
                |_| match g.check(&req("localhost", None, None), ip, Access::Keyless) {
                    Ok(p) => p,
                    Err(_) => panic!("slot refused early"),
                },
            )
            .collect();
        assert_eq!(
            code(g.check(&req("localhost", None, None), ip, Access::Keyless)).as_deref(),
            Some("too_many_concurrent_requests")
        );
        drop(held);
    }
}
