//! Shared state of a running mock: counters, knobs, the fault queue, recorded requests, and the
//! token and grant registries. Everything is behind atomics or short-held std mutexes (never held
//! across an `.await`), so tests can read and turn knobs while the server runs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::MockConfig;
use crate::grants::GrantStore;
use crate::tokens::TokenStore;

/// How many recorded requests are kept (the oldest are dropped first).
pub const MAX_RECORDED_REQUESTS: usize = 1000;

/// A forced outcome for `grant_type=refresh_token` calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshFailure {
    /// `401 {"error":{"code":"refresh_token_expired",…}}` until cleared.
    Expired,
    /// `401 {"error":{"code":"refresh_token_reused",…}}` until cleared.
    Reused,
    /// `401 {"error":{"code":"refresh_token_invalidated",…}}` until cleared.
    Invalidated,
    /// The next `times` refresh calls get `500 {"error":"temporary-failure"}`, then the knob
    /// clears itself.
    Transient500 { times: u32 },
}

/// A failure injected into one `/backend-api/codex/responses` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 `usage_limit_reached` with the full `x-codex-*` header set (primary at 100%).
    UsageLimit { resets_in_seconds: u64 },
    /// A generic 429 `rate_limit_exceeded` JSON error.
    RateLimited429,
    /// `500 {"detail":"Internal server error"}`.
    Status500,
    /// `503 {"error":{"code":"server_is_overloaded",…}}`.
    Overloaded503,
    /// `401 {"detail":"Unauthorized"}` even though the token is valid.
    Unauthorized401,
    /// `400 {"detail":<detail>}`.
    BadRequest(String),
    /// A 200 stream: `response.created`, then `response.failed` with this error.
    Failed { code: String, message: String },
    /// A 200 stream: `response.created`, some text, then `response.incomplete` with
    /// `incomplete_details.reason`.
    Incomplete { reason: String },
    /// A 200 stream: `response.created`, one text delta, then the connection is dropped without
    /// the terminating chunk.
    CutMidStream,
    /// Sends `response.created`, waits this long, then continues normally.
    StallAfterFirstEvent(Duration),
    /// Waits this long before sending anything, then answers normally.
    StallBeforeHeaders(Duration),
    /// Data lines that are not JSON after `response.created`, then a normal completion.
    MalformedSse,
    /// One `response.output_text.delta` whose `data:` line is at least `bytes` long.
    HugeLine { bytes: usize },
    /// Closes the TCP connection without writing any response.
    ResetBeforeHeaders,
}

