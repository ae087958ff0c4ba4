//! One upstream exchange up to its first meaningful event: credentials, the
//! call, the retry of transient failures and the single reactive refresh on 401
//! (all before the first byte reaches the client), then reading past the
//! preamble so that early failures are real HTTP statuses.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::failure::{map_failure, map_upstream_error};
use crate::server::accounts::{Account, FailoverReason, Hint, Origins, Plan, failover_reason};
use crate::server::error::ApiError;
use crate::server::recent_items::RecentItems;
use crate::server::{AppState, CountGuard, Counter};
use crate::upstream::UpstreamError;
use crate::upstream::client::EventStream;
use crate::upstream::events::UpstreamEvent;

/// An upstream stream that produced its first meaningful event.
pub(crate) struct OpenStream {
    /// Upstream response headers (the `x-codex-*` ones are forwarded).
    pub(crate) headers: HeaderMap,
    /// Events read so far, including the first meaningful one, in order.
    pub(crate) head: VecDeque<UpstreamEvent>,
    /// The rest of the stream.
    pub(crate) rest: EventStream,
    /// Where the output items of this answer are remembered as they pass.
    pub(crate) recent_items: RecentItems,
    /// The account that answered (its usage headers go on the answer).
    pub(crate) account: Arc<Account>,
    /// Its ChatGPT account id, as sent upstream (thinking signatures name it).
    pub(crate) account_id: String,
    /// Two or more accounts are signed in: the answer names the account.
    pub(crate) multi: bool,
    /// Where the encrypted reasoning of this answer is attributed to its account
    /// (with two or more accounts).
    pub(crate) origins: Option<Arc<Origins>>,
    /// What names the reasoning items another account issued, dropped from this
    /// request (one entry per item).
    pub(crate) dropped_reasoning: Vec<&'static str>,
    /// Held while the upstream request is open.
    pub(crate) _in_flight: CountGuard,
}

impl OpenStream {
    /// The next event: the ones already read first, then the stream's.
    pub(crate) async fn next_event(&mut self) -> Result<Option<UpstreamEvent>, UpstreamError> {
        if let Some(event) = self.head.pop_front() {
            return Ok(Some(event));
        }
        Ok(self.rest.next_event().await?.map(UpstreamEvent::new))
    }

    /// The next event if it is already here, without waiting.
    pub(crate) fn next_ready(&mut self) -> Option<UpstreamEvent> {
        self.head
            .pop_front()
            .or_else(|| self.rest.next_ready().map(UpstreamEvent::new))
    }

    /// Remembers the output item of an `output_item.done` event for later
    /// `item_reference`s.
    pub(crate) fn observe(&self, event: &UpstreamEvent) {
        if let Some((id, raw)) = event.done_item() {
            self.recent_items.remember_raw(&id, raw);
        }
        if let Some(origins) = &self.origins
            && event.kind() == Some(crate::upstream::events::OUTPUT_ITEM_DONE)
            && let Some(item) = event.json().and_then(|v| v.get("item"))
        {
            origins.observe_item(item, &self.account.name);
        }
    }
}

/// The accounts a request may run on (docs/architecture.md#accounts), after the
/// quota guard of each: 403 for an unknown pinned account, 429 `usage_guard` when
/// every candidate is over `usage.refuse_at_percent`.
pub(crate) fn plan(
    state: &Arc<AppState>,
    body: &[u8],
    model: &str,
    client_headers: &HeaderMap,
) -> Result<Plan, ApiError> {
    let mut plan = state.accounts.plan(client_headers, body)?;
    state.accounts.guard(&mut plan, model, client_headers)?;
    Ok(plan)
}

