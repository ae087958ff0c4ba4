//! Filling in a request's references before it goes upstream: remembered items
//! for `item_reference`s ([`super::recent_items`]) and stored files for
//! `file_id` parts ([`crate::files::inline`]).
//!
//! Both multiply: a 1.4 KB request referencing one large file from 500 parts
//! would expand to gigabytes. So the expanded size is computed first, from
//! sizes already known (stored items' sizes, files' metadata), and a request
//! that would pass `security.max_request_body_bytes` is a 413 before any file
//! is read or encoded; more than [`MAX_REFERENCES`] references is a 400
//! (docs/security.md, "Request expansion").

use std::sync::atomic::Ordering;

use serde_json::{Map, Value};

use super::AppState;
use super::error::ApiError;
use super::recent_items::RecentItems;
use crate::files::inline::{count_file_references, plan_inlining};

/// File and item references expanded in one request, at most.
pub(crate) const MAX_REFERENCES: usize = 1000;

/// Room for what is added after expansion (the resolved `model`).
const SLACK: u64 = 512;

/// Counts the bytes serialising a value would produce, without producing them.
#[derive(Default)]
struct Measure(u64);

impl std::io::Write for Measure {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn serialised_len(body: &Map<String, Value>) -> u64 {
    let mut m = Measure::default();
    let _ = serde_json::to_writer(&mut m, body);
    m.0
}

/// Fills in every item and file reference of `body`, after checking that the
/// result stays within `security.max_request_body_bytes`.
pub(crate) async fn expand_references(
    state: &AppState,
    body: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let references = RecentItems::count_references(body) + count_file_references(body);
    if references > MAX_REFERENCES {
        return Err(ApiError::too_many_references(references, MAX_REFERENCES));
    }
    if references == 0 {
        return Ok(());
    }
    let max_text = state.config.uploads.max_inline_text_bytes;
    let items = state.recent_items.referenced_bytes(body)?;
    let files = plan_inlining(body, &state.files, max_text)?;
    let limit = state.config.security.max_request_body_bytes;
    let expanded = serialised_len(body)
        .saturating_add(items)
        .saturating_add(files.added_bytes)
        .saturating_add(SLACK);
    if expanded > limit {
        state
            .counters
            .expansions_refused
            .fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::expanded_too_large(expanded, limit));
    }
    state.recent_items.resolve_references(body)?;
    state
        .counters
        .inline_file_reads
        .fetch_add(files.distinct_files as u64, Ordering::Relaxed);
    crate::files::inline_files(body, &state.files, max_text).await?;
    Ok(())
}