impl Fault {
    /// Parses the short names used in `FAULT:<name>[:<arg>]` prompts and in the `type` field of
    /// `POST /__mock/faults`:
    ///
    /// | name | fault | `arg` |
    /// |---|---|---|
    /// | `usage_limit` | [`Fault::UsageLimit`] | seconds until reset (3600) |
    /// | `rate_limited`, `rate_limited_429`, `429` | [`Fault::RateLimited429`] | |
    /// | `500`, `status_500` | [`Fault::Status500`] | |
    /// | `overloaded`, `overloaded_503`, `503` | [`Fault::Overloaded503`] | |
    /// | `401`, `unauthorized`, `unauthorized_401` | [`Fault::Unauthorized401`] | |
    /// | `bad_request`, `400` | [`Fault::BadRequest`] | detail (`Bad request`) |
    /// | `failed` | [`Fault::Failed`] | error code (`context_length_exceeded`) |
    /// | `incomplete` | [`Fault::Incomplete`] | reason (`max_output_tokens`) |
    /// | `cut`, `cut_mid_stream` | [`Fault::CutMidStream`] | |
    /// | `stall`, `stall_after_first_event` | [`Fault::StallAfterFirstEvent`] | seconds (5) |
    /// | `stall_headers`, `stall_before_headers` | [`Fault::StallBeforeHeaders`] | seconds (5) |
    /// | `malformed`, `malformed_sse` | [`Fault::MalformedSse`] | |
    /// | `huge_line` | [`Fault::HugeLine`] | bytes (1 MiB) |
    /// | `reset`, `reset_before_headers` | [`Fault::ResetBeforeHeaders`] | |
    pub fn from_name(name: &str, arg: Option<&str>) -> Result<Fault, String> {
        let number = |default: u64| -> Result<u64, String> {
            match arg {
                None => Ok(default),
                Some(a) => a
                    .parse::<u64>()
                    .map_err(|_| format!("fault {name}: {a:?} is not a whole number")),
            }
        };
        let fault = match name {
            "usage_limit" => Fault::UsageLimit {
                resets_in_seconds: number(3600)?,
            },
            "rate_limited" | "rate_limited_429" | "429" => Fault::RateLimited429,
            "500" | "status_500" => Fault::Status500,
            "overloaded" | "overloaded_503" | "503" => Fault::Overloaded503,
            "401" | "unauthorized" | "unauthorized_401" => Fault::Unauthorized401,
            "bad_request" | "400" => Fault::BadRequest(arg.unwrap_or("Bad request").to_owned()),
            "failed" => {
                let code = arg.unwrap_or("context_length_exceeded");
                Fault::Failed {
                    code: code.to_owned(),
                    message: failure_message(code),
                }
            }
            "incomplete" => Fault::Incomplete {
                reason: arg.unwrap_or("max_output_tokens").to_owned(),
            },
            "cut" | "cut_mid_stream" => Fault::CutMidStream,
            "stall" | "stall_after_first_event" => {
                Fault::StallAfterFirstEvent(Duration::from_secs(number(5)?))
            }
            "stall_headers" | "stall_before_headers" => {
                Fault::StallBeforeHeaders(Duration::from_secs(number(5)?))
            }
            "malformed" | "malformed_sse" => Fault::MalformedSse,
            "huge_line" => Fault::HugeLine {
                bytes: usize::try_from(number(1 << 20)?).map_err(|e| e.to_string())?,
            },
            "reset" | "reset_before_headers" => Fault::ResetBeforeHeaders,
            other => return Err(format!("unknown mock fault {other:?}")),
        };
        Ok(fault)
    }

    /// Parses the JSON accepted by `POST /__mock/faults`: `{"type":<name>, …}` with the names
    /// of [`Fault::from_name`] and optional fields `resets_in_seconds`, `detail`, `code`,
    /// `message`, `reason`, `millis` (stalls) and `bytes`.
    pub fn from_json(value: &Value) -> Result<Fault, String> {
        let name = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a fault needs a string \"type\"")?;
        let str_field = |key: &str| value.get(key).and_then(Value::as_str);
        let u64_field = |key: &str| -> Result<Option<u64>, String> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("fault field {key:?} must be a whole number")),
            }
        };
        let mut fault = Fault::from_name(name, None)?;
        match &mut fault {
            Fault::UsageLimit { resets_in_seconds } => {
                if let Some(s) = u64_field("resets_in_seconds")? {
                    *resets_in_seconds = s;
                }
            }
            Fault::BadRequest(detail) => {
                if let Some(d) = str_field("detail") {
                    *detail = d.to_owned();
                }
            }
            Fault::Failed { code, message } => {
                if let Some(c) = str_field("code") {
                    *code = c.to_owned();
                    *message = failure_message(c);
                }
                if let Some(m) = str_field("message") {
                    *message = m.to_owned();
                }
            }
            Fault::Incomplete { reason } => {
                if let Some(r) = str_field("reason") {
                    *reason = r.to_owned();
                }
            }
            Fault::StallAfterFirstEvent(d) | Fault::StallBeforeHeaders(d) => {
                if let Some(ms) = u64_field("millis")? {
                    *d = Duration::from_millis(ms);
                }
            }
            Fault::HugeLine { bytes } => {
                if let Some(b) = u64_field("bytes")? {
                    *bytes = usize::try_from(b).map_err(|e| e.to_string())?;
                }
            }
            _ => {}
        }
        Ok(fault)
    }
}