/// Sends a prepared body upstream and waits for the first meaningful event, on the
/// planned accounts in turn: before the first byte, a failure that is the
/// account's own (usage limit, rejected login, backend down after the retries)
/// moves the request to the next candidate. `hints` name the accounts that issued
/// reasoning the client sent back inside a signature.
pub(crate) async fn open(
    state: &Arc<AppState>,
    plan: Plan,
    body: Bytes,
    hints: &[Hint],
    client_headers: &HeaderMap,
) -> Result<OpenStream, ApiError> {
    let mut candidates = plan.candidates.iter().peekable();
    let mut quota: Vec<ApiError> = Vec::new();
    while let Some(account) = candidates.next() {
        // Another account's encrypted reasoning would fail the turn: drop it.
        let stripped = plan
            .multi
            .then(|| {
                let origins = &state.accounts.origins;
                origins.strip_foreign(&body, &account.name, hints)
            })
            .flatten();
        let (attempt_body, dropped) = match stripped {
            Some((b, names)) => (b, names),
            None => (body.clone(), Vec::new()),
        };
        let headers = if plan.multi {
            state.accounts.headers_for(account, client_headers)
        } else {
            std::borrow::Cow::Borrowed(client_headers)
        };
        let error = match open_on(state, account, attempt_body, &headers).await {
            Ok(mut open) => {
                open.multi = plan.multi;
                open.dropped_reasoning = dropped;
                open.origins = plan.multi.then(|| Arc::clone(&state.accounts.origins));
                // Affinity matters only when there is another account to move to.
                if plan.multi {
                    state.accounts.answered(&plan, account, &open.headers);
                }
                return Ok(open);
            }
            // The answer names the account that gave it (docs/architecture.md#accounts).
            Err(e) if plan.multi => e.with_account(&account.name),
            Err(e) => e,
        };
        let reason = failover_reason(&error);
        if plan.multi && reason.is_some() {
            account.note_error(&error.message);
        }
        let Some(reason) = reason.filter(|_| plan.multi && !plan.pinned) else {
            return Err(error);
        };
        state.accounts.bench(account, &reason, &error);
        if reason == FailoverReason::Quota {
            quota.push(error.clone());
        }
        match candidates.peek() {
            Some(next) => tracing::warn!(
                "ChatGPT account {} failed before the first byte ({}); trying {}",
                account.name,
                error.message,
                next.name
            ),
            // Every candidate out of quota: the one that resets first answers.
            None if quota.len() == plan.candidates.len() => {
                quota.extend(state.accounts.benched_quota_errors());
                let first = quota
                    .into_iter()
                    .min_by_key(|e| e.retry_after.unwrap_or(u32::MAX));
                return Err(first.unwrap_or(error));
            }
            None => return Err(error),
        }
    }
    Err(ApiError::upstream_error("no ChatGPT account is signed in"))
}

/// One account's attempt: retries of transient failures and one refresh on 401.
async fn open_on(
    state: &Arc<AppState>,
    account: &Arc<Account>,
    body: Bytes,
    client_headers: &HeaderMap,
) -> Result<OpenStream, ApiError> {
    let credentials = &account.session;
    let mut access = credentials.access().await.map_err(ApiError::from)?;
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
            Ok(stream) => match first_meaningful(state, account, stream, in_flight).await {
                Ok(mut open) => {
                    open.account_id = access.account_id.clone();
                    return Ok(open);
                }
                Err(Early::Api(e)) => return Err(e),
                Err(Early::Upstream(e)) => e,
            },
            Err(e) => e,
        };
        if let UpstreamError::Status { headers, .. } = &failure {
            account.usage.record_headers(headers);
        }
        match &failure {
            UpstreamError::Status { status: 401, .. } if !refreshed => {
                tracing::info!("ChatGPT backend answered 401; reloading and refreshing the login");
                access = credentials
                    .after_unauthorized(&access)
                    .await
                    .map_err(ApiError::from)?;
                refreshed = true;
            }
            UpstreamError::Status { status: 401, .. } => return Err(ApiError::auth_rejected()),
            e if e.is_retryable() && attempt < state.upstream.retry_attempts() => {
                attempt += 1;
                backoff(attempt, e).await;
            }
            _ => return Err(map_upstream_error(failure)),
        }
    }
}

/// Waits before retry `attempt`: 200 ms doubling, plus up to 50 ms of jitter.
async fn backoff(attempt: u32, e: &UpstreamError) {
    let wait = Duration::from_millis(200u64 << (attempt - 1).min(4))
        + Duration::from_millis(rand::random::<u64>() % 50);
    tracing::warn!("upstream {e}; retry {attempt} in {} ms", wait.as_millis());
    tokio::time::sleep(wait).await;
}

enum Early {
    Api(ApiError),
    Upstream(UpstreamError),
}

async fn first_meaningful(
    state: &Arc<AppState>,
    account: &Arc<Account>,
    mut stream: EventStream,
    in_flight: CountGuard,
) -> Result<OpenStream, Early> {
    account.usage.record_headers(&stream.headers);
    let mut head = VecDeque::new();
    loop {
        let event = match stream.next_event().await {
            Ok(Some(ev)) => UpstreamEvent::new(ev),
            Ok(None) => return Err(Early::Api(ApiError::incomplete_stream())),
            // A reset before anything meaningful may be retried like a connect failure.
            Err(UpstreamError::Body(m)) => return Err(Early::Upstream(UpstreamError::Connect(m))),
            Err(e) => return Err(Early::Api(map_upstream_error(e))),
        };
        if let Some(failure) = event.failure() {
            return Err(Early::Api(map_failure(
                failure.code.as_deref(),
                &failure.message,
            )));
        }
        let preamble = event.is_preamble();
        head.push_back(event);
        if !preamble {
            return Ok(OpenStream {
                headers: std::mem::take(&mut stream.headers),
                head,
                rest: stream,
                recent_items: state.recent_items.clone(),
                account: Arc::clone(account),
                account_id: String::new(),
                multi: false,
                origins: None,
                dropped_reasoning: Vec::new(),
                _in_flight: in_flight,
            });
        }
    }
}