/// The message upstream pairs with a `response.failed` error code.
fn failure_message(code: &str) -> String {
    match code {
        "context_length_exceeded" => "Your input exceeds the context window of this model. \
                                      Please adjust your input and try again."
            .to_owned(),
        "rate_limit_exceeded" => {
            "Rate limit reached for gpt-5.5. Please try again in 1.2s.".to_owned()
        }
        "server_is_overloaded" => {
            "Our servers are currently overloaded. Please try again later.".to_owned()
        }
        other => format!("The mock upstream failed this response on purpose ({other})."),
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path including the query string, e.g. `/backend-api/codex/models?client_version=1.0.0`.
    pub path: String,
    /// Lower-cased header names; repeated headers are joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON, or a form body as an object of strings; `Null` when empty, a
    /// JSON string holding the lossy text otherwise.
    pub body: Value,
    pub raw_body_len: usize,
}

impl RecordedRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Credentials minted by the mock issuer, all registered as valid.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedTokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// The `chatgpt_account_id` the tokens belong to (what `ChatGPT-Account-ID` must say).
    pub account_id: String,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub refresh: AtomicU64,
    pub code_exchange: AtomicU64,
    pub device_usercode: AtomicU64,
    pub device_token_polls: AtomicU64,
    pub revoke: AtomicU64,
    pub responses: AtomicU64,
    pub models: AtomicU64,
    pub usage: AtomicU64,
    pub active_streams: AtomicU64,
    pub unauthorized: AtomicU64,
}

impl Counters {
    fn reset(&self) {
        for c in [
            &self.refresh,
            &self.code_exchange,
            &self.device_usercode,
            &self.device_token_polls,
            &self.revoke,
            &self.responses,
            &self.models,
            &self.usage,
            &self.unauthorized,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }
}

/// Increments a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::SeqCst);
}

#[derive(Clone)]
pub(crate) struct Knobs {
    pub refresh_failure: Option<RefreshFailure>,
    pub refresh_delay: Duration,
    pub access_token_lifetime: Duration,
    pub device_enabled: bool,
    pub device_pending_polls: u32,
    pub device_never_approve: bool,
    pub device_interval: String,
    pub authorize_error: Option<String>,
    pub refresh_rotation: bool,
    pub account: Option<crate::MockAccount>,
    pub models_failure: bool,
    pub models: Catalogue,
    /// Replaces the `/wham/usage` payload; `None` = the plan's standard windows.
    pub usage: Option<Value>,
    pub usage_failure: bool,
}

/// The model catalogue with its ETag, computed once per change rather than per request.
#[derive(Clone)]
pub(crate) struct Catalogue {
    pub models: Arc<Vec<Value>>,
    pub etag: String,
}

impl Catalogue {
    pub(crate) fn new(models: Vec<Value>) -> Catalogue {
        Catalogue {
            etag: crate::catalog::models_etag(&models),
            models: Arc::new(models),
        }
    }
}

impl Knobs {
    fn from_config(config: &MockConfig) -> Knobs {
        Knobs {
            refresh_failure: None,
            refresh_delay: Duration::ZERO,
            access_token_lifetime: config.access_token_lifetime,
            device_enabled: true,
            device_pending_polls: config.device_pending_polls,
            device_never_approve: false,
            device_interval: config.device_interval.clone(),
            authorize_error: None,
            refresh_rotation: true,
            account: None,
            models_failure: false,
            models: Catalogue::new(crate::catalog::default_models()),
            usage: None,
            usage_failure: false,
        }
    }
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not wedge the server.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counters, knobs and recorded requests of one mock. Obtain it with
/// [`crate::MockUpstream::state`].
pub struct MockState {
    config: MockConfig,
    issuer_url: String,
    pub(crate) counters: Counters,
    knobs: Mutex<Knobs>,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<VecDeque<RecordedRequest>>,
    pub(crate) tokens: Mutex<TokenStore>,
    pub(crate) grants: Mutex<GrantStore>,
    pub(crate) accounts: crate::accounts::Accounts,
}

impl MockState {
    pub(crate) fn new(config: MockConfig, issuer_url: String) -> MockState {
        MockState {
            knobs: Mutex::new(Knobs::from_config(&config)),
            config,
            issuer_url,
            counters: Counters::default(),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(VecDeque::new()),
            tokens: Mutex::new(TokenStore::default()),
            grants: Mutex::new(GrantStore::default()),
            accounts: crate::accounts::Accounts::default(),
        }
    }

    pub(crate) fn config(&self) -> &MockConfig {
        &self.config
    }

    pub(crate) fn issuer_url(&self) -> &str {
        &self.issuer_url
    }

    pub(crate) fn knobs(&self) -> Knobs {
        lock(&self.knobs).clone()
    }

    pub(crate) fn with_knobs<R>(&self, f: impl FnOnce(&mut Knobs) -> R) -> R {
        f(&mut lock(&self.knobs))
    }

    // ---- counters ----

    /// `grant_type=refresh_token` calls to `/oauth/token` (including failed ones).
    pub fn refresh_calls(&self) -> u64 {
        self.counters.refresh.load(Ordering::SeqCst)
    }
    /// `grant_type=authorization_code` calls to `/oauth/token`.
    pub fn code_exchange_calls(&self) -> u64 {
        self.counters.code_exchange.load(Ordering::SeqCst)
    }
    /// Calls to `/api/accounts/deviceauth/usercode`.
    pub fn device_usercode_calls(&self) -> u64 {
        self.counters.device_usercode.load(Ordering::SeqCst)
    }
    /// Calls to `/api/accounts/deviceauth/token`.
    pub fn device_token_polls(&self) -> u64 {
        self.counters.device_token_polls.load(Ordering::SeqCst)
    }
    /// Calls to `/oauth/revoke`.
    pub fn revoke_calls(&self) -> u64 {
        self.counters.revoke.load(Ordering::SeqCst)
    }
    /// Requests to `/backend-api/codex/responses` (any outcome, WebSocket probes included).
    pub fn responses_calls(&self) -> u64 {
        self.counters.responses.load(Ordering::SeqCst)
    }
    /// Requests to `/backend-api/codex/models`.
    pub fn models_calls(&self) -> u64 {
        self.counters.models.load(Ordering::SeqCst)
    }
    /// Requests to `/backend-api/wham/usage`.
    pub fn usage_calls(&self) -> u64 {
        self.counters.usage.load(Ordering::SeqCst)
    }
    /// SSE bodies currently open; decremented when a body is dropped, including when the
    /// client disconnects mid-stream.
    pub fn active_streams(&self) -> u64 {
        self.counters.active_streams.load(Ordering::SeqCst)
    }
    /// 401 answers from the backend routes (bad tokens and injected 401s).
    pub fn unauthorized_responses(&self) -> u64 {
        self.counters.unauthorized.load(Ordering::SeqCst)
    }

    /// All counters as JSON (what `GET /__mock/state` returns).
    pub fn counters_json(&self) -> Value {
        json!({
            "refresh_calls": self.refresh_calls(),
            "code_exchange_calls": self.code_exchange_calls(),
            "device_usercode_calls": self.device_usercode_calls(),
            "device_token_polls": self.device_token_polls(),
            "revoke_calls": self.revoke_calls(),
            "responses_calls": self.responses_calls(),
            "models_calls": self.models_calls(),
            "usage_calls": self.usage_calls(),
            "active_streams": self.active_streams(),
            "unauthorized_responses": self.unauthorized_responses(),
            "pending_faults": self.pending_faults(),
        })
    }

    // ---- recorded requests ----

    /// The recorded requests, oldest first (at most [`MAX_RECORDED_REQUESTS`]). Requests to
    /// the `/__mock/*` control API are not recorded.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).iter().cloned().collect()
    }

    /// The most recent request whose path (with query) starts with `path_prefix`.
    pub fn last_request_to(&self, path_prefix: &str) -> Option<RecordedRequest> {
        lock(&self.requests)
            .iter()
            .rev()
            .find(|r| r.path.starts_with(path_prefix))
            .cloned()
    }

    /// Forgets all recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut requests = lock(&self.requests);
        if requests.len() >= MAX_RECORDED_REQUESTS {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    // ---- knobs ----

    /// Forces the outcome of refresh calls (`None` restores normal rotation).
    pub fn set_refresh_failure(&self, failure: Option<RefreshFailure>) {
        self.with_knobs(|k| k.refresh_failure = failure);
    }

    /// Delays every refresh call by `delay` before it is answered, so a test can hold many
    /// concurrent callers inside one refresh.
    pub fn set_refresh_delay(&self, delay: Duration) {
        self.with_knobs(|k| k.refresh_delay = delay);
    }

    /// Lifetime of access tokens issued from now on. Zero issues already-expired tokens.
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.with_knobs(|k| k.access_token_lifetime = lifetime);
    }

    /// `false` makes `/api/accounts/deviceauth/usercode` answer 404 ("not enabled").
    pub fn set_device_enabled(&self, enabled: bool) {
        self.with_knobs(|k| k.device_enabled = enabled);
    }

    /// How many polls of a new device code answer "pending" (403, then 404, alternating)
    /// before the code is approved.
    pub fn set_device_pending_polls(&self, polls: u32) {
        self.with_knobs(|k| k.device_pending_polls = polls);
    }

    /// `true` keeps every device code pending forever.
    pub fn set_device_never_approve(&self, never: bool) {
        self.with_knobs(|k| k.device_never_approve = never);
    }

    /// The `interval` string returned with new device codes (upstream sends a JSON string).
    pub fn set_device_interval(&self, interval: &str) {
        self.with_knobs(|k| k.device_interval = interval.to_owned());
    }

    /// `Some(code)` makes `/oauth/authorize` redirect with `error=<code>` instead of a code.
    pub fn set_authorize_error(&self, error: Option<String>) {
        self.with_knobs(|k| k.authorize_error = error);
    }

    /// `false` makes refresh answers carry no `refresh_token` (the old one stays valid and
    /// is not spent), as some issuers do; `true` (the default) rotates it.
    pub fn set_refresh_rotation(&self, rotate: bool) {
        self.with_knobs(|k| k.refresh_rotation = rotate);
    }

    /// Mints tokens for `account` from now on (logins and refreshes); `None` restores the
    /// account of the start configuration.
    pub fn set_account(&self, account: Option<crate::MockAccount>) {
        self.with_knobs(|k| k.account = account);
    }

    /// `true` makes `/backend-api/codex/models` answer 500.
    pub fn set_models_failure(&self, fail: bool) {
        self.with_knobs(|k| k.models_failure = fail);
    }

    /// Replaces the model catalogue (each value is one ModelInfo object). The ETag follows.
    pub fn set_models(&self, models: Vec<Value>) {
        let catalogue = Catalogue::new(models);
        self.with_knobs(|k| k.models = catalogue);
    }

    /// Replaces the `/wham/usage` payload (e.g. a weekly window in the primary slot
    /// and `secondary_window: null`); `None` restores the standard one.
    pub fn set_usage(&self, payload: Option<Value>) {
        self.with_knobs(|k| k.usage = payload);
    }

    /// `true` makes `/wham/usage` answer 500.
    pub fn set_usage_failure(&self, fail: bool) {
        self.with_knobs(|k| k.usage_failure = fail);
    }

    /// Queues a fault for the next `/responses` call that would otherwise succeed.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.faults).push_back(fault);
    }

    /// Faults still waiting in the queue.
    pub fn pending_faults(&self) -> usize {
        lock(&self.faults).len()
    }

    pub(crate) fn take_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    // ---- credentials ----

    /// Mints a full set of credentials without a login flow, registered as valid.
    pub fn issue_tokens(&self) -> IssuedTokens {
        let knobs = self.knobs();
        let account = knobs.account.as_ref().unwrap_or(&self.config.account);
        lock(&self.tokens).issue(account, knobs.access_token_lifetime)
    }

    /// Makes every access token issued so far answer 401 (refresh tokens stay valid), to
    /// trigger a client's reactive refresh.
    pub fn revoke_all_access_tokens(&self) {
        lock(&self.tokens).revoke_all_access();
    }

    /// Restores the knobs to the start configuration and clears counters (except
    /// `active_streams`), recorded requests, queued faults and pending login grants. Issued
    /// tokens stay valid so a seeded client keeps working.
    pub fn reset(&self) {
        *lock(&self.knobs) = Knobs::from_config(&self.config);
        lock(&self.faults).clear();
        lock(&self.requests).clear();
        *lock(&self.grants) = GrantStore::default();
        self.accounts.reset();
        self.counters.reset();
    }
}
